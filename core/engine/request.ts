/**
 * Turns a compiled task and its resolved input into the HTTP request to send. The URL template
 * fixes scheme, host and port at definition time (a template may fill one host label, checked
 * here); values substituted into the path, query or fragment are percent-encoded for that
 * component, so data can never change the URL's structure or its destination (`../admin`, `?x=`,
 * `#`, `@`, `:port`). Header values that would split the header block are refused, not sent.
 */
import type { CompiledTask } from '../definitions/compile.ts';
import { SyncflowError } from '../errors.ts';
import { resolveValue, stringifyForInterpolation, type TemplateScope } from '../template/resolve.ts';
import { resolveUrlTemplate } from '../template/url.ts';

/** The parts of a request that templates determine. */
export interface ResolvedRequest {
  url: string;
  headers: Record<string, string>;
  body: string | undefined;
  /** True when the request may be retried (idempotent method, opt-in, an Idempotency-Key or a declared key). */
  retryable: boolean;
}

/** Characters that end or split a header line. */
const HEADER_BREAK = /[\r\n\0]/;

/**
 * Resolves URL, query, headers and body of a task against the task's scope. Throws
 * `SyncflowError('UnsafeRequestValue')` (not retryable: the same data fails the same way) when a
 * value cannot be placed where its template stands.
 */
export function resolveRequest(task: CompiledTask, scope: TemplateScope): ResolvedRequest {
  let url = resolveUrlTemplate(task.urlTemplate, scope);
  if (task.query) {
    const query = resolveValue(task.query, scope) as Record<string, unknown>;
    const params = new URLSearchParams();
    for (const key in query) params.append(key, stringifyForInterpolation(query[key]));
    const text = params.toString();
    if (text) {
      const hash = url.indexOf('#');
      const fragment = hash < 0 ? '' : url.slice(hash);
      const base = hash < 0 ? url : url.slice(0, hash);
      url = base + (base.includes('?') ? '&' : '?') + text + fragment;
    }
  }
  const headers: Record<string, string> = { accept: 'application/json' };
  let idempotencyKey = false;
  if (task.headers) {
    const resolved = resolveValue(task.headers, scope) as Record<string, unknown>;
    for (const key in resolved) {
      const value = stringifyForInterpolation(resolved[key]);
      if (HEADER_BREAK.test(value)) {
        throw new SyncflowError(
          'UnsafeRequestValue',
          `spec.http.headers.${key}: the resolved value contains a line break or NUL, which would split the header; nothing was sent`,
        );
      }
      headers[key] = value;
      if (key.toLowerCase() === 'idempotency-key') idempotencyKey = true;
    }
  }
  let body: string | undefined;
  if (task.body) {
    body = JSON.stringify(resolveValue(task.body, scope) ?? null);
    headers['content-type'] ??= 'application/json';
  }
  const method = task.method;
  const retryable =
    (method !== 'POST' && method !== 'PATCH') ||
    task.retry.retryNonIdempotent ||
    idempotencyKey ||
    task.resilience?.idempotencyHeader !== undefined;
  return { url, headers, body, retryable };
}
