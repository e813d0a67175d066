/**
 * A one-shot cancellation signal, cheaper than AbortController on the hot path (one per attempt,
 * one per request). It has the `on`/`once`/`removeListener` shape undici accepts as a request
 * `signal`, and the `addEventListener` shape of a {@link CallerSignal}.
 */

/** An object listener (the DOM EventListener protocol): no closure needed. */
export interface AbortListener {
  handleEvent(): void;
}

/** What a cancellable operation watches; a listener is a function or an {@link AbortListener}. */
export interface CancelSignal {
  readonly aborted: boolean;
  readonly reason: unknown;
  once(event: 'abort', listener: (() => void) | AbortListener): unknown;
  removeListener(event: 'abort', listener: (() => void) | AbortListener): unknown;
}

/** What an execution watches of its caller's signal: an AbortSignal or a {@link Cancellation}. */
export interface CallerSignal {
  readonly aborted: boolean;
  addEventListener(type: 'abort', listener: AbortListener, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: AbortListener): void;
}

type Listener = (() => void) | AbortListener;

/** A cancellation that can be triggered once, with a reason. */
export class Cancellation implements CancelSignal, CallerSignal {
  aborted = false;
  reason: unknown = undefined;
  private listeners: Listener[] | undefined;

  once(_event: 'abort', listener: Listener): this {
    this.add(listener);
    return this;
  }

  /** Listens once (the signal fires at most once, so `once` is implied). */
  addEventListener(_type: 'abort', listener: AbortListener): void {
    this.add(listener);
  }

  removeEventListener(_type: 'abort', listener: AbortListener): void {
    this.remove(listener);
  }

  private add(listener: Listener): void {
    if (this.aborted) return;
    (this.listeners ??= []).push(listener);
  }

  /** Same as `once`: the signal fires at most once. undici checks that `on` exists. */
  on(event: 'abort', listener: Listener): this {
    return this.once(event, listener);
  }

  removeListener(_event: 'abort', listener: Listener): this {
    this.remove(listener);
    return this;
  }

  private remove(listener: Listener): void {
    const listeners = this.listeners;
    if (listeners) {
      const at = listeners.indexOf(listener);
      if (at >= 0) listeners.splice(at, 1);
    }
  }

  /** Triggers the cancellation; later calls are ignored. Listeners run synchronously, once. */
  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    const listeners = this.listeners;
    this.listeners = undefined;
    if (!listeners) return;
    for (const listener of listeners) {
      if (typeof listener === 'function') listener();
      else listener.handleEvent();
    }
  }
}
