/**
 * `syncflow run` (flags in cli/commands.ts): executes a workflow locally (no cluster) and prints
 * the WorkflowExecution object. Exit 0 Succeeded, 1 Failed, 2 usage or invalid definitions/input.
 * With `--step` or `--break` it is a debug run, answered at the terminal (cli/step.ts).
 */
import { readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parse as parseYaml, parseAllDocuments, stringify as toYaml } from 'yaml';
import type { CompiledWorkflow } from '../core/definitions/compile.ts';
import { checkBreakpoints, type DebugOptions } from '../core/engine/debug.ts';
import { messageWithSuggestion, SyncflowError } from '../core/errors.ts';
import type { SecretReference, SecretResolver } from '../core/engine/collaborators.ts';
import { valueDepth } from '../core/model/depth.ts';
import {
  executionObject as createdExecution,
  generateName,
  type ExecutionCreateRequest,
  type WorkflowExecution,
} from '../core/model/execution.ts';
import { DEBUG_ANNOTATION, LIMITS } from '../core/model/resources.ts';
import type { WorkflowExecutionStatus } from '../core/model/schema.ts';
import { closestName } from '../core/suggest.ts';
import { RUN_FLAGS, STEP_FLAGS } from './commands.ts';
import { parseFlags } from './flags.ts';
import { EXIT, UsageError, type CliIO } from './io.ts';
import { formatLine, loadDefinitions } from './load.ts';

/** Arguments shared by `run` and `plan`. */
export interface RunArguments {
  files: string[];
  workflow: string;
  namespace: string | undefined;
  input: string | undefined;
  output: 'yaml' | 'json';
  secrets: string[];
  secretsFiles: string[];
  hostAliases: string[];
  /** A debug run's breakpoints (`--step`: every task); undefined for a plain run. */
  breakpoints: '*' | string[] | undefined;
}

/**
 * Parses `run`/`plan` arguments (flags defined in cli/commands.ts); throws `UsageError` on misuse.
 * `plan` never sees the step flags: its own flag table refuses them first.
 */
export function parseRunArguments(args: readonly string[]): RunArguments {
  const { values, positionals } = parseFlags({ ...RUN_FLAGS, ...STEP_FLAGS }, args);
  const files = [...values.filename];
  for (const positional of positionals) {
    // `-f a.yaml b.yaml`: further plain arguments right after -f are files too.
    if (positional.follows !== 'filename')
      throw new UsageError(`unexpected argument ${positional.value}; give files with -f`);
    files.push(positional.value);
  }
  if (files.length === 0) throw new UsageError('give at least one -f FILE|DIR');
  if (!values.workflow) throw new UsageError('give --workflow NAME');
  const breaks = values.break.flatMap((list) => list.split(',')).map((id) => id.trim());
  if (breaks.some((id) => id === '')) throw new UsageError('--break takes task ids separated by commas');
  return {
    files,
    workflow: values.workflow,
    namespace: values.namespace,
    input: values.input,
    output: values.output,
    secrets: values.secret,
    secretsFiles: values['secrets-file'],
    hostAliases: values['host-alias'],
    breakpoints: breaks.length ? breaks : values.step ? '*' : undefined,
  };
}

/** Definitions and input ready to run, or the exit code after printing why not. */
export type Prepared = { workflow: CompiledWorkflow; input: unknown } | { exit: number };

/** Loads and checks definitions, picks the workflow and reads the input; prints problems. */
export async function prepareRun(args: RunArguments, io: CliIO): Promise<Prepared> {
  let input: unknown = {};
  if (args.input !== undefined) {
    const read = await readInput(args.input, io.cwd);
    if ('problem' in read) {
      io.stderr.write(`${read.problem}\n`);
      return { exit: EXIT.usage };
    }
    input = read.value;
  }
  const loaded = await loadDefinitions(args.files, io.cwd);
  if (loaded.lines.length > 0) {
    for (const line of loaded.lines) io.stderr.write(`${formatLine(line)}\n`);
    return { exit: EXIT.usage };
  }
  const candidates = [...loaded.workflows.values()].filter((w) => w.name === args.workflow);
  let workflow: CompiledWorkflow | undefined;
  if (args.namespace !== undefined) workflow = candidates.find((w) => w.namespace === args.namespace);
  else if (candidates.length === 1) workflow = candidates[0];
  else workflow = candidates.find((w) => w.namespace === 'default');
  if (!workflow) {
    const near = closestName(
      args.workflow,
      [...loaded.workflows.values()].map((w) => w.name),
    );
    const where = args.namespace
      ? ` in namespace ${args.namespace}`
      : candidates.length > 1
        ? ' (several namespaces: give --namespace)'
        : '';
    io.stderr.write(
      `workflow ${args.workflow} not found${where}${near && near !== args.workflow ? ` (did you mean \`${near}\`?)` : ''}\n`,
    );
    return { exit: EXIT.usage };
  }
  return { workflow, input };
}

/**
 * Reads `--input JSON|@file` with the server's request limits (3 MiB, JSON depth; docs/security.md, "Limits"), so
 * that what runs locally would also be accepted by the server; a file is measured before it is read.
 */
export async function readInput(
  argument: string,
  cwd: string,
): Promise<{ value: unknown } | { problem: string }> {
  const file = argument.startsWith('@') ? argument.slice(1) : undefined;
  const what = file === undefined ? '--input' : `input file ${file}`;
  const tooLarge = (bytes: number) => ({
    problem: `${what} is ${(bytes / 1024 / 1024).toFixed(1)} MiB; the limit is ${LIMITS.maxRequestBytes / 1024 / 1024} MiB, as for the server's request body`,
  });
  let value: unknown;
  try {
    if (file === undefined) {
      const bytes = Buffer.byteLength(argument);
      if (bytes > LIMITS.maxRequestBytes) return tooLarge(bytes);
      value = JSON.parse(argument);
    } else {
      const path = resolve(cwd, file);
      const size = (await stat(path)).size;
      if (size > LIMITS.maxRequestBytes) return tooLarge(size);
      value = parseYaml(await readFile(path, 'utf8'), { maxAliasCount: 100 });
    }
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message.split('\n')[0];
    return {
      problem:
        file === undefined
          ? `input is not valid JSON: ${reason}`
          : `cannot read input file ${file}: ${reason}`,
    };
  }
  // At most 3 MiB of text: measuring the whole depth is cheap and names the actual figure.
  const depth = valueDepth(value);
  if (depth > LIMITS.maxJsonDepth)
    return { problem: `${what} nests ${depth} levels deep; the limit is ${LIMITS.maxJsonDepth}` };
  return { value };
}

/** Prints an InvalidInput error the way `validate` prints definition errors. */
export function printInvalidInput(
  error: SyncflowError,
  workflow: CompiledWorkflow,
  source: string,
  io: CliIO,
): void {
  for (const cause of error.causes) {
    io.stderr.write(`${source}: Workflow/${workflow.name}: ${cause.field}: ${cause.message}\n`);
  }
}

/** Builds a secret resolver from `--secret` values and secrets files. */
export async function localSecrets(args: RunArguments, cwd: string): Promise<SecretResolver> {
  const values = new Map<string, string>();
  const key = (secret: string, k: string) => `${secret}\u0000${k}`;
  for (const file of args.secretsFiles) {
    let text: string;
    let size: number;
    const path = resolve(cwd, file);
    try {
      size = (await stat(path)).size;
      text = size > LIMITS.maxRequestBytes ? '' : await readFile(path, 'utf8');
    } catch (error) {
      throw new UsageError(
        `cannot read secrets file ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
      );
    }
    if (size > LIMITS.maxRequestBytes)
      throw new UsageError(`secrets file ${file} is larger than ${LIMITS.maxRequestBytes / 1024 / 1024} MiB`);
    for (const doc of parseAllDocuments(text)) {
      let value: Record<string, unknown> | null;
      try {
        value = doc.toJS({ maxAliasCount: 100 }) as Record<string, unknown> | null;
      } catch (error) {
        throw new UsageError(`secrets file ${file}: ${(error as Error).message.split('\n')[0]}`);
      }
      if (!value || typeof value !== 'object') continue;
      if (value.kind === 'Secret') {
        const name = (value.metadata as { name?: string } | undefined)?.name ?? '';
        for (const [k, v] of Object.entries((value.data as Record<string, string>) ?? {})) {
          values.set(key(name, k), Buffer.from(String(v), 'base64').toString('utf8'));
        }
        for (const [k, v] of Object.entries((value.stringData as Record<string, string>) ?? {}))
          values.set(key(name, k), String(v));
        continue;
      }
      for (const [secret, entries] of Object.entries(value)) {
        if (!entries || typeof entries !== 'object')
          throw new UsageError(`secrets file ${file}: ${secret} must map keys to values`);
        for (const [k, v] of Object.entries(entries as Record<string, unknown>))
          values.set(key(secret, k), String(v));
      }
    }
  }
  for (const text of args.secrets) {
    const match = /^([^/=]+)\/([^=]+)=(.*)$/s.exec(text);
    if (!match) throw new UsageError(`--secret takes SECRET/KEY=VALUE, got \`${text.split('=')[0]}=…\``);
    values.set(key(match[1] as string, match[2] as string), match[3] as string);
  }
  return { resolve: (ref: SecretReference) => values.get(key(ref.secretName, ref.key)) };
}

/** The WorkflowExecution object as the API would return it (the server's factory). */
export function executionObject(
  workflow: CompiledWorkflow,
  input: unknown,
  status: WorkflowExecutionStatus,
  annotations: Record<string, string> = {},
): WorkflowExecution {
  const request: ExecutionCreateRequest = {
    namespace: workflow.namespace,
    name: undefined,
    generateName: `${workflow.name}-`,
    labels: {},
    annotations,
    workflowName: workflow.name,
    input,
  };
  return createdExecution(request, generateName(`${workflow.name}-`), status, new Date().toISOString());
}

/** Writes an object as YAML or JSON. */
export function printObject(object: unknown, format: 'yaml' | 'json', io: CliIO): void {
  io.stdout.write(
    format === 'json'
      ? `${JSON.stringify(object, null, 2)}\n`
      : toYaml(object, { aliasDuplicateObjects: false }),
  );
}

/** Runs `run`; returns the exit code. */
export async function runCommand(args: readonly string[], io: CliIO): Promise<number> {
  const parsed = parseRunArguments(args);
  const { breakpoints } = parsed;
  const stdin = breakpoints && io.stdin;
  if (breakpoints && !stdin)
    throw new UsageError('--step needs answers on standard input, and this run has none');
  const secrets = await localSecrets(parsed, io.cwd);
  const prepared = await prepareRun(parsed, io);
  if ('exit' in prepared) return prepared.exit;
  const { workflow, input } = prepared;
  if (breakpoints) {
    const errors = checkBreakpoints(workflow, breakpoints);
    for (const error of errors) io.stderr.write(`syncflow run: --break: ${messageWithSuggestion(error)}\n`);
    if (errors.length) return EXIT.usage;
  }
  // The engine and its HTTP client load here rather than with this module, which `plan` shares.
  const [{ aliasResolver, parseHostAliases }, { EgressPolicy }, { DagExecutor }, { UndiciTaskClient }] =
    await Promise.all([
      import('../adapters/egress/host-aliases.ts'),
      import('../adapters/egress/policy.ts'),
      import('../core/engine/executor.ts'),
      import('../adapters/http-client.ts'),
    ]);
  const { aliases, errors: aliasErrors } = parseHostAliases(parsed.hostAliases);
  if (aliasErrors.length) throw new UsageError(aliasErrors.join('; '));
  const policy = new EgressPolicy({ allowLoopback: true }, aliasResolver(aliases));
  const http = new UndiciTaskClient({ policy });
  // Loaded only for workflows with a WebSocket task.
  const websocket = [...workflow.steps.values()].some((s) => s.task.websocket)
    ? new (await import('../adapters/ws-client.ts')).WsTaskClient({ policy })
    : undefined;
  const terminal = stdin
    ? new (await import('./step.ts')).TerminalDebugger(workflow, { stdin, stderr: io.stderr })
    : undefined;
  try {
    const debug: DebugOptions | undefined =
      breakpoints && terminal ? { breakpoints, pause: terminal.pause } : undefined;
    const status = await new DagExecutor({ http, ...(websocket ? { websocket } : {}) }).execute(
      workflow,
      input,
      {
        secrets,
        ...(debug ? { debug } : {}),
      },
    );
    const annotations: Record<string, string> = debug ? { [DEBUG_ANNOTATION]: 'true' } : {};
    printObject(executionObject(workflow, input, status, annotations), parsed.output, io);
    return status.phase === 'Succeeded' ? EXIT.ok : EXIT.failed;
  } catch (error) {
    if (error instanceof SyncflowError && error.code === 'InvalidInput') {
      printInvalidInput(error, workflow, parsed.input ?? '--input', io);
      return EXIT.usage;
    }
    throw error;
  } finally {
    terminal?.close();
    await http.close();
  }
}
