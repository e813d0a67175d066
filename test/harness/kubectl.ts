// Runs the kubectl of the pinned Kubernetes release against a control plane's kubeconfig.
import { spawn } from 'node:child_process';

/** Who a request is made as: `kubectl --as/--as-group` (the admin identity must be allowed to impersonate). */
export interface Impersonation {
  user: string;
  groups?: string[];
}

/** Options of one kubectl invocation. */
export interface KubectlOptions {
  /** Impersonate this user instead of acting as the admin. */
  as?: Impersonation;
  /** Written to kubectl's stdin (for `-f -`). */
  stdin?: string;
  /** Kill kubectl after this many milliseconds (default 60 s). */
  timeoutMs?: number;
}

/** What a kubectl invocation printed and how it exited. */
export interface KubectlResult {
  args: string[];
  code: number;
  stdout: string;
  stderr: string;
  /** Set when kubectl was killed for running past its timeout (the code is then 128). */
  timedOutMs?: number;
}

/** Raised by {@link Kubectl.ok} when kubectl exits non-zero; keeps the full result. */
export class KubectlError extends Error {
  constructor(readonly result: KubectlResult) {
    const how =
      result.timedOutMs === undefined
        ? `exited ${result.code}`
        : `was killed after ${result.timedOutMs} ms (its timeout); it had printed ${JSON.stringify(result.stdout.trim())}`;
    super(`kubectl ${result.args.join(' ')} ${how}: ${result.stderr.trim()}`);
    this.name = 'KubectlError';
  }
}

/** A kubectl binary bound to one kubeconfig. */
export class Kubectl {
  constructor(
    readonly binary: string,
    readonly kubeconfig: string,
  ) {}

  /** Runs kubectl and resolves with its result whatever the exit code (for asserting on failures). */
  run(args: readonly string[], options: KubectlOptions = {}): Promise<KubectlResult> {
    const fullArgs = ['--kubeconfig', this.kubeconfig, ...impersonationArgs(options.as), ...args];
    return new Promise((resolve, reject) => {
      const child = spawn(this.binary, fullArgs, { stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      const timeoutMs = options.timeoutMs ?? 60_000;
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill('SIGKILL');
      }, timeoutMs);
      child.on('error', (err) => {
        clearTimeout(timer);
        reject(new Error(`cannot run ${this.binary}`, { cause: err }));
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        const result = { args: [...args], code: code ?? (signal === null ? -1 : 128), stdout, stderr };
        resolve(timedOut ? { ...result, timedOutMs: timeoutMs } : result);
      });
      child.stdin.end(options.stdin ?? '');
    });
  }

  /** Runs kubectl and resolves with stdout; rejects with a {@link KubectlError} on a non-zero exit. */
  async ok(args: readonly string[], options: KubectlOptions = {}): Promise<string> {
    const result = await this.run(args, options);
    if (result.code !== 0) throw new KubectlError(result);
    return result.stdout;
  }

  /** Runs kubectl with `-o json` and parses what it printed. */
  async json<T = unknown>(args: readonly string[], options: KubectlOptions = {}): Promise<T> {
    return JSON.parse(await this.ok([...args, '-o', 'json'], options)) as T;
  }
}

function impersonationArgs(as: Impersonation | undefined): string[] {
  if (as === undefined) return [];
  return [`--as=${as.user}`, ...(as.groups ?? []).map((group) => `--as-group=${group}`)];
}
