/**
 * A task's exchange as the execution page shows it: the request it sent (resolved before the first
 * attempt; the server redacted secrets and bounded its size), the input it was given, and what came
 * back (HTTP status, attempts, output or error). Pure, so the page only draws it.
 */
import type { TaskStatus } from '../api/types.ts';

/** The request part; absent when the task sent none (skipped, or not recorded by this server). */
export interface RequestView {
  line: string;
  headers?: Array<[string, string]>;
  body?: string;
  /** Why headers and body are missing. */
  note?: string;
}

/** The response part. */
export interface ResponseView {
  status?: string;
  attempts?: number;
  output?: string;
  error?: string;
  /** Where an output came from when no request was sent. */
  source?: string;
}

export interface ExchangeView {
  request?: RequestView;
  input?: string;
  response: ResponseView;
}

/** A value bounded by the server: `{truncated: true, bytes, preview?}`. */
function truncated(value: unknown): string | undefined {
  const v = value as { truncated?: unknown; bytes?: unknown; preview?: unknown } | null;
  if (!v || typeof v !== 'object' || v.truncated !== true) return undefined;
  return `${typeof v.preview === 'string' ? `${v.preview}… ` : ''}(${String(v.bytes)} bytes, truncated)`;
}

function json(value: unknown): string {
  return truncated(value) ?? JSON.stringify(value, null, 2);
}

/** The view of a task's request, input and response. */
export function taskExchange(task: TaskStatus): ExchangeView {
  const r = task.request;
  const request: RequestView | undefined = r
    ? {
        line: `${r.method} ${r.url}`,
        ...(r.headers ? { headers: Object.entries(r.headers).sort(([a], [b]) => a.localeCompare(b)) } : {}),
        ...(r.body !== undefined ? { body: json(r.body) } : {}),
        ...(r.truncated
          ? { note: `headers and body left out: the request was ${r.bytes} bytes (over 4 KiB)` }
          : {}),
      }
    : undefined;
  const response: ResponseView = {
    ...(task.httpStatus !== undefined ? { status: `HTTP ${task.httpStatus}` } : {}),
    ...(task.attempts !== undefined ? { attempts: task.attempts } : {}),
    ...(task.output !== undefined ? { output: json(task.output) } : {}),
    ...(task.error ? { error: `${task.error.reason ?? 'Error'}: ${task.error.message ?? ''}` } : {}),
    ...(task.substituted
      ? { source: 'given by a debugger (skip): no request was sent' }
      : task.cached
        ? { source: 'from the response cache: no request was sent' }
        : {}),
  };
  return {
    ...(request ? { request } : {}),
    ...(task.input !== undefined ? { input: json(task.input) } : {}),
    response,
  };
}
