import { expect } from 'chai';
import { SyncflowError } from '../../core/errors.ts';
import type { ExecutionCreateRequest, WorkflowExecution } from '../../core/model/execution.ts';
import type { StreamMessage } from '../../core/model/stream.ts';
import type { UserInfo } from '../auth/user.ts';
import type { WorkflowRevisionRecord } from '../../history/store.ts';
import { ExecutionPublisher, LiveBus } from '../execution/bus.ts';
import { RevisionWorkflows } from '../execution/revisions.ts';
import type { RunContext } from '../execution/service.ts';
import type { ResourceRequest } from '../http/guard.ts';
import { DEFAULT_STREAM_LIMITS, StreamSession, type StreamExecutions } from './session.ts';

/** A socket that records what the session sends and reads it at once. */
class RecordingSocket {
  readonly messages: StreamMessage[] = [];
  closed: { code: number; reason: string } | undefined;
  bufferedAmount = 0;
  send(data: string, done: () => void): void {
    this.messages.push(JSON.parse(data) as StreamMessage);
    done();
  }
  close(code: number, reason: string): void {
    this.closed = { code, reason };
  }
  of(id: unknown): StreamMessage[] {
    return this.messages.filter((m) => 'id' in m && m.id === id);
  }
}

/** A recorded revision of `workflowName`: one task, as the run path stores it. */
function revision(name: string, workflowName: string): WorkflowRevisionRecord {
  return {
    namespace: 'shop',
    name,
    workflowName,
    hash: 'sha256:0',
    definition: {
      workflow: { tasks: [{ id: 'a', taskRef: { name: 'get' } }] },
      tasks: { get: { http: { method: 'GET', url: 'http://x.svc/' } } },
    },
    creationTimestamp: '2026-01-01T00:00:00Z',
    resourceVersion: '1',
  };
}

/** Runs a three-event execution per request, publishing on the bus and to `follow` as the run path does. */
class ScriptedExecutions implements StreamExecutions {
  readonly bus = new LiveBus();
  readonly runs: { request: ExecutionCreateRequest; context: RunContext }[] = [];
  gate: Promise<void> | undefined;
  /** The recorded revisions, read by the run path's own revision lookup. */
  readonly revisions = new Map<string, WorkflowRevisionRecord>([
    ['wf-1a2b', revision('wf-1a2b', 'wf')],
    ['other-1', revision('other-1', 'other')],
  ]);
  private count = 0;
  async run(request: ExecutionCreateRequest, context: RunContext): Promise<WorkflowExecution> {
    if (request.workflowName === 'missing')
      throw new SyncflowError(
        'WorkflowNotFound',
        `workflows.syncflow.io "missing" not found in namespace ${request.namespace}`,
      );
    if (request.workflowRevision !== undefined)
      await new RevisionWorkflows({ getRevision: async (_, name) => this.revisions.get(name) }).workflow(
        request.namespace,
        request.workflowName,
        request.workflowRevision,
      );
    this.runs.push({ request, context });
    const name = `${request.generateName}x${++this.count}`;
    const publisher = new ExecutionPublisher(
      { uid: `uid-${this.count}`, name, request, user: context.user, revision: 'r' },
      this.bus,
      context.follow,
    );
    const time = new Date().toISOString();
    publisher.event({ type: 'TaskStarted', seq: 1, time, task: 'a', attempt: 1, request: 'GET http://x/' });
    if (this.gate) await this.gate;
    const phase = context.signal?.aborted ? 'Failed' : 'Succeeded';
    publisher.event({ type: 'TaskFinished', seq: 2, time, task: 'a', phase: 'Succeeded' });
    publisher.event({ type: 'ExecutionFinished', seq: 3, time, status: { phase } });
    const object = {
      apiVersion: 'execution.syncflow.io/v1alpha1',
      kind: 'WorkflowExecution',
      metadata: { name, namespace: request.namespace },
      spec: { workflowRef: { name: request.workflowName }, input: request.input },
      status: { phase },
    } as WorkflowExecution;
    publisher.finish(object);
    return object;
  }
}

/** Allows what `allowed` lists as `user verb namespace`. */
class TableGuard {
  readonly asked: string[] = [];
  constructor(private readonly allowed: string[]) {}
  async authorize(user: UserInfo, request: ResourceRequest): Promise<void> {
    const key = `${user.username} ${request.verb} ${request.namespace}`;
    this.asked.push(key);
    if (!this.allowed.includes(key))
      throw new SyncflowError(
        'Forbidden',
        `User "${user.username}" cannot ${request.verb} resource "${request.resource}"`,
      );
  }
}

const alice: UserInfo = { username: 'alice', groups: [], extra: {} };
const settle = () => new Promise((resolve) => setTimeout(resolve, 5));

function session(options: { allowed?: string[]; limits?: Partial<typeof DEFAULT_STREAM_LIMITS> } = {}) {
  const socket = new RecordingSocket();
  const executions = new ScriptedExecutions();
  const guard = new TableGuard(options.allowed ?? ['alice create shop', 'alice watch shop']);
  const s = new StreamSession(socket, alice, {
    executions,
    guard,
    limits: { ...DEFAULT_STREAM_LIMITS, ...options.limits },
  });
  const send = (message: unknown) => s.receive(JSON.stringify(message));
  return { socket, executions, guard, session: s, send };
}

describe('StreamSession (one connection’s requests)', () => {
  it('execute streams the execution’s events tagged with the id, in order, ending with the final object', async () => {
    const { socket, executions, send } = session();
    send({
      type: 'execute',
      id: 'run-1',
      namespace: 'shop',
      workflow: 'wf',
      input: { a: 1 },
      labels: { team: 'web' },
    });
    await settle();
    expect(socket.of('run-1').map((m) => m.type)).to.deep.equal([
      'TaskStarted',
      'TaskFinished',
      'ExecutionFinished',
    ]);
    const last = socket.of('run-1').at(-1) as Extract<StreamMessage, { type: 'ExecutionFinished' }>;
    expect(last.object.status.phase).to.equal('Succeeded');
    expect(last.execution).to.deep.include({ namespace: 'shop', name: 'wf-x1', workflow: 'wf' });
    expect(executions.runs[0]?.request).to.deep.include({
      namespace: 'shop',
      workflowName: 'wf',
      generateName: 'wf-',
      input: { a: 1 },
      labels: { team: 'web' },
    });
    expect(executions.runs[0]?.context.user).to.equal('alice');
  });

  it('subscribe sees other executions of its namespace after `subscribed`, not those of another namespace', async () => {
    const { socket, executions, send } = session({ allowed: ['alice watch shop', 'alice create shop'] });
    send({ type: 'subscribe', id: 's', namespace: 'shop' });
    await settle();
    expect(socket.of('s').map((m) => m.type)).to.deep.equal(['subscribed']);
    await executions.run(
      {
        namespace: 'other',
        name: undefined,
        generateName: 'o-',
        labels: {},
        annotations: {},
        workflowName: 'o',
        input: {},
      },
      { user: 'bob' },
    );
    await executions.run(
      {
        namespace: 'shop',
        name: undefined,
        generateName: 'w-',
        labels: {},
        annotations: {},
        workflowName: 'w',
        input: {},
      },
      { user: 'bob' },
    );
    const seen = socket.of('s').slice(1);
    expect(seen.map((m) => m.type)).to.deep.equal(['TaskStarted', 'TaskFinished', 'ExecutionFinished']);
    expect(seen.every((m) => 'execution' in m && m.execution.namespace === 'shop')).to.equal(true);
  });

  it('subscribe with batchMs sends the first event at once, then the rest as batches, all before `unsubscribed`', async () => {
    const { socket, executions, send } = session();
    send({ type: 'subscribe', id: 's', namespace: 'shop', batchMs: 1000 });
    await settle();
    const request = {
      namespace: 'shop',
      name: undefined,
      generateName: 'w-',
      labels: {},
      annotations: {},
      workflowName: 'w',
      input: {},
    };
    for (let i = 0; i < 3; i++) await executions.run(request, { user: 'bob' });
    // Nine events within a second: one sent, eight waiting for the batch.
    expect(socket.of('s').map((m) => m.type)).to.deep.equal(['subscribed', 'TaskStarted']);
    send({ type: 'unsubscribe', id: 's' });
    await settle();
    const seen = socket.of('s');
    expect(seen.map((m) => m.type)).to.deep.equal(['subscribed', 'TaskStarted', 'batch', 'unsubscribed']);
    const batch = seen[2] as Extract<StreamMessage, { type: 'batch' }>;
    expect(batch.messages.map((m) => m.type)).to.deep.equal([
      'TaskFinished',
      'ExecutionFinished',
      ...Array(2).fill(['TaskStarted', 'TaskFinished', 'ExecutionFinished']).flat(),
    ]);
    expect(batch.messages.every((m) => 'id' in m && m.id === 's')).to.equal(true);
  });

  it('authorizes each message in its namespace: create for execute, watch for subscribe', async () => {
    const { socket, guard, executions, send } = session({ allowed: ['alice create shop'] });
    send({ type: 'subscribe', id: 1, namespace: 'shop' });
    send({ type: 'execute', id: 2, namespace: 'secret', workflow: 'wf' });
    send({ type: 'execute', id: 3, namespace: 'shop', workflow: 'wf' });
    await settle();
    expect(guard.asked).to.have.members(['alice watch shop', 'alice create secret', 'alice create shop']);
    const refused = socket.messages.filter((m) => m.type === 'error');
    expect(refused.map((m) => [m.id, m.status.code])).to.have.deep.members([
      [1, 403],
      [2, 403],
    ]);
    expect(executions.runs.map((r) => r.request.namespace)).to.deep.equal(['shop']);
  });

  it('answers an unknown workflow with a 404 Status and a bad message with a 400 naming the field; the session goes on', async () => {
    const { socket, send } = session();
    send({ type: 'execute', id: 'm', namespace: 'shop', workflow: 'missing' });
    send({ type: 'subscribe', id: 'b', namespace: 'Bad Namespace' });
    expect(send({ type: 'subscribe', id: 'ok', namespace: 'shop' })).to.equal(true);
    await settle();
    const missing = socket.of('m')[0] as Extract<StreamMessage, { type: 'error' }>;
    expect(missing.status).to.deep.include({ kind: 'Status', code: 404, reason: 'NotFound' });
    expect(missing.status.message).to.contain('"missing" not found');
    const bad = socket.of('b')[0] as Extract<StreamMessage, { type: 'error' }>;
    expect(bad.status.code).to.equal(400);
    expect(bad.status.details?.causes?.[0]?.field).to.equal('namespace');
    expect(socket.of('ok').map((m) => m.type)).to.deep.equal(['subscribed']);
  });

  it('execute with workflowRevision runs that recorded revision; an unknown one gets the run path’s 404, one of another workflow its 422', async () => {
    const { socket, executions, send } = session();
    send({ type: 'execute', id: 'r', namespace: 'shop', workflow: 'wf', workflowRevision: 'wf-1a2b' });
    send({ type: 'execute', id: 'gone', namespace: 'shop', workflow: 'wf', workflowRevision: 'wf-gone' });
    send({ type: 'execute', id: 'other', namespace: 'shop', workflow: 'wf', workflowRevision: 'other-1' });
    await settle();
    expect(socket.of('r').map((m) => m.type)).to.deep.equal([
      'TaskStarted',
      'TaskFinished',
      'ExecutionFinished',
    ]);
    expect(executions.runs.map((r) => r.request.workflowRevision)).to.deep.equal(['wf-1a2b']);
    const gone = socket.of('gone')[0] as Extract<StreamMessage, { type: 'error' }>;
    expect(gone.status).to.deep.include({ code: 404, reason: 'NotFound' });
    expect(gone.status.details?.causes?.[0]?.field).to.equal('spec.workflowRevision');
    const other = socket.of('other')[0] as Extract<StreamMessage, { type: 'error' }>;
    expect(other.status.code).to.equal(422);
    expect(other.status.details?.causes?.[0]?.field).to.equal('spec.workflowRevision');
  });

  it('tells text that is not JSON apart (the connection closes it)', () => {
    const { send, session: s } = session();
    expect(send('plain')).to.equal(true);
    expect(s.receive('not json')).to.equal(false);
  });

  it('refuses a label selector that does not parse with a 400 and frees the id', async () => {
    const { socket, send } = session();
    send({ type: 'subscribe', id: 's', namespace: 'shop', labelSelector: 'a in (' });
    await settle();
    expect((socket.of('s')[0] as Extract<StreamMessage, { type: 'error' }>).status.code).to.equal(400);
    send({ type: 'subscribe', id: 's', namespace: 'shop' });
    await settle();
    expect(socket.of('s').at(-1)?.type).to.equal('subscribed');
  });

  it('unsubscribe ends a subscription; an unknown id gets a 404', async () => {
    const { socket, executions, send } = session();
    send({ type: 'subscribe', id: 's', namespace: 'shop' });
    await settle();
    send({ type: 'unsubscribe', id: 's' });
    send({ type: 'unsubscribe', id: 'nope' });
    await settle();
    await executions.run(
      {
        namespace: 'shop',
        name: undefined,
        generateName: 'w-',
        labels: {},
        annotations: {},
        workflowName: 'w',
        input: {},
      },
      { user: 'bob' },
    );
    expect(socket.of('s').map((m) => m.type)).to.deep.equal(['subscribed', 'unsubscribed']);
    expect((socket.of('nope')[0] as Extract<StreamMessage, { type: 'error' }>).status.code).to.equal(404);
  });

  it('refuses an id in use (409) and requests beyond the connection’s limits (429)', async () => {
    const { socket, send } = session({ limits: { maxSubscriptions: 1, maxExecutions: 1 } });
    send({ type: 'subscribe', id: 's', namespace: 'shop' });
    send({ type: 'subscribe', id: 's', namespace: 'shop' });
    send({ type: 'subscribe', id: 't', namespace: 'shop' });
    await settle();
    const codes = socket.messages.filter((m) => m.type === 'error').map((m) => [m.id, m.status.code]);
    expect(codes).to.deep.equal([
      ['s', 409],
      ['t', 429],
    ]);
  });

  it('abort cancels a running execution of the connection; closing the connection cancels the others', async () => {
    const { executions, send, session: s } = session();
    let release = () => {};
    executions.gate = new Promise<void>((resolve) => (release = resolve));
    send({ type: 'execute', id: 'e1', namespace: 'shop', workflow: 'wf' });
    send({ type: 'execute', id: 'e2', namespace: 'shop', workflow: 'wf' });
    await settle();
    send({ type: 'abort', id: 'e1' });
    expect(executions.runs[0]?.context.signal?.aborted).to.equal(true);
    s.end();
    expect(executions.runs[1]?.context.signal?.aborted).to.equal(true);
    release();
    await settle();
    expect(s.size).to.equal(0);
  });

  it('when the server shuts down: running executions finish, subscriptions end, new requests get 503, then it is idle', async () => {
    const { socket, executions, send, session: s } = session();
    let release = () => {};
    executions.gate = new Promise<void>((resolve) => (release = resolve));
    send({ type: 'subscribe', id: 'sub', namespace: 'shop' });
    send({ type: 'execute', id: 'run', namespace: 'shop', workflow: 'wf' });
    await settle();
    let idle = false;
    s.shutdown(() => (idle = true));
    send({ type: 'execute', id: 'late', namespace: 'shop', workflow: 'wf' });
    await settle();
    const late = socket.of('late')[0] as Extract<StreamMessage, { type: 'error' }>;
    expect(late.status.code).to.equal(503);
    expect((socket.of('sub').at(-1) as Extract<StreamMessage, { type: 'error' }>).status.code).to.equal(503);
    expect(idle).to.equal(false);
    release();
    await settle();
    expect(socket.of('run').at(-1)?.type).to.equal('ExecutionFinished');
    expect(executions.runs[0]?.context.signal?.aborted).to.equal(false);
    expect(idle).to.equal(true);
    send({ type: 'subscribe', id: 'later', namespace: 'shop' });
    await settle();
    expect((socket.of('later')[0] as Extract<StreamMessage, { type: 'error' }>).status.code).to.equal(503);
  });

  it('sheds executions the server’s limiter refuses with a 429, and gives the place back when one ends', async () => {
    const socket = new RecordingSocket();
    const executions = new ScriptedExecutions();
    let inFlight = 0;
    const limiter = {
      tryAcquire: () => (inFlight < 1 ? (inFlight++, true) : false),
      release: () => inFlight--,
      refusal: (what: string) => `the server is running 1 ${what}, its limit; retry after 1 second`,
    };
    let release = () => {};
    executions.gate = new Promise<void>((resolve) => (release = resolve));
    const s = new StreamSession(socket, alice, {
      executions,
      guard: new TableGuard(['alice create shop']),
      limits: DEFAULT_STREAM_LIMITS,
      limiter,
    });
    s.receive(JSON.stringify({ type: 'execute', id: 1, namespace: 'shop', workflow: 'wf' }));
    s.receive(JSON.stringify({ type: 'execute', id: 2, namespace: 'shop', workflow: 'wf' }));
    await settle();
    const shed = socket.of(2)[0] as Extract<StreamMessage, { type: 'error' }>;
    expect(shed.status.code).to.equal(429);
    expect(shed.status.message).to.contain('stream executions');
    release();
    await settle();
    expect(inFlight).to.equal(0);
  });

  it('drops a message it cannot serialize without disturbing the execution that published it', async () => {
    const { socket, executions, send } = session();
    send({ type: 'subscribe', id: 's', namespace: 'shop' });
    await settle();
    const request = {
      namespace: 'shop',
      name: undefined,
      generateName: 'w-',
      labels: {},
      annotations: {},
      workflowName: 'w',
      input: {},
    };
    const publisher = new ExecutionPublisher(
      { uid: 'u', name: 'w-1', request, user: 'bob', revision: 'r' },
      executions.bus,
    );
    const time = new Date().toISOString();
    expect(() =>
      publisher.event({
        type: 'TaskFinished',
        seq: 1,
        time,
        task: 'a',
        phase: 'Succeeded',
        output: { n: 1n },
      }),
    ).not.to.throw();
    publisher.event({ type: 'TaskFinished', seq: 2, time, task: 'b', phase: 'Succeeded' });
    expect(socket.of('s').map((m) => m.type)).to.deep.equal(['subscribed', 'TaskFinished']);
  });

  it('answers execute {debug} with a 503 Status when the server has no debug runs', async () => {
    const { socket, send } = session();
    send({ type: 'execute', id: 'd', namespace: 'shop', workflow: 'wf', debug: { breakpoints: ['*'] } });
    await settle();
    const errors = socket.of('d') as Extract<StreamMessage, { type: 'error' }>[];
    expect(errors.map((e) => e.status.code)).to.deep.equal([503]);
    expect(errors[0]?.status.message).to.contain('debug runs are not available');
  });
});
