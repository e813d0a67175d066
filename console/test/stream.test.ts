import { expect } from 'chai';
import type { StreamSocket } from '../../client/stream.ts';
import {
  ConsoleStream,
  StreamRefused,
  liveExecution,
  streamUrl,
  type LiveExecution,
  type StreamMessage,
} from '../src/api/stream.ts';

/** A WebSocket stand-in: records what the page sends, and lets the test answer as the server. */
class FakeSocket implements StreamSocket {
  readyState = 0;
  sent: Array<Record<string, unknown>> = [];
  onopen: StreamSocket['onopen'] = null;
  onmessage: StreamSocket['onmessage'] = null;
  onclose: StreamSocket['onclose'] = null;
  onerror: StreamSocket['onerror'] = null;
  closed: number | undefined;

  constructor(
    readonly url: string,
    readonly protocols: string[],
  ) {}

  open(): void {
    this.readyState = 1;
    this.onopen?.({});
  }
  send(data: string): void {
    this.sent.push(JSON.parse(data) as Record<string, unknown>);
  }
  close(code?: number): void {
    this.closed = code;
    this.readyState = 3;
  }
  answer(message: Record<string, unknown>): void {
    this.onmessage?.({ data: JSON.stringify(message) });
  }
}

function fakeStream(options: { token?: string } = {}) {
  const sockets: FakeSocket[] = [];
  const stream = new ConsoleStream({
    config: { apiBase: options.token ? '/console/k8s' : '', auth: options.token ? 'bearer' : 'session' },
    namespace: 'shop',
    page: { protocol: 'https:', host: 'console.example:8443' },
    ...(options.token ? { token: options.token } : {}),
    connect: (url, protocols) => {
      const socket = new FakeSocket(url, protocols);
      sockets.push(socket);
      return socket;
    },
  });
  const socket = sockets[0] as FakeSocket;
  socket.open();
  return { stream, socket };
}

const execution = { namespace: 'shop', name: 'user-profile-abcde', uid: 'u', workflow: 'user-profile' };
const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

describe('the console stream client (console/src/api/stream)', () => {
  describe('streamUrl', () => {
    it('is the aggregated stream path of the namespace under the API base, ws(s) on the page host', () => {
      expect(
        streamUrl({ apiBase: '/console/k8s', auth: 'bearer' }, { protocol: 'https:', host: 'h:1' }, 'shop'),
      ).to.equal(
        'wss://h:1/console/k8s/apis/execution.syncflow.io/v1alpha1/namespaces/shop/workflowexecutions/-/stream',
      );
      expect(
        streamUrl({ apiBase: '', auth: 'session' }, { protocol: 'http:', host: '127.0.0.1:9' }, 'a-b'),
      ).to.equal(
        'ws://127.0.0.1:9/apis/execution.syncflow.io/v1alpha1/namespaces/a-b/workflowexecutions/-/stream',
      );
    });
  });

  describe('ConsoleStream', () => {
    it('offers the bearer token as a subprotocol beside the stream protocol (the /console/ path)', () => {
      const { socket } = fakeStream({ token: 'tok' });
      expect(socket.protocols).to.deep.equal([
        `base64url.bearer.authorization.k8s.io.${Buffer.from('tok').toString('base64url')}`,
        'stream.syncflow.io',
      ]);
    });

    it('offers no token in session mode (the cookie of syncflow console carries the identity)', () => {
      const { socket } = fakeStream();
      expect(socket.protocols).to.deep.equal(['stream.syncflow.io']);
    });

    it('execute sends the request in the namespace, hands each message to the page and resolves with the recorded object', async () => {
      const { stream, socket } = fakeStream();
      const seen: string[] = [];
      const run = stream.execute({ workflow: 'user-profile', input: { userId: '42' } }, (m) =>
        seen.push(m.type),
      );
      expect(socket.sent[0]).to.deep.equal({
        type: 'execute',
        id: run.id,
        namespace: 'shop',
        workflow: 'user-profile',
        input: { userId: '42' },
      });
      const object = { metadata: { name: 'user-profile-abcde' }, status: { phase: 'Succeeded' } };
      socket.answer({
        type: 'TaskStarted',
        id: run.id,
        execution,
        seq: 2,
        time: 't',
        task: 'user',
        attempt: 1,
      });
      socket.answer({ type: 'ExecutionFinished', id: run.id, execution, seq: 3, time: 't', object });
      expect(await run.done).to.deep.equal(object);
      expect(seen).to.deep.equal(['TaskStarted', 'ExecutionFinished']);
    });

    it('a refused execute rejects `done` with the Status (422 names the input field)', async () => {
      const { stream, socket } = fakeStream();
      const run = stream.execute({ workflow: 'user-profile', input: {} }, () => undefined);
      const status = {
        kind: 'Status',
        apiVersion: 'v1',
        status: 'Failure',
        code: 422,
        reason: 'Invalid',
        message: 'input is invalid',
        details: { causes: [{ field: 'spec.input.userId', message: 'is required' }] },
      };
      socket.answer({ type: 'error', id: run.id, status });
      const error = await run.done.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).to.be.instanceOf(StreamRefused);
      expect((error as StreamRefused).code).to.equal(422);
      expect((error as StreamRefused).status.details?.causes?.[0]?.field).to.equal('spec.input.userId');
    });

    it('continue, skip and abort address the run; debug options travel with execute', () => {
      const { stream, socket } = fakeStream();
      const run = stream.execute({ workflow: 'w', debug: { breakpoints: ['*'] } }, () => undefined);
      run.continue();
      run.skip({ ok: true });
      run.abort();
      expect(socket.sent.map((m) => [m.type, m.id])).to.deep.equal([
        ['execute', run.id],
        ['continue', run.id],
        ['skip', run.id],
        ['abort', run.id],
      ]);
      expect(socket.sent[0]?.debug).to.deep.equal({ breakpoints: ['*'] });
      expect(socket.sent[2]?.output).to.deep.equal({ ok: true });
    });

    it('subscribe follows the namespace until closed, then unsubscribes', async () => {
      const { stream, socket } = fakeStream();
      const seen: StreamMessage[] = [];
      const subscription = stream.subscribe({ workflow: 'user-profile' }, (m) => seen.push(m));
      expect(socket.sent[0]).to.include({ type: 'subscribe', namespace: 'shop', workflow: 'user-profile' });
      socket.answer({ type: 'subscribed', id: subscription.id });
      await tick();
      subscription.close();
      expect(socket.sent[1]).to.deep.equal({ type: 'unsubscribe', id: subscription.id });
      expect(seen.map((m) => m.type)).to.deep.equal(['subscribed']);
    });

    it('close ends the connection and every run (a run still going rejects)', async () => {
      const { stream, socket } = fakeStream();
      const run = stream.execute({ workflow: 'w' }, () => undefined);
      stream.close();
      expect(socket.closed).to.equal(1000);
      const error = await run.done.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(String(error)).to.match(/closed/);
    });

    it('a stream that never opened (refused upgrade) says which permissions running needs, not that a run was cancelled', async () => {
      const sockets: FakeSocket[] = [];
      const stream = new ConsoleStream({
        config: { apiBase: '', auth: 'session' },
        namespace: 'shop',
        page: { protocol: 'http:', host: 'h' },
        connect: (url, protocols) => {
          const socket = new FakeSocket(url, protocols);
          sockets.push(socket);
          return socket;
        },
      });
      const run = stream.execute({ workflow: 'w' }, () => undefined);
      sockets[0]?.onclose?.({ code: 1006, reason: '' });
      const error = (await run.done.then(
        () => undefined,
        (e: unknown) => e,
      )) as StreamRefused;
      expect(error.code).to.equal(503);
      expect(error.message).to.match(/could not be opened/);
      expect(error.message).to.contain('get workflowexecutions/stream');
      expect(error.message).to.contain('namespace shop');
      stream.close();
    });

    it('a dropped connection ends a run with the 503 saying the server cancelled and recorded it', async () => {
      const { stream, socket } = fakeStream();
      const run = stream.execute({ workflow: 'w' }, () => undefined);
      socket.onclose?.({ code: 1006, reason: '' });
      const error = (await run.done.then(
        () => undefined,
        (e: unknown) => e,
      )) as StreamRefused;
      expect(error.code).to.equal(503);
      expect(error.message).to.match(/cancels it and records it/);
      stream.close();
    });
  });

  describe('liveExecution (what the graph shows, from the events)', () => {
    const at = (seq: number, rest: Record<string, unknown>) =>
      ({ id: 'c1', execution, seq, time: `2026-01-01T00:00:0${seq}Z`, ...rest }) as unknown as StreamMessage;
    const fold = (messages: StreamMessage[], tasks = ['user', 'orders', 'recs']) =>
      messages.reduce<LiveExecution>((state, m) => liveExecution(state, m), liveExecution.start(tasks));

    it('starts every task Pending and the execution Running', () => {
      const state = liveExecution.start(['a', 'b']);
      expect(state.phase).to.equal('Running');
      expect(state.tasks).to.deep.equal({ a: { phase: 'Pending' }, b: { phase: 'Pending' } });
    });

    it('a started task is Running (attempt n), a retrying one Retrying with its reason, then its final phase', () => {
      const running = fold([
        at(1, { type: 'ExecutionStarted', graph: { tasks: [], edges: [] } }),
        at(2, { type: 'TaskStarted', task: 'user', attempt: 1, request: 'GET http://u' }),
      ]);
      expect(running.name).to.equal('user-profile-abcde');
      expect(running.tasks.user).to.deep.equal({ phase: 'Running', note: 'attempt 1 · GET http://u' });
      const retrying = liveExecution(
        running,
        at(3, { type: 'TaskRetrying', task: 'user', attempt: 1, reason: 'HTTPError: 503', delayMs: 200 }),
      );
      expect(retrying.tasks.user).to.deep.equal({
        phase: 'Retrying',
        note: 'attempt 1 failed (HTTPError: 503), retry in 200 ms',
      });
      const again = liveExecution(
        retrying,
        at(4, { type: 'TaskStarted', task: 'user', attempt: 2, request: 'GET http://u' }),
      );
      expect(again.tasks.user?.note).to.equal('attempt 2 · GET http://u');
      const done = liveExecution(
        again,
        at(5, { type: 'TaskFinished', task: 'user', phase: 'Succeeded', durationMs: 12, attempts: 2 }),
      );
      expect(done.tasks.user).to.deep.equal({ phase: 'Succeeded', note: '12 ms · 2 attempts' });
    });

    it('a failed task carries its error, a skipped one its reason', () => {
      const state = fold([
        at(1, {
          type: 'TaskFinished',
          task: 'recs',
          phase: 'Failed',
          httpStatus: 503,
          durationMs: 3,
          error: { reason: 'HTTPError', message: 'upstream answered 503' },
        }),
        at(2, { type: 'TaskSkipped', task: 'orders', reason: 'when is false' }),
      ]);
      expect(state.tasks.recs).to.deep.equal({ phase: 'Failed', note: 'HTTP 503 · HTTPError' });
      expect(state.tasks.orders).to.deep.equal({ phase: 'Skipped', note: 'when is false' });
    });

    it('ExecutionFinished gives the final phase and the recorded object; older events never undo newer ones', () => {
      const object = { metadata: { name: 'user-profile-final' }, status: { phase: 'Failed' } };
      const state = fold([
        at(3, { type: 'TaskFinished', task: 'user', phase: 'Succeeded', durationMs: 1 }),
        at(2, { type: 'TaskStarted', task: 'user', attempt: 1, request: 'GET x' }),
        at(4, { type: 'ExecutionFinished', object }),
      ]);
      expect(state.tasks.user?.phase).to.equal('Succeeded');
      expect(state.phase).to.equal('Failed');
      expect(state.name).to.equal('user-profile-final');
      expect(state.object).to.deep.equal(object);
    });

    it('ignores messages that are not events (acknowledgements, heartbeats, overflow)', () => {
      const start = liveExecution.start(['a']);
      for (const m of [
        { type: 'subscribed', id: 'c1' },
        { type: 'heartbeat', time: 't' },
        { type: 'overflow', id: 'c1', dropped: 3 },
      ] as StreamMessage[])
        expect(liveExecution(start, m)).to.equal(start);
    });
  });
});
