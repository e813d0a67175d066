/**
 * The embedded database itself (embedded.ts starts it): PGlite (PostgreSQL compiled to WebAssembly)
 * served on 127.0.0.1 through pglite-socket, so the history talks to it with the very same `pg` code
 * it uses against a real PostgreSQL.
 *
 * PGlite is a single PostgreSQL session, and pglite-socket hands it each protocol message of each
 * connection as it arrives: without {@link oneSequenceAtATime} the Parse/Bind/Execute of one pool
 * connection interleave with another's (an unnamed statement or portal replaced or dropped under a
 * watch — "unnamed prepared statement does not exist" — and, after an error, messages skipped up to
 * another client's Sync, which stalled the bridge).
 *
 * Being one session, PGlite would also hand every notification to whichever connection's query sent
 * it, and an UNLISTEN on one connection would stop the session listening for all: see
 * {@link routeNotifications}, which delivers them to the connections that LISTENed, as PostgreSQL does.
 */
import { mkdir } from 'node:fs/promises';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

/** What to serve. */
export interface SessionOptions {
  /** Directory of the data files; in memory (lost at exit) when absent. */
  dataDir?: string;
  /** Concurrent client connections the socket accepts. */
  maxConnections: number;
  /** A pristine cluster to start from (a gzipped tar of a data directory, see {@link initialiseCluster}). */
  cluster?: Uint8Array;
}

/**
 * The settings of the embedded database: a development default on one machine, sized like a small
 * PostgreSQL rather than the 160 MB of buffers PGlite asks for by default.
 */
const SETTINGS = ['shared_buffers=32MB', 'wal_buffers=1MB', 'temp_buffers=1MB'];

/**
 * Runs initdb (into `dataDir`, or in memory) and returns the cluster: the gzipped tar of the in-memory data
 * directory, or nothing when it is on disk. Meant for a throwaway thread: initdb grows PGlite's
 * WebAssembly memory by some 350 MB that it never gives back, and a thread's memory goes with it.
 */
export async function initialiseCluster(dataDir: string | undefined): Promise<Uint8Array | undefined> {
  if (dataDir !== undefined) await mkdir(dataDir, { recursive: true });
  const db = await PGlite.create(dataDir ?? 'memory://', { postgresqlconf: SETTINGS });
  try {
    if (dataDir !== undefined) return undefined;
    const tar = await db.dumpDataDir('gzip');
    return new Uint8Array(await tar.arrayBuffer());
  } finally {
    await db.close();
  }
}

/** A served database: its loopback address, what went unexpectedly, and a way to stop. */
export interface ServedSession {
  address: string;
  /** Set when notifications cannot be routed between connections. */
  notificationsUnrouted: boolean;
  close(): Promise<void>;
}

/** Starts PGlite and its loopback socket on a free port. */
export async function serveSession(options: SessionOptions): Promise<ServedSession> {
  if (options.dataDir !== undefined) await mkdir(options.dataDir, { recursive: true });
  const db = await PGlite.create(options.dataDir ?? 'memory://', {
    postgresqlconf: SETTINGS,
    ...(options.cluster ? { loadDataDir: new Blob([options.cluster]) } : {}),
  });
  const server = new PGLiteSocketServer({
    db: oneSequenceAtATime(db),
    host: '127.0.0.1',
    port: 0,
    maxConnections: options.maxConnections,
  });
  await server.start();
  return {
    address: server.getServerConn(),
    notificationsUnrouted: !routeNotifications(server),
    async close() {
      await server.stop();
      await db.close();
    },
  };
}

/** Frontend messages that continue an extended-protocol sequence: Parse, Bind, Describe, Execute, Close, Flush. */
const CONTINUES_SEQUENCE = new Set([...'PBDECH'].map((c) => c.charCodeAt(0)));

/**
 * The database as pglite-socket should see it: its query queue keeps serving the connection it
 * served last while the session is in a transaction (its own rule), and here also while that
 * connection is in the middle of an extended-protocol sequence, i.e. until its Sync. A connection
 * that goes away mid-sequence is let go by the queue itself (on detach it forgets the connection it
 * served last), so the others are served again.
 * Chosen over limiting the pool to one connection (the other fix) because it keeps the bridge safe
 * for any client, a developer's psql included; throughput is about the same (3,200 mixed operations
 * from 8 workers, loaded 2-core machine: 5.4–9.0 s through 8 connections, 6.8–9.5 s through 1).
 */
function oneSequenceAtATime(db: PGlite): PGlite {
  let midSequence = false;
  return new Proxy(db, {
    get(target, property, receiver) {
      if (property === 'isInTransaction') return () => midSequence || target.isInTransaction();
      if (property === 'execProtocolRawStream') {
        return async (message: Uint8Array, options: Parameters<PGlite['execProtocolRawStream']>[1]) => {
          try {
            return await target.execProtocolRawStream(message, options);
          } finally {
            midSequence = CONTINUES_SEQUENCE.has(message[0] as number);
          }
        };
      }
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** The parts of pglite-socket's (private) shared query queue the notification routing wraps. */
interface SocketQueryQueue {
  enqueue(handlerId: number, message: Uint8Array, onData: (data: Uint8Array) => void): Promise<number>;
  clearQueueForHandler(handlerId: number): void;
}

const QUERY = 0x51; // 'Q'
const NOTIFICATION_RESPONSE = 0x41; // 'A'
/** One LISTEN or UNLISTEN per simple query, as a client that listens sends them. */
const LISTEN_STATEMENT = /^\s*(UN)?LISTEN\s+(?:"((?:[^"]|"")+)"|([A-Za-z_][\w$]*)|(\*))\s*;?\s*$/i;
/** What an UNLISTEN becomes in the session: it must not stop the session listening for the others. */
const HARMLESS_UNLISTEN = 'UNLISTEN syncflow_embedded_never_listened';

/**
 * Makes LISTEN/NOTIFY work between the connections of the bridge (several `pg` clients, e.g. two
 * replicas of the server, share the one PGlite session). A `LISTEN channel` (a simple query of its
 * own) goes to the session and records the connection as a listener of the channel; `UNLISTEN`
 * forgets it without touching the session (replaced by an UNLISTEN of a channel nobody uses, so the
 * reply is the session's own); a connection that goes away is forgotten. Every NotificationResponse
 * in the session's output is taken out of the output it appeared in and written to the listeners of
 * its channel, whole, between their messages. Output is scanned only once a LISTEN was seen.
 * Wraps pglite-socket's private query queue: returns false (and changes nothing) when the installed
 * version has none to wrap; the tests of this module pin the behaviour.
 */
function routeNotifications(server: PGLiteSocketServer): boolean {
  const queue = (server as unknown as { queryQueue?: Partial<SocketQueryQueue> }).queryQueue;
  if (typeof queue?.enqueue !== 'function' || typeof queue.clearQueueForHandler !== 'function') return false;
  const enqueue = queue.enqueue.bind(queue) as SocketQueryQueue['enqueue'];
  const clear = queue.clearQueueForHandler.bind(queue) as SocketQueryQueue['clearQueueForHandler'];
  /** Channel → listening connection → a writer to that connection's socket. */
  const listeners = new Map<string, Map<number, (data: Uint8Array) => void>>();
  let sessionListens = false;

  const route = (message: Uint8Array): void => {
    // NotificationResponse: Int32 pid, then channel and payload as NUL-terminated strings.
    const end = message.indexOf(0, 9);
    const channel = Buffer.from(message.subarray(9, end)).toString('utf8');
    for (const write of listeners.get(channel)?.values() ?? []) write(message);
  };

  queue.enqueue = (handlerId, message, onData) => {
    if (message[0] === QUERY) {
      const sql = Buffer.from(message.subarray(5, message.length - 1)).toString('utf8');
      const statement = LISTEN_STATEMENT.exec(sql);
      if (statement) {
        const channel = statement[2]?.replaceAll('""', '"') ?? statement[3]?.toLowerCase();
        if (statement[1] === undefined && channel !== undefined) {
          let set = listeners.get(channel);
          if (!set) listeners.set(channel, (set = new Map()));
          set.set(handlerId, onData);
          sessionListens = true;
        } else if (statement[1] !== undefined) {
          if (channel === undefined) for (const set of listeners.values()) set.delete(handlerId);
          else listeners.get(channel)?.delete(handlerId);
          message = simpleQuery(HARMLESS_UNLISTEN);
        }
      }
    }
    if (!sessionListens) return enqueue(handlerId, message, onData);
    let pending: Uint8Array | undefined;
    const split = (chunk: Uint8Array): void => {
      const data = pending ? Buffer.concat([pending, chunk]) : chunk;
      pending = undefined;
      let passFrom = 0;
      let at = 0;
      while (at + 5 <= data.length) {
        const size = 1 + Buffer.from(data.buffer, data.byteOffset + at + 1, 4).readInt32BE(0);
        if (at + size > data.length) break;
        if (data[at] === NOTIFICATION_RESPONSE) {
          if (at > passFrom) onData(data.subarray(passFrom, at));
          // A copy: the session's output buffer is reused once this callback returns.
          route(data.slice(at, at + size));
          passFrom = at + size;
        }
        at += size;
      }
      if (at > passFrom) onData(data.subarray(passFrom, at));
      if (at < data.length) pending = data.slice(at);
    };
    return enqueue(handlerId, message, split).finally(() => {
      if (pending) onData(pending);
    });
  };
  queue.clearQueueForHandler = (handlerId) => {
    for (const set of listeners.values()) set.delete(handlerId);
    clear(handlerId);
  };
  return true;
}

/** A simple-protocol Query message. */
function simpleQuery(sql: string): Uint8Array {
  const text = Buffer.from(`${sql}\0`, 'utf8');
  const message = Buffer.alloc(5 + text.length);
  message[0] = QUERY;
  message.writeInt32BE(4 + text.length, 1);
  text.copy(message, 5);
  return message;
}
