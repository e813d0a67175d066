/**
 * In-flight executions in Kubernetes watches (DESIGN §9.1, docs/history.md "Watch"): while some watch
 * of a namespace is open on this replica, {@link LiveExecutions} listens to the live bus for that
 * namespace, turns each execution's messages (from this replica or any other) into WorkflowExecution
 * objects (phase Running, status.tasks growing) and fans them out to the open watches whose
 * selectors match. {@link mergeLiveWatch} interleaves them with the stored-history watch, which
 * stays the source of the final state.
 */
import type { TaskExecutionStatus } from '../../core/model/schema.ts';
import { executionObject, wholeSeconds, type WorkflowExecution } from '../../core/model/execution.ts';
import { executionSelector, matchesExecution, type ExecutionSelector } from '../../history/selector.ts';
import type { ExecutionWatch, WatchEvent } from '../../history/store.ts';
import type { LiveBus, LiveExecutionRef, LiveMessage } from './bus.ts';

/**
 * What the hub tells a watch: the execution's object as it stands (`progress`), that it finished
 * with this final object (`finished`), or that it will never be recorded under this name (`gone`).
 */
export interface LiveChange {
  kind: 'progress' | 'finished' | 'gone';
  object: WorkflowExecution;
}

/** Which executions a watch concerns (the selectors of the watch request). */
export interface LiveFilter {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
}

interface Subscriber {
  filter: ExecutionSelector;
  push(change: LiveChange): void;
}

/** Fans live execution objects out to the watches of this replica. */
export class LiveExecutions {
  /** Watches by namespace; the key `''` holds watches of every namespace. */
  private readonly subscribers = new Map<string, Set<Subscriber>>();
  /** The bus subscription of each key of {@link subscribers}. */
  private readonly listening = new Map<string, () => void>();
  /** Executions being shown, by uid. */
  private readonly trackers = new Map<string, ExecutionTracker>();
  private readonly bus: LiveBus;
  private count = 0;

  constructor(bus: LiveBus) {
    this.bus = bus;
  }

  /** Open watches. */
  get watching(): number {
    return this.count;
  }

  /**
   * Calls `push` with every live change of an execution that `filter` lets through (`progress`
   * only when the object matches; `finished` and `gone` for every execution of the namespace, so
   * that a watch can tell an object it showed that stopped matching). Returns the unsubscribe.
   */
  subscribe(filter: LiveFilter, push: (change: LiveChange) => void): () => void {
    const subscriber: Subscriber = { filter: executionSelector(filter), push };
    const key = filter.namespace ?? '';
    let set = this.subscribers.get(key);
    if (!set) {
      this.subscribers.set(key, (set = new Set()));
      this.listening.set(
        key,
        this.bus.subscribe(key ? { namespace: key } : {}, (message) => this.receive(key, message)),
      );
    }
    set.add(subscriber);
    this.count++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      set.delete(subscriber);
      this.count--;
      if (set.size === 0 && this.subscribers.get(key) === set) {
        this.subscribers.delete(key);
        this.listening.get(key)?.();
        this.listening.delete(key);
        if (this.subscribers.size === 0) this.trackers.clear();
      }
    };
  }

  /** A bus message for the watches under `key`; the all-namespaces key takes over when it exists. */
  private receive(key: string, message: LiveMessage): void {
    if (key !== '' && this.subscribers.has('')) return;
    const uid = message.execution.uid;
    let tracker = this.trackers.get(uid);
    if (!tracker) {
      if (message.kind !== 'event') return;
      this.trackers.set(uid, (tracker = new ExecutionTracker(this, message.execution)));
    }
    if (tracker.apply(message)) this.trackers.delete(uid);
  }

  /** Delivers a change to the watches of its namespace. */
  publish(change: LiveChange): void {
    const namespace = change.object.metadata.namespace;
    for (const key of [namespace, '']) {
      const set = this.subscribers.get(key);
      if (!set) continue;
      for (const subscriber of set) {
        if (change.kind !== 'progress' || matchesExecution(subscriber.filter, change.object))
          subscriber.push(change);
      }
    }
  }
}

/**
 * Builds one execution's object from its live messages and publishes it. Each published object is
 * new (earlier ones may still wait in a watch's buffer); the messages' values are shared, never
 * mutated.
 */
class ExecutionTracker {
  private readonly hub: LiveExecutions;
  private readonly execution: LiveExecutionRef;
  private readonly taskRefs = new Map<string, string>();
  private tasks: TaskExecutionStatus[] = [];
  private startTime: string | undefined;
  private last: WorkflowExecution | undefined;

  constructor(hub: LiveExecutions, execution: LiveExecutionRef) {
    this.hub = hub;
    this.execution = execution;
  }

  /** Applies a message; true when the execution is over for the watches. */
  apply(message: LiveMessage): boolean {
    if (message.kind === 'gone') {
      this.abandon();
      return true;
    }
    if (message.kind === 'finished') {
      if (message.object.metadata.name !== this.execution.name) this.abandon();
      this.hub.publish({ kind: 'finished', object: message.object });
      return true;
    }
    const event = message.event;
    switch (event.type) {
      case 'ExecutionStarted':
        this.startTime = event.time;
        for (const task of event.graph.tasks) this.taskRefs.set(task.id, task.taskRef);
        this.publish();
        return false;
      case 'TaskStarted':
        this.setTask({ id: event.task, phase: 'Running', startTime: event.time, attempts: event.attempt });
        return false;
      case 'TaskFinished': {
        // A map element's end: the step runs on until its own TaskFinished (no `item`).
        if (event.item !== undefined) return false;
        const started = this.tasks.find((t) => t.id === event.task);
        this.setTask({
          id: event.task,
          phase: event.phase,
          ...(started?.startTime ? { startTime: started.startTime } : {}),
          completionTime: event.time,
          ...(event.durationMs !== undefined ? { durationMs: event.durationMs } : {}),
          ...(event.attempts !== undefined ? { attempts: event.attempts } : {}),
          ...(event.httpStatus !== undefined ? { httpStatus: event.httpStatus } : {}),
          ...(event.output !== undefined ? { output: event.output } : {}),
          ...(event.error ? { error: event.error } : {}),
          ...(event.substituted ? { substituted: true } : {}),
        });
        return false;
      }
      case 'TaskSkipped':
        this.setTask({ id: event.task, phase: 'Skipped' });
        return false;
      default:
        // TaskRetrying and Signal change nothing a watch shows.
        return false;
    }
  }

  /** Watches that showed the execution under its earlier name get DELETED. */
  private abandon(): void {
    if (this.last) this.hub.publish({ kind: 'gone', object: this.last });
    this.last = undefined;
  }

  private setTask(task: TaskExecutionStatus): void {
    const taskRef = this.taskRefs.get(task.id);
    const entry = taskRef ? { ...task, taskRef } : task;
    const index = this.tasks.findIndex((t) => t.id === task.id);
    this.tasks = index < 0 ? [...this.tasks, entry] : this.tasks.map((t, i) => (i === index ? entry : t));
    this.publish();
  }

  private publish(): void {
    const execution = this.execution;
    const start = this.startTime ?? new Date().toISOString();
    const object = executionObject(
      execution.request,
      execution.name,
      {
        phase: 'Running',
        startTime: start,
        workflowRevision: execution.revision,
        user: execution.user,
        tasks: this.tasks,
      },
      wholeSeconds(start),
    );
    object.metadata.uid = execution.uid;
    this.last = object;
    this.hub.publish({ kind: 'progress', object });
  }
}

/** Options of {@link mergeLiveWatch}. */
export interface MergeOptions {
  live: LiveExecutions;
  filter: LiveFilter;
  /** Live changes buffered for a reader that does not keep up; beyond it they are dropped (default 1000). */
  maxBufferedLive?: number;
}

/** A merged watch event; `live` events carry no resourceVersion (the caller stamps one). */
export interface MergedEvent {
  event: WatchEvent;
  live: boolean;
}

/** A watch of stored changes with this replica's in-flight executions interleaved. */
export interface MergedWatch extends AsyncIterable<MergedEvent> {
  close(): void;
}

/**
 * Interleaves the live changes of in-flight executions with a stored-history watch. The first
 * live object of an execution is ADDED, later ones MODIFIED; the stored record of an execution the
 * watch showed live becomes MODIFIED (it is the final state of the same object). Live changes are
 * best effort: beyond the buffer bound they are dropped (the stored final state never is: the
 * stored watch has its own bound and ends with Gone).
 */
export function mergeLiveWatch(stored: ExecutionWatch, options: MergeOptions): MergedWatch {
  const maxLive = options.maxBufferedLive ?? 1000;
  const filter = executionSelector(options.filter);
  const queue: ({ kind: 'stored'; event: WatchEvent } | LiveChange)[] = [];
  let liveQueued = 0;
  /** Executions shown live and not yet finished in this watch. */
  const shown = new Set<string>();
  let wake: (() => void) | undefined;
  let failure: unknown;
  let ended = false;
  let closed = false;
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const unsubscribe = options.live.subscribe(options.filter, (change) => {
    if (closed || liveQueued >= maxLive) return;
    liveQueued++;
    queue.push(change);
    notify();
  });
  const storedIterator = stored[Symbol.asyncIterator]();
  void (async () => {
    try {
      for (;;) {
        const next = await storedIterator.next();
        if (next.done) break;
        queue.push({ kind: 'stored', event: next.value });
        notify();
      }
    } catch (error) {
      failure = error;
    }
    ended = true;
    notify();
  })();

  const keyOf = (object: WorkflowExecution) => `${object.metadata.namespace}/${object.metadata.name}`;
  /** The event to deliver for a queued item, or undefined when it shows nothing new. */
  const toEvent = (item: (typeof queue)[number]): MergedEvent | undefined => {
    if (item.kind === 'stored') {
      const key = keyOf(item.event.object);
      if (shown.delete(key) && item.event.type === 'ADDED')
        return { event: { type: 'MODIFIED', object: item.event.object }, live: false };
      return { event: item.event, live: false };
    }
    liveQueued--;
    const key = keyOf(item.object);
    if (item.kind === 'progress') {
      const type = shown.has(key) ? 'MODIFIED' : 'ADDED';
      shown.add(key);
      return { event: { type, object: item.object }, live: true };
    }
    // finished: the stored record follows when it matches; one that stopped matching leaves now.
    if (item.kind === 'finished' && matchesExecution(filter, item.object)) return undefined;
    if (!shown.delete(key)) return undefined;
    return { event: { type: 'DELETED', object: item.object }, live: true };
  };

  const close = () => {
    if (closed) return;
    closed = true;
    unsubscribe();
    stored.close();
    queue.length = 0;
    notify();
  };
  const iterator: AsyncIterator<MergedEvent> = {
    next: async () => {
      for (;;) {
        if (closed) return { value: undefined, done: true };
        const item = queue.shift();
        if (item) {
          const event = toEvent(item);
          if (event) return { value: event, done: false };
          continue;
        }
        if (failure !== undefined) throw failure;
        if (ended) return { value: undefined, done: true };
        await new Promise<void>((resolve) => (wake = resolve));
      }
    },
    return: () => {
      close();
      return Promise.resolve({ value: undefined, done: true });
    },
  };
  return { [Symbol.asyncIterator]: () => iterator, close };
}
