import { expect } from 'chai';
import { TaskSet, validateTask, validateWorkflow } from './validate.ts';

const taskDoc = (name: string, spec: Record<string, unknown>) => ({
  apiVersion: 'syncflow.io/v1alpha1',
  kind: 'WorkflowTask',
  metadata: { name, namespace: 'shop' },
  spec,
});

const workflowDoc = (spec: Record<string, unknown>) => ({
  apiVersion: 'syncflow.io/v1alpha1',
  kind: 'Workflow',
  metadata: { name: 'wf', namespace: 'shop' },
  spec,
});

/** get-item takes {id, pos}; list-items answers {items: [{id, price}]}; count answers {n}. */
function tasks(): TaskSet {
  const set = new TaskSet();
  const add = (name: string, spec: Record<string, unknown>) => {
    const { task, errors } = validateTask(taskDoc(name, spec));
    expect(errors).to.deep.equal([]);
    set.set(name, task ?? null);
  };
  add('get-item', {
    inputSchema: {
      type: 'object',
      required: ['id'],
      properties: { id: { type: 'string' }, pos: { type: 'integer' } },
    },
    http: { method: 'GET', url: 'http://items.svc/items/{{input.id}}' },
  });
  add('list-items', {
    outputSchema: {
      type: 'object',
      properties: {
        items: {
          type: 'array',
          items: { type: 'object', properties: { id: { type: 'string' }, price: { type: 'number' } } },
        },
      },
    },
    http: { method: 'GET', url: 'http://items.svc/items' },
  });
  add('count', {
    outputSchema: { type: 'object', properties: { n: { type: 'integer' } } },
    http: { method: 'GET', url: 'http://items.svc/count' },
  });
  return set;
}

const INPUT_SCHEMA = {
  type: 'object',
  properties: {
    ids: { type: 'array', items: { type: 'object', properties: { id: { type: 'string' } } } },
    name: { type: 'string' },
  },
};

const fields = (errors: { code: string; field: string }[]) => errors.map((e) => `${e.code} ${e.field}`);

/** Validates step `list` (list-items) followed by step `each`, a get-item map over `items` with the given input. */
const validateMapAfterList = (input: Record<string, unknown>, items = '{{tasks.list.output.items}}') =>
  validateWorkflow(
    workflowDoc({
      tasks: [
        { id: 'list', taskRef: { name: 'list-items' } },
        { id: 'each', taskRef: { name: 'get-item' }, map: { items }, input },
      ],
    }),
    tasks(),
  );

describe('map steps at admission', () => {
  it('accepts a map over an input array with {{item.<path>}} and {{index}} in the step input', () => {
    const { errors, workflow } = validateWorkflow(
      workflowDoc({
        inputSchema: INPUT_SCHEMA,
        tasks: [
          {
            id: 'each',
            taskRef: { name: 'get-item' },
            map: { items: '{{input.ids}}', concurrency: 4, onItemError: 'collect', maxFailedItems: 2 },
            input: { id: '{{item.id}}', pos: '{{index}}' },
          },
        ],
      }),
      tasks(),
    );
    expect(errors).to.deep.equal([]);
    const map = workflow?.steps.get('each')?.map;
    expect(map?.concurrency).to.equal(4);
    expect(map?.failFast).to.equal(false);
    expect(map?.maxFailedItems).to.equal(2);
  });

  it('makes a map over a producer output array depend on the producer', () => {
    const { errors, workflow } = validateMapAfterList({ id: '{{item.id}}' });
    expect(errors).to.deep.equal([]);
    expect(workflow?.steps.get('each')?.dependsOn).to.deep.equal(['list']);
    expect(workflow?.steps.get('each')?.dataDependencies).to.deep.equal(['list']);
    expect(workflow?.steps.get('each')?.map?.failFast).to.equal(true);
  });

  it('refuses a map over a value whose schema is not an array, naming map.items', () => {
    const { errors } = validateWorkflow(
      workflowDoc({
        inputSchema: INPUT_SCHEMA,
        tasks: [
          { id: 'c', taskRef: { name: 'count' } },
          {
            id: 'a',
            taskRef: { name: 'get-item' },
            map: { items: '{{input.name}}' },
            input: { id: 'x' },
          },
          {
            id: 'b',
            taskRef: { name: 'get-item' },
            map: { items: '{{tasks.c.output.n}}' },
            input: { id: 'x' },
          },
        ],
      }),
      tasks(),
    );
    expect(fields(errors)).to.deep.equal([
      'TypeMismatch spec.tasks[1].map.items',
      'TypeMismatch spec.tasks[2].map.items',
    ]);
    expect(errors[0]?.message).to.equal('map runs over an array, but `input.name` is string');
  });

  it('refuses {{item.x}} when x is not in the element schema, with a suggestion', () => {
    const { errors } = validateMapAfterList({ id: '{{item.idd}}' });
    expect(fields(errors)).to.deep.equal(['UnknownInputField spec.tasks[1].input.id']);
    expect(errors[0]?.message).to.equal(
      '`item.idd`: `idd` is not in the element schema of `tasks.list.output.items`',
    );
    expect(errors[0]?.suggestion).to.equal('did you mean `id`?');
  });

  it('type-checks element fields against the task inputSchema', () => {
    const { errors } = validateMapAfterList({ id: '{{item.price}}', pos: '{{index}}' });
    expect(fields(errors)).to.deep.equal(['TypeMismatch spec.tasks[1].input.id']);
  });

  it('refuses items that are not exactly one input or output template', () => {
    for (const items of ['ids', 'x-{{input.ids}}', '{{item}}']) {
      const { errors } = validateWorkflow(
        workflowDoc({
          inputSchema: INPUT_SCHEMA,
          tasks: [{ id: 'a', taskRef: { name: 'get-item' }, map: { items }, input: { id: 'x' } }],
        }),
        tasks(),
      );
      expect(fields(errors), items).to.deep.equal(['FieldInvalid spec.tasks[0].map.items']);
    }
  });

  it('refuses {{item}} and {{index}} outside a map step: step input, workflow output and task templates', () => {
    const { errors } = validateWorkflow(
      workflowDoc({
        tasks: [{ id: 'a', taskRef: { name: 'get-item' }, input: { id: '{{item.id}}', pos: '{{index}}' } }],
        output: { x: '{{item}}' },
      }),
      tasks(),
    );
    expect(fields(errors)).to.deep.equal([
      'TemplateScope spec.tasks[0].input.id',
      'TemplateScope spec.tasks[0].input.pos',
      'TemplateScope spec.output.x',
    ]);
    const task = validateTask(taskDoc('t', { http: { method: 'GET', url: 'http://a.svc/{{item.id}}' } }));
    expect(fields(task.errors)).to.deep.equal(['TemplateScope spec.http.url']);
  });

  it('refuses a map over an unknown step, naming map.items', () => {
    const { errors } = validateMapAfterList({ id: 'x' }, '{{tasks.lst.output.items}}');
    expect(fields(errors)).to.deep.equal(['UnknownTask spec.tasks[1].map.items']);
  });
});

describe('resilience settings at admission', () => {
  const get = { method: 'GET', url: 'http://items.svc/items' };
  const post = { method: 'POST', url: 'http://items.svc/orders', body: { a: 1 } };

  it('compiles idempotency key, breaker, hedge and cache with their defaults', () => {
    const { errors, task } = validateTask(
      taskDoc('t', {
        http: post,
        idempotencyKey: { header: 'Idempotency-Key' },
        circuitBreaker: { window: '2s' },
        hedge: { after: 'p95' },
        cache: { ttl: '30s' },
      }),
    );
    expect(errors).to.deep.equal([]);
    const resilience = task?.resilience;
    expect(resilience?.idempotencyHeader).to.equal('Idempotency-Key');
    expect(resilience?.breaker).to.include({
      failureRatio: 0.5,
      minimumRequests: 10,
      windowMs: 2_000,
      openForMs: 5_000,
      halfOpenProbes: 1,
    });
    expect(resilience?.hedge).to.deep.equal({ afterMs: 'p95', maxExtraPercent: 10 });
    expect(resilience?.cache).to.deep.equal({ ttlMs: 30_000, maxEntries: 1_000 });
  });

  it('leaves a task that declares none of them without resilience settings (the plain path)', () => {
    expect(validateTask(taskDoc('t', { http: get })).task?.resilience).to.equal(undefined);
  });

  it('refuses hedging a POST or PATCH without an idempotency key, naming spec.hedge', () => {
    for (const method of ['POST', 'PATCH']) {
      const { errors } = validateTask(taskDoc('t', { http: { ...post, method }, hedge: { after: '50ms' } }));
      expect(fields(errors)).to.deep.equal(['FieldInvalid spec.hedge']);
      expect(errors[0]?.suggestion).to.contain('idempotencyKey');
    }
  });

  it('accepts hedging a POST with an idempotency key, and any idempotent method', () => {
    const keyed = taskDoc('t', { http: post, idempotencyKey: { header: 'X-Key' }, hedge: { after: '50ms' } });
    expect(validateTask(keyed).errors).to.deep.equal([]);
    const header = taskDoc('t', {
      http: { ...post, headers: { 'Idempotency-Key': 'k-{{input.id}}' } },
      hedge: { after: '50ms' },
    });
    expect(validateTask(header).errors).to.deep.equal([]);
    expect(validateTask(taskDoc('t', { http: get, hedge: { after: '1s' } })).errors).to.deep.equal([]);
  });

  it('refuses caching a request whose body carries a secret unless the author opts in', () => {
    const spec = {
      http: { ...post, body: { token: '{{secrets.token}}' } },
      secrets: [{ name: 'token', secretKeyRef: { name: 'api', key: 'token' } }],
      cache: { ttl: '10s' },
    };
    expect(fields(validateTask(taskDoc('t', spec)).errors)).to.deep.equal(['FieldInvalid spec.cache']);
    const optedIn = { ...spec, cache: { ttl: '10s', allowSecretsInBody: true } };
    expect(validateTask(taskDoc('t', optedIn)).errors).to.deep.equal([]);
  });

  it('refuses bad settings by shape with their field paths', () => {
    const { errors } = validateTask(
      taskDoc('t', {
        http: get,
        hedge: { after: 'soon' },
        circuitBreaker: { failureRatio: 2 },
        idempotencyKey: { header: 'bad header' },
      }),
    );
    expect(fields(errors).sort()).to.deep.equal([
      'FieldInvalid spec.circuitBreaker.failureRatio',
      'FieldInvalid spec.hedge.after',
      'FieldInvalid spec.idempotencyKey.header',
    ]);
  });

  it('does not retry circuit-open by default, only when retryOn names it', () => {
    const plain = validateTask(taskDoc('t', { http: get })).task;
    expect([...(plain?.retry.retryOn ?? [])]).to.not.include('circuit-open');
    const named = validateTask(taskDoc('t', { http: get, retry: { retryOn: ['circuit-open'] } })).task;
    expect([...(named?.retry.retryOn ?? [])]).to.deep.equal(['circuit-open']);
  });
});

describe('WebSocket tasks at admission', () => {
  const ws = (http: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
    taskDoc('quotes', { http: { method: 'GET', url: 'ws://quotes.svc/stream', ...http }, ...extra });

  it('compiles a WebSocket task: the message as its templated body, nth or a CEL match', () => {
    const { errors, task } = validateTask(
      ws(
        {},
        {
          websocket: { message: { subscribe: '{{input.symbol}}' }, complete: { match: 'message.price > 1' } },
        },
      ),
    );
    expect(errors).to.deep.equal([]);
    expect(task?.websocket?.nth).to.equal(1);
    expect(
      task?.websocket?.match?.evaluate({ input: undefined, tasks: {}, message: { price: 2 } } as never),
    ).to.equal(true);
    expect(task?.body).to.not.equal(undefined);
    expect(validateTask(ws({}, { websocket: { complete: { nth: 3 } } })).task?.websocket?.nth).to.equal(3);
  });

  it('refuses what does not fit a WebSocket exchange, with field paths', () => {
    const { errors } = validateTask(
      ws(
        { method: 'POST', url: 'http://quotes.svc/stream', body: { a: 1 } },
        {
          websocket: { complete: { nth: 2, match: 'message.ok' } },
          hedge: { after: '10ms' },
          cache: { ttl: '1s' },
          circuitBreaker: {},
          idempotencyKey: { header: 'Idempotency-Key' },
        },
      ),
    );
    expect(fields(errors).sort()).to.deep.equal([
      'FieldInvalid spec.cache',
      'FieldInvalid spec.circuitBreaker',
      'FieldInvalid spec.hedge',
      'FieldInvalid spec.http.body',
      'FieldInvalid spec.http.method',
      'FieldInvalid spec.http.url',
      'FieldInvalid spec.websocket.complete',
    ]);
  });

  it('refuses a ws:// URL without `websocket`, a bad CEL match, and undeclared input in the message', () => {
    expect(fields(validateTask(ws({})).errors)).to.deep.equal(['FieldInvalid spec.http.url']);
    expect(
      fields(validateTask(ws({}, { websocket: { complete: { match: 'message.' } } })).errors),
    ).to.deep.equal(['InvalidWhen spec.websocket.complete.match']);
    const undeclared = validateTask(
      ws(
        {},
        {
          inputSchema: { type: 'object', properties: { symbol: { type: 'string' } } },
          websocket: { message: { s: '{{input.symbl}}', t: '{{secrets.nope}}' } },
        },
      ),
    );
    expect(fields(undeclared.errors).sort()).to.deep.equal([
      'UnknownInputField spec.websocket.message.s',
      'UnknownSecret spec.websocket.message.t',
    ]);
  });
});
