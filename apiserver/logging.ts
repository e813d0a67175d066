/**
 * The server's logger: pino JSON lines on standard output, buffered. A line per execution on the
 * hot path would otherwise cost a write system call each; lines are written in blocks of up to
 * 4 KiB, at the latest every 250 ms, and whatever is buffered is flushed when the process exits.
 */
import pino, { type Logger } from 'pino';

/** Buffered bytes that trigger a write. */
export const LOG_BLOCK_BYTES = 4096;

/** Longest time a log line waits in the buffer. */
export const LOG_FLUSH_MS = 250;

/** A pino logger at `level` writing buffered to `dest` (a file descriptor or path; default stdout). */
export function serverLogger(level: string, dest: number | string = 1): Logger {
  return pino(
    { level },
    pino.destination({ dest, sync: false, minLength: LOG_BLOCK_BYTES, periodicFlush: LOG_FLUSH_MS }),
  );
}
