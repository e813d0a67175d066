/**
 * The run path shared by `POST workflowexecutions` and the direct run gateway: find the compiled
 * workflow, reserve a place in the history queue (so nothing runs unrecorded) and the execution's
 * name (so nothing runs under a name that is taken), run it and record it; until the history has
 * written it, the writer's queue answers reads of it.
 *
 * Names: an explicit name is held in this replica's {@link NameReservations} before the first
 * `await`, checked against the writer's queue, then reserved in the history database (which
 * refuses it when a stored execution has it or another replica reserved it), all before anything
 * runs; the in-process hold is given back once the writer has queued the execution (from then on
 * the queue and then the store answer for it). A generated name is drawn again (bounded, as
 * Kubernetes does) while it is held or queued here; whether the store has it is asked, batched,
 * while the workflow runs (nobody sees the name before the answer), and a stored one is replaced
 * before the execution is recorded. Generated names take no database reservation: that is a write
 * per create on the hot path (measured 1.2 ms against 0.3 ms for the lookup at p50, PostgreSQL 15
 * on this machine), and two replicas drawing one of 27^5 suffixes in the same few milliseconds is
 * what the writer's last resort is for: a conflict at the insert is recorded under a unique name,
 * loudly (writer.ts), never dropped.
 */
import { randomUUID } from 'node:crypto';
import { SyncflowError } from '../../core/errors.ts';
import { RevisionRecorder, type RevisionSink } from '../../core/definitions/revision-recorder.ts';
import type { CallerSignal } from '../../core/engine/cancellation.ts';
import type { NamespacedSecrets } from '../../core/secrets.ts';
import type { SecretResolver } from '../../core/engine/collaborators.ts';
import type { ExecuteOptions, WorkflowExecutor } from '../../core/engine/executor.ts';
import type { DebugOptions } from '../../core/engine/debug.ts';
import { DEBUG_ANNOTATION } from '../../core/model/resources.ts';
import type { WorkflowExecutionStatus } from '../../core/model/schema.ts';
import { planExecution, type ExecutionStatistics } from '../../core/plan/planner.ts';
import type { WorkflowCatalog } from '../../core/definitions/catalog.ts';
import type { CompiledWorkflow } from '../../core/definitions/compile.ts';
import type { ExecutionStore } from '../../history/store.ts';
import type { WriteReservation } from '../../history/writer.ts';
import {
  executionObject,
  generateName,
  type ExecutionCreateRequest,
  type WorkflowExecution,
} from '../../core/model/execution.ts';
import { NameReservations, type NameReservation } from './names.ts';
import { StoredNameCheck } from './stored-names.ts';
import { LiveExecutions } from './live.ts';
import { ExecutionPublisher, LiveBus, type LiveMessage } from './bus.ts';
import { DebugRuns, type DebugSession } from './debug.ts';
import { RevisionWorkflows } from './revisions.ts';

/** Reserves places in the history writer's queue. */
export interface HistoryAdmission {
  admit(): WriteReservation;
  /** Resolves when everything recorded so far is durable. */
  flush(): Promise<void>;
  /** A recorded execution the history has not written yet. */
  pending(namespace: string, name: string): WorkflowExecution | undefined;
}

/** Collaborators of the execution service. */
export interface ExecutionServiceOptions {
  catalog: WorkflowCatalog;
  executor: WorkflowExecutor;
  history: HistoryAdmission;
  store: Pick<ExecutionStore, 'get' | 'storedNames' | 'reserveName' | 'releaseName' | 'taskDurationStats'> &
    RevisionSink &
    /** Reads the recorded revisions `spec.workflowRevision` names (stores without them refuse those). */
    Partial<Pick<ExecutionStore, 'getRevision'>>;
  /** Records the revision each execution ran (shared with the status controller); one over `store` by default. */
  revisions?: RevisionRecorder;
  secrets: NamespacedSecrets;
  /** Logs one line per execution (name, user, workflow, phase); never inputs, outputs or secrets. */
  logger?: { info(fields: Record<string, unknown>, message: string): void };
  /** Called when something off the hot path fails (revision recording, an executor that threw). */
  onBackgroundError?: (error: unknown, what: string) => void;
  now?: () => Date;
  /** Random source of generated names (tests force collisions with it). */
  random?: () => number;
  /** Where live execution events go (DESIGN §9); a bus of this replica alone by default. */
  bus?: LiveBus;
  /** The limit and idle bound of debug runs (their defaults when absent). */
  debugRuns?: DebugRuns;
  /**
   * Whether every definition has been listed once (the informers synced). Until then a workflow
   * that is missing or not Ready may only be not loaded yet: 503 (retry), never a 404 or 409.
   */
  definitionsSynced?: () => boolean;
}

/** Who asked and how. */
export interface RunContext {
  user: string;
  dryRun?: boolean;
  traceparent?: string;
  signal?: CallerSignal;
  /**
   * Wait (bounded) until the record is in the history before returning, so that a list right after
   * a create sees it, as Kubernetes clients expect. The direct gateway does not wait.
   */
  waitForHistory?: boolean;
  /** Follows this execution's live messages (the stream's `execute`), whoever else listens. */
  follow?: (message: LiveMessage) => void;
  /** Makes it a debug run answered through this session (from `debugRuns.open`), closed when the run ends. */
  debug?: DebugSession;
  /**
   * Called with the finished execution as soon as it exists, before it is queued for the history,
   * published and logged (all in the same tick), so that a caller answering from it (the gateway)
   * answers before that bookkeeping. Not called for a run refused before it ran. Should it throw,
   * the execution is still recorded and logged, and the run then rejects with its error.
   */
  answer?: (execution: WorkflowExecution) => void;
}

/** Longest wait for the history on the Kubernetes create path; the record stays queued after it. */
const HISTORY_WAIT_MS = 2_000;

/**
 * How long a database name reservation holds: longer than an execution plus the history's write
 * delay. Beyond it (a history outage that long) a second replica could take the name, and the
 * writer's last resort records the later execution under a unique name.
 */
export const NAME_RESERVATION_TTL_MS = 15 * 60_000;

/** Names drawn for one generateName before giving up (Kubernetes retries generateName too). */
export const GENERATE_NAME_ATTEMPTS = 8;

/** A failed store lookup as its answer (told apart from true and false by the caller). */
const asAnswer = (error: unknown): unknown => error;

function alreadyExists(name: string): SyncflowError {
  return new SyncflowError(
    'AlreadyExists',
    `workflowexecutions.execution.syncflow.io "${name}" already exists`,
  );
}

/** Runs executions; the ones not written to the history yet stay readable through {@link recentExecution}. */
export class ExecutionService {
  private readonly options: ExecutionServiceOptions;
  private readonly revisions: RevisionRecorder;
  private readonly now: () => Date;
  private readonly random: () => number;
  private readonly names = new NameReservations();
  private readonly storedNames: StoredNameCheck;
  private readonly revisionWorkflows: RevisionWorkflows;
  /** Compiled workflows whose revision is stored (a new revision is a new compiled object). */
  private readonly recordedRevisions = new WeakSet<CompiledWorkflow>();
  /** The secret resolver of each compiled workflow's namespace, made once rather than per execution. */
  private readonly secretResolvers = new WeakMap<CompiledWorkflow, SecretResolver>();
  /** Live events of every execution, of this replica and (with a transport) the others. */
  readonly bus: LiveBus;
  /** In-flight executions for the watches of this replica (docs/history.md "Watch"). */
  readonly live: LiveExecutions;
  /** Opens debug run sessions within their own limit (apiserver/execution/debug.ts). */
  readonly debugRuns: DebugRuns;

  constructor(options: ExecutionServiceOptions) {
    this.options = options;
    this.bus = options.bus ?? new LiveBus();
    this.live = new LiveExecutions(this.bus);
    this.debugRuns = options.debugRuns ?? new DebugRuns();
    this.now = options.now ?? (() => new Date());
    this.revisions = options.revisions ?? new RevisionRecorder(options.store);
    this.random = options.random ?? Math.random;
    // Draws for a busy generateName prefix are checked ahead, several per query (stored-names.ts).
    this.storedNames = new StoredNameCheck((names) => options.store.storedNames(names), {
      draw: (prefix) => generateName(prefix, this.random),
    });
    this.revisionWorkflows = new RevisionWorkflows({
      getRevision: (namespace, name) =>
        options.store.getRevision ? options.store.getRevision(namespace, name) : Promise.resolve(undefined),
    });
  }

  /** Runs (or, with dryRun, plans) an execution; returns the finished object. */
  run(request: ExecutionCreateRequest, context: RunContext): Promise<WorkflowExecution> {
    const session = context.debug;
    // Not an async frame of its own: the run's promise is handed back as it is.
    return session ? this.runDebug(request, context, session) : this.runWorkflow(request, context, undefined);
  }

  /** A debug run is marked as one, and gives its place back however it ends. */
  private async runDebug(
    request: ExecutionCreateRequest,
    context: RunContext,
    session: DebugSession,
  ): Promise<WorkflowExecution> {
    const annotations = { ...request.annotations, [DEBUG_ANNOTATION]: 'true' };
    try {
      return await this.runWorkflow({ ...request, annotations }, context, session);
    } finally {
      session.close();
    }
  }

  private async runWorkflow(
    request: ExecutionCreateRequest,
    context: RunContext,
    session: DebugSession | undefined,
  ): Promise<WorkflowExecution> {
    // A recorded revision (re-running an execution as it ran), or the workflow as it is now.
    const workflow = request.workflowRevision
      ? await this.revisionWorkflows.workflow(
          request.namespace,
          request.workflowName,
          request.workflowRevision,
        )
      : this.resolve(request.namespace, request.workflowName);
    if (context.dryRun) return this.plan(request, workflow, context);
    // Breakpoints that name no task are refused (422) before anything is reserved.
    const debug = session?.bind(workflow);
    const admission = this.options.history.admit();
    let name: NameReservation;
    try {
      name = request.name
        ? await this.reserveName(request.namespace, request.name)
        : this.reserveGeneratedName(request.namespace, request.generateName as string);
    } catch (error) {
      admission.release();
      throw error;
    }
    let object: WorkflowExecution;
    // Undefined unless someone listens: then the engine builds no live event.
    const publisher = this.publisher(request, name.name, context, workflow.revision);
    try {
      // A generated name is checked against the store while the workflow runs.
      const stored = request.name
        ? undefined
        : this.storedNames.isStored(name.namespace, name.name).catch(asAnswer);
      const status = await this.execute(workflow, request, context, publisher, debug);
      const storedAnswer = stored ? await stored : false;
      if (storedAnswer === true) {
        name = await this.replaceGeneratedName(name, request.generateName as string);
      }
      // The store could not say: keep the name; a conflict at the insert is still recorded (writer.ts).
      else if (storedAnswer !== false)
        this.options.onBackgroundError?.(
          storedAnswer,
          'checking a generated execution name against the history',
        );
      // Assigned, not a literal that spreads and adds keys (V8's slow path, microseconds each).
      const recorded: WorkflowExecution['status'] = Object.assign({}, status);
      recorded.workflowRevision = workflow.revision;
      recorded.user = context.user;
      object = executionObject(request, name.name, recorded, status.startTime ?? this.now().toISOString());
      if (publisher) object.metadata.uid = publisher.uid;
    } catch (error) {
      publisher?.abandon();
      // Refused before anything ran (invalid input): nothing to record, and the name is free again.
      admission.release();
      name.release();
      if (request.name) await this.releaseStoredReservation(request.namespace, request.name);
      throw error;
    }
    let unanswered: { error: unknown } | undefined;
    try {
      context.answer?.(object);
    } catch (error) {
      unanswered = { error };
    }
    try {
      admission.record(object);
      publisher?.finish(object);
    } catch (error) {
      // The caller has its answer: it cannot be told, so the failure goes where background ones go.
      if (context.answer && !unanswered)
        this.options.onBackgroundError?.(error, 'recording an execution its caller was already answered for');
      throw error;
    } finally {
      // Recorded (the writer's queue answers for the name now) or failed: the name is free here.
      name.release();
    }
    if (this.options.logger) this.logFinished(this.options.logger, object, context.user);
    if (!this.recordedRevisions.has(workflow)) this.recordRevision(workflow);
    if (unanswered) throw unanswered.error;
    if (context.waitForHistory) await this.waitForHistory();
    return object;
  }

  /** The execution's log line: name, workflow, user, phase, reason when failed, duration. */
  private logFinished(
    logger: NonNullable<ExecutionServiceOptions['logger']>,
    object: WorkflowExecution,
    user: string,
  ): void {
    const status = object.status;
    const fields: Record<string, unknown> = {
      execution: `${object.metadata.namespace}/${object.metadata.name}`,
      workflow: object.spec.workflowRef.name,
      user,
      phase: status.phase,
    };
    if (status.reason) fields.reason = status.reason;
    fields.durationMs = status.durationMs;
    logger.info(fields, 'execution finished');
  }

  /**
   * Records the revision an execution ran (in the background). Once it is stored the workflow
   * object is remembered, so that later executions of it skip the recorder altogether.
   */
  private recordRevision(workflow: CompiledWorkflow): void {
    this.revisions.record(workflow).then(
      () => this.recordedRevisions.add(workflow),
      (error: unknown) => this.options.onBackgroundError?.(error, 'recording a workflow revision'),
    );
  }

  /**
   * The engine's observer for an execution about to run, when someone follows it: the caller
   * (`follow`), or a listener of its namespace on the bus (here or on another replica).
   */
  private publisher(
    request: ExecutionCreateRequest,
    name: string,
    context: RunContext,
    revision: string,
  ): ExecutionPublisher | undefined {
    const bus = this.bus.listening(request.namespace) ? this.bus : undefined;
    if (!bus && !context.follow) return undefined;
    return new ExecutionPublisher(
      { uid: randomUUID(), name, request, user: context.user, revision },
      bus,
      context.follow,
    );
  }

  /** Whether a name is free for a new execution now: not held, queued or stored (dry runs call nothing). */
  private async nameIsTaken(namespace: string, name: string): Promise<boolean> {
    return (
      this.names.isReserved(namespace, name) ||
      this.recentExecution(namespace, name) !== undefined ||
      (await this.storedNames.isStored(namespace, name))
    );
  }

  private async plan(
    request: ExecutionCreateRequest,
    workflow: CompiledWorkflow,
    context: RunContext,
  ): Promise<WorkflowExecution> {
    if (request.name && (await this.nameIsTaken(request.namespace, request.name)))
      throw alreadyExists(request.name);
    const name = request.name ?? generateName(request.generateName as string, this.random);
    const created = this.now().toISOString();
    const stats = this.options.store;
    const statistics: ExecutionStatistics = {
      async stepDurationsP50(wf) {
        const rows = await stats.taskDurationStats({ namespace: wf.namespace, workflowName: wf.name });
        return new Map(rows.map((r) => [r.taskId, r.p50Ms]));
      },
    };
    const plan = await planExecution(workflow, request.input, { statistics });
    return executionObject(
      request,
      name,
      { phase: 'Pending', workflowRevision: workflow.revision, user: context.user, plan },
      created,
    );
  }

  /**
   * Holds an explicit name, synchronously before any `await`, makes sure no queued execution has
   * it, and reserves it in the history database (no stored execution has it, no other replica
   * holds it); 409 AlreadyExists otherwise, before anything runs.
   */
  private async reserveName(namespace: string, name: string): Promise<NameReservation> {
    const reservation = this.names.tryReserve(namespace, name);
    if (!reservation) throw alreadyExists(name);
    try {
      if (
        this.recentExecution(namespace, name) ||
        !(await this.options.store.reserveName(namespace, name, NAME_RESERVATION_TTL_MS))
      )
        throw alreadyExists(name);
    } catch (error) {
      reservation.release();
      throw error;
    }
    return reservation;
  }

  /** Gives back a database name reservation of an execution that did not run; it expires otherwise. */
  private async releaseStoredReservation(namespace: string, name: string): Promise<void> {
    try {
      await this.options.store.releaseName(namespace, name);
    } catch (error) {
      this.options.onBackgroundError?.(
        error,
        `releasing the name reservation of ${namespace}/${name} (it expires in ${NAME_RESERVATION_TTL_MS / 60_000} minutes)`,
      );
    }
  }

  /** Draws a generated name that no execution of this replica holds or has queued (synchronous). */
  private reserveGeneratedName(namespace: string, prefix: string): NameReservation {
    for (let attempt = 0; attempt < GENERATE_NAME_ATTEMPTS; attempt++) {
      const reservation = this.names.tryReserve(namespace, this.storedNames.draw(namespace, prefix));
      if (!reservation) continue;
      if (!this.recentExecution(namespace, reservation.name)) return reservation;
      reservation.release();
    }
    throw new SyncflowError(
      'AlreadyExists',
      `could not generate a unique name from generateName "${prefix}" in ${GENERATE_NAME_ATTEMPTS} attempts; retry, or use a longer prefix`,
    );
  }

  /**
   * The generated name turned out to be stored: draws names again, each checked against the store,
   * until one is free. The execution has run and must be recorded, so the last resort is a name made
   * unique by a UUID, never a refusal.
   */
  private async replaceGeneratedName(taken: NameReservation, prefix: string): Promise<NameReservation> {
    taken.release();
    for (let attempt = 1; attempt < GENERATE_NAME_ATTEMPTS; attempt++) {
      const reservation = this.names.tryReserve(taken.namespace, generateName(prefix, this.random));
      if (!reservation) continue;
      // A store that cannot answer now is not a reason to lose the execution: the insert decides.
      const stored =
        this.recentExecution(reservation.namespace, reservation.name) !== undefined ||
        (await this.storedNames.isStored(reservation.namespace, reservation.name).catch(() => false));
      if (!stored) return reservation;
      reservation.release();
    }
    return this.names.tryReserve(
      taken.namespace,
      `${prefix.slice(0, 253 - 36)}${randomUUID()}`,
    ) as NameReservation;
  }

  /**
   * Runs the workflow. An executor that rejects (a defect, not a task failure) still yields a
   * Failed execution with reason InternalError, which is recorded like any other.
   */
  private async execute(
    workflow: CompiledWorkflow,
    request: ExecutionCreateRequest,
    context: RunContext,
    observer: ExecutionPublisher | undefined,
    debug: DebugOptions | undefined,
  ): Promise<WorkflowExecutionStatus> {
    const started = this.now();
    let secrets = this.secretResolvers.get(workflow);
    if (secrets === undefined) {
      secrets = this.options.secrets.forNamespace(workflow.namespace);
      this.secretResolvers.set(workflow, secrets);
    }
    const options: ExecuteOptions = { secrets };
    if (observer) options.observer = observer;
    if (debug) options.debug = debug;
    if (context.signal) options.signal = context.signal;
    if (context.traceparent) options.traceparent = context.traceparent;
    try {
      return await this.options.executor.execute(workflow, request.input, options);
    } catch (error) {
      // Input that does not match the workflow's inputSchema is the caller's error (422), refused
      // before any task ran; any other rejection is a defect of the server.
      if (error instanceof SyncflowError && error.code === 'InvalidInput') throw error;
      this.options.onBackgroundError?.(
        error,
        'running an execution (recorded as Failed with reason InternalError)',
      );
      const completed = this.now();
      return {
        phase: 'Failed',
        reason: 'InternalError',
        message: 'the execution failed inside the server; the server log has the details',
        startTime: started.toISOString(),
        completionTime: completed.toISOString(),
        durationMs: completed.getTime() - started.getTime(),
      };
    }
  }

  /**
   * An execution this replica ran that the history has not written yet. Ask this before the store:
   * the writer drops an execution from its queue only after the store has it.
   */
  recentExecution(namespace: string, name: string): WorkflowExecution | undefined {
    return this.options.history.pending(namespace, name);
  }

  private async waitForHistory(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, HISTORY_WAIT_MS)));
    await Promise.race([this.options.history.flush(), timeout]);
    clearTimeout(timer);
  }

  private resolve(namespace: string, name: string) {
    const found = this.options.catalog.lookup(namespace, name);
    if (found.kind !== 'ready' && this.options.definitionsSynced && !this.options.definitionsSynced()) {
      throw new SyncflowError(
        'ServiceUnavailable',
        `this server is still loading the workflow definitions (workflow ${namespace}/${name} is not known yet); retry in a few seconds`,
      );
    }
    if (found.kind === 'notFound') {
      throw new SyncflowError(
        'WorkflowNotFound',
        `workflows.syncflow.io "${name}" not found in namespace ${namespace}`,
      );
    }
    if (found.kind === 'notReady') {
      throw new SyncflowError(
        'WorkflowNotReady',
        `workflow ${namespace}/${name} is not Ready (${found.reason}): ${found.message}`,
        {
          causes: found.errors,
        },
      );
    }
    return found.workflow;
  }
}
