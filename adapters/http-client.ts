/**
 * The HTTP client tasks call upstreams with: undici `Agent.dispatch` with keep-alive pools per
 * origin, every destination checked by the egress policy, sockets pinned to checked addresses,
 * redirects refused or re-checked hop by hop, response bodies capped while they stream in.
 */
import { createRequire } from 'node:module';
import type { Agent as UndiciAgent } from 'undici';
import { SyncflowError } from '../core/errors.ts';
import { MAX_RESPONSE_BYTES_CEILING } from '../core/model/literals.ts';
import type { EgressPolicy } from './egress/policy.ts';
import type { CancelSignal } from '../core/engine/cancellation.ts';
import type { TaskHttpClient, TaskRequest, TaskResponse } from '../core/engine/task-http.ts';

// undici's Agent and its header parser only. The package index also loads fetch, WebSocket, cookies,
// caches and mocks (112 modules, and through the Headers global Node's own bundled undici): about
// 80 ms of every `syncflow run` (bench/README.md, CLI). Responses are received through the dispatch
// handler interface rather than the request API: no response stream per request, about a fifth of
// a hand-written undici caller's CPU per call less (bench/README.md, per-execution cost).
const load = createRequire(import.meta.url);
const Agent = load('undici/lib/dispatcher/agent.js') as typeof UndiciAgent;
const { parseHeaders } = load('undici/lib/core/util.js') as {
  parseHeaders(raw: Buffer[]): Record<string, string | string[]>;
};

/** Options of the undici-based client. */
export interface UndiciTaskClientOptions {
  policy: EgressPolicy;
  /** Idle keep-alive time of pooled connections (default 30s). */
  keepAliveTimeoutMs?: number;
  /** Connections per origin (default unlimited). */
  connectionsPerOrigin?: number;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
/** Headers that are credentials by definition, whatever their value. */
const CREDENTIAL_HEADERS = new Set(['authorization', 'cookie', 'proxy-authorization']);
const EMPTY = Buffer.alloc(0);

/** `TaskHttpClient` over one undici `Agent` whose sockets resolve through the egress policy. */
export class UndiciTaskClient implements TaskHttpClient {
  private readonly agent: UndiciAgent;
  private readonly policy: EgressPolicy;
  /** Parsed `scheme://host:port` prefixes of request URLs. */
  private readonly prefixes = new Map<string, Prefix>();
  /** The prefix used last: most requests go where the one before went, found without a slice. */
  private lastPrefix: Prefix | undefined = undefined;

  constructor(options: UndiciTaskClientOptions) {
    this.policy = options.policy;
    this.agent = new Agent({
      keepAliveTimeout: options.keepAliveTimeoutMs ?? 30_000,
      connections: options.connectionsPerOrigin ?? null,
      // Our own per-attempt timers govern; undici's 300s defaults must never fire first.
      headersTimeout: 0,
      bodyTimeout: 0,
      connect: { lookup: this.policy.lookup as never },
    });
  }

  send(request: TaskRequest): Promise<TaskResponse> {
    // Not an async function: the common answer (no redirect) settles the collector's own promise,
    // with no await hop in between; a redirect is followed from the collector (`redirected`).
    try {
      const text = request.url;
      const prefix = this.prefixOf(text);
      if (prefix) {
        const path = text.slice(prefix.text.length);
        return this.hop(
          request,
          0,
          prefix.url,
          prefix.origin,
          path,
          request.method,
          request.body,
          request.headers,
          true,
        );
      }
      const url = parseUrl(text);
      const path = url.pathname + url.search;
      return this.hop(
        request,
        0,
        url,
        url.origin,
        path,
        request.method,
        request.body,
        request.headers,
        false,
      );
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Sends hop `hop` of a request; the promise settles with the final answer after any redirects. */
  private hop(
    request: TaskRequest,
    hop: number,
    url: URL,
    origin: string,
    path: string,
    method: string,
    body: string | undefined,
    headers: Record<string, string>,
    prefixOnly: boolean,
  ): Promise<CollectedResponse> {
    const decision = this.policy.checkUrl(url);
    if (!decision.allowed)
      throw new SyncflowError('EgressDenied', `egress to ${url.host} denied: ${decision.reason}`);
    const limit = Math.min(request.maxResponseBytes, MAX_RESPONSE_BYTES_CEILING);
    const collector = new ResponseCollector(
      this,
      request,
      hop,
      url,
      method,
      body,
      headers,
      prefixOnly,
      limit,
    );
    return collector.dispatch(this.agent, { origin, path, method, headers, body });
  }

  /** Follows a redirect answered to hop `at.hop`: the next hop's promise, or a refusal. */
  redirected(at: NextHop, response: CollectedResponse): Promise<CollectedResponse> {
    const { request, hop, url } = at;
    let { method, body, headers } = at;
    const location = response.headers.location as string;
    if (hop >= this.policy.maxRedirects) {
      throw new SyncflowError(
        'RedirectRefused',
        `upstream answered ${response.status} redirecting to ${location}; redirects are not followed`,
      );
    }
    const next = parseUrl(location, hop === 0 && at.prefixOnly ? parseUrl(request.url) : url);
    if (
      response.status === 303 ||
      ((response.status === 301 || response.status === 302) && method === 'POST')
    ) {
      method = 'GET';
      body = undefined;
    }
    if (next.origin !== url.origin) {
      // Credentials are for the origin the task named, never for where it sends us.
      if (body !== undefined && request.secretBody) {
        throw new SyncflowError(
          'RedirectRefused',
          `upstream answered ${response.status} redirecting to another origin (${next.host}); the request body carries a secret and is not sent there`,
        );
      }
      const secret = request.secretHeaders;
      headers = Object.fromEntries(
        Object.entries(headers).filter(
          ([k]) => !CREDENTIAL_HEADERS.has(k.toLowerCase()) && !secret?.has(k.toLowerCase()),
        ),
      );
    }
    const path = next.pathname + next.search;
    return this.hop(request, hop + 1, next, next.origin, path, method, body, headers, false);
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  /**
   * Where a request goes, when its URL need not be parsed. A URL whose path and query the WHATWG
   * parser would leave exactly as they are (the usual case: templates percent-encode what they
   * substitute) is not parsed per request: its scheme, host and port part is parsed once and kept.
   * `undefined`: parse the whole URL.
   */
  private prefixOf(text: string): Prefix | undefined {
    const authority = text.indexOf('://');
    const slash = authority < 0 ? -1 : text.indexOf('/', authority + 3);
    if (slash <= 0) return undefined;
    const path = text.slice(slash);
    if (!CANONICAL_PATH.test(path) || DOT_SEGMENT.test(path)) return undefined;
    const last = this.lastPrefix;
    if (last !== undefined && last.text.length === slash && text.startsWith(last.text)) return last;
    const key = text.slice(0, slash);
    let prefix = this.prefixes.get(key);
    if (prefix === undefined) {
      const url = URL.canParse(key) ? new URL(key) : undefined;
      // A prefix the parser reads differently without its path (`http:///host/`, a `?`, `#` or
      // a backslash inside it) is not reused: the whole URL is parsed, as before.
      if (!url || url.pathname !== '/' || url.search || url.hash) return undefined;
      if (this.prefixes.size >= PREFIX_CACHE_LIMIT) this.prefixes.clear();
      prefix = { text: key, url, origin: url.origin };
      this.prefixes.set(key, prefix);
    }
    this.lastPrefix = prefix;
    return prefix;
  }
}

/** A parsed `scheme://host:port` prefix, with its origin (a getter that builds a string each call). */
interface Prefix {
  text: string;
  url: URL;
  origin: string;
}

/**
 * Paths and queries the WHATWG URL parser serialises unchanged for http(s): a leading `/`, then only
 * characters outside its path and special-query percent-encode sets (no space, quotes, `<>`,
 * backquote, braces, backslash, control or non-ASCII characters), and no fragment.
 */
const CANONICAL_PATH = /^\/[A-Za-z0-9\-._~!$&()*+,;=:@%/?]*$/;
/** A `.` or `..` path segment in any spelling (the parser removes them). */
const DOT_SEGMENT = /\/(?:\.|%2e){1,2}(?:[/?]|$)/i;
/** Distinct scheme-host-port prefixes kept at most (tasks name few origins; a host template may name more). */
const PREFIX_CACHE_LIMIT = 1_000;

function parseUrl(text: string, base?: URL): URL {
  try {
    return new URL(text, base);
  } catch (error) {
    throw new SyncflowError('TemplateResolution', `\`${text}\` is not a valid URL`, { cause: error });
  }
}

/** A response as `send` returns it. */
type CollectedResponse = TaskResponse;

/** What a redirect answered to one hop needs to send the next. */
interface NextHop {
  readonly request: TaskRequest;
  readonly hop: number;
  readonly url: URL;
  readonly method: string;
  readonly body: string | undefined;
  readonly headers: Record<string, string>;
  readonly prefixOnly: boolean;
}

/** Bytes of a redirect's body read and dropped before the connection is given up instead. */
const REDIRECT_BODY_DRAIN_LIMIT = 128 * 1024;

/**
 * Receives one response through undici's dispatch handler interface: status, headers (parsed as
 * undici's request API parses them) and the body, capped at `limit` while it streams in, collected
 * into one Buffer. No response stream is built. The body of a redirect is read and dropped (up to
 * {@link REDIRECT_BODY_DRAIN_LIMIT}, then the connection is closed), as a dump of the stream did,
 * and the redirect is followed (or refused) by the client; the promise settles with the final answer.
 */
class ResponseCollector implements NextHop {
  private readonly signal: CancelSignal;
  private status = 0;
  private headersIn: TaskResponse['headers'] = {};
  /** The body's first chunk; later ones (rare for task-sized answers) go to `more`. */
  private first: Buffer | undefined = undefined;
  private more: Buffer[] | undefined = undefined;
  private size = 0;
  private declared = -1;
  private discard = false;
  private abortRequest: ((reason: Error) => void) | undefined = undefined;
  private settled = false;
  private resolve!: (response: CollectedResponse) => void;
  private reject!: (error: unknown) => void;

  constructor(
    private readonly client: UndiciTaskClient,
    readonly request: TaskRequest,
    readonly hop: number,
    readonly url: URL,
    readonly method: string,
    readonly body: string | undefined,
    readonly headers: Record<string, string>,
    readonly prefixOnly: boolean,
    private readonly limit: number,
  ) {
    this.signal = request.signal;
  }

  dispatch(agent: UndiciAgent, options: Parameters<UndiciAgent['dispatch']>[0]): Promise<CollectedResponse> {
    const done = new Promise<CollectedResponse>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    if (this.signal.aborted) {
      this.fail(this.signal.reason);
      return done;
    }
    // The collector itself is the abort listener (handleEvent): no closure per request.
    this.signal.once('abort', this);
    agent.dispatch(options, this as unknown as Parameters<UndiciAgent['dispatch']>[1]);
    return done;
  }

  /** The request's signal aborted. */
  handleEvent(): void {
    const reason = this.signal.reason as Error;
    this.abortRequest?.(reason);
    this.fail(reason);
  }

  onConnect(abort: (reason: Error) => void): void {
    if (this.settled) abort(this.signal.reason as Error);
    else this.abortRequest = abort;
  }

  onHeaders(status: number, rawHeaders: Buffer[]): boolean {
    // 1xx informational responses precede the real one.
    if (status < 200) return true;
    this.status = status;
    const headers = parseHeaders(rawHeaders) as TaskResponse['headers'];
    this.headersIn = headers;
    const location = headers.location;
    if (REDIRECTS.has(status) && typeof location === 'string') {
      this.discard = true;
      return true;
    }
    const length = headers['content-length'];
    this.declared = typeof length === 'string' ? Number(length) : NaN;
    if (this.declared > this.limit) this.abortWith(tooLarge(this.limit, this.url));
    return true;
  }

  onData(chunk: Buffer): boolean {
    this.size += chunk.length;
    if (this.discard) {
      if (this.size > REDIRECT_BODY_DRAIN_LIMIT) {
        // Settled first: the abort reports itself through onError at once.
        this.succeed(EMPTY);
        this.abortRequest?.(new Error('redirect body not read further'));
      }
      return true;
    }
    if (this.size > this.limit) {
      this.abortWith(tooLarge(this.limit, this.url));
      return false;
    }
    if (this.first === undefined) this.first = chunk;
    else (this.more ??= [this.first]).push(chunk);
    return true;
  }

  onComplete(): void {
    if (this.discard || this.first === undefined) this.succeed(EMPTY);
    else this.succeed(this.more ? Buffer.concat(this.more, this.size) : this.first);
  }

  onError(error: Error): void {
    this.fail(error);
  }

  private abortWith(error: SyncflowError): void {
    this.fail(error);
    this.abortRequest?.(error);
  }

  private succeed(body: Buffer): void {
    if (this.settled) return;
    this.settled = true;
    this.signal.removeListener('abort', this);
    const response: CollectedResponse = { status: this.status, headers: this.headersIn, body };
    if (!this.discard) {
      this.resolve(response);
      return;
    }
    // Followed once undici is done with this response (outside its handler callbacks).
    Promise.resolve(response)
      .then((redirect) => this.client.redirected(this, redirect))
      .then(this.resolve, this.reject);
  }

  /** Settles with a failure of this hop: policy errors and aborts as they are, anything else a ConnectError. */
  private fail(error: unknown): void {
    if (this.settled) return;
    this.settled = true;
    this.signal.removeListener('abort', this);
    this.reject(connectFailure(error, this.signal, this.url));
  }
}

function tooLarge(limit: number, url: URL): SyncflowError {
  return new SyncflowError(
    'ResponseTooLarge',
    `response too large: the body from ${url.host} exceeds the limit of ${limit} bytes (maxResponseBytes)`,
  );
}

/** Keeps policy errors and aborts as they are; every other transport failure is a ConnectError. */
function connectFailure(error: unknown, signal: CancelSignal, url: URL): unknown {
  if (signal.aborted) return signal.reason;
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    if (e instanceof SyncflowError) return e;
  }
  if ((error as { code?: string } | undefined)?.code === 'UND_ERR_INVALID_ARG') {
    // A templated header or URL produced something HTTP cannot carry: not worth retrying.
    return new SyncflowError(
      'TemplateResolution',
      `invalid request to ${url.host}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  const detail =
    error instanceof Error ? ((error as { code?: string }).code ?? error.message) : String(error);
  return new SyncflowError('ConnectError', `cannot reach ${url.host}: ${detail}`, { cause: error });
}
