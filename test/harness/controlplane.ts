// The control plane e2e suites run against: a reused one (SYNCFLOW_KUBECONFIG set, as hack/e2e.sh and
// `. env.sh` do) or one this process starts with hack/cp-up.sh and tears down when it exits.
import { execFile, spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { mintClientIdentity } from './identity.ts';
import type { ClientIdentity } from './identity.ts';
import { Kubectl } from './kubectl.ts';

const execFileAsync = promisify(execFile);

/** Repository root (test/harness/../..). */
export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/** Where a running control plane is and how the syncflow server should join it (env.sh of hack/cp-up.sh). */
export interface ControlPlaneSettings {
  /** State directory of a control plane started by hack/cp-up.sh; absent for foreign clusters (kind). */
  dir?: string;
  kubeconfig: string;
  /** kubectl of the same release as the server; `kubectl` from PATH when unknown. */
  kubectl: string;
  kubernetesVersion?: string;
  /** Port the APIService v1alpha1.execution.syncflow.io routes to, on localhost. */
  serverPort?: number;
  serverKubeconfig?: string;
  tlsCertFile?: string;
  tlsKeyFile?: string;
  clientCaFile?: string;
  requestheaderClientCaFile?: string;
  /** CA of the client certificate kube-apiserver presents to webhooks (the server's --admission-client-ca). */
  admissionClientCaFile?: string;
}

/** Reads the settings from SYNCFLOW_* variables; undefined when SYNCFLOW_KUBECONFIG is not set. */
export function settingsFromEnv(
  env: Readonly<Record<string, string | undefined>>,
): ControlPlaneSettings | undefined {
  const kubeconfig = env.SYNCFLOW_KUBECONFIG;
  if (kubeconfig === undefined || kubeconfig === '') return undefined;
  const port = env.SYNCFLOW_SERVER_PORT;
  return {
    dir: env.SYNCFLOW_CONTROLPLANE_DIR,
    kubeconfig,
    kubectl: env.SYNCFLOW_KUBECTL ?? 'kubectl',
    kubernetesVersion: env.SYNCFLOW_KUBERNETES_VERSION,
    serverPort: port === undefined ? undefined : Number(port),
    serverKubeconfig: env.SYNCFLOW_SERVER_KUBECONFIG,
    tlsCertFile: env.SYNCFLOW_TLS_CERT_FILE,
    tlsKeyFile: env.SYNCFLOW_TLS_KEY_FILE,
    clientCaFile: env.SYNCFLOW_CLIENT_CA_FILE,
    requestheaderClientCaFile: env.SYNCFLOW_REQUESTHEADER_CLIENT_CA_FILE,
    admissionClientCaFile: env.SYNCFLOW_ADMISSION_CLIENT_CA_FILE,
  };
}

/** Parses the `export NAME=value` lines of an env.sh written by hack/cp-up.sh. */
export function parseEnvFile(text: string): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = /^export ([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (match?.[1] !== undefined && match[2] !== undefined) vars[match[1]] = match[2];
  }
  return vars;
}

/** Options of {@link ControlPlane.start}. */
export interface StartOptions {
  /** Also apply examples/ (as `hack/cp-up.sh --examples`). */
  examples?: boolean;
  /** Leave out syncflow's CRDs, like a cluster nothing was installed on (`hack/cp-up.sh --no-crds`). */
  withoutCrds?: boolean;
}

/** A running control plane with a kubectl and clients bound to it. */
export class ControlPlane {
  private static shared: Promise<ControlPlane> | undefined;
  readonly kubectl: Kubectl;
  private stopped = false;

  private constructor(
    readonly settings: ControlPlaneSettings,
    /** True when this process started it and so must stop it. */
    readonly owned: boolean,
  ) {
    this.kubectl = new Kubectl(settings.kubectl, settings.kubeconfig);
  }

  /**
   * The control plane shared by every suite of this process: the one SYNCFLOW_KUBECONFIG points at,
   * else one started on first use and stopped when the process exits.
   */
  static acquire(): Promise<ControlPlane> {
    ControlPlane.shared ??= ControlPlane.reuseOrStart();
    return ControlPlane.shared;
  }

  /** Starts a fresh control plane with hack/cp-up.sh (which builds or reuses the binaries). */
  static async start(options: StartOptions = {}): Promise<ControlPlane> {
    const args = [
      '--owner-pid',
      String(process.pid),
      '--print-env',
      ...(options.examples ? ['--examples'] : []),
      ...(options.withoutCrds ? ['--no-crds'] : []),
    ];
    const { stdout } = await execFileAsync(join(repoRoot, 'hack/cp-up.sh'), args, {
      maxBuffer: 16 * 1024 * 1024,
    });
    const envFile = stdout.trim().split('\n').at(-1) ?? '';
    const settings = settingsFromEnv(parseEnvFile(await readFile(envFile, 'utf8')));
    if (settings === undefined) throw new Error(`${envFile} does not set SYNCFLOW_KUBECONFIG`);
    const controlPlane = new ControlPlane(settings, true);
    // Synchronous teardown is the one kind that still runs in an 'exit' handler.
    process.once('exit', () => controlPlane.stopSync());
    return controlPlane;
  }

  private static reuseOrStart(): Promise<ControlPlane> {
    const settings = settingsFromEnv(process.env);
    return settings === undefined ? ControlPlane.start() : Promise.resolve(new ControlPlane(settings, false));
  }

  /** A client-node configuration: the admin's, or that of a client-certificate identity minted for a test. */
  async kubeConfig(identity?: ClientIdentity): Promise<KubeConfig> {
    const admin = new KubeConfig();
    admin.loadFromFile(this.settings.kubeconfig);
    if (identity === undefined) return admin;
    if (this.settings.clientCaFile === undefined) {
      throw new Error(
        'minting identities needs a control plane from hack/cp-up.sh (SYNCFLOW_CLIENT_CA_FILE)',
      );
    }
    const cluster = admin.getCurrentCluster();
    if (cluster === null) throw new Error(`${this.settings.kubeconfig} has no current cluster`);
    const { certFile, keyFile } = await mintClientIdentity({
      caFile: this.settings.clientCaFile,
      caKeyFile: join(dirname(this.settings.clientCaFile), 'client-ca.key'),
      identity,
    });
    const config = new KubeConfig();
    config.loadFromOptions({
      clusters: [cluster],
      users: [{ name: identity.user, certFile, keyFile }],
      contexts: [{ name: identity.user, cluster: cluster.name, user: identity.user }],
      currentContext: identity.user,
    });
    return config;
  }

  /**
   * Creates a namespace with a unique name for one suite. There is no kube-controller-manager, so a
   * deleted namespace stays Terminating; suites still delete theirs to keep a reused control plane tidy.
   */
  async createNamespace(prefix: string): Promise<string> {
    const name = `${prefix}-${process.pid}-${Math.random().toString(36).slice(2, 7)}`;
    await this.kubectl.ok(['create', 'namespace', name]);
    return name;
  }

  /**
   * Creates the Secret `demo-api` that the examples' and templates' tasks read (the demo upstream
   * accepts any token; it must be long enough for the engine to redact it).
   */
  async createDemoSecret(namespace: string, token = 'e2e-s3cr3t'): Promise<void> {
    await this.kubectl.ok([
      '-n',
      namespace,
      'create',
      'secret',
      'generic',
      'demo-api',
      `--from-literal=token=${token}`,
    ]);
  }

  /** Installs the examples in a namespace, with the Secret `demo-api` their tasks read. */
  async installExamples(namespace: string, token = 'e2e-s3cr3t'): Promise<void> {
    await this.createDemoSecret(namespace, token);
    await this.kubectl.ok(['-n', namespace, 'apply', '-f', join(repoRoot, 'examples/')]);
  }

  /** Deletes a namespace made by {@link createNamespace} without waiting for it to finish. */
  async deleteNamespace(name: string): Promise<void> {
    await this.kubectl.ok(['delete', 'namespace', name, '--wait=false', '--ignore-not-found']);
  }

  /** Stops the control plane if this process started it; a reused one is left running. */
  async stop(): Promise<void> {
    if (!this.owned || this.stopped || this.settings.dir === undefined) return;
    this.stopped = true;
    await execFileAsync(join(repoRoot, 'hack/cp-down.sh'), [this.settings.dir]);
  }

  private stopSync(): void {
    if (!this.owned || this.stopped || this.settings.dir === undefined) return;
    this.stopped = true;
    spawnSync(join(repoRoot, 'hack/cp-down.sh'), [this.settings.dir], { stdio: 'inherit' });
  }
}
