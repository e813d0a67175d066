/**
 * The embedded development database: PGlite (PostgreSQL compiled to WebAssembly) in this process,
 * served on 127.0.0.1 through pglite-socket so the history talks to it with the very same `pg`
 * code it uses against a real PostgreSQL.
 *
 * PGlite is a single PostgreSQL session, and pglite-socket hands it each protocol message of each
 * connection as it arrives: without {@link oneSequenceAtATime} the Parse/Bind/Execute of one pool
 * connection interleave with another's (an unnamed statement or portal replaced or dropped under a
 * watch — "unnamed prepared statement does not exist" — and, after an error, messages skipped up to
 * another client's Sync, which stalled the bridge).
 */
import { mkdir } from 'node:fs/promises';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import type { Logger } from '../core/logger.ts';

/** A running embedded database. */
export interface EmbeddedDatabase {
  /** `postgres://` URL of the loopback socket. */
  connectionString: string;
  /** Stops the socket server and closes the database (flushing it to disk). */
  close(): Promise<void>;
}

/** Options of the embedded database. */
export interface EmbeddedDatabaseOptions {
  /** Directory of the data files; in memory (lost at exit) when absent. */
  dataDir?: string;
  logger: Logger;
  /** Concurrent client connections the socket accepts (default 16; the pool must not exceed it). */
  maxConnections?: number;
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
export function oneSequenceAtATime(db: PGlite): PGlite {
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

/** Starts PGlite and its loopback socket on a free port. */
export async function startEmbeddedDatabase(options: EmbeddedDatabaseOptions): Promise<EmbeddedDatabase> {
  if (options.dataDir !== undefined) await mkdir(options.dataDir, { recursive: true });
  const db = await PGlite.create(options.dataDir ?? 'memory://');
  const server = new PGLiteSocketServer({
    db: oneSequenceAtATime(db),
    host: '127.0.0.1',
    port: 0,
    maxConnections: options.maxConnections ?? 16,
  });
  await server.start();
  const address = server.getServerConn();
  options.logger.warn(
    { database: 'pglite', dataDir: options.dataDir ?? 'memory', address },
    'execution history uses the embedded PGlite database: a development default (one process, no HA); set DATABASE_URL to a PostgreSQL 15+ database for production',
  );
  return {
    connectionString: `postgres://postgres@${address}/postgres`,
    async close() {
      await server.stop();
      await db.close();
    },
  };
}
