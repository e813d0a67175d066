/** `syncflow server`: flags and environment → validated config → running server until SIGTERM. */
import type { CliIO } from '../cli/io.ts';
import { EXIT } from '../cli/io.ts';
import { defaultServerOptions, parseServerFlags, serverUsage, validateServerOptions } from './options.ts';
import { startServer } from './server.ts';

/** Runs the server; resolves with the exit code after a signal-initiated shutdown. */
export async function serverCommand(args: readonly string[], io: CliIO, env: Record<string, string | undefined> = process.env): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    io.stdout.write(serverUsage());
    return EXIT.ok;
  }
  const parsed = parseServerFlags(args, defaultServerOptions(env));
  const validated = validateServerOptions(parsed.options);
  const errors = [...parsed.errors, ...validated.errors];
  if (errors.length || !validated.config) {
    io.stderr.write(`syncflow server: invalid configuration:\n${errors.map((e) => `  - ${e}`).join('\n')}\n\n${serverUsage()}`);
    return EXIT.usage;
  }
  const server = await startServer(validated.config);
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
