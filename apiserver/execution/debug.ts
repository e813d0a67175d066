/**
 * Debug runs on the server (DESIGN §9.3): their own small concurrency limit, and one session per
 * debug execution through which a client answers its pauses. The stream opens a session
 * (`DebugRuns.open`, 429 over the limit), sets `onPause` to forward `paused {task, request}`,
 * passes it as `RunContext.debug`, and turns the client's `continue`, `skip` and `abort` into
 * the session's methods. The run path checks the breakpoints against the workflow (422), marks the
 * execution with annotation `syncflow.io/debug: "true"` and closes the session when the run ends,
 * however it ends. The idle bound of a pause is enforced by the engine (core/engine/debug.ts).
 */
import type { CompiledWorkflow } from '../../core/definitions/compile.ts';
import {
  checkBreakpoints,
  checkSkipOutput,
  DEFAULT_DEBUG_IDLE_TIMEOUT_MS,
  type DebugDecision,
  type DebugOptions,
  type DebugPause,
  type DebugRequest,
} from '../../core/engine/debug.ts';
import { SyncflowError, type FieldError } from '../../core/errors.ts';

/** Debug runs at once on one replica when not configured. */
export const DEFAULT_MAX_DEBUG_RUNS = 4;

/** Limits of debug runs. */
export interface DebugRunsOptions {
  /** Debug runs at once on this replica; more are refused with 429 (default 4). */
  maxConcurrent?: number;
  /** How long a pause waits for a decision before the run ends with DebugTimeout (default 5 minutes). */
  idleTimeoutMs?: number;
}

/** What a debugger is shown at a pause (the stream's `paused {task, request}`). */
export interface PausedTask {
  task: string;
  request: DebugRequest;
}

/** The debug runs of this replica: opens sessions within the limit. */
export class DebugRuns {
  readonly maxConcurrent: number;
  readonly idleTimeoutMs: number;
  private running = 0;

  constructor(options: DebugRunsOptions = {}) {
    this.maxConcurrent = options.maxConcurrent ?? DEFAULT_MAX_DEBUG_RUNS;
    this.idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_DEBUG_IDLE_TIMEOUT_MS;
  }

  /** Debug runs holding a place now. */
  get active(): number {
    return this.running;
  }

  /** A session for one debug execution; 429 TooManyRequests when the limit is reached. */
  open(request: { breakpoints: '*' | readonly string[] }): DebugSession {
    if (this.running >= this.maxConcurrent) {
      throw new SyncflowError(
        'TooManyRequests',
        `too many debug runs: ${this.maxConcurrent} are running, the limit of this server; retry when one has finished`,
      );
    }
    this.running++;
    return new DebugSession(request.breakpoints, this.idleTimeoutMs, () => this.running--);
  }
}

/** One debug execution: its current pause and the decisions a client sends. */
export class DebugSession {
  /** Told of every pause as it opens (the stream forwards it as `paused`). */
  onPause: ((paused: PausedTask) => void) | undefined;
  private workflow: CompiledWorkflow | undefined;
  private current: { shown: PausedTask; decide: (decision: DebugDecision) => void } | undefined;
  private release: (() => void) | undefined;

  constructor(
    readonly breakpoints: '*' | readonly string[],
    readonly idleTimeoutMs: number,
    release: () => void,
  ) {
    this.release = release;
  }

  /** The task waiting for a decision, if any. */
  get paused(): PausedTask | undefined {
    return this.current?.shown;
  }

  /**
   * The engine's debug options for `workflow`. Throws 422 (FieldInvalid, causes
   * `debug.breakpoints[i]`) when a breakpoint names no task of it.
   */
  bind(workflow: CompiledWorkflow): DebugOptions {
    const errors = checkBreakpoints(workflow, this.breakpoints);
    if (errors.length) {
      throw new SyncflowError(
        'FieldInvalid',
        `debug breakpoints name no task of workflow ${workflow.namespace}/${workflow.name}: ${errors
          .map((e) => `${e.field}: ${e.message}`)
          .join('; ')}`,
        { causes: errors },
      );
    }
    this.workflow = workflow;
    return {
      breakpoints: this.breakpoints,
      idleTimeoutMs: this.idleTimeoutMs,
      pause: (paused) => this.pause(paused),
    };
  }

  /** Sends the paused task's request. 409 when not paused. */
  continue(): void {
    this.take().decide({ action: 'continue' });
  }

  /**
   * Uses `output` as the paused task's output instead of calling it. An output that does not match
   * the task's outputSchema is refused: the field errors are returned and the pause stays (answer
   * them as 422 Invalid). Empty when the run goes on. 409 when not paused.
   */
  skip(output: unknown): FieldError[] {
    const current = this.take(false);
    const step = this.workflow?.steps.get(current.shown.task);
    const errors = step ? checkSkipOutput(step.task, output) : [];
    if (errors.length) return errors;
    this.current = undefined;
    current.decide({ action: 'skip', output });
    return [];
  }

  /** Ends the run Failed with reason DebugAborted. 409 when not paused. */
  abort(): void {
    this.take().decide({ action: 'abort' });
  }

  /** Gives the place back (the run path calls it when the run ends); later calls do nothing. */
  close(): void {
    this.release?.();
    this.release = undefined;
  }

  private pause(paused: DebugPause): Promise<DebugDecision> {
    const shown: PausedTask = { task: paused.task, request: paused.request };
    return new Promise((decide) => {
      this.current = { shown, decide };
      // Ended without a decision (idle timeout, the run stopped): nothing is paused any more.
      paused.signal.once('abort', () => {
        if (this.current?.shown === shown) this.current = undefined;
      });
      this.onPause?.(shown);
    });
  }

  /** The open pause, taken off the session unless `remove` is false; 409 Conflict when none. */
  private take(remove = true): NonNullable<DebugSession['current']> {
    const current = this.current;
    if (!current) {
      throw new SyncflowError(
        'Conflict',
        'the debug run is not paused: continue, skip and abort answer a task paused at a breakpoint',
      );
    }
    if (remove) this.current = undefined;
    return current;
  }
}
