/**
 * Execution names reserved by this replica before anything runs. A create holds its name from
 * before its first `await` until the history writer has queued the finished execution, and from
 * then on the writer's queue and the store answer for it: there is no moment when a second create
 * with the same name could find it free. (Across replicas the history store is the authority; see
 * ExecutionService.)
 */

/** A held name; `release()` gives it back (idempotent). */
export interface NameReservation {
  readonly namespace: string;
  readonly name: string;
  release(): void;
}

/**
 * A held name: an object with one method rather than a closure per reservation (one is made for
 * every execution).
 */
class HeldName implements NameReservation {
  private released = false;

  constructor(
    private readonly held: Set<string>,
    private readonly key: string,
    readonly namespace: string,
    readonly name: string,
  ) {}

  release(): void {
    if (this.released) return;
    this.released = true;
    this.held.delete(this.key);
  }
}

/** The names this replica holds, by namespace. */
export class NameReservations {
  private readonly held = new Set<string>();

  /** Holds the name and returns the reservation, or undefined when it is held already. Synchronous. */
  tryReserve(namespace: string, name: string): NameReservation | undefined {
    // '/' cannot occur in a namespace (a DNS label), so the key is unambiguous.
    const key = `${namespace}/${name}`;
    if (this.held.has(key)) return undefined;
    this.held.add(key);
    return new HeldName(this.held, key, namespace, name);
  }

  /** Whether the name is held now. */
  isReserved(namespace: string, name: string): boolean {
    return this.held.has(`${namespace}/${name}`);
  }

  /** Names held now (for tests and metrics). */
  get size(): number {
    return this.held.size;
  }
}
