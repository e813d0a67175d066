/**
 * Where kube-apiserver is and how the server authenticates to it: a kubeconfig file (the current
 * context's cluster, user and namespace) or the in-cluster service account. Only what the server
 * needs: a CA, client certificates, bearer tokens (also from a file, re-read as it rotates),
 * insecure-skip-tls-verify, and client-go credential plugins (`users[].user.exec`: EKS, GKE, AKS
 * and OIDC clusters; kube/rest/exec-credential.ts), run never interactively. Auth providers and
 * basic auth are refused at load with a clear message (kubectl removed auth providers too).
 */
import { readFileSync } from 'node:fs';
import type { RequestOptions } from 'node:https';
import { dirname, isAbsolute, join } from 'node:path';
import {
  ExecCredentialSource,
  execConfigOf,
  isEntry,
  type Entry,
  type ExecConfig,
  type RequestCredential,
} from './exec-credential.ts';

/** The service account's files inside a pod. */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** How often a token file is read again (client-go re-reads projected tokens every minute too). */
const TOKEN_FILE_TTL_MS = 60_000;

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

/** Thrown for a kubeconfig the server cannot use; names the file and the field. */
export class KubeConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KubeConfigError';
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

/** The `<field>` of the list item called `name` (`clusters[].cluster`, `users[].user`, ...). */
function named(list: unknown, name: string, field: string): Entry | undefined {
  if (!Array.isArray(list)) return undefined;
  const item: unknown = list.find((entry) => isEntry(entry) && entry.name === name);
  if (!isEntry(item)) return undefined;
  return isEntry(item[field]) ? item[field] : {};
}
