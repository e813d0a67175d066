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
  const [{ startServer }, { serverLogger }] = await Promise.all([
    import('../apiserver/server.ts'),
    import('../apiserver/logging.ts'),
  ]);
  const logger = serverLogger(validated.config.logLevel);
  guardServerProcess({
    process,
    logger,
    // pino writes what is buffered when the process exits.
    exit: (code) => process.exit(code),
  });
  const server = await startServer(validated.config, logger);
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      server.shutdown().then(resolve, resolve);
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
  return EXIT.ok;
}
