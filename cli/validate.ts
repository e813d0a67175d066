/** `syncflow validate FILE|DIR... [-o text|json]`: checks definitions without a cluster. */
import { EXIT, UsageError, type CliIO } from './io.ts';
import { formatLine, loadDocuments, validateLoaded } from './load.ts';

export const VALIDATE_USAGE = 'usage: syncflow validate FILE|DIR... [-o text|json]';

/** Runs `validate`; returns 0 when all documents are valid, 1 when any is invalid, 2 on misuse. */
export async function validateCommand(args: readonly string[], io: CliIO): Promise<number> {
  const { paths, output } = parseArgs(args);
  const loaded = await loadDocuments(paths, io.cwd);
  const lines = [...loaded.problems, ...validateLoaded(loaded.documents).lines];
  if (output === 'json') {
    io.stdout.write(`${JSON.stringify(lines, null, 2)}\n`);
  } else {
    for (const line of lines) io.stdout.write(`${formatLine(line)}\n`);
    if (lines.length === 0) io.stdout.write(`${loaded.documents.length} documents valid\n`);
  }
  if (loaded.unreadable) return EXIT.usage;
  return lines.length > 0 ? EXIT.failed : EXIT.ok;
}

function parseArgs(args: readonly string[]): { paths: string[]; output: 'text' | 'json' } {
  const paths: string[] = [];
  let output: 'text' | 'json' = 'text';
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === '-o' || arg === '--output') {
      const value = args[++i];
      if (value !== 'json' && value !== 'text') throw new UsageError(`-o takes text or json, got ${value ?? 'nothing'}`);
      output = value;
    } else if (arg.startsWith('--output=') || arg.startsWith('-o=')) {
      const value = arg.slice(arg.indexOf('=') + 1);
      if (value !== 'json' && value !== 'text') throw new UsageError(`-o takes text or json, got ${value}`);
      output = value;
    } else if (arg.startsWith('-') && arg !== '-') {
      throw new UsageError(`unknown flag ${arg}`);
    } else {
      paths.push(arg);
    }
  }
  if (paths.length === 0) throw new UsageError('give at least one FILE or DIR');
  return { paths, output };
}
