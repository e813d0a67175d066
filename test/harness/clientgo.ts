// The client-go program of test/clientgo, built once per process (Go's build cache makes rebuilds cheap).
import { execFile } from 'node:child_process';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from './controlplane.ts';
import { LineProcess } from './line-process.ts';

const execFileAsync = promisify(execFile);

/** What a clientgo invocation printed and how it exited. */
export interface ClientGoResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** test/clientgo bound to one kubeconfig: `clientgo -kubeconfig K -namespace NS <command> ...`. */
export class ClientGo {
  private static built: Promise<string> | undefined;

  private constructor(
    readonly binary: string,
    readonly kubeconfig: string,
  ) {}

  /** Builds (or reuses) the binary under ${SYNCFLOW_CACHE:-~/.cache/syncflow}/clientgo/. */
  static async forKubeconfig(kubeconfig: string): Promise<ClientGo> {
    ClientGo.built ??= ClientGo.build();
    return new ClientGo(await ClientGo.built, kubeconfig);
  }

  private static async build(): Promise<string> {
    const cache = process.env.SYNCFLOW_CACHE ?? join(homedir(), '.cache', 'syncflow');
    const binary = join(cache, 'clientgo', 'clientgo');
    await execFileAsync('go', ['build', '-o', binary, '.'], {
      cwd: join(repoRoot, 'test', 'clientgo'),
      env: { ...process.env, CGO_ENABLED: '0' },
    });
    return binary;
  }

  /** Runs one command in `namespace`; resolves whatever the exit code. */
  run(namespace: string, command: string, args: readonly string[] = []): Promise<ClientGoResult> {
    return new Promise((resolve) => {
      execFile(
        this.binary,
        ['-kubeconfig', this.kubeconfig, '-namespace', namespace, command, ...args],
        (error, stdout, stderr) => {
          const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
          resolve({ code, stdout, stderr });
        },
      );
    });
  }

  /**
   * Starts a long-running command (watch-executions) in `namespace`, read while it runs; `timeout`
   * is the program's own -timeout (a Go duration such as `90s`).
   */
  start(
    namespace: string,
    command: string,
    args: readonly string[] = [],
    options: { timeout?: string } = {},
  ): LineProcess {
    return LineProcess.start(this.binary, [
      '-kubeconfig',
      this.kubeconfig,
      '-namespace',
      namespace,
      ...(options.timeout ? ['-timeout', options.timeout] : []),
      command,
      ...args,
    ]);
  }
}
