/**
 * Cross-replica fan-out of live execution messages over the history database (DESIGN §9):
 * PostgreSQL LISTEN/NOTIFY on one dedicated connection per replica (not the pool). It works the same
 * on the embedded PGlite, whose bridge routes notifications between connections (see embedded.ts).
 *
 * - Interest: a replica that has listeners announces the namespaces it listens to on the presence
 *   channel, again every third of `interestTtlMs` while it has any, and once more (empty) when it has
 *   none left. The others count it until `interestTtlMs` after its last announcement, so a replica
 *   that dies or restarts (new id) stops counting after that. A replica that starts, or reconnects,
 *   says hello and the listening ones announce at once. Nobody listening: no traffic at all.
 * - Messages: serialised when sent, queued up to `maxQueuedBytes` (beyond it dropped, counted,
 *   warned at most every 10 s, never with a payload), coalesced for `flushDelayMs`, and notified as
 *   one batch in one statement: the batch text is cut into notifications under PostgreSQL's 8000-byte
 *   payload limit, which one transaction delivers together and in order. One connection sends, so
 *   batches arrive in the order they were sent, and each execution's messages in its order.
 * - Loss: a batch that fails with the connection is dropped (counted); the connection is re-opened
 *   with back-off, LISTENs again, says hello and announces its interest again. Live messages are
 *   best-effort: the recorded execution stays in the history.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { errorFields, type Logger } from '../core/logger.ts';
import type { LiveFanoutMetrics } from './metrics.ts';

/** Options of the fan-out; durations in ms. */
export interface PgLiveFanoutOptions {
  connectionString: string;
  logger: Logger;
  metrics?: LiveFanoutMetrics;
  /** This replica's id in announcements and batches (default: a random UUID per process). */
  replica?: string;
  /** Data channel name; the presence channel is `<channel>_presence` (default `syncflow_live`). */
  channel?: string;
  /** How long messages are coalesced before a batch is notified (default 5). */
  flushDelayMs?: number;
  /** Serialised bytes queued at most; beyond them messages are dropped (default 16 MiB). */
  maxQueuedBytes?: number;
  /** How long another replica's announced interest counts (default 15,000). */
  interestTtlMs?: number;
  /** First reconnect delay (default 200); doubles up to 5 s. */
  reconnectDelayMs?: number;
  /** `application_name` of the connection (default `syncflow-live-fanout`). */
  applicationName?: string;
}

/** Bytes of one notification's payload at most (PostgreSQL refuses 8000 and more). */
const MAX_PAYLOAD = 7_900;
/** Bytes of batch text notified in one statement at most. */
const MAX_STATEMENT_TEXT = 512 * 1024;
const MAX_RECONNECT_DELAY = 5_000;
/** Notifications of one batch at most, as a receiver accepts them (16 MB of text). */
const MAX_PARTS = 2_048;
const WARN_INTERVAL = 10_000;

/** Another replica's announced interest. */
interface RemoteInterest {
  all: boolean;
  namespaces: Set<string>;
  expiresAt: number;
}

/** A batch being reassembled from its notifications. */
interface Reassembly {
  batch: number;
  parts: string[];
}

/**
 * The fan-out of one replica, for messages of type `M` (JSON values; the sender decides, with
 * `remoteListening`, which are wanted). `send`, `interest` and `remoteListening` never block and never throw;
 * `start` connects (in the background when the database is not reachable yet).
 */
export class PgLiveFanout<M> {
  private readonly options: PgLiveFanoutOptions;
  private readonly replica: string;
  private readonly channel: string;
  private readonly presenceChannel: string;
  private readonly flushDelayMs: number;
  private readonly maxQueuedBytes: number;
  private readonly interestTtlMs: number;
  private readonly firstReconnectDelay: number;
  private readonly logger: Logger;

  private client: pg.Client | undefined;
  /** The connection's statements, one after the other (pg wants no overlapping queries). */
  private statements: Promise<unknown> = Promise.resolve();
  private connected = false;
  private stopped = false;
  private reconnectDelay: number;
  private reconnectTimer: NodeJS.Timeout | undefined;

  private handler: ((message: M) => void) | undefined;
  private readonly remote = new Map<string, RemoteInterest>();
  private local: string[] = [];
  private heartbeat: NodeJS.Timeout | undefined;

  private queue: string[] = [];
  private queuedBytes = 0;
  private flushTimer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private batch = 0;
  private readonly reassembly = new Map<string, Reassembly>();

  private droppedSinceWarning = 0;
  private lastWarning = 0;

  constructor(options: PgLiveFanoutOptions) {
    this.options = options;
    this.replica = options.replica ?? randomUUID();
    this.channel = options.channel ?? 'syncflow_live';
    // Interpolated into LISTEN: an identifier only, short enough for `<channel>_presence`.
    if (!/^[a-z_][a-z0-9_]{0,53}$/.test(this.channel)) {
      throw new Error(
        `live fan-out channel '${this.channel}' must be a lower-case identifier of at most 54 characters`,
      );
    }
    this.presenceChannel = `${this.channel}_presence`;
    this.flushDelayMs = options.flushDelayMs ?? 5;
    this.maxQueuedBytes = options.maxQueuedBytes ?? 16 * 1024 * 1024;
    this.interestTtlMs = options.interestTtlMs ?? 15_000;
    this.firstReconnectDelay = options.reconnectDelayMs ?? 200;
    this.reconnectDelay = this.firstReconnectDelay;
    this.logger = options.logger;
  }

  /** Connects; when that fails, logs and keeps trying in the background. */
  async start(): Promise<void> {
    await this.connect();
  }

  /** Whether some other replica listens to executions of `namespace` now. */
  remoteListening(namespace: string): boolean {
    if (this.remote.size === 0) return false;
    const now = Date.now();
    for (const [replica, interest] of this.remote) {
      if (interest.expiresAt <= now) {
        this.remote.delete(replica);
        continue;
      }
      if (interest.all || interest.namespaces.has(namespace)) return true;
    }
    return false;
  }

  /** The namespaces this replica listens to now (`''`: every namespace); empty: none. */
  interest(namespaces: ReadonlySet<string>): void {
    const next = [...namespaces].sort();
    if (JSON.stringify(next) === JSON.stringify(this.local)) return;
    const had = this.local.length > 0;
    this.local = next;
    if (next.length > 0 && !this.heartbeat) {
      this.heartbeat = setInterval(() => this.announce(), Math.max(10, this.interestTtlMs / 3));
      this.heartbeat.unref();
    } else if (next.length === 0) {
      clearInterval(this.heartbeat);
      this.heartbeat = undefined;
    }
    if (next.length > 0 || had) this.announce();
  }

  /** Queues a message for the replicas that listen; drops it (counted) when the queue is full. */
  send(message: M): void {
    try {
      const text = JSON.stringify(message);
      const bytes = Buffer.byteLength(text);
      if (this.stopped || this.queuedBytes + bytes > this.maxQueuedBytes) {
        this.drop(1, this.stopped ? 'closed' : 'overflow');
        return;
      }
      this.queue.push(text);
      this.queuedBytes += bytes;
      this.scheduleFlush();
    } catch (error) {
      this.drop(1, 'unserialisable', kindOf(error));
    }
  }

  /** Where messages from other replicas go. */
  receive(handler: (message: M) => void): void {
    this.handler = handler;
  }

  /** Says goodbye (so the others stop counting this replica at once), sends what is queued, disconnects. */
  async close(): Promise<void> {
    if (this.stopped) return;
    clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (this.local.length > 0) {
      this.local = [];
      this.announce();
    }
    await this.flush();
    this.stopped = true;
    const client = this.client;
    this.client = undefined;
    this.connected = false;
    await client?.end().catch(() => undefined);
    if (this.queue.length > 0) this.drop(this.queue.length, 'closed');
    this.queue = [];
    this.queuedBytes = 0;
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const client = new pg.Client({
      connectionString: this.options.connectionString,
      application_name: this.options.applicationName ?? 'syncflow-live-fanout',
      keepAlive: true,
      connectionTimeoutMillis: 5_000,
      // A hung server fails the statement (the batch is dropped) instead of stalling every later one.
      query_timeout: 10_000,
    });
    client.on('error', (error) => this.lost(client, error));
    client.on('end', () => this.lost(client));
    client.on('notification', (n) => this.notified(n));
    this.client = client;
    this.statements = Promise.resolve();
    try {
      await client.connect();
      // One statement each: the embedded bridge recognises a LISTEN only as a query of its own.
      await client.query(`LISTEN ${this.channel}`);
      await client.query(`LISTEN ${this.presenceChannel}`);
      if (this.stopped || this.client !== client) return;
      this.connected = true;
      this.reconnectDelay = this.firstReconnectDelay;
      this.notify(this.presenceChannel, JSON.stringify({ replica: this.replica, hello: true }));
      if (this.local.length > 0) this.announce();
      this.scheduleFlush();
    } catch (error) {
      this.lost(client, error);
    }
  }

  /** The connection is gone: forget it and connect again after a delay. */
  private lost(client: pg.Client, error?: unknown): void {
    if (this.client !== client) return;
    this.client = undefined;
    this.connected = false;
    client.end().catch(() => undefined);
    if (this.stopped) return;
    this.logger.warn(
      { ...(error ? errorFields(error) : {}), retryInMs: this.reconnectDelay },
      'live events fan-out lost its database connection; reconnecting',
    );
    this.reconnectTimer = setTimeout(() => void this.connect(), this.reconnectDelay);
    this.reconnectTimer.unref();
    this.reconnectDelay = Math.min(this.reconnectDelay * 2, MAX_RECONNECT_DELAY);
  }

  private announce(): void {
    this.notify(
      this.presenceChannel,
      JSON.stringify({ replica: this.replica, namespaces: this.local, ttlMs: this.interestTtlMs }),
    );
  }

  /** A notification outside the batches (presence); lost with the connection, re-sent on reconnect. */
  private notify(channel: string, payload: string): void {
    if (!this.connected || !this.client) return;
    this.query(this.client, 'SELECT pg_notify($1, $2)', [channel, payload]).catch(() => undefined);
  }

  /** Runs a statement on `client` after the ones queued before it. */
  private query(client: pg.Client, sql: string, values: unknown[]): Promise<unknown> {
    const result = this.statements.then(() => client.query(sql, values));
    this.statements = result.catch(() => undefined);
    return result;
  }

  private scheduleFlush(): void {
    if (this.flushTimer || this.flushing || !this.connected || this.queue.length === 0) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      void this.flush();
    }, this.flushDelayMs);
  }

  /** Notifies everything queued, one statement per batch; resolves when the queue is empty or unsendable. */
  private flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    const run = async () => {
      while (this.queue.length > 0 && this.connected && this.client) {
        const client = this.client;
        let size = 0;
        let count = 0;
        while (count < this.queue.length && (count === 0 || size < MAX_STATEMENT_TEXT)) {
          size += Buffer.byteLength(this.queue[count] as string) + 1;
          count++;
        }
        const messages = this.queue.splice(0, count);
        for (const text of messages) this.queuedBytes -= Buffer.byteLength(text);
        const payloads = frames(this.replica, ++this.batch, messages.join('\n'));
        try {
          await this.query(
            client,
            'SELECT pg_notify($1, p) FROM (SELECT p FROM unnest($2::text[]) WITH ORDINALITY AS t(p, i) ORDER BY i) AS ordered',
            [this.channel, payloads],
          );
          this.options.metrics?.messages.inc({ direction: 'sent' }, messages.length);
          this.options.metrics?.notifications.inc(payloads.length);
        } catch (error) {
          this.drop(messages.length, 'connection', errorFields(error));
        }
      }
    };
    this.flushing = run().finally(() => {
      this.flushing = undefined;
      this.scheduleFlush();
    });
    return this.flushing;
  }

  private notified(n: pg.Notification): void {
    try {
      if (n.channel === this.presenceChannel) this.presence(n.payload ?? '');
      else if (n.channel === this.channel) this.frame(n.payload ?? '');
    } catch (error) {
      this.logger.warn(kindOf(error), 'live events fan-out ignored a notification it could not read');
    }
  }

  private presence(payload: string): void {
    const p = JSON.parse(payload) as {
      replica?: string;
      hello?: boolean;
      namespaces?: string[];
      ttlMs?: number;
    };
    if (typeof p.replica !== 'string' || p.replica === this.replica) return;
    if (p.hello) {
      if (this.local.length > 0) this.announce();
      return;
    }
    const namespaces = Array.isArray(p.namespaces) ? p.namespaces.filter((n) => typeof n === 'string') : [];
    if (namespaces.length === 0) {
      this.remote.delete(p.replica);
      return;
    }
    const ttl = typeof p.ttlMs === 'number' && p.ttlMs > 0 ? Math.min(p.ttlMs, 300_000) : this.interestTtlMs;
    this.remote.set(p.replica, {
      all: namespaces.includes(''),
      namespaces: new Set(namespaces),
      expiresAt: Date.now() + ttl,
    });
  }

  /** One notification of a batch: `<replica> <batch> <part> <parts>\n<text>`. */
  private frame(payload: string): void {
    const newline = payload.indexOf('\n');
    const [replica, batchText, partText, partsText] = payload.slice(0, newline).split(' ');
    if (replica === undefined || replica === this.replica || this.local.length === 0) return;
    const batch = Number(batchText);
    const part = Number(partText);
    const parts = Number(partsText);
    if (!(parts >= 1 && parts <= MAX_PARTS)) return;
    const text = payload.slice(newline + 1);
    let whole: string | undefined;
    if (parts === 1) whole = text;
    else {
      let r = this.reassembly.get(replica);
      if (part === 0) this.reassembly.set(replica, (r = { batch, parts: [] }));
      // A part out of place (its batch began before this connection listened): skip that batch.
      if (!r || r.batch !== batch || r.parts.length !== part) {
        this.reassembly.delete(replica);
        return;
      }
      r.parts.push(text);
      if (r.parts.length === parts) {
        whole = r.parts.join('');
        this.reassembly.delete(replica);
      }
    }
    if (whole === undefined) return;
    const lines = whole.split('\n');
    this.options.metrics?.messages.inc({ direction: 'received' }, lines.length);
    for (const line of lines) {
      try {
        this.handler?.(JSON.parse(line) as M);
      } catch (error) {
        this.logger.warn(kindOf(error), 'live events fan-out could not deliver a message of another replica');
      }
    }
  }

  /** Counts dropped messages; warns (with `fields`, never a payload) at most every 10 s. */
  private drop(count: number, reason: string, fields: Record<string, unknown> = {}): void {
    this.options.metrics?.dropped.inc({ reason }, count);
    this.droppedSinceWarning += count;
    const now = Date.now();
    if (now - this.lastWarning < WARN_INTERVAL) return;
    this.lastWarning = now;
    this.logger.warn(
      { dropped: this.droppedSinceWarning, reason, ...fields },
      'live events fan-out dropped messages for other replicas (their watches and streams miss them; recorded executions are not affected)',
    );
    this.droppedSinceWarning = 0;
  }
}

/**
 * Cuts a batch's text into notification payloads under the limit, each headed by
 * `<replica> <batch> <part> <parts>`, never inside a UTF-8 character.
 */
function frames(replica: string, batch: number, text: string): string[] {
  const bytes = Buffer.from(text, 'utf8');
  const room = MAX_PAYLOAD - (replica.length + 40);
  const chunks: string[] = [];
  let at = 0;
  while (at < bytes.length || chunks.length === 0) {
    let end = Math.min(at + room, bytes.length);
    // Back up to the start of a character (continuation bytes are 10xxxxxx).
    while (end < bytes.length && ((bytes[end] as number) & 0xc0) === 0x80) end--;
    chunks.push(bytes.toString('utf8', at, end));
    at = end;
  }
  return chunks.map((chunk, part) => `${replica} ${batch} ${part} ${chunks.length}\n${chunk}`);
}

/**
 * What went wrong with a message's text, without the text: JSON errors quote parts of what they
 * could not read or write.
 */
function kindOf(error: unknown): { err: { name: string } } {
  return { err: { name: error instanceof Error ? error.name : typeof error } };
}
