/** A ReviewClient fake: records request bodies and answers from a programmable function. */
import type { ReviewClient } from '../../../kube/reviews.ts';

type Answer = (body: Record<string, unknown>) => object | Promise<object>;

/** Records every TokenReview and SubjectAccessReview body; answers with `tokenReview`/`subjectAccessReview`. */
export class FakeReviewClient implements ReviewClient {
  readonly tokenReviews: Array<Record<string, unknown>> = [];
  readonly subjectAccessReviews: Array<Record<string, unknown>> = [];
  tokenReview: Answer = () => ({ status: { authenticated: false } });
  subjectAccessReview: Answer = () => ({ status: { allowed: false } });

  async createTokenReview(body: object): Promise<object> {
    this.tokenReviews.push(body as Record<string, unknown>);
    return this.tokenReview(body as Record<string, unknown>);
  }

  async createSubjectAccessReview(body: object): Promise<object> {
    this.subjectAccessReviews.push(body as Record<string, unknown>);
    return this.subjectAccessReview(body as Record<string, unknown>);
  }
}

/** A settable clock. */
export class FakeClock {
  constructor(public time = Date.now()) {}
  readonly now = (): number => this.time;
  advance(ms: number): void {
    this.time += ms;
  }
}
