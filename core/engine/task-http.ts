/**
 * What the executor needs from an HTTP client: one upstream call in, the whole answer out. The
 * undici implementation with the egress policy lives in adapters/ (it opens sockets); tests and
 * benchmarks may pass their own.
 */
import type { HttpMethod } from '../model/schema.ts';
import type { CancelSignal } from './cancellation.ts';

/** One upstream call as the executor describes it. */
export interface TaskRequest {
  method: HttpMethod;
  url: string;
  headers: Record<string, string>;
  body: string | undefined;
  /** Cancels the call; an EventEmitter-shaped signal, which undici accepts and which is cheap. */
  signal: CancelSignal;
  /** Largest body accepted; the client never accepts more than `MAX_RESPONSE_BYTES_CEILING`. */
  maxResponseBytes: number;
  /** Lower-case names of headers whose values carry a secret: never sent to another origin. */
  secretHeaders?: ReadonlySet<string>;
  /** The body carries a secret: it is never replayed to another origin. */
  secretBody?: boolean;
}

/** The upstream's answer with the whole (size-checked) body. */
export interface TaskResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/**
 * Sends task requests. Rejects with `SyncflowError` (ConnectError, EgressDenied, RedirectRefused,
 * ResponseTooLarge) or with the signal's abort reason when the signal fires. On a redirect to
 * another origin, credentials (Authorization, Cookie, Proxy-Authorization and every header that
 * carries a secret) are dropped, and a body that carries a secret is not replayed: the redirect is
 * refused instead.
 */
export interface TaskHttpClient {
  send(request: TaskRequest): Promise<TaskResponse>;
  close(): Promise<void>;
}
