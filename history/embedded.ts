/**
 * The embedded development database: PGlite in a thread of its own (embedded-thread.ts, which
 * serves it on a loopback socket: embedded-session.ts). PGlite runs every query synchronously in
 * WebAssembly; in the server's thread a slow query or a checkpoint would stop every request, timer
 * and heartbeat until it ended. The server and its workers reach it with the very same `pg` code
 * they use against a real PostgreSQL.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
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
  | { type: 'initialised'; cluster?: Uint8Array }
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

/** The first message of a thread: what it was started for, or why it could not. */
function firstAnswer(thread: Worker, where: string): Promise<ThreadMessage> {
  return new Promise((resolve, reject) => {
    const failed = (why: string) =>
      reject(
        new Error(
          `cannot start the embedded database (${where}): ${why}; set --embedded-data-dir to a writable directory, or DATABASE_URL to a PostgreSQL 15+ database`,
        ),
      );
    thread.once('message', (message: ThreadMessage) => {
      if (message.type === 'failed') failed(message.message);
      else resolve(message);
    });
    thread.once('error', (error) => failed(error.message));
    thread.once('exit', (code) => failed(`its thread exited (${code})`));
  });
}

/**
 * Runs initdb in a throwaway thread (its WebAssembly memory, grown by some 350 MB, goes with it):
 * into `dataDir`, or in memory, returning the pristine cluster to load.
 */
async function initialise(dataDir: string | undefined, where: string): Promise<Uint8Array | undefined> {
  const thread = startThread({ initialiseOnly: true, ...(dataDir !== undefined ? { dataDir } : {}) });
  try {
    const answer = await firstAnswer(thread, where);
    return answer.type === 'initialised' ? answer.cluster : undefined;
  } finally {
    await thread.terminate();
  }
}

/** Where a pristine in-memory cluster is kept between starts (per user, per PGlite version). */
function clusterCacheFile(): string {
  const require = createRequire(import.meta.url);
  const pglite = require.resolve('@electric-sql/pglite');
  // The package's own directory names its version only in package.json, next to dist/.
  const packageDir = dirname(dirname(pglite));
  const version = (JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')) as { version: string })
    .version;
  const cacheHome = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(cacheHome, 'syncflow', `pglite-${version}-cluster.tgz`);
}

/** A pristine in-memory cluster: from the cache when there is one, else made (and cached when possible). */
async function pristineCluster(where: string): Promise<{ cluster: Uint8Array | undefined; cached?: string }> {
  let file: string | undefined;
  try {
    file = clusterCacheFile();
    return { cluster: new Uint8Array(await readFile(file)), cached: file };
  } catch {
    // No cache yet (or none possible): made below.
  }
  const cluster = await initialise(undefined, where);
  if (file && cluster) {
    const partial = `${file}.${process.pid}.partial`;
    try {
      await mkdir(dirname(file), { recursive: true, mode: 0o700 });
      await writeFile(partial, cluster, { mode: 0o600 });
      await rename(partial, file);
    } catch {
      await rm(partial, { force: true }).catch(() => undefined);
    }
  }
  return { cluster };
}

/** Starts PGlite in its own thread, served on a free loopback port. */
export async function startEmbeddedDatabase(options: EmbeddedDatabaseOptions): Promise<EmbeddedDatabase> {
  const { logger } = options;
  const where = options.dataDir ?? 'memory';
  const maxConnections = options.maxConnections ?? 16;
  const serve = async (cluster: Uint8Array | undefined) => {
    const thread = startThread({
      maxConnections,
      ...(options.dataDir !== undefined ? { dataDir: options.dataDir } : {}),
      ...(cluster ? { cluster } : {}),
    });
    const answer = await firstAnswer(thread, where).catch(async (error: unknown) => {
      await thread.terminate();
      throw error;
    });
    return { thread, ready: answer as Extract<ThreadMessage, { type: 'ready' }> };
  };
  let served: Awaited<ReturnType<typeof serve>>;
  if (options.dataDir !== undefined) {
    if (!existsSync(join(options.dataDir, 'PG_VERSION'))) await initialise(options.dataDir, where);
    served = await serve(undefined);
  } else {
    const pristine = await pristineCluster(where);
    try {
      served = await serve(pristine.cluster);
    } catch (error) {
      // A damaged cache: forgotten, and the cluster made afresh.
      if (!pristine.cached) throw error;
      await rm(pristine.cached, { force: true });
      served = await serve(await initialise(undefined, where));
    }
  }
  const { thread, ready } = served;
  let closing = false;
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
