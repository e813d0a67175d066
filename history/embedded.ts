/**
 * The embedded development database: PGlite (PostgreSQL compiled to WebAssembly) served on a
 * loopback socket (embedded-session.ts), so the server and its workers reach it with the very same
 * `pg` code they use against a real PostgreSQL.
 *
 * Its memory: PGlite's initdb grows the WebAssembly memory by some 350 MB that it never gives back,
 * so a new cluster is initialised in a throwaway thread (embedded-thread.ts), whose memory goes with
 * it, and served from that pristine copy.
 * Serving from a thread of its own too was tried and measured: it keeps slow queries off the event
 * loop, but the gateway used 15-20 % more CPU per execution (every query crosses threads), so the
 * database is served from the calling thread.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Logger } from '../core/logger.ts';
import { serveSession, type ServedSession } from './embedded-session.ts';

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
  { type: 'initialised'; cluster?: Uint8Array } | { type: 'failed'; message: string };

const FIX = 'set --embedded-data-dir to a writable directory, or DATABASE_URL to a PostgreSQL 15+ database';

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

/** The thread's answer: the cluster it initialised, or why it could not. */
function answerOf(thread: Worker): Promise<ThreadMessage & { type: 'initialised' }> {
  return new Promise((resolve, reject) => {
    thread.once('message', (message: ThreadMessage) => {
      if (message.type === 'failed') reject(new Error(message.message));
      else resolve(message);
    });
    thread.once('error', reject);
    thread.once('exit', (code) => reject(new Error(`its initdb thread exited (${code})`)));
  });
}

/**
 * Runs initdb in a throwaway thread (its WebAssembly memory, grown by some 350 MB, goes with it):
 * into `dataDir`, or in memory, returning the pristine cluster to load.
 */
async function initialise(dataDir: string | undefined): Promise<Uint8Array | undefined> {
  const thread = startThread(dataDir !== undefined ? { dataDir } : {});
  try {
    return (await answerOf(thread)).cluster;
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
async function pristineCluster(): Promise<{ cluster: Uint8Array | undefined; cached?: string }> {
  let file: string | undefined;
  try {
    file = clusterCacheFile();
    return { cluster: new Uint8Array(await readFile(file)), cached: file };
  } catch {
    // No cache yet (or none possible): made below.
  }
  const cluster = await initialise(undefined);
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

/** Starts PGlite (initialised in a throwaway thread when new), served on a free loopback port. */
export async function startEmbeddedDatabase(options: EmbeddedDatabaseOptions): Promise<EmbeddedDatabase> {
  const { logger } = options;
  const where = options.dataDir ?? 'memory';
  const maxConnections = options.maxConnections ?? 16;
  const serve = (cluster: Uint8Array | undefined) =>
    serveSession({
      maxConnections,
      ...(options.dataDir !== undefined ? { dataDir: options.dataDir } : {}),
      ...(cluster ? { cluster } : {}),
    });
  let session: ServedSession;
  try {
    if (options.dataDir !== undefined) {
      if (!existsSync(join(options.dataDir, 'PG_VERSION'))) await initialise(options.dataDir);
      session = await serve(undefined);
    } else {
      const pristine = await pristineCluster();
      try {
        session = await serve(pristine.cluster);
      } catch (error) {
        // A damaged cache: forgotten, and the cluster made afresh.
        if (!pristine.cached) throw error;
        await rm(pristine.cached, { force: true });
        session = await serve(await initialise(undefined));
      }
    }
  } catch (error) {
    throw new Error(`cannot start the embedded database (${where}): ${(error as Error).message}; ${FIX}`, {
      cause: error,
    });
  }
  if (session.notificationsUnrouted) {
    logger.warn(
      { database: 'pglite' },
      'the embedded database cannot route LISTEN/NOTIFY between connections (unexpected pglite-socket internals): live events will not reach other replicas',
    );
  }
  logger.warn(
    { database: 'pglite', dataDir: where, address: session.address },
    'execution history uses the embedded PGlite database: a development default (one process, no HA); set DATABASE_URL to a PostgreSQL 15+ database for production',
  );
  return {
    connectionString: `postgres://postgres@${session.address}/postgres`,
    close: () => session.close(),
  };
}
