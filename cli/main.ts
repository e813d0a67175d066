/** The `syncflow` command line: dispatches to validate, run, plan and server. */
import { EXIT, UsageError, type CliIO } from './io.ts';
import { VALIDATE_USAGE, validateCommand } from './validate.ts';

type Command = (args: readonly string[], io: CliIO) => Promise<number>;

const USAGE = `syncflow — synchronous workflows on Kubernetes

usage:
  syncflow validate FILE|DIR... [-o text|json]
  syncflow run -f FILE|DIR... --workflow NAME [--namespace NS] --input JSON|@file [-o json|yaml]
  syncflow plan -f FILE|DIR... --workflow NAME [--namespace NS] --input JSON|@file [-o json|yaml]
  syncflow server [flags]   (see syncflow server --help)
`;

const commands: Record<string, { run: () => Promise<Command>; usage: string }> = {
  validate: { run: async () => validateCommand, usage: VALIDATE_USAGE },
  run: { run: async () => (await import('./run.ts')).runCommand, usage: 'usage: syncflow run -f FILE|DIR... --workflow NAME [--namespace NS] --input JSON|@file [-o json|yaml]' },
  plan: { run: async () => (await import('./plan.ts')).planCommand, usage: 'usage: syncflow plan -f FILE|DIR... --workflow NAME [--namespace NS] --input JSON|@file [-o json|yaml]' },
  // Loaded on demand: `validate` should not pay for the server's or the engine's imports.
  server: { run: async () => (await import('../apiserver/command.ts')).serverCommand, usage: 'usage: syncflow server [flags] (see --help)' },
};

/** Registers a command; used by modules that are loaded lazily (run, plan, server). */
export function registerCommand(name: string, usage: string, load: () => Promise<Command>): void {
  commands[name] = { run: load, usage };
}

/** Runs the CLI with the given arguments; returns the process exit code. */
export async function main(argv: readonly string[], io: CliIO): Promise<number> {
  const [name, ...args] = argv;
  if (!name || name === '-h' || name === '--help' || name === 'help') {
    io.stdout.write(USAGE);
    return name ? EXIT.ok : EXIT.usage;
  }
  const command = commands[name];
  if (!command) {
    io.stderr.write(`syncflow: unknown command \`${name}\`\n${USAGE}`);
    return EXIT.usage;
  }
  try {
    return await (await command.run())(args, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr.write(`syncflow ${name}: ${error.message}\n${command.usage}\n`);
      return EXIT.usage;
    }
    io.stderr.write(`syncflow ${name}: ${error instanceof Error ? error.message : String(error)}\n`);
    return EXIT.failed;
  }
}
