/**
 * A one-shot cancellation signal, cheaper than AbortController on the hot path (one per attempt).
 * It has the `on`/`once`/`removeListener` shape undici accepts as a request `signal`.
 */

/** What a cancellable operation watches. */
export interface CancelSignal {
  readonly aborted: boolean;
  readonly reason: unknown;
  once(event: 'abort', listener: () => void): unknown;
  removeListener(event: 'abort', listener: () => void): unknown;
}

/** A cancellation that can be triggered once, with a reason. */
export class Cancellation implements CancelSignal {
  aborted = false;
  reason: unknown = undefined;
  private listeners: Array<() => void> | undefined;

  once(_event: 'abort', listener: () => void): this {
    if (this.aborted) return this;
    (this.listeners ??= []).push(listener);
    return this;
  }

  /** Same as `once`: the signal fires at most once. undici checks that `on` exists. */
  on(event: 'abort', listener: () => void): this {
    return this.once(event, listener);
  }

  removeListener(_event: 'abort', listener: () => void): this {
    const listeners = this.listeners;
    if (listeners) {
      const at = listeners.indexOf(listener);
      if (at >= 0) listeners.splice(at, 1);
    }
    return this;
  }

  /** Triggers the cancellation; later calls are ignored. Listeners run synchronously, once. */
  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    const listeners = this.listeners;
    this.listeners = undefined;
    if (listeners) for (const listener of listeners) listener();
  }
}
