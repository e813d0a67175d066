/**
 * Circuit breakers, one per upstream origin (scheme, host and port) and settings, shared by every
 * execution of a replica. Closed: calls go and their outcomes are counted over a sliding window;
 * when at least `minimumRequests` calls failed at `failureRatio` or more, the circuit opens. Open:
 * calls fail at once (reason CircuitOpen) for `openForMs`. Half-open: `halfOpenProbes` trial calls
 * go; all succeeding closes the circuit, any failing opens it again.
 *
 * Per origin rather than per task: an upstream that fails, fails for every task that calls it, and
 * one task's failures spare the other tasks their timeouts. Tasks that declare different settings
 * for one origin get a breaker each, so no task runs under settings it did not write.
 */
import type { BreakerSettings } from '../definitions/compile.ts';
import type { Clock } from './collaborators.ts';

/** The states of a circuit. */
export type BreakerState = 'closed' | 'open' | 'half-open';

/** Leave to make one call: counted in the window, or one of the half-open trial calls. */
export type BreakerPermit = 'counted' | 'probe';

/** Buckets the window is divided into: the window slides by a tenth of its length. */
const BUCKETS = 10;

/** The circuit of one origin and settings. */
export class CircuitBreaker {
  state: BreakerState = 'closed';
  private readonly bucketMs: number;
  /** Per bucket: its number (time / bucketMs), successes and failures. */
  private readonly bucketIds = new Array<number>(BUCKETS).fill(-1);
  private readonly successes = new Array<number>(BUCKETS).fill(0);
  private readonly failures = new Array<number>(BUCKETS).fill(0);
  private openedAt = 0;
  /** The failure ratio that last opened the circuit (1 when a trial call failed). */
  private openedRatio = 0;
  private probesStarted = 0;
  private probesSucceeded = 0;

  constructor(
    readonly origin: string,
    private readonly settings: BreakerSettings,
    private readonly clock: Clock,
  ) {
    this.bucketMs = Math.max(1, Math.ceil(settings.windowMs / BUCKETS));
  }

  /** Leave to call, or `undefined` when the circuit is open (or its trial calls are all out). */
  admit(): BreakerPermit | undefined {
    if (this.state === 'closed') return 'counted';
    if (this.state === 'open') {
      if (this.clock.now() - this.openedAt < this.settings.openForMs) return undefined;
      this.state = 'half-open';
      this.probesStarted = 0;
      this.probesSucceeded = 0;
    }
    if (this.probesStarted >= this.settings.halfOpenProbes) return undefined;
    this.probesStarted++;
    return 'probe';
  }

  /** The outcome of a call made with `permit`: `ok` false for 5xx, 429, timeouts and connection errors. */
  record(permit: BreakerPermit, ok: boolean): void {
    if (permit === 'probe') {
      if (this.state !== 'half-open') return;
      if (!ok) {
        this.open(1);
      } else if (++this.probesSucceeded >= this.settings.halfOpenProbes) {
        this.state = 'closed';
        this.bucketIds.fill(-1);
      }
      return;
    }
    if (this.state !== 'closed') return;
    const now = this.clock.now();
    const id = Math.floor(now / this.bucketMs);
    const slot = id % BUCKETS;
    if (this.bucketIds[slot] !== id) {
      this.bucketIds[slot] = id;
      this.successes[slot] = 0;
      this.failures[slot] = 0;
    }
    if (ok) (this.successes[slot] as number)++;
    else (this.failures[slot] as number)++;
    let total = 0;
    let failed = 0;
    for (let i = 0; i < BUCKETS; i++) {
      if (id - (this.bucketIds[i] as number) >= BUCKETS) continue;
      total += (this.successes[i] as number) + (this.failures[i] as number);
      failed += this.failures[i] as number;
    }
    if (total >= this.settings.minimumRequests && failed / total >= this.settings.failureRatio)
      this.open(failed / total);
  }

  /** A permit whose call was not made or not judged (cancelled): a trial call becomes available again. */
  release(permit: BreakerPermit): void {
    if (permit === 'probe' && this.state === 'half-open' && this.probesStarted > 0) this.probesStarted--;
  }

  /** What the console and the API show: state, the window's failure ratio and calls, when it opened. */
  status(): BreakerStatus {
    const id = Math.floor(this.clock.now() / this.bucketMs);
    let requests = 0;
    let failed = 0;
    for (let i = 0; i < BUCKETS; i++) {
      if (id - (this.bucketIds[i] as number) >= BUCKETS) continue;
      requests += (this.successes[i] as number) + (this.failures[i] as number);
      failed += this.failures[i] as number;
    }
    const closed = this.state === 'closed';
    const status: BreakerStatus = {
      origin: this.origin,
      state: this.state,
      failureRatio: closed ? (requests ? failed / requests : 0) : this.openedRatio,
      requests,
      settings: this.settings,
    };
    if (!closed) status.openedAt = this.openedAt;
    return status;
  }

  /** Milliseconds until an open circuit lets a trial call through. */
  retryInMs(): number {
    return Math.max(0, this.openedAt + this.settings.openForMs - this.clock.now());
  }

  private open(ratio: number): void {
    this.state = 'open';
    this.openedAt = this.clock.now();
    this.openedRatio = ratio;
    this.bucketIds.fill(-1);
  }
}

/** The state of one breaker, for metrics and the console. */
export interface BreakerStatus {
  origin: string;
  state: BreakerState;
  /**
   * Closed: failed calls over calls in the window (0 without calls). Open or half-open: the ratio
   * that opened it (1 when a trial call failed), since the window restarts when it opens.
   */
  failureRatio: number;
  /** Calls counted in the window. */
  requests: number;
  /** When it last opened (clock ms), while open or half-open. */
  openedAt?: number;
  settings: BreakerSettings;
}

/** The breakers of a replica, by origin and settings. */
export class CircuitBreakers {
  private readonly breakers = new Map<string, CircuitBreaker>();

  constructor(private readonly clock: Clock) {}

  /** The breaker of `origin` under `settings`, made on first use. */
  for(origin: string, settings: BreakerSettings): CircuitBreaker {
    const key = `${origin} ${settings.key}`;
    let breaker = this.breakers.get(key);
    if (!breaker) {
      breaker = new CircuitBreaker(origin, settings, this.clock);
      this.breakers.set(key, breaker);
    }
    return breaker;
  }

  /** Every breaker's status. */
  states(): BreakerStatus[] {
    return [...this.breakers.values()].map((b) => b.status());
  }
}

/** The origin of an absolute URL: `scheme://host[:port]`. */
export function originOf(url: string): string {
  return new URL(url).origin;
}
