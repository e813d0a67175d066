/**
 * The embedded development database: PGlite (PostgreSQL compiled to WebAssembly) in this process,
 * served on 127.0.0.1 through pglite-socket so the history talks to it with the very same `pg`
 * code it uses against a real PostgreSQL.
 */
import { mkdir } from 'node:fs/promises';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import type { HistoryLogger } from './logger.ts';

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
  logger: HistoryLogger;
  /** Concurrent client connections the socket accepts (default 16; the pool must not exceed it). */
  maxConnections?: number;
}

/** Starts PGlite and its loopback socket on a free port. */
export async function startEmbeddedDatabase(options: EmbeddedDatabaseOptions): Promise<EmbeddedDatabase> {
  if (options.dataDir !== undefined) await mkdir(options.dataDir, { recursive: true });
  const db = await PGlite.create(options.dataDir ?? 'memory://');
  const server = new PGLiteSocketServer({
    db,
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
