/** Tracing: W3C trace context for upstream calls, which tasks overlapped in time, and what each task's record keeps of its input and request. */
import type { DebugRequest } from './debug.ts';

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
/** Character codes of the lower-case hex digits. */
const HEX_DIGITS = Array.from('0123456789abcdef', (c) => c.charCodeAt(0));
/** Scratch character codes of a span id (8 bytes), made into one string with one call. */
const spanIdCodes = new Array<number>(16).fill(0);

/** `bytes` random bytes as lower-case hex. */
export function randomHex(bytes: number): string {
  if (poolOffset + bytes > pool.length) {
    crypto.getRandomValues(pool);
    poolOffset = 0;
  }
  // One flat string from the character codes, not a string grown two characters at a time.
  const codes = bytes === 8 ? spanIdCodes : new Array<number>(bytes * 2);
  for (let i = 0; i < bytes; i++) {
    const byte = pool[poolOffset + i] as number;
    codes[2 * i] = HEX_DIGITS[byte >> 4] as number;
    codes[2 * i + 1] = HEX_DIGITS[byte & 15] as number;
  }
  poolOffset += bytes;
  return String.fromCharCode.apply(null, codes);
}

/** A time interval a task ran in. */
export interface RunInterval {
  id: string;
  start: number;
  end: number;
}

/** For each task, the ids of the tasks whose run intervals intersect its own (sweep over starts). */
export function overlaps(intervals: readonly RunInterval[]): Map<string, string[]> {
  const sorted = intervals.slice();
  if (sorted.length > INSERTION_SORT_MAX) sorted.sort((a, b) => a.start - b.start);
  else {
    // Stable insertion sort: workflows are small, and the built-in sort allocates work space.
    for (let i = 1; i < sorted.length; i++) {
      const item = sorted[i] as RunInterval;
      let j = i - 1;
      for (; j >= 0 && (sorted[j] as RunInterval).start > item.start; j--)
        sorted[j + 1] = sorted[j] as RunInterval;
      sorted[j + 1] = item;
    }
  }
  const out = new Map<string, string[]>();
  for (let i = 0; i < sorted.length; i++) {
    const a = sorted[i] as RunInterval;
    for (let j = i + 1; j < sorted.length; j++) {
      const b = sorted[j] as RunInterval;
      if (b.start >= a.end) break;
      const forA = out.get(a.id);
      if (forA) forA.push(b.id);
      else out.set(a.id, [b.id]);
      const forB = out.get(b.id);
      if (forB) forB.push(a.id);
      else out.set(b.id, [a.id]);
    }
  }
  return out;
}

/** Longest list sorted by insertion in {@link overlaps}. */
const INSERTION_SORT_MAX = 32;

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

/** Largest JSON (UTF-8 bytes) of a task's recorded input, and of its recorded request. */
export const MAX_RECORDED_PART_BYTES = 4 * 1024;

/** Characters of the URL kept when a request is recorded without its headers and body. */
const MAX_CUT_URL_CHARS = 512;

/** A value too large to record: its size and the redacted beginning of its JSON. */
export interface TruncatedValue {
  truncated: true;
  bytes: number;
  preview: string;
}

/** A task's request as the history keeps it (and a debugger is shown it): secrets redacted. */
export interface RecordedRequest {
  method: string;
  url: string;
  headers?: Record<string, string>;
  /** The body as JSON, or a {@link TruncatedValue}. */
  body?: unknown;
  /** Headers and body were left out: the request alone was larger than the bound. */
  truncated?: true;
  bytes?: number;
}

/** What a task record keeps for time travel: the input after templates and the request. */
export interface RecordedTask {
  input: unknown;
  request?: RecordedRequest;
}

/** The parts of a resolved request the record needs (`ResolvedRequest` satisfies it). */
interface RequestParts {
  url: string;
  headers: Record<string, string>;
  body: string | undefined;
}

/** Anything with the redactor's operations (`SecretRedactor`). */
interface Redaction {
  readonly empty: boolean;
  text(value: string): string;
  shortened(value: string, maxChars: number, alreadyCut?: boolean): string;
  value<T>(value: T): T;
}

/**
 * The request a debugger is shown and the history records: a copy with the body parsed and every
 * secret redacted, in every spelling the redactor knows.
 */
export function shownRequest(method: string, request: RequestParts, redactor: Redaction): DebugRequest {
  const shown: DebugRequest = { method, url: request.url, headers: { ...request.headers } };
  if (request.body !== undefined) shown.body = JSON.parse(request.body);
  return redactor.value(shown);
}

/**
 * A task's input and request as recorded: redacted first, then bounded, so each part is at most
 * {@link MAX_RECORDED_PART_BYTES} of JSON. A part over the bound becomes a {@link TruncatedValue}
 * (the request keeps method and URL; its body goes first, then its headers); a cut never keeps a
 * secret or the beginning of one. Built once per task, when it ends.
 */
export function recordedTask(
  input: unknown,
  method: string,
  request: RequestParts | undefined,
  redactor: Redaction,
): RecordedTask {
  const record: RecordedTask = {
    input: boundedJson(redactor.value(input), MAX_RECORDED_PART_BYTES, redactor),
  };
  if (!request) return record;
  // Most requests are small: their size is judged from the lengths alone, without serialising.
  let size = request.url.length + (request.body?.length ?? 0) + 64;
  for (const name in request.headers) size += name.length + (request.headers[name] as string).length + 6;
  if (size * 3 <= MAX_RECORDED_PART_BYTES) {
    record.request = shownRequest(method, request, redactor);
    return record;
  }
  const url = redactor.text(request.url);
  const headers = redactor.value({ ...request.headers });
  const shown: RecordedRequest = { method, url, headers };
  if (request.body !== undefined) {
    const body = redactor.text(request.body);
    const room = MAX_RECORDED_PART_BYTES - jsonBytes(shown) - 16;
    shown.body = utf8.encode(body).length <= room ? parsedOrText(body) : truncatedValue(body, room, redactor);
  }
  const bytes = jsonBytes(shown);
  if (bytes <= MAX_RECORDED_PART_BYTES) record.request = shown;
  else {
    record.request = {
      method,
      url: redactor.shortened(url, MAX_CUT_URL_CHARS),
      truncated: true,
      bytes,
    };
  }
  return record;
}

/** `value` itself when its JSON fits in `maxBytes`, otherwise a {@link TruncatedValue} that does. */
function boundedJson(value: unknown, maxBytes: number, redactor: Redaction): unknown {
  if (value === undefined) return null;
  // Most inputs are small: a bound on their JSON's length, without building it, settles it.
  if (jsonCharsAtMost(value, Math.floor(maxBytes / 3), 0) >= 0) return value;
  const text = JSON.stringify(value);
  if (text.length * 3 <= maxBytes || jsonBytes(text) - 2 <= maxBytes) return value;
  return truncatedValue(text, maxBytes, redactor);
}

/**
 * What is left of `budget` characters after the JSON text of `value` (at most: every string
 * character counted as a six-character escape); -1 when the text may be longer, or when the
 * value is not plain JSON data (then it must be serialised to be measured).
 */
export function jsonCharsAtMost(value: unknown, budget: number, depth: number): number {
  if (value === null || typeof value === 'boolean') return budget - 5;
  if (typeof value === 'string') return budget - 6 * value.length - 2;
  // The longest number JSON writes (`-1.2345678901234567e-308`) has 24 characters.
  if (typeof value === 'number') return budget - 24;
  if (typeof value !== 'object' || depth >= JSON_BOUND_MAX_DEPTH) return -1;
  let left = budget - 2;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length && left >= 0; i++) left = jsonCharsAtMost(value[i], left - 1, depth + 1);
    return left;
  }
  const prototype: unknown = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) return -1;
  for (const key in value) {
    if (left < 0) break;
    const item = (value as Record<string, unknown>)[key];
    if (item === undefined) continue;
    left = jsonCharsAtMost(item, left - 6 * key.length - 4, depth + 1);
  }
  return left;
}

/** Deeper values are measured by serialising them. */
const JSON_BOUND_MAX_DEPTH = 16;

/** A marker for `text` (redacted JSON) whose own JSON is at most `maxBytes`. */
function truncatedValue(text: string, maxBytes: number, redactor: Redaction): TruncatedValue {
  const marker: TruncatedValue = { truncated: true, bytes: utf8.encode(text).length, preview: '' };
  const room = maxBytes - jsonBytes(marker);
  // JSON escaping takes at most 6 bytes per character: shrink until the preview fits.
  for (let chars = Math.max(0, room); chars > 0; chars = Math.floor(chars / 2)) {
    const preview = redactor.shortened(text, chars, true);
    if (jsonBytes(preview) - 2 <= room) {
      marker.preview = preview;
      break;
    }
  }
  return marker;
}

function parsedOrText(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    // Redaction replaced a secret spelled across JSON tokens: the text is all that is left.
    return body;
  }
}

const utf8 = new TextEncoder();

function jsonBytes(value: unknown): number {
  return utf8.encode(JSON.stringify(value)).length;
}
