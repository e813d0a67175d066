/**
 * client-go credential plugins (`users[].user.exec` of a kubeconfig: EKS, GKE, AKS and OIDC
 * clusters): the entry checked at load, the plugin run never interactively, and its ExecCredential
 * cached until shortly before it expires. Failures name the command and the exit code or reason,
 * never what the plugin printed.
 */
import { execFile } from 'node:child_process';
import { basename, isAbsolute, join, sep } from 'node:path';

/** A cluster entry, user entry or context entry as a kubeconfig file spells it. */
export type Entry = Record<string, unknown>;

/** How long a credential plugin may run before it is stopped. */
const EXEC_TIMEOUT_MS = 60_000;
/** A plugin's credential is renewed this long before its expirationTimestamp. */
const EXEC_RENEW_BEFORE_MS = 10_000;
/** Most a plugin may print on stdout or stderr (an ExecCredential is a few kB). */
const EXEC_MAX_OUTPUT = 1024 * 1024;
const EXEC_API_VERSIONS = ['client.authentication.k8s.io/v1', 'client.authentication.k8s.io/v1beta1'];

/** A `users[].user.exec` entry, checked at load (client-go's ExecConfig). */
export interface ExecConfig {
  apiVersion: string;
  /** The program, resolved beside the kubeconfig when it names a relative path. */
  command: string;
  args: string[];
  /** Added to the server's environment for the plugin. */
  env: Record<string, string>;
  /** Shown when the command is not installed. */
  installHint?: string;
  /** The cluster given in KUBERNETES_EXEC_INFO when `provideClusterInfo` is set. */
  cluster?: Record<string, unknown>;
  /** Stop the plugin after this long (60 s by default). */
  timeoutMs?: number;
}

/** What a request presents: the Authorization header and a client certificate from a plugin. */
export interface RequestCredential {
  authorization: string | undefined;
  /** A client certificate a credential plugin printed (the configuration's own one is `cert`/`key`). */
  clientCertificate?: { cert: string; key: string };
}

/**
 * A credential plugin failed: says the command's name and the exit code or reason, never what it
 * printed (its stdout holds the credential; its stderr may too).
 */
export class ExecCredentialError extends Error {
  /** The plugin's exit code, when it exited with one. */
  readonly exitCode: number | undefined;

  constructor(message: string, exitCode?: number) {
    super(message);
    this.name = 'ExecCredentialError';
    this.exitCode = exitCode;
  }
}

/** Checks a `users[].user.exec` entry and compiles it; `fail` throws with the field's path. */
export function execConfigOf(
  exec: Entry,
  at: {
    scope: string;
    base: string;
    cluster: Entry;
    ca: string | undefined;
    fail: (message: string) => never;
  },
): ExecConfig {
  const { scope, fail } = at;
  const apiVersion = exec.apiVersion;
  if (typeof apiVersion !== 'string' || !EXEC_API_VERSIONS.includes(apiVersion))
    return fail(`${scope}.apiVersion must be client.authentication.k8s.io/v1 or /v1beta1`);
  const mode = exec.interactiveMode;
  if (mode === undefined || mode === '') {
    // client-go requires it from v1 on; v1beta1 defaults to IfAvailable.
    if (apiVersion.endsWith('/v1'))
      return fail(`${scope}.interactiveMode must be set (Never or IfAvailable) for apiVersion v1`);
  } else if (mode === 'Always')
    return fail(
      `${scope}.interactiveMode Always needs a terminal; the server never runs a plugin interactively`,
    );
  else if (mode !== 'Never' && mode !== 'IfAvailable')
    return fail(`${scope}.interactiveMode must be Never, IfAvailable or Always`);
  const command = exec.command;
  if (typeof command !== 'string' || command === '') return fail(`${scope}.command is not set`);
  const args = exec.args ?? [];
  if (!Array.isArray(args)) return fail(`${scope}.args is not a list`);
  args.forEach((arg: unknown, i) => {
    if (typeof arg !== 'string') fail(`${scope}.args[${i}] is not a string`);
  });
  const envList = exec.env ?? [];
  if (!Array.isArray(envList)) return fail(`${scope}.env is not a list`);
  const env: Record<string, string> = {};
  envList.forEach((variable: unknown, i) => {
    if (
      !isEntry(variable) ||
      typeof variable.name !== 'string' ||
      variable.name === '' ||
      typeof variable.value !== 'string'
    )
      return fail(`${scope}.env[${i}] needs a name and a value`);
    env[variable.name] = variable.value;
  });
  const installHint =
    typeof exec.installHint === 'string' && exec.installHint !== '' ? exec.installHint : undefined;
  return {
    apiVersion,
    // As client-go: a command naming a relative path is found beside the kubeconfig; a bare name on PATH.
    command: command.includes(sep) && !isAbsolute(command) ? join(at.base, command) : command,
    args: args as string[],
    env,
    ...(installHint !== undefined ? { installHint } : {}),
    ...(exec.provideClusterInfo === true ? { cluster: execClusterOf(at.cluster, at.ca) } : {}),
  };
}

/** The cluster as KUBERNETES_EXEC_INFO gives it (client.authentication.k8s.io Cluster). */
function execClusterOf(cluster: Entry, ca: string | undefined): Record<string, unknown> {
  const extension = Array.isArray(cluster.extensions)
    ? (cluster.extensions as unknown[]).find(
        (item) => isEntry(item) && item.name === 'client.authentication.k8s.io/exec',
      )
    : undefined;
  return {
    server: cluster.server,
    ...(typeof cluster['tls-server-name'] === 'string'
      ? { 'tls-server-name': cluster['tls-server-name'] }
      : {}),
    ...(cluster['insecure-skip-tls-verify'] === true ? { 'insecure-skip-tls-verify': true } : {}),
    ...(ca !== undefined ? { 'certificate-authority-data': Buffer.from(ca).toString('base64') } : {}),
    ...(typeof cluster['proxy-url'] === 'string' ? { 'proxy-url': cluster['proxy-url'] } : {}),
    ...(cluster['disable-compression'] === true ? { 'disable-compression': true } : {}),
    ...(isEntry(extension) && extension.extension !== undefined ? { config: extension.extension } : {}),
  };
}

/**
 * Runs a credential plugin (client-go's exec protocol) and caches what it prints until shortly
 * before it expires. At most one run at a time: concurrent callers share it.
 */
export class ExecCredentialSource {
  readonly #config: ExecConfig;
  readonly #now: () => number;
  #cached: { credential: RequestCredential; expiresAt: number | undefined } | undefined;
  #running: Promise<RequestCredential> | undefined;

  constructor(config: ExecConfig, now: () => number) {
    this.#config = config;
    this.#now = now;
  }

  get(): Promise<RequestCredential> {
    const cached = this.#cached;
    if (
      cached !== undefined &&
      (cached.expiresAt === undefined || this.#now() < cached.expiresAt - EXEC_RENEW_BEFORE_MS)
    )
      return Promise.resolve(cached.credential);
    return this.#run();
  }

  /** A new credential unless one newer than `used` is already there or on its way. */
  async renew(used: RequestCredential): Promise<void> {
    if (this.#running !== undefined) {
      await this.#running;
      return;
    }
    if (this.#cached !== undefined && this.#cached.credential !== used) return;
    this.#cached = undefined;
    await this.#run();
  }

  #run(): Promise<RequestCredential> {
    this.#running ??= this.#execute().finally(() => (this.#running = undefined));
    return this.#running;
  }

  async #execute(): Promise<RequestCredential> {
    const config = this.#config;
    const name = basename(config.command);
    const info = {
      apiVersion: config.apiVersion,
      kind: 'ExecCredential',
      spec: { interactive: false, ...(config.cluster !== undefined ? { cluster: config.cluster } : {}) },
    };
    const stdout = await new Promise<string>((resolve, reject) => {
      const child = execFile(
        config.command,
        config.args,
        {
          env: { ...process.env, ...config.env, KUBERNETES_EXEC_INFO: JSON.stringify(info) },
          timeout: config.timeoutMs ?? EXEC_TIMEOUT_MS,
          maxBuffer: EXEC_MAX_OUTPUT,
          encoding: 'utf8',
          windowsHide: true,
        },
        (error, out) => (error ? reject(execFailure(error, config, name)) : resolve(out)),
      );
      child.stdin?.end(); // never interactive: the plugin reads no input
    });
    const credential = parseExecCredential(stdout, config.apiVersion, name);
    this.#cached = credential;
    return credential.credential;
  }
}

/** Why a plugin run failed, from the command's name, its exit code or signal: never its output. */
function execFailure(
  error: Error & { code?: unknown; signal?: unknown; killed?: boolean },
  config: ExecConfig,
  name: string,
): ExecCredentialError {
  const plugin = `the credential plugin ${name}`;
  if (error.code === 'ENOENT')
    return new ExecCredentialError(
      `${plugin} is not installed (${config.command} was not found)${config.installHint !== undefined ? `: ${config.installHint}` : ''}`,
    );
  if (error.code === 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER')
    return new ExecCredentialError(`${plugin} printed more than ${EXEC_MAX_OUTPUT} bytes`);
  if (typeof error.code === 'number')
    return new ExecCredentialError(`${plugin} exited with code ${error.code}`, error.code);
  if (error.killed === true && error.signal === 'SIGTERM')
    return new ExecCredentialError(
      `${plugin} did not finish within ${(config.timeoutMs ?? EXEC_TIMEOUT_MS) / 1000} s`,
    );
  if (typeof error.signal === 'string')
    return new ExecCredentialError(`${plugin} was ended by ${error.signal}`);
  return new ExecCredentialError(
    `${plugin} could not run (${typeof error.code === 'string' ? error.code : 'no reason given'})`,
  );
}

/** Reads the ExecCredential a plugin printed; errors name what is wrong, never a value. */
function parseExecCredential(
  stdout: string,
  apiVersion: string,
  name: string,
): { credential: RequestCredential; expiresAt: number | undefined } {
  const fail = (reason: string): never => {
    throw new ExecCredentialError(`the credential plugin ${name} ${reason}`);
  };
  let document: unknown;
  try {
    document = JSON.parse(stdout);
  } catch {
    return fail('printed no ExecCredential (not JSON)');
  }
  if (!isEntry(document) || document.kind !== 'ExecCredential')
    return fail('printed no ExecCredential (kind)');
  if (document.apiVersion !== apiVersion)
    return fail(`printed an ExecCredential of another apiVersion than ${apiVersion}`);
  const status = document.status;
  if (!isEntry(status)) return fail('printed an ExecCredential without status');
  const text = (field: string): string | undefined => {
    const value = status[field];
    if (value === undefined || value === '') return undefined;
    return typeof value === 'string'
      ? value
      : fail(`printed an ExecCredential whose status.${field} is not a string`);
  };
  const token = text('token');
  const cert = text('clientCertificateData');
  const key = text('clientKeyData');
  if ((cert === undefined) !== (key === undefined))
    return fail('printed a client certificate without its key, or a key without its certificate');
  if (token === undefined && cert === undefined)
    return fail('printed neither a token nor a client certificate and key');
  const expiry = text('expirationTimestamp');
  const expiresAt = expiry === undefined ? undefined : Date.parse(expiry);
  if (expiresAt !== undefined && Number.isNaN(expiresAt))
    return fail('printed an ExecCredential whose status.expirationTimestamp is not a time');
  return {
    credential: {
      authorization: token !== undefined ? `Bearer ${token}` : undefined,
      ...(cert !== undefined && key !== undefined ? { clientCertificate: { cert, key } } : {}),
    },
    expiresAt,
  };
}

export function isEntry(value: unknown): value is Entry {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
