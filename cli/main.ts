/** The `syncflow` command line: dispatches to validate, run, plan and server. */
import { CONSOLE, MAP, PLAN, RUN, SERVER, TOP_LEVEL, VALIDATE } from './commands.ts';
import { formatHelp, parseFlags, usageLine, type CommandSpec } from './flags.ts';
import { EXIT, UsageError, type CliIO } from './io.ts';

type Command = (args: readonly string[], io: CliIO) => Promise<number>;

/**
 * Each command's grammar and its implementation, loaded on demand: a usage error or `--help` costs
 * no more than start-up, and `validate` does not pay for the engine's or the server's imports.
 */
const commands: Record<string, { spec: CommandSpec; load: () => Promise<Command> }> = {
  validate: { spec: VALIDATE, load: async () => (await import('./validate.ts')).validateCommand },
  run: { spec: RUN, load: async () => (await import('./run.ts')).runCommand },
  plan: { spec: PLAN, load: async () => (await import('./plan.ts')).planCommand },
  // The server parses and documents its own flags (apiserver/options.ts), `--help` included.
  server: { spec: SERVER, load: async () => (await import('./server.ts')).serverCommand },
  console: { spec: CONSOLE, load: async () => (await import('./console.ts')).consoleCommand },
  map: { spec: MAP, load: async () => (await import('./map.ts')).mapCommand },
};

const USAGE = `${TOP_LEVEL.summary}

usage:
${Object.values(commands)
  .map(({ spec }) => `  ${usageLine(spec).slice('usage: '.length)}`)
  .join('\n')}

flags:
  -h, --help  print this help (syncflow COMMAND --help, or syncflow help COMMAND, for a command's flags)
`;

/** Runs the CLI with the given arguments; returns the process exit code. */
export async function main(argv: readonly string[], io: CliIO): Promise<number> {
  // Top-level flags come before the command; everything after it belongs to the command.
  const at = argv.findIndex((arg) => !arg.startsWith('-') || arg === '-');
  const [name, ...args] = at < 0 ? [] : argv.slice(at);
  try {
    const { values } = parseFlags(TOP_LEVEL.flags, at < 0 ? argv : argv.slice(0, at));
    if (values.help) {
      io.stdout.write(USAGE);
      return EXIT.ok;
    }
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.stderr.write(`syncflow: ${error.message}\n${USAGE}`);
    return EXIT.usage;
  }
  if (!name) {
    io.stdout.write(USAGE);
    return EXIT.usage;
  }
  if (name === 'help' && args[0] === undefined) {
    io.stdout.write(USAGE);
    return EXIT.ok;
  }
  const command = commands[name === 'help' ? (args[0] as string) : name];
  if (!command) {
    io.stderr.write(`syncflow: unknown command \`${name === 'help' ? args[0] : name}\`\n${USAGE}`);
    return EXIT.usage;
  }
  if (name === 'help') {
    if (command.spec === SERVER) return (await command.load())(['--help'], io);
    io.stdout.write(formatHelp(command.spec));
    return EXIT.ok;
  }
  try {
    if (command.spec !== SERVER) {
      // Flag errors and --help are answered here, before the command's modules load.
      const { values } = parseFlags(command.spec.flags, args);
      if (values.help) {
        io.stdout.write(formatHelp(command.spec));
        return EXIT.ok;
      }
    }
    return await (
      await command.load()
    )(args, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr.write(
        `syncflow ${name}: ${error.message}\n${usageLine(command.spec)}\n(syncflow ${name} --help lists every flag)\n`,
      );
      return EXIT.usage;
    }
    io.stderr.write(`syncflow ${name}: ${error instanceof Error ? error.message : String(error)}\n`);
    return EXIT.failed;
  }
}
