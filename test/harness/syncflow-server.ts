// Runs the real `syncflow server` process against a control plane from hack/cp-up.sh, with the demo
// upstream, exactly as the README's run command does, and waits for the APIService to be Available.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEMO_HOST, startDemoUpstream, type DemoUpstream } from '../../examples/demo-upstream/server.ts';
import { repoRoot, type ControlPlane } from './controlplane.ts';

/**
 * Whether a request through kube-apiserver's aggregator reaches a syncflow server and
 * kube-apiserver's discovery lists its resources again: kubectl maps
 * `workflowexecutions.execution.syncflow.io` (and the kind) through that discovery, which lags a
 * server (re)start. `api-resources` also refreshes kubectl's discovery cache.
 */
export async function servedThroughAggregator(controlPlane: ControlPlane): Promise<boolean> {
  const result = await controlPlane.kubectl.run([
    'get',
    '--raw',
    '/apis/execution.syncflow.io/v1alpha1/workflowexecutions?limit=1',
  ]);
  if (result.code !== 0) return false;
  const discovery = await controlPlane.kubectl.run([
    'api-resources',
    '--api-group=execution.syncflow.io',
    '-o',
    'name',
  ]);
  return discovery.code === 0 && discovery.stdout.includes('workflowexecutions.execution.syncflow.io');
}

/** The arguments the e2e server runs with (the Deployment uses the same flags, see manifests/). */
export function serverArgs(
  controlPlane: ControlPlane,
  options: {
    demoAddress: string;
    dataDir: string;
    databaseUrl?: string;
    port?: number;
    /** Further flags, after the defaults (a later flag wins: `--leader-elect=true`). */
    extraArgs?: readonly string[];
  },
): string[] {
  const s = controlPlane.settings;
  if (!s.serverPort || !s.tlsCertFile || !s.tlsKeyFile || !s.serverKubeconfig) {
    throw new Error(
      'the syncflow server needs a control plane from hack/cp-up.sh (SYNCFLOW_SERVER_* variables)',
    );
  }
  return [
    'server',
    `--secure-port=${options.port ?? s.serverPort}`,
    '--bind-address=127.0.0.1',
    `--tls-cert-file=${s.tlsCertFile}`,
    `--tls-private-key-file=${s.tlsKeyFile}`,
    `--kubeconfig=${s.serverKubeconfig}`,
    options.databaseUrl ? `--database-url=${options.databaseUrl}` : `--embedded-data-dir=${options.dataDir}`,
    '--egress-allow-loopback',
    `--host-alias=${DEMO_HOST}=${options.demoAddress}`,
    '--leader-elect=false',
    '--shutdown-grace=5s',
    // Reviews only from kube-apiserver's webhook client certificate (hack/cp-up.sh's AdmissionConfiguration).
    ...(s.admissionClientCaFile ? [`--admission-client-ca=${s.admissionClientCaFile}`] : []),
    ...(options.extraArgs ?? []),
  ];
}

/** What to do while a server is stopped, before it starts again (see `restart`). */
export interface RestartOptions {
  whileStopped?: () => Promise<void>;
  /** SIGTERM (graceful, the default) or SIGKILL (a crash: nothing flushed, nothing released). */
  signal?: 'SIGTERM' | 'SIGKILL';
}

/** A running syncflow server process and its demo upstream. */
export class SyncflowServer {
  private process: ChildProcess | undefined;
  private output = '';
  /** How the last stopped process ended: its exit code, or the signal that ended it. */
  lastExit: { code: number | null; signal: NodeJS.Signals | null } | undefined;

  private constructor(
    readonly controlPlane: ControlPlane,
    readonly upstream: DemoUpstream,
    readonly dataDir: string,
    readonly demoAddress: string,
    /** The PostgreSQL the server (and its replicas) use; the embedded database when absent. */
    readonly databaseUrl?: string,
    private readonly extraArgs: readonly string[] = [],
  ) {}

  /** Starts the demo upstream and the server; resolves when the APIService is Available. */
  static async start(
    controlPlane: ControlPlane,
    options: { demoAddress?: string; databaseUrl?: string; extraArgs?: readonly string[] } = {},
  ): Promise<SyncflowServer> {
    // A loopback address of its own (Linux routes all of 127/8), so parallel runs never share port 8080.
    const demoAddress =
      options.demoAddress ??
      `127.${100 + (process.pid % 100)}.${Math.floor(Math.random() * 250) + 1}.${Math.floor(Math.random() * 250) + 1}`;
    const upstream = await startDemoUpstream({ host: demoAddress, port: 8080 });
    const dataDir = await mkdtemp(join(tmpdir(), 'syncflow-e2e-db-'));
    const server = new SyncflowServer(
      controlPlane,
      upstream,
      dataDir,
      demoAddress,
      options.databaseUrl,
      options.extraArgs,
    );
    await server.startProcess();
    return server;
  }

  /** Everything the server printed (JSON log lines). */
  get logs(): string {
    return this.output;
  }

  /** The port the APIService routes to. */
  get port(): number {
    return this.controlPlane.settings.serverPort as number;
  }

  /**
   * Stops the server (SIGTERM, graceful) and starts it again on the same database and port;
   * `whileStopped` runs once the process has exited.
   */
  async restart(options: RestartOptions = {}): Promise<void> {
    await this.stopProcess(options.signal);
    await options.whileStopped?.();
    await this.startProcess();
  }

  /** Stops the server and the upstream and removes the database. */
  async stop(): Promise<void> {
    await this.stopProcess();
    await this.upstream.close();
    await rm(this.dataDir, { recursive: true, force: true });
  }

  /**
   * Starts another replica of the server on its own port, sharing this one's PostgreSQL (start this
   * one with `databaseUrl`) and control plane. Only this one is the APIService's endpoint: reach the
   * replica directly on its port (`https://127.0.0.1:<port>`, same serving certificate).
   */
  async startReplica(options: { extraArgs?: readonly string[] } = {}): Promise<SyncflowReplica> {
    if (!this.databaseUrl)
      throw new Error('a replica shares a PostgreSQL: start the server with databaseUrl');
    const port = await freePort();
    const args = serverArgs(this.controlPlane, {
      demoAddress: this.demoAddress,
      dataDir: this.dataDir,
      databaseUrl: this.databaseUrl,
      port,
      ...(options.extraArgs ? { extraArgs: options.extraArgs } : {}),
    });
    const replica = new SyncflowReplica(port, spawnServer(args), args);
    await replica.ready();
    return replica;
  }

  private async startProcess(): Promise<void> {
    const child = spawn(
      process.execPath,
      [
        join(repoRoot, 'bin/syncflow.js'),
        ...serverArgs(this.controlPlane, {
          demoAddress: this.demoAddress,
          dataDir: this.dataDir,
          ...(this.databaseUrl ? { databaseUrl: this.databaseUrl } : {}),
          extraArgs: this.extraArgs,
        }),
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    this.process = child;
    const logOffset = this.output.length;
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (this.output += chunk));
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (this.output += chunk));
    // Never outlive the test process.
    const kill = () => child.kill('SIGKILL');
    process.once('exit', kill);
    child.once('exit', () => process.off('exit', kill));
    await this.waitAvailable(child, logOffset);
  }

  /**
   * Waits until this process has listed the definitions and is served through the aggregator,
   * discovery included (the APIService condition alone can be stale right after a restart).
   */
  private async waitAvailable(child: ChildProcess, logOffset: number): Promise<void> {
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null)
        throw new Error(`syncflow server exited with ${child.exitCode}:\n${this.output.slice(-4000)}`);
      if (this.output.slice(logOffset).includes('definitions listed')) {
        if (await servedThroughAggregator(this.controlPlane)) return;
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    throw new Error(
      `the server was not reachable through the aggregator within 120 s; server output:\n${this.output.slice(-4000)}`,
    );
  }

  private async stopProcess(signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
    const child = this.process;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) =>
      child.once('exit', (code, exitSignal) => {
        this.lastExit = { code, signal: exitSignal };
        resolve();
      }),
    );
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  }
}

/** A second server process (see {@link SyncflowServer.startReplica}). */
export class SyncflowReplica {
  private output = '';
  /** How the last stopped process ended: its exit code, or the signal that ended it. */
  lastExit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private child: ChildProcess;
  /** Where this process's output starts in {@link logs} (earlier processes' output comes before). */
  private logOffset = 0;

  constructor(
    readonly port: number,
    child: ChildProcess,
    /** The server arguments, to start it again (`restart`). */
    private readonly args: readonly string[] = [],
  ) {
    this.child = child;
    this.attach(child);
  }

  private attach(child: ChildProcess): void {
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (this.output += chunk));
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (this.output += chunk));
    const kill = () => child.kill('SIGKILL');
    process.once('exit', kill);
    child.once('exit', () => process.off('exit', kill));
  }

  /**
   * Stops the replica (SIGTERM, graceful) and starts it again with the same arguments on the same
   * port; `whileStopped` runs once the process has exited. Resolves when it is ready again.
   */
  async restart(options: RestartOptions = {}): Promise<void> {
    if (this.args.length === 0) throw new Error('this replica was not started with its arguments');
    await this.stop(options.signal);
    await options.whileStopped?.();
    this.logOffset = this.output.length;
    this.child = spawnServer(this.args);
    this.attach(this.child);
    await this.ready();
  }

  /** Everything the replica printed (JSON log lines). */
  get logs(): string {
    return this.output;
  }

  /** Resolves once the replica listens and has listed the definitions. */
  async ready(): Promise<void> {
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline) {
      if (this.child.exitCode !== null)
        throw new Error(`syncflow replica exited with ${this.child.exitCode}:\n${this.output.slice(-4000)}`);
      const output = this.output.slice(this.logOffset);
      if (output.includes('definitions listed') && output.includes('syncflow server listening')) return;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    throw new Error(`the replica did not become ready within 120 s:\n${this.output.slice(-4000)}`);
  }

  /** Stops the replica (SIGTERM, graceful; or SIGKILL). */
  async stop(signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) =>
      this.child.once('exit', (code, exitSignal) => {
        this.lastExit = { code, signal: exitSignal };
        resolve();
      }),
    );
    this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  }
}

/** Spawns `syncflow <args>` with its output piped. */
function spawnServer(args: readonly string[]): ChildProcess {
  return spawn(process.execPath, [join(repoRoot, 'bin/syncflow.js'), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** A free loopback port. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export { repoRoot };
