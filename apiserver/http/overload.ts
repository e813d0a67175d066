/**
 * Load shedding: whether the server may take on one more piece of expensive work (an execution, an
 * admission review) or must answer 429 at once. Two signals: a count of work in flight against its
 * limit, and the event loop's delay. The count alone is not enough: when work costs more CPU than
 * the limit assumed (large inputs, a busy machine), the admitted work queues on the event loop and
 * every answer — 429s, /livez, TLS handshakes — waits behind it. Refusing while the loop lags keeps
 * the queue, and with it the time to any answer, bounded.
 */
/** Reports how late the event loop is running, in ms. */
export interface LoadSignal {
  delayMs(): number;
}

/** How often the sampler's timer expects to run. */
const TICK_MS = 20;

/**
 * Measures the event loop's delay with a timer: the lateness of its ticks, decaying over a few
 * ticks, and — so that a long run of callbacks is seen while it lasts, before the timer can fire —
 * the time since the last tick.
 */
export class EventLoopDelay implements LoadSignal {
  private last = performance.now();
  private recent = 0;
  private readonly timer: NodeJS.Timeout;

  constructor() {
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.timer.unref();
  }

  delayMs(): number {
    return Math.max(this.recent, performance.now() - this.last - TICK_MS);
  }

  /** Stops the sampler's timer. */
  stop(): void {
    clearInterval(this.timer);
  }

  private tick(): void {
    const now = performance.now();
    // Halves every tick: a single late tick stops counting after about 100 ms.
    this.recent = Math.max(now - this.last - TICK_MS, this.recent / 2);
    this.last = now;
  }
}

/** A load signal that never reports delay (shedding by count only). */
export const NO_DELAY: LoadSignal = { delayMs: () => 0 };

/** What a limiter is built from. */
export interface WorkLimitOptions {
  /** Work allowed at once. */
  limit: number;
  /** Event loop delay above which new work is refused; 0 never refuses for delay. */
  maxDelayMs: number;
  signal: LoadSignal;
}

/**
 * Counts work in flight against a limit and refuses new work while the event loop lags (the
 * gateway's `InFlightLimiter`).
 */
export class WorkLimiter {
  inFlight = 0;

  constructor(private readonly options: WorkLimitOptions) {}

  tryAcquire(): boolean {
    if (this.inFlight >= this.options.limit) return false;
    if (this.options.maxDelayMs > 0 && this.options.signal.delayMs() > this.options.maxDelayMs) return false;
    this.inFlight++;
    return true;
  }

  release(): void {
    this.inFlight--;
  }

  /** Why work is being refused, for the 429's message. */
  refusal(what: string): string {
    if (this.inFlight >= this.options.limit)
      return `the server is running ${this.inFlight} ${what}, its limit; retry after 1 second`;
    return `the server is overloaded (its event loop is running late); retry after 1 second`;
  }
}
