/**
 * Asks the history whether execution names are taken, coalescing concurrent questions: the first
 * goes to the database at once, and those asked while a query is in flight go together in the next
 * one. Under load that is one query per batch of creates rather than one per create.
 */
import type { ExecutionName } from '../../history/store.ts';

/** The store's bulk lookup: the `namespace/name` keys of the given names that are stored. */
export type StoredNamesLookup = (names: readonly ExecutionName[]) => Promise<Set<string>>;

interface Question {
  name: ExecutionName;
  resolve(taken: boolean): void;
  reject(error: unknown): void;
}

/** Batches name lookups against the history store. */
export class StoredNameCheck {
  private queue: Question[] = [];
  private inFlight = false;

  constructor(
    private readonly lookup: StoredNamesLookup,
    /** Names per query at most. */
    private readonly maxBatch = 500,
  ) {}

  /** Whether a stored execution has this name; rejects when the store cannot be asked. */
  isStored(namespace: string, name: string): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.queue.push({ name: { namespace, name }, resolve, reject });
      this.next();
    });
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
