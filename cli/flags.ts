/**
 * Command-line flags, each defined once: the definition drives `node:util.parseArgs`, the checks
 * (unknown flag, missing value, allowed values) and the flag list printed by `--help`.
 */
import { parseArgs } from 'node:util';
import { UsageError } from './io.ts';

/** One flag, by its long name in a command's flag table. */
export interface FlagSpec {
  /** One-letter alias, e.g. `f` for `-f`. */
  short?: string;
  /** Name of the value in the usage (`FILE`); a flag without one is a switch. */
  value?: string;
  /** May be given more than once; the values are collected in order. */
  multiple?: boolean;
  /** The only values accepted. */
  choices?: readonly string[];
  /** Value when the flag is absent. */
  default?: string;
  /** One line for the usage. */
  description: string;
}

/** A command's grammar: what `--help` prints and what its parser accepts. */
export interface CommandSpec {
  /** `validate`, `run`, ... (empty for the top level). */
  name: string;
  /** The usage line after `syncflow <name> `. */
  synopsis: string;
  /** One sentence saying what the command does. */
  summary: string;
  flags: Record<string, FlagSpec>;
  /** Lines printed after the flag list. */
  notes?: string;
}

type ValueOf<F extends FlagSpec> = F extends { choices: readonly (infer C)[] } ? C : string;
type FlagValue<F extends FlagSpec> = F extends { value: string }
  ? F extends { multiple: true }
    ? ValueOf<F>[]
    : F extends { default: string }
      ? ValueOf<F>
      : ValueOf<F> | undefined
  : boolean;

/** The parsed flags of a command, typed from its flag table; `help` is always there. */
type FlagValues<S extends Record<string, FlagSpec>> = { [K in keyof S]: FlagValue<S[K]> } & {
  help: boolean;
};

/** A plain argument, and the flag it follows (`-f a.yaml b.yaml`: b.yaml follows `filename`). */
interface Positional {
  value: string;
  follows: string | undefined;
}

/** Every command answers `-h`/`--help`. */
const HELP_FLAG = { short: 'h', description: 'print this help' } as const satisfies FlagSpec;

/** Parses `args` against a command's flag table; throws `UsageError` naming the flag at fault. */
export function parseFlags<S extends Record<string, FlagSpec>>(
  flags: S,
  args: readonly string[],
): { values: FlagValues<S>; positionals: Positional[] } {
  const table: Record<string, FlagSpec> = { ...flags, help: HELP_FLAG };
  const options = Object.fromEntries(
    Object.entries(table).map(([name, flag]) => [
      name,
      {
        type: flag.value ? ('string' as const) : ('boolean' as const),
        ...(flag.short ? { short: flag.short } : {}),
        multiple: flag.multiple ?? false,
      },
    ]),
  );
  // Not strict: the checks below name the flag in the words of this CLI (exit 2 with the usage).
  const { tokens } = parseArgs({
    args: [...args],
    options,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const values: Record<string, unknown> = {};
  for (const [name, flag] of Object.entries(table))
    values[name] = flag.multiple ? [] : flag.value ? flag.default : false;
  const positionals: Positional[] = [];
  let follows: string | undefined;
  for (const token of tokens) {
    if (token.kind === 'option-terminator') {
      follows = undefined;
      continue;
    }
    if (token.kind === 'positional') {
      positionals.push({ value: token.value, follows });
      continue;
    }
    const flag = table[token.name];
    if (!flag) throw new UsageError(`unknown flag ${token.rawName}`);
    follows = token.name;
    if (!flag.value) {
      if (token.inlineValue) throw new UsageError(`${token.rawName} takes no value`);
      values[token.name] = true;
      continue;
    }
    // `-o=json` reads as `-o json`, as it always has.
    const value =
      token.inlineValue && !token.rawName.startsWith('--') ? token.value?.replace(/^=/, '') : token.value;
    if (value === undefined) throw new UsageError(`${token.rawName} needs a value`);
    if (flag.choices && !flag.choices.includes(value)) {
      throw new UsageError(
        `${token.rawName} takes ${flag.choices.join(' or ')}, got ${value === '' ? 'nothing' : value}`,
      );
    }
    if (flag.multiple) (values[token.name] as string[]).push(value);
    else values[token.name] = value;
  }
  return { values: values as FlagValues<S>, positionals };
}

/** The usage line of a command, as printed with a usage error. */
export function usageLine(spec: CommandSpec): string {
  return `usage: syncflow ${spec.name ? `${spec.name} ` : ''}${spec.synopsis}`;
}

/** The full help of a command: usage line, summary, every flag, notes. */
export function formatHelp(spec: CommandSpec): string {
  const rows = Object.entries({ ...spec.flags, help: HELP_FLAG } as Record<string, FlagSpec>).map(
    ([name, flag]) => {
      const names = `${flag.short ? `-${flag.short}, ` : ''}--${name}${flag.value ? ` ${flag.value}` : ''}`;
      const extra = [flag.multiple ? 'repeatable' : '', flag.default ? `default ${flag.default}` : '']
        .filter(Boolean)
        .join(', ');
      return [names, extra ? `${flag.description} (${extra})` : flag.description] as const;
    },
  );
  const width = Math.max(...rows.map(([names]) => names.length)) + 2;
  const table = rows.map(([names, text]) => `  ${names.padEnd(width)}${text}`).join('\n');
  return `${usageLine(spec)}\n\n${spec.summary}\n\nflags:\n${table}\n${spec.notes ? `\n${spec.notes}\n` : ''}`;
}
