/**
 * Wiring of the execution history: database (PostgreSQL from a URL, or embedded PGlite), schema
 * migrations, store, batched writer, retention and metrics, with one `close()` that shuts them
 * down in order (stop admitting, flush, end watches, close connections).
 */
import pg from 'pg';
import { SyncflowError } from '../core/errors.ts';
import type { Registry } from 'prom-client';
import { startEmbeddedDatabase, type EmbeddedDatabase } from './embedded.ts';
import { errorFields, type Logger } from '../core/logger.ts';
import { PgLiveFanout } from './live-fanout.ts';
import { createHistoryMetrics, createLiveFanoutMetrics, type LiveFanoutMetrics } from './metrics.ts';
import { applyMigrations } from './migrate.ts';
import { PgExecutionStore } from './pg-store.ts';
import { RetentionSweeper, type RetentionOptions } from './retention.ts';
import { ExecutionWriter, type ExecutionWriterOptions } from './writer.ts';

export { PgExecutionStore } from './pg-store.ts';
export { ExecutionWriter } from './writer.ts';
export { RetentionSweeper } from './retention.ts';
export type * from './store.ts';

/** Options of the history; the caller reads flags and environment, not this module. */
export interface HistoryOptions {
  /** PostgreSQL URL (e.g. from DATABASE_URL); the embedded PGlite database when absent. */
  databaseUrl?: string;
  /** Embedded database directory; in memory when absent. Ignored with `databaseUrl`. */
  embeddedDataDir?: string;
  logger: Logger;
  /** Registry the history metrics are registered on. */
  registry: Registry;
  /** Connections in the pool (default 8). */
  poolSize?: number;
  writer?: Omit<ExecutionWriterOptions, 'sink' | 'logger' | 'metrics'>;
  /** Retention settings, or false to run no sweeper (e.g. only one replica sweeps). */
  retention?: Omit<RetentionOptions, 'target' | 'logger' | 'metrics'> | false;
  watchPollIntervalMs?: number;
}

/** The running history. */
export interface History {
  store: PgExecutionStore;
  writer: ExecutionWriter;
  retention: RetentionSweeper | undefined;
  /** Where the data lives, for logs: never the password. */
  target: string;
  /**
   * Opens this replica's fan-out of live execution messages over the database, on a connection of
   * its own (connecting in the background; closed with the history).
   */
  openLiveFanout<M>(): PgLiveFanout<M>;
  /** Stops admitting, flushes the queue (see `ExecutionWriter.close`), then closes everything. */
  close(options?: { timeoutMs?: number }): Promise<void>;
}

/** Describes a URL without its credentials. */
export function describeDatabase(url: string): string {
  try {
    const u = new URL(url);
    if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:')
      return `a ${u.protocol} URL (expected postgres://)`;
    return `${u.protocol}//${u.hostname}${u.port ? `:${u.port}` : ''}${u.pathname}`;
  } catch {
    return 'a database URL that is not a valid URL';
  }
}

/** Opens the history: connects, migrates, and starts the writer and retention. */
export async function openHistory(options: HistoryOptions): Promise<History> {
  const { logger } = options;
  const poolSize = options.poolSize ?? 8;
  let embedded: EmbeddedDatabase | undefined;
  let url = options.databaseUrl;
  if (url === undefined) {
    embedded = await startEmbeddedDatabase({
      logger,
      // The pool, the live fan-out's connection and room for a psql.
      maxConnections: poolSize + 4,
      ...(options.embeddedDataDir !== undefined ? { dataDir: options.embeddedDataDir } : {}),
    });
    url = embedded.connectionString;
  }
  const connectionString = url;
  const target = embedded
    ? `embedded PGlite (${options.embeddedDataDir ?? 'memory'})`
    : describeDatabase(url);
  const pool = new pg.Pool({
    connectionString: url,
    max: poolSize,
    connectionTimeoutMillis: 5_000,
    // A hung server must fail the batch (it is retried) rather than stall the writer for ever.
    query_timeout: 60_000,
    keepAlive: true,
  });
  // Idle connections die when the database restarts; the pool replaces them. Without a listener
  // the error would crash the process.
  pool.on('error', (error) => logger.warn(errorFields(error), 'history database connection lost'));
  try {
    await applyMigrations(pool, logger);
  } catch (error) {
    await pool.end().catch(() => undefined);
    await embedded?.close().catch(() => undefined);
    if (error instanceof SyncflowError) throw error;
    throw new SyncflowError(
      'ServiceUnavailable',
      `cannot open the execution history at ${target}: ${(error as Error).message}; check DATABASE_URL and that PostgreSQL 15+ is running and reachable`,
      { cause: error },
    );
  }
  const store = new PgExecutionStore({
    pool,
    logger,
    ...(options.watchPollIntervalMs !== undefined
      ? { watchPollIntervalMs: options.watchPollIntervalMs }
      : {}),
  });
  const created: { writer?: ExecutionWriter } = {};
  const metrics = createHistoryMetrics(options.registry, () => created.writer?.depth ?? 0);
  const writer = new ExecutionWriter({ ...options.writer, sink: store, logger, metrics });
  created.writer = writer;
  const retention =
    options.retention === false
      ? undefined
      : new RetentionSweeper({ ...options.retention, target: store, logger, metrics });
  retention?.start();
  const fanouts: { close(): Promise<void> }[] = [];
  let fanoutMetrics: LiveFanoutMetrics | undefined;
  logger.info({ database: target }, 'execution history ready');
  return {
    store,
    writer,
    retention,
    target,
    openLiveFanout<M>(): PgLiveFanout<M> {
      fanoutMetrics ??= createLiveFanoutMetrics(options.registry);
      const fanout = new PgLiveFanout<M>({ connectionString, logger, metrics: fanoutMetrics });
      fanouts.push(fanout);
      void fanout.start();
      return fanout;
    },
    async close(closeOptions = {}) {
      try {
        await writer.close(closeOptions);
      } finally {
        await Promise.all(fanouts.map((fanout) => fanout.close()));
        await retention?.stop();
        store.close();
        await pool.end();
        await embedded?.close();
      }
    },
  };
}
