/**
 * Debug runs over the stream through the real run path (ExecutionService, DebugRuns, DagExecutor)
 * with an upstream that answers at once: `paused` before each breakpoint, then `continue`, `skip`
 * with a substitute output, or `abort`; the debug runs' own limit.
 */
import { expect } from 'chai';
import { oneTaskCatalog } from '../../core/definitions/testdata/one-task-catalog.ts';
import { DagExecutor } from '../../core/engine/executor.ts';
import type { TaskHttpClient } from '../../core/engine/task-http.ts';
import type { StreamMessage } from '../../core/model/stream.ts';
import type { ExecutionServiceOptions } from '../execution/service.ts';
import { ExecutionService } from '../execution/service.ts';
import { DebugRuns } from '../execution/debug.ts';
import { StaticSecrets } from '../../kube/secret-resolver.ts';
import { DEFAULT_STREAM_LIMITS, StreamSession } from './session.ts';

type Message<T extends StreamMessage['type']> = Extract<StreamMessage, { type: T }>;

class CountingUpstream implements TaskHttpClient {
  calls = 0;
  async send() {
    this.calls++;
    return {
      status: 200,
      headers: { 'content-type': 'application/json' },
      body: Buffer.from('{"called":true}'),
    };
  }
  async close() {}
}

function setup(maxConcurrent = 4) {
  const upstream = new CountingUpstream();
  const service = new ExecutionService({
    catalog: oneTaskCatalog({ namespace: 'shop' }),
    executor: new DagExecutor({ http: upstream }),
    history: {
      admit: () => ({ record() {}, release() {} }),
      flush: async () => {},
      pending: () => undefined,
    },
    store: {
      get: async () => undefined,
      storedNames: async () => new Set<string>(),
      reserveName: async () => true,
      releaseName: async () => {},
      taskDurationStats: async () => [],
      recordRevision: async () => ({}),
    } as unknown as ExecutionServiceOptions['store'],
    secrets: new StaticSecrets(new Map()),
    debugRuns: new DebugRuns({ maxConcurrent }),
  });
  const messages: StreamMessage[] = [];
  const socket = {
    bufferedAmount: 0,
    send(data: string, done: () => void) {
      messages.push(JSON.parse(data) as StreamMessage);
      done();
    },
    close() {},
  };
  const session = new StreamSession(
    socket,
    { username: 'dev', groups: [], extra: {} },
    { executions: service, guard: { authorize: async () => {} }, limits: DEFAULT_STREAM_LIMITS },
  );
  const send = (message: unknown) => session.receive(JSON.stringify(message));
  const next = async <T extends StreamMessage['type']>(id: string, type: T): Promise<Message<T>> => {
    for (let i = 0; i < 200; i++) {
      const found = messages.find((m) => 'id' in m && m.id === id && m.type === type);
      if (found) return found as Message<T>;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    throw new Error(`no ${type} for ${id}: ${JSON.stringify(messages)}`);
  };
  return { upstream, messages, send, next };
}

const execute = (id: string) => ({
  type: 'execute',
  id,
  namespace: 'shop',
  workflow: 'wf',
  debug: { breakpoints: ['*'] },
});

describe('debug runs over the stream', () => {
  it('pauses before the task with its resolved request, and runs it on continue; the record is marked as a debug run', async () => {
    const { send, next, upstream } = setup();
    send(execute('d'));
    const paused = await next('d', 'paused');
    expect(paused).to.deep.include({ task: 'a' });
    expect(paused.request).to.deep.include({ method: 'GET', url: 'http://x.svc/' });
    expect(upstream.calls).to.equal(0);
    send({ type: 'continue', id: 'd' });
    const finished = await next('d', 'ExecutionFinished');
    expect(finished.object.status.phase).to.equal('Succeeded');
    expect(finished.object.metadata.annotations).to.deep.include({ 'syncflow.io/debug': 'true' });
    expect(upstream.calls).to.equal(1);
  });

  it('skip uses the substitute output instead of calling the task', async () => {
    const { send, next, upstream } = setup();
    send(execute('s'));
    await next('s', 'paused');
    send({ type: 'skip', id: 's', output: { substitute: 1 } });
    const finished = await next('s', 'ExecutionFinished');
    expect(finished.object.status.tasks?.[0]?.output).to.deep.equal({ substitute: 1 });
    expect(upstream.calls).to.equal(0);
  });

  it('abort at a pause ends the run Failed with reason DebugAborted', async () => {
    const { send, next } = setup();
    send(execute('x'));
    await next('x', 'paused');
    send({ type: 'abort', id: 'x' });
    const finished = await next('x', 'ExecutionFinished');
    expect(finished.object.status).to.deep.include({ phase: 'Failed', reason: 'DebugAborted' });
  });

  it('refuses continue for an execution that is not a debug run (409) and a debug run beyond the limit (429)', async () => {
    const { send, next } = setup(1);
    send(execute('one'));
    await next('one', 'paused');
    send(execute('two'));
    expect((await next('two', 'error')).status.code).to.equal(429);
    send({ type: 'execute', id: 'plain', namespace: 'shop', workflow: 'wf' });
    send({ type: 'continue', id: 'plain' });
    const refused = await next('plain', 'error');
    expect(refused.status.code).to.equal(409);
    expect(refused.status.message).to.contain('not a debug run');
    send({ type: 'continue', id: 'nobody' });
    expect((await next('nobody', 'error')).status.code).to.equal(404);
  });
});
