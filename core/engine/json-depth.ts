/**
 * Bounded nesting depth of JSON text from outside (upstream bodies), checked before parsing: one
 * pass, no recursion, stops as soon as the limit is passed. Parsed values are measured by
 * `valueDepth` (core/model/depth.ts). apiserver/http/body.ts counts request bodies with its own
 * copy of this loop; it can switch to this function.
 */

/** True when JSON text nests arrays/objects deeper than `limit`; counted without parsing. */
export function jsonTextExceedsDepth(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92)
        i++; // backslash: skip the escaped character
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 || c === 91) {
      if (++depth > limit) return true;
    } else if (c === 125 || c === 93) depth--;
  }
  return false;
}
