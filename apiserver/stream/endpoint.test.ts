/**
 * The WebSocket endpoints over a real `ws` client and a real HTTP server's `upgrade` event: routes,
 * authentication (header and subprotocol), refusals as Status, close codes, heartbeats, and the
 * Kubernetes watch framed one event per message.
 */
import { expect } from 'chai';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { WebSocket } from 'ws';
import { SyncflowError } from '../../core/errors.ts';
import type { WorkflowExecution } from '../../core/model/execution.ts';
import { BEARER_PROTOCOL_PREFIX, STREAM_PROTOCOL, type StreamMessage } from '../../core/model/stream.ts';
import type { ExecutionWatch, WatchEvent } from '../../history/store.ts';
import type { UserInfo } from '../auth/user.ts';
import { LiveBus } from '../execution/bus.ts';
import { LiveExecutions } from '../execution/live.ts';
import type { RequestGuard, ResourceRequest } from '../http/guard.ts';
import { Registry } from 'prom-client';
import { StreamEndpoint } from './endpoint.ts';
import { createStreamMetrics } from './metrics.ts';

/** Bearer tokens are user names; `denied` lists `user verb resource[/subresource]`. */
class TokenGuard implements RequestGuard {
  readonly asked: string[] = [];
  readonly denied = new Set<string>();
  async authenticate(req: IncomingMessage): Promise<UserInfo> {
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (!token) throw new SyncflowError('Unauthorized', 'Unauthorized');
    return { username: token, groups: [], extra: {} };
  }
  async authorize(user: UserInfo, request: ResourceRequest): Promise<void> {
    const key = `${user.username} ${request.verb} ${request.resource}${request.subresource ? `/${request.subresource}` : ''}`;
    this.asked.push(`${key} ${request.namespace ?? ''}`);
    if (this.denied.has(key)) throw new SyncflowError('Forbidden', `${key} is forbidden`);
  }
  async authorizePath(): Promise<void> {}
}

/** A store whose one watch delivers what the test pushes. */
class PushedWatchStore {
  private events: WatchEvent[] = [];
  private wake: (() => void) | undefined;
  closed = false;
  /** Makes the next watch fail before it opens (`watch`) or once it has (`version`). */
  fail: 'watch' | 'version' | undefined;
  push(event: WatchEvent): void {
    this.events.push(event);
    this.wake?.();
  }
  async currentResourceVersion(): Promise<string> {
    if (this.fail === 'version') throw new Error('the database went away');
    return '10';
  }
  async watch(): Promise<ExecutionWatch> {
    if (this.fail === 'watch')
      throw new SyncflowError('Gone', 'too old resource version: 1 (10): list again, then watch');
    this.closed = false;
    const next = async (): Promise<IteratorResult<WatchEvent>> => {
      while (!this.closed) {
        const event = this.events.shift();
        if (event) return { value: event, done: false };
        await new Promise<void>((resolve) => (this.wake = resolve));
      }
      return { value: undefined, done: true };
    };
    return {
      close: () => {
        this.closed = true;
        this.wake?.();
      },
      [Symbol.asyncIterator]: () => ({ next }),
    };
  }
}

const execution = (name: string, phase: string, rv: string) =>
  ({
    apiVersion: 'execution.syncflow.io/v1alpha1',
    kind: 'WorkflowExecution',
    metadata: { name, namespace: 'shop', resourceVersion: rv, labels: {} },
    spec: { workflowRef: { name: 'wf' }, input: {} },
    status: { phase },
  }) as unknown as WorkflowExecution;

describe('StreamEndpoint (WebSocket endpoints on the HTTPS port)', function () {
  this.timeout(10_000);
  let server: Server;
  let endpoint: StreamEndpoint;
  let port: number;
  const guard = new TokenGuard();
  const store = new PushedWatchStore();
  const bus = new LiveBus();
  const registry = new Registry();
  let gate: Promise<void> = Promise.resolve();

  before(async () => {
    endpoint = new StreamEndpoint({
      service: {
        bus,
        live: new LiveExecutions(bus),
        run: async () => {
          await gate;
          return {};
        },
      },
      store,
      guard,
      heartbeatMs: 100,
      maxMessageBytes: 1024,
      metrics: createStreamMetrics(registry),
    });
    server = createServer((_req, res) => res.end());
    server.on('upgrade', endpoint.handleUpgrade);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  });
  after(async () => {
    endpoint.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  /** Opens a WebSocket; resolves when open, rejects with the refusal's status code and Status. */
  function open(
    path: string,
    options: { token?: string; protocols?: string[]; autoPong?: boolean; origin?: string } = {},
  ): Promise<WebSocket> {
    const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`, options.protocols ?? [], {
      headers: options.token ? { authorization: `Bearer ${options.token}` } : {},
      autoPong: options.autoPong ?? true,
      ...(options.origin ? { origin: options.origin } : {}),
    });
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(ws));
      ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c));
        res.on('end', () =>
          reject(
            Object.assign(new Error(`HTTP ${res.statusCode}`), {
              code: res.statusCode,
              body: JSON.parse(body),
            }),
          ),
        );
      });
      ws.once('error', reject);
    });
  }
  const closed = (ws: WebSocket) =>
    new Promise<{ code: number; reason: string }>((resolve) =>
      ws.once('close', (code, reason) => resolve({ code, reason: String(reason) })),
    );
  const nextMessage = (ws: WebSocket, type?: string) =>
    new Promise<StreamMessage>((resolve) => {
      const listener = (data: Buffer) => {
        const message = JSON.parse(String(data)) as StreamMessage;
        if (type && message.type !== type) return;
        ws.off('message', listener);
        resolve(message);
      };
      ws.on('message', listener);
    });
  const refusal = async (promise: Promise<unknown>) => {
    try {
      await promise;
    } catch (error) {
      return error as { code: number; body: { kind: string; code: number; message: string } };
    }
    throw new Error('the upgrade was accepted');
  };

  it('serves /stream/v1 to a bearer token in the Authorization header', async () => {
    const ws = await open('/stream/v1', { token: 'alice' });
    ws.send(JSON.stringify({ type: 'subscribe', id: 1, namespace: 'shop' }));
    expect(await nextMessage(ws)).to.deep.equal({ type: 'subscribed', id: 1 });
    expect(guard.asked).to.include('alice watch workflowexecutions shop');
    ws.close();
  });

  it('takes the token from the base64url.bearer.authorization.k8s.io subprotocol (browsers) and never echoes it', async () => {
    const token = Buffer.from('bob').toString('base64url');
    const ws = await open('/stream/v1', {
      protocols: [`${BEARER_PROTOCOL_PREFIX}${token}`, STREAM_PROTOCOL],
    });
    expect(ws.protocol).to.equal(STREAM_PROTOCOL);
    ws.send(JSON.stringify({ type: 'subscribe', id: 'x', namespace: 'shop' }));
    await nextMessage(ws);
    expect(guard.asked).to.include('bob watch workflowexecutions shop');
    ws.close();
  });

  it('refuses an upgrade without credentials with a 401 Status, and an unknown path with a 404 Status', async () => {
    const unauthorized = await refusal(open('/stream/v1'));
    expect(unauthorized.code).to.equal(401);
    expect(unauthorized.body).to.include({ kind: 'Status', code: 401 });
    const unknown = await refusal(open('/stream/v2', { token: 'alice' }));
    expect(unknown.code).to.equal(404);
    expect(unknown.body.message).to.contain('/stream/v1');
  });

  it('serves the stream at the aggregated subresource path, authorized as get workflowexecutions/stream', async () => {
    const path = '/apis/execution.syncflow.io/v1alpha1/namespaces/shop/workflowexecutions/-/stream';
    const ws = await open(path, { token: 'carol' });
    expect(guard.asked).to.include('carol get workflowexecutions/stream shop');
    ws.close();
    guard.denied.add('dave get workflowexecutions/stream');
    expect((await refusal(open(path, { token: 'dave' }))).code).to.equal(403);
  });

  it('closes with 1007 on text that is not JSON, 1003 on binary, 1009 on a message too big; a bad JSON message only gets an error', async () => {
    const cases: [string | Buffer, number][] = [
      ['not json', 1007],
      [Buffer.from([1, 2, 3]), 1003],
      [JSON.stringify({ type: 'execute', id: 1, input: 'x'.repeat(2000) }), 1009],
    ];
    for (const [data, code] of cases) {
      const ws = await open('/stream/v1', { token: 'alice' });
      const done = closed(ws);
      ws.send(data);
      expect((await done).code, String(data).slice(0, 20)).to.equal(code);
    }
    const ws = await open('/stream/v1', { token: 'alice' });
    ws.send(JSON.stringify({ type: 'nope', id: 1 }));
    const answer = await nextMessage(ws, 'error');
    expect(answer).to.deep.include({ type: 'error', id: 1 });
    expect(ws.readyState).to.equal(WebSocket.OPEN);
    ws.close();
  });

  it('sends heartbeat messages, and terminates a peer that answers no ping', async () => {
    const ws = await open('/stream/v1', { token: 'alice' });
    expect((await nextMessage(ws, 'heartbeat')).type).to.equal('heartbeat');
    ws.close();
    const deaf = await open('/stream/v1', { token: 'alice', autoPong: false });
    const end = await closed(deaf);
    expect(end.code).to.equal(1006);
  });

  it('serves a Kubernetes watch over a WebSocket: one event per text message, the offered protocol echoed', async () => {
    const path =
      '/apis/execution.syncflow.io/v1alpha1/namespaces/shop/workflowexecutions?watch=true&resourceVersion=10';
    const ws = await open(path, {
      token: 'erin',
      protocols: ['base64.binary.k8s.io'],
      origin: 'https://console',
    });
    expect(ws.protocol).to.equal('base64.binary.k8s.io');
    expect(guard.asked).to.include('erin watch workflowexecutions shop');
    const received: WatchEvent[] = [];
    ws.on('message', (data) => received.push(JSON.parse(String(data)) as WatchEvent));
    store.push({ type: 'ADDED', object: execution('a', 'Succeeded', '11') });
    store.push({ type: 'DELETED', object: execution('a', 'Succeeded', '12') });
    while (received.length < 2) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(
      received.map((e) => `${e.type} ${e.object.metadata.name} ${e.object.metadata.resourceVersion}`),
    ).to.deep.equal(['ADDED a 11', 'DELETED a 12']);
    const done = closed(ws);
    ws.close();
    await done;
    guard.denied.add('frank watch workflowexecutions');
    expect((await refusal(open(path, { token: 'frank', origin: 'https://console' }))).code).to.equal(403);
  });

  it('answers a watch that cannot open with its Status (410), and closes one that fails once open with 1011', async () => {
    const path =
      '/apis/execution.syncflow.io/v1alpha1/namespaces/shop/workflowexecutions?watch=true&resourceVersion=1';
    const options = { token: 'erin', origin: 'https://console' };
    store.fail = 'watch';
    const gone = await refusal(open(path, options));
    expect(gone.code).to.equal(410);
    expect(gone.body.message).to.contain('too old resource version');
    store.fail = 'version';
    const ws = await open(path.replace('resourceVersion=1', 'resourceVersion=0'), options);
    expect((await closed(ws)).code).to.equal(1011);
    store.fail = undefined;
  });

  it('refuses what kube-apiserver refuses in its WebSocket watches: two subprotocols (400), a token without another subprotocol (401); serves one without Origin', async () => {
    const path = '/apis/execution.syncflow.io/v1alpha1/workflowexecutions?watch=1';
    const origin = 'https://console';
    // kube-apiserver also refuses a watch without Origin (403); this server serves it (see endpoint.ts).
    const noOrigin = await open(path, { token: 'erin' });
    noOrigin.close();
    expect((await refusal(open(path, { token: 'erin', origin, protocols: ['a', 'b'] }))).code).to.equal(400);
    const token = `${BEARER_PROTOCOL_PREFIX}${Buffer.from('erin').toString('base64url')}`;
    const lone = await refusal(open('/stream/v1', { protocols: [token] }));
    expect(lone.code).to.equal(401);
    expect(lone.body.message).to.contain(STREAM_PROTOCOL);
    const ws = await open(path, { origin, protocols: [token, 'base64.binary.k8s.io'] });
    expect(ws.protocol).to.equal('base64.binary.k8s.io');
    ws.close();
  });

  it('counts open connections and requests by type in its metrics', async () => {
    const ws = await open('/stream/v1', { token: 'alice' });
    ws.send(JSON.stringify({ type: 'subscribe', id: 'm', namespace: 'shop' }));
    ws.send(JSON.stringify({ type: 'bogus', id: 'm2' }));
    await nextMessage(ws, 'error');
    const text = await registry.metrics();
    expect(text).to.match(/syncflow_stream_connections\{kind="stream"\} [1-9]/);
    expect(text).to.match(/syncflow_stream_messages_received_total\{type="subscribe"\} [1-9]/);
    expect(text).to.match(/syncflow_stream_messages_received_total\{type="invalid"\} [1-9]/);
    ws.close();
  });

  it('shuts down with 1001: at once when idle, after its executions when some run', async () => {
    const idle = await open('/stream/v1', { token: 'alice' });
    const busy = await open('/stream/v1', { token: 'alice' });
    let release = () => {};
    gate = new Promise<void>((resolve) => (release = resolve));
    busy.send(JSON.stringify({ type: 'execute', id: 'e', namespace: 'shop', workflow: 'wf' }));
    await new Promise((resolve) => setTimeout(resolve, 50));
    const idleClosed = closed(idle);
    const busyClosed = closed(busy);
    let busyDone = false;
    void busyClosed.then(() => (busyDone = true));
    endpoint.close();
    expect((await idleClosed).code).to.equal(1001);
    expect(busyDone).to.equal(false);
    release();
    expect((await busyClosed).code).to.equal(1001);
    expect((await refusal(open('/stream/v1', { token: 'alice' }))).code).to.equal(503);
  });
});
