/** Prometheus metrics of authentication and authorization, registered on an injected registry. */
import { Counter, Histogram, type Registry } from 'prom-client';
import { SeriesCounter } from '../series.ts';

const REVIEW_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/** Metric handles the token authenticator updates. */
export interface AuthnMetrics {
  /** `result`: hit | miss. */
  cache: Counter<'result'>;
  /** `result`: authenticated | unauthenticated | error. */
  reviewDuration: Histogram<'result'>;
}

/** Metric handles the SubjectAccessReview authorizer updates. */
export interface AuthzMetrics {
  /** Label values in order: `result` (hit | miss), `decision` (allow | deny | error). */
  cache: SeriesCounter;
  /** `result`: allow | deny | error. */
  reviewDuration: Histogram<'result'>;
}

/**
 * Returns the metric registered under `name` on `registry`, creating it when absent, so that several
 * authenticators (or a re-created one after a config change) share one series instead of throwing
 * "metric already registered".
 */
function metricMaker(registry: Registry | undefined): <M>(name: string, create: () => M) => M {
  return (name, create) =>
    registry === undefined ? create() : ((registry.getSingleMetric(name) as never) ?? create());
}

/** Creates (or reuses) the authentication metrics on `registry`; without one, metrics go nowhere. */
export function createAuthnMetrics(registry?: Registry): AuthnMetrics {
  const registers = registry === undefined ? [] : [registry];
  const make = metricMaker(registry);
  return {
    cache: make(
      'syncflow_authn_cache_total',
      () =>
        new Counter({
          name: 'syncflow_authn_cache_total',
          help: 'Bearer-token authentications answered from the TokenReview cache (hit) or by a review (miss).',
          labelNames: ['result'],
          registers,
        }),
    ),
    reviewDuration: make(
      'syncflow_authn_tokenreview_duration_seconds',
      () =>
        new Histogram({
          name: 'syncflow_authn_tokenreview_duration_seconds',
          help: 'Latency of TokenReview calls to kube-apiserver, by result.',
          labelNames: ['result'],
          buckets: REVIEW_BUCKETS,
          registers,
        }),
    ),
  };
}

/** Creates (or reuses) the authorization metrics on `registry`; without one, metrics go nowhere. */
export function createAuthzMetrics(registry?: Registry): AuthzMetrics {
  const registers = registry === undefined ? [] : [registry];
  const make = metricMaker(registry);
  return {
    cache: make(
      'syncflow_authz_cache_total',
      () =>
        // Counted on every request: a SeriesCounter costs far less per increment than a prom-client Counter.
        new SeriesCounter({
          name: 'syncflow_authz_cache_total',
          help: 'Authorization decisions answered from the SubjectAccessReview cache (hit) or by a review (miss).',
          labelNames: ['result', 'decision'],
          ...(registry ? { registry } : {}),
        }),
    ),
    reviewDuration: make(
      'syncflow_authz_subjectaccessreview_duration_seconds',
      () =>
        new Histogram({
          name: 'syncflow_authz_subjectaccessreview_duration_seconds',
          help: 'Latency of SubjectAccessReview calls to kube-apiserver, by result.',
          labelNames: ['result'],
          buckets: REVIEW_BUCKETS,
          registers,
        }),
    ),
  };
}
