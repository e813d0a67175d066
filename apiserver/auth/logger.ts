/** The logging authentication needs: a subset of pino's interface, so a pino logger fits as is. */
export interface AuthLogger {
  debug(fields: Record<string, unknown>, message: string): void;
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
}

/** A logger that drops everything. */
export const silentAuthLogger: AuthLogger = { debug() {}, info() {}, warn() {} };

/** An error as log fields: message and code only (review errors may carry request objects). */
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
