/**
 * Watch by polling: one loop per store reads the changes committed after its cursor (one indexed
 * query per interval however many watchers there are) and fans them out to the watchers whose
 * filter they match. A watcher starting from an older resourceVersion first catches up with its own
 * queries, then joins the shared loop. See docs/history.md for why polling and the measurement.
 */
import { SyncflowError } from '../core/errors.ts';
import { errorFields, type Logger } from '../core/logger.ts';
import type { ExecutionWatch, WatchEvent } from './store.ts';

/** A committed change with the resourceVersion that orders it. */
export interface StoredChange {
  rv: number;
  event: WatchEvent;
}

/** A page of changes and the newest committed resourceVersion seen after reading it. */
export interface ChangePage {
  changes: StoredChange[];
  lastRv: number;
}

/** Where the hub reads changes from. */
export interface ChangeFeed {
  /**
   * Up to `limit` changes with rv > `afterRv`, in rv order. Rejects with `SyncflowError('Gone')`
   * when changes after `afterRv` may have been compacted away. Changes must become visible in rv
   * order (the store serialises writers), so a read that saw rv N saw every change below N.
   */
  readChanges(afterRv: number, limit: number): Promise<ChangePage>;
}

/** Options of the watch hub. */
export interface WatchHubOptions {
  feed: ChangeFeed;
  logger: Logger;
  /** Time between polls when nothing new was found (default 100 ms). */
  pollIntervalMs?: number;
  /** Changes read per query (default 1000). */
  pageSize?: number;
  /** Events buffered for a watcher that does not read; beyond it the watch ends with Gone (default 10,000). */
  maxBufferedEvents?: number;
}

interface Watcher {
  position: number;
  accepts(event: WatchEvent): boolean;
  push(change: StoredChange): void;
  fail(error: Error): void;
}

/** Shares one polling loop between all watches of a store. */
export class WatchHub {
  private readonly feed: ChangeFeed;
  private readonly logger: Logger;
  private readonly pollIntervalMs: number;
  private readonly pageSize: number;
  private readonly maxBuffered: number;
  private readonly watchers = new Set<Watcher>();
  private cursor = 0;
  private timer: NodeJS.Timeout | undefined;
  private polling = false;
  private stopped = false;
  private failing = false;

  constructor(options: WatchHubOptions) {
    this.feed = options.feed;
    this.logger = options.logger;
    this.pollIntervalMs = options.pollIntervalMs ?? 100;
    this.pageSize = options.pageSize ?? 1000;
    this.maxBuffered = options.maxBufferedEvents ?? 10_000;
  }

  /** Number of open watches (for tests and metrics). */
  get size(): number {
    return this.watchers.size;
  }

  /**
   * Starts a watch delivering the changes after `fromRv` that `accepts` lets through. Rejects with
   * Gone when `fromRv` is older than the compacted resourceVersion.
   */
  async watch(fromRv: number, accepts: (event: WatchEvent) => boolean): Promise<ExecutionWatch> {
    if (this.stopped)
      throw new SyncflowError('ServiceUnavailable', 'the history store is closed; retry on another replica');
    const queue: StoredChange[] = [];
    let waiting: ((result: IteratorResult<WatchEvent>) => void) | undefined;
    let failWaiting: ((error: Error) => void) | undefined;
    let failure: Error | undefined;
    let closed = false;
    const watcher: Watcher = {
      position: fromRv,
      accepts,
      push: (change) => {
        if (closed) return;
        if (waiting) {
          const resolve = waiting;
          waiting = undefined;
          failWaiting = undefined;
          resolve({ value: change.event, done: false });
        } else if (queue.length >= this.maxBuffered) {
          watcher.fail(
            new SyncflowError(
              'Gone',
              `the watch fell more than ${this.maxBuffered} events behind and was closed; list again and watch from the list's resourceVersion`,
            ),
          );
        } else {
          queue.push(change);
        }
      },
      fail: (error) => {
        if (closed) return;
        failure = error;
        this.watchers.delete(watcher);
        if (failWaiting) {
          const reject = failWaiting;
          waiting = undefined;
          failWaiting = undefined;
          reject(error);
        }
      },
    };
    await this.catchUp(watcher);
    this.watchers.add(watcher);
    this.schedule(0);
    const close = () => {
      if (closed) return;
      closed = true;
      this.watchers.delete(watcher);
      queue.length = 0;
      if (waiting) waiting({ value: undefined, done: true });
      waiting = undefined;
      failWaiting = undefined;
    };
    const iterator: AsyncIterator<WatchEvent> = {
      next: () => {
        const change = queue.shift();
        if (change) return Promise.resolve({ value: change.event, done: false });
        if (failure) return Promise.reject(failure);
        if (closed) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve, reject) => {
          waiting = resolve;
          failWaiting = reject;
        });
      },
      return: () => {
        close();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
    return { [Symbol.asyncIterator]: () => iterator, close };
  }

  /**
   * Validates the watcher's starting point and delivers the changes from its position up to the
   * shared cursor with private queries, so that it can join the shared loop without a gap.
   */
  private async catchUp(watcher: Watcher): Promise<void> {
    let first = true;
    for (;;) {
      // The cursor only ever holds a resourceVersion already read, so all below it are committed.
      const target = this.cursor;
      const page = await this.feed.readChanges(watcher.position, this.pageSize);
      if (first && watcher.position > page.lastRv) {
        throw new SyncflowError(
          'BadRequest',
          `resourceVersion: ${watcher.position} is newer than the newest stored resourceVersion ${page.lastRv}; watch from a resourceVersion returned by list or get`,
          {
            causes: [
              { code: 'FieldInvalid', field: 'resourceVersion', message: 'newer than any stored change' },
            ],
          },
        );
      }
      first = false;
      for (const change of page.changes) {
        if (watcher.accepts(change.event)) watcher.push(change);
        watcher.position = change.rv;
      }
      if (page.changes.length < this.pageSize) watcher.position = Math.max(watcher.position, target);
      if (watcher.position >= this.cursor) break;
    }
    // Synchronous from here to the caller's `watchers.add`: an idle hub starts where this watcher is.
    if (this.watchers.size === 0 && !this.polling) this.cursor = watcher.position;
  }

  private schedule(delayMs: number): void {
    if (this.stopped || this.timer || this.polling || this.watchers.size === 0) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.poll();
    }, delayMs);
    this.timer.unref?.();
  }

  private async poll(): Promise<void> {
    this.polling = true;
    let full = false;
    try {
      const { changes } = await this.feed.readChanges(this.cursor, this.pageSize);
      full = changes.length === this.pageSize;
      for (const change of changes) {
        for (const watcher of this.watchers) {
          if (change.rv > watcher.position) {
            watcher.position = change.rv;
            if (watcher.accepts(change.event)) watcher.push(change);
          }
        }
        this.cursor = change.rv;
      }
      if (this.failing) {
        this.failing = false;
        this.logger.info({}, 'history watch polling recovered');
      }
    } catch (error) {
      if (error instanceof SyncflowError && error.code === 'Gone') {
        for (const watcher of [...this.watchers]) watcher.fail(error);
      } else if (!this.failing) {
        this.failing = true;
        this.logger.warn(errorFields(error), 'history watch polling failed; retrying');
      }
    } finally {
      this.polling = false;
    }
    this.schedule(full ? 0 : this.pollIntervalMs);
  }

  /** Stops polling and ends every watch. */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const error = new SyncflowError(
      'ServiceUnavailable',
      'the history store is shutting down; watch again on another replica',
    );
    for (const watcher of [...this.watchers]) watcher.fail(error);
  }
}
