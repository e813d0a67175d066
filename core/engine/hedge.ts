/**
 * Hedged requests: when an attempt has not answered after a delay (fixed, or the task's observed
 * 95th percentile), a second identical request goes out and the first answer wins; the other is
 * cancelled. A budget keeps the extra load to `maxExtraPercent` of the task's calls.
 */
import type { HedgeSettings } from '../definitions/compile.ts';
import { SyncflowError } from '../errors.ts';
import { Cancellation } from './cancellation.ts';
import type { Clock } from './collaborators.ts';
import type { TaskHttpClient, TaskRequest, TaskResponse } from './task-http.ts';

/** Recent answer times of one task, for a p95 delay. */
export class LatencyHistory {
  /** Samples kept: the p95 follows the upstream's recent behaviour. */
  static readonly CAPACITY = 256;
  /** Below this many samples there is no p95 (and no hedge by p95). */
  static readonly MIN_SAMPLES = 20;
  private readonly samples: number[] = [];
  private next = 0;
  private cached: number | undefined;
  /** Samples added since `cached` was computed. */
  private stale = 0;

  add(ms: number): void {
    if (this.samples.length < LatencyHistory.CAPACITY) this.samples.push(ms);
    else this.samples[this.next] = ms;
    this.next = (this.next + 1) % LatencyHistory.CAPACITY;
    this.stale++;
  }

  /** The 95th percentile (nearest rank), recomputed at most every 16 samples. */
  p95(): number | undefined {
    const n = this.samples.length;
    if (n < LatencyHistory.MIN_SAMPLES) return undefined;
    if (this.cached === undefined || this.stale >= 16) {
      const sorted = [...this.samples].sort((a, b) => a - b);
      this.cached = sorted[Math.ceil(0.95 * n) - 1] as number;
      this.stale = 0;
    }
    return this.cached;
  }
}

/** Budget units of one hedge: calls earn `maxExtraPercent` units each. */
const HEDGE_COST = 100;
/** Units saved up at most: a burst of ten hedges after a quiet spell. */
const BUDGET_CAP = 10 * HEDGE_COST;

/** The replica's hedging state of one task: its latency history and its budget. */
export class TaskHedging {
  readonly history = new LatencyHistory();
  /** One hedge is allowed from the start. */
  private units = HEDGE_COST;

  constructor(private readonly settings: HedgeSettings) {}

  /** Counts a call; returns the hedge delay, or `undefined` when no hedge is planned. */
  delayFor(): number | undefined {
    this.units = Math.min(BUDGET_CAP, this.units + this.settings.maxExtraPercent);
    return this.settings.afterMs === 'p95' ? this.history.p95() : this.settings.afterMs;
  }

  /** Spends the budget of one hedge; false when it is spent. */
  take(): boolean {
    if (this.units < HEDGE_COST) return false;
    this.units -= HEDGE_COST;
    return true;
  }
}

/** What `sendHedged` tells its caller: the hedge went out; the hedge answered first. */
export interface HedgeEvents {
  sent(): void;
  won(): void;
}

/** Why the slower of two hedged requests was cancelled. */
const HEDGE_LOST = new SyncflowError('Cancelled', 'the other hedged request answered first');

/**
 * Sends `request`, and after `delayMs` (budget permitting) the same request again; resolves with
 * the first answer and cancels the other. A failure before the hedge went out fails at once; once
 * both are out, the call fails only when both did. `events` hears when the hedge goes out and wins.
 */
export function sendHedged(
  http: TaskHttpClient,
  request: TaskRequest,
  delayMs: number,
  hedging: TaskHedging,
  clock: Clock,
  events: HedgeEvents,
): Promise<TaskResponse> {
  return new Promise((resolve, reject) => {
    const started = clock.now();
    const requests: Cancellation[] = [];
    let pending = 0;
    let settled = false;
    const stop = () => {
      clock.clearTimer(timer);
      request.signal.removeListener('abort', onAbort);
    };
    const onAbort = () => {
      clock.clearTimer(timer);
      for (const c of requests) c.abort(request.signal.reason);
    };
    const launch = () => {
      const signal = new Cancellation();
      const hedge = requests.length > 0;
      requests.push(signal);
      pending++;
      http.send(Object.assign({}, request, { signal })).then(
        (response) => {
          pending--;
          if (settled) return;
          settled = true;
          stop();
          for (const c of requests) if (c !== signal) c.abort(HEDGE_LOST);
          if (hedge) events.won();
          if (response.status < 500) hedging.history.add(clock.now() - started);
          resolve(response);
        },
        (error: unknown) => {
          pending--;
          if (settled) return;
          // No hedge after a failure: the attempt's retry policy decides what comes next.
          clock.clearTimer(timer);
          if (pending > 0) return;
          settled = true;
          stop();
          reject(error as Error);
        },
      );
    };
    request.signal.once('abort', onAbort);
    launch();
    // Callbacks above read `timer` only once a request settled, always after this line.
    const timer = clock.setTimer(
      () => {
        if (settled || request.signal.aborted || !hedging.take()) return;
        events.sent();
        launch();
      },
      delayMs,
      undefined,
    );
  });
}
