/**
 * The sending side of what a task may declare beyond a plain call: the circuit breaker of its
 * origin and hedged requests. One instance per executor (so per replica): breakers, latency
 * histories and hedge budgets are shared by every execution. Tasks that declare none of it never
 * reach this module (the executor checks `task.resilience` once per attempt).
 */
import type { CompiledTask } from '../definitions/compile.ts';
import { SyncflowError } from '../errors.ts';
import { CircuitBreakers, originOf } from './breaker.ts';
import type { Clock } from './collaborators.ts';
import type { TaskHttpClient, TaskRequest, TaskResponse } from './task-http.ts';

/** What the sender tells the attempt beyond the response. */
export interface SendNotes {
  /** A hedge was sent (whichever answered first). */
  hedged?: boolean;
}

/** Breakers and hedging of one executor. */
export class ResilientSender {
  readonly breakers: CircuitBreakers;

  constructor(private readonly clock: Clock) {
    this.breakers = new CircuitBreakers(clock);
  }

  /**
   * Sends `request` for `task` through its breaker. Rejects with `CircuitOpen` when the circuit is
   * open, otherwise as the client does. `parent` tells a cancelled call (not judged) from a failed one.
   */
  async send(
    http: TaskHttpClient,
    task: CompiledTask,
    request: TaskRequest,
    parent: { readonly aborted: boolean },
    _notes: SendNotes,
  ): Promise<TaskResponse> {
    const settings = task.resilience?.breaker;
    if (!settings) return http.send(request);
    const breaker = this.breakers.for(originOf(request.url), settings);
    const permit = breaker.admit();
    if (!permit) {
      throw new SyncflowError(
        'CircuitOpen',
        `circuit open for ${breaker.origin}: it failed too often, so calls fail fast; the next trial call goes in ${Math.ceil(breaker.retryInMs())} ms`,
      );
    }
    let response: TaskResponse;
    try {
      response = await http.send(request);
    } catch (error) {
      if (parent.aborted) breaker.release(permit);
      else breaker.record(permit, false);
      throw error;
    }
    breaker.record(permit, response.status < 500 && response.status !== 429);
    return response;
  }
}
