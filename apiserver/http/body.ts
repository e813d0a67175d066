/**
 * Reads request bodies with the limits of docs/security.md ("Limits"): at most 3 MiB, JSON only,
 * nesting depth bounded, so that no input can exhaust memory or the stack.
 */
import type { IncomingMessage } from 'node:http';
import { SyncflowError } from '../../core/errors.ts';
import { jsonTextDepth } from '../../core/model/depth.ts';
import { LIMITS } from '../../core/model/resources.ts';

/**
 * Reads the raw body, refusing more than `limit` bytes with 413. Event listeners rather than an
 * async iterator: this runs once per request on the hot path.
 */
export function readBody(req: IncomingMessage, limit: number = LIMITS.maxRequestBytes): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    return Promise.reject(
      new SyncflowError(
        'RequestTooLarge',
        `request body is ${declared} bytes; the limit is ${limitText(limit)}: ${SMALLER}`,
      ),
    );
  }
  // A small body usually arrives with the headers, so all of it is buffered by the time the handler
  // asks (its declared length, or the whole message when the parser is done with it): then it is
  // taken from the stream's buffer at once, with no listeners, closures or pending promise.
  const size = req.readableLength;
  if (req.readableFlowing === null && (size === declared || req.complete)) {
    if (size > limit) {
      req.resume();
      return Promise.reject(tooLarge(limit));
    }
    const body = size === 0 ? null : (req.read(size) as Buffer | null);
    // read() leaves the stream to emit 'end'; an empty body is read to its end the same way.
    if (body === null) req.read();
    return Promise.resolve(body ?? EMPTY);
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        // The error listener stays: a client that resets now must not crash the server.
        req.off('data', onData);
        req.off('end', onEnd);
        req.resume();
        reject(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      done();
      resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size));
    };
    const onError = (error: Error) => {
      done();
      reject(error);
    };
    const done = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}

const EMPTY = Buffer.alloc(0);

/** The 413 of a body found over the limit while reading it (no usable Content-Length). */
function tooLarge(limit: number): SyncflowError {
  return new SyncflowError(
    'RequestTooLarge',
    `request body exceeds the limit of ${limitText(limit)}: ${SMALLER}`,
  );
}

const SMALLER = 'send a smaller body';

/** `N bytes`, with the size in MiB when it is a whole number of them (the default: 3 MiB). */
function limitText(limit: number): string {
  const mib = limit / (1024 * 1024);
  return Number.isInteger(mib) ? `${limit} bytes (${mib} MiB)` : `${limit} bytes`;
}

/** Parses a JSON body; 400 with the parser's position for malformed JSON, 422 when too deep. */
export function parseJson(raw: Buffer, what = 'request body'): unknown {
  const text = raw.toString('utf8');
  // Blank text nests 0 levels and fails to parse: it is told apart only then (no copy per request).
  const depth = jsonTextDepth(text);
  if (depth > LIMITS.maxJsonDepth) {
    throw new SyncflowError(
      'BadRequest',
      `${what} nests ${depth} levels deep; the limit is ${LIMITS.maxJsonDepth}`,
    );
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    if (text.trim() === '') throw new SyncflowError('BadRequest', `${what} is empty: send a JSON object`);
    throw new SyncflowError('BadRequest', `${what} is not valid JSON: ${(error as Error).message}`);
  }
}
