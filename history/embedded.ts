/**
 * The embedded development database: PGlite in a thread of its own (embedded-thread.ts, which
 * serves it on a loopback socket: embedded-session.ts). PGlite runs every query synchronously in
 * WebAssembly; in the server's thread a slow query or a checkpoint would stop every request, timer
 * and heartbeat until it ended. The server and its workers reach it with the very same `pg` code
 * they use against a real PostgreSQL.
 */
import { Worker } from 'node:worker_threads';
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

/** Messages from the database's thread. */
export type ThreadMessage =
  | { type: 'ready'; address: string; notificationsUnrouted: boolean }
  | { type: 'failed'; message: string }
  | { type: 'closed'; error?: string };

/** How long a close may take before the thread is stopped (PGlite flushes to disk on close). */
const CLOSE_TIMEOUT_MS = 30_000;

/** The thread: the compiled module in a build; the source, through tsx's loader, otherwise. */
function startThread(workerData: unknown): Worker {
  if (!import.meta.url.endsWith('.ts'))
    return new Worker(new URL('./embedded-thread.js', import.meta.url), { workerData });
  const loader = JSON.stringify(import.meta.resolve('tsx/esm/api'));
  const source = JSON.stringify(new URL('./embedded-thread.ts', import.meta.url).href);
  return new Worker(`import(${loader}).then((tsx) => { tsx.register(); return import(${source}); });`, {
    eval: true,
    workerData,
  });
}

/** Starts PGlite in its own thread, served on a free loopback port. */
export async function startEmbeddedDatabase(options: EmbeddedDatabaseOptions): Promise<EmbeddedDatabase> {
  const { logger } = options;
  const where = options.dataDir ?? 'memory';
  const thread = startThread({
    maxConnections: options.maxConnections ?? 16,
    ...(options.dataDir !== undefined ? { dataDir: options.dataDir } : {}),
  });
  let closing = false;
  const ready = await new Promise<Extract<ThreadMessage, { type: 'ready' }>>((resolve, reject) => {
    const failed = (why: string) =>
      reject(
        new Error(
          `cannot start the embedded database (${where}): ${why}; set --embedded-data-dir to a writable directory, or DATABASE_URL to a PostgreSQL 15+ database`,
        ),
      );
    thread.once('message', (message: ThreadMessage) => {
      if (message.type === 'ready') resolve(message);
      else failed(message.type === 'failed' ? message.message : 'its thread answered out of turn');
    });
    thread.once('error', (error) => failed(error.message));
    thread.once('exit', (code) => failed(`its thread exited (${code})`));
  });
  thread.on('error', (error) =>
    logger.error({ database: 'pglite', err: error.message }, 'the embedded database failed'),
  );
  thread.on('exit', (code) => {
    if (!closing) logger.error({ database: 'pglite', code }, 'the embedded database stopped');
  });
  if (ready.notificationsUnrouted) {
    logger.warn(
      { database: 'pglite' },
      'the embedded database cannot route LISTEN/NOTIFY between connections (unexpected pglite-socket internals): live events will not reach other replicas',
    );
  }
  logger.warn(
    { database: 'pglite', dataDir: where, address: ready.address },
    'execution history uses the embedded PGlite database: a development default (one process, no HA); set DATABASE_URL to a PostgreSQL 15+ database for production',
  );
  return {
    connectionString: `postgres://postgres@${ready.address}/postgres`,
    async close() {
      if (closing) return;
      closing = true;
      const closed = new Promise<void>((resolve) => {
        const timer = setTimeout(() => resolve(), CLOSE_TIMEOUT_MS);
        const done = () => {
          clearTimeout(timer);
          resolve();
        };
        thread.once('exit', done);
        thread.on('message', (message: ThreadMessage) => {
          if (message.type !== 'closed') return;
          if (message.error)
            logger.warn({ database: 'pglite', err: message.error }, 'the embedded database closed uncleanly');
        });
      });
      thread.postMessage({ type: 'close' });
      await closed;
      await thread.terminate();
    },
  };
}
