/**
 * The identity set-up the benchmark servers share: callers arrive as kube-apiserver's aggregator
 * sends them (front-proxy client certificate, X-Remote-* headers), and SubjectAccessReviews are
 * answered in-process as RBAC would answer them for the benchmark's namespace.
 */
import type { AuthenticationConfig, ReviewClient } from '../../apiserver/auth/index.ts';
import type { BenchPki } from './pki.ts';

export const NAMESPACE = 'bench';
/** The group the benchmark's callers are in; RBAC (the in-process review) allows it to create executions. */
export const CALLER_GROUP = 'bench-callers';

/** Request-header authentication with the benchmark's front-proxy CA, as kube-apiserver publishes it. */
export function frontProxyAuthentication(pki: BenchPki): AuthenticationConfig {
  return {
    requestHeader: {
      clientCA: pki.frontProxyCa,
      allowedNames: ['front-proxy-client'],
      usernameHeaders: ['X-Remote-User'],
      uidHeaders: ['X-Remote-Uid'],
      groupHeaders: ['X-Remote-Group'],
      extraHeaderPrefixes: ['X-Remote-Extra-'],
    },
  };
}

/**
 * SubjectAccessReview answered in-process as kube-apiserver's RBAC would for the benchmark: the
 * callers' group may create workflowexecutions in the namespace; everyone else is denied.
 */
export class InProcessReviews implements ReviewClient {
  reviews = 0;
  async createTokenReview(body: object): Promise<object> {
    return { ...body, status: { authenticated: false } };
  }
  async createSubjectAccessReview(body: object): Promise<object> {
    this.reviews++;
    const spec = (
      body as {
        spec: {
          groups?: string[];
          resourceAttributes?: { verb?: string; resource?: string; namespace?: string };
        };
      }
    ).spec;
    const r = spec.resourceAttributes;
    const allowed = Boolean(
      spec.groups?.includes(CALLER_GROUP) &&
      r?.verb === 'create' &&
      r.resource === 'workflowexecutions' &&
      r.namespace === NAMESPACE,
    );
    await new Promise((resolve) => setImmediate(resolve));
    return {
      ...body,
      status: { allowed, ...(allowed ? { reason: 'RBAC: allowed by RoleBinding bench/callers' } : {}) },
    };
  }
}
