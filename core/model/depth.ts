/** How deeply external JSON values nest, measured without recursion (the JSON depth limit of docs/security.md, "Limits"). */

/**
 * The nesting depth of a JSON value (a scalar is 0, `[]` and `{}` are 1), counted iteratively so
 * that any depth is measured without growing the stack; stops counting once `limit` is passed.
 */
export function valueDepth(value: unknown, limit: number = Number.MAX_SAFE_INTEGER): number {
  let deepest = 0;
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [item, depth] = stack.pop() as [unknown, number];
    if (item === null || typeof item !== 'object') continue;
    const here = depth + 1;
    if (here > deepest) deepest = here;
    if (deepest > limit) return deepest;
    for (const child of Array.isArray(item) ? item : Object.values(item)) {
      if (child !== null && typeof child === 'object') stack.push([child, here]);
    }
  }
  return deepest;
}

/**
 * The nesting depth of JSON text (arrays and objects), counted in one pass without parsing, so that
 * text from outside (request and upstream bodies) is measured before `JSON.parse` builds anything;
 * stops counting once `limit` is passed.
 */
export function jsonTextDepth(text: string, limit: number = Number.MAX_SAFE_INTEGER): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92)
        i++; // backslash: skip the escaped character
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 || c === 91) {
      if (++depth > deepest && (deepest = depth) > limit) return deepest;
    } else if (c === 125 || c === 93) depth--;
  }
  return deepest;
}
