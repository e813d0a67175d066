/**
 * The workflow executor: runs a compiled workflow's DAG with the input and returns the execution
 * status (`WorkflowExecutionStatus`). Steps start the moment their last dependency finishes (not level by
 * level), bounded by `maxConcurrency`; one deadline bounds every attempt and every backoff sleep;
 * the first failure cancels what is in flight. Everything outside (HTTP, time, secrets, logging,
 * history) is reached through injected collaborators.
 */
import type {
  CacheSettings,
  CompiledStep,
  CompiledTask,
  CompiledWorkflow,
  MapSettings,
  WebSocketSettings,
} from '../definitions/compile.ts';
import { SyncflowError, type ErrorCode } from '../errors.ts';
import { SILENT_LOGGER } from '../logger.ts';
import { boundedOutput, type ExecutionEvent } from '../model/events.ts';
import { jsonTextDepth } from '../model/depth.ts';
import { LIMITS } from '../model/resources.ts';
import type { RetryClass, TaskExecutionStatus, TaskPhase, WorkflowExecutionStatus } from '../model/schema.ts';
import { schemaErrorsToFieldErrors } from '../schema/json-schema.ts';
import { resolveRef, resolveValue, type TemplateScope } from '../template/resolve.ts';
import {
  NO_SECRETS,
  SYSTEM_CLOCK,
  type Clock,
  type EngineLogger,
  type ExecutionObserver,
  type SecretResolver,
} from './collaborators.ts';
import { Cancellation, type CallerSignal } from './cancellation.ts';
import {
  DebugGate,
  type DebugDecision,
  type DebugOptions,
  type DebugRequest,
  type PausedExecution,
} from './debug.ts';
import type { TaskHttpClient, TaskRequest, TaskResponse } from './task-http.ts';
import { checkWorkflowInput } from './input.ts';
import { idempotencyKey } from './idempotency.ts';
import {
  mapItems,
  reportsElementStart,
  runMap,
  type ElementOutcome,
  type MapItemStatus,
  type MapOutcome,
} from './map.ts';
import { ResilientSender, type SendNotes } from './resilience.ts';
import { ResponseCache } from './response-cache.ts';
import { completion, WEBSOCKET_COMPLETED, type TaskWebSocketClient } from './ws-task.ts';
import { MIN_SECRET_LENGTH, SecretRedactor } from './redact.ts';
import { resolveRequest, type ResolvedRequest } from './request.ts';
import { backoffDelayMs, retryAfterMs } from './retry.ts';
import {
  childTraceparent,
  overlaps,
  recordedTask,
  shownRequest,
  traceContextFrom,
  type ExecutionSpan,
  type ExecutionTracer,
  type TraceContext,
} from './trace.ts';

/** Per-execution options. */
export interface ExecuteOptions {
  /** Resolves `{{secrets.*}}` values; every value resolved is redacted from the result. */
  secrets?: SecretResolver;
  /** Aborting it cancels the execution (phase Failed, reason Cancelled). */
  signal?: CallerSignal;
  /** The caller's W3C trace context, continued in upstream calls. */
  traceparent?: string;
  /** An observer for this execution only, in addition to the executor's. */
  observer?: ExecutionObserver;
  /** Makes this a debug run: it pauses before breakpoint tasks (core/engine/debug.ts). */
  debug?: DebugOptions;
}

/** Runs workflows synchronously. The server, the run gateway and the CLI all use this interface. */
export interface WorkflowExecutor {
  /**
   * Runs the workflow to completion and returns its final status (phase Succeeded or Failed).
   * Throws `SyncflowError('InvalidInput')` with `spec.input.*` causes, before anything runs, when
   * the input does not match the inputSchema. Once running it never rejects: a failure of the
   * engine itself ends the execution Failed with reason `InternalError`, so it is still recorded.
   */
  execute(
    workflow: CompiledWorkflow,
    input: unknown,
    options?: ExecuteOptions,
  ): Promise<WorkflowExecutionStatus>;
}

/** Collaborators of the DAG executor. */
export interface DagExecutorOptions {
  http: TaskHttpClient;
  clock?: Clock;
  logger?: EngineLogger;
  /** Told about every execution (history, metrics, watch). */
  observer?: ExecutionObserver;
  /** Source of jitter in [0, 1); injectable for reproducible tests. */
  random?: () => number;
  /** Records execution and attempt spans; absent when tracing is off (then it costs nothing). */
  tracer?: ExecutionTracer;
  /** Makes unique execution ids for idempotency keys (default: a random UUID). */
  newId?: () => string;
  /** Opens the connections of WebSocket tasks; without it they fail with ConnectError. */
  websocket?: TaskWebSocketClient;
}

/** The workflow's graph as index arrays, computed once per compiled workflow. */
interface PreparedGraph {
  steps: CompiledStep[];
  index: Map<string, number>;
  dependents: number[][];
  dependencyCount: number[];
  dataDependencies: number[][];
}

/** How one task ended. */
interface TaskOutcome {
  /** The step's index in the graph. */
  index: number;
  phase: 'Succeeded' | 'Failed' | 'Cancelled';
  output?: unknown;
  error?: { reason: string; message: string };
  httpStatus?: number;
  attempts: number;
  attemptLog: NonNullable<TaskExecutionStatus['attemptLog']>;
  /** The output is a debugger's substitute: nothing was sent. */
  substituted?: boolean;
  /** Map steps: element count, failures and the per-element entries. */
  map?: MapOutcome['record'];
  /** A hedge was sent for some attempt. */
  hedged?: boolean;
  /** The output came from the response cache: nothing was sent. */
  cached?: boolean;
  /** The input after templates, once resolved (recorded when the task ends). */
  input?: unknown;
  /** The request, once resolved (recorded when the task ends). */
  request?: ResolvedRequest;
}

/** How one attempt ended. */
interface AttemptOutcome {
  ok: boolean;
  output?: unknown;
  status?: number;
  error?: { reason: ErrorCode; message: string };
  retryClass?: RetryClass;
  retryAfterMs?: number;
  /** The execution was aborted while the attempt ran. */
  aborted?: boolean;
  /** A hedge was sent for this attempt. */
  hedged?: boolean;
}

/** An event before the executor stamps its sequence number and time. */
type UnstampedEvent = ExecutionEvent extends infer E
  ? E extends ExecutionEvent
    ? Omit<E, 'seq' | 'time'>
    : never
  : never;

/** Why a step was skipped: the index of the data dependency that did not succeed, or its `when`. */
const SKIPPED_BY_WHEN = -1;

const prepared = new WeakMap<CompiledWorkflow, PreparedGraph>();

function prepare(workflow: CompiledWorkflow): PreparedGraph {
  let graph = prepared.get(workflow);
  if (graph) return graph;
  const steps = [...workflow.steps.values()];
  const index = new Map(steps.map((s, i) => [s.id, i]));
  const at = (id: string) => index.get(id) as number;
  graph = {
    steps,
    index,
    dependents: steps.map((s) => (workflow.graph.dependents.get(s.id) ?? []).map(at)),
    dependencyCount: steps.map((s) => (workflow.graph.dependencies.get(s.id) ?? []).length),
    dataDependencies: steps.map((s) => s.dataDependencies.map(at)),
  };
  prepared.set(workflow, graph);
  return graph;
}

/** `WorkflowExecutor` that schedules the DAG event by event over an injected HTTP client. */
export class DagExecutor implements WorkflowExecutor {
  readonly http: TaskHttpClient;
  readonly clock: Clock;
  readonly logger: EngineLogger;
  readonly observer: ExecutionObserver | undefined;
  readonly random: () => number;
  readonly tracer: ExecutionTracer | undefined;
  readonly newId: () => string;
  readonly websocket: TaskWebSocketClient | undefined;
  /** Circuit breakers and hedging, shared by every execution of this executor. */
  readonly resilience: ResilientSender;
  /** Cached responses of tasks that declare `cache`, shared by every execution of this executor. */
  readonly responses: ResponseCache;

  constructor(options: DagExecutorOptions) {
    this.http = options.http;
    this.clock = options.clock ?? SYSTEM_CLOCK;
    this.logger = options.logger ?? SILENT_LOGGER;
    this.observer = options.observer;
    this.random = options.random ?? Math.random;
    this.tracer = options.tracer;
    this.newId = options.newId ?? randomId;
    this.websocket = options.websocket;
    this.resilience = new ResilientSender(this.clock);
    this.responses = new ResponseCache(this.clock);
  }

  async execute(
    workflow: CompiledWorkflow,
    input: unknown,
    options: ExecuteOptions = {},
  ): Promise<WorkflowExecutionStatus> {
    const checked = checkWorkflowInput(workflow, input);
    return new Execution(this, workflow, prepare(workflow), checked, options).run();
  }
}

/** One run of a workflow: the scheduler state and the records it produces. */
class Execution implements PausedExecution {
  private readonly n: number;
  private readonly phases: TaskPhase[];
  private readonly outputs: unknown[];
  private readonly records: TaskExecutionStatus[];
  private readonly pending: number[];
  private readonly readyAt: number[];
  private readonly startedAt: number[];
  private readonly endedAt: number[];
  private readonly queue: number[] = [];
  private queueHead = 0;
  private inflight = 0;
  private finished = 0;
  private failure: { reason: string; message: string } | undefined;
  /** Aborted on failure, deadline or caller cancellation; in-flight attempts hold their own. */
  private readonly cancellation = new Cancellation();
  /** In start order; a short list (at most maxConcurrency), cheaper than a Set that grows and shrinks. */
  private readonly attemptsInFlight: Cancellation[] = [];
  private readonly secretValues: string[] = [];
  /** The redactor of `secretValues`, rebuilt only when a secret was added. */
  private redactorOf: { redactor: SecretRedactor; values: number } | undefined;
  private readonly trace: TraceContext;
  /** Present when a tracer sampled this execution. */
  private readonly span: ExecutionSpan | undefined;
  private readonly observers: ExecutionObserver[];
  /** Some observer takes live events: without one, no event is ever built. */
  private readonly live: boolean;
  /** Sequence number and time of the last live event. */
  private seq = 0;
  private lastEventTime = '';
  private readonly scope: TemplateScope;
  private readonly start: number;
  /** Moves later by the time debug pauses were open. */
  private deadlineAt: number;
  private deadlineTimer: unknown;
  readonly timeoutMs: number;
  /** Present in debug runs only. */
  private readonly debug: DebugGate | undefined;
  /** Debug pauses open or waiting their turn; while there are any, the deadline does not run. */
  private pausesOpen = 0;
  private pausedSince = 0;
  /** Resolves `run`'s wait once every step finished (or the engine broke down). */
  private done: (() => void) | undefined = undefined;
  /** Identifies the execution in idempotency keys; made when the first keyed task runs. */
  private executionKey: string | undefined;
  /** Set when the engine itself failed: the execution ends at once as InternalError. */
  private broken: { message: string } | undefined;
  private readonly taskDone = this.onTaskDone.bind(this);
  private readonly taskBroke = this.onTaskBroke.bind(this);

  constructor(
    private readonly executor: DagExecutor,
    private readonly workflow: CompiledWorkflow,
    private readonly graph: PreparedGraph,
    private readonly input: unknown,
    private readonly options: ExecuteOptions,
  ) {
    const n = graph.steps.length;
    this.n = n;
    this.phases = new Array<TaskPhase>(n).fill('Pending');
    this.outputs = new Array<unknown>(n);
    this.records = new Array<TaskExecutionStatus>(n);
    this.pending = [...graph.dependencyCount];
    this.readyAt = new Array<number>(n).fill(0);
    this.startedAt = new Array<number>(n).fill(-1);
    this.endedAt = new Array<number>(n).fill(0);
    this.trace = traceContextFrom(options.traceparent);
    if (executor.tracer) {
      this.span = executor.tracer.startExecution({
        namespace: workflow.namespace,
        workflow: workflow.name,
        traceparent: options.traceparent,
        startTime: executor.clock.now(),
      });
      // Not sampled: upstreams are told so, and need not record a trace nobody keeps.
      if (!this.span) this.trace = { traceId: this.trace.traceId, flags: '00' };
    }
    this.observers = [executor.observer, options.observer].filter(
      (o): o is ExecutionObserver => o !== undefined,
    );
    this.live = this.observers.some((o) => o.event !== undefined);
    this.scope = new ExecutionScope(input, this);
    this.start = executor.clock.now();
    this.deadlineAt = this.start + workflow.timeoutMs;
    this.timeoutMs = workflow.timeoutMs;
    this.debug = options.debug ? new DebugGate(options.debug, executor.clock) : undefined;
  }

  async run(): Promise<WorkflowExecutionStatus> {
    const { clock } = this.executor;
    const startTime = iso(this.start);
    this.notify('executionStarted', { workflow: this.workflow, input: this.input, startTime });
    if (this.live) this.emit(this.startedEvent());
    this.deadlineTimer = clock.setTimer(deadlinePassed, this.workflow.timeoutMs, this);
    const signal = this.options.signal;
    try {
      if (signal) {
        if (signal.aborted) callerCancelled(this);
        else signal.addEventListener('abort', this, { once: true });
      }
      for (let i = 0; i < this.n; i++)
        if (this.pending[i] === 0 && this.phases[i] === 'Pending') this.ready(i);
      this.pump();
      if (this.finished < this.n && !this.broken) await new Promise<void>((resolve) => (this.done = resolve));
    } catch (error) {
      this.breakDown(error);
    }
    clock.clearTimer(this.deadlineTimer);
    signal?.removeEventListener('abort', this);
    if (!this.broken) {
      try {
        return this.traced(this.status(startTime));
      } catch (error) {
        this.breakDown(error);
      }
    }
    return this.traced(this.internalStatus(startTime));
  }

  /** Ends the execution's span, if it has one, with the final phase. */
  private traced(status: WorkflowExecutionStatus): WorkflowExecutionStatus {
    if (this.span) {
      const end: { phase: string; reason?: string; endTime: number } = {
        phase: status.phase,
        endTime: this.executor.clock.now(),
      };
      if (status.reason) end.reason = status.reason;
      this.span.end(end);
    }
    return status;
  }

  /** EventListener protocol: the caller's signal aborted (an object listener needs no closure). */
  handleEvent(): void {
    callerCancelled(this);
  }

  /** Stops the execution: records why (first reason wins) and aborts everything in flight. */
  abort(reason: ErrorCode, message: string): void {
    if (this.cancellation.aborted) return;
    this.failure ??= { reason, message };
    const error = new SyncflowError(reason, message);
    this.cancellation.abort(error);
    for (const attempt of this.attemptsInFlight.slice()) attempt.abort(error);
    this.pump();
  }

  /**
   * The engine itself failed (a bug, a collaborator breaking its contract): stop everything and
   * end the execution now as InternalError. The state may be inconsistent, so nothing else runs.
   */
  breakDown(error: unknown): void {
    if (this.broken) return;
    const message = this.describe(error);
    this.broken = { message };
    this.executor.logger.warn(
      { workflow: `${this.workflow.namespace}/${this.workflow.name}`, error: message },
      'execution failed internally',
    );
    const stop = new SyncflowError('InternalError', 'execution stopped by an internal error');
    try {
      this.cancellation.abort(stop);
      for (const attempt of this.attemptsInFlight.slice()) attempt.abort(stop);
    } finally {
      this.done?.();
    }
  }

  /** Dependencies done: decide whether the step is cancelled, skipped, failed or queued. */
  private ready(i: number): void {
    this.readyAt[i] = this.executor.clock.now();
    const step = this.graph.steps[i] as CompiledStep;
    if (this.cancellation.aborted) {
      this.finish(i, { phase: 'Cancelled', error: this.abortError(), attempts: 0, attemptLog: [] });
      return;
    }
    for (const d of this.graph.dataDependencies[i] as number[]) {
      if (this.phases[d] !== 'Succeeded') {
        this.finish(i, { phase: 'Skipped' }, d);
        return;
      }
    }
    if (step.when) {
      const tasks: Record<string, { output: unknown }> = {};
      for (const id of step.when.taskRefs) tasks[id] = { output: this.outputOf(id) };
      let run: boolean;
      try {
        run = step.when.evaluate({ input: this.input, tasks });
      } catch (error) {
        // CEL raises "No such key" for absent fields: a condition about data that is not there is false.
        if (error instanceof Error && error.message.startsWith('No such key')) {
          run = false;
        } else {
          this.finish(i, {
            phase: 'Failed',
            // The run-time cost budget refuses before evaluating (WhenTooCostly); anything else is InvalidWhen.
            error: {
              reason: error instanceof SyncflowError ? error.code : 'InvalidWhen',
              message: `when \`${step.when.source}\` failed: ${this.describe(error)}`,
            },
            attempts: 0,
            attemptLog: [],
          });
          return;
        }
      }
      if (!run) {
        this.finish(i, { phase: 'Skipped' }, SKIPPED_BY_WHEN);
        return;
      }
    }
    this.queue.push(i);
  }

  /** Starts queued steps while there is room; after an abort, cancels everything queued. */
  private pump(): void {
    if (this.broken) return;
    const aborted = this.cancellation.aborted;
    while (this.queueHead < this.queue.length && (aborted || this.inflight < this.workflow.maxConcurrency)) {
      const i = this.queue[this.queueHead++] as number;
      if (aborted) {
        this.finish(i, { phase: 'Cancelled', error: this.abortError(), attempts: 0, attemptLog: [] });
        continue;
      }
      this.inflight++;
      this.phases[i] = 'Running';
      this.startedAt[i] = this.executor.clock.now();
      const step = this.graph.steps[i] as CompiledStep;
      (step.map ? this.runMapStep(i) : this.runTask(i)).then(this.taskDone, this.taskBroke);
    }
    if (this.queueHead > 1024 && this.queueHead === this.queue.length) {
      this.queue.length = 0;
      this.queueHead = 0;
    }
  }

  /** A step's run ended (its promise settled; methods bound once per execution, not closures per step). */
  private onTaskDone(outcome: TaskOutcome): void {
    try {
      if (this.broken) return;
      this.inflight--;
      this.finish(outcome.index, outcome);
    } catch (error) {
      this.breakDown(error);
    }
  }

  private onTaskBroke(error: unknown): void {
    this.breakDown(error);
  }

  /** Records a final phase, releases dependents and, on a failing step, stops the execution. */
  private finish(
    i: number,
    outcome: Partial<Omit<TaskOutcome, 'phase'>> & { phase: TaskPhase },
    skippedBy?: number,
  ): void {
    if (this.broken) return;
    const step = this.graph.steps[i] as CompiledStep;
    const now = this.executor.clock.now();
    this.phases[i] = outcome.phase;
    this.endedAt[i] = now;
    if (outcome.phase === 'Succeeded') this.outputs[i] = outcome.output;
    const record: TaskExecutionStatus = { id: step.id, taskRef: step.taskRef, phase: outcome.phase };
    const started = this.startedAt[i] as number;
    if (started >= 0) {
      record.startTime = iso(started);
      record.completionTime = iso(now);
      record.durationMs = ms(now - started);
      record.waitMs = ms(started - (this.readyAt[i] as number));
    }
    if (outcome.attempts) record.attempts = outcome.attempts;
    if (outcome.httpStatus !== undefined) record.httpStatus = outcome.httpStatus;
    if (outcome.phase === 'Succeeded') record.output = outcome.output;
    if (outcome.substituted) record.substituted = true;
    if (outcome.error) record.error = outcome.error;
    if (outcome.attemptLog?.length) record.attemptLog = outcome.attemptLog;
    if (outcome.map) Object.assign(record, outcome.map);
    if (outcome.hedged) record.hedged = true;
    if (outcome.cached) record.cached = true;
    if (outcome.input !== undefined) {
      const recorded = recordedTask(outcome.input, step.task.method, outcome.request, this.redactor());
      record.input = recorded.input;
      if (recorded.request) record.request = recorded.request;
    }
    this.records[i] = record;
    this.finished++;
    if (this.live) this.emit(this.finishedEvent(record, skippedBy));
    // An internal error is the engine's, not the upstream's: `onError: continue` does not cover it.
    if (
      outcome.phase === 'Failed' &&
      outcome.error &&
      (step.onError === 'fail' || outcome.error.reason === 'InternalError')
    ) {
      const reason = outcome.error.reason;
      this.abort(
        reason === 'DeadlineExceeded' || reason === 'InvalidOutput' || reason === 'InternalError'
          ? reason
          : 'TaskFailed',
        `task ${step.id} failed: ${outcome.error.message}`,
      );
    }
    if (this.observers.length) {
      this.notify('taskFinished', { workflow: this.workflow, task: this.redactor().value(record) });
    }
    for (const d of this.graph.dependents[i] as number[]) {
      const ready = --(this.pending[d] as number) === 0;
      if (this.live) this.emit({ type: 'Signal', from: step.id, to: this.idOf(d), ready });
      if (ready) this.ready(d);
    }
    this.pump();
    if (this.finished === this.n) this.done?.();
  }

  /** The output a template sees for a step: `null` once it ended without succeeding. */
  outputOf(id: string): unknown {
    const i = this.graph.index.get(id);
    if (i === undefined) return undefined;
    const phase = this.phases[i];
    if (phase === 'Succeeded') return this.outputs[i];
    return phase === 'Pending' || phase === 'Running' ? undefined : null;
  }

  private abortError(): { reason: string; message: string } {
    const reason = this.cancellation.reason as SyncflowError;
    return { reason: 'Cancelled', message: `not run: ${reason.message}` };
  }

  /** Runs a map step: its task once per element of the array (core/engine/map.ts). Never rejects. */
  private async runMapStep(i: number): Promise<TaskOutcome> {
    const step = this.graph.steps[i] as CompiledStep;
    const map = step.map as MapSettings;
    const state: TaskOutcome = { index: i, phase: 'Failed', attempts: 0, attemptLog: [] };
    const items = mapItems(map, resolveRef(map.items, this.scope));
    if (items instanceof SyncflowError) return failedWith(state, items.code, items.message);
    const result = await runMap(
      items,
      map,
      this.cancellation,
      this.executor.clock,
      (item, index, group) => this.runTask(i, { item, index, count: items.length, group }),
      this.live ? (entry, outcome) => this.emit(elementFinishedEvent(step.id, entry, outcome)) : undefined,
    );
    state.attempts = result.attempts;
    state.map = result.record;
    if (result.phase === 'Succeeded') {
      state.phase = 'Succeeded';
      state.output = result.output;
      return state;
    }
    if (result.phase === 'Cancelled') return abortedWith(state, this.cancellation.reason);
    const error = result.error as { reason: string; message: string };
    return failedWith(state, error.reason, this.describe(error.message));
  }

  /**
   * Runs one step, or one element of a map step: input, secrets, request, then attempts with
   * retries. Never rejects.
   */
  private async runTask(i: number, element?: MapElement): Promise<TaskOutcome> {
    const step = this.graph.steps[i] as CompiledStep;
    const task = step.task;
    const cancellation = element ? element.group : this.cancellation;
    const state: TaskOutcome = { index: i, phase: 'Failed', attempts: 0, attemptLog: [] };
    try {
      const input = resolveValue(step.input, element ? new ElementScope(this.scope, element) : this.scope);
      state.input = input;
      if (task.inputSchema && !task.inputSchema.validate(input)) {
        const causes = schemaErrorsToFieldErrors(
          task.inputSchema.validate.errors,
          `tasks.${step.id}.input`,
          'InvalidInput',
        );
        return failedWith(
          state,
          'InvalidInput',
          `input of task ${task.name} does not match its inputSchema: ${causes.map((c) => `${c.field} ${c.message}`).join('; ')}`,
        );
      }
      const secrets = task.secrets.length ? await this.resolveSecrets(task) : undefined;
      if (secrets instanceof SyncflowError) return failedWith(state, secrets.code, secrets.message);
      const request = resolveRequest(task, new TaskScope(input, secrets));
      const keyHeader = task.resilience?.idempotencyHeader;
      if (keyHeader) {
        this.executionKey ??= this.executor.newId();
        request.headers[keyHeader] = idempotencyKey(this.executionKey, step.id, element?.index);
      }
      state.request = request;
      const carriers = secrets ? secretCarriers(request, secrets) : NO_CARRIERS;
      if (this.debug?.stopsAt(step.id)) {
        // Only `continue` and a checked `skip` come back: the gate has stopped the run otherwise.
        const decision = await this.debugDecision(i, step, request);
        if (decision.action === 'skip') {
          state.phase = 'Succeeded';
          state.output = decision.output === undefined ? null : decision.output;
          state.substituted = true;
          return state;
        }
      }
      const cache = task.resilience?.cache;
      const cacheKey = cache
        ? ResponseCache.keyOf(task.method, request, task.resilience?.idempotencyHeader)
        : undefined;
      if (cacheKey !== undefined) {
        const hit = this.executor.responses.get(task, cacheKey);
        if (hit === undefined) this.executor.resilience.counts.cacheMisses++;
        else {
          this.executor.resilience.counts.cacheHits++;
          state.phase = 'Succeeded';
          state.output = JSON.parse(hit);
          state.cached = true;
          return state;
        }
      }
      for (;;) {
        const attempt = ++state.attempts;
        if (this.live && (!element || reportsElementStart(element.index))) {
          const started: UnstampedEvent = {
            type: 'TaskStarted',
            task: step.id,
            attempt,
            request: `${task.method} ${request.url}`,
          };
          if (element) {
            started.item = element.index;
            started.itemCount = element.count;
          }
          this.emit(started);
        }
        const outcome = await this.attempt(step, request, carriers, state.attemptLog, attempt, cancellation);
        if (outcome.status !== undefined) state.httpStatus = outcome.status;
        if (outcome.hedged) state.hedged = true;
        if (outcome.ok) {
          state.phase = 'Succeeded';
          state.output = outcome.output;
          if (cacheKey !== undefined)
            this.executor.responses.set(
              task,
              cacheKey,
              JSON.stringify(outcome.output ?? null),
              cache as CacheSettings,
            );
          return state;
        }
        if (outcome.aborted || cancellation.aborted) return abortedWith(state, cancellation.reason);
        const error = outcome.error as { reason: ErrorCode; message: string };
        const policy = task.retry;
        const retryable =
          outcome.retryClass !== undefined && policy.retryOn.has(outcome.retryClass) && request.retryable;
        if (!retryable || attempt >= policy.maxAttempts)
          return failedWith(state, error.reason, error.message);
        const delay = outcome.retryAfterMs ?? backoffDelayMs(policy, attempt, this.executor.random);
        const lastDuration = (state.attemptLog[state.attemptLog.length - 1] as { durationMs: number })
          .durationMs;
        // A retry that cannot finish before the deadline is not started: fail now with the real cause.
        if (this.executor.clock.now() + delay + lastDuration > this.deadlineAt) {
          return failedWith(
            state,
            error.reason,
            `${error.message}; retry not started: it could not finish before the workflow deadline`,
          );
        }
        if (this.live && (!element || reportsElementStart(element.index))) {
          this.emit({
            type: 'TaskRetrying',
            task: step.id,
            attempt,
            reason: `${error.reason}: ${error.message}`,
            delayMs: delay,
            ...(element ? { item: element.index } : {}),
          });
        }
        if (delay > 0) await this.sleep(delay, cancellation);
      }
    } catch (error) {
      if (cancellation.aborted) return abortedWith(state, cancellation.reason);
      if (error instanceof SyncflowError) return failedWith(state, error.code, this.describe(error));
      // Whatever reaches here is not an upstream's doing (those are classified per attempt).
      return failedWith(state, 'InternalError', `internal error: ${this.describe(error)}`);
    }
  }

  /**
   * Presents a debug pause and waits for the decision; the deadline does not run meanwhile. The
   * task's start is when the pause was decided: its wait shows the time paused.
   */
  private async debugDecision(
    i: number,
    step: CompiledStep,
    request: ResolvedRequest,
  ): Promise<DebugDecision> {
    const { clock } = this.executor;
    if (this.pausesOpen++ === 0) {
      clock.clearTimer(this.deadlineTimer);
      this.pausedSince = clock.now();
    }
    try {
      return await (this.debug as DebugGate).decide(
        step,
        this.pausedRequest(step.task, request),
        this.cancellation,
        this,
      );
    } finally {
      const now = clock.now();
      if (--this.pausesOpen === 0) {
        this.deadlineAt += now - this.pausedSince;
        if (!this.cancellation.aborted)
          this.deadlineTimer = clock.setTimer(deadlinePassed, this.deadlineAt - now, this);
      }
      this.startedAt[i] = now;
    }
  }

  /** The request as a debugger is shown it: a copy, the body parsed, secrets redacted. */
  private pausedRequest(task: CompiledTask, request: ResolvedRequest): DebugRequest {
    return shownRequest(task.method, request, this.redactor());
  }

  /** PausedExecution: the debugger aborted, or failed (its error, redacted, is the message). */
  debugAbort(task: string, failure?: unknown): void {
    try {
      this.abort(
        'DebugAborted',
        failure === undefined
          ? `aborted by the debugger at task ${task}`
          : `the debugger failed at task ${task}: ${this.describe(failure)}`,
      );
    } catch (error) {
      this.breakDown(error);
    }
  }

  /** PausedExecution: a pause got no decision in time (called from a timer). */
  debugIdle(task: string, idleTimeoutMs: number): void {
    try {
      this.abort(
        'DebugTimeout',
        `debug run stopped: no decision for task ${task} within ${idleTimeoutMs} ms (answer continue, skip or abort sooner, or raise the debug idle timeout)`,
      );
    } catch (error) {
      this.breakDown(error);
    }
  }

  /** One HTTP attempt bounded by the task timeout and the workflow deadline. */
  private async attempt(
    step: CompiledStep,
    request: ResolvedRequest,
    carriers: SecretCarriers,
    log: TaskOutcome['attemptLog'],
    attempt: number,
    parent: Cancellation,
  ): Promise<AttemptOutcome> {
    const { clock, http } = this.executor;
    const task = step.task;
    const started = clock.now();
    const remaining = this.deadlineAt - started;
    const limitMs = Math.max(0, Math.min(task.timeoutMs, remaining));
    const cancellation = new Cancellation();
    this.attemptsInFlight.push(cancellation);
    // A map element's attempt also stops when its map step stops (fail fast).
    const unlink = parent === this.cancellation ? undefined : linked(parent, cancellation);
    const timer = clock.setTimer(expire, limitMs, cancellation);
    let outcome: AttemptOutcome | undefined;
    let response: TaskResponse | undefined;
    let notes: SendNotes | undefined;
    const span = this.span?.startAttempt({
      task: step.id,
      taskRef: step.taskRef,
      method: task.method,
      urlTemplate: task.spec.http.url,
      attempt,
      startTime: started,
    });
    try {
      // A copy per attempt (each carries its own span id), assigned rather than spread: a spread
      // literal with one more key takes V8's slow path (microseconds per call).
      const headers: Record<string, string> = Object.assign({}, request.headers);
      headers.traceparent = span ? span.traceparent : childTraceparent(this.trace);
      const sent: TaskRequest = {
        method: task.method,
        url: request.url,
        headers,
        body: request.body,
        signal: cancellation,
        maxResponseBytes: task.maxResponseBytes,
        secretHeaders: carriers.headers,
        secretBody: carriers.body,
      };
      response = await (task.websocket
        ? this.exchange(task, sent)
        : task.resilience
          ? this.executor.resilience.send(http, task, sent, parent, (notes = {}))
          : http.send(sent));
    } catch (error) {
      if (parent.aborted) {
        outcome = { ok: false, aborted: true };
      } else if (cancellation.aborted) {
        const byDeadline = limitMs < task.timeoutMs;
        outcome = {
          ok: false,
          error: byDeadline
            ? {
                reason: 'DeadlineExceeded',
                message: `attempt ${attempt} cut off by the workflow deadline after ${limitMs} ms`,
              }
            : { reason: 'Timeout', message: `attempt ${attempt} timed out after ${limitMs} ms` },
          retryClass: 'timeout',
        };
      } else if (error instanceof SyncflowError) {
        outcome = { ok: false, error: { reason: error.code, message: this.describe(error) } };
        if (error.code === 'ConnectError') outcome.retryClass = 'connect-error';
        else if (error.code === 'CircuitOpen') outcome.retryClass = 'circuit-open';
      } else {
        outcome = {
          ok: false,
          error: { reason: 'ConnectError', message: this.describe(error) },
          retryClass: 'connect-error',
        };
      }
    }
    clock.clearTimer(timer);
    removeFrom(this.attemptsInFlight, cancellation);
    unlink?.();
    // Outside the transport's try: a failure here is the engine's (InternalError), not a connect error.
    outcome ??= this.interpret(step, response as TaskResponse);
    if (notes?.hedged) outcome.hedged = true;
    const entry: TaskOutcome['attemptLog'][number] = {
      attempt,
      startTime: iso(started),
      durationMs: ms(clock.now() - started),
    };
    if (outcome.status !== undefined) entry.httpStatus = outcome.status;
    if (outcome.error) {
      entry.reason = outcome.error.reason;
      entry.error = `${outcome.error.reason}: ${outcome.error.message}`;
    } else if (outcome.aborted) {
      entry.reason = 'Cancelled';
      entry.error = `Cancelled: ${(parent.reason as Error).message}`;
    }
    log.push(entry);
    if (span) {
      const end: { httpStatus?: number; reason?: string; endTime: number } = {
        endTime: started + entry.durationMs,
      };
      if (outcome.status !== undefined) end.httpStatus = outcome.status;
      if (entry.reason) end.reason = entry.reason;
      span.end(end);
    }
    return outcome;
  }

  /** One WebSocket exchange of a task (core/engine/ws-task.ts). */
  private exchange(task: CompiledTask, request: TaskRequest): Promise<TaskResponse> {
    const client = this.executor.websocket;
    if (!client) {
      return Promise.reject(
        new SyncflowError(
          'ConnectError',
          `task ${task.name} is a WebSocket task, but this executor has no WebSocket client`,
        ),
      );
    }
    return client.exchange(request, completion(task.websocket as WebSocketSettings));
  }

  /** Classifies a response: HTTP errors with their retry class, or the parsed and checked output. */
  private interpret(step: CompiledStep, response: TaskResponse): AttemptOutcome {
    const { status, headers, body } = response;
    if ((status < 200 || status > 299) && status !== WEBSOCKET_COMPLETED) {
      const snippet = body.length ? `: ${this.bodySnippet(body)}` : '';
      const outcome: AttemptOutcome = {
        ok: false,
        status,
        error: { reason: 'HTTPError', message: `upstream answered HTTP ${status}${snippet}` },
      };
      if (status >= 500) outcome.retryClass = '5xx';
      else if (status === 429) outcome.retryClass = '429';
      if (outcome.retryClass) {
        const after = retryAfterMs(headers['retry-after'], Date.now());
        if (after !== undefined) outcome.retryAfterMs = after;
      }
      return outcome;
    }
    let output: unknown = null;
    if (body.length) {
      const text = body.toString('utf8');
      // Upstream JSON gets the depth limit of request bodies: every later walk over it is bounded.
      // JSON nested deeper than the limit opens and closes at least limit + 1 levels: shorter text
      // is within the limit or not JSON at all (which JSON.parse refuses below).
      if (
        text.length >= SHORTEST_TOO_DEEP_JSON &&
        jsonTextDepth(text, LIMITS.maxJsonDepth) > LIMITS.maxJsonDepth
      ) {
        return {
          ok: false,
          status,
          error: {
            reason: 'InvalidResponse',
            message: `response nests more than ${LIMITS.maxJsonDepth} levels deep, the limit for JSON`,
          },
        };
      }
      try {
        output = JSON.parse(text);
      } catch (error) {
        if (status !== WEBSOCKET_COMPLETED) {
          const type = headers['content-type'];
          return {
            ok: false,
            status,
            error: {
              reason: 'InvalidResponse',
              message: this.describe(
                `response is not JSON (content-type ${typeof type === 'string' ? type : 'not set'}): ${parseProblem(error)}`,
              ),
            },
          };
        }
        // A WebSocket message that is not JSON is its text.
        output = text;
      }
    }
    const schema = step.task.outputSchema;
    if (schema && !schema.validate(output)) {
      const causes = schemaErrorsToFieldErrors(
        schema.validate.errors,
        `tasks.${step.id}.output`,
        'InvalidOutput',
      );
      return {
        ok: false,
        status,
        error: {
          reason: 'InvalidOutput',
          message: `response does not match the outputSchema of ${step.task.name}: ${causes
            .map((c) => `${c.field} ${c.message}`)
            .join('; ')}`,
        },
      };
    }
    return { ok: true, status, output };
  }

  /** Resolves the task's secrets, remembering every value for redaction. */
  private async resolveSecrets(task: CompiledTask): Promise<Map<string, string> | SyncflowError> {
    const resolver = this.options.secrets ?? NO_SECRETS;
    const values = new Map<string, string>();
    for (const binding of task.secrets) {
      const ref = { namespace: task.namespace, secretName: binding.secretName, key: binding.key };
      let value: string | undefined;
      try {
        value = await untilCancelled(Promise.resolve(resolver.resolve(ref)), this.cancellation);
      } catch (error) {
        if (this.cancellation.aborted) throw error;
        return new SyncflowError(
          'TaskFailed',
          `secret ${task.namespace}/${binding.secretName} could not be read: ${this.describe(error)}`,
        );
      }
      if (value === undefined) {
        return new SyncflowError(
          'SecretNotFound',
          `secret ${task.namespace}/${binding.secretName} has no key ${binding.key} (needed as secrets.${binding.name})`,
        );
      }
      if (value.length < MIN_SECRET_LENGTH) {
        // Redaction replaces every occurrence of a secret; a very short value would match inside
        // unrelated data (an email, an id) and corrupt outputs. Refuse it rather than leak it.
        return new SyncflowError(
          'SecretTooShort',
          `secret ${task.namespace}/${binding.secretName} key ${binding.key} is ${value.length} characters; values shorter than ${MIN_SECRET_LENGTH} cannot be redacted safely (needed as secrets.${binding.name})`,
        );
      }
      values.set(binding.name, value);
      // The execution's redactor is rebuilt when a new value arrives, not when a known one recurs.
      if (!this.secretValues.includes(value)) this.secretValues.push(value);
    }
    return values;
  }

  /** Waits before a retry; rejects as soon as the execution (or the map step) is cancelled. */
  private sleep(delayMs: number, cancellation: Cancellation): Promise<void> {
    const { clock } = this.executor;
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        clock.clearTimer(timer);
        reject(cancellation.reason as Error);
      };
      const timer = clock.setTimer(
        () => {
          cancellation.removeListener('abort', onAbort);
          resolve();
        },
        delayMs,
        undefined,
      );
      cancellation.once('abort', onAbort);
    });
  }

  /** An error as one line of text for records and logs: secrets redacted first, then bounded. */
  private describe(error: unknown): string {
    const text = this.redactor().text(error instanceof Error ? error.message : String(error));
    return this.redactor().shortened(firstLine(text), MAX_MESSAGE_CHARS);
  }

  /** The start of an upstream error body, redacted before it is cut and with whitespace collapsed. */
  private bodySnippet(body: Buffer): string {
    const redactor = this.redactor();
    // Enough bytes for SNIPPET_CHARS characters plus any secret spelling that straddles the cut.
    const window = body.subarray(0, (SNIPPET_CHARS + redactor.longest) * 4 + 4);
    const cutShort = window.length < body.length;
    const collapsed = redactor.text(window.toString('utf8')).replace(/\s+/g, ' ').trim();
    return redactor.shortened(collapsed, SNIPPET_CHARS, cutShort);
  }

  private redactor(): SecretRedactor {
    // Most executions use no secret: they share one empty redactor instead of building their own.
    if (this.secretValues.length === 0) return NO_REDACTION;
    if (this.redactorOf?.values !== this.secretValues.length) {
      this.redactorOf = { redactor: new SecretRedactor(this.secretValues), values: this.secretValues.length };
    }
    return this.redactorOf.redactor;
  }

  private notify<K extends keyof ExecutionObserver>(
    hook: K,
    event: Parameters<NonNullable<ExecutionObserver[K]>>[0],
  ): void {
    for (const observer of this.observers) {
      try {
        (observer[hook] as ((e: typeof event) => void) | undefined)?.call(observer, event);
      } catch (error) {
        this.executor.logger.warn(
          { workflow: `${this.workflow.namespace}/${this.workflow.name}`, hook, error: this.describe(error) },
          'execution observer failed',
        );
      }
    }
  }

  /** The final status: phase, reason, output mapping, task records with overlaps, secrets redacted. */
  private status(startTime: string): WorkflowExecutionStatus {
    const end = this.executor.clock.now();
    const intervals = [];
    for (let i = 0; i < this.n; i++) {
      const started = this.startedAt[i] as number;
      if (started >= 0)
        intervals.push({
          id: (this.graph.steps[i] as CompiledStep).id,
          start: started,
          end: this.endedAt[i] as number,
        });
    }
    if (intervals.length > 1) {
      const overlapping = overlaps(intervals);
      for (const record of this.records) {
        const ids = overlapping.get(record.id);
        if (ids) record.overlappedWith = ids;
      }
    }
    const status: WorkflowExecutionStatus = { phase: this.failure ? 'Failed' : 'Succeeded' };
    if (this.failure) {
      status.reason = this.failure.reason;
      status.message = this.failure.message;
    } else if (this.workflow.output) {
      // Built from the redacted outputs the records show: a secret stringified into a longer string
      // here would be escaped once more, into a spelling redaction no longer recognises.
      const redactor = this.redactor();
      const scope = redactor.empty ? this.scope : new RedactedOutputScope(this.input, this, redactor);
      status.output = resolveValue(this.workflow.output, scope);
    }
    status.workflowRevision = this.workflow.revision;
    status.startTime = startTime;
    status.completionTime = iso(end);
    status.durationMs = ms(end - this.start);
    status.tasks = this.records;
    const redacted = this.redactor().value(status);
    this.notify('executionFinished', { workflow: this.workflow, status: redacted });
    if (this.live) this.emit({ type: 'ExecutionFinished', status: boundedStatus(redacted) });
    return redacted;
  }

  /**
   * The status of an execution the engine failed: what is known of each task (no outputs: they may
   * be what broke it), every message redacted, never anything that could fail again.
   */
  private internalStatus(startTime: string): WorkflowExecutionStatus {
    const redactor = this.redactor();
    const tasks = this.graph.steps.map((step, i): TaskExecutionStatus => {
      const record = this.records[i];
      if (!record) {
        return {
          id: step.id,
          taskRef: step.taskRef,
          phase: 'Cancelled',
          error: { reason: 'Cancelled', message: 'not finished: the execution stopped on an internal error' },
        };
      }
      const kept: TaskExecutionStatus = { id: record.id, taskRef: record.taskRef, phase: record.phase };
      for (const key of [
        'startTime',
        'completionTime',
        'durationMs',
        'waitMs',
        'attempts',
        'httpStatus',
      ] as const) {
        if (record[key] !== undefined) (kept as Record<string, unknown>)[key] = record[key];
      }
      if (record.error)
        kept.error = { reason: record.error.reason, message: redactor.text(record.error.message) };
      return kept;
    });
    let end = this.start;
    try {
      end = this.executor.clock.now();
    } catch {
      // A clock that throws is what broke the execution: the start time will do.
    }
    const status: WorkflowExecutionStatus = {
      phase: 'Failed',
      reason: 'InternalError',
      message: `internal error: ${(this.broken as { message: string }).message}`,
      workflowRevision: this.workflow.revision,
      startTime,
      completionTime: iso(end),
      durationMs: ms(end - this.start),
      tasks,
    };
    this.notify('executionFinished', { workflow: this.workflow, status });
    if (this.live) this.emit({ type: 'ExecutionFinished', status });
    return status;
  }

  private idOf(i: number): string {
    return (this.graph.steps[i] as CompiledStep).id;
  }

  /** `ExecutionStarted` with the graph a viewer draws before anything runs. */
  private startedEvent(): UnstampedEvent {
    const { steps, dependents } = this.graph;
    const edges: { from: string; to: string }[] = [];
    for (let i = 0; i < this.n; i++)
      for (const d of dependents[i] as number[]) edges.push({ from: this.idOf(i), to: this.idOf(d) });
    return {
      type: 'ExecutionStarted',
      namespace: this.workflow.namespace,
      workflow: this.workflow.name,
      revision: this.workflow.revision,
      graph: { tasks: steps.map((s) => ({ id: s.id, taskRef: s.taskRef })), edges },
    };
  }

  /** `TaskSkipped` with its reason, or `TaskFinished` with the output bounded. */
  private finishedEvent(record: TaskExecutionStatus, skippedBy: number | undefined): UnstampedEvent {
    if (record.phase === 'Skipped') {
      const step = this.graph.steps[this.graph.index.get(record.id) as number] as CompiledStep;
      return {
        type: 'TaskSkipped',
        task: record.id,
        reason:
          skippedBy === undefined || skippedBy === SKIPPED_BY_WHEN
            ? `when \`${step.when?.source ?? ''}\` is false`
            : `uses the output of ${this.idOf(skippedBy)}, which did not succeed`,
      };
    }
    const event: UnstampedEvent = {
      type: 'TaskFinished',
      task: record.id,
      phase: record.phase as 'Succeeded' | 'Failed' | 'Cancelled',
    };
    if (record.httpStatus !== undefined) event.httpStatus = record.httpStatus;
    if (record.durationMs !== undefined) event.durationMs = record.durationMs;
    if (record.attempts !== undefined) event.attempts = record.attempts;
    if (record.phase === 'Succeeded') event.output = boundedOutput(record.output);
    if (record.substituted) event.substituted = true;
    if (record.error) event.error = record.error;
    if (record.itemCount !== undefined) event.itemCount = record.itemCount;
    if (record.failedItems !== undefined) event.failedItems = record.failedItems;
    return event;
  }

  /**
   * Stamps a live event (sequence number, time), redacts it and hands it to every observer that
   * takes events. Called only behind `this.live`; a failure here never touches the execution.
   */
  private emit(unstamped: UnstampedEvent): void {
    const stamped = unstamped as ExecutionEvent;
    stamped.seq = ++this.seq;
    try {
      this.lastEventTime = iso(this.executor.clock.now());
    } catch {
      // A clock that throws breaks the execution, whose end is still reported: keep the last time.
    }
    stamped.time = this.lastEventTime;
    let event: ExecutionEvent;
    try {
      event = this.redactor().value(stamped);
    } catch (error) {
      this.executor.logger.warn(
        { workflow: `${this.workflow.namespace}/${this.workflow.name}`, error: this.describe(error) },
        'execution event not built',
      );
      return;
    }
    for (const observer of this.observers) {
      if (!observer.event) continue;
      try {
        observer.event(event);
      } catch (error) {
        this.executor.logger.warn(
          {
            workflow: `${this.workflow.namespace}/${this.workflow.name}`,
            hook: 'event',
            error: this.describe(error),
          },
          'execution observer failed',
        );
      }
    }
  }
}

/** A final status as an event carries it: the output and every task's output bounded. */
function boundedStatus(status: WorkflowExecutionStatus): WorkflowExecutionStatus {
  const bounded = { ...status };
  if ('output' in status) bounded.output = boundedOutput(status.output);
  if (status.tasks) {
    bounded.tasks = status.tasks.map((t) =>
      t.output === undefined ? t : Object.assign({}, t, { output: boundedOutput(t.output) }),
    );
  }
  return bounded;
}

/** Which parts of a request carry a secret: they never follow a redirect to another origin. */
interface SecretCarriers {
  headers: ReadonlySet<string> | undefined;
  body: boolean;
}

const NO_CARRIERS: SecretCarriers = { headers: undefined, body: false };

/** Finds the headers (lower-case names) and body that carry one of the task's secrets, in any spelling. */
function secretCarriers(request: ResolvedRequest, secrets: Map<string, string>): SecretCarriers {
  const redactor = new SecretRedactor(secrets.values());
  const headers = new Set<string>();
  for (const name in request.headers) {
    const value = request.headers[name] as string;
    if (redactor.text(value) !== value) headers.add(name.toLowerCase());
  }
  const body = request.body !== undefined && redactor.text(request.body) !== request.body;
  return { headers, body };
}

/** Length of the shortest JSON text nested deeper than the limit (`[[…]]`, limit + 1 levels). */
const SHORTEST_TOO_DEEP_JSON = 2 * (LIMITS.maxJsonDepth + 1);

/** Characters of an upstream error body kept in the task's error message. */
const SNIPPET_CHARS = 200;
/** Longest error message kept from an exception. */
const MAX_MESSAGE_CHARS = 1_000;

/**
 * A JSON parse error without the excerpt of the text V8 quotes: the excerpt is cut wherever V8
 * likes, possibly inside a secret, where redaction can no longer recognise it.
 */
function parseProblem(error: unknown): string {
  const text = firstLine(error);
  return text.replace(
    /,\s*(?:\.\.\.)?".*"(?:\.\.\.)?\s+is not valid JSON$/s,
    ' (the text is not valid JSON)',
  );
}

const TIMED_OUT = new SyncflowError('Timeout', 'attempt timed out');
/** The redactor of an execution that has resolved no secret: redacts nothing, holds no state. */
const NO_REDACTION = new SecretRedactor([]);

let isoSecond = -1;
let isoPrefix = '';
let isoMillisecond = -1;
let isoText = '';

/**
 * ISO timestamp at millisecond resolution; the `YYYY-MM-DDTHH:MM:SS.` prefix is cached per second,
 * and the whole text per millisecond (an execution's events mostly share a few milliseconds).
 */
function iso(epochMs: number): string {
  const whole = Math.floor(epochMs);
  if (whole === isoMillisecond) return isoText;
  isoMillisecond = whole;
  const second = Math.floor(whole / 1000);
  if (second !== isoSecond) {
    isoSecond = second;
    isoPrefix = new Date(second * 1000).toISOString().slice(0, 20);
  }
  const millis = whole - second * 1000;
  isoText = `${isoPrefix}${millis < 10 ? '00' : millis < 100 ? '0' : ''}${millis}Z`;
  return isoText;
}

/** Removes `item` from `list` in place, keeping the order (no array is allocated). */
function removeFrom<T>(list: T[], item: T): void {
  const at = list.indexOf(item);
  if (at < 0) return;
  for (let i = at + 1; i < list.length; i++) list[i - 1] = list[i] as T;
  list.pop();
}

/** Durations with microsecond resolution: enough for a millisecond-scale engine, short to print. */
function ms(value: number): number {
  return Math.round(value * 1000) / 1000;
}

function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split('\n')[0] as string;
}

function untilCancelled<T>(promise: Promise<T>, cancellation: Cancellation): Promise<T> {
  if (cancellation.aborted) return Promise.reject(cancellation.reason as Error);
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(cancellation.reason as Error);
    cancellation.once('abort', onAbort);
    promise.then(
      (value) => {
        cancellation.removeListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        cancellation.removeListener('abort', onAbort);
        reject(error as Error);
      },
    );
  });
}

function failedWith(state: TaskOutcome, reason: string, message: string): TaskOutcome {
  state.phase = 'Failed';
  state.error = { reason, message };
  return state;
}

/** The deadline fails the steps it interrupts; any other abort cancels them. */
function abortedWith(state: TaskOutcome, reason: unknown): TaskOutcome {
  const error = reason as SyncflowError;
  if (error.code === 'DeadlineExceeded') return failedWith(state, 'DeadlineExceeded', error.message);
  failedWith(state, 'Cancelled', `cancelled: ${error.message}`);
  state.phase = 'Cancelled';
  return state;
}

function expire(cancellation: Cancellation): void {
  cancellation.abort(TIMED_OUT);
}

// Called from timers and event listeners: an exception there would end the process.
function callerCancelled(execution: Execution): void {
  try {
    execution.abort('Cancelled', 'execution cancelled by the caller');
  } catch (error) {
    execution.breakDown(error);
  }
}

function deadlinePassed(execution: Execution): void {
  try {
    execution.abort('DeadlineExceeded', `workflow deadline of ${execution.timeoutMs} ms exceeded`);
  } catch (error) {
    execution.breakDown(error);
  }
}

/** Template scope of step inputs and the output mapping: the input and finished steps' outputs. */
class ExecutionScope implements TemplateScope {
  constructor(
    readonly input: unknown,
    private readonly execution: Execution,
  ) {}

  taskOutput(id: string): unknown {
    return this.execution.outputOf(id);
  }

  secret(): undefined {
    return undefined;
  }
}

/** Template scope of the workflow's output mapping: finished steps' outputs with secrets redacted. */
class RedactedOutputScope implements TemplateScope {
  private readonly redacted = new Map<string, unknown>();

  constructor(
    readonly input: unknown,
    private readonly execution: Execution,
    private readonly redactor: SecretRedactor,
  ) {}

  taskOutput(id: string): unknown {
    if (!this.redacted.has(id)) this.redacted.set(id, this.redactor.value(this.execution.outputOf(id)));
    return this.redacted.get(id);
  }

  secret(): undefined {
    return undefined;
  }
}

/** A random UUID from the platform's Web Crypto (Node and browsers alike). */
function randomId(): string {
  return globalThis.crypto.randomUUID();
}

/** One element of a map step as its run sees it; `group` stops when the map step stops. */
interface MapElement {
  item: unknown;
  index: number;
  /** Elements of the step. */
  count: number;
  group: Cancellation;
}

/** `TaskFinished` of one map element: its index, phase, and the output bounded. */
function elementFinishedEvent(task: string, entry: MapItemStatus, outcome: ElementOutcome): UnstampedEvent {
  const event: UnstampedEvent = {
    type: 'TaskFinished',
    task,
    item: entry.index,
    phase: outcome.phase,
    durationMs: entry.durationMs,
  };
  if (entry.attempts !== undefined) event.attempts = entry.attempts;
  if (entry.httpStatus !== undefined) event.httpStatus = entry.httpStatus;
  if (outcome.phase === 'Succeeded') event.output = boundedOutput(outcome.output);
  if (entry.error) event.error = entry.error;
  return event;
}

/** Template scope of a map element's input: the execution's scope plus `item` and `index`. */
class ElementScope implements TemplateScope {
  readonly input: unknown;
  readonly item: unknown;
  readonly index: number;

  constructor(
    private readonly execution: TemplateScope,
    element: MapElement,
  ) {
    this.input = execution.input;
    this.item = element.item;
    this.index = element.index;
  }

  taskOutput(id: string): unknown {
    return this.execution.taskOutput(id);
  }

  secret(): undefined {
    return undefined;
  }
}

/** Aborts `child` when `parent` aborts; returns the function that undoes the link. */
function linked(parent: Cancellation, child: Cancellation): () => void {
  const onAbort = () => child.abort(parent.reason);
  if (parent.aborted) onAbort();
  else parent.once('abort', onAbort);
  return () => parent.removeListener('abort', onAbort);
}

/** Template scope of a task's HTTP request: its own input and its declared secrets. */
class TaskScope implements TemplateScope {
  constructor(
    readonly input: unknown,
    private readonly secrets: Map<string, string> | undefined,
  ) {}

  taskOutput(): undefined {
    return undefined;
  }

  secret(name: string): string | undefined {
    return this.secrets?.get(name);
  }
}
