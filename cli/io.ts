/** What a CLI command may touch: its output streams and working directory (injected for tests). */
export interface CliIO {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  cwd: string;
  /** Where interactive answers come from (`run --step`); absent, nothing is read. */
  stdin?: NodeJS.ReadableStream;
}

/** Exit codes shared by every command (docs/authoring.md). */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

/** A command-line usage mistake; printed with the command's usage text and exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
