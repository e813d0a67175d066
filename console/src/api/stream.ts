/**
 * The console's way to the live-events stream (docs/stream.md): runs a workflow and follows it
 * event by event, follows a namespace, and steers debug runs, over one WebSocket to the aggregated
 * path `…/namespaces/{ns}/workflowexecutions/-/stream` under the console's API base — so the
 * identity is the page's own, as for every other call (the cookie of `syncflow console`, or the
 * signed-in bearer token, offered as a subprotocol because a browser cannot set headers on a
 * WebSocket). Built on the repository's stream client (client/stream.ts: heartbeats, reconnects).
 *
 * `liveExecution` folds the events into what a graph shows: each task's phase and a short note.
 */
import { foldMapProgress, recordedTaskOverlay } from '../components/task-progress.ts';
import type { MapProgress } from '../graph/WorkflowGraph.tsx';
import {
  StreamClient,
  type StreamClientMessage,
  type StreamHandle,
  type StreamSocket,
  type StreamSocketFactory,
} from '../../../client/stream.ts';
import type { DebugOptions, StreamId, StreamStatus } from '../../../core/model/stream.ts';
import type { ConsoleConfig } from './client.ts';
import type { Execution } from './types.ts';

/** A message of the stream as the page receives it. */
export type StreamMessage = StreamClientMessage;

/** Where the page is (`location`): the stream is on the same host. */
export interface PageLocation {
  protocol: string;
  host: string;
}

/** The stream's URL for a namespace: the page's host, ws or wss, under the console's API base. */
export function streamUrl(config: ConsoleConfig, page: PageLocation, namespace: string): string {
  const scheme = page.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${page.host}${config.apiBase}/apis/execution.syncflow.io/v1alpha1/namespaces/${namespace}/workflowexecutions/-/stream`;
}

/** A request the stream refused, or a run it could not finish: the Status it answered. */
export class StreamRefused extends Error {
  readonly code: number;
  constructor(readonly status: StreamStatus) {
    super(status.message);
    this.name = 'StreamRefused';
    this.code = status.code;
  }
}

/** What to run (in the stream's namespace). */
export interface ExecuteRequest {
  workflow: string;
  /** A recorded WorkflowRevision of `workflow` to run instead of its current definition. */
  workflowRevision?: string;
  input?: unknown;
  labels?: Record<string, string>;
  /** A debug run: pauses before the breakpoint tasks (`["*"]`: every task). */
  debug?: DebugOptions;
}

/** A run in progress. */
export interface LiveRun {
  readonly id: StreamId;
  /** The recorded execution; rejects with {@link StreamRefused} (or an Error when closed first). */
  readonly done: Promise<Execution>;
  /** Debug runs: the paused task goes on. */
  continue(): void;
  /** Debug runs: the paused task is not called; `output` stands for its answer. */
  skip(output: unknown): void;
  /** Cancels the run (it is recorded as cancelled). */
  abort(): void;
}

/** A subscription to the executions of the namespace. */
export interface LiveSubscription {
  readonly id: StreamId;
  close(): void;
}

/** What a {@link ConsoleStream} is built from. */
export interface ConsoleStreamOptions {
  config: ConsoleConfig;
  namespace: string;
  /** The page's location (default: `location`). */
  page?: PageLocation;
  /** The signed-in bearer token (the /console/ path); none with `syncflow console`. */
  token?: string;
  /** Opens the WebSocket (default: the browser's). */
  connect?: StreamSocketFactory;
}

/** A socket that reports its first open (the stream client sets the handlers; this wraps them). */
class OpenedSocket implements StreamSocket {
  constructor(
    private readonly inner: StreamSocket,
    private readonly onOpened: () => void,
  ) {}
  get readyState(): number {
    return this.inner.readyState;
  }
  send(data: string): void {
    this.inner.send(data);
  }
  close(code?: number, reason?: string): void {
    this.inner.close(code, reason);
  }
  get onopen(): StreamSocket['onopen'] {
    return this.inner.onopen;
  }
  set onopen(handler: StreamSocket['onopen']) {
    this.inner.onopen = handler
      ? (event: unknown) => {
          this.onOpened();
          handler(event);
        }
      : null;
  }
  get onmessage(): StreamSocket['onmessage'] {
    return this.inner.onmessage;
  }
  set onmessage(handler: StreamSocket['onmessage']) {
    this.inner.onmessage = handler;
  }
  get onclose(): StreamSocket['onclose'] {
    return this.inner.onclose;
  }
  set onclose(handler: StreamSocket['onclose']) {
    this.inner.onclose = handler;
  }
  get onerror(): StreamSocket['onerror'] {
    return this.inner.onerror;
  }
  set onerror(handler: StreamSocket['onerror']) {
    this.inner.onerror = handler;
  }
}

/** One connection to the stream for one namespace. */
export class ConsoleStream {
  private readonly client: StreamClient;
  private readonly namespace: string;

  /** Whether a WebSocket of this stream ever opened (a refused upgrade never does). */
  private opened = false;

  constructor(options: ConsoleStreamOptions) {
    this.namespace = options.namespace;
    const connect: StreamSocketFactory =
      options.connect ?? ((url, protocols) => new WebSocket(url, protocols));
    this.client = new StreamClient({
      url: streamUrl(options.config, options.page ?? location, options.namespace),
      connect: (url, protocols) => new OpenedSocket(connect(url, protocols), () => (this.opened = true)),
      ...(options.token ? { token: options.token } : {}),
    });
  }

  /** Runs a workflow; `onMessage` gets each of its messages as it arrives. */
  execute(request: ExecuteRequest, onMessage: (message: StreamMessage) => void): LiveRun {
    const handle = this.client.execute({ namespace: this.namespace, ...request });
    const done = (async () => {
      for await (const message of handle) {
        onMessage(message);
        if (message.type === 'ExecutionFinished') return message.object as unknown as Execution;
        if (message.type === 'error' && message.status.code === 503 && !this.opened)
          throw new StreamRefused({
            ...message.status,
            message: `the live-events stream could not be opened (kube-apiserver refused it, or could not be reached): running from the console needs permission to get workflowexecutions/stream and to create workflowexecutions in namespace ${this.namespace}`,
          });
        if (message.type === 'error') throw new StreamRefused(message.status);
        if (message.type === 'unsubscribed') break;
      }
      throw new Error('the stream was closed before the execution finished');
    })();
    // A page that never awaits `done` must not see an unhandled rejection.
    done.catch(() => undefined);
    const client = this.client;
    return {
      id: handle.id,
      done,
      continue: () => client.continue(handle.id),
      skip: (output) => client.skip(handle.id, output),
      abort: () => client.abort(handle.id),
    };
  }

  /** Follows executions that start from now on (of one workflow, or matching a label selector). */
  subscribe(
    request: { workflow?: string; labelSelector?: string; batchMs?: number },
    onMessage: (message: StreamMessage) => void,
  ): LiveSubscription {
    const handle: StreamHandle = this.client.subscribe({ namespace: this.namespace, ...request });
    void (async () => {
      for await (const message of handle) onMessage(message);
    })();
    return { id: handle.id, close: () => handle.close() };
  }

  /** Closes the connection: runs still going end (the server cancels and records them). */
  close(): void {
    this.client.close();
  }
}

/** One task as the graph shows it live. */
export interface LiveTask {
  phase: string;
  note?: string;
  /** A map step: its elements' progress. */
  map?: MapProgress;
  /** `cached`, `hedged`, once recorded. */
  badges?: string[];
}

/** An execution as its events have told it so far. */
export interface LiveExecution {
  phase: string;
  /** The execution's name (the recorded one once finished). */
  name?: string;
  tasks: Record<string, LiveTask>;
  /** Highest event number applied per task (events never go back). */
  seq: Record<string, number>;
  /** The recorded object, once finished. */
  object?: Execution;
}

function ms(value: number | undefined): string {
  return value === undefined
    ? ''
    : value < 1000
      ? `${Math.round(value)} ms`
      : `${(value / 1000).toFixed(2)} s`;
}

/** Applies one message to what the graph shows; messages that are not events change nothing. */
export function liveExecution(state: LiveExecution, message: StreamMessage): LiveExecution {
  if (!('execution' in message) || !('seq' in message)) return state;
  const name = message.execution.name;
  if (message.type === 'ExecutionFinished') return recorded(state, message.object as unknown as Execution);
  if (!('task' in message)) return { ...state, name };
  const task = message.task;
  if ((state.seq[task] ?? 0) > message.seq) return state;
  let live: LiveTask;
  switch (message.type) {
    case 'TaskStarted':
      live = { phase: 'Running', note: `attempt ${message.attempt} · ${message.request}` };
      break;
    case 'TaskRetrying':
      live = {
        phase: 'Retrying',
        note: `attempt ${message.attempt} failed (${message.reason}), retry in ${ms(message.delayMs)}`,
      };
      break;
    case 'TaskFinished': {
      const parts =
        message.phase === 'Succeeded'
          ? [ms(message.durationMs), (message.attempts ?? 1) > 1 ? `${message.attempts} attempts` : '']
          : [message.httpStatus ? `HTTP ${message.httpStatus}` : '', message.error?.reason ?? ''];
      const note = parts.filter(Boolean).join(' · ');
      live = { phase: message.phase, ...(note ? { note } : {}) };
      break;
    }
    case 'TaskSkipped':
      live = { phase: 'Skipped', note: message.reason };
      break;
  }
  if (message.type !== 'TaskSkipped') {
    // A map element's event: the step runs on; its progress counts the element.
    const before = state.tasks[task];
    const map = foldMapProgress(before?.map, message);
    if (map) live.map = map;
    if (message.item !== undefined) {
      live.phase = 'Running';
      if (message.type === 'TaskFinished') live.note = before?.note;
      else if (live.note) live.note = `element ${message.item}: ${live.note}`;
      if (live.note === undefined) delete live.note;
    }
  }
  return {
    ...state,
    name,
    tasks: { ...state.tasks, [task]: live },
    seq: { ...state.seq, [task]: message.seq },
  };
}

/** The state with a recorded execution's outcome: its phase and each recorded task's phase and duration. */
function recorded(state: LiveExecution, object: Execution): LiveExecution {
  const tasks = { ...state.tasks };
  for (const t of object.status?.tasks ?? [])
    tasks[t.id] = {
      phase: t.phase,
      ...(t.durationMs !== undefined ? { note: ms(t.durationMs) } : {}),
      ...recordedTaskOverlay(t),
    };
  return { ...state, name: object.metadata.name, phase: object.status?.phase ?? 'Failed', tasks, object };
}

/** The state before any event: every task Pending, the execution Running. */
liveExecution.start = (taskIds: readonly string[]): LiveExecution => ({
  phase: 'Running',
  tasks: Object.fromEntries(taskIds.map((id) => [id, { phase: 'Pending' }])),
  seq: {},
});
