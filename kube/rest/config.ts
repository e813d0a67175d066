/**
 * Where kube-apiserver is and how the server authenticates to it: a kubeconfig file (the current
 * context's cluster, user and namespace) or the in-cluster service account. Only what the server
 * needs: a CA, client certificates, bearer tokens (also from a file, re-read as it rotates),
 * insecure-skip-tls-verify, and client-go credential plugins (`users[].user.exec`: EKS, GKE, AKS
 * and OIDC clusters), run never interactively. Auth providers and basic auth are refused at load
 * with a clear message (kubectl removed auth providers too).
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { RequestOptions } from 'node:https';
import { basename, dirname, isAbsolute, join, sep } from 'node:path';

/** The service account's files inside a pod. */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** How often a token file is read again (client-go re-reads projected tokens every minute too). */
const TOKEN_FILE_TTL_MS = 60_000;

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

/** A {@link RestConfig}'s parts, already read (PEM text, not paths). */
export interface RestConfigOptions {
  /** kube-apiserver's base URL, e.g. `https://10.96.0.1:443`. */
  server: string;
  /** PEM of the CA(s) trusted for kube-apiserver; the system roots when absent. */
  ca?: string;
  insecureSkipTLSVerify?: boolean;
  /** PEM client certificate and key. */
  cert?: string;
  key?: string;
  token?: string;
  /** A file holding the token, read again every minute (rotated service-account tokens). */
  tokenFile?: string;
  /** A credential plugin giving a token or a client certificate. */
  exec?: ExecConfig;
  /** The context's namespace (`default` when unset). */
  namespace?: string;
  /** Clock and reader for the token file (tests). */
  now?: () => number;
  readFile?: (path: string) => string;
}

/** A cluster entry, user entry or context entry as a kubeconfig file spells it. */
type Entry = Record<string, unknown>;

/** Thrown for a kubeconfig the server cannot use; names the file and the field. */
export class KubeConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KubeConfigError';
  }
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

/** The server's view of a kubeconfig: one cluster, one user, one namespace. */
export class RestConfig {
  readonly server: URL;
  readonly namespace: string;
  readonly ca: string | undefined;
  readonly insecureSkipTLSVerify: boolean;
  readonly cert: string | undefined;
  readonly key: string | undefined;
  readonly #token: string | undefined;
  readonly #tokenFile: string | undefined;
  readonly #now: () => number;
  readonly #readFile: (path: string) => string;
  #fileToken: { value: string; readAt: number } | undefined;
  readonly #exec: ExecCredentialSource | undefined;

  constructor(options: RestConfigOptions) {
    const server = URL.parse(options.server);
    if (server === null || (server.protocol !== 'https:' && server.protocol !== 'http:'))
      throw new KubeConfigError(`the cluster server ${JSON.stringify(options.server)} is not an http(s) URL`);
    if ((options.cert === undefined) !== (options.key === undefined))
      throw new KubeConfigError('a client certificate needs its key, and a key its certificate');
    this.server = server;
    this.namespace = options.namespace || 'default';
    this.ca = options.ca;
    this.insecureSkipTLSVerify = options.insecureSkipTLSVerify === true;
    this.cert = options.cert;
    this.key = options.key;
    this.#token = options.token || undefined;
    this.#tokenFile = options.tokenFile || undefined;
    this.#now = options.now ?? Date.now;
    this.#readFile = options.readFile ?? ((path) => readFileSync(path, 'utf8'));
    this.#exec = options.exec && new ExecCredentialSource(options.exec, this.#now);
  }

  /** Whether a credential plugin gives the credentials (then {@link credential} is the way to them). */
  get hasCredentialPlugin(): boolean {
    return this.#exec !== undefined;
  }

  /**
   * What the next request presents. With a credential plugin: its cached credential, or a new run
   * when there is none or it is about to expire (concurrent callers share one run).
   */
  async credential(): Promise<RequestCredential> {
    if (this.#exec !== undefined) return this.#exec.get();
    return { authorization: this.authorization() };
  }

  /**
   * After a 401 answer to a request that presented `used`: runs the plugin again (once for all the
   * requests that presented it) and says whether there is a new credential to retry with.
   */
  async renewAfterUnauthorized(used: RequestCredential): Promise<boolean> {
    if (this.#exec === undefined) return false;
    await this.#exec.renew(used);
    return true;
  }

  /** The `Authorization` header of the static credentials, if any: a token file is read again once a minute. */
  authorization(): string | undefined {
    if (this.#token !== undefined) return `Bearer ${this.#token}`;
    if (this.#tokenFile === undefined) return undefined;
    const now = this.#now();
    if (this.#fileToken === undefined || now - this.#fileToken.readAt >= TOKEN_FILE_TTL_MS) {
      try {
        this.#fileToken = { value: this.#readFile(this.#tokenFile).trim(), readAt: now };
      } catch (error) {
        // A rotation caught mid-write, or a short outage: keep the last token rather than none.
        if (this.#fileToken === undefined) throw error;
      }
    }
    return this.#fileToken.value ? `Bearer ${this.#fileToken.value}` : undefined;
  }

  /** The same cluster (address and TLS trust) with no credentials: the console's browsers bring theirs. */
  withoutCredentials(): RestConfig {
    return new RestConfig({
      server: this.server.href,
      ...(this.ca !== undefined ? { ca: this.ca } : {}),
      insecureSkipTLSVerify: this.insecureSkipTLSVerify,
      namespace: this.namespace,
    });
  }

  /** The current cluster's address (what the console forwarder reads). */
  getCurrentCluster(): { server: string } {
    return { server: this.server.href };
  }

  /** Sets TLS trust, client certificate and Authorization on `node:https` request options. */
  async applyToHTTPSOptions(options: RequestOptions): Promise<void> {
    if (this.ca !== undefined) options.ca = this.ca;
    if (this.cert !== undefined) options.cert = this.cert;
    if (this.key !== undefined) options.key = this.key;
    if (this.insecureSkipTLSVerify) options.rejectUnauthorized = false;
    const { authorization, clientCertificate } = await this.credential();
    if (clientCertificate !== undefined) Object.assign(options, clientCertificate);
    if (authorization !== undefined)
      options.headers = { ...(options.headers as Record<string, string>), Authorization: authorization };
  }
}

/**
 * Reads a kubeconfig file (YAML or JSON) and takes its current context. The YAML parser is loaded
 * only for a YAML file: in a pod (in-cluster configuration) the server never loads it.
 */
export async function loadKubeConfigFile(path: string): Promise<RestConfig> {
  const text = readFileSync(path, 'utf8');
  let document: unknown;
  try {
    document = text.trimStart().startsWith('{') ? JSON.parse(text) : (await import('yaml')).parse(text);
  } catch (error) {
    throw new KubeConfigError(`${path}: not YAML or JSON: ${(error as Error).message.split('\n')[0]}`);
  }
  return fromKubeConfigDocument(document, { path });
}

/** The current context of a parsed kubeconfig; relative file names are read from `path`'s directory. */
export function fromKubeConfigDocument(
  document: unknown,
  options: { path: string; now?: () => number },
): RestConfig {
  const where = options.path;
  const fail = (message: string): never => {
    throw new KubeConfigError(`${where}: ${message}`);
  };
  if (!isEntry(document)) return fail('not a kubeconfig (expected a mapping)');
  const current = document['current-context'];
  if (typeof current !== 'string' || current === '') return fail('current-context is not set');
  const context = named(document.contexts, current, 'context');
  if (context === undefined) return fail(`contexts: no context named ${JSON.stringify(current)}`);
  const clusterName = String(context.cluster ?? '');
  const cluster = named(document.clusters, clusterName, 'cluster');
  if (cluster === undefined) return fail(`clusters: no cluster named ${JSON.stringify(clusterName)}`);
  const userName = String(context.user ?? '');
  const user = userName ? named(document.users, userName, 'user') : {};
  if (user === undefined) return fail(`users: no user named ${JSON.stringify(userName)}`);
  if (user.exec !== undefined && user.exec !== null && !isEntry(user.exec))
    return fail(`users[${userName}].exec is not a mapping`);
  if (user['auth-provider'] !== undefined)
    return fail(
      `users[${userName}].auth-provider is not supported (kubectl removed it too); use an exec credential plugin (kubelogin, gke-gcloud-auth-plugin, aws eks get-token, ...)`,
    );
  for (const unsupported of ['username', 'password'])
    if (user[unsupported] !== undefined)
      return fail(
        `users[${userName}].${unsupported} is not supported by the server; use a client certificate, a token or an exec credential plugin`,
      );

  const base = dirname(where);
  const file = (name: string): string => readFileSync(isAbsolute(name) ? name : join(base, name), 'utf8');
  const pem = (entry: Entry, field: string, scope: string): string | undefined => {
    const data = entry[`${field}-data`];
    if (typeof data === 'string' && data !== '') return Buffer.from(data, 'base64').toString('utf8');
    const path = entry[field];
    if (typeof path === 'string' && path !== '') {
      try {
        return file(path);
      } catch (error) {
        return fail(`${scope}.${field}: ${(error as Error).message}`);
      }
    }
    return undefined;
  };
  const server = cluster.server;
  if (typeof server !== 'string' || server === '') return fail(`clusters[${clusterName}].server is not set`);
  const tokenFile = user.tokenFile;
  const ca = pem(cluster, 'certificate-authority', `clusters[${clusterName}]`);
  const cert = pem(user, 'client-certificate', `users[${userName}]`);
  const key = pem(user, 'client-key', `users[${userName}]`);
  const exec = isEntry(user.exec)
    ? execConfigOf(user.exec, { scope: `users[${userName}].exec`, base, cluster, ca, fail })
    : undefined;
  try {
    return new RestConfig({
      server,
      ...(ca !== undefined ? { ca } : {}),
      insecureSkipTLSVerify: cluster['insecure-skip-tls-verify'] === true,
      ...(cert !== undefined ? { cert } : {}),
      ...(key !== undefined ? { key } : {}),
      ...(typeof user.token === 'string' ? { token: user.token } : {}),
      ...(typeof tokenFile === 'string' && tokenFile !== ''
        ? { tokenFile: isAbsolute(tokenFile) ? tokenFile : join(base, tokenFile) }
        : {}),
      ...(typeof context.namespace === 'string' ? { namespace: context.namespace } : {}),
      ...(exec !== undefined ? { exec } : {}),
      ...(options.now !== undefined ? { now: options.now } : {}),
    });
  } catch (error) {
    return fail((error as Error).message);
  }
}

/** Checks a `users[].user.exec` entry and compiles it; `fail` throws with the field's path. */
function execConfigOf(
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
class ExecCredentialSource {
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

/** The in-cluster configuration: the service account's token (re-read as it rotates), CA and namespace. */
export function loadInClusterConfig(
  options: { env?: NodeJS.ProcessEnv; dir?: string; readFile?: (path: string) => string } = {},
): RestConfig {
  const env = options.env ?? process.env;
  const dir = options.dir ?? SERVICE_ACCOUNT_DIR;
  const read = options.readFile ?? ((path: string) => readFileSync(path, 'utf8'));
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port)
    throw new KubeConfigError(
      'not in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set (give --kubeconfig)',
    );
  const tokenFile = join(dir, 'token');
  let namespace: string | undefined;
  try {
    namespace = read(join(dir, 'namespace')).trim();
  } catch {
    namespace = undefined;
  }
  const config = new RestConfig({
    server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    ca: read(join(dir, 'ca.crt')),
    tokenFile,
    readFile: read,
    ...(namespace ? { namespace } : {}),
  });
  config.authorization(); // a missing token fails at start, not at the first call
  return config;
}

function isEntry(value: unknown): value is Entry {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The `<field>` of the list item called `name` (`clusters[].cluster`, `users[].user`, ...). */
function named(list: unknown, name: string, field: string): Entry | undefined {
  if (!Array.isArray(list)) return undefined;
  const item: unknown = list.find((entry) => isEntry(entry) && entry.name === name);
  if (!isEntry(item)) return undefined;
  return isEntry(item[field]) ? item[field] : {};
}
