/**
 * The live-events bus (DESIGN §9): every execution's engine events, tagged with the execution they
 * belong to, delivered to whoever listens on this replica (Kubernetes watches, the stream's
 * `subscribe`) and, through a {@link LiveTransport}, to listeners on the other replicas. An
 * execution publishes only when someone listens to its namespace here or elsewhere; otherwise the
 * run path gives the engine no observer and nothing is built.
 */
import type { ExecutionObserver } from '../../core/engine/collaborators.ts';
import type { ExecutionEvent } from '../../core/model/events.ts';
import type { ExecutionCreateRequest, WorkflowExecution } from '../../core/model/execution.ts';
import { parseLabelSelector, matchesLabels, type LabelSelector } from '../../history/selector.ts';

/** The execution a message belongs to: enough for any replica to build its object. */
export interface LiveExecutionRef {
  /** Stable for the execution's life (its recorded object takes it too). */
  uid: string;
  /** The name as it stands; a generated name that turned out taken changes in `finished`. */
  name: string;
  request: ExecutionCreateRequest;
  user: string;
  revision: string;
}

/**
 * One message of the bus: an engine event (every kind except `ExecutionFinished`); `finished` with
 * the final, recorded object in place of the engine's `ExecutionFinished` (same `seq` and `time`);
 * or `gone`: the execution will never be recorded under the name its earlier messages carried.
 */
export type LiveMessage =
  | {
      kind: 'event';
      execution: LiveExecutionRef;
      event: Exclude<ExecutionEvent, { type: 'ExecutionFinished' }>;
    }
  | { kind: 'finished'; execution: LiveExecutionRef; seq: number; time: string; object: WorkflowExecution }
  | { kind: 'gone'; execution: LiveExecutionRef };

/** Which executions a listener wants; absent fields match everything. */
export interface BusFilter {
  namespace?: string;
  /** Name of the workflow (spec.workflowRef.name). */
  workflow?: string;
  /** A Kubernetes label selector over the execution's labels (parsed here: a 400 when invalid). */
  labelSelector?: string;
}

/**
 * How messages reach the other replicas. The transport learns which namespaces this replica listens
 * to, tells which ones some other replica listens to, sends (batched, bounded) and receives.
 */
export interface LiveTransport {
  /** Whether some other replica listens to executions of `namespace` now. */
  remoteListening(namespace: string): boolean;
  /** The namespaces this replica listens to now (`''`: every namespace); empty: none. */
  interest(namespaces: ReadonlySet<string>): void;
  /** Sends a message to the replicas that listen to its namespace; never blocks, never throws. */
  send(message: LiveMessage): void;
  /** Where messages from other replicas go; set once by the bus. */
  receive(handler: (message: LiveMessage) => void): void;
}

interface Listener {
  workflow: string | undefined;
  labels: LabelSelector | undefined;
  deliver(message: LiveMessage): void;
}

/** Fans live messages out to this replica's listeners and, through the transport, to the others'. */
export class LiveBus {
  /** Listeners by namespace; the key `''` holds listeners of every namespace. */
  private readonly listeners = new Map<string, Set<Listener>>();
  private readonly transport: LiveTransport | undefined;

  constructor(transport?: LiveTransport) {
    this.transport = transport;
    transport?.receive((message) => this.deliver(message));
  }

  /**
   * Calls `deliver` with every message of an execution `filter` selects, from any replica, in each
   * execution's order; `deliver` must only enqueue. Returns the unsubscribe. Throws a BadRequest
   * naming `labelSelector` when it does not parse.
   */
  subscribe(filter: BusFilter, deliver: (message: LiveMessage) => void): () => void {
    const listener: Listener = {
      workflow: filter.workflow,
      labels: filter.labelSelector ? parseLabelSelector(filter.labelSelector) : undefined,
      deliver,
    };
    const key = filter.namespace ?? '';
    let set = this.listeners.get(key);
    const added = !set;
    if (!set) this.listeners.set(key, (set = new Set()));
    set.add(listener);
    if (added) this.transport?.interest(new Set(this.listeners.keys()));
    let done = false;
    return () => {
      if (done) return;
      done = true;
      set.delete(listener);
      if (set.size === 0 && this.listeners.get(key) === set) {
        this.listeners.delete(key);
        this.transport?.interest(new Set(this.listeners.keys()));
      }
    };
  }

  /** Whether anyone, on this replica or another, listens to executions of `namespace`. */
  listening(namespace: string): boolean {
    if (this.listeners.has(namespace) || this.listeners.has('')) return true;
    return this.transport?.remoteListening(namespace) ?? false;
  }

  /** Delivers a message of an execution of this replica here and to the other replicas. */
  publish(message: LiveMessage): void {
    this.deliver(message);
    const transport = this.transport;
    if (transport?.remoteListening(message.execution.request.namespace)) transport.send(message);
  }

  private deliver(message: LiveMessage): void {
    const request = message.execution.request;
    for (const key of [request.namespace, '']) {
      const set = this.listeners.get(key);
      if (!set) continue;
      for (const listener of set) {
        if (listener.workflow !== undefined && listener.workflow !== request.workflowName) continue;
        if (listener.labels && !matchesLabels(listener.labels, request.labels)) continue;
        listener.deliver(message);
      }
    }
  }
}

/**
 * The engine's observer for one execution: publishes its events on the bus (when someone listens to
 * its namespace) and hands them to `tee` (the stream's `execute`, which follows its own execution).
 * The engine's `ExecutionFinished` is held back: the run path finishes with {@link finish} once the
 * recorded object (and its final name) is known.
 */
export class ExecutionPublisher implements ExecutionObserver {
  private readonly bus: LiveBus | undefined;
  private readonly tee: ((message: LiveMessage) => void) | undefined;
  private execution: LiveExecutionRef;
  private finishedAt: { seq: number; time: string } | undefined;
  private lastSeq = 0;
  private published = false;

  constructor(execution: LiveExecutionRef, bus?: LiveBus, tee?: (message: LiveMessage) => void) {
    this.execution = execution;
    this.bus = bus;
    this.tee = tee;
  }

  /** The execution's uid (its recorded object takes it too, so clients see one object). */
  get uid(): string {
    return this.execution.uid;
  }

  event(event: ExecutionEvent): void {
    this.lastSeq = event.seq;
    if (event.type === 'ExecutionFinished') {
      this.finishedAt = { seq: event.seq, time: event.time };
      return;
    }
    this.send({ kind: 'event', execution: this.execution, event });
  }

  /** The execution is recorded as `object` (its name may differ from the one published so far). */
  finish(object: WorkflowExecution): void {
    if (object.metadata.name !== this.execution.name) this.abandon();
    this.execution = { ...this.execution, name: object.metadata.name };
    // An engine that failed inside (InternalError) sent no ExecutionFinished: the next number.
    const at = this.finishedAt ?? {
      seq: this.lastSeq + 1,
      time: object.status.completionTime ?? new Date().toISOString(),
    };
    this.send({ kind: 'finished', execution: this.execution, ...at, object });
  }

  /** The execution will not be recorded under the name published so far (refused, or renamed). */
  abandon(): void {
    if (this.published) this.send({ kind: 'gone', execution: this.execution });
    this.published = false;
  }

  private send(message: LiveMessage): void {
    this.published = true;
    this.bus?.publish(message);
    this.tee?.(message);
  }
}
