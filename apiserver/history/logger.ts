/** The logging the history needs: a subset of pino's interface, so a pino logger fits as is. */
export interface HistoryLogger {
  debug(fields: Record<string, unknown>, message: string): void;
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

/** A logger that drops everything, for callers that do not care. */
export const silentLogger: HistoryLogger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};

/** An error as log fields: its message and code, never the whole object (which may carry queries). */
export function errorFields(error: unknown): Record<string, unknown> {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return { err: { message: error.message, ...(typeof code === 'string' ? { code } : {}) } };
  }
  return { err: { message: String(error) } };
}
