/**
 * Literal values of the v1alpha1 model that code outside the schema needs at run time. They live
 * apart from schema.ts so that `syncflow validate` and `run` do not load TypeBox for them: the
 * shape validators are generated from the schema at build time (hack/generate-validators.ts).
 */

/** Marker keyword for user-provided JSON; kept in CRDs, understood by the runtime validator. */
export const PRESERVE_UNKNOWN = 'x-kubernetes-preserve-unknown-fields';

/** Durations such as `250ms`, `2s`, `1m`, `1h`. */
export const DURATION_PATTERN = '^[0-9]+(ms|s|m|h)$';

/**
 * Hard ceiling of `maxResponseBytes`: a task may ask less, never more. The HTTP client enforces
 * `min(task, ceiling)` while the body streams in, so no task can make the server buffer more.
 */
export const MAX_RESPONSE_BYTES_CEILING = 64 * 1024 * 1024;

/** The HTTP methods a task may use. */
export const HTTP_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

/** Failure classes a retry policy may name (`circuit-open` only when named: not retried by default). */
export const RETRY_CLASSES = ['5xx', '429', 'connect-error', 'timeout', 'circuit-open'] as const;

/** Entries of a map step's `items` list: the first ones, then failed ones, up to this many. */
export const MAX_TRACED_ITEMS = 100;
