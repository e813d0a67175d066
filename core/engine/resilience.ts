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
import { sendHedged, TaskHedging } from './hedge.ts';
import type { TaskHttpClient, TaskRequest, TaskResponse } from './task-http.ts';

/** What the sender tells the attempt beyond the response. */
export interface SendNotes {
  /** A hedge was sent (whichever answered first). */
  hedged?: boolean;
}

/** What metrics read of an executor's hedging and response cache (running totals, per replica). */
export interface ResilienceCounts {
  /** Hedges sent. */
  hedgesSent: number;
  /** Hedges that answered before the first request. */
  hedgesWon: number;
  /** Calls of tasks that declare `cache` answered from it. */
  cacheHits: number;
  /** Calls of tasks that declare `cache` that went upstream. */
  cacheMisses: number;
}

/** Breakers and hedging of one executor. */
export class ResilientSender {
  readonly breakers: CircuitBreakers;
  readonly counts: ResilienceCounts = { hedgesSent: 0, hedgesWon: 0, cacheHits: 0, cacheMisses: 0 };
  /** Per compiled task: a new revision starts a new history and budget. */
  private readonly hedging = new WeakMap<CompiledTask, TaskHedging>();

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
    notes: SendNotes,
  ): Promise<TaskResponse> {
    const settings = task.resilience?.breaker;
    if (!settings) return this.sendMaybeHedged(http, task, request, notes);
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
      response = await this.sendMaybeHedged(http, task, request, notes);
    } catch (error) {
      if (parent.aborted) breaker.release(permit);
      else breaker.record(permit, false);
      throw error;
    }
    breaker.record(permit, response.status < 500 && response.status !== 429);
    return response;
  }

  /** Sends with a hedge when the task declares one and a delay is known, else plainly. */
  private async sendMaybeHedged(
    http: TaskHttpClient,
    task: CompiledTask,
    request: TaskRequest,
    notes: SendNotes,
  ): Promise<TaskResponse> {
    const settings = task.resilience?.hedge;
    if (!settings) return http.send(request);
    let hedging = this.hedging.get(task);
    if (!hedging) this.hedging.set(task, (hedging = new TaskHedging(settings)));
    const delayMs = hedging.delayFor();
    if (delayMs === undefined) {
      // No history yet for a p95 delay: a plain call, whose time starts the history.
      const started = this.clock.now();
      const response = await http.send(request);
      if (response.status < 500) hedging.history.add(this.clock.now() - started);
      return response;
    }
    return sendHedged(http, request, delayMs, hedging, this.clock, {
      sent: () => {
        notes.hedged = true;
        this.counts.hedgesSent++;
      },
      won: () => this.counts.hedgesWon++,
    });
  }
}
