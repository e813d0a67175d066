/**
 * `syncflow server`: flags and environment → validated config → running server until SIGTERM. The
 * only CLI module that reaches apiserver/, and only through `await import()`, so `validate`, `run`
 * and `plan` never load the server, its HTTP stack or the Kubernetes client.
 */
import { EXIT, type CliIO } from './io.ts';
import { guardServerProcess } from './process-guard.ts';

/** Runs the server; resolves with the exit code after a signal-initiated shutdown. */
export async function serverCommand(
  args: readonly string[],
  io: CliIO,
  env: Record<string, string | undefined> = process.env,
): Promise<number> {
  const { defaultServerOptions, parseServerFlags, serverUsage, validateServerOptions } =
    await import('../apiserver/options.ts');
  if (args.includes('--help') || args.includes('-h')) {
    io.stdout.write(serverUsage());
    return EXIT.ok;
  }
  const parsed = parseServerFlags(args, defaultServerOptions(env));
  const validated = validateServerOptions(parsed.options);
  const errors = [...parsed.errors, ...validated.errors];
  if (errors.length || !validated.config) {
    io.stderr.write(
      `syncflow server: invalid configuration:\n${errors.map((e) => `  - ${e}`).join('\n')}\n\n${serverUsage()}`,
    );
    return EXIT.usage;
  }
  const [{ startServer }, { serverLogger }, { default: cluster }, { startPrimary, WORKER_ENV }] =
    await Promise.all([
      import('../apiserver/server.ts'),
      import('../apiserver/logging.ts'),
      import('node:cluster'),
      import('../apiserver/workers.ts'),
    ]);
  const config = validated.config;
  const logger = serverLogger(config.logLevel);
  guardServerProcess({
    process,
    logger,
    // pino writes what is buffered when the process exits.
    exit: (code) => process.exit(code),
  });
  // --workers N: this process supervises N workers (the same command) that serve the port.
  if (config.workers > 1 && cluster.isPrimary) {
    const primary = await startPrimary(config, logger, cluster);
    logger.info({ port: primary.port, workers: config.workers }, 'syncflow server listening');
    const outcome = await untilSignal(primary.failed);
    await primary.shutdown();
    return outcome === 'signal' ? EXIT.ok : EXIT.failed;
  }
  const worker = cluster.isWorker && cluster.worker !== undefined;
  if (worker) {
    // The primary's embedded database, and an identity of its own in leader election.
    config.databaseUrl ||= env[WORKER_ENV.databaseUrl] ?? '';
    config.podName = `${config.podName}-w${cluster.worker?.id ?? 0}`;
  }
  let server: Awaited<ReturnType<typeof startServer>>;
  try {
    server = await startServer(config, logger, worker);
  } catch (error) {
    // The channel to the primary would keep a worker that failed to start alive, idle, for ever:
    // let it exit, so that the primary replaces it (and gives up when they keep failing).
    if (worker) {
      cluster.worker?.disconnect();
      setTimeout(() => process.exit(EXIT.failed), 2_000).unref();
    }
    throw error;
  }
  await untilSignal();
  // A worker gets the terminal's SIGINT and then its primary's SIGTERM: the shutdown started.
  if (worker) for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => undefined);
  await server.shutdown();
  // The channel to the primary would keep a worker's process alive for ever.
  if (worker) cluster.worker?.disconnect();
  return EXIT.ok;
}

/** Resolves at SIGTERM or SIGINT ('signal'), or when `failed` resolves first ('failed'). */
function untilSignal(failed?: Promise<unknown>): Promise<'signal' | 'failed'> {
  return new Promise((resolve) => {
    const stop = () => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      resolve('signal');
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
    failed?.then(() => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      resolve('failed');
    });
  });
}
