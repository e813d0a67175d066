/**
 * `syncflow run --step`: a debugger in the terminal. At each pause it prints the task's resolved
 * request (secrets redacted by the engine) on stderr, so stdout keeps only the printed
 * WorkflowExecution, and reads one answer line from stdin: `continue` (or Enter), `skip <JSON>`
 * (the substitute output, checked against the task's outputSchema and asked again with the field
 * errors when it does not match), `abort`. The end of the input aborts the run.
 */
import { createInterface, type Interface } from 'node:readline';
import type { CompiledTask, CompiledWorkflow } from '../core/definitions/compile.ts';
import type { CancelSignal } from '../core/engine/cancellation.ts';
import { checkSkipOutput, type DebugDecision, type DebugPause } from '../core/engine/debug.ts';
import { describeFieldError } from '../core/errors.ts';
import { LIMITS } from '../core/model/resources.ts';

/** The question asked at every pause. */
const PROMPT = 'continue / skip <JSON> / abort > ';

/** Characters of a request body shown; a longer one is cut, its length said. */
const MAX_BODY_CHARS = 2_000;

/** What the debugger reads and writes. */
interface TerminalIO {
  stdin: NodeJS.ReadableStream;
  stderr: { write(text: string): unknown };
}

/** Answers a debug run's pauses from lines typed at a terminal (or piped in). */
export class TerminalDebugger {
  private readonly lines: Interface;
  private readonly answers: AsyncIterator<string>;
  /** Whether the input is a terminal, which shows what is typed itself. */
  private readonly echoed: boolean;

  constructor(
    private readonly workflow: CompiledWorkflow,
    private readonly io: TerminalIO,
  ) {
    this.lines = createInterface({ input: io.stdin, terminal: false, crlfDelay: Infinity });
    this.answers = this.lines[Symbol.asyncIterator]();
    this.echoed = (io.stdin as { isTTY?: boolean }).isTTY === true;
  }

  /** `DebugOptions.pause`: asks until an answer is usable. */
  readonly pause = async (paused: DebugPause): Promise<DebugDecision> => {
    const { stderr } = this.io;
    stderr.write(describePause(paused));
    const task = (this.workflow.steps.get(paused.task) as { task: CompiledTask }).task;
    for (;;) {
      stderr.write(PROMPT);
      const line = await this.nextLine(paused.signal);
      if (line === undefined) {
        stderr.write(
          paused.signal.aborted
            ? `\npause over: ${(paused.signal.reason as Error).message}\n`
            : '\ninput ended: aborting the debug run\n',
        );
        return { action: 'abort' };
      }
      // A terminal echoes what is typed; piped answers are echoed here, so the transcript reads the same.
      if (!this.echoed) stderr.write(`${printable(line)}\n`);
      const decision = this.decision(line, task);
      if (decision) return decision;
    }
  };

  /** Stops reading: the process may exit although stdin stays open. */
  close(): void {
    this.lines.close();
  }

  /** The next line, or undefined at the end of the input or when the pause is over. */
  private nextLine(signal: CancelSignal): Promise<string | undefined> {
    if (signal.aborted) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const over = () => resolve(undefined);
      signal.once('abort', over);
      this.answers.next().then(
        (next) => {
          signal.removeListener('abort', over);
          resolve(next.done ? undefined : next.value);
        },
        () => resolve(undefined),
      );
    });
  }

  /** Reads one answer; says what is wrong and returns undefined when it cannot be used. */
  private decision(line: string, task: CompiledTask): DebugDecision | undefined {
    const { stderr } = this.io;
    const text = line.trim();
    if (text === '' || text === 'c' || text === 'continue') return { action: 'continue' };
    if (text === 'a' || text === 'abort') return { action: 'abort' };
    const skip = /^(?:skip|s)(?:\s+([\s\S]*))?$/.exec(text);
    if (!skip) {
      stderr.write('answer continue (or Enter), skip <JSON> or abort\n');
      return undefined;
    }
    const json = skip[1];
    if (!json) {
      stderr.write('skip needs the substitute output as JSON, e.g. skip {"name": "x"}\n');
      return undefined;
    }
    if (json.length > LIMITS.maxRequestBytes) {
      stderr.write(`skip: the output is longer than ${LIMITS.maxRequestBytes / 1024 / 1024} MiB\n`);
      return undefined;
    }
    let output: unknown;
    try {
      output = JSON.parse(json);
    } catch (error) {
      stderr.write(`skip: not JSON: ${printable((error as Error).message.split('\n')[0] as string)}\n`);
      return undefined;
    }
    const errors = checkSkipOutput(task, output);
    if (errors.length) {
      stderr.write(`skip: the output does not match the outputSchema of ${task.name}:\n`);
      for (const error of errors) stderr.write(`  ${printable(describeFieldError(error))}\n`);
      return undefined;
    }
    return { action: 'skip', output };
  }
}

/** The pause as printed: task, request line, headers, body (bounded); control characters escaped. */
function describePause({ task, request }: DebugPause): string {
  let text = `paused before task ${task}: ${request.method} ${printable(request.url)}\n`;
  for (const [name, value] of Object.entries(request.headers))
    text += `  ${printable(name)}: ${printable(value)}\n`;
  if (request.body !== undefined) {
    const body = JSON.stringify(request.body);
    const shown =
      body.length > MAX_BODY_CHARS ? `${body.slice(0, MAX_BODY_CHARS)}… (${body.length} characters)` : body;
    text += `  body: ${printable(shown)}\n`;
  }
  return text;
}

/** C0 and C1 control characters: ESC and CSI start the sequences a terminal obeys. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

/** Escapes control characters, so data in a request cannot drive the terminal. */
function printable(text: string): string {
  return text.replace(CONTROL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
