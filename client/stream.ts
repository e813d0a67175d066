/**
 * A client of the live-events stream (docs/stream.md) for browsers and Node: it takes the WebSocket
 * constructor as a parameter (the browser's `WebSocket`, or `ws` with TLS options in Node), runs
 * workflows (`execute`) and follows namespaces (`subscribe`) as async iterables of messages, watches
 * the server's heartbeats, and reconnects with backoff when the connection drops.
 *
 * After a reconnect every open subscription is sent again and its iterator yields
 * `{type: 'reconnected', id}` first: events of the gap are lost (the stream does not replay; list
 * the executions, or use a Kubernetes watch with a resourceVersion, to fill it); a subscription the
 * server ends because it shuts down (503) goes on the same way. An execution whose
 * connection drops is cancelled by the server and recorded; its iterator ends with an `error`
 * message saying so.
 */
import {
  BEARER_PROTOCOL_PREFIX,
  STREAM_CLOSE,
  STREAM_PROTOCOL,
  type DebugOptions,
  type StreamId,
  type StreamMessage,
  type StreamRequest,
  type StreamStatus,
} from '../core/model/stream.ts';

/**
 * An event handler property; declared as a method's type so that the browser's and `ws`'s handlers
 * (which take their own event classes) fit it.
 */
type Handler<E> = { handle(event: E): void }['handle'] | null;

/** The part of a WebSocket (the browser's, or `ws`) the client uses. */
export interface StreamSocket {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: Handler<unknown>;
  onmessage: Handler<{ data: unknown }>;
  onclose: Handler<{ code: number; reason: string }>;
  onerror: Handler<unknown>;
}

/** Opens a WebSocket: `(url, protocols) => new WebSocket(url, protocols)`, with TLS options in Node. */
export type StreamSocketFactory = (url: string, protocols: string[]) => StreamSocket;

/** What a {@link StreamClient} is built from. */
export interface StreamClientOptions {
  /**
   * `wss://server/stream/v1`, or through kube-apiserver
   * `https://apiserver/apis/execution.syncflow.io/v1alpha1/namespaces/{ns}/workflowexecutions/-/stream`
   * (an `https:` URL is turned into `wss:`).
   */
  url: string;
  connect: StreamSocketFactory;
  /** A bearer token, sent in the subprotocol (the only way a browser can send one). */
  token?: string;
  /** Silence after which the connection counts as dead (the server sends a heartbeat every 30 s). */
  heartbeatTimeoutMs?: number;
  /** Reconnect delays: doubling from `initialMs` up to `maxMs`, with jitter. */
  backoff?: { initialMs?: number; maxMs?: number };
  /** Source of jitter (tests). */
  random?: () => number;
}

/** What a client yields: the server's messages, and its own notice after a reconnect. */
export type StreamClientMessage = StreamMessage | { type: 'reconnected'; id: StreamId };

/** An execution or a subscription: its messages, in order, until it ends. */
export interface StreamHandle extends AsyncIterable<StreamClientMessage> {
  readonly id: StreamId;
  /** Ends the iteration (and, for a subscription, unsubscribes). */
  close(): void;
}

/** What to run. */
export interface StreamExecuteRequest {
  namespace: string;
  workflow: string;
  /** A recorded WorkflowRevision of `workflow` to run instead of its current definition. */
  workflowRevision?: string;
  input?: unknown;
  labels?: Record<string, string>;
  debug?: DebugOptions;
}

/** What to follow. */
export interface StreamSubscribeRequest {
  namespace: string;
  workflow?: string;
  labelSelector?: string;
  /**
   * Let the server coalesce events that come faster than one per `batchMs` (10–1000) into `batch`
   * messages; the handle yields their events one by one all the same.
   */
  batchMs?: number;
}

const OPEN = 1;

/** One request's messages, buffered until read. */
class Handle implements StreamHandle {
  private readonly queue: StreamClientMessage[] = [];
  private wake: (() => void) | undefined;
  ended = false;

  constructor(
    readonly id: StreamId,
    readonly request: StreamRequest,
    private readonly onClose: (handle: Handle) => void,
  ) {}

  push(message: StreamClientMessage, last = false): void {
    if (this.ended) return;
    this.queue.push(message);
    if (last) this.ended = true;
    this.wake?.();
  }

  close(): void {
    if (this.ended) return;
    this.ended = true;
    this.onClose(this);
    this.wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<StreamClientMessage> {
    for (;;) {
      const message = this.queue.shift();
      if (message) {
        yield message;
        continue;
      }
      if (this.ended) return;
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
  }
}

/** A connection to the stream that outlives dropped WebSockets. */
export class StreamClient {
  private socket: StreamSocket | undefined;
  private readonly handles = new Map<StreamId, Handle>();
  private readonly pending: string[] = [];
  private nextId = 1;
  private attempt = 0;
  private closed = false;
  private everOpened = false;
  private silence: ReturnType<typeof setTimeout> | undefined;
  private retry: ReturnType<typeof setTimeout> | undefined;
  private readonly url: string;

  constructor(private readonly options: StreamClientOptions) {
    this.url = options.url.replace(/^http(s?):/, 'ws$1:');
    this.open();
  }

  /** Runs a workflow; the iteration ends with `ExecutionFinished` (the recorded object) or `error`. */
  execute(request: StreamExecuteRequest): StreamHandle {
    return this.start({ type: 'execute', id: this.newId(), ...request });
  }

  /** Follows executions of a namespace; re-subscribed after a reconnect. */
  subscribe(request: StreamSubscribeRequest): StreamHandle {
    return this.start({ type: 'subscribe', id: this.newId(), ...request });
  }

  /** Ends a subscription. */
  unsubscribe(id: StreamId): void {
    this.handles.get(id)?.close();
  }

  /** Debug runs: lets a paused execution go on. */
  continue(id: StreamId): void {
    this.send({ type: 'continue', id });
  }

  /** Debug runs: uses `output` instead of calling the paused task. */
  skip(id: StreamId, output: unknown): void {
    this.send({ type: 'skip', id, output });
  }

  /** Cancels an execution (it is recorded as cancelled). */
  abort(id: StreamId): void {
    this.send({ type: 'abort', id });
  }

  /** Closes the connection for good; every iteration ends. */
  close(): void {
    this.closed = true;
    clearTimeout(this.silence);
    clearTimeout(this.retry);
    this.socket?.close(STREAM_CLOSE.normal);
    for (const handle of this.handles.values()) handle.push({ type: 'unsubscribed', id: handle.id }, true);
    this.handles.clear();
  }

  private newId(): string {
    return `c${this.nextId++}`;
  }

  private start(request: StreamRequest): StreamHandle {
    const handle = new Handle(request.id, request, (h) => this.release(h));
    this.handles.set(request.id, handle);
    this.send(request);
    return handle;
  }

  /** A handle closed by its reader. */
  private release(handle: Handle): void {
    this.handles.delete(handle.id);
    if (handle.request.type === 'subscribe') this.send({ type: 'unsubscribe', id: handle.id });
  }

  private send(request: StreamRequest): void {
    const text = JSON.stringify(request);
    if (this.socket?.readyState === OPEN) this.socket.send(text);
    else this.pending.push(text);
  }

  private open(): void {
    const protocols = [STREAM_PROTOCOL];
    if (this.options.token) protocols.unshift(`${BEARER_PROTOCOL_PREFIX}${base64url(this.options.token)}`);
    const socket = this.options.connect(this.url, protocols);
    this.socket = socket;
    socket.onopen = () => {
      const reconnected = this.everOpened;
      this.everOpened = true;
      this.attempt = 0;
      this.alive();
      if (reconnected) this.resubscribe();
      for (const text of this.pending.splice(0)) socket.send(text);
    };
    socket.onmessage = (event) => {
      this.alive();
      this.receive(event.data);
    };
    socket.onerror = () => {};
    socket.onclose = () => {
      if (this.socket !== socket) return;
      this.socket = undefined;
      clearTimeout(this.silence);
      this.lost();
      if (this.closed) return;
      const { initialMs = 500, maxMs = 30_000 } = this.options.backoff ?? {};
      const delay =
        Math.min(maxMs, initialMs * 2 ** this.attempt++) * (0.5 + (this.options.random ?? Math.random)() / 2);
      this.retry = setTimeout(() => this.open(), delay);
    };
  }

  /** Resets the silence timer: the server sends a heartbeat at least every 30 s. */
  private alive(): void {
    clearTimeout(this.silence);
    const socket = this.socket;
    this.silence = setTimeout(
      () => socket?.close(STREAM_CLOSE.heartbeatTimeout, 'no heartbeat from the server'),
      this.options.heartbeatTimeoutMs ?? 75_000,
    );
  }

  private receive(data: unknown): void {
    let message: StreamMessage;
    try {
      message = JSON.parse(String(data)) as StreamMessage;
    } catch {
      return;
    }
    if (!('id' in message) || message.id === null) return;
    const handle = this.handles.get(message.id);
    if (!handle) return;
    // A server shutting down ends subscriptions with a 503 and closes: they go on after the reconnect.
    if (message.type === 'error' && message.status.code === 503 && handle.request.type === 'subscribe')
      return;
    if (message.type === 'batch') {
      for (const inner of message.messages) this.deliver(handle, inner);
      return;
    }
    this.deliver(handle, message);
  }

  private deliver(handle: Handle, message: StreamMessage): void {
    // A subscription follows many executions: the end of one is not its end.
    const last =
      (message.type === 'ExecutionFinished' && handle.request.type === 'execute') ||
      message.type === 'error' ||
      message.type === 'unsubscribed';
    handle.push(message, last);
    if (last) this.handles.delete(handle.id);
  }

  /** The connection dropped: executions end (the server cancels them); subscriptions wait to be resent. */
  private lost(): void {
    this.pending.length = 0;
    for (const handle of [...this.handles.values()]) {
      if (handle.request.type === 'subscribe') continue;
      this.handles.delete(handle.id);
      handle.push({ type: 'error', id: handle.id, status: connectionLost() }, true);
    }
  }

  private resubscribe(): void {
    for (const handle of this.handles.values()) {
      if (handle.request.type !== 'subscribe') continue;
      handle.push({ type: 'reconnected', id: handle.id });
      this.pending.push(JSON.stringify(handle.request));
    }
  }
}

function connectionLost(): StreamStatus {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    status: 'Failure',
    message:
      'the connection to the stream was lost while the execution ran: the server cancels it and records it; look it up in the execution history',
    reason: 'ServiceUnavailable',
    code: 503,
  };
}

/** base64url without padding, as the bearer subprotocol carries a token (browser and Node). */
function base64url(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}
