/**
 * StreamClient against a real in-process `ws` server that plays the stream's server side: requests
 * and answers, the bearer subprotocol, reconnect with re-subscription, heartbeats.
 */
import { expect } from 'chai';
import { WebSocket, WebSocketServer, type WebSocket as ServerSocket } from 'ws';
import type { StreamRequest } from '../core/model/stream.ts';
import { StreamClient, type StreamClientMessage, type StreamHandle } from './stream.ts';

/** A scripted server: records requests, answers subscribe with `subscribed`, execute with two events. */
class ScriptedServer {
  readonly wss: WebSocketServer;
  readonly requests: StreamRequest[] = [];
  readonly protocols: string[][] = [];
  readonly sockets: ServerSocket[] = [];
  silent = false;

  constructor() {
    this.wss = new WebSocketServer({
      port: 0,
      host: '127.0.0.1',
      handleProtocols: (p) => (p.has('stream.syncflow.io') ? 'stream.syncflow.io' : false),
    });
    this.wss.on('connection', (ws, req) => {
      this.sockets.push(ws);
      this.protocols.push((req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim()));
      ws.on('message', (data) => {
        const request = JSON.parse(String(data)) as StreamRequest;
        this.requests.push(request);
        if (this.silent) return;
        const send = (message: unknown) => ws.send(JSON.stringify(message));
        const execution = { namespace: 'shop', name: 'wf-1', uid: 'u', workflow: 'wf' };
        if (request.type === 'subscribe') send({ type: 'subscribed', id: request.id });
        if (request.type === 'unsubscribe') send({ type: 'unsubscribed', id: request.id });
        if (request.type === 'execute') {
          send({
            type: 'TaskStarted',
            id: request.id,
            seq: 1,
            time: 't',
            task: 'a',
            attempt: 1,
            request: 'GET /',
            execution,
          });
          send({
            type: 'ExecutionFinished',
            id: request.id,
            seq: 2,
            time: 't',
            execution,
            object: { status: { phase: 'Succeeded' } },
          });
        }
      });
    });
  }
  get url(): string {
    return `ws://127.0.0.1:${(this.wss.address() as { port: number }).port}/stream/v1`;
  }
  /** Sends `message` as is to the latest connection. */
  sendRaw(message: unknown): void {
    (this.sockets.at(-1) as ServerSocket).send(JSON.stringify(message));
  }
  /** Publishes an event to every subscription seen on the latest connection. */
  publish(task: string): void {
    const ws = this.sockets.at(-1) as ServerSocket;
    for (const request of this.requests)
      if (request.type === 'subscribe')
        ws.send(
          JSON.stringify({
            type: 'TaskStarted',
            id: request.id,
            seq: 1,
            time: 't',
            task,
            attempt: 1,
            request: 'GET /',
            execution: {},
          }),
        );
  }
  close(): Promise<void> {
    for (const ws of this.sockets) ws.terminate();
    return new Promise((resolve) => this.wss.close(() => resolve()));
  }
}

/** Collects `count` messages of a handle. */
async function take(handle: StreamHandle, count: number): Promise<StreamClientMessage[]> {
  const out: StreamClientMessage[] = [];
  for await (const message of handle) {
    out.push(message);
    if (out.length === count) break;
  }
  return out;
}

const until = async (check: () => boolean) => {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  expect(check()).to.equal(true);
};

describe('StreamClient', function () {
  this.timeout(10_000);
  let server: ScriptedServer;
  let client: StreamClient | undefined;
  const connect = (url: string, protocols: string[]) => new WebSocket(url, protocols);

  beforeEach(async () => {
    server = new ScriptedServer();
    await new Promise((resolve) => server.wss.once('listening', resolve));
  });
  afterEach(async () => {
    client?.close();
    await server.close();
  });

  it('execute yields the events in order and ends with ExecutionFinished', async () => {
    client = new StreamClient({ url: server.url, connect });
    const run = client.execute({ namespace: 'shop', workflow: 'wf', input: { a: 1 } });
    const messages: StreamClientMessage[] = [];
    for await (const message of run) messages.push(message);
    expect(messages.map((m) => m.type)).to.deep.equal(['TaskStarted', 'ExecutionFinished']);
    expect(server.requests[0]).to.deep.equal({
      type: 'execute',
      id: run.id,
      namespace: 'shop',
      workflow: 'wf',
      input: { a: 1 },
    });
  });

  it('sends the token in the bearer subprotocol beside the stream protocol', async () => {
    client = new StreamClient({ url: server.url.replace('ws:', 'http:'), connect, token: 'tok/en+?' });
    await take(client.subscribe({ namespace: 'shop' }), 1);
    const token = Buffer.from('tok/en+?').toString('base64url');
    expect(server.protocols[0]).to.deep.equal([
      `base64url.bearer.authorization.k8s.io.${token}`,
      'stream.syncflow.io',
    ]);
  });

  it('closing a subscription unsubscribes it', async () => {
    client = new StreamClient({ url: server.url, connect });
    const subscription = client.subscribe({ namespace: 'shop', workflow: 'wf' });
    await take(subscription, 1);
    subscription.close();
    await until(() => server.requests.some((r) => r.type === 'unsubscribe'));
    expect(server.requests.at(-1)).to.deep.equal({ type: 'unsubscribe', id: subscription.id });
  });

  it('subscribe sends batchMs, and yields the events of a `batch` one by one, in order', async () => {
    client = new StreamClient({ url: server.url, connect });
    const subscription = client.subscribe({ namespace: 'shop', batchMs: 100 });
    const iterator = subscription[Symbol.asyncIterator]();
    expect((await iterator.next()).value).to.deep.include({ type: 'subscribed' });
    expect(server.requests[0]).to.deep.equal({
      type: 'subscribe',
      id: subscription.id,
      namespace: 'shop',
      batchMs: 100,
    });
    const execution = { namespace: 'shop', name: 'wf-1', uid: 'u', workflow: 'wf' };
    const event = (seq: number, task: string) => ({
      type: 'TaskStarted',
      id: subscription.id,
      seq,
      time: 't',
      task,
      attempt: 1,
      request: 'GET /',
      execution,
    });
    server.sendRaw({
      type: 'batch',
      id: subscription.id,
      messages: [event(1, 'a'), event(2, 'b'), event(3, 'c')],
    });
    const tasks = [];
    for (let i = 0; i < 3; i++) tasks.push((await iterator.next()).value);
    expect(tasks.map((m) => (m as { task: string }).task)).to.deep.equal(['a', 'b', 'c']);
  });

  it('keeps a subscription open past the ExecutionFinished of the executions it follows (alone or in a batch)', async () => {
    client = new StreamClient({ url: server.url, connect });
    const subscription = client.subscribe({ namespace: 'shop' });
    const iterator = subscription[Symbol.asyncIterator]();
    expect((await iterator.next()).value).to.deep.include({ type: 'subscribed' });
    const execution = { namespace: 'shop', name: 'wf-1', uid: 'u', workflow: 'wf' };
    const finished = {
      type: 'ExecutionFinished',
      id: subscription.id,
      seq: 2,
      time: 't',
      execution,
      object: {},
    };
    server.sendRaw(finished);
    server.sendRaw({ type: 'batch', id: subscription.id, messages: [finished, finished] });
    server.publish('after');
    const types = [];
    for (let i = 0; i < 4; i++) types.push((await iterator.next()).value?.type);
    expect(types).to.deep.equal([
      'ExecutionFinished',
      'ExecutionFinished',
      'ExecutionFinished',
      'TaskStarted',
    ]);
  });

  it('reconnects after a drop, says `reconnected`, re-subscribes, and delivers events again', async () => {
    client = new StreamClient({ url: server.url, connect, backoff: { initialMs: 20, maxMs: 50 } });
    const subscription = client.subscribe({ namespace: 'shop' });
    const iterator = subscription[Symbol.asyncIterator]();
    expect((await iterator.next()).value).to.deep.include({ type: 'subscribed' });
    server.sockets[0]?.terminate();
    expect((await iterator.next()).value).to.deep.equal({ type: 'reconnected', id: subscription.id });
    expect((await iterator.next()).value).to.deep.include({ type: 'subscribed', id: subscription.id });
    expect(server.sockets).to.have.length(2);
    server.publish('after');
    expect((await iterator.next()).value).to.deep.include({ type: 'TaskStarted', task: 'after' });
  });

  it('keeps a subscription the server ends because it shuts down (503), and re-subscribes on the next connection', async () => {
    client = new StreamClient({ url: server.url, connect, backoff: { initialMs: 20, maxMs: 50 } });
    const subscription = client.subscribe({ namespace: 'shop' });
    const iterator = subscription[Symbol.asyncIterator]();
    expect((await iterator.next()).value).to.deep.include({ type: 'subscribed' });
    const first = server.sockets[0] as ServerSocket;
    first.send(
      JSON.stringify({
        type: 'error',
        id: subscription.id,
        status: { code: 503, message: 'the server is shutting down: reconnect' },
      }),
    );
    first.close(1001, 'the server is shutting down');
    expect((await iterator.next()).value).to.deep.equal({ type: 'reconnected', id: subscription.id });
    expect((await iterator.next()).value).to.deep.include({ type: 'subscribed', id: subscription.id });
  });

  it('ends an execution whose connection dropped with an error saying the server cancels it', async () => {
    client = new StreamClient({ url: server.url, connect, backoff: { initialMs: 20 } });
    server.silent = true;
    const run = client.execute({ namespace: 'shop', workflow: 'wf' });
    await until(() => server.requests.length === 1);
    server.sockets[0]?.terminate();
    const [message] = await take(run, 1);
    expect(message).to.deep.include({ type: 'error', id: run.id });
    expect(message?.type === 'error' && message.status.message).to.contain('cancels it and records it');
  });

  it('treats a silent server as dead and reconnects', async () => {
    client = new StreamClient({
      url: server.url,
      connect,
      heartbeatTimeoutMs: 100,
      backoff: { initialMs: 10 },
    });
    await take(client.subscribe({ namespace: 'shop' }), 1);
    await until(() => server.sockets.length >= 2);
  });

  it('sends continue, skip and abort with the request id', async () => {
    client = new StreamClient({ url: server.url, connect });
    client.continue('r');
    client.skip('r', { ok: true });
    client.abort('r');
    await until(() => server.requests.length === 3);
    expect(server.requests).to.deep.equal([
      { type: 'continue', id: 'r' },
      { type: 'skip', id: 'r', output: { ok: true } },
      { type: 'abort', id: 'r' },
    ]);
  });
});
