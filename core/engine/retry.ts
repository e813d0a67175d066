/** Retry timing: exponential backoff with full jitter, and `Retry-After` parsing. */
import type { RetryPolicy } from '../definitions/compile.ts';

/**
 * Delay before attempt `attempt + 1` after attempt `attempt` failed: uniformly random in
 * [0, min(max, initial × multiplier^(attempt-1))] ("full jitter", so retries of many callers spread out).
 */
export function backoffDelayMs(policy: RetryPolicy, attempt: number, random: () => number): number {
  const ceiling = Math.min(policy.maxMs, policy.initialMs * policy.multiplier ** (attempt - 1));
  return Math.floor(random() * ceiling);
}

/**
 * The delay a `Retry-After` header asks for, in ms: delta-seconds or an HTTP date relative to `now`.
 * `undefined` when absent or unparseable.
 */
export function retryAfterMs(header: string | string[] | undefined, now: number): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined) return undefined;
  const text = value.trim();
  if (/^[0-9]+$/.test(text)) return Number(text) * 1_000;
  const date = Date.parse(text);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}
