/**
 * Batching for busy subscriptions (`subscribe {batchMs}`, docs/stream.md "Batches"): an event that
 * comes less than `batchMs` after the last message sent waits, with those that follow it, and they
 * go together as one `batch {id, messages}` at most `batchMs` after the first of them. A quiet
 * subscription gets each event at once, as without batching; a busy one gets at most one message per
 * interval, so a browser drawing at 60 frames per second parses a few large messages instead of
 * thousands of small ones.
 */
import type { StreamId } from '../../core/model/stream.ts';

/** The accepted range of `batchMs`. */
export const BATCH_MS = { min: 10, max: 1000 } as const;

/** What a batcher sends to and how often. */
export interface EventBatcherOptions {
  intervalMs: number;
  /** A batch this large (bytes of JSON text) goes at once; default 256 KiB, half the outbox's queue. */
  maxBatchBytes?: number;
  /** Sends one message's text that carries `count` events (the outbox counts drops by it). */
  send(text: string, count: number): void;
}

/** One subscription's batching. */
export class EventBatcher {
  private pending: string[] = [];
  private pendingBytes = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private lastSent = -Infinity;
  private readonly prefix: string;
  private readonly maxBatchBytes: number;

  constructor(
    id: StreamId,
    private readonly options: EventBatcherOptions,
  ) {
    this.prefix = `{"type":"batch","id":${JSON.stringify(id)},"messages":[`;
    this.maxBatchBytes = options.maxBatchBytes ?? 256 * 1024;
  }

  /** An event's JSON text: sent now, or with the next batch. */
  push(text: string): void {
    if (this.timer === undefined) {
      const now = performance.now();
      if (now - this.lastSent >= this.options.intervalMs) {
        this.lastSent = now;
        this.options.send(text, 1);
        return;
      }
      this.timer = setTimeout(() => this.flush(), this.lastSent + this.options.intervalMs - now);
    }
    if (this.pendingBytes + text.length > this.maxBatchBytes && this.pending.length > 0) this.sendPending();
    this.pending.push(text);
    this.pendingBytes += text.length;
  }

  /** Sends what waits now (before an answer that must follow it). */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.sendPending();
  }

  /** Drops what waits; nothing more is sent. */
  close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.pending = [];
    this.pendingBytes = 0;
    this.push = () => {};
  }

  private sendPending(): void {
    const texts = this.pending;
    if (texts.length === 0) return;
    this.pending = [];
    this.pendingBytes = 0;
    this.lastSent = performance.now();
    // Concatenated, not serialized again: each text is already one message's JSON.
    this.options.send(
      texts.length === 1 ? (texts[0] as string) : `${this.prefix}${texts.join(',')}]}`,
      texts.length,
    );
  }
}
