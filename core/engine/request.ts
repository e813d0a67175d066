/**
 * Turns a compiled task and its resolved input into the HTTP request to send. Values substituted
 * into a URL path or query are percent-encoded, so data can never change the URL's structure
 * (`../admin`, `?x=`, `#`); a template that supplies the scheme and host is used as written.
 */
import type { CompiledTask } from '../definitions/compile.ts';
import type { CompiledValue } from '../template/compiled-value.ts';
import { resolveRef, resolveValue, stringifyForInterpolation, type TemplateScope } from '../template/resolve.ts';

/** The parts of a request that templates determine. */
export interface ResolvedRequest {
  url: string;
  headers: Record<string, string>;
  body: string | undefined;
  /** True when the request may be retried (idempotent method, opt-in or an Idempotency-Key). */
  retryable: boolean;
}

/** Resolves URL, query, headers and body of a task against the task's scope. */
export function resolveRequest(task: CompiledTask, scope: TemplateScope): ResolvedRequest {
  let url = resolveUrl(task.url, scope);
  if (task.query) {
    const query = resolveValue(task.query, scope) as Record<string, unknown>;
    const params = new URLSearchParams();
    for (const key in query) params.append(key, stringifyForInterpolation(query[key]));
    const text = params.toString();
    if (text) url += (url.includes('?') ? '&' : '?') + text;
  }
  const headers: Record<string, string> = { accept: 'application/json' };
  let idempotencyKey = false;
  if (task.headers) {
    const resolved = resolveValue(task.headers, scope) as Record<string, unknown>;
    for (const key in resolved) {
      headers[key] = stringifyForInterpolation(resolved[key]);
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
    (method !== 'POST' && method !== 'PATCH') || task.retry.retryNonIdempotent || idempotencyKey;
  return { url, headers, body, retryable };
}

/** Resolves a URL template, encoding substituted values once the path has begun. */
export function resolveUrl(value: CompiledValue, scope: TemplateScope): string {
  switch (value.kind) {
    case 'const':
      return String(value.value);
    case 'exact':
      return stringifyForInterpolation(resolveRef(value.ref, scope));
    case 'interpolated': {
      let out = '';
      for (const part of value.parts) {
        if (typeof part === 'string') {
          out += part;
          continue;
        }
        const text = stringifyForInterpolation(resolveRef(part, scope));
        out += inPath(out) ? encodeURIComponent(text) : text;
      }
      return out;
    }
    default:
      // Object and array URLs are rejected by the schema; stringify defensively.
      return stringifyForInterpolation(resolveValue(value, scope));
  }
}

function inPath(prefix: string): boolean {
  const scheme = prefix.indexOf('://');
  return scheme >= 0 && prefix.indexOf('/', scheme + 3) >= 0;
}
