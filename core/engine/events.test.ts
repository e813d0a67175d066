import { expect } from 'chai';
import { EgressPolicy } from '../../adapters/egress/policy.ts';
import { UndiciTaskClient } from '../../adapters/http-client.ts';
import { MAX_EVENT_OUTPUT_BYTES, boundedOutput, type ExecutionEvent } from '../model/events.ts';
import { SYSTEM_CLOCK, type Clock, type ExecutionObserver, type SecretResolver } from './collaborators.ts';
import { DagExecutor } from './executor.ts';
import { compileFixture } from './testdata/fixtures.ts';
import { json, sequence, TestUpstream } from './testdata/upstream.ts';

const SECRET = 'k3y-VALUE-0042';
const secrets: SecretResolver = { resolve: () => SECRET };

/** A GET task named `name` calling `${BASE}<path>`, with extra spec YAML lines. */
function task(name: string, path: string, extra = ''): string {
  return `kind: WorkflowTask
metadata: {name: ${name}}
spec:
  http: {method: GET, url: "\${BASE}${path}"}
${extra}
---
`;
}

/** Each event reduced to its type, subject and the fields the scenario decides. */
function shape(event: ExecutionEvent): unknown[] {
  switch (event.type) {
    case 'ExecutionStarted':
      return [event.seq, event.type];
    case 'TaskStarted':
      return [event.seq, event.type, event.task, event.attempt];
    case 'TaskRetrying':
      return [event.seq, event.type, event.task, event.attempt];
    case 'TaskFinished':
      return [event.seq, event.type, event.task, event.phase];
    case 'TaskSkipped':
      return [event.seq, event.type, event.task];
    case 'Signal':
      return [event.seq, event.type, `${event.from}->${event.to}`, event.ready];
    case 'ExecutionFinished':
      return [event.seq, event.type, event.status.phase];
  }
}

describe('live execution events', () => {
  let upstream: TestUpstream;
  let client: UndiciTaskClient;

  beforeEach(async () => {
    upstream = await new TestUpstream().start();
    client = new UndiciTaskClient({ policy: new EgressPolicy({ allowLoopback: true }) });
  });

  afterEach(async () => {
    await client.close();
    await upstream.stop();
  });

  /**
   * Fan-out from `a` to `b` (fails once, then succeeds), `c` (a big output) and `d` (skipped by its
   * `when`), fan-in at `e`. One step at a time, so the order of events is fixed.
   */
  const fanOutFanIn = () =>
    compileFixture(
      `${task(
        'with-key',
        '/a?k={{secrets.key}}',
        '  secrets: [{name: key, secretKeyRef: {name: api, key: key}}]',
      )}${task('flaky', '/b', '  retry: {maxAttempts: 2, backoff: {initial: 1ms}}')}${task('big', '/c')}${task(
        'plain',
        '/e',
      )}kind: Workflow
spec:
  maxConcurrency: 1
  tasks:
  - {id: a, taskRef: {name: with-key}}
  - {id: b, taskRef: {name: flaky}, dependsOn: [a]}
  - {id: c, taskRef: {name: big}, dependsOn: [a]}
  - {id: d, taskRef: {name: plain}, dependsOn: [a], when: "input.go == true"}
  - {id: e, taskRef: {name: plain}, dependsOn: [b, c, d]}
  output: {a: "{{tasks.a.output}}", big: "{{tasks.c.output}}"}
`,
      upstream.base,
    );

  const routeFanOutFanIn = () =>
    upstream
      .route('GET /a', (req, res) => res.writeHead(200).end(JSON.stringify({ url: req.url })))
      .route('GET /b', sequence(json(503, { echoed: SECRET }), json(200, { ok: true })))
      .route('GET /c', json(200, { blob: 'é'.repeat(MAX_EVENT_OUTPUT_BYTES / 2) }))
      .route('GET /e', json(200, { done: true }));

  async function observe(
    options: { clock?: Clock; extra?: ExecutionObserver } = {},
  ): Promise<{ events: ExecutionEvent[]; logs: unknown[] }> {
    const events: ExecutionEvent[] = [];
    const logs: unknown[] = [];
    const executor = new DagExecutor({
      http: client,
      random: () => 0.5,
      clock: options.clock ?? SYSTEM_CLOCK,
      logger: { warn: (f, m) => logs.push([m, f.error]), debug: () => {} },
      observer: { event: (e) => events.push(e) },
    });
    await executor.execute(fanOutFanIn(), { go: false }, { secrets, observer: options.extra });
    return { events, logs };
  }

  it('reports a fan-out/fan-in run as the exact sequence of events, numbered 1, 2, 3 …', async () => {
    routeFanOutFanIn();
    const { events } = await observe();
    expect(events.map(shape)).to.deep.equal([
      [1, 'ExecutionStarted'],
      [2, 'TaskStarted', 'a', 1],
      [3, 'TaskFinished', 'a', 'Succeeded'],
      [4, 'Signal', 'a->b', true],
      [5, 'Signal', 'a->c', true],
      [6, 'Signal', 'a->d', true],
      [7, 'TaskSkipped', 'd'],
      [8, 'Signal', 'd->e', false],
      [9, 'TaskStarted', 'b', 1],
      [10, 'TaskRetrying', 'b', 1],
      [11, 'TaskStarted', 'b', 2],
      [12, 'TaskFinished', 'b', 'Succeeded'],
      [13, 'Signal', 'b->e', false],
      [14, 'TaskStarted', 'c', 1],
      [15, 'TaskFinished', 'c', 'Succeeded'],
      [16, 'Signal', 'c->e', true],
      [17, 'TaskStarted', 'e', 1],
      [18, 'TaskFinished', 'e', 'Succeeded'],
      [19, 'ExecutionFinished', 'Succeeded'],
    ]);
  });

  it('opens with the graph and the revision, and timestamps every event from the clock', async () => {
    routeFanOutFanIn();
    const { events } = await observe();
    const started = events[0] as Extract<ExecutionEvent, { type: 'ExecutionStarted' }>;
    expect(started.revision).to.match(/^sha256:/);
    expect(started.graph.tasks).to.deep.equal([
      { id: 'a', taskRef: 'with-key' },
      { id: 'b', taskRef: 'flaky' },
      { id: 'c', taskRef: 'big' },
      { id: 'd', taskRef: 'plain' },
      { id: 'e', taskRef: 'plain' },
    ]);
    expect(started.graph.edges.map((e) => `${e.from}->${e.to}`).sort()).to.deep.equal(
      ['a->b', 'a->c', 'a->d', 'b->e', 'c->e', 'd->e'].sort(),
    );
    // Every edge is signalled exactly once.
    const signals = events.filter((e) => e.type === 'Signal').map((e) => `${e.from}->${e.to}`);
    expect(signals.sort()).to.deep.equal(started.graph.edges.map((e) => `${e.from}->${e.to}`).sort());
    for (const event of events) expect(event.time).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const times = events.map((e) => e.time);
    expect(times).to.deep.equal([...times].sort());
  });

  it('says why a task retries and why one was skipped', async () => {
    routeFanOutFanIn();
    const { events } = await observe();
    const retrying = events.find((e) => e.type === 'TaskRetrying');
    expect(retrying).to.deep.include({ task: 'b', attempt: 1 });
    expect(retrying?.reason).to.match(/^HTTPError: upstream answered HTTP 503/);
    expect(retrying?.delayMs).to.be.a('number').and.at.least(0);
    const skipped = events.find((e) => e.type === 'TaskSkipped');
    expect(skipped?.reason).to.equal('when `input.go == true` is false');
    const b = events.find((e) => e.type === 'TaskFinished' && e.task === 'b');
    expect(b).to.deep.include({ httpStatus: 200, attempts: 2, output: { ok: true } });
    expect(b?.type === 'TaskFinished' && b.durationMs).to.be.a('number');
  });

  it('replaces an output larger than the bound with {truncated, bytes}, in the task and the final status', async () => {
    routeFanOutFanIn();
    const { events } = await observe();
    const bytes = Buffer.byteLength(JSON.stringify({ blob: 'é'.repeat(MAX_EVENT_OUTPUT_BYTES / 2) }));
    const c = events.find((e) => e.type === 'TaskFinished' && e.task === 'c');
    expect(c?.type === 'TaskFinished' && c.output).to.deep.equal({ truncated: true, bytes });
    const finished = events.at(-1) as Extract<ExecutionEvent, { type: 'ExecutionFinished' }>;
    expect(finished.status.tasks?.find((t) => t.id === 'c')?.output).to.deep.equal({
      truncated: true,
      bytes,
    });
    // The workflow's output holds the big one too: it is bounded as a whole.
    expect(finished.status.output).to.deep.equal({
      truncated: true,
      bytes: Buffer.byteLength(
        JSON.stringify({ a: { url: '/a?k=***' }, big: { blob: 'é'.repeat(MAX_EVENT_OUTPUT_BYTES / 2) } }),
      ),
    });
    expect(finished.status.tasks?.find((t) => t.id === 'a')?.output).to.deep.equal({ url: '/a?k=***' });
  });

  it('redacts secrets: the request line, retry reasons, outputs and the final status', async () => {
    routeFanOutFanIn();
    const { events } = await observe();
    expect(events.find((e) => e.type === 'TaskStarted' && e.task === 'a')).to.deep.include({
      request: `GET ${upstream.base}/a?k=***`,
    });
    expect(JSON.stringify(events)).not.to.contain(SECRET);
    expect(upstream.requests[0]?.url).to.equal(`/a?k=${SECRET}`);
  });

  it('delivers to the executor’s observer and the execution’s own alike; a failing observer is logged, never fatal', async () => {
    routeFanOutFanIn();
    const own: ExecutionEvent[] = [];
    const { events, logs } = await observe({
      extra: {
        event: (e) => {
          own.push(e);
          if (e.type === 'TaskSkipped') throw new Error('observer broke');
        },
      },
    });
    expect(own).to.deep.equal(events);
    expect(events.at(-1)).to.deep.include({ type: 'ExecutionFinished' });
    expect(logs).to.deep.equal([['execution observer failed', 'observer broke']]);
  });

  it('still reports the end of an execution the engine failed (the clock broke)', async () => {
    let broken = false;
    const clock: Clock = {
      now: () => {
        if (broken) throw new Error('clock failed');
        return SYSTEM_CLOCK.now();
      },
      setTimer: SYSTEM_CLOCK.setTimer,
      clearTimer: SYSTEM_CLOCK.clearTimer,
    };
    routeFanOutFanIn();
    upstream.route('GET /a', (_req, res) => {
      broken = true;
      res.writeHead(200).end('{}');
    });
    const { events } = await observe({ clock });
    const last = events.at(-1) as Extract<ExecutionEvent, { type: 'ExecutionFinished' }>;
    expect(last.type).to.equal('ExecutionFinished');
    expect(last.status).to.deep.include({ phase: 'Failed', reason: 'InternalError' });
    expect(last.seq).to.equal(events.length);
    expect(last.time).to.equal(events.at(-2)?.time);
  });

  it('names the task whose missing output skipped a consumer, and reports a cancelled task as finished', async () => {
    upstream.route('GET /e', json(200, { done: true })).route('GET /fail', json(500, {}));
    const events: ExecutionEvent[] = [];
    const executor = new DagExecutor({ http: client, observer: { event: (e) => events.push(e) } });
    const workflow = compileFixture(
      `${task('plain', '/e')}${task('fails', '/fail')}kind: Workflow
spec:
  maxConcurrency: 1
  tasks:
  - {id: gated, taskRef: {name: plain}, when: "input.go == true"}
  - {id: consumer, taskRef: {name: plain}, input: {x: "{{tasks.gated.output}}"}}
  - {id: broken, taskRef: {name: fails}}
  - {id: queued, taskRef: {name: plain}}
`,
      upstream.base,
    );
    await executor.execute(workflow, { go: false });
    expect(events.find((e) => e.type === 'TaskSkipped' && e.task === 'consumer')).to.deep.include({
      reason: 'uses the output of gated, which did not succeed',
    });
    expect(events.find((e) => e.type === 'TaskFinished' && e.task === 'broken')).to.deep.include({
      phase: 'Failed',
      httpStatus: 500,
    });
    expect(events.find((e) => e.type === 'TaskFinished' && e.task === 'queued')).to.deep.include({
      phase: 'Cancelled',
    });
    expect(events.at(-1)).to.deep.include({ type: 'ExecutionFinished' });
    expect(events.map((e) => e.seq)).to.deep.equal(events.map((_, k) => k + 1));
  });

  it('builds no event when no observer takes them: the clock is read exactly as often as without one', async () => {
    const reads = { count: 0 };
    const counting: Clock = { ...SYSTEM_CLOCK, now: () => (reads.count++, SYSTEM_CLOCK.now()) };
    const run = async (observer?: ExecutionObserver) => {
      upstream.route('GET /e', json(200, { done: true }));
      reads.count = 0;
      const executor = new DagExecutor({ http: client, clock: counting, observer });
      const workflow = compileFixture(
        `${task('plain', '/e')}kind: Workflow
spec:
  tasks:
  - {id: a, taskRef: {name: plain}}
  - {id: b, taskRef: {name: plain}, dependsOn: [a]}
`,
        upstream.base,
      );
      await executor.execute(workflow, {});
      return reads.count;
    };
    const bare = await run();
    expect(await run({ taskFinished: () => {} })).to.equal(bare);
    expect(await run({ event: () => {} })).to.be.greaterThan(bare);
  });
});

describe('boundedOutput', () => {
  it('keeps scalars and outputs up to the bound, and measures a bigger one in UTF-8 bytes', () => {
    expect(boundedOutput(null)).to.equal(null);
    expect(boundedOutput(7)).to.equal(7);
    const fits = { s: 'a'.repeat(MAX_EVENT_OUTPUT_BYTES - 10) };
    expect(boundedOutput(fits)).to.equal(fits);
    const emoji = '😀'.repeat(MAX_EVENT_OUTPUT_BYTES / 4);
    expect(boundedOutput(emoji)).to.deep.equal({
      truncated: true,
      bytes: Buffer.byteLength(JSON.stringify(emoji)),
    });
  });
});
