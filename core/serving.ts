/**
 * What every HTTP boundary (aggregated API, run gateway, admission webhook) does the same way with a
 * response. Typed over the narrow part of Node's `ServerResponse` each step needs, so apiserver and
 * admission share it without importing each other.
 */

/** How long a shed (429) or unavailable (503) caller is asked to wait. */
const RETRY_AFTER_SECONDS = 1;

/** The part of a response that takes headers. */
export interface ResponseHeaders {
  setHeader(name: string, value: string): unknown;
}

/** The part of a response that reports its end. */
export interface ResponseEnd {
  once(event: 'finish' | 'close', listener: () => void): unknown;
}

/** Seconds a caller answered with this HTTP status should wait before retrying; undefined if it need not. */
export function retryAfterSeconds(status: number): number | undefined {
  return status === 429 || status === 503 ? RETRY_AFTER_SECONDS : undefined;
}

/** Sets `Retry-After` when the status asks for one (429, 503); returns the seconds set. */
export function setRetryAfter(res: ResponseHeaders, status: number): number | undefined {
  const seconds = retryAfterSeconds(status);
  if (seconds !== undefined) res.setHeader('Retry-After', String(seconds));
  return seconds;
}

/**
 * Calls `release` exactly once, when the response has been sent or its connection closed first
 * (a caller gone mid-request must give back what it holds too).
 */
export function releaseWhenDone(res: ResponseEnd, release: () => void): void {
  let released = false;
  const once = () => {
    if (released) return;
    released = true;
    release();
  };
  res.once('finish', once);
  res.once('close', once);
}
