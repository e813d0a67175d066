// A child process read while it runs: watches (kubectl -w, kubectl get --raw of a watch, the client-go
// informer) are asserted on as their events arrive, and stopped once the test has what it needs.
import { spawn, type ChildProcess } from 'node:child_process';

/** What a process printed and how it exited (-1 when killed by a signal). */
export interface LineProcessResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A running child process whose output accumulates in {@link stdout} and {@link stderr}. */
export class LineProcess {
  stdout = '';
  stderr = '';
  /** Resolves when the process has exited and its output is complete. */
  readonly exited: Promise<LineProcessResult>;
  private readonly child: ChildProcess;
  private readonly changed = new Set<() => void>();
  private done = false;

  private constructor(command: string, args: readonly string[]) {
    this.child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const wake = () => {
      for (const waiter of [...this.changed]) waiter();
    };
    this.child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      this.stdout += chunk;
      wake();
    });
    this.child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr += chunk;
      wake();
    });
    // Never outlive the test process.
    const kill = () => this.child.kill('SIGKILL');
    process.once('exit', kill);
    this.exited = new Promise((resolve, reject) => {
      this.child.once('error', (error) => reject(new Error(`cannot run ${command}`, { cause: error })));
      this.child.once('close', (code) => {
        process.off('exit', kill);
        this.done = true;
        wake();
        resolve({ code: code ?? -1, stdout: this.stdout, stderr: this.stderr });
      });
    });
  }

  /** Starts `command args...` with stdin closed. */
  static start(command: string, args: readonly string[]): LineProcess {
    return new LineProcess(command, args);
  }

  /** The complete lines printed on stdout so far. */
  get lines(): string[] {
    const lines = this.stdout.split('\n');
    lines.pop();
    return lines.filter((line) => line !== '');
  }

  /**
   * Resolves with the first value `read` returns (re-evaluated whenever output arrives); rejects
   * when the process exits or `timeoutMs` passes first, with the output so far in the message.
   */
  waitFor<T>(what: string, read: () => T | undefined, timeoutMs: number): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = () => {
        let value: T | undefined;
        try {
          value = read();
        } catch (error) {
          finish();
          reject(error instanceof Error ? error : new Error(String(error)));
          return;
        }
        if (value !== undefined) {
          finish();
          resolve(value);
        } else if (this.done) {
          finish();
          reject(this.failure(`exited before ${what}`));
        }
      };
      const finish = () => {
        clearTimeout(timer);
        this.changed.delete(check);
      };
      const timer = setTimeout(() => {
        finish();
        reject(this.failure(`no ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.changed.add(check);
      check();
    });
  }

  /** Ends the process (SIGTERM) and resolves with everything it printed. */
  stop(): Promise<LineProcessResult> {
    if (!this.done) this.child.kill('SIGTERM');
    return this.exited;
  }

  private failure(message: string): Error {
    return new Error(
      `${message}\n--- stdout (tail) ---\n${this.stdout.slice(-3000)}\n--- stderr (tail) ---\n${this.stderr.slice(-3000)}`,
    );
  }
}

/** The complete JSON documents of a stream that prints them one after another (kubectl -w -o json). */
export function jsonDocuments(text: string): string[] {
  const documents: string[] = [];
  let depth = 0;
  let start = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{') {
      if (depth === 0) start = i;
      depth++;
    } else if (c === '}' && --depth === 0) documents.push(text.slice(start, i + 1));
  }
  return documents;
}
