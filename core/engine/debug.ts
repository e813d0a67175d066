/**
 * Debug runs (DESIGN §9.3): the executor stops before the first attempt of each breakpoint task,
 * shows the fully resolved request (secrets redacted) and waits for a decision: `continue` sends
 * it, `skip` uses the given output instead of calling (the task Succeeds, marked `substituted`),
 * `abort` ends the execution Failed with reason DebugAborted.
 *
 * Pauses are presented one at a time, in the order tasks reach their breakpoint (a parallel branch
 * that reaches its breakpoint waits for the pause before it; tasks without a breakpoint keep
 * running): a debugger answers "the" pause, as the stream's `continue {id}` does. Each pause waits
 * at most the idle timeout (default 5 minutes) for a decision, then the execution ends Failed with
 * reason DebugTimeout, so a forgotten debug run never holds its place for ever. The workflow
 * deadline does not run while a pause is open (stepping through a 2-second workflow must be
 * possible); attempts already in flight in other branches keep the limit they started with.
 */
import type { CompiledTask, CompiledWorkflow } from '../definitions/compile.ts';
import type { FieldError } from '../errors.ts';
import { valueDepth } from '../model/depth.ts';
import { LIMITS } from '../model/resources.ts';
import { schemaErrorsToFieldErrors } from '../schema/json-schema.ts';
import { closestName } from '../suggest.ts';
import { Cancellation, type CancelSignal } from './cancellation.ts';
import type { Clock } from './collaborators.ts';

/** A task's request as the debugger sees it: templates applied, secrets redacted, body as JSON. */
export interface DebugRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: unknown;
}

/** A task stopped before its first attempt. */
export interface DebugPause {
  /** The step id. */
  task: string;
  request: DebugRequest;
  /** Fires when the pause ends without a decision (idle timeout, the execution stopped). */
  signal: CancelSignal;
}

/** What the debugger decides at a pause. */
export type DebugDecision =
  { action: 'continue' } | { action: 'skip'; output: unknown } | { action: 'abort' };

/** Makes an execution a debug run (`ExecuteOptions.debug`). */
export interface DebugOptions {
  /** `*` for every task, or step ids. */
  breakpoints: '*' | readonly string[];
  /** How long one pause waits for a decision before the run ends with DebugTimeout (default 5 minutes). */
  idleTimeoutMs?: number;
  /**
   * Called at each breakpoint; resolves with the decision. Check a `skip` output with
   * {@link checkSkipOutput} first: a substitute that does not match, an answer that is none of
   * the three, or a rejection ends the run Failed with DebugAborted, as `abort` does.
   */
  pause(paused: DebugPause): Promise<DebugDecision>;
}

/** The idle bound of a pause when none is given. */
export const DEFAULT_DEBUG_IDLE_TIMEOUT_MS = 5 * 60_000;

/**
 * Checks a substitute output against the task's outputSchema, with the validator that checks
 * upstream responses; every error has a field path under `output` (`output.email`). Empty when
 * the output may be used.
 */
export function checkSkipOutput(task: CompiledTask, output: unknown): FieldError[] {
  const value = output === undefined ? null : output;
  if (valueDepth(value, LIMITS.maxJsonDepth) > LIMITS.maxJsonDepth) {
    return [
      {
        code: 'InvalidOutput',
        field: 'output',
        message: `nests more than ${LIMITS.maxJsonDepth} levels deep, the limit for JSON`,
        suggestion: 'flatten the output',
      },
    ];
  }
  const schema = task.outputSchema;
  if (!schema || schema.validate(value)) return [];
  return schemaErrorsToFieldErrors(schema.validate.errors, 'output', 'InvalidOutput');
}

/** Task ids a breakpoint list names that the workflow does not have (field `debug.breakpoints[i]`). */
export function checkBreakpoints(
  workflow: CompiledWorkflow,
  breakpoints: '*' | readonly unknown[],
): FieldError[] {
  if (breakpoints === '*') return [];
  const ids = [...workflow.steps.keys()];
  const listed = ids.length > 10 ? `${ids.slice(0, 10).join(', ')}, …` : ids.join(', ');
  const errors: FieldError[] = [];
  breakpoints.forEach((id, i) => {
    const field = `debug.breakpoints[${i}]`;
    if (typeof id !== 'string') {
      errors.push({ code: 'FieldInvalid', field, message: 'must be a task id (a string) or `*`' });
    } else if (id !== '*' && !workflow.steps.has(id)) {
      const near = closestName(id, ids);
      errors.push({
        code: 'UnknownTask',
        field,
        message: `no task with id \`${id}\` in workflow ${workflow.name} (its tasks: ${listed})`,
        ...(near ? { suggestion: `did you mean \`${near}\`?` } : {}),
      });
    }
  });
  return errors;
}

/** What the gate tells the execution it pauses. */
export interface PausedExecution {
  /** No decision came within `idleTimeoutMs`: end the run with DebugTimeout. */
  debugIdle(task: string, idleTimeoutMs: number): void;
  /** The debugger answered `abort` (no `failure`) or failed: end the run with DebugAborted. */
  debugAbort(task: string, failure?: unknown): void;
}

/** One execution's breakpoints and its queue of pauses. */
export class DebugGate {
  private readonly everyTask: boolean;
  private readonly breakpoints: ReadonlySet<string>;
  readonly idleTimeoutMs: number;
  /** Settles when the last pause asked for is over: pauses are presented one at a time. */
  private last: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly options: DebugOptions,
    private readonly clock: Clock,
  ) {
    const { breakpoints } = options;
    this.everyTask = breakpoints === '*' || breakpoints.includes('*');
    this.breakpoints = new Set(breakpoints === '*' ? [] : breakpoints);
    this.idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_DEBUG_IDLE_TIMEOUT_MS;
  }

  /** Whether the task stops before its first attempt. */
  stopsAt(task: string): boolean {
    return this.everyTask || this.breakpoints.has(task);
  }

  /**
   * Waits for the pauses before this one, presents it and resolves with `continue` or a checked
   * `skip`. Anything else stops the execution (through `execution`) before the next pause could
   * be presented, and the promise rejects with the execution's abort reason, as it does when the
   * execution stops first (the idle timeout among the reasons).
   */
  decide(
    step: { id: string; task: CompiledTask },
    request: DebugRequest,
    stopped: CancelSignal,
    execution: PausedExecution,
  ): Promise<DebugDecision> {
    const turn = this.last.then(() => this.present(step, request, stopped, execution));
    this.last = turn.catch(() => undefined);
    return turn;
  }

  private present(
    step: { id: string; task: CompiledTask },
    request: DebugRequest,
    stopped: CancelSignal,
    execution: PausedExecution,
  ): Promise<DebugDecision> {
    if (stopped.aborted) return Promise.reject(stopped.reason as Error);
    const task = step.id;
    const signal = new Cancellation();
    return new Promise<DebugDecision>((resolve, reject) => {
      const timer = this.clock.setTimer(
        () => execution.debugIdle(task, this.idleTimeoutMs),
        this.idleTimeoutMs,
        undefined,
      );
      const onStop = () => {
        this.clock.clearTimer(timer);
        signal.abort(stopped.reason);
        reject(stopped.reason as Error);
      };
      stopped.once('abort', onStop);
      // Synchronous from the answer to the abort: a later pause never sees a run already decided over.
      const settle = (decision: DebugDecision | undefined, problem: unknown) => {
        stopped.removeListener('abort', onStop);
        this.clock.clearTimer(timer);
        if (stopped.aborted) {
          reject(stopped.reason as Error);
        } else if (problem === undefined && decision && decision.action !== 'abort') {
          resolve(decision);
        } else {
          execution.debugAbort(task, problem);
          reject(stopped.reason as Error);
        }
      };
      let answer: Promise<DebugDecision>;
      try {
        answer = Promise.resolve(this.options.pause({ task, request, signal }));
      } catch (error) {
        answer = Promise.reject(error as Error);
      }
      answer.then(
        (decision) => settle(decision, invalidDecision(decision, step.task)),
        (error: unknown) => settle(undefined, error ?? new Error('the pause was rejected')),
      );
    });
  }
}

/** Why a decision cannot be followed, or undefined when it can. */
function invalidDecision(decision: DebugDecision | undefined, task: CompiledTask): Error | undefined {
  switch (decision?.action) {
    case 'continue':
    case 'abort':
      return undefined;
    case 'skip': {
      const causes = checkSkipOutput(task, decision.output);
      if (!causes.length) return undefined;
      return new Error(
        `its substitute output does not match the outputSchema of ${task.name}: ${causes
          .map((c) => `${c.field} ${c.message}`)
          .join('; ')}`,
      );
    }
    default:
      return new Error('it decided neither continue, skip nor abort');
  }
}
