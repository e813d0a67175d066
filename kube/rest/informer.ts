/**
 * List+watch of one collection, the way client-go's reflector does it: list in pages, then watch
 * from the list's resourceVersion (bookmarks on, so the resume point stays fresh), resume a watch
 * that ends from the last resourceVersion seen, list again on 410 Gone, and back off while failing.
 */
import { KubeApiError, type KubeClient, type KubeList, type Query } from './client.ts';

/** What the loop reads of an object: its resourceVersion. */
type Versioned = { metadata?: { resourceVersion?: string } };

/** What a {@link ListWatch} reports. */
export interface ListWatchHandlers<T extends Versioned> {
  /** A (re-)list: the whole collection, replacing what was known. */
  onList(items: T[]): void;
  onEvent(type: 'ADDED' | 'MODIFIED' | 'DELETED', object: T): void;
  /** A failed list or watch, before the back-off delay (410 Gone is not reported: it lists again). */
  onError?(error: unknown): void;
}

/** Options of {@link startListWatch}. */
export interface ListWatchOptions<T extends Versioned> extends ListWatchHandlers<T> {
  client: KubeClient;
  /** The collection path, e.g. `/apis/syncflow.io/v1alpha1/workflows`. */
  path: string;
  /** labelSelector / fieldSelector, sent with the list and the watch. */
  query?: Query;
  /**
   * Objects per list request (default 500, as client-go's reflector): a large collection comes in
   * pages of one snapshot, so no single answer (its text and its parse) holds all of it.
   */
  pageSize?: number;
  /** First retry delay after a failure (default 1 s); doubles per failure up to `maxBackoffMs` (30 s). */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** The server-side watch timeout (default 5 to 10 minutes, random, as client-go). */
  timeoutSeconds?: number;
  /** Waits between attempts (tests). */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

/** Objects per list page unless `pageSize` says otherwise (client-go's reflector uses 500). */
const DEFAULT_PAGE_SIZE = 500;

/** A running list+watch. */
export interface ListWatch {
  /** The last resourceVersion seen (list, event or bookmark). */
  resourceVersion(): string;
  /** Stops and waits for the loop to end. */
  stop(): Promise<void>;
}

/** Starts listing and watching; runs until stopped. */
export function startListWatch<T extends Versioned>(options: ListWatchOptions<T>): ListWatch {
  const controller = new AbortController();
  const initialBackoff = options.backoffMs ?? 1_000;
  const maxBackoff = options.maxBackoffMs ?? 30_000;
  const sleep = options.sleep ?? abortableSleep;
  let resourceVersion = '';

  const loop = async (): Promise<void> => {
    let backoff = initialBackoff;
    while (!controller.signal.aborted) {
      const started = Date.now();
      let progressed = false;
      let listed = false;
      let listing = false;
      try {
        if (resourceVersion === '') {
          listing = true;
          const list = await listPages(options, controller.signal);
          if (list === undefined) return; // stopped while paging
          options.onList(list.items);
          resourceVersion = list.resourceVersion;
          progressed = listed = true;
          listing = false;
        }
        const timeoutSeconds = options.timeoutSeconds ?? 300 + Math.floor(Math.random() * 300);
        await options.client.watch<T>(
          options.path,
          { ...options.query, resourceVersion, allowWatchBookmarks: true, timeoutSeconds },
          (event) => {
            const version = event.object.metadata?.resourceVersion;
            if (event.type !== 'BOOKMARK') options.onEvent(event.type, event.object);
            if (version) resourceVersion = version;
            progressed = true;
          },
          { signal: controller.signal, idleTimeoutMs: (timeoutSeconds + 60) * 1000 },
        );
        // A watch the server ended (its timeout): resume from the last resourceVersion at once,
        // unless it ended at once without a word (then pace it like a failure).
        if (progressed || Date.now() - started >= 1_000) backoff = initialBackoff;
        else {
          await sleep(backoff, controller.signal);
          backoff = Math.min(backoff * 2, maxBackoff);
        }
      } catch (error) {
        if (controller.signal.aborted) return;
        if (!listing && (error as { code?: unknown }).code === 410) {
          // The watch's resourceVersion is too old: whatever happened since is unknown; list again,
          // at once unless this round already listed (a server that answers every watch with 410
          // is paced like a failure). A 410 to the list itself is a failure like any other.
          resourceVersion = '';
          if (!listed) continue;
        } else options.onError?.(error);
        if (progressed) backoff = initialBackoff;
        await sleep(backoff, controller.signal);
        backoff = Math.min(backoff * 2, maxBackoff);
      }
    }
  };
  const running = loop();
  return {
    resourceVersion: () => resourceVersion,
    async stop() {
      controller.abort();
      await running;
    },
  };
}

/**
 * The whole collection, page by page, or `undefined` when stopped meanwhile. Each `continue` token
 * carries the first page's snapshot, so the pages make one consistent list at the first page's
 * resourceVersion. When a token has expired (410: the snapshot was compacted away while paging),
 * the rest cannot be had: like client-go's pager, it falls back to one list of everything. A
 * server that hands back a token it was just given would page for ever: that is refused.
 */
async function listPages<T extends Versioned>(
  options: ListWatchOptions<T>,
  signal: AbortSignal,
): Promise<{ items: T[]; resourceVersion: string } | undefined> {
  const items: T[] = [];
  const limit = options.pageSize ?? DEFAULT_PAGE_SIZE;
  let resourceVersion: string | undefined;
  let token: string | undefined;
  for (;;) {
    let page: KubeList<T>;
    try {
      page = await options.client.list<T>(options.path, {
        query: { ...options.query, limit, ...(token !== undefined ? { continue: token } : {}) },
        signal,
      });
    } catch (error) {
      if (token === undefined || (error as { code?: unknown }).code !== 410) throw error;
      const whole = await options.client.list<T>(options.path, {
        ...(options.query ? { query: options.query } : {}),
        signal,
      });
      if (signal.aborted) return undefined;
      return { items: whole.items ?? [], resourceVersion: whole.metadata?.resourceVersion ?? '' };
    }
    if (signal.aborted) return undefined;
    for (const item of page.items ?? []) items.push(item);
    resourceVersion ??= page.metadata?.resourceVersion ?? '';
    const next = page.metadata?.continue || undefined;
    if (next === undefined) return { items, resourceVersion };
    if (next === token) {
      throw new KubeApiError(`LIST ${options.path}: the server answered a page with the same continue token`);
    }
    token = next;
  }
}

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    timer.unref();
    signal.addEventListener('abort', done, { once: true });
  });
}
