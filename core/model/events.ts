/**
 * Live execution events (DESIGN §9): what the engine reports while an execution runs, in the order
 * it happens. One model for every way of receiving them (watch, the WebSocket stream, the console).
 * Pure types: the browser imports them too.
 */
import type { TaskPhase, WorkflowExecutionStatus } from './schema.ts';

/** Fields every event carries. */
interface EventBase {
  /** 1, 2, 3 … per execution, in emission order. */
  seq: number;
  /** ISO timestamp from the executor's clock. */
  time: string;
}

/** An output too large to travel in an event: only its size (bytes of its JSON text). */
interface TruncatedOutput {
  truncated: true;
  bytes: number;
}

/** The execution began; the graph lets a viewer draw it before any task runs. */
interface ExecutionStarted extends EventBase {
  type: 'ExecutionStarted';
  namespace: string;
  workflow: string;
  revision: string;
  graph: { tasks: { id: string; taskRef: string }[]; edges: { from: string; to: string }[] };
}

/** An attempt of a task is about to be sent: `request` is `METHOD URL`, secrets redacted. */
interface TaskStarted extends EventBase {
  type: 'TaskStarted';
  task: string;
  attempt: number;
  request: string;
  /** A map step's element: its index (only the first 100 elements report their starts, as the trace). */
  item?: number;
  /** A map step's element: how many elements the step runs. */
  itemCount?: number;
}

/** An attempt failed and another follows after `delayMs`. */
interface TaskRetrying extends EventBase {
  type: 'TaskRetrying';
  task: string;
  /** The attempt that failed. */
  attempt: number;
  /** Why it failed: `reason: message`, secrets redacted. */
  reason: string;
  delayMs: number;
  /** A map step's element: its index. */
  item?: number;
}

/** A task reached Succeeded, Failed or Cancelled (skipped tasks report `TaskSkipped`). */
interface TaskFinished extends EventBase {
  type: 'TaskFinished';
  task: string;
  phase: Exclude<TaskPhase, 'Pending' | 'Running' | 'Skipped'>;
  httpStatus?: number;
  durationMs?: number;
  attempts?: number;
  /** The output, or `{truncated: true, bytes}` when its JSON exceeds the event bound. */
  output?: unknown;
  error?: { reason: string; message: string };
  /** The output was given by a debugger (skip in a debug run); nothing was sent. */
  substituted?: boolean;
  /**
   * A map step's element finished: its index. Bounded like the trace: the first 100
   * elements and the first 100 failed ones report;
   * the step's own `TaskFinished` (no `item`) comes last.
   */
  item?: number;
  /** The map step's own end: how many elements it ran. */
  itemCount?: number;
  /** The map step's own end: how many elements failed. */
  failedItems?: number;
}

/** A task did not run: its `when` was false or a task whose output it uses did not succeed. */
interface TaskSkipped extends EventBase {
  type: 'TaskSkipped';
  task: string;
  reason: string;
}

/**
 * The edge `from → to` is satisfied: `from` finished. `ready` is true on the last such edge of
 * `to`, the moment `to` becomes ready.
 */
interface Signal extends EventBase {
  type: 'Signal';
  from: string;
  to: string;
  ready: boolean;
}

/** The execution ended; the status has outputs bounded like `TaskFinished`'s. */
interface ExecutionFinished extends EventBase {
  type: 'ExecutionFinished';
  status: WorkflowExecutionStatus;
}

/** One live event of an execution. */
export type ExecutionEvent =
  ExecutionStarted | TaskStarted | TaskRetrying | TaskFinished | TaskSkipped | Signal | ExecutionFinished;

/** Largest output (bytes of JSON) an event carries; a larger one becomes a {@link TruncatedOutput}. */
export const MAX_EVENT_OUTPUT_BYTES = 64 * 1024;

/** `value` as an event carries it: itself, or `{truncated: true, bytes}` when its JSON is too large. */
export function boundedOutput(value: unknown): unknown {
  if (value === undefined || value === null || typeof value === 'number' || typeof value === 'boolean') {
    return value;
  }
  const text = JSON.stringify(value);
  // UTF-8 takes at most three bytes per UTF-16 unit: most outputs need no counting.
  if (text.length * 3 <= MAX_EVENT_OUTPUT_BYTES) return value;
  const bytes = utf8Length(text);
  if (bytes <= MAX_EVENT_OUTPUT_BYTES) return value;
  const truncated: TruncatedOutput = { truncated: true, bytes };
  return truncated;
}

/** Bytes of `text` in UTF-8, without encoding it. */
function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) {
      // A surrogate pair is one code point of four bytes.
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}
