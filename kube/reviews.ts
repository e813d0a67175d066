/**
 * The two review calls authentication and authorization delegate to kube-apiserver, behind a narrow
 * interface so tests inject a fake, and an implementation on @kubernetes/client-node 1.x.
 */
import {
  AuthenticationV1Api,
  AuthorizationV1Api,
  type KubeConfig,
  type V1SubjectAccessReview,
  type V1TokenReview,
} from '@kubernetes/client-node';

/** Creates TokenReviews and SubjectAccessReviews; resolves with the created object (its `status` filled). */
export interface ReviewClient {
  createTokenReview(body: object): Promise<object>;
  createSubjectAccessReview(body: object): Promise<object>;
}

/** Options of {@link KubernetesReviewClient}. */
export interface KubernetesReviewClientOptions {
  kubeConfig: KubeConfig;
  /** Per-call timeout (Kubernetes' delegating clients use 10 s). */
  timeoutMs?: number;
}

/** {@link ReviewClient} on @kubernetes/client-node: `create*Review({ body })` returns the object itself. */
export class KubernetesReviewClient implements ReviewClient {
  readonly #authn: AuthenticationV1Api;
  readonly #authz: AuthorizationV1Api;
  readonly #timeoutMs: number;

  constructor(options: KubernetesReviewClientOptions) {
    this.#authn = options.kubeConfig.makeApiClient(AuthenticationV1Api);
    this.#authz = options.kubeConfig.makeApiClient(AuthorizationV1Api);
    this.#timeoutMs = options.timeoutMs ?? 10_000;
  }

  createTokenReview(body: object): Promise<object> {
    return this.#call('TokenReview', () => this.#authn.createTokenReview({ body: body as V1TokenReview }));
  }

  createSubjectAccessReview(body: object): Promise<object> {
    return this.#call('SubjectAccessReview', () =>
      this.#authz.createSubjectAccessReview({ body: body as V1SubjectAccessReview }),
    );
  }

  /**
   * Runs a call with a timeout. Errors are replaced by one carrying only the kind and HTTP status:
   * client-node's messages embed response bodies, and a TokenReview body holds the token.
   */
  async #call(kind: string, call: () => Promise<object>): Promise<object> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new ReviewError(`${kind} timed out after ${this.#timeoutMs} ms`)),
        this.#timeoutMs,
      );
    });
    try {
      return await Promise.race([call(), timeout]);
    } catch (error) {
      if (error instanceof ReviewError) throw error;
      const status = (error as { code?: unknown }).code;
      throw new ReviewError(
        typeof status === 'number'
          ? `${kind} failed with HTTP ${status}`
          : `${kind} failed: ${safeMessage(error)}`,
        typeof status === 'number' ? status : undefined,
      );
    } finally {
      clearTimeout(timer);
    }
  }
}

/** A failed review call: kind and HTTP status (when there was a response), never a body. */
export class ReviewError extends Error {
  readonly statusCode: number | undefined;

  constructor(message: string, statusCode?: number) {
    super(message);
    this.name = 'ReviewError';
    this.statusCode = statusCode;
  }
}

/** A network error's first line (e.g. `connect ECONNREFUSED 127.0.0.1:6443`), cut short. */
function safeMessage(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return (message.split('\n')[0] ?? '').slice(0, 200);
}
