/**
 * Bounded nesting depth for JSON from outside (upstream bodies, workflow inputs). Both checks are
 * iterative and stop as soon as the limit is passed, so no depth of data can exhaust the stack or
 * make them slower than one pass. (apiserver/http/body.ts has its own text counter for request
 * bodies; it can switch to `jsonTextExceedsDepth`.)
 */

/** True when JSON text nests arrays/objects deeper than `limit`; counted without parsing. */
export function jsonTextExceedsDepth(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i++; // backslash: skip the escaped character
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 || c === 91) {
      if (++depth > limit) return true;
    } else if (c === 125 || c === 93) depth--;
  }
  return false;
}

/** True when a parsed JSON value nests arrays/objects deeper than `limit` (a scalar is depth 0). */
export function valueExceedsDepth(value: unknown, limit: number): boolean {
  if (value === null || typeof value !== 'object') return false;
  const stack: Array<{ value: object; depth: number }> = [{ value, depth: 1 }];
  for (let top = stack.pop(); top; top = stack.pop()) {
    if (top.depth > limit) return true;
    const items = Array.isArray(top.value) ? (top.value as unknown[]) : Object.values(top.value);
    for (const item of items) {
      if (item !== null && typeof item === 'object') stack.push({ value: item, depth: top.depth + 1 });
    }
  }
  return false;
}
