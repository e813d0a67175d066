/** `syncflow validate FILE|DIR... [-o text|json]`: checks definitions without a cluster. */
import { VALIDATE_FLAGS } from './commands.ts';
import { parseFlags } from './flags.ts';
import { EXIT, UsageError, type CliIO } from './io.ts';
import { formatLine, loadDocuments, validateLoaded } from './load.ts';

/** Runs `validate`; returns 0 when all documents are valid, 1 when any is invalid, 2 on misuse. */
export async function validateCommand(args: readonly string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseFlags(VALIDATE_FLAGS, args);
  const paths = positionals.map((p) => p.value);
  if (paths.length === 0) throw new UsageError('give at least one FILE or DIR');
  const output = values.output;
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
