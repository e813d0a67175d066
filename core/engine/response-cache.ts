/**
 * Response caching: successful responses of tasks that declare `cache`, reused for their ttl and
 * keyed by the resolved request (method, URL, headers, body; hashed, so no secret is held in a
 * key). Bounded twice: entries per task (`maxEntries`) and bytes per replica, each dropping the
 * least recently used entry first. A new revision of a task starts with an empty cache.
 */
import type { CacheSettings } from '../definitions/compile.ts';
import { sha256Hex } from '../sha256.ts';
import type { Clock } from './collaborators.ts';
import type { ResolvedRequest } from './request.ts';

/** Characters of cached response text a replica holds at most, by default. */
const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;

interface Entry {
  owner: Map<string, Entry>;
  key: string;
  text: string;
  size: number;
  expiresAt: number;
}

/** The response cache of one executor (so of one replica). */
export class ResponseCache {
  /** Characters held now (texts and keys). */
  bytes = 0;
  private readonly maxBytes: number;
  /** Per owner (a compiled task): its entries, least recently used first. */
  private readonly owners = new WeakMap<object, Map<string, Entry>>();
  /** Every entry, least recently used first. */
  private readonly all = new Set<Entry>();

  constructor(
    private readonly clock: Clock,
    options: { maxBytes?: number } = {},
  ) {
    this.maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  }

  /**
   * The key of a resolved request. `ignoredHeader` (the idempotency key's, different in every
   * execution) and `traceparent` are left out, as they do not change the answer.
   */
  static keyOf(method: string, request: ResolvedRequest, ignoredHeader?: string): string {
    const ignored = ignoredHeader?.toLowerCase();
    const headers = Object.keys(request.headers)
      .filter((h) => h.toLowerCase() !== ignored && h.toLowerCase() !== 'traceparent')
      .sort()
      .map((h) => [h.toLowerCase(), request.headers[h]]);
    return sha256Hex(JSON.stringify([method, request.url, headers, request.body ?? null]));
  }

  /** The cached text of `key`, or `undefined` when absent or expired. */
  get(owner: object, key: string): string | undefined {
    const entries = this.owners.get(owner);
    const entry = entries?.get(key);
    if (!entry) return undefined;
    if (this.clock.now() >= entry.expiresAt) {
      this.drop(entry);
      return undefined;
    }
    // Most recently used goes last in both orders.
    entry.owner.delete(key);
    entry.owner.set(key, entry);
    this.all.delete(entry);
    this.all.add(entry);
    return entry.text;
  }

  /** Keeps `text` under `key` for the owner's ttl, dropping what the bounds require. */
  set(owner: object, key: string, text: string, settings: CacheSettings): void {
    const size = text.length + key.length;
    if (size > this.maxBytes) return;
    let entries = this.owners.get(owner);
    if (!entries) this.owners.set(owner, (entries = new Map()));
    const old = entries.get(key);
    if (old) this.drop(old);
    const entry: Entry = { owner: entries, key, text, size, expiresAt: this.clock.now() + settings.ttlMs };
    entries.set(key, entry);
    this.all.add(entry);
    this.bytes += size;
    while (entries.size > settings.maxEntries) this.drop(entries.values().next().value as Entry);
    while (this.bytes > this.maxBytes) this.drop(this.all.values().next().value as Entry);
  }

  private drop(entry: Entry): void {
    entry.owner.delete(entry.key);
    this.all.delete(entry);
    this.bytes -= entry.size;
  }
}
