/**
 * Opaque continue tokens for keyset pagination. A token pins the listing to the resourceVersion of
 * its first page (items created later are not included, so pages neither repeat nor skip items
 * while inserts go on) and remembers the key of the last item returned.
 */
import { SyncflowError } from '../core/errors.ts';

/** What a continue token carries. */
export interface ContinuePosition {
  /** resourceVersion of the first page: only items with a creation version ≤ this are listed. */
  snapshot: number;
  /** Key of the last item returned: the next page starts after it. */
  after: number;
}

const VERSION = 1;

/** Encodes a position as an opaque URL-safe token. */
export function encodeContinue(position: ContinuePosition): string {
  return Buffer.from(JSON.stringify({ v: VERSION, s: position.snapshot, a: position.after })).toString(
    'base64url',
  );
}

/** Decodes a token; throws `BadRequest` naming the `continue` parameter when it is not one of ours. */
export function decodeContinue(token: string): ContinuePosition {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch (cause) {
    throw badToken(cause);
  }
  if (
    typeof parsed !== 'object' ||
    parsed === null ||
    (parsed as { v?: unknown }).v !== VERSION ||
    !Number.isSafeInteger((parsed as { s?: unknown }).s) ||
    !Number.isSafeInteger((parsed as { a?: unknown }).a)
  ) {
    throw badToken();
  }
  const { s, a } = parsed as { s: number; a: number };
  return { snapshot: s, after: a };
}

function badToken(cause?: unknown): SyncflowError {
  const message = 'the continue token is not valid; restart the list without continue';
  return new SyncflowError('BadRequest', `continue: ${message}`, {
    causes: [{ code: 'FieldInvalid', field: 'continue', message }],
    cause,
  });
}
