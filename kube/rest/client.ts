/**
 * A narrow Kubernetes REST client on undici for the server: JSON objects by path (get, list,
 * create, replace, merge-patch, delete) and watch streams. It replaces @kubernetes/client-node on
 * the server's path, whose generated models cost ~75 MB of memory at import.
 *
 * Errors carry the method, the path and the HTTP status (and the Status `reason` word), never a
 * response body: a TokenReview's answer echoes the token it reviewed, a Secret's holds its values.
 */
import { Agent, type Dispatcher } from 'undici';
import type { RestConfig } from './config.ts';
import type { RequestCredential } from './exec-credential.ts';

/** A query string's values; undefined ones are left out. */
export type Query = Record<string, string | number | boolean | undefined>;

/** Options of one call. */
export interface CallOptions {
  query?: Query;
  /** Per-call deadline; the client's default (30 s) when unset. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** One event of a watch stream (`BOOKMARK` events carry only `metadata.resourceVersion`). */
export interface WatchEvent<T = KubeObject> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK';
  object: T;
}

/** The part of a Kubernetes object the client reads. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; resourceVersion?: string };
}

/** A list answer. */
export interface KubeList<T = KubeObject> {
  metadata?: { resourceVersion?: string; continue?: string };
  items?: T[];
}

/** A failed call: HTTP status (`code`, as client-node named it) and Status reason; never a body. */
export class KubeApiError extends Error {
  /** The HTTP status, or the `code` of a watch's ERROR event; undefined when no answer came. */
  readonly code: number | undefined;
  /** The Status `reason` (`NotFound`, `Conflict`, `Expired`, ...), when the answer had one. */
  readonly reason: string | undefined;

  constructor(message: string, options: { code?: number; reason?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'KubeApiError';
    this.code = options.code;
    this.reason = options.reason;
  }
}

const MERGE_PATCH = 'application/merge-patch+json';
/** Longest line a watch stream may send (one object); bigger objects end the watch with an error. */
const MAX_WATCH_LINE = 16 * 1024 * 1024;

/** Calls kube-apiserver with one {@link RestConfig}'s address, trust and credentials. */
export class KubeClient {
  readonly config: RestConfig;
  readonly #agent: Agent;
  readonly #timeoutMs: number;
  /** The connections presenting a credential plugin's client certificate (renewed with it). */
  #pluginAgent: { cert: string; agent: Agent } | undefined;

  constructor(config: RestConfig, options: { timeoutMs?: number } = {}) {
    this.config = config;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    // RestConfig refuses a certificate without its key, and a key without its certificate.
    this.#agent = connections(
      config,
      config.cert !== undefined ? { cert: config.cert, key: config.key as string } : undefined,
    );
  }

  /** GETs one object or list; 404 rejects with `code` 404. */
  get<T = KubeObject>(path: string, options?: CallOptions): Promise<T> {
    return this.request<T>('GET', path, options);
  }

  /** GETs a list. */
  list<T = KubeObject>(path: string, options?: CallOptions): Promise<KubeList<T>> {
    return this.request<KubeList<T>>('GET', path, options);
  }

  /** POSTs a new object to a collection path. */
  create<T = KubeObject>(path: string, body: unknown, options?: CallOptions): Promise<T> {
    return this.request<T>('POST', path, { ...options, body });
  }

  /** PUTs an object (with `metadata.resourceVersion` for optimistic concurrency: 409 when stale). */
  replace<T = KubeObject>(path: string, body: unknown, options?: CallOptions): Promise<T> {
    return this.request<T>('PUT', path, { ...options, body });
  }

  /** PATCHes with a JSON merge patch. */
  mergePatch<T = KubeObject>(path: string, patch: unknown, options?: CallOptions): Promise<T> {
    return this.request<T>('PATCH', path, { ...options, body: patch, contentType: MERGE_PATCH });
  }

  /** DELETEs an object; resolves with the answer (the object or a Status). */
  delete<T = KubeObject>(path: string, options?: CallOptions): Promise<T> {
    return this.request<T>('DELETE', path, options);
  }

  /** One call with a JSON body and a JSON answer. */
  async request<T>(
    method: string,
    path: string,
    options: CallOptions & { body?: unknown; contentType?: string } = {},
  ): Promise<T> {
    const { signal, done } = deadline(options.timeoutMs ?? this.#timeoutMs, options.signal);
    const body = options.body === undefined ? undefined : JSON.stringify(options.body);
    const contentType = body === undefined ? undefined : (options.contentType ?? 'application/json');
    let answer: Dispatcher.ResponseData;
    try {
      answer = await this.#authenticated(method, path, (agent, headers) =>
        agent.request({
          origin: this.config.server.origin,
          path: this.#path(path, options.query),
          method: method as Dispatcher.HttpMethod,
          headers: { ...headers, ...(contentType !== undefined ? { 'content-type': contentType } : {}) },
          ...(body === undefined ? {} : { body }),
          signal,
        }),
      );
    } catch (error) {
      done();
      if (error instanceof KubeApiError) throw error;
      throw transportError(method, path, error, signal);
    }
    try {
      if (answer.statusCode >= 300) throw await statusError(method, path, answer);
      const text = await answer.body.text();
      try {
        return JSON.parse(text) as T;
      } catch {
        // JSON.parse quotes the text it refuses: say only that it was not JSON.
        throw new KubeApiError(`${method} ${path}: the answer is not JSON`);
      }
    } catch (error) {
      if (error instanceof KubeApiError) throw error;
      throw transportError(method, path, error, signal);
    } finally {
      done();
      answer.body.resume();
    }
  }

  /**
   * Watches a collection path (`?watch=true` plus `query`): calls `onEvent` for each event until
   * the server ends the stream (resolves), the signal aborts (resolves), or a failure: an HTTP
   * error or an ERROR event (410 Gone: the resourceVersion is too old) rejects with its code.
   */
  async watch<T = KubeObject>(
    path: string,
    query: Query,
    onEvent: (event: WatchEvent<T>) => void,
    options: { signal?: AbortSignal; idleTimeoutMs?: number } = {},
  ): Promise<void> {
    let answer: Dispatcher.ResponseData;
    try {
      answer = await this.#authenticated('WATCH', path, (agent, headers) =>
        agent.request({
          origin: this.config.server.origin,
          path: this.#path(path, { ...query, watch: true }),
          method: 'GET',
          headers,
          headersTimeout: this.#timeoutMs,
          // Kubernetes ends a watch after `timeoutSeconds`; a silent connection ends after this.
          bodyTimeout: options.idleTimeoutMs ?? 0,
          ...(options.signal ? { signal: options.signal } : {}),
        }),
      );
    } catch (error) {
      if (options.signal?.aborted) return;
      if (error instanceof KubeApiError) throw error;
      throw transportError('WATCH', path, error);
    }
    if (answer.statusCode >= 300) {
      try {
        throw await statusError('WATCH', path, answer);
      } finally {
        answer.body.resume();
      }
    }
    let pending = '';
    try {
      answer.body.setEncoding('utf8');
      for await (const chunk of answer.body as AsyncIterable<string>) {
        pending += chunk;
        let newline: number;
        while ((newline = pending.indexOf('\n')) >= 0) {
          const line = pending.slice(0, newline).trim();
          pending = pending.slice(newline + 1);
          if (line !== '') deliver(line, onEvent, path);
        }
        if (pending.length > MAX_WATCH_LINE)
          throw new KubeApiError(`WATCH ${path}: an event is larger than ${MAX_WATCH_LINE} bytes`);
      }
      if (pending.trim() !== '') deliver(pending.trim(), onEvent, path);
    } catch (error) {
      answer.body.destroy();
      if (options.signal?.aborted) return;
      if (error instanceof KubeApiError) throw error;
      throw transportError('WATCH', path, error);
    }
  }

  /** Closes the client's connections. */
  async close(): Promise<void> {
    await Promise.all([this.#agent.close(), this.#pluginAgent?.agent.close()]);
  }

  /**
   * Sends with the configuration's credentials. With a credential plugin, a 401 answer runs the
   * plugin again and sends once more (client-go does the same); its failure rejects the call.
   */
  async #authenticated(
    method: string,
    path: string,
    send: (agent: Dispatcher, headers: Record<string, string>) => Promise<Dispatcher.ResponseData>,
  ): Promise<Dispatcher.ResponseData> {
    if (!this.config.hasCredentialPlugin) {
      const authorization = this.config.authorization();
      return send(this.#agent, authorization === undefined ? ACCEPT_JSON : { ...ACCEPT_JSON, authorization });
    }
    for (let attempt = 0; ; attempt++) {
      const credential = await this.#pluginCredential(method, path);
      const answer = await send(this.#agentFor(credential), {
        ...ACCEPT_JSON,
        ...(credential.authorization !== undefined ? { authorization: credential.authorization } : {}),
      });
      if (answer.statusCode !== 401 || attempt > 0) return answer;
      answer.body.resume();
      try {
        await this.config.renewAfterUnauthorized(credential);
      } catch (error) {
        throw pluginError(method, path, error);
      }
    }
  }

  async #pluginCredential(method: string, path: string): Promise<RequestCredential> {
    try {
      return await this.config.credential();
    } catch (error) {
      throw pluginError(method, path, error);
    }
  }

  /** The configuration's connections, or ones presenting the plugin's client certificate. */
  #agentFor(credential: RequestCredential): Dispatcher {
    const certificate = credential.clientCertificate;
    if (certificate === undefined) return this.#agent;
    if (this.#pluginAgent?.cert !== certificate.cert) {
      // The old connections finish their requests (a watch runs on), then close.
      void this.#pluginAgent?.agent.close();
      this.#pluginAgent = { cert: certificate.cert, agent: connections(this.config, certificate) };
    }
    return this.#pluginAgent.agent;
  }

  #path(path: string, query: Query | undefined): string {
    const base = this.config.server.pathname.replace(/\/$/, '');
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries(query ?? {}))
      if (value !== undefined) params.set(name, String(value));
    const search = params.toString();
    return `${base}${path}${search ? `?${search}` : ''}`;
  }
}

const ACCEPT_JSON: Readonly<Record<string, string>> = { accept: 'application/json' };

/** Connections to the configuration's server with its TLS trust, presenting `certificate` if given. */
function connections(config: RestConfig, certificate: { cert: string; key: string } | undefined): Agent {
  return new Agent({
    connect: {
      ...(config.ca !== undefined ? { ca: config.ca } : {}),
      ...(certificate !== undefined ? { cert: certificate.cert, key: certificate.key } : {}),
      rejectUnauthorized: !config.insecureSkipTLSVerify,
    },
  });
}

/** A credential plugin's failure as the call's error: its message names no output (see ExecCredentialError). */
function pluginError(method: string, path: string, error: unknown): KubeApiError {
  return new KubeApiError(`${method} ${path}: ${error instanceof Error ? error.message : String(error)}`, {
    reason: 'Unauthorized',
  });
}

/** Parses one watch line; an ERROR event (a Status) becomes a rejection with its code. */
function deliver<T>(line: string, onEvent: (event: WatchEvent<T>) => void, path: string): void {
  let event: { type?: unknown; object?: unknown };
  try {
    event = JSON.parse(line) as { type?: unknown; object?: unknown };
  } catch {
    throw new KubeApiError(`WATCH ${path}: the stream sent a line that is not JSON`);
  }
  if (event.type === 'ERROR') {
    const status = (event.object ?? {}) as { code?: unknown; reason?: unknown };
    const code = typeof status.code === 'number' ? status.code : undefined;
    throw new KubeApiError(`WATCH ${path} ended with an ERROR event${code ? ` (${code})` : ''}`, {
      ...(code !== undefined ? { code } : {}),
      ...reasonOf(status),
    });
  }
  if (
    event.type !== 'ADDED' &&
    event.type !== 'MODIFIED' &&
    event.type !== 'DELETED' &&
    event.type !== 'BOOKMARK'
  )
    return;
  if (typeof event.object !== 'object' || event.object === null) return;
  onEvent(event as WatchEvent<T>);
}

/** The error of a non-2xx answer: status and Status reason only (the body is read, then dropped). */
async function statusError(
  method: string,
  path: string,
  answer: Dispatcher.ResponseData,
): Promise<KubeApiError> {
  let reason: { reason?: string } = {};
  if (String(answer.headers['content-type'] ?? '').includes('json')) {
    try {
      reason = reasonOf(await answer.body.json());
    } catch {
      reason = {};
    }
  }
  return new KubeApiError(`${method} ${path} failed with HTTP ${answer.statusCode}`, {
    code: answer.statusCode,
    ...reason,
  });
}

/** A Status `reason` when it is one CamelCase word (anything else could be echoed input). */
function reasonOf(status: unknown): { reason?: string } {
  const reason = (status as { reason?: unknown } | null)?.reason;
  return typeof reason === 'string' && /^[A-Za-z]{1,64}$/.test(reason) ? { reason } : {};
}

/** A connection failure or timeout, in one line. */
function transportError(method: string, path: string, error: unknown, signal?: AbortSignal): KubeApiError {
  if (signal?.aborted && signal.reason instanceof DeadlineError)
    return new KubeApiError(`${method} ${path} timed out after ${signal.reason.ms} ms`, {
      reason: 'Timeout',
    });
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: unknown }).code;
  return new KubeApiError(
    `${method} ${path} failed: ${(message.split('\n')[0] ?? '').slice(0, 200)}${typeof code === 'string' && !message.includes(code) ? ` (${code})` : ''}`,
    { cause: error },
  );
}

class DeadlineError extends Error {
  constructor(readonly ms: number) {
    super(`deadline of ${ms} ms`);
  }
}

/** A signal that aborts after `ms` or with `outer`; `done` releases the timer and the listener. */
function deadline(ms: number, outer: AbortSignal | undefined): { signal: AbortSignal; done: () => void } {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new DeadlineError(ms)), ms);
  timer.unref();
  const forward = (): void => controller.abort(outer?.reason);
  if (outer?.aborted) forward();
  else outer?.addEventListener('abort', forward, { once: true });
  return {
    signal: controller.signal,
    done: () => {
      clearTimeout(timer);
      outer?.removeEventListener('abort', forward);
    },
  };
}

const shared = new WeakMap<RestConfig, KubeClient>();

/** The one client (one connection pool) of a configuration, shared by every adapter built from it. */
export function clientFor(config: RestConfig): KubeClient {
  let client = shared.get(config);
  if (client === undefined) {
    client = new KubeClient(config);
    shared.set(config, client);
  }
  return client;
}
