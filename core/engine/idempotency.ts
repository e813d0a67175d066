/**
 * Idempotency keys: a value stable for one execution and one step (and one element of a map
 * step), sent in the header the task names on every attempt and every hedge, so an upstream that
 * honours it applies a retried non-idempotent call once.
 */

/** The key of `step` (and `index`, for a map element) in the execution identified by `execution`. */
export function idempotencyKey(execution: string, step: string, index?: number): string {
  return index === undefined ? `${execution}.${step}` : `${execution}.${step}.${index}`;
}
