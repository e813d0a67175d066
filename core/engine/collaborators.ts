/**
 * The narrow interfaces through which the executor reaches the outside world. The server, the CLI
 * and tests each inject their own implementations; core never reads globals.
 */
import type { CompiledWorkflow } from '../definitions/compile.ts';
import type { Logger } from '../logger.ts';
import type { ExecutionEvent } from '../model/events.ts';
import type { TaskExecutionStatus, WorkflowExecutionStatus } from '../model/schema.ts';

/** Where a secret value lives: key `key` of Secret `secretName` in `namespace`. */
export interface SecretReference {
  namespace: string;
  secretName: string;
  key: string;
}

/** Resolves secret values; `undefined` when the Secret or key does not exist. */
export interface SecretResolver {
  resolve(ref: SecretReference): string | undefined | Promise<string | undefined>;
}

/** A resolver with no secrets at all, for workflows that use none. */
export const NO_SECRETS: SecretResolver = { resolve: () => undefined };

/** Time source. `now()` is milliseconds since the epoch and must never go backwards. */
export interface Clock {
  now(): number;
  /** Calls `callback(arg)` after `ms`; the argument spares the hot path a closure per timer. */
  setTimer<T>(callback: (arg: T) => void, ms: number, arg: T): unknown;
  clearTimer(handle: unknown): void;
}

/** The process time origin: fixed for the life of the process, so read once, not per call. */
const TIME_ORIGIN = performance.timeOrigin;

/** The real clock: monotonic `performance.now()` anchored at the process time origin. */
export const SYSTEM_CLOCK: Clock = {
  now: () => TIME_ORIGIN + performance.now(),
  setTimer: (callback, ms, arg) => setTimeout(callback, ms, arg),
  clearTimer: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** The part of the one {@link Logger} the engine calls. Messages never carry secrets. */
export type EngineLogger = Pick<Logger, 'warn' | 'debug'>;

/** What an observer is told when an execution starts. */
export interface ExecutionStartedEvent {
  workflow: CompiledWorkflow;
  input: unknown;
  startTime: string;
}

/** What an observer is told when a task reaches a final phase (secret values already redacted). */
export interface TaskFinishedEvent {
  workflow: CompiledWorkflow;
  task: TaskExecutionStatus;
}

/** What an observer is told when the execution is finished (the returned status, redacted). */
export interface ExecutionFinishedEvent {
  workflow: CompiledWorkflow;
  status: WorkflowExecutionStatus;
}

/**
 * Hooks for history recording, metrics and watch streams. Called synchronously on the execution
 * path, so implementations must only enqueue; errors they throw are logged and ignored.
 */
export interface ExecutionObserver {
  executionStarted?(event: ExecutionStartedEvent): void;
  taskFinished?(event: TaskFinishedEvent): void;
  executionFinished?(event: ExecutionFinishedEvent): void;
  /**
   * Every live event of the execution (DESIGN §9), sequence-numbered, secrets redacted, outputs
   * bounded. Events may share values with the execution: read them, never mutate them. The engine
   * builds no event unless some observer has this hook.
   */
  event?(event: ExecutionEvent): void;
}
