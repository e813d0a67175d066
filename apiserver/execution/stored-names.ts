/**
 * Asks the history whether execution names are taken, coalescing concurrent questions: the first
 * goes to the database at once, and those asked while a query is in flight go together in the next
 * one. Under load that is one query per batch of creates rather than one per create.
 *
 * A prefix drawn often (generateName of a busy workflow) also gets names checked ahead: the query
 * that asks about a drawn name carries more candidates, and those the store does not have are
 * handed out by later draws and answered for without a query (a round trip costs the server more
 * CPU than the rest of recording an execution). A name counts as free for `maxAgeMs` after its
 * check, which only widens the moments in which another replica could take the same name (1 in
 * 27^5 per draw) from the run's length to at most that: the writer's last resort covers it as
 * before (recorded under a uid-derived name, loudly). Names held or queued by this replica are
 * excluded by the caller when it reserves the drawn name, as for any drawn name.
 */
import type { ExecutionName } from '../../history/store.ts';

/** The store's bulk lookup: the `namespace/name` keys of the given names that are stored. */
export type StoredNamesLookup = (names: readonly ExecutionName[]) => Promise<Set<string>>;

/** Options of the check; durations in ms. */
export interface StoredNameCheckOptions {
  /** Names per query at most (default 500). */
  maxBatch?: number;
  /** Draws a candidate name for a generateName prefix; without it, `draw` is not available. */
  draw?: (prefix: string) => string;
  /** Draws of one namespace and prefix within a second from which names are checked ahead (default 16). */
  busyPerSecond?: number;
  /** Names checked ahead per prefix at most (default 256). */
  poolSize?: number;
  /** How long a name checked free counts as free (default 1,000). */
  maxAgeMs?: number;
  /** Clock in ms (default performance.now). */
  now?: () => number;
}

interface Question {
  name: ExecutionName;
  resolve(taken: boolean): void;
  reject(error: unknown): void;
}

/** The names checked ahead for one namespace and prefix, and how often it is drawn. */
interface Pool {
  /** Names the store did not have when checked (each in `checked`), newest last. */
  names: string[];
  filling: boolean;
  windowStart: number;
  draws: number;
  /** Draws in the previous second. */
  lastDraws: number;
}

/** How often a pool is drawn from: this second's draws so far, or the previous second's if more. */
function drawsPerSecond(pool: Pool): number {
  return Math.max(pool.draws, pool.lastDraws);
}

/** Pools kept at most (namespaces × prefixes); the oldest goes first. */
const MAX_POOLS = 1_024;

/** Batches name lookups against the history store. */
export class StoredNameCheck {
  private queue: Question[] = [];
  private inFlight = false;
  private readonly maxBatch: number;
  private readonly generate: ((prefix: string) => string) | undefined;
  private readonly busyPerSecond: number;
  private readonly poolSize: number;
  private readonly maxAgeMs: number;
  private readonly now: () => number;
  private readonly pools = new Map<string, Pool>();
  /** `namespace/name` → when it was checked free: answered for once, within maxAgeMs. */
  private readonly checked = new Map<string, number>();
  /** `namespace/name` → the answer of a drawn name asked together with names checked ahead. */
  private readonly asked = new Map<string, { answer: Promise<boolean>; at: number }>();

  constructor(
    private readonly lookup: StoredNamesLookup,
    options: StoredNameCheckOptions = {},
  ) {
    this.maxBatch = options.maxBatch ?? 500;
    this.generate = options.draw;
    this.busyPerSecond = options.busyPerSecond ?? 16;
    this.poolSize = options.poolSize ?? 256;
    this.maxAgeMs = options.maxAgeMs ?? 1_000;
    this.now = options.now ?? (() => performance.now());
  }

  /** Whether a stored execution has this name; rejects when the store cannot be asked. */
  isStored(namespace: string, name: string): Promise<boolean> {
    if (this.checked.size > 0 || this.asked.size > 0) {
      const key = `${namespace}/${name}`;
      const at = this.checked.get(key);
      if (at !== undefined) {
        this.checked.delete(key);
        if (this.now() - at <= this.maxAgeMs) return Promise.resolve(false);
      }
      const asked = this.asked.get(key);
      if (asked) {
        this.asked.delete(key);
        return asked.answer;
      }
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ name: { namespace, name }, resolve, reject });
      this.next();
    });
  }

  /**
   * A candidate name for `prefix` in `namespace`: one checked ahead when the prefix is busy and one
   * is fresh, else a new draw (ask `isStored` about it either way; it answers a checked one at once).
   */
  draw(namespace: string, prefix: string): string {
    const generate = this.generate;
    if (!generate) throw new Error('StoredNameCheck.draw needs the draw option');
    const now = this.now();
    const pool = this.pool(`${namespace}/${prefix}`, now);
    while (pool.names.length > 0) {
      const name = pool.names.pop() as string;
      const at = this.checked.get(`${namespace}/${name}`);
      if (at === undefined) continue; // answered for already (asked about by another path)
      if (now - at > this.maxAgeMs) {
        this.checked.delete(`${namespace}/${name}`);
        continue;
      }
      if (pool.names.length < this.target(pool) / 2) this.fill(namespace, prefix, pool, now, undefined);
      return name;
    }
    const name = generate(prefix);
    this.fill(namespace, prefix, pool, now, name);
    return name;
  }

  /** The pool of a namespace and prefix, counting this draw. */
  private pool(key: string, now: number): Pool {
    let pool = this.pools.get(key);
    if (!pool) {
      if (this.pools.size >= MAX_POOLS) this.pools.delete(this.pools.keys().next().value as string);
      pool = { names: [], filling: false, windowStart: now, draws: 0, lastDraws: 0 };
      this.pools.set(key, pool);
    }
    if (now - pool.windowStart >= 1_000) {
      pool.lastDraws = now - pool.windowStart < 2_000 ? pool.draws : 0;
      pool.windowStart = now;
      pool.draws = 0;
    }
    pool.draws++;
    return pool;
  }

  /**
   * Checks names ahead for a busy prefix, in the next query (with `drawn`, the name just handed
   * out unchecked, whose answer `isStored` then gives).
   */
  private fill(namespace: string, prefix: string, pool: Pool, now: number, drawn: string | undefined): void {
    if (pool.filling || drawsPerSecond(pool) < this.busyPerSecond) return;
    const generate = this.generate as (prefix: string) => string;
    this.sweep(now);
    pool.filling = true;
    if (drawn !== undefined) {
      const answer = new Promise<boolean>((resolve, reject) =>
        this.queue.push({ name: { namespace, name: drawn }, resolve, reject }),
      );
      // Answered through isStored; a drawn name nobody asks about must not be an unhandled rejection.
      answer.catch(() => undefined);
      this.asked.set(`${namespace}/${drawn}`, { answer, at: now });
    }
    const wanted = this.target(pool) - pool.names.length;
    const candidates = new Set<string>();
    for (let i = 0; i < wanted * 2 && candidates.size < wanted; i++) {
      const name = generate(prefix);
      if (name !== drawn && !this.checked.has(`${namespace}/${name}`)) candidates.add(name);
    }
    let unanswered = candidates.size;
    const free: string[] = [];
    const answered = () => {
      if (--unanswered > 0) return;
      for (const name of free) this.checked.set(`${namespace}/${name}`, now);
      pool.names.push(...free);
      pool.filling = false;
    };
    for (const name of candidates) {
      this.queue.push({
        name: { namespace, name },
        resolve: (taken) => {
          if (!taken) free.push(name);
          answered();
        },
        reject: answered,
      });
    }
    if (candidates.size === 0) pool.filling = false;
    this.next();
  }

  /**
   * Names to keep checked for a pool: about a quarter of a second of its draws (so a name is used
   * well within maxAgeMs), at least 16, at most poolSize.
   */
  private target(pool: Pool): number {
    return Math.min(this.poolSize, Math.max(16, Math.ceil(drawsPerSecond(pool) / 4)));
  }

  /** Forgets checks and answers older than maxAgeMs once they pile up (names drawn but not used). */
  private sweep(now: number): void {
    if (this.checked.size > this.poolSize * 16) {
      for (const [key, at] of this.checked) if (now - at > this.maxAgeMs) this.checked.delete(key);
    }
    if (this.asked.size > 64) {
      for (const [key, { at }] of this.asked) if (now - at > this.maxAgeMs) this.asked.delete(key);
    }
  }

  private next(): void {
    if (this.inFlight || this.queue.length === 0) return;
    this.inFlight = true;
    const batch = this.queue.splice(0, this.maxBatch);
    this.lookup(batch.map((q) => q.name))
      .then(
        (stored) => {
          for (const q of batch) q.resolve(stored.has(`${q.name.namespace}/${q.name.name}`));
        },
        (error: unknown) => {
          for (const q of batch) q.reject(error);
        },
      )
      .finally(() => {
        this.inFlight = false;
        this.next();
      });
  }
}
