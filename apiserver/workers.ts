/**
 * `syncflow server --workers N|auto`: N event loops in one pod. The primary process forks N worker
 * processes of the same command (node:cluster: they share the listening socket, the primary hands
 * out connections round-robin), restarts one that dies, forwards SIGTERM to all and waits for their
 * graceful shutdown. Each worker is a complete server, like a replica: its own history writer (the
 * database keeps the guarantees across workers as across replicas), its own live bus (the PostgreSQL
 * fan-out carries events between workers). With the embedded database the primary runs PGlite and
 * the workers connect to its socket. `/metrics` on any worker answers the sum over all workers.
 */
import type { Cluster, Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import { AggregatorRegistry, type PrometheusContentType, type Registry } from 'prom-client';
import type { Logger } from '../core/logger.ts';
import { startEmbeddedDatabase, type EmbeddedDatabase } from '../history/embedded.ts';
import type { ServerConfig } from './options.ts';

/** Most workers one pod runs. */
export const MAX_WORKERS = 64;

/** `--workers` as a count: a positive integer, or `auto` (one per available CPU). Throws naming the flag. */
export function workerCount(value: string, cpus: number = availableParallelism()): number {
  if (value === 'auto') return Math.max(1, Math.min(MAX_WORKERS, cpus));
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > MAX_WORKERS)
    throw new Error(`--workers: "${value}" is not a number of workers; use 1 to ${MAX_WORKERS}, or auto`);
  return n;
}

/** Environment a worker receives from its primary. */
export const WORKER_ENV = {
  /** The primary's embedded database (postgres:// URL of its loopback socket). */
  databaseUrl: 'SYNCFLOW_WORKER_DATABASE_URL',
} as const;

/** Messages between a worker and its primary. */
type WorkerMessage =
  | { type: 'syncflow:listening'; port: number }
  | { type: 'syncflow:metricsReq'; id: number }
  | { type: 'syncflow:metricsRes'; id: number; text?: string; error?: string };

/** The part of node:cluster's primary side the supervisor uses (tests pass a fake). */
export interface ClusterPrimary {
  fork(env: Record<string, string>): Worker;
  on(event: 'exit', listener: (worker: Worker, code: number | null, signal: string | null) => void): unknown;
  on(event: 'message', listener: (worker: Worker, message: unknown) => void): unknown;
}

/** What the supervisor reports. */
export interface SupervisorLogger {
  info(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

/** Options of {@link superviseWorkers}. */
export interface SuperviseOptions {
  cluster: ClusterPrimary;
  count: number;
  logger: SupervisorLogger;
  /** Environment added to each worker's (the embedded database's URL). */
  env?: Record<string, string>;
  /** Sums the workers' metrics (prom-client's cluster aggregation by default). */
  metrics?: () => Promise<string>;
  /** Restarts allowed within {@link RESTART_WINDOW_MS} before the supervisor gives up. */
  maxRestarts?: number;
  /** Delay before a dead worker is replaced. */
  restartDelayMs?: number;
}

const RESTART_WINDOW_MS = 60_000;

/** The running workers. */
export interface Supervisor {
  /** Resolves with the port once every worker listens. */
  listening: Promise<number>;
  /** Resolves when the supervisor gave up (workers kept dying) with the reason. */
  failed: Promise<string>;
  /** Sends SIGTERM to every worker and resolves when all have exited. */
  shutdown(): Promise<void>;
}

/** Forks `count` workers and keeps them running (see the module comment). */
export function superviseWorkers(options: SuperviseOptions): Supervisor {
  const { cluster, count, logger } = options;
  const maxRestarts = options.maxRestarts ?? 5;
  const restartDelayMs = options.restartDelayMs ?? 1_000;
  const aggregator = options.metrics ? undefined : new AggregatorRegistry<PrometheusContentType>();
  const sumMetrics =
    options.metrics ?? (() => (aggregator as AggregatorRegistry<PrometheusContentType>).clusterMetrics());
  const workers = new Set<Worker>();
  const listeningWorkers = new Set<Worker>();
  const restarts: number[] = [];
  let stopping = false;
  let resolveListening: (port: number) => void = () => undefined;
  const listening = new Promise<number>((resolve) => (resolveListening = resolve));
  let giveUp: (why: string) => void = () => undefined;
  const failed = new Promise<string>((resolve) => (giveUp = resolve));
  let exitedAll: () => void = () => undefined;

  const fork = () => {
    const worker = cluster.fork({ ...options.env });
    workers.add(worker);
  };

  cluster.on('message', (worker, raw) => {
    const message = raw as WorkerMessage;
    if (message?.type === 'syncflow:listening') {
      listeningWorkers.add(worker);
      if (listeningWorkers.size >= count) resolveListening(message.port);
    } else if (message?.type === 'syncflow:metricsReq') {
      sumMetrics().then(
        (text) => worker.send({ type: 'syncflow:metricsRes', id: message.id, text }),
        (error: unknown) =>
          worker.send({
            type: 'syncflow:metricsRes',
            id: message.id,
            error: String((error as Error).message),
          }),
      );
    }
  });
  cluster.on('exit', (worker, code, signal) => {
    workers.delete(worker);
    listeningWorkers.delete(worker);
    if (stopping) {
      if (workers.size === 0) exitedAll();
      return;
    }
    const now = Date.now();
    restarts.push(now);
    while ((restarts[0] as number) < now - RESTART_WINDOW_MS) restarts.shift();
    if (restarts.length > maxRestarts) {
      logger.error({ code, signal, restarts: restarts.length }, 'workers keep exiting; stopping the server');
      giveUp(`${restarts.length} workers exited within ${RESTART_WINDOW_MS / 1000} s`);
      return;
    }
    logger.error({ worker: worker.id, code, signal }, 'a worker exited; starting another');
    // Not unref'd: while no worker runs, this timer is what keeps the primary alive.
    setTimeout(() => {
      if (!stopping) fork();
    }, restartDelayMs);
  });
  for (let i = 0; i < count; i++) fork();
  logger.info({ workers: count }, 'started workers');

  return {
    listening,
    failed,
    shutdown() {
      stopping = true;
      if (workers.size === 0) return Promise.resolve();
      const done = new Promise<void>((resolve) => (exitedAll = resolve));
      for (const worker of workers) worker.process.kill('SIGTERM');
      return done;
    },
  };
}

/** The part of a worker process's `process` the worker side uses. */
export interface WorkerProcess {
  send?(message: unknown): boolean;
  on(event: 'message', listener: (message: unknown) => void): unknown;
}

/**
 * In a worker: reports the registry to the primary's aggregation, and returns what `/metrics` serves
 * (the sum over all workers, asked of the primary).
 */
export function workerMetrics(
  registry: Registry,
  proc: WorkerProcess = process,
  timeoutMs = 5_000,
): Pick<Registry, 'contentType' | 'metrics'> {
  // Constructing one makes prom-client answer the primary's requests from this worker.
  new AggregatorRegistry<PrometheusContentType>();
  AggregatorRegistry.setRegistries([registry]);
  let next = 0;
  const waiting = new Map<number, { resolve(text: string): void; reject(error: Error): void }>();
  proc.on('message', (raw) => {
    const message = raw as WorkerMessage;
    if (message?.type !== 'syncflow:metricsRes') return;
    const request = waiting.get(message.id);
    waiting.delete(message.id);
    if (message.error !== undefined) request?.reject(new Error(message.error));
    else request?.resolve(message.text ?? '');
  });
  return {
    contentType: registry.contentType,
    metrics: () =>
      new Promise<string>((resolve, reject) => {
        const id = next++;
        const timer = setTimeout(() => {
          waiting.delete(id);
          reject(new Error('the primary process did not answer the metrics request'));
        }, timeoutMs);
        waiting.set(id, {
          resolve: (text) => {
            clearTimeout(timer);
            resolve(text);
          },
          reject: (error) => {
            clearTimeout(timer);
            reject(error);
          },
        });
        proc.send?.({ type: 'syncflow:metricsReq', id });
      }),
  } as Pick<Registry, 'contentType' | 'metrics'>;
}

/** In a worker: tells the primary it listens on `port`. */
export function reportListening(port: number, proc: WorkerProcess = process): void {
  proc.send?.({ type: 'syncflow:listening', port });
}

/** The primary of `--workers N` (N > 1): runs no server itself, only the workers (and PGlite). */
export interface Primary {
  port: number;
  /** Resolves when the workers kept dying and the primary gave up (exit non-zero). */
  failed: Promise<string>;
  shutdown(): Promise<void>;
}

/**
 * Starts the primary: the embedded database when no PostgreSQL URL is configured (the workers
 * connect to its socket), then the workers; resolves once every worker listens.
 */
export async function startPrimary(
  config: Pick<ServerConfig, 'workers' | 'databaseUrl' | 'embeddedDataDir'>,
  logger: Logger,
  cluster: Cluster,
): Promise<Primary> {
  const env: Record<string, string> = {};
  let embedded: EmbeddedDatabase | undefined;
  if (!config.databaseUrl) {
    // Each worker's pool, its fan-out connection and a little room (history/index.ts: pool of 8).
    embedded = await startEmbeddedDatabase({
      logger,
      maxConnections: config.workers * 12 + 4,
      ...(config.embeddedDataDir ? { dataDir: config.embeddedDataDir } : {}),
    });
    env[WORKER_ENV.databaseUrl] = embedded.connectionString;
  }
  const supervisor = superviseWorkers({
    cluster,
    count: config.workers,
    logger,
    env,
  });
  const stop = async () => {
    await supervisor.shutdown();
    await embedded?.close();
  };
  try {
    const port = await Promise.race([
      supervisor.listening,
      supervisor.failed.then((why) => Promise.reject(new Error(why))),
    ]);
    return { port, failed: supervisor.failed, shutdown: stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
