/**
 * Authorization as Kubernetes' delegating authorizer does it for extension API servers: every
 * decision is kube-apiserver's, asked through authorization.k8s.io/v1 SubjectAccessReview and
 * cached briefly (allow and deny TTLs apart); a fixed set of public paths needs no review.
 */
import type { Registry } from 'prom-client';
import { SyncflowError } from '../../core/errors.ts';
import type { ReviewClient } from '../../kube/reviews.ts';
import { errorFields, SILENT_LOGGER, type Logger } from '../../core/logger.ts';
import { createAuthzMetrics, type AuthzMetrics } from './metrics.ts';
import { TtlCache, type Clock } from '../../core/ttl-cache.ts';
import type { UserInfo } from './user.ts';

/** A request on an API resource (`create workflowexecutions` in namespace `shop`). */
export interface ResourceAttributes {
  verb: string;
  group: string;
  version: string;
  resource: string;
  subresource?: string;
  namespace?: string;
  name?: string;
}

/** A request on a path that is not a resource (`get /apis`). Verb is the lowercase HTTP method. */
export interface NonResourceAttributes {
  verb: string;
  path: string;
}

/** An authorization outcome; `denied` means explicitly denied rather than "no rule allows it". */
export interface Decision {
  allowed: boolean;
  reason: string;
  denied?: boolean;
}

/** Decides whether `user` may do `attrs`. Throws ServiceUnavailable when it cannot decide. */
export interface Authorizer {
  authorize(user: UserInfo, attrs: ResourceAttributes | NonResourceAttributes): Promise<Decision>;
}

/** Whether the attributes are a resource request (have `resource`). */
export function isResourceAttributes(
  attrs: ResourceAttributes | NonResourceAttributes,
): attrs is ResourceAttributes {
  return 'resource' in attrs;
}

/**
 * The `spec` of a SubjectAccessReview for `user` doing `attrs`: user, uid, groups and extra as
 * authentication produced them, and either resourceAttributes or nonResourceAttributes. Empty
 * optional fields are omitted, as Go's `omitempty` does.
 */
export function subjectAccessReviewSpec(
  user: UserInfo,
  attrs: ResourceAttributes | NonResourceAttributes,
): Record<string, unknown> {
  const spec: Record<string, unknown> = { user: user.username, groups: [...user.groups] };
  if (user.uid !== undefined && user.uid !== '') spec.uid = user.uid;
  const extraKeys = Object.keys(user.extra).sort();
  if (extraKeys.length > 0)
    spec.extra = Object.fromEntries(extraKeys.map((key) => [key, [...(user.extra[key] ?? [])]]));
  if (isResourceAttributes(attrs)) {
    const resourceAttributes: Record<string, string> = {};
    for (const key of ['namespace', 'verb', 'group', 'version', 'resource', 'subresource', 'name'] as const) {
      const value = attrs[key];
      if (value !== undefined && value !== '') resourceAttributes[key] = value;
    }
    spec.resourceAttributes = resourceAttributes;
  } else {
    spec.nonResourceAttributes = { path: attrs.path, verb: attrs.verb };
  }
  return spec;
}

/**
 * The decision cache's key: equal exactly when the {@link subjectAccessReviewSpec} specs are equal
 * (an empty uid or attribute is the same as an absent one, groups keep their order, extra keys are
 * sorted), written as one JSON array instead of serialising a copied spec.
 */
export function decisionKey(user: UserInfo, attrs: ResourceAttributes | NonResourceAttributes): string {
  const extraKeys = Object.keys(user.extra);
  const extra = extraKeys.length === 0 ? 0 : extraKeys.sort().map((key) => [key, user.extra[key] ?? []]);
  if (isResourceAttributes(attrs))
    return JSON.stringify([
      user.username,
      user.uid ?? '',
      user.groups,
      extra,
      attrs.namespace ?? '',
      attrs.verb,
      attrs.group,
      attrs.version,
      attrs.resource,
      attrs.subresource ?? '',
      attrs.name ?? '',
    ]);
  return JSON.stringify([user.username, user.uid ?? '', user.groups, extra, attrs.path, attrs.verb]);
}

/** Options of {@link SubjectAccessReviewAuthorizer}. */
export interface SubjectAccessReviewAuthorizerOptions {
  client: ReviewClient;
  /** Cache TTL of an allow. Default 10 s (Kubernetes' delegating authorizer default). */
  allowTtlMs?: number;
  /** Cache TTL of a deny. Default 2 s, so a new RoleBinding takes effect quickly. */
  denyTtlMs?: number;
  /** Cached decisions at most. Default 8192. */
  maxEntries?: number;
  registry?: Registry;
  logger?: Logger;
  now?: Clock;
}

/**
 * Asks kube-apiserver through SubjectAccessReview. Decisions are cached per (user, uid, groups,
 * extra, attributes); errors are not cached and surface as ServiceUnavailable (Kubernetes answers
 * 500 there; 503 tells clients to retry). No group (not even system:masters) is short-circuited.
 */
export class SubjectAccessReviewAuthorizer implements Authorizer {
  readonly #client: ReviewClient;
  readonly #cache: TtlCache<Decision>;
  readonly #allowTtlMs: number;
  readonly #denyTtlMs: number;
  readonly #metrics: AuthzMetrics;
  readonly #logger: Logger;

  constructor(options: SubjectAccessReviewAuthorizerOptions) {
    this.#client = options.client;
    this.#allowTtlMs = options.allowTtlMs ?? 10_000;
    this.#denyTtlMs = options.denyTtlMs ?? 2_000;
    this.#cache = new TtlCache({ maxEntries: options.maxEntries ?? 8192, now: options.now ?? Date.now });
    this.#metrics = createAuthzMetrics(options.registry);
    this.#logger = options.logger ?? SILENT_LOGGER;
  }

  async authorize(user: UserInfo, attrs: ResourceAttributes | NonResourceAttributes): Promise<Decision> {
    const key = decisionKey(user, attrs);
    // A cached decision (nearly every request) is answered without building the review.
    const cached = this.#cache.get(key);
    if (cached !== undefined) {
      this.#metrics.cache.series('hit', cached.allowed ? 'allow' : 'deny').inc();
      return cached;
    }
    try {
      const { value, hit } = await this.#cache.getOrLoad(
        key,
        () => this.#review(subjectAccessReviewSpec(user, attrs)),
        (decision) => (decision.allowed ? this.#allowTtlMs : this.#denyTtlMs),
      );
      this.#metrics.cache.series(hit ? 'hit' : 'miss', value.allowed ? 'allow' : 'deny').inc();
      return value;
    } catch (error) {
      this.#metrics.cache.series('miss', 'error').inc();
      throw error;
    }
  }

  async #review(spec: Record<string, unknown>): Promise<Decision> {
    const end = this.#metrics.reviewDuration.startTimer();
    let response: {
      status?: { allowed?: boolean; denied?: boolean; reason?: string; evaluationError?: string };
    };
    try {
      response = (await this.#client.createSubjectAccessReview({
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SubjectAccessReview',
        spec,
      })) as typeof response;
    } catch (cause) {
      end({ result: 'error' });
      this.#logger.warn(errorFields(cause), 'SubjectAccessReview failed');
      throw new SyncflowError(
        'ServiceUnavailable',
        'authorization is unavailable: the SubjectAccessReview failed; retry later',
        {
          cause,
        },
      );
    }
    const status = response?.status ?? {};
    const allowed = status.allowed === true && status.denied !== true;
    end({ result: allowed ? 'allow' : 'deny' });
    if (status.evaluationError)
      this.#logger.debug({ evaluationError: status.evaluationError }, 'SubjectAccessReview evaluation error');
    const decision: Decision = { allowed, reason: status.reason ?? '' };
    if (status.denied === true) decision.denied = true;
    return decision;
  }
}

/** Health paths Kubernetes' extension servers never authorize (`--authorization-always-allow-paths`). */
export const HEALTH_PATHS = ['/healthz', '/healthz/*', '/livez', '/livez/*', '/readyz', '/readyz/*'] as const;

/** Version, discovery and OpenAPI paths of this server (`system:public-info-viewer`/`system:discovery`). */
export const PUBLIC_INFO_PATHS = [
  '/version',
  '/version/',
  '/apis',
  '/apis/',
  '/apis/execution.syncflow.io',
  '/apis/execution.syncflow.io/',
  '/apis/execution.syncflow.io/v1alpha1',
  '/apis/execution.syncflow.io/v1alpha1/',
  '/openapi/v2',
  '/openapi/v3',
  '/openapi/v3/*',
] as const;

/** Options of {@link AlwaysAllowPaths}. */
export interface AlwaysAllowPathsOptions {
  /** Exact paths, or prefixes ending in `/*` (matching the prefix's subpaths). Default: health + public info. */
  paths?: readonly string[];
  /** Non-resource verbs allowed on those paths. Default `get` and `head`. */
  verbs?: readonly string[];
}

/**
 * Allows reads of health, version, discovery and OpenAPI paths to every user, authenticated or
 * anonymous, without a review; everything else goes to `delegate`. Kubernetes grants health and
 * `/version` to everyone (`system:public-info-viewer`) but discovery and OpenAPI only to
 * `system:authenticated` (`system:discovery`): we also serve ours to anonymous callers because
 * they describe nothing but the public API schema, and the aggregator, which fetches them for
 * discovery and `kubectl explain`, then never waits on a review. Only get/head are allowed.
 */
export class AlwaysAllowPaths implements Authorizer {
  readonly #delegate: Authorizer;
  readonly #exact: Set<string>;
  readonly #prefixes: string[];
  readonly #verbs: Set<string>;

  constructor(delegate: Authorizer, options: AlwaysAllowPathsOptions = {}) {
    this.#delegate = delegate;
    const paths = options.paths ?? [...HEALTH_PATHS, ...PUBLIC_INFO_PATHS];
    this.#exact = new Set(paths.filter((path) => !path.endsWith('/*')));
    this.#prefixes = paths.filter((path) => path.endsWith('/*')).map((path) => path.slice(0, -1));
    this.#verbs = new Set(options.verbs ?? ['get', 'head']);
  }

  /** Whether a non-resource request is on an always-allowed path with an allowed verb. */
  allows(attrs: NonResourceAttributes): boolean {
    if (!this.#verbs.has(attrs.verb)) return false;
    return this.#exact.has(attrs.path) || this.#prefixes.some((prefix) => attrs.path.startsWith(prefix));
  }

  async authorize(user: UserInfo, attrs: ResourceAttributes | NonResourceAttributes): Promise<Decision> {
    if (!isResourceAttributes(attrs) && this.allows(attrs))
      return { allowed: true, reason: 'always-allowed path' };
    return this.#delegate.authorize(user, attrs);
  }
}

/**
 * The message Kubernetes puts in a 403 Status, e.g. `User "bob" cannot create resource
 * "workflowexecutions" in API group "execution.syncflow.io" in the namespace "shop"`, followed by
 * `: <reason>` when the authorizer gave one.
 */
export function forbiddenMessage(
  user: UserInfo | undefined,
  attrs: ResourceAttributes | NonResourceAttributes,
  reason = '',
): string {
  const who = JSON.stringify(user?.username ?? '');
  let message: string;
  if (!isResourceAttributes(attrs)) {
    message = `User ${who} cannot ${attrs.verb} path ${JSON.stringify(attrs.path)}`;
  } else {
    const resource = attrs.subresource ? `${attrs.resource}/${attrs.subresource}` : attrs.resource;
    const scope = attrs.namespace
      ? `in the namespace ${JSON.stringify(attrs.namespace)}`
      : 'at the cluster scope';
    message = `User ${who} cannot ${attrs.verb} resource ${JSON.stringify(resource)} in API group ${JSON.stringify(attrs.group)} ${scope}`;
  }
  return reason === '' ? message : `${message}: ${reason}`;
}
