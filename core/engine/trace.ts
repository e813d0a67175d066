/** Tracing: W3C trace context for upstream calls, and which tasks overlapped in time. */

/** The trace an execution belongs to: the caller's, or a new one. */
export interface TraceContext {
  traceId: string;
  flags: string;
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** Continues the caller's `traceparent` when it is valid, otherwise starts a sampled trace. */
export function traceContextFrom(traceparent: string | undefined): TraceContext {
  const match = traceparent === undefined ? null : TRACEPARENT.exec(traceparent.trim().toLowerCase());
  if (match && !/^0+$/.test(match[1] as string) && !/^0+$/.test(match[2] as string)) {
    return { traceId: match[1] as string, flags: match[3] as string };
  }
  return { traceId: randomHex(16), flags: '01' };
}

/** A `traceparent` header for one upstream attempt (a new span id per attempt). */
export function childTraceparent(trace: TraceContext): string {
  return `00-${trace.traceId}-${randomHex(8)}-${trace.flags}`;
}

// Ids come from a pooled buffer refilled in 4 KiB batches: one crypto call per 512 span ids.
// Web Crypto (a global in Node and browsers): core imports no Node built-in.
const pool = new Uint8Array(4_096);
let poolOffset = pool.length;
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** `bytes` random bytes as lower-case hex. */
export function randomHex(bytes: number): string {
  if (poolOffset + bytes > pool.length) {
    crypto.getRandomValues(pool);
    poolOffset = 0;
  }
  let out = '';
  for (let i = 0; i < bytes; i++) out += HEX[pool[poolOffset + i] as number];
  poolOffset += bytes;
  return out;
}

/** A time interval a task ran in. */
export interface RunInterval {
  id: string;
  start: number;
  end: number;
}

/** For each task, the ids of the tasks whose run intervals intersect its own (sweep over starts). */
export function overlaps(intervals: readonly RunInterval[]): Map<string, string[]> {
  const sorted = [...intervals].sort((a, b) => a.start - b.start);
  const out = new Map<string, string[]>();
  for (let i = 0; i < sorted.length; i++) {
    const a = sorted[i] as RunInterval;
    for (let j = i + 1; j < sorted.length; j++) {
      const b = sorted[j] as RunInterval;
      if (b.start >= a.end) break;
      if (!out.has(a.id)) out.set(a.id, []);
      if (!out.has(b.id)) out.set(b.id, []);
      (out.get(a.id) as string[]).push(b.id);
      (out.get(b.id) as string[]).push(a.id);
    }
  }
  return out;
}

/**
 * Records spans of executions (OpenTelemetry in the server). The executor calls it only when one
 * is installed, so without a tracer tracing costs nothing on the execution path. It is told no
 * input, output, header or resolved URL: nothing that could carry user data or a secret.
 */
export interface ExecutionTracer {
  /** An execution starts, continuing the caller's `traceparent`; `undefined` when not sampled. */
  startExecution(start: TracedExecution): ExecutionSpan | undefined;
}

/** An execution as a tracer sees it. Times are the engine clock's (ms since the epoch). */
export interface TracedExecution {
  namespace: string;
  workflow: string;
  /** The caller's W3C `traceparent`, unchecked. */
  traceparent: string | undefined;
  startTime: number;
}

/** One HTTP attempt of a task as a tracer sees it. */
export interface TracedAttempt {
  task: string;
  taskRef: string;
  method: string;
  /** The URL as the task declares it (templates unresolved), never the URL called. */
  urlTemplate: string;
  /** 1 for the first attempt, 2 for the first retry. */
  attempt: number;
  startTime: number;
}

/** The span of one execution. */
export interface ExecutionSpan {
  /** Opens the span of one attempt, a child of the execution's. */
  startAttempt(attempt: TracedAttempt): AttemptSpan;
  end(end: { phase: string; reason?: string; endTime: number }): void;
}

/** The span of one attempt. */
export interface AttemptSpan {
  /** Sent on the attempt's request, so the upstream's spans are its children. */
  readonly traceparent: string;
  /** `reason` is the error catalogue's code of a failed attempt. */
  end(end: { httpStatus?: number; reason?: string; endTime: number }): void;
}
