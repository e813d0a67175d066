/**
 * Bounded sending on one stream connection, so that a slow reader never slows an execution nor
 * grows the server's memory: messages go to the socket while its buffer (`bufferedAmount`: what
 * the WebSocket and the kernel have not sent yet) is below a limit, wait in a queue of bounded size
 * while it is above, and are dropped beyond that. Each request that lost messages gets one
 * `overflow {id, dropped}` notice, in order, once the reader catches up. Essential messages
 * (answers: errors, acknowledgements, the end of an execution the client runs) are never dropped;
 * a reader that lets even those pile up past a hard limit is given up on.
 */
import type { StreamId } from '../../core/model/stream.ts';

/** The part of a WebSocket the outbox uses. */
export interface OutboxSocket {
  readonly bufferedAmount: number;
  send(data: string, done: (error?: Error) => void): void;
}

/** Limits of one connection's sending (bytes of JSON text). */
export interface OutboxLimits {
  /** The socket's own buffer: nothing more is handed to it while it holds this much. */
  maxBufferedBytes: number;
  /** The queue, for messages that may be dropped. */
  maxQueuedBytes: number;
  /** The queue including essential messages; beyond it the connection is given up on. */
  maxEssentialBytes: number;
}

type Entry = { text: string; bytes: number } | { overflow: StreamId };

/** One connection's outgoing messages. */
export class Outbox {
  private readonly queue: Entry[] = [];
  /** Dropped messages per request whose notice is queued and not sent yet. */
  private readonly notices = new Map<StreamId, number>();
  private queued = 0;
  private closed = false;
  private droppedTotal = 0;
  private readonly drain = () => this.flush();

  constructor(
    private readonly socket: OutboxSocket,
    private readonly limits: OutboxLimits,
    /** Called once when essential messages exceed their limit; the caller closes the connection. */
    private readonly onGiveUp: () => void,
    /** Called with each overflow notice's count (metrics). */
    private readonly onDrop: (count: number) => void = () => {},
  ) {}

  /** Bytes waiting in the queue. */
  get queuedBytes(): number {
    return this.queued;
  }

  /** Messages dropped on this connection so far. */
  get dropped(): number {
    return this.droppedTotal;
  }

  /**
   * Sends `text` (a message of request `id`; undefined for messages of no request, such as
   * heartbeats, which are dropped without notice) now, later, or not at all. `count`: the events it
   * carries (a batch), what a drop counts.
   */
  push(id: StreamId | undefined, text: string, options: { essential?: boolean; count?: number } = {}): void {
    if (this.closed) return;
    if (this.queue.length === 0 && this.socket.bufferedAmount < this.limits.maxBufferedBytes) {
      this.socket.send(text, this.drain);
      return;
    }
    const bytes = text.length;
    if (options.essential) {
      if (this.queued + bytes > this.limits.maxEssentialBytes) {
        this.close();
        this.onGiveUp();
        return;
      }
    } else if (this.queued + bytes > this.limits.maxQueuedBytes) {
      const events = options.count ?? 1;
      this.droppedTotal += events;
      if (id === undefined) return;
      const count = this.notices.get(id);
      if (count === undefined) this.queue.push({ overflow: id });
      this.notices.set(id, (count ?? 0) + events);
      return;
    }
    this.queue.push({ text, bytes });
    this.queued += bytes;
  }

  /** Drops everything queued and sends nothing more. */
  close(): void {
    this.closed = true;
    this.queue.length = 0;
    this.notices.clear();
    this.queued = 0;
  }

  private flush(): void {
    while (
      !this.closed &&
      this.queue.length > 0 &&
      this.socket.bufferedAmount < this.limits.maxBufferedBytes
    ) {
      const entry = this.queue.shift() as Entry;
      if ('overflow' in entry) {
        const dropped = this.notices.get(entry.overflow) ?? 0;
        this.notices.delete(entry.overflow);
        this.onDrop(dropped);
        this.socket.send(JSON.stringify({ type: 'overflow', id: entry.overflow, dropped }), this.drain);
      } else {
        this.queued -= entry.bytes;
        this.socket.send(entry.text, this.drain);
      }
    }
  }
}
