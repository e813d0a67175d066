/**
 * A bounded cache whose entries expire after a per-entry TTL, evicting the least recently used entry
 * when full, with single-flight loading so concurrent misses for one key share one
 * load (one TokenReview, one SubjectAccessReview, one Secret read).
 */

/** Milliseconds since the epoch; injected so tests move time without sleeping. */
export type Clock = () => number;

interface Entry<V> {
  value: V;
  expiresAt: number;
}

/** Options of {@link TtlCache}. */
export interface TtlCacheOptions {
  maxEntries: number;
  now: Clock;
}

/** Bounded LRU cache with per-entry expiry and single-flight loads. */
export class TtlCache<V> {
  readonly #entries = new Map<string, Entry<V>>();
  readonly #inFlight = new Map<string, Promise<V>>();
  readonly #maxEntries: number;
  readonly #now: Clock;

  constructor(options: TtlCacheOptions) {
    if (!(options.maxEntries >= 1)) throw new RangeError('maxEntries must be at least 1');
    this.#maxEntries = options.maxEntries;
    this.#now = options.now;
  }

  /** Number of entries held, expired ones included until they are touched or evicted. */
  get size(): number {
    return this.#entries.size;
  }

  /** The unexpired value under `key`, refreshed as most recently used. */
  get(key: string): V | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    this.#entries.delete(key);
    if (this.#now() >= entry.expiresAt) return undefined;
    this.#entries.set(key, entry);
    return entry.value;
  }

  /** Stores `value` for `ttlMs`; a TTL ≤ 0 stores nothing. */
  set(key: string, value: V, ttlMs: number): void {
    this.#entries.delete(key);
    if (ttlMs <= 0) return;
    this.#entries.set(key, { value, expiresAt: this.#now() + ttlMs });
    while (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next().value as string;
      this.#entries.delete(oldest);
    }
  }

  /**
   * Returns the cached value (`hit: true`) or runs `load` once for all concurrent callers of `key`,
   * caching its value for the TTL `ttlOf(value)` returns. A rejected load is not cached.
   */
  async getOrLoad(
    key: string,
    load: () => Promise<V>,
    ttlOf: (value: V) => number,
  ): Promise<{ value: V; hit: boolean }> {
    const cached = this.get(key);
    if (cached !== undefined) return { value: cached, hit: true };
    let pending = this.#inFlight.get(key);
    if (pending === undefined) {
      pending = load().then(
        (value) => {
          this.#inFlight.delete(key);
          this.set(key, value, ttlOf(value));
          return value;
        },
        (error: unknown) => {
          this.#inFlight.delete(key);
          throw error;
        },
      );
      this.#inFlight.set(key, pending);
    }
    return { value: await pending, hit: false };
  }
}
