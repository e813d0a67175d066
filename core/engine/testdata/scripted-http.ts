/**
 * An in-memory `TaskHttpClient` whose answers a test scripts per call: resolve now, later, or
 * never (until cancelled). It records every request and how many were in flight at once, so
 * engine tests observe concurrency, cancellation and headers without sockets or timing.
 */
import type { TaskHttpClient, TaskRequest, TaskResponse } from '../task-http.ts';

/** How a scripted call is answered: a response, an error, or a promise of either. */
export type Answer = (
  request: TaskRequest,
  call: number,
) => TaskResponse | Error | Promise<TaskResponse | Error>;

/** A JSON response. */
export function reply(status: number, body: unknown): TaskResponse {
  return { status, headers: { 'content-type': 'application/json' }, body: Buffer.from(JSON.stringify(body)) };
}

/** A scripted upstream; each request is answered by `answer`, and cancellation rejects it. */
export class ScriptedHttp implements TaskHttpClient {
  readonly requests: TaskRequest[] = [];
  /** Requests that were cancelled before their answer. */
  cancelled = 0;
  inFlight = 0;
  maxInFlight = 0;
  private waiters: Array<{ count: number; resolve: () => void }> = [];

  constructor(public answer: Answer = () => reply(200, {})) {}

  async send(request: TaskRequest): Promise<TaskResponse> {
    const call = this.requests.length;
    this.requests.push(request);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    this.wake();
    try {
      const answered = Promise.resolve(this.answer(request, call));
      const result = await new Promise<TaskResponse | Error>((resolve, reject) => {
        if (request.signal.aborted) {
          reject(request.signal.reason as Error);
          return;
        }
        const onAbort = () => {
          this.cancelled++;
          reject(request.signal.reason as Error);
        };
        request.signal.once('abort', onAbort);
        answered.then(
          (value) => {
            request.signal.removeListener('abort', onAbort);
            resolve(value);
          },
          (error: unknown) => {
            request.signal.removeListener('abort', onAbort);
            reject(error as Error);
          },
        );
      });
      if (result instanceof Error) throw result;
      return result;
    } finally {
      this.inFlight--;
    }
  }

  /** Resolves once `count` requests have been sent in all. */
  sent(count: number): Promise<void> {
    if (this.requests.length >= count) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ count, resolve }));
  }

  private wake(): void {
    this.waiters = this.waiters.filter((w) => {
      if (this.requests.length < w.count) return true;
      w.resolve();
      return false;
    });
  }

  async close(): Promise<void> {}
}
