/**
 * The authentication trust Kubernetes publishes for extension API servers in ConfigMap
 * `kube-system/extension-apiserver-authentication`: the cluster client CA and the front-proxy
 * (requestheader) CA, allowed names and header names. Parsed and compiled once per change; kept in
 * sync by {@link AuthenticationConfigWatcher} so CA rotations apply without a restart.
 */
import { AUTHENTICATION_CONFIGMAP, type ConfigMapSource } from '../../kube/configmap-source.ts';
import { EventEmitter } from 'node:events';
import { SyncflowError, type FieldError } from '../../core/errors.ts';
import { parseCertificateBundle, type TrustedCertificate } from './certificates.ts';
import { errorFields, SILENT_LOGGER, type Logger } from '../../core/logger.ts';

/** Front-proxy (requestheader) authentication settings. */
export interface RequestHeaderConfig {
  /** PEM bundle of the CA(s) that sign the front proxy's client certificate. */
  clientCA: string;
  /** Common names the front proxy's certificate may have; empty = any certificate signed by `clientCA`. */
  allowedNames: string[];
  usernameHeaders: string[];
  uidHeaders: string[];
  groupHeaders: string[];
  extraHeaderPrefixes: string[];
}

/** Client-certificate and front-proxy trust, as read from the ConfigMap. */
export interface AuthenticationConfig {
  /** PEM bundle of the cluster client CA; absent = client certificates are not accepted. */
  clientCA?: string;
  /** Absent = the front proxy is not trusted (its headers are ignored). */
  requestHeader?: RequestHeaderConfig;
}

/** The ConfigMap keys, as kube-apiserver writes them. */
export const CONFIGMAP_KEYS = {
  clientCA: 'client-ca-file',
  requestHeaderClientCA: 'requestheader-client-ca-file',
  allowedNames: 'requestheader-allowed-names',
  usernameHeaders: 'requestheader-username-headers',
  uidHeaders: 'requestheader-uid-headers',
  groupHeaders: 'requestheader-group-headers',
  extraHeaderPrefixes: 'requestheader-extra-headers-prefix',
} as const;

const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const WHERE = `ConfigMap ${AUTHENTICATION_CONFIGMAP.namespace}/${AUTHENTICATION_CONFIGMAP.name}`;

/**
 * Parses the ConfigMap's `data`. Collects every problem and throws one SyncflowError (FieldInvalid)
 * whose causes name each key (`data[requestheader-allowed-names]`) and how to fix it.
 */
export function parseAuthenticationConfigMap(data: Record<string, string>): AuthenticationConfig {
  const errors: FieldError[] = [];
  const config: AuthenticationConfig = {};
  const clientCA = nonEmpty(data[CONFIGMAP_KEYS.clientCA]);
  if (clientCA !== undefined && checkBundle(CONFIGMAP_KEYS.clientCA, clientCA, errors))
    config.clientCA = clientCA;
  const requestHeaderCA = nonEmpty(data[CONFIGMAP_KEYS.requestHeaderClientCA]);
  const lists = {
    allowedNames: stringList(data, CONFIGMAP_KEYS.allowedNames, false, errors),
    usernameHeaders: stringList(data, CONFIGMAP_KEYS.usernameHeaders, true, errors),
    uidHeaders: stringList(data, CONFIGMAP_KEYS.uidHeaders, true, errors),
    groupHeaders: stringList(data, CONFIGMAP_KEYS.groupHeaders, true, errors),
    extraHeaderPrefixes: stringList(data, CONFIGMAP_KEYS.extraHeaderPrefixes, true, errors),
  };
  if (
    requestHeaderCA !== undefined &&
    checkBundle(CONFIGMAP_KEYS.requestHeaderClientCA, requestHeaderCA, errors)
  ) {
    config.requestHeader = { clientCA: requestHeaderCA, ...lists };
  }
  if (errors.length > 0) {
    throw new SyncflowError(
      'FieldInvalid',
      `${WHERE} is invalid: ${errors.map((e) => `${e.field}: ${e.message}`).join('; ')}`,
      {
        causes: errors,
      },
    );
  }
  compileAuthenticationConfig(config);
  return config;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}

function field(key: string): string {
  return `data[${key}]`;
}

function checkBundle(key: string, pem: string, errors: FieldError[]): boolean {
  try {
    parseCertificateBundle(pem);
    return true;
  } catch (cause) {
    errors.push({
      code: 'FieldInvalid',
      field: field(key),
      message: `not a PEM certificate bundle (${(cause as Error).message})`,
      suggestion: `set it to the PEM of the CA, as kube-apiserver does from its --${key} flag`,
    });
    return false;
  }
}

/** A JSON array of strings (kube-apiserver's encoding); absent or empty = []. */
function stringList(
  data: Record<string, string>,
  key: string,
  headerNames: boolean,
  errors: FieldError[],
): string[] {
  const raw = nonEmpty(data[key]);
  if (raw === undefined) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    parsed = undefined;
  }
  if (parsed === null) return [];
  if (!Array.isArray(parsed) || !parsed.every((item) => typeof item === 'string')) {
    errors.push({
      code: 'FieldInvalid',
      field: field(key),
      message: 'must be a JSON array of strings',
      suggestion: `write it as kube-apiserver does, e.g. ${key}: '["${headerNames ? 'X-Remote-User' : 'front-proxy-client'}"]'`,
    });
    return [];
  }
  const values = (parsed as string[]).filter((value) => value !== '');
  if (headerNames) {
    for (const name of values) {
      if (!HEADER_NAME.test(name)) {
        errors.push({
          code: 'FieldInvalid',
          field: field(key),
          message: `${JSON.stringify(name)} is not a valid HTTP header name`,
          suggestion: 'use letters, digits and "-" only, e.g. X-Remote-Extra-',
        });
      }
    }
  }
  return values;
}

/** Front-proxy settings ready for the hot path: parsed CAs, lowercased header names, a name set. */
export interface CompiledRequestHeader {
  cas: TrustedCertificate[];
  /** Empty = any common name. */
  allowedNames: ReadonlySet<string>;
  usernameHeaders: string[];
  uidHeaders: string[];
  groupHeaders: string[];
  extraHeaderPrefixes: string[];
}

/** {@link AuthenticationConfig} compiled for the authenticators. */
export interface CompiledAuthenticationConfig {
  clientCAs?: TrustedCertificate[];
  requestHeader?: CompiledRequestHeader;
}

const compiledConfigs = new WeakMap<AuthenticationConfig, CompiledAuthenticationConfig>();

/** Compiles a config once (memoized per object; configs are replaced, never mutated). */
export function compileAuthenticationConfig(config: AuthenticationConfig): CompiledAuthenticationConfig {
  let compiled = compiledConfigs.get(config);
  if (compiled === undefined) {
    compiled = {};
    if (config.clientCA !== undefined) compiled.clientCAs = parseCertificateBundle(config.clientCA);
    const rh = config.requestHeader;
    if (rh !== undefined) {
      const lower = (names: string[]): string[] => names.map((name) => name.toLowerCase());
      compiled.requestHeader = {
        cas: parseCertificateBundle(rh.clientCA),
        allowedNames: new Set(rh.allowedNames),
        usernameHeaders: lower(rh.usernameHeaders),
        uidHeaders: lower(rh.uidHeaders),
        groupHeaders: lower(rh.groupHeaders),
        extraHeaderPrefixes: lower(rh.extraHeaderPrefixes),
      };
    }
    compiledConfigs.set(config, compiled);
  }
  return compiled;
}

/**
 * The CA bundles to give the HTTPS server as `ca` (front-proxy CA first, then the client CA): OpenSSL
 * verifies client chains against their union at the handshake, and the authenticators require that
 * verdict, then classify which bundle the chain leads to. Rebuild the TLS context from the same
 * config on every change (`change` event), so OpenSSL and the classification see the same CAs.
 */
export function tlsClientCAs(config: AuthenticationConfig | undefined): string[] {
  return [config?.requestHeader?.clientCA, config?.clientCA].filter(
    (pem): pem is string => pem !== undefined,
  );
}

/** Where the authenticators read the current configuration from. */
export type AuthenticationConfigProvider =
  AuthenticationConfig | { current(): AuthenticationConfig | undefined };

/** The current compiled configuration of a provider (a fixed config or a watcher). */
export function currentCompiledConfig(
  provider: AuthenticationConfigProvider,
): CompiledAuthenticationConfig | undefined {
  const config =
    'current' in provider && typeof provider.current === 'function'
      ? provider.current()
      : (provider as AuthenticationConfig);
  return config === undefined ? undefined : compileAuthenticationConfig(config);
}

/** Options of {@link AuthenticationConfigWatcher}. */
export interface AuthenticationConfigWatcherOptions {
  source: ConfigMapSource;
  logger?: Logger;
  /** Re-read the ConfigMap this often besides watching (a missed watch event heals); 0 = never. Default 60 s. */
  resyncIntervalMs?: number;
}

/** Events of {@link AuthenticationConfigWatcher}. */
export interface AuthenticationConfigWatcherEvents {
  /** A new valid configuration is in effect. */
  change: [config: AuthenticationConfig, previous: AuthenticationConfig | undefined];
  /** A changed ConfigMap was invalid or deleted; the previous configuration stays in effect. */
  rejected: [error: Error];
}

/**
 * Keeps an {@link AuthenticationConfig} in sync with the ConfigMap. An invalid or deleted ConfigMap
 * never replaces a working configuration: the old one is kept, a warning logged and `rejected`
 * emitted. Listen to `change` to update the TLS context (`server.setSecureContext`).
 */
export class AuthenticationConfigWatcher extends EventEmitter<AuthenticationConfigWatcherEvents> {
  readonly #source: ConfigMapSource;
  readonly #logger: Logger;
  readonly #resyncIntervalMs: number;
  #config: AuthenticationConfig | undefined;
  #fingerprint: string | undefined;
  #stopWatch: (() => void) | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: AuthenticationConfigWatcherOptions) {
    super();
    this.#source = options.source;
    this.#logger = options.logger ?? SILENT_LOGGER;
    this.#resyncIntervalMs = options.resyncIntervalMs ?? 60_000;
  }

  /** The configuration in effect; undefined before {@link start} succeeded. */
  current(): AuthenticationConfig | undefined {
    return this.#config;
  }

  /**
   * Reads the ConfigMap, then watches it. Rejects (ServiceUnavailable) when it cannot be read, is
   * missing or invalid, so the server does not start with an authentication it cannot honour.
   */
  async start(): Promise<AuthenticationConfig> {
    let data: Record<string, string> | undefined;
    try {
      data = await this.#source.get();
    } catch (cause) {
      throw new SyncflowError(
        'ServiceUnavailable',
        `cannot read ${WHERE}: ${(cause as Error).message}; grant the server's ServiceAccount the Role extension-apiserver-authentication-reader in kube-system`,
        { cause },
      );
    }
    if (data === undefined) {
      throw new SyncflowError(
        'ServiceUnavailable',
        `${WHERE} does not exist; kube-apiserver creates it when started with --client-ca-file and --requestheader-client-ca-file`,
      );
    }
    try {
      this.#apply(data);
    } catch (cause) {
      throw new SyncflowError('ServiceUnavailable', (cause as Error).message, { cause });
    }
    this.#stopWatch = this.#source.watch((changed) => this.#onData(changed));
    if (this.#resyncIntervalMs > 0) {
      this.#timer = setInterval(() => void this.resync(), this.#resyncIntervalMs);
      this.#timer.unref();
    }
    return this.#config as AuthenticationConfig;
  }

  /** Re-reads the ConfigMap now; failures are logged and the current configuration kept. */
  async resync(): Promise<void> {
    try {
      this.#onData(await this.#source.get());
    } catch (error) {
      this.#logger.warn(
        { ...errorFields(error), configMap: WHERE },
        'cannot re-read the authentication ConfigMap; keeping the current configuration',
      );
    }
  }

  /** Stops watching and resyncing. */
  stop(): void {
    this.#stopWatch?.();
    this.#stopWatch = undefined;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #onData(data: Record<string, string> | undefined): void {
    if (data === undefined) {
      this.#reject(new Error(`${WHERE} was deleted; keeping the last configuration until it is recreated`));
      return;
    }
    try {
      this.#apply(data);
    } catch (error) {
      this.#reject(error as Error);
    }
  }

  #reject(error: Error): void {
    this.#logger.warn(
      { ...errorFields(error), configMap: WHERE },
      'authentication ConfigMap change rejected; keeping the current configuration',
    );
    this.emit('rejected', error);
  }

  #apply(data: Record<string, string>): void {
    const fingerprint = JSON.stringify(Object.values(CONFIGMAP_KEYS).map((key) => data[key] ?? null));
    if (fingerprint === this.#fingerprint) return;
    const config = parseAuthenticationConfigMap(data);
    const previous = this.#config;
    this.#config = config;
    this.#fingerprint = fingerprint;
    this.#logger.info(
      {
        configMap: WHERE,
        clientCA: config.clientCA !== undefined,
        requestHeader: config.requestHeader !== undefined,
        allowedNames: config.requestHeader?.allowedNames ?? [],
      },
      previous === undefined ? 'authentication configuration loaded' : 'authentication configuration changed',
    );
    this.emit('change', config, previous);
  }
}
