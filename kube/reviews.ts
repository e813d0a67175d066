/**
 * The two review calls authentication and authorization delegate to kube-apiserver, behind a narrow
 * interface so tests inject a fake, and an implementation on the server's REST client (kube/rest).
 */
import type { KubeConfig } from './config.ts';
import { clientFor, type KubeClient } from './rest/client.ts';

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

/** {@link ReviewClient} over kube-apiserver: `POST` the review, resolve with the object it answers. */
export class KubernetesReviewClient implements ReviewClient {
  readonly #client: KubeClient;
  readonly #timeoutMs: number;

  constructor(options: KubernetesReviewClientOptions) {
    this.#client = clientFor(options.kubeConfig);
    this.#timeoutMs = options.timeoutMs ?? 10_000;
  }

  createTokenReview(body: object): Promise<object> {
    return this.#call('TokenReview', '/apis/authentication.k8s.io/v1/tokenreviews', body);
  }

  createSubjectAccessReview(body: object): Promise<object> {
    return this.#call('SubjectAccessReview', '/apis/authorization.k8s.io/v1/subjectaccessreviews', body);
  }

  /**
   * Creates a review with a timeout. Errors name only the kind and HTTP status (or the connection
   * failure's first line): a TokenReview body holds the token.
   */
  async #call(kind: string, path: string, body: object): Promise<object> {
    try {
      return await this.#client.create<object>(path, body, { timeoutMs: this.#timeoutMs });
    } catch (error) {
      const status = (error as { code?: unknown }).code;
      if (typeof status === 'number') throw new ReviewError(`${kind} failed with HTTP ${status}`, status);
      throw new ReviewError(
        (error as { reason?: unknown }).reason === 'Timeout'
          ? `${kind} timed out after ${this.#timeoutMs} ms`
          : `${kind} failed: ${safeMessage(error)}`,
      );
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
  const cause = (error as { cause?: unknown }).cause;
  const message =
    cause instanceof Error ? cause.message : error instanceof Error ? error.message : String(error);
  return (message.split('\n')[0] ?? '').slice(0, 200);
}
