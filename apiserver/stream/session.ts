/**
 * One stream connection's requests (docs/stream.md): `execute` runs a workflow through the run path
 * and streams its events, `subscribe` streams the executions of a namespace from the live bus,
 * `unsubscribe` ends a subscription, `abort` cancels an execution. Each request is authorized in
 * its namespace as it arrives (the connection's identity may do some things and not others), and
 * every refusal is an `error` answer carrying a Kubernetes Status: the connection stays open.
 */
import { SyncflowError } from '../../core/errors.ts';
import type { ExecutionCreateRequest } from '../../core/model/execution.ts';
import {
  STREAM_CLOSE,
  type StreamExecution,
  type StreamId,
  type StreamMessage,
  type StreamRequest,
} from '../../core/model/stream.ts';
import { statusFromError } from '../api/status.ts';
import type { UserInfo } from '../auth/user.ts';
import type { LiveBus, LiveMessage } from '../execution/bus.ts';
import type { DebugRuns, DebugSession } from '../execution/debug.ts';
import type { RunContext } from '../execution/service.ts';
import type { RequestGuard } from '../http/guard.ts';
import { EventBatcher } from './batcher.ts';
import { Outbox, type OutboxLimits, type OutboxSocket } from './outbox.ts';
import { parseStreamRequest } from './requests.ts';

/** Limits of one stream connection. */
export interface StreamLimits extends OutboxLimits {
  /** Subscriptions open at once. */
  maxSubscriptions: number;
  /** Executions running at once. */
  maxExecutions: number;
}

/** The defaults (docs/stream.md "Limits"). */
export const DEFAULT_STREAM_LIMITS: StreamLimits = {
  maxSubscriptions: 32,
  maxExecutions: 16,
  maxBufferedBytes: 512 * 1024,
  maxQueuedBytes: 512 * 1024,
  maxEssentialBytes: 4 * 1024 * 1024,
};

/** The run path, the bus and the debug runs, as the stream uses them. */
export interface StreamExecutions {
  run(request: ExecutionCreateRequest, context: RunContext): Promise<unknown>;
  readonly bus: Pick<LiveBus, 'subscribe'>;
  /** Debug runs' own limit; without it `execute {debug}` is refused (503). */
  readonly debugRuns?: Pick<DebugRuns, 'open'>;
}

/** Counters the session reports to (metrics). */
export interface StreamCounters {
  received(type: string): void;
  overflow(dropped: number): void;
}

/** The server's load shedding for executions (apiserver/http/overload.ts `WorkLimiter`). */
export interface ExecutionLimiter {
  tryAcquire(): boolean;
  release(): void;
  refusal(what: string): string;
}

/** What a session is built from. */
export interface StreamSessionOptions {
  executions: StreamExecutions;
  guard: Pick<RequestGuard, 'authorize'>;
  limits: StreamLimits;
  /** Refuses executions (429) while the server is overloaded, as the run path's HTTP routes do. */
  limiter?: ExecutionLimiter;
  counters?: StreamCounters;
}

/** The connection a session answers on. */
export interface SessionSocket extends OutboxSocket {
  close(code: number, reason: string): void;
}

const RESOURCE = 'workflowexecutions';

type Active =
  | { kind: 'execution'; cancel: AbortController; debug: DebugSession | undefined }
  | { kind: 'subscription'; unsubscribe: (() => void) | undefined; batcher?: EventBatcher };

/** The requests of one connection. */
export class StreamSession {
  private readonly outbox: Outbox;
  private readonly active = new Map<StreamId, Active>();
  private executions = 0;
  private subscriptions = 0;
  private ended = false;
  /** Set by {@link shutdown}: no new requests. */
  private closing = false;
  /** Set by {@link shutdown}: called once no execution runs any more. */
  private onIdle: (() => void) | undefined;

  constructor(
    private readonly socket: SessionSocket,
    private readonly user: UserInfo,
    private readonly options: StreamSessionOptions,
  ) {
    this.outbox = new Outbox(
      socket,
      options.limits,
      () => socket.close(STREAM_CLOSE.slowReader, 'the client does not read its answers'),
      (dropped) => options.counters?.overflow(dropped),
    );
  }

  /** Requests in progress (executions running, subscriptions open or being authorized). */
  get size(): number {
    return this.active.size;
  }

  /** Handles one text message; false when it is not JSON at all (the caller closes with 1007). */
  receive(text: string): boolean {
    const parsed = parseStreamRequest(text);
    if (parsed.kind === 'notJson') return false;
    if (parsed.kind === 'invalid') {
      this.options.counters?.received('invalid');
      this.fail(parsed.id, parsed.error);
      return true;
    }
    this.options.counters?.received(parsed.request.type);
    this.handle(parsed.request).catch((error: unknown) => this.fail(parsed.request.id, error));
    return true;
  }

  /** Sends a message of no request (a heartbeat); dropped when the reader is behind. */
  notify(message: StreamMessage): void {
    this.outbox.push(undefined, JSON.stringify(message));
  }

  /**
   * The server is shutting down: subscriptions end with a 503 (the client reconnects, to another
   * replica), new requests get a 503, running executions go on; `onIdle` is called once none runs
   * (at once when none does), and the caller closes the connection.
   */
  shutdown(onIdle: () => void): void {
    this.closing = true;
    this.onIdle = onIdle;
    const leaving = new SyncflowError('ServiceUnavailable', 'the server is shutting down: reconnect');
    for (const [id, active] of [...this.active]) {
      if (active.kind !== 'subscription') continue;
      this.release(id);
      this.fail(id, leaving);
    }
    this.idleCheck();
  }

  private idleCheck(): void {
    if (this.onIdle && this.executions === 0) {
      const onIdle = this.onIdle;
      this.onIdle = undefined;
      onIdle();
    }
  }

  /** The connection is gone: subscriptions end, running executions are cancelled (and recorded). */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.outbox.close();
    for (const active of this.active.values()) {
      if (active.kind === 'execution') active.cancel.abort();
      else {
        active.unsubscribe?.();
        active.batcher?.close();
      }
    }
    this.active.clear();
  }

  private async handle(request: StreamRequest): Promise<void> {
    if (this.closing && (request.type === 'execute' || request.type === 'subscribe'))
      throw new SyncflowError('ServiceUnavailable', 'the server is shutting down: reconnect');
    switch (request.type) {
      case 'execute':
        return this.execute(request);
      case 'subscribe':
        return this.subscribe(request);
      case 'unsubscribe':
        return this.unsubscribe(request.id);
      case 'abort':
        return this.abort(request.id);
      case 'continue':
        return this.debugSession(request.id).continue();
      case 'skip': {
        const errors = this.debugSession(request.id).skip(request.output);
        if (errors.length)
          throw new SyncflowError(
            'FieldInvalid',
            `output does not match the outputSchema of the paused task: ${errors.map((e) => `${e.field}: ${e.message}`).join('; ')}; the task stays paused`,
            { causes: errors },
          );
        return;
      }
    }
  }

  private async execute(request: Extract<StreamRequest, { type: 'execute' }>): Promise<void> {
    const { id, namespace } = request;
    this.claim(id, 'execution');
    if (this.executions >= this.options.limits.maxExecutions)
      throw new SyncflowError(
        'TooManyRequests',
        `this connection runs ${this.executions} executions, its limit: wait for one to finish or open another connection`,
      );
    const debugRuns = this.options.executions.debugRuns;
    if (request.debug && !debugRuns)
      throw new SyncflowError('ServiceUnavailable', 'debug runs are not available on this server');
    const limiter = this.options.limiter;
    if (limiter && !limiter.tryAcquire())
      throw new SyncflowError('TooManyRequests', limiter.refusal('stream executions'));
    const cancel = new AbortController();
    const entry: Active = { kind: 'execution', cancel, debug: undefined };
    this.active.set(id, entry);
    this.executions++;
    try {
      await this.options.guard.authorize(this.user, { verb: 'create', resource: RESOURCE, namespace });
      if (cancel.signal.aborted) return;
      // Opened once authorized (it holds a place of the debug runs' limit); the run path closes it.
      if (request.debug && debugRuns) {
        const breakpoints = request.debug.breakpoints;
        entry.debug = debugRuns.open({ breakpoints: breakpoints.includes('*') ? '*' : breakpoints });
        entry.debug.onPause = (paused) =>
          this.answer({ type: 'paused', id, task: paused.task, request: paused.request });
      }
      await this.options.executions.run(
        {
          namespace,
          name: undefined,
          generateName: `${request.workflow}-`,
          labels: { ...request.labels },
          annotations: {},
          workflowName: request.workflow,
          input: request.input ?? {},
          ...(request.workflowRevision !== undefined ? { workflowRevision: request.workflowRevision } : {}),
        },
        {
          user: this.user.username,
          signal: cancel.signal,
          follow: (message) => this.forward(id, message, { essential: message.kind === 'finished' }),
          ...(entry.debug ? { debug: entry.debug } : {}),
        },
      );
    } finally {
      limiter?.release();
      this.executions--;
      if (this.active.get(id)?.kind === 'execution') this.active.delete(id);
      this.idleCheck();
    }
  }

  private async subscribe(request: Extract<StreamRequest, { type: 'subscribe' }>): Promise<void> {
    const { id, namespace } = request;
    this.claim(id, 'subscription');
    if (this.subscriptions >= this.options.limits.maxSubscriptions)
      throw new SyncflowError(
        'TooManyRequests',
        `this connection has ${this.subscriptions} subscriptions, its limit: unsubscribe from one first`,
      );
    const entry: Active = { kind: 'subscription', unsubscribe: undefined };
    this.active.set(id, entry);
    this.subscriptions++;
    try {
      await this.options.guard.authorize(this.user, { verb: 'watch', resource: RESOURCE, namespace });
      // Unsubscribed (or the connection closed) while being authorized.
      if (this.active.get(id) !== entry) return;
      const batcher =
        request.batchMs === undefined
          ? undefined
          : new EventBatcher(id, {
              intervalMs: request.batchMs,
              send: (text, count) => this.outbox.push(id, text, { count }),
            });
      if (batcher) entry.batcher = batcher;
      entry.unsubscribe = this.options.executions.bus.subscribe(
        {
          namespace,
          ...(request.workflow !== undefined ? { workflow: request.workflow } : {}),
          ...(request.labelSelector ? { labelSelector: request.labelSelector } : {}),
        },
        (message) => this.forward(id, message, {}, batcher),
      );
    } catch (error) {
      if (this.active.get(id) === entry) this.release(id);
      throw error;
    }
    this.answer({ type: 'subscribed', id });
  }

  private unsubscribe(id: StreamId): void {
    const active = this.active.get(id);
    if (active?.kind !== 'subscription')
      throw new SyncflowError(
        active ? 'BadRequest' : 'NotFound',
        active
          ? `request ${JSON.stringify(id)} is an execution, not a subscription: use abort to cancel it`
          : `no subscription with id ${JSON.stringify(id)} on this connection`,
      );
    this.release(id);
    this.answer({ type: 'unsubscribed', id });
  }

  private abort(id: StreamId): void {
    const active = this.execution(id);
    // A paused debug run ends Failed with reason DebugAborted; any other execution is cancelled.
    // Either way its ExecutionFinished follows.
    if (active.debug?.paused) active.debug.abort();
    else active.cancel.abort();
  }

  private execution(id: StreamId): Extract<Active, { kind: 'execution' }> {
    const active = this.active.get(id);
    if (active?.kind !== 'execution')
      throw new SyncflowError(
        'NotFound',
        `no execution with id ${JSON.stringify(id)} runs on this connection`,
      );
    return active;
  }

  /** The debug session of execution `id`: 404 without such an execution, 409 when it is no debug run. */
  private debugSession(id: StreamId): DebugSession {
    const debug = this.execution(id).debug;
    if (!debug)
      throw new SyncflowError(
        'Conflict',
        `execution ${JSON.stringify(id)} is not a debug run: execute with debug {breakpoints} to step through it`,
      );
    return debug;
  }

  /** Refuses an id that a request in progress has. */
  private claim(id: StreamId, what: string): void {
    if (this.active.has(id))
      throw new SyncflowError(
        'Conflict',
        `id ${JSON.stringify(id)} is in use by a request in progress on this connection: give each ${what} its own id`,
      );
  }

  private release(id: StreamId): void {
    const active = this.active.get(id);
    if (active?.kind !== 'subscription') return;
    active.unsubscribe?.();
    // What waits for a batch goes before the answer that ends the subscription.
    active.batcher?.flush();
    active.batcher?.close();
    this.active.delete(id);
    this.subscriptions--;
  }

  /** Called on the execution's path (the bus, the run's `follow`): only enqueues, never throws. */
  private forward(
    id: StreamId,
    message: LiveMessage,
    options: { essential?: boolean } = {},
    batcher?: EventBatcher,
  ): void {
    let text: string;
    try {
      text = JSON.stringify(wireMessage(id, message));
    } catch {
      return;
    }
    if (batcher) batcher.push(text);
    else this.outbox.push(id, text, options);
  }

  private answer(message: StreamMessage & { id: StreamId | null }): void {
    this.outbox.push(message.id ?? undefined, JSON.stringify(message), { essential: true });
  }

  private fail(id: StreamId | null, error: unknown): void {
    if (this.ended) return;
    this.answer({
      type: 'error',
      id,
      status: statusFromError(error) as Extract<StreamMessage, { type: 'error' }>['status'],
    });
  }
}

/** A bus message as the stream sends it, tagged with the request it answers. */
function wireMessage(id: StreamId, message: LiveMessage): StreamMessage {
  const ref = message.execution;
  const execution: StreamExecution = {
    namespace: ref.request.namespace,
    name: ref.name,
    uid: ref.uid,
    workflow: ref.request.workflowName,
  };
  switch (message.kind) {
    case 'event':
      return { ...message.event, id, execution };
    case 'finished':
      return {
        type: 'ExecutionFinished',
        id,
        seq: message.seq,
        time: message.time,
        execution,
        object: message.object,
      };
    case 'gone':
      return { type: 'ExecutionGone', id, execution };
  }
}
