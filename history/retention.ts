/**
 * Retention: deletes executions older than the configured age, and purges the watch change log
 * past its window, in small batches with a pause between them so a sweep never holds the history
 * write lock for long (safe to run at any hour, on every replica).
 */
import { errorFields, type Logger } from '../core/logger.ts';
import type { HistoryMetrics } from './metrics.ts';

/** What retention needs from a store. */
export interface RetentionTarget {
  deleteCreatedBefore(cutoff: Date, batchSize: number): Promise<number>;
  compactChanges(cutoff: Date, batchSize: number): Promise<number>;
  /** Deletes expired execution name reservations (stores that keep none need not have it). */
  purgeNameReservations?(batchSize: number): Promise<number>;
}

/** Options of the sweeper; durations in ms. */
export interface RetentionOptions {
  target: RetentionTarget;
  logger: Logger;
  metrics?: HistoryMetrics;
  /** Executions older than this are deleted (default 7 days). */
  maxAgeMs?: number;
  /** MODIFIED/DELETED changes are kept this long for watches (default 5 minutes). */
  changeWindowMs?: number;
  /** Rows per transaction (default 500). */
  batchSize?: number;
  /** Pause between batches (default 50). */
  pauseMs?: number;
  /** Time between sweeps (default 60,000). */
  intervalMs?: number;
  /** Clock, for tests. */
  now?: () => number;
}

/** Totals of one sweep. */
export interface SweepResult {
  executions: number;
  changes: number;
}

export const DEFAULT_RETENTION_MS = 7 * 24 * 3600 * 1000;

/** Periodically applies the retention policy. */
export class RetentionSweeper {
  private readonly options: Required<Omit<RetentionOptions, 'metrics'>> & {
    metrics: HistoryMetrics | undefined;
  };
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<SweepResult> | undefined;
  private stopped = false;

  constructor(options: RetentionOptions) {
    this.options = {
      maxAgeMs: DEFAULT_RETENTION_MS,
      changeWindowMs: 5 * 60 * 1000,
      batchSize: 500,
      pauseMs: 50,
      intervalMs: 60_000,
      now: Date.now,
      ...options,
      metrics: options.metrics,
    };
  }

  /** Deletes everything past retention now, batch by batch. */
  async sweep(): Promise<SweepResult> {
    const { target, batchSize, pauseMs, now, maxAgeMs, changeWindowMs } = this.options;
    const result: SweepResult = { executions: 0, changes: 0 };
    const executionCutoff = new Date(now() - maxAgeMs);
    for (;;) {
      const n = await target.deleteCreatedBefore(executionCutoff, batchSize);
      result.executions += n;
      this.options.metrics?.retentionDeleted.inc(n);
      if (n < batchSize || this.stopped) break;
      await sleep(pauseMs);
    }
    const changeCutoff = new Date(now() - changeWindowMs);
    for (;;) {
      const n = await target.compactChanges(changeCutoff, batchSize);
      result.changes += n;
      if (n < batchSize || this.stopped) break;
      await sleep(pauseMs);
    }
    for (;;) {
      const n = (await target.purgeNameReservations?.(batchSize)) ?? 0;
      if (n < batchSize || this.stopped) break;
      await sleep(pauseMs);
    }
    if (result.executions > 0 || result.changes > 0) {
      this.options.logger.info(
        { ...result, olderThan: executionCutoff.toISOString() },
        'history retention sweep done',
      );
    }
    return result;
  }

  /** Sweeps now and then every `intervalMs` until `stop()`. */
  start(): void {
    const tick = () => {
      if (this.stopped) return;
      this.running = this.sweep().catch((error: unknown) => {
        this.options.logger.warn(
          errorFields(error),
          'history retention sweep failed; will retry at the next interval',
        );
        return { executions: 0, changes: 0 };
      });
      void this.running.finally(() => {
        if (this.stopped) return;
        this.timer = setTimeout(tick, this.options.intervalMs);
        this.timer.unref?.();
      });
    };
    tick();
  }

  /** Stops sweeping; resolves when a sweep in progress has finished its current batch. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
