/**
 * The WebSocket endpoints of the server's HTTPS port (docs/stream.md), served from the `upgrade`
 * event of the HTTPS server:
 *
 * - `/stream/v1`: the live-events stream, for callers that reach the server directly (bearer token
 *   in `Authorization` or, from browsers, in the `base64url.bearer.authorization.k8s.io.<token>`
 *   subprotocol); requests are authorized one by one.
 * - `/apis/execution.syncflow.io/v1alpha1/namespaces/{ns}/workflowexecutions/{name}/stream`: the
 *   same stream through kube-apiserver's aggregator, which proxies upgrades and authorizes the path
 *   as `get` on the subresource `workflowexecutions/stream` (the server asks the same again, as
 *   for every request); `{name}` is not used (clients send `-`).
 * - `.../workflowexecutions?watch=true` with `Upgrade: websocket`: the Kubernetes watch, one event
 *   per text message, as kube-apiserver serves its own watches to browsers (the aggregator proxies
 *   the upgrade to the extension server rather than serving it).
 *
 * Authentication is the API's own (front-proxy headers from the aggregator, client certificates,
 * bearer tokens); dead peers are found with pings and terminated.
 */
import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { SyncflowError } from '../../core/errors.ts';
import { BEARER_PROTOCOL_PREFIX, STREAM_CLOSE, STREAM_PROTOCOL } from '../../core/model/stream.ts';
import { statusFromError } from '../api/status.ts';
import type { UserInfo } from '../auth/user.ts';
import { API_PREFIX, type RequestGuard, type ResourceRequest } from '../http/guard.ts';
import type { ExecutionService } from '../execution/service.ts';
import type { ExecutionStore } from '../../history/store.ts';
import { serveExecutionWatch, type WatchOutput } from '../registry/workflowexecutions/rest.ts';
import type { StreamMetrics } from './metrics.ts';
import {
  DEFAULT_STREAM_LIMITS,
  StreamSession,
  type ExecutionLimiter,
  type StreamExecutions,
  type StreamLimits,
} from './session.ts';

/** What the endpoints are built from. */
export interface StreamEndpointOptions {
  /** The run path and the live bus (and, for WebSocket watches, the watch hub). */
  service: StreamExecutions & Pick<ExecutionService, 'live'>;
  store: Pick<ExecutionStore, 'watch' | 'currentResourceVersion'>;
  guard: RequestGuard;
  limits?: Partial<StreamLimits>;
  /** The server's load shedding for executions. */
  limiter?: ExecutionLimiter;
  /** Interval of pings and `heartbeat` messages; a peer that answered no ping in one is terminated. */
  heartbeatMs?: number;
  /** Largest client message; a larger one closes the connection with 1009. */
  maxMessageBytes?: number;
  /** A WebSocket watch whose unsent events exceed this is closed with 4001 (it would grow without bound). */
  maxWatchBufferedBytes?: number;
  bookmarkIntervalMs?: number;
  metrics?: StreamMetrics;
}

/** Largest client message: the largest request body the API accepts. */
const MAX_MESSAGE_BYTES = 3 * 1024 * 1024;

const STREAM_PATH =
  /^\/apis\/execution\.syncflow\.io\/v1alpha1\/namespaces\/([^/]+)\/workflowexecutions\/([^/]+)\/stream$/;
const WATCH_PATH =
  /^\/apis\/execution\.syncflow\.io\/v1alpha1(?:\/namespaces\/([^/]+))?\/workflowexecutions$/;

/** What an upgrade asks for. */
type Route =
  | { kind: 'stream'; authorize?: ResourceRequest }
  | { kind: 'watch'; namespace: string | undefined; query: Record<string, string> };

/** Serves the WebSocket endpoints; `handleUpgrade` is the HTTPS server's `upgrade` listener. */
export class StreamEndpoint {
  private readonly wss: WebSocketServer;
  private readonly limits: StreamLimits;
  private readonly heartbeatMs: number;
  private readonly sockets = new Set<WebSocket>();
  private readonly sessions = new Map<WebSocket, StreamSession>();
  private closing = false;

  constructor(private readonly options: StreamEndpointOptions) {
    this.limits = { ...DEFAULT_STREAM_LIMITS, ...options.limits };
    this.heartbeatMs = options.heartbeatMs ?? 30_000;
    this.wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      maxPayload: options.maxMessageBytes ?? MAX_MESSAGE_BYTES,
      perMessageDeflate: false,
      handleProtocols: (offered, req) => chooseProtocol(offered, req),
    });
  }

  /** Open WebSocket connections. */
  get connections(): number {
    return this.sockets.size;
  }

  /** The HTTPS server's `upgrade` listener. */
  readonly handleUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on('error', () => socket.destroy());
    this.upgrade(req, socket, head).catch((error: unknown) => refuse(socket, error));
  };

  /**
   * Shuts down: watches and idle streams are closed with 1001 (going away: clients reconnect, to
   * another replica); a stream whose executions still run refuses new requests, ends its
   * subscriptions and closes once they have finished (the server's grace period bounds that).
   */
  close(): void {
    this.closing = true;
    for (const ws of this.sockets) {
      const goAway = () => ws.close(STREAM_CLOSE.goingAway, 'the server is shutting down');
      const session = this.sessions.get(ws);
      if (session) session.shutdown(goAway);
      else goAway();
    }
  }

  private async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    if (this.closing) throw new SyncflowError('ServiceUnavailable', 'the server is shutting down');
    const route = routeOf(req);
    if ((req.headers.upgrade ?? '').toLowerCase() !== 'websocket')
      throw new SyncflowError(
        'BadRequest',
        `Upgrade: ${String(req.headers.upgrade)} is not supported: use websocket`,
      );
    checkProtocols(req, route);
    const user = await this.options.guard.authenticate(withBearerProtocol(req));
    if (route.kind === 'stream') {
      if (route.authorize) await this.options.guard.authorize(user, route.authorize);
      this.wss.handleUpgrade(req, socket, head, (ws) => this.serveStream(ws, user));
      return;
    }
    await this.options.guard.authorize(user, {
      verb: 'watch',
      resource: 'workflowexecutions',
      ...(route.namespace ? { namespace: route.namespace } : {}),
    });
    await this.serveWatch(req, socket, head, route);
  }

  private serveStream(ws: WebSocket, user: UserInfo): void {
    const metrics = this.options.metrics;
    const session = new StreamSession(ws, user, {
      executions: this.options.service,
      guard: this.options.guard,
      limits: this.limits,
      ...(this.options.limiter ? { limiter: this.options.limiter } : {}),
      ...(metrics ? { counters: metrics } : {}),
    });
    this.track(ws, 'stream', () => session.notify({ type: 'heartbeat', time: new Date().toISOString() }));
    ws.on('message', (data, isBinary) => {
      if (isBinary) {
        ws.close(STREAM_CLOSE.unsupportedData, 'binary messages are not supported: send JSON text');
        return;
      }
      let understood: boolean;
      try {
        understood = session.receive(String(data));
      } catch {
        // A defect, not the client's fault: this connection ends, the server goes on.
        ws.close(STREAM_CLOSE.internalError, 'the server failed to handle a message');
        return;
      }
      if (!understood)
        ws.close(STREAM_CLOSE.invalidPayload, 'a message was not JSON: send one JSON object per message');
    });
    this.sessions.set(ws, session);
    ws.on('close', () => {
      this.sessions.delete(ws);
      session.end();
    });
  }

  /** A Kubernetes watch over a WebSocket: the upgrade happens once the watch is open. */
  private async serveWatch(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    route: Extract<Route, { kind: 'watch' }>,
  ): Promise<void> {
    let ws: WebSocket | undefined;
    const maxBuffered = this.options.maxWatchBufferedBytes ?? 16 * 1024 * 1024;
    const output: WatchOutput = {
      start: () => {
        this.wss.handleUpgrade(req, socket, head, (opened) => {
          ws = opened;
          // The client sends nothing; a message is ignored, as kube-apiserver ignores it.
          this.track(opened, 'watch');
        });
      },
      write: (line) => {
        if (!ws || ws.readyState !== ws.OPEN) return;
        if (ws.bufferedAmount > maxBuffered) {
          ws.close(
            STREAM_CLOSE.slowReader,
            'the client reads the watch too slowly: watch again from the last resourceVersion',
          );
          return;
        }
        ws.send(line);
      },
      end: () => ws?.close(STREAM_CLOSE.normal),
      onClose: (stop) => {
        if (!ws || ws.readyState === ws.CLOSED) stop();
        else ws.once('close', stop);
      },
    };
    try {
      await serveExecutionWatch(
        {
          service: this.options.service,
          store: this.options.store,
          ...(this.options.bookmarkIntervalMs ? { bookmarkIntervalMs: this.options.bookmarkIntervalMs } : {}),
        },
        {
          query: route.query,
          params: route.namespace ? { namespace: route.namespace } : {},
          headers: req.headers,
        },
        output,
      );
    } catch (error) {
      // Once upgraded, the socket speaks WebSocket: the error can only end the watch.
      if (ws) ws.close(STREAM_CLOSE.internalError, 'the watch failed: watch again');
      else throw error;
    }
  }

  /** Counts the connection, pings it, and terminates it when a ping goes unanswered. */
  private track(ws: WebSocket, kind: 'stream' | 'watch', beat?: () => void): void {
    this.sockets.add(ws);
    this.options.metrics?.opened(kind);
    let alive = true;
    ws.on('pong', () => (alive = true));
    ws.on('error', () => ws.terminate());
    const timer = setInterval(() => {
      if (!alive) {
        ws.terminate();
        return;
      }
      alive = false;
      ws.ping();
      beat?.();
    }, this.heartbeatMs);
    timer.unref();
    ws.once('close', () => {
      clearInterval(timer);
      this.sockets.delete(ws);
      this.options.metrics?.closed(kind);
    });
  }
}

function routeOf(req: IncomingMessage): Route {
  const url = new URL(req.url ?? '/', 'https://localhost');
  if (req.method !== 'GET')
    throw new SyncflowError('MethodNotAllowed', `${req.method} cannot open a WebSocket: use GET`);
  if (url.pathname === '/stream/v1') return { kind: 'stream' };
  const stream = STREAM_PATH.exec(url.pathname);
  if (stream)
    return {
      kind: 'stream',
      authorize: {
        verb: 'get',
        resource: 'workflowexecutions',
        subresource: 'stream',
        namespace: decode(stream[1] as string),
        name: decode(stream[2] as string),
      },
    };
  const watch = WATCH_PATH.exec(url.pathname);
  const query = Object.fromEntries(url.searchParams);
  if (watch && (query.watch === 'true' || query.watch === '1'))
    return { kind: 'watch', namespace: watch[1] === undefined ? undefined : decode(watch[1]), query };
  throw new SyncflowError(
    'NotFound',
    `no WebSocket is served at ${url.pathname}: use /stream/v1, ${API_PREFIX}/namespaces/{namespace}/workflowexecutions/-/stream, or a workflowexecutions watch`,
  );
}

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new SyncflowError('BadRequest', 'the path is not valid percent-encoding');
  }
}

/** The offered subprotocols without the bearer token one (never echoed). */
function offeredProtocols(req: IncomingMessage): string[] {
  return (req.headers['sec-websocket-protocol'] ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '' && !p.startsWith(BEARER_PROTOCOL_PREFIX));
}

/**
 * What kube-apiserver refuses in its own WebSocket watches, refused the same way: a token in the
 * subprotocol with no other subprotocol to answer with (401: a browser would fail the handshake),
 * and for watches more than one other subprotocol (400). Unlike kube-apiserver, a watch without an
 * Origin header is served: Origin proves nothing, and proxies such as `syncflow console` drop it.
 */
function checkProtocols(req: IncomingMessage, route: Route): void {
  const offered = offeredProtocols(req);
  const carriesToken = (req.headers['sec-websocket-protocol'] ?? '').includes(BEARER_PROTOCOL_PREFIX);
  if (carriesToken && offered.length === 0)
    throw new SyncflowError(
      'Unauthorized',
      `a bearer token in the subprotocol needs another subprotocol beside it: offer ${STREAM_PROTOCOL} (or, for a watch, e.g. base64.binary.k8s.io)`,
    );
  if (route.kind !== 'watch') return;
  if (offered.length > 1)
    throw new SyncflowError(
      'BadRequest',
      `a watch answers with the one subprotocol offered; offered: ${offered.join(', ')}`,
    );
}

/**
 * The stream answers with its own subprotocol when offered; a watch echoes what the client offered
 * (kube-apiserver's watches echo the one protocol a client offers, and frame events the same way).
 */
function chooseProtocol(_offered: Set<string>, req: IncomingMessage): string | false {
  const offered = offeredProtocols(req);
  if (new URL(req.url ?? '/', 'https://localhost').searchParams.has('watch')) return offered[0] ?? false;
  return offered.includes(STREAM_PROTOCOL) ? STREAM_PROTOCOL : false;
}

/**
 * The request as the authenticator should see it: a bearer token carried in the subprotocol (what
 * browsers can send) becomes the `Authorization` header when the request has none.
 */
function withBearerProtocol(req: IncomingMessage): IncomingMessage {
  if (req.headers.authorization) return req;
  const protocols = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
  const carried = protocols.find((p) => p.startsWith(BEARER_PROTOCOL_PREFIX));
  if (carried === undefined) return req;
  const token = Buffer.from(carried.slice(BEARER_PROTOCOL_PREFIX.length), 'base64url').toString('utf8');
  const view = Object.create(req) as IncomingMessage;
  Object.defineProperty(view, 'headers', { value: { ...req.headers, authorization: `Bearer ${token}` } });
  return view;
}

/** Answers an upgrade that is refused with the Status an HTTP request would get, then closes. */
function refuse(socket: Duplex, error: unknown): void {
  if (socket.destroyed) return;
  const status = statusFromError(error);
  const body = JSON.stringify(status);
  socket.end(
    `HTTP/1.1 ${status.code} ${STATUS_CODES[status.code] ?? 'Error'}\r\n` +
      'Content-Type: application/json\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      'Connection: close\r\n\r\n' +
      body,
  );
}
