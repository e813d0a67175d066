import { expect } from 'chai';
import type { ExecutionEvent } from '../model/events.ts';
import type { TaskExecutionStatus, WorkflowExecutionStatus } from '../model/schema.ts';
import { planExecution } from '../plan/planner.ts';
import { DagExecutor } from './executor.ts';
import { compileFixture } from './testdata/fixtures.ts';
import { reply, ScriptedHttp } from './testdata/scripted-http.ts';

const GET_ITEM = `kind: WorkflowTask
metadata: {name: get-item}
spec:
  inputSchema: {type: object, required: [id], properties: {id: {type: string}, pos: {type: integer}}}
  http: {method: GET, url: "http://items.test/items/{{input.id}}", query: {pos: "{{input.pos}}"}}
---
kind: WorkflowTask
metadata: {name: list-items}
spec:
  http: {method: GET, url: "http://items.test/list"}
---
`;

/** A workflow that maps get-item over `{{input.ids}}` with the given map settings (YAML flow). */
function mapWorkflow(map: string, extra = ''): string {
  return `${GET_ITEM}kind: Workflow
spec:
  inputSchema: {type: object, properties: {ids: {type: array, items: {type: object, properties: {id: {type: string}}}}}}
  tasks:
  - id: each
    taskRef: {name: get-item}
    map: {items: "{{input.ids}}"${map}}
    input: {id: "{{item.id}}", pos: "{{index}}"}
${extra}`;
}

const ids = (n: number) => ({ ids: Array.from({ length: n }, (_, i) => ({ id: `i${i}` })) });
const idOf = (url: string) => /items\/([^?]+)/.exec(url)?.[1] as string;
const tick = () => new Promise((resolve) => setImmediate(resolve));

function step(status: WorkflowExecutionStatus, id = 'each'): TaskExecutionStatus {
  return status.tasks?.find((t) => t.id === id) as TaskExecutionStatus;
}

describe('map steps', () => {
  it('runs the task once per element with {{item.<path>}} and {{index}}, the output in input order', async () => {
    // Later elements answer first: the output still follows the input's order.
    const http = new ScriptedHttp(async (request) => {
      const id = idOf(request.url);
      for (let i = 0; i < 10 - Number(id.slice(1)); i++) await tick();
      return reply(200, { id, pos: new URL(request.url).searchParams.get('pos') });
    });
    const workflow = compileFixture(
      mapWorkflow(', concurrency: 5', '  output: {all: "{{tasks.each.output}}"}'),
    );
    const status = await new DagExecutor({ http }).execute(workflow, ids(6));
    expect(status.phase).to.equal('Succeeded');
    expect(status.output).to.deep.equal({
      all: [0, 1, 2, 3, 4, 5].map((i) => ({ id: `i${i}`, pos: String(i) })),
    });
    const record = step(status);
    expect(record.itemCount).to.equal(6);
    expect(record.failedItems).to.equal(undefined);
    expect(record.attempts).to.equal(6);
    expect(record.items?.map((e) => [e.index, e.phase])).to.deep.equal(
      [0, 1, 2, 3, 4, 5].map((i) => [i, 'Succeeded']),
    );
    expect(http.requests).to.have.length(6);
  });

  it('keeps at most `concurrency` elements in flight', async () => {
    const http = new ScriptedHttp(async () => {
      await tick();
      return reply(200, {});
    });
    const status = await new DagExecutor({ http }).execute(
      compileFixture(mapWorkflow(', concurrency: 3')),
      ids(20),
    );
    expect(status.phase).to.equal('Succeeded');
    expect(http.requests).to.have.length(20);
    expect(http.maxInFlight).to.equal(3);
  });

  it('fails fast by default: the first failed element fails the step and cancels the rest', async () => {
    const http = new ScriptedHttp(async (request) => {
      if (idOf(request.url) === 'i2') return reply(500, { error: 'boom' });
      await new Promise(() => {}); // the others answer only when cancelled
      return reply(200, {});
    });
    const status = await new DagExecutor({ http }).execute(
      compileFixture(mapWorkflow(', concurrency: 4')),
      ids(10),
    );
    expect(status.phase).to.equal('Failed');
    expect(status.reason).to.equal('TaskFailed');
    const record = step(status);
    expect(record.phase).to.equal('Failed');
    expect(record.error?.reason).to.equal('HTTPError');
    expect(record.error?.message).to.match(/^element 2: upstream answered HTTP 500/);
    // Elements 0-3 were started; nothing after the failure.
    expect(http.requests.map((r) => idOf(r.url))).to.deep.equal(['i0', 'i1', 'i2', 'i3']);
    expect(http.cancelled).to.equal(3);
    expect(record.items?.find((e) => e.index === 2)?.phase).to.equal('Failed');
    expect(record.items?.find((e) => e.index === 0)?.phase).to.equal('Cancelled');
  });

  it('with collect, gives null for failed elements up to maxFailedItems', async () => {
    const failing = new Set(['i1', 'i3']);
    const http = new ScriptedHttp((request) =>
      failing.has(idOf(request.url)) ? reply(503, {}) : reply(200, { id: idOf(request.url) }),
    );
    const ok = await new DagExecutor({ http }).execute(
      compileFixture(mapWorkflow(', onItemError: collect, maxFailedItems: 2')),
      ids(5),
    );
    expect(ok.phase).to.equal('Succeeded');
    const record = step(ok);
    expect(record.output).to.deep.equal([{ id: 'i0' }, null, { id: 'i2' }, null, { id: 'i4' }]);
    expect(record.failedItems).to.equal(2);
    expect(record.items?.filter((e) => e.phase === 'Failed').map((e) => e.index)).to.deep.equal([1, 3]);
    expect(record.items?.[1]?.error?.reason).to.equal('HTTPError');
    expect(record.items?.[1]?.httpStatus).to.equal(503);

    const tooMany = await new DagExecutor({ http: new ScriptedHttp(http.answer) }).execute(
      compileFixture(mapWorkflow(', onItemError: collect, maxFailedItems: 1, concurrency: 1')),
      ids(5),
    );
    expect(tooMany.phase).to.equal('Failed');
    expect(step(tooMany).error?.message).to.equal(
      '2 elements failed, more than maxFailedItems 1 (element 1: HTTPError, element 3: HTTPError)',
    );
  });

  it('bounds the per-element trace: the first elements and the failed ones', async () => {
    const http = new ScriptedHttp((request) =>
      Number(idOf(request.url).slice(1)) % 50 === 49 ? reply(500, {}) : reply(200, {}),
    );
    const status = await new DagExecutor({ http }).execute(
      compileFixture(mapWorkflow(', onItemError: collect, concurrency: 50')),
      ids(400),
    );
    const record = step(status);
    expect(record.itemCount).to.equal(400);
    expect(record.failedItems).to.equal(8);
    const indexes = record.items?.map((e) => e.index) ?? [];
    expect(indexes.slice(0, 100)).to.deep.equal(Array.from({ length: 100 }, (_, i) => i));
    expect(indexes.slice(100)).to.deep.equal([149, 199, 249, 299, 349, 399]);
    expect((record.output as unknown[]).length).to.equal(400);
  });

  it('maps over a producer output array and gives an empty array for no elements', async () => {
    const yaml = `${GET_ITEM}kind: Workflow
spec:
  tasks:
  - {id: list, taskRef: {name: list-items}}
  - id: each
    taskRef: {name: get-item}
    map: {items: "{{tasks.list.output.items}}"}
    input: {id: "{{item}}"}
`;
    const http = new ScriptedHttp((request) =>
      request.url.endsWith('/list')
        ? reply(200, { items: ['a', 'b'] })
        : reply(200, { got: idOf(request.url) }),
    );
    const status = await new DagExecutor({ http }).execute(compileFixture(yaml), {});
    expect(step(status).output).to.deep.equal([{ got: 'a' }, { got: 'b' }]);

    const none = new ScriptedHttp((request) =>
      reply(200, request.url.endsWith('/list') ? { items: [] } : {}),
    );
    const empty = await new DagExecutor({ http: none }).execute(compileFixture(yaml), {});
    expect(empty.phase).to.equal('Succeeded');
    expect(step(empty).output).to.deep.equal([]);
    expect(step(empty).itemCount).to.equal(0);
    expect(none.requests).to.have.length(1);
  });

  it('fails the step with MapItemsInvalid when the items are not an array at run time', async () => {
    const yaml = `${GET_ITEM}kind: Workflow
spec:
  tasks:
  - {id: list, taskRef: {name: list-items}}
  - {id: each, taskRef: {name: get-item}, map: {items: "{{tasks.list.output.items}}"}, input: {id: "x"}}
`;
    const http = new ScriptedHttp(() => reply(200, { items: 'not a list' }));
    const status = await new DagExecutor({ http }).execute(compileFixture(yaml), {});
    expect(step(status).error).to.deep.equal({
      reason: 'MapItemsInvalid',
      message: '`tasks.list.output.items` is a string, not an array',
    });
  });

  it('is cancelled with the execution: the deadline stops every element in flight', async () => {
    const http = new ScriptedHttp(() => new Promise(() => {}));
    const yaml = mapWorkflow(', concurrency: 3', '  timeout: 50ms').replace(
      'url: "http://items.test/items/{{input.id}}", query: {pos: "{{input.pos}}"}}',
      '$&\n  timeout: 50ms',
    );
    const workflow = compileFixture(yaml);
    const status = await new DagExecutor({ http }).execute(workflow, ids(5));
    expect(status.phase).to.equal('Failed');
    expect(status.reason).to.equal('DeadlineExceeded');
    expect(http.requests).to.have.length(3);
    expect(http.inFlight).to.equal(0);
  });
});

describe('map steps cancelled by the caller', () => {
  it('cancels the elements in flight and records the step Cancelled', async () => {
    const http = new ScriptedHttp(() => new Promise(() => {}));
    const caller = new AbortController();
    const running = new DagExecutor({ http }).execute(
      compileFixture(mapWorkflow(', concurrency: 2')),
      ids(4),
      {
        signal: caller.signal,
      },
    );
    await http.sent(2);
    caller.abort();
    const status = await running;
    expect(status.reason).to.equal('Cancelled');
    expect(step(status).phase).to.equal('Cancelled');
    expect(step(status).items?.map((e) => e.phase)).to.deep.equal([
      'Cancelled',
      'Cancelled',
      'Cancelled',
      'Cancelled',
    ]);
    expect(http.requests).to.have.length(2);
  });
});

describe('the plan of a map step', () => {
  it('shows the element count when the input decides it, and the element templates as text', async () => {
    const plan = await planExecution(compileFixture(mapWorkflow('')), ids(7));
    const entry = plan.tasks?.find((t) => t.id === 'each');
    expect(entry?.items).to.equal(7);
    expect(entry?.input).to.deep.equal({ id: '{{item.id}}', pos: '{{index}}' });
  });
});

describe('map steps in the live events', () => {
  type Started = Extract<ExecutionEvent, { type: 'TaskStarted' }>;
  type Finished = Extract<ExecutionEvent, { type: 'TaskFinished' }>;

  async function observeMap(n: number, failing: (i: number) => boolean, map = ', onItemError: collect') {
    const http = new ScriptedHttp((request) =>
      failing(Number(idOf(request.url).slice(1))) ? reply(500, {}) : reply(200, {}),
    );
    const events: ExecutionEvent[] = [];
    const status = await new DagExecutor({ http, observer: { event: (e) => events.push(e) } }).execute(
      compileFixture(mapWorkflow(`${map}, concurrency: 20`)),
      ids(n),
    );
    const started = events.filter((e): e is Started => e.type === 'TaskStarted');
    const finished = events.filter((e): e is Finished => e.type === 'TaskFinished');
    return { status, started, finished };
  }

  it('tells the elements apart: each element’s TaskStarted and TaskFinished carry its index and the count', async () => {
    const { started, finished } = await observeMap(3, (i) => i === 1);
    expect(started.map((e) => [e.task, e.item, e.itemCount]).sort()).to.deep.equal([
      ['each', 0, 3],
      ['each', 1, 3],
      ['each', 2, 3],
    ]);
    const elements = finished.filter((e) => e.item !== undefined);
    expect(elements.map((e) => [e.item, e.phase]).sort()).to.deep.equal([
      [0, 'Succeeded'],
      [1, 'Failed'],
      [2, 'Succeeded'],
    ]);
    expect(elements.find((e) => e.item === 1)?.error?.reason).to.equal('HTTPError');
  });

  it('ends with one TaskFinished of the step itself, without an index, giving the count and the failures', async () => {
    const { finished } = await observeMap(3, (i) => i === 1);
    const own = finished.filter((e) => e.item === undefined);
    expect(own.map((e) => [e.task, e.phase, e.itemCount, e.failedItems])).to.deep.equal([
      ['each', 'Succeeded', 3, 1],
    ]);
    expect(finished[finished.length - 1]).to.equal(own[0]);
  });

  it('is bounded like the trace: elements past the first 100 report only their failures', async () => {
    const { status, started, finished } = await observeMap(400, (i) => i % 50 === 49);
    expect(step(status).failedItems).to.equal(8);
    expect(started.map((e) => e.item).sort((a, b) => (a as number) - (b as number))).to.deep.equal(
      Array.from({ length: 100 }, (_, i) => i),
    );
    const items = finished.flatMap((e) => (e.item === undefined ? [] : [e.item])).sort((a, b) => a - b);
    expect(items).to.deep.equal([...Array.from({ length: 100 }, (_, i) => i), 149, 199, 249, 299, 349, 399]);
  });
});
