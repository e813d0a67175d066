/**
 * Request authentication as Kubernetes' delegating authenticator does it for extension API servers:
 * front-proxy client certificate + `X-Remote-*` headers, cluster client certificates, and bearer
 * tokens through TokenReview, tried in that order.
 */
import { createHash, type X509Certificate } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Registry } from 'prom-client';
import { SyncflowError } from '../../core/errors.ts';
import { currentCompiledConfig, type AuthenticationConfigProvider } from './authentication-config.ts';
import {
  acceptClientCertificate,
  commonName,
  peerCertificates,
  subjectAttributes,
  type HandshakeVerdict,
  type TrustedCertificate,
} from './certificates.ts';
import type { ReviewClient } from '../../kube/reviews.ts';
import { errorFields, SILENT_LOGGER, type Logger } from '../../core/logger.ts';
import { createAuthnMetrics, type AuthnMetrics } from './metrics.ts';
import { TtlCache, type Clock } from '../../core/ttl-cache.ts';
import { ANONYMOUS_USER, withAuthenticatedGroup, type UserInfo } from './user.ts';

/** What authentication looks at in a request. */
export interface AuthRequest {
  headers: IncomingHttpHeaders;
  /**
   * The same headers with repeated lines kept apart (`IncomingMessage.headersDistinct`). Node joins
   * repeated custom headers with ", " in `headers`; Kubernetes treats each `X-Remote-Group` line as
   * one group, so pass this when available. Without it a header value is taken whole.
   */
  headersDistinct?: NodeJS.Dict<string[]>;
  /** Client certificate chain, leaf first; empty if none. */
  peerCertificateChain: X509Certificate[];
  /**
   * OpenSSL's verdict on that chain at the TLS handshake. Absent = not verified: every client
   * certificate is then refused.
   */
  peerCertificateVerdict?: HandshakeVerdict;
}

/** Turns one request's credentials into a user. */
export interface Authenticator {
  /**
   * The user, or undefined when the request carries no credentials this authenticator understands.
   * Throws SyncflowError Unauthorized for bad credentials, ServiceUnavailable when a review failed.
   */
  authenticate(req: AuthRequest): Promise<UserInfo | undefined>;
}

/** The {@link AuthRequest} of a Node HTTPS request (headers, the TLS peer chain and OpenSSL's verdict on it). */
export function authRequestFrom(req: IncomingMessage): AuthRequest {
  return new NodeAuthRequest(req);
}

const NO_CERTIFICATES: X509Certificate[] = Object.freeze([]) as unknown as X509Certificate[];

/**
 * An {@link AuthRequest} over a Node request: one per request on the hot path, so a class (its
 * getter on the prototype) rather than an object literal with an accessor, and the connection's
 * certificates in one lookup.
 */
class NodeAuthRequest implements AuthRequest {
  readonly headers: IncomingHttpHeaders;
  readonly peerCertificateChain: X509Certificate[];
  readonly peerCertificateVerdict?: HandshakeVerdict;
  readonly #req: IncomingMessage;

  constructor(req: IncomingMessage) {
    this.#req = req;
    this.headers = req.headers;
    const socket = req.socket as Partial<TLSSocket>;
    if (typeof socket.getPeerCertificate === 'function') {
      const peer = peerCertificates(socket as TLSSocket);
      this.peerCertificateChain = peer.chain;
      this.peerCertificateVerdict = peer.verdict;
    } else this.peerCertificateChain = NO_CERTIFICATES;
  }

  // Node builds headersDistinct on first read (an object and an array per header): only when a
  // header value looks joined is it read.
  get headersDistinct(): NodeJS.Dict<string[]> {
    return this.#req.headersDistinct;
  }
}

function headerValues(req: AuthRequest, name: string): string[] {
  const value = req.headers[name];
  if (value === undefined) return [];
  if (Array.isArray(value)) return value;
  // Repeated lines of a custom header arrive joined with ", ": only then are the lines needed.
  if (!value.includes(',')) return [value];
  return req.headersDistinct?.[name] ?? [value];
}

/** First non-empty value among `names`, in order (Go's `Header.Get` per name). */
function firstValue(req: AuthRequest, names: string[]): string | undefined {
  for (const name of names) {
    const value = headerValues(req, name)[0];
    if (value !== undefined && value !== '') return value;
  }
  return undefined;
}

function allValues(req: AuthRequest, names: string[]): string[] {
  return names.flatMap((name) => headerValues(req, name));
}

/** The first of `prefixes` that `name` starts with (a loop: this runs for every header of every request). */
function matchingPrefix(name: string, prefixes: readonly string[]): string | undefined {
  for (const prefix of prefixes) if (name.startsWith(prefix)) return prefix;
  return undefined;
}

/** Kubernetes' extra-key decoding: lowercase, then percent-decode; an undecodable key is kept as is. */
function extraKey(encoded: string): string {
  const lower = encoded.toLowerCase();
  try {
    return decodeURIComponent(lower);
  } catch {
    return lower;
  }
}

/** Options shared by the certificate authenticators. */
export interface CertificateAuthenticatorOptions {
  config: AuthenticationConfigProvider;
  now?: Clock;
}

/**
 * The leaf of the request's client certificate once OpenSSL verified its chain and it leads to `cas`;
 * undefined when there is no certificate or no CA configured; Unauthorized (naming `what`) otherwise.
 */
function verifiedLeaf(
  req: AuthRequest,
  cas: readonly TrustedCertificate[] | undefined,
  now: number,
  what: string,
): X509Certificate | undefined {
  if (cas === undefined || req.peerCertificateChain.length === 0) return undefined;
  const result = acceptClientCertificate(req.peerCertificateChain, cas, {
    verdict: req.peerCertificateVerdict,
    now,
  });
  if (!result.verified) throw new SyncflowError('Unauthorized', `${what} failed: ${result.reason}`);
  return result.chain[0] as X509Certificate;
}

/**
 * Trusts `X-Remote-User`/`-Group`/`-Extra-*`/`-Uid` (names from the config) only from a client whose
 * certificate chains to the requestheader CA and whose CN is in the allowed names (any CN when the
 * list is empty). From any other client those headers are ignored: another authenticator decides.
 */
export class FrontProxyAuthenticator implements Authenticator {
  readonly #config: AuthenticationConfigProvider;
  readonly #now: Clock;

  constructor(options: CertificateAuthenticatorOptions) {
    this.#config = options.config;
    this.#now = options.now ?? Date.now;
  }

  async authenticate(req: AuthRequest): Promise<UserInfo | undefined> {
    const rh = currentCompiledConfig(this.#config)?.requestHeader;
    const leaf = verifiedLeaf(req, rh?.cas, this.#now(), 'front-proxy verification');
    if (rh === undefined || leaf === undefined) return undefined;
    if (rh.allowedNames.size > 0) {
      const cn = commonName(leaf) ?? '';
      if (!rh.allowedNames.has(cn)) {
        throw new SyncflowError(
          'Unauthorized',
          `front-proxy certificate CN="${cn}" is not in requestheader-allowed-names`,
        );
      }
    }
    const username = firstValue(req, rh.usernameHeaders);
    if (username === undefined) return undefined;
    const user: UserInfo = { username, groups: allValues(req, rh.groupHeaders), extra: {} };
    const uid = firstValue(req, rh.uidHeaders);
    if (uid !== undefined) user.uid = uid;
    if (rh.extraHeaderPrefixes.length > 0) {
      for (const name of Object.keys(req.headers)) {
        const prefix = matchingPrefix(name, rh.extraHeaderPrefixes);
        if (prefix === undefined || name.length === prefix.length) continue;
        const key = extraKey(name.slice(prefix.length));
        (user.extra[key] ??= []).push(...headerValues(req, name));
      }
    }
    return user;
  }
}

/** Authenticates a client certificate issued by the cluster client CA: username = CN, groups = O. */
export class ClientCertAuthenticator implements Authenticator {
  readonly #config: AuthenticationConfigProvider;
  readonly #now: Clock;

  constructor(options: CertificateAuthenticatorOptions) {
    this.#config = options.config;
    this.#now = options.now ?? Date.now;
  }

  async authenticate(req: AuthRequest): Promise<UserInfo | undefined> {
    const leaf = verifiedLeaf(
      req,
      currentCompiledConfig(this.#config)?.clientCAs,
      this.#now(),
      'client certificate verification',
    );
    if (leaf === undefined) return undefined;
    const username = commonName(leaf);
    if (username === undefined || username === '') return undefined;
    return { username, groups: subjectAttributes(leaf, 'O'), extra: {} };
  }
}

/** Options of {@link TokenReviewAuthenticator}. */
export interface TokenReviewAuthenticatorOptions {
  client: ReviewClient;
  /** Cache TTL of an authenticated token. Default 10 s. */
  successTtlMs?: number;
  /** Cache TTL of a rejected token. Default 2 s. Review errors are never cached. */
  failureTtlMs?: number;
  /** Cached tokens at most. Default 4096. */
  maxEntries?: number;
  /** Audiences to request (`spec.audiences`); the review must confirm one of them. Default: none (the API server's). */
  audiences?: string[];
  registry?: Registry;
  logger?: Logger;
  now?: Clock;
}

type TokenOutcome = { user: UserInfo } | { user?: undefined; reason: string };

/**
 * `Authorization: Bearer <token>` through authentication.k8s.io/v1 TokenReview. Results are cached
 * under sha256(token) (the raw token is never a key, logged, or put in an error) with a short TTL
 * for successes and a shorter one for rejections; concurrent requests with one token share a review.
 */
export class TokenReviewAuthenticator implements Authenticator {
  readonly #client: ReviewClient;
  readonly #cache: TtlCache<TokenOutcome>;
  readonly #successTtlMs: number;
  readonly #failureTtlMs: number;
  readonly #audiences: string[];
  readonly #metrics: AuthnMetrics;
  readonly #logger: Logger;

  constructor(options: TokenReviewAuthenticatorOptions) {
    this.#client = options.client;
    this.#successTtlMs = options.successTtlMs ?? 10_000;
    this.#failureTtlMs = options.failureTtlMs ?? 2_000;
    this.#audiences = options.audiences ?? [];
    this.#cache = new TtlCache({ maxEntries: options.maxEntries ?? 4096, now: options.now ?? Date.now });
    this.#metrics = createAuthnMetrics(options.registry);
    this.#logger = options.logger ?? SILENT_LOGGER;
  }

  async authenticate(req: AuthRequest): Promise<UserInfo | undefined> {
    const token = bearerToken(req.headers.authorization);
    if (token === undefined) return undefined;
    const key = createHash('sha256').update(token).digest('base64url');
    const { value, hit } = await this.#cache.getOrLoad(
      key,
      () => this.#review(token),
      (outcome) => (outcome.user !== undefined ? this.#successTtlMs : this.#failureTtlMs),
    );
    this.#metrics.cache.inc({ result: hit ? 'hit' : 'miss' });
    if (value.user === undefined) throw new SyncflowError('Unauthorized', value.reason);
    return value.user;
  }

  async #review(token: string): Promise<TokenOutcome> {
    const end = this.#metrics.reviewDuration.startTimer();
    let response: TokenReviewResponse;
    try {
      response = (await this.#client.createTokenReview({
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenReview',
        spec: { token, ...(this.#audiences.length > 0 ? { audiences: this.#audiences } : {}) },
      })) as TokenReviewResponse;
    } catch (cause) {
      end({ result: 'error' });
      this.#logger.warn(errorFields(cause), 'TokenReview failed');
      throw new SyncflowError('ServiceUnavailable', 'token review is unavailable; retry later', {
        cause: withoutDetails(cause),
      });
    }
    const status = response?.status ?? {};
    const user = status.user;
    const audienceOk =
      this.#audiences.length === 0 ||
      (status.audiences ?? []).some((audience) => this.#audiences.includes(audience));
    if (
      status.authenticated !== true ||
      user?.username === undefined ||
      user.username === '' ||
      !audienceOk
    ) {
      end({ result: 'unauthenticated' });
      if (status.error) this.#logger.debug({ reason: status.error }, 'TokenReview rejected a token');
      return { reason: audienceOk ? 'invalid bearer token' : 'bearer token not valid for this audience' };
    }
    end({ result: 'authenticated' });
    const info: UserInfo = { username: user.username, groups: user.groups ?? [], extra: user.extra ?? {} };
    if (user.uid !== undefined && user.uid !== '') info.uid = user.uid;
    return { user: info };
  }
}

/** The part of a TokenReview response the authenticator reads. */
interface TokenReviewResponse {
  status?: {
    authenticated?: boolean;
    user?: { username?: string; uid?: string; groups?: string[]; extra?: Record<string, string[]> };
    audiences?: string[];
    error?: string;
  };
}

/** Kubernetes' bearer parsing: `Bearer <token>` (scheme case-insensitive), anything else is not ours. */
function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const parts = header.trim().split(' ');
  if (parts.length < 2 || parts[0]?.toLowerCase() !== 'bearer' || parts[1] === '') return undefined;
  return parts[1];
}

/**
 * A review error as a cause that is safe to keep: client errors can carry the request, and so the
 * token, in their properties; only the message and code survive.
 */
function withoutDetails(cause: unknown): Error {
  const error = new Error(cause instanceof Error ? cause.message : String(cause));
  const code = (cause as { code?: unknown } | undefined)?.code;
  if (code !== undefined) Object.assign(error, { code });
  return error;
}

/** Options of {@link UnionAuthenticator}. */
export interface UnionAuthenticatorOptions {
  /**
   * Requests with no credentials at all become {@link ANONYMOUS_USER} (Kubernetes' `--anonymous-auth`,
   * on by default in extension servers) so authorization decides; bad credentials still get 401.
   * Default false: such requests yield undefined and the caller answers 401.
   */
  anonymous?: boolean;
}

/**
 * Tries authenticators in order (front proxy, client certificate, token); the first user wins. As in
 * Kubernetes, an authenticator's error does not stop the others (a kubectl client certificate fails
 * front-proxy verification yet is a valid client certificate); when none succeeds the errors are
 * raised: ServiceUnavailable if a review could not be made, else Unauthorized. Authenticated users
 * get the `system:authenticated` group.
 */
export class UnionAuthenticator implements Authenticator {
  readonly #authenticators: Authenticator[];
  readonly #anonymous: boolean;

  constructor(authenticators: Authenticator[], options: UnionAuthenticatorOptions = {}) {
    this.#authenticators = authenticators;
    this.#anonymous = options.anonymous ?? false;
  }

  async authenticate(req: AuthRequest): Promise<UserInfo | undefined> {
    // Made on the first error only: most requests succeed at the first authenticator.
    let errors: unknown[] | undefined;
    for (const authenticator of this.#authenticators) {
      try {
        const user = await authenticator.authenticate(req);
        if (user !== undefined) return withAuthenticatedGroup(user);
      } catch (error) {
        (errors ??= []).push(error);
      }
    }
    if (errors === undefined)
      return this.#anonymous
        ? { ...ANONYMOUS_USER, groups: [...ANONYMOUS_USER.groups], extra: {} }
        : undefined;
    const unavailable = errors.find((e) => e instanceof SyncflowError && e.code === 'ServiceUnavailable');
    if (unavailable !== undefined) throw unavailable;
    if (errors.length === 1 && errors[0] instanceof SyncflowError) throw errors[0];
    const messages = errors.map((e) => (e instanceof Error ? e.message : String(e)));
    throw new SyncflowError('Unauthorized', messages.join('; '), { cause: errors[0] });
  }
}

/** Options of {@link createDelegatingAuthenticator}. */
export interface DelegatingAuthenticatorOptions
  extends Omit<TokenReviewAuthenticatorOptions, 'client'>, UnionAuthenticatorOptions {
  config: AuthenticationConfigProvider;
  client: ReviewClient;
}

/** The authenticator chain of an extension API server: front proxy, client certificate, TokenReview. */
export function createDelegatingAuthenticator(options: DelegatingAuthenticatorOptions): UnionAuthenticator {
  const certificateOptions = { config: options.config, ...(options.now ? { now: options.now } : {}) };
  return new UnionAuthenticator(
    [
      new FrontProxyAuthenticator(certificateOptions),
      new ClientCertAuthenticator(certificateOptions),
      new TokenReviewAuthenticator(options),
    ],
    { anonymous: options.anonymous ?? false },
  );
}
