/**
 * The one logging interface of syncflow: the subset of pino's interface the layers call, so the
 * server's pino logger fits as is and `core/` stays free of any logging library. Fields and messages
 * never carry secrets or tokens.
 */

/** Structured logging: fields first, then the message (pino's argument order). */
export interface Logger {
  debug(fields: Record<string, unknown>, message: string): void;
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

/** A logger that drops everything, for callers that do not log. */
export const SILENT_LOGGER: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/**
 * An error as log fields: its message and code only, never the whole object (review errors carry
 * request objects, database errors their queries).
 */
export function errorFields(error: unknown): Record<string, unknown> {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return {
      err: {
        message: error.message,
        ...(typeof code === 'string' || typeof code === 'number' ? { code } : {}),
      },
    };
  }
  return { err: { message: String(error) } };
}
