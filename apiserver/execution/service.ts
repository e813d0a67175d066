/**
 * The run path shared by `POST workflowexecutions` and the direct run gateway: find the compiled
 * workflow, reserve a place in the history queue (so nothing runs unrecorded), run it and record
 * it; until the history has written it, the writer's queue answers reads of it.
 */
import { SyncflowError } from '../../core/errors.ts';
import type { SecretResolver } from '../../core/engine/collaborators.ts';
import type { CallerSignal } from '../../core/engine/cancellation.ts';
import type { WorkflowExecutor } from '../../core/engine/executor.ts';
import { planExecution, type ExecutionStatistics } from '../../core/plan/planner.ts';
import type { WorkflowCatalog } from '../definitions/catalog.ts';
import type { ExecutionStore, WorkflowExecution } from '../history/store.ts';
import type { WriteReservation } from '../history/writer.ts';
import { executionObject, generateName, type ExecutionCreateRequest } from '../registry/workflowexecutions/strategy.ts';

/** Reserves places in the history writer's queue. */
export interface HistoryAdmission {
  admit(): WriteReservation;
  /** Resolves when everything recorded so far is durable. */
  flush(): Promise<void>;
  /** A recorded execution the history has not written yet. */
  pending(namespace: string, name: string): WorkflowExecution | undefined;
}

/** Records workflow revisions the first time they are seen. */
export interface RevisionRecorder {
  recordRevision(revision: { namespace: string; workflowName: string; hash: string; definition: unknown }): Promise<unknown>;
}

/** Resolves secrets of one namespace only. */
export interface NamespacedSecrets {
  forNamespace(namespace: string): SecretResolver;
}

/** Collaborators of the execution service. */
export interface ExecutionServiceOptions {
  catalog: WorkflowCatalog;
  executor: WorkflowExecutor;
  history: HistoryAdmission;
  store: Pick<ExecutionStore, 'get' | 'taskDurationStats'> & RevisionRecorder;
  secrets: NamespacedSecrets;
  /** Logs one line per execution (name, user, workflow, phase); never inputs, outputs or secrets. */
  logger?: { info(fields: Record<string, unknown>, message: string): void };
  /** Called when something off the hot path fails (revision recording). */
  onBackgroundError?: (error: unknown, what: string) => void;
  now?: () => Date;
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
}

/** Longest wait for the history on the Kubernetes create path; the record stays queued after it. */
const HISTORY_WAIT_MS = 2_000;

/** Runs executions; the ones not written to the history yet stay readable through {@link recentExecution}. */
export class ExecutionService {
  private readonly options: ExecutionServiceOptions;
  private readonly knownRevisions = new Set<string>();
  private readonly now: () => Date;

  constructor(options: ExecutionServiceOptions) {
    this.options = options;
    this.now = options.now ?? (() => new Date());
  }

  /** Runs (or, with dryRun, plans) an execution; returns the finished object. */
  async run(request: ExecutionCreateRequest, context: RunContext): Promise<WorkflowExecution> {
    const workflow = this.resolve(request.namespace, request.workflowName);
    if (request.name && (this.recentExecution(request.namespace, request.name) || (await this.options.store.get(request.namespace, request.name)))) {
      throw new SyncflowError('Conflict', `workflowexecutions.execution.syncflow.io "${request.name}" already exists`);
    }
    const name = request.name ?? generateName(request.generateName as string);
    if (context.dryRun) {
      const created = this.now().toISOString();
      const stats = this.options.store;
      const statistics: ExecutionStatistics = {
        async stepDurationsP50(wf) {
          const rows = await stats.taskDurationStats({ namespace: wf.namespace, workflowName: wf.name });
          return new Map(rows.map((r) => [r.taskId, r.p50Ms]));
        },
      };
      const plan = await planExecution(workflow, request.input, { statistics });
      return executionObject(request, name, { phase: 'Pending', workflowRevision: workflow.revision, user: context.user, plan }, created);
    }
    const reservation = this.options.history.admit();
    let object: WorkflowExecution;
    try {
      const status = await this.options.executor.execute(workflow, request.input, {
        secrets: this.options.secrets.forNamespace(request.namespace),
        ...(context.signal ? { signal: context.signal } : {}),
        ...(context.traceparent ? { traceparent: context.traceparent } : {}),
      });
      object = executionObject(request, name, { ...status, workflowRevision: workflow.revision, user: context.user }, status.startTime ?? this.now().toISOString());
    } catch (error) {
      reservation.release();
      throw error;
    }
    reservation.record(object);
    if (context.waitForHistory) await this.waitForHistory();
    this.options.logger?.info(
      {
        execution: `${object.metadata.namespace}/${object.metadata.name}`,
        workflow: request.workflowName,
        user: context.user,
        phase: object.status.phase,
        ...(object.status.reason ? { reason: object.status.reason } : {}),
        durationMs: object.status.durationMs,
      },
      'execution finished',
    );
    this.recordRevision(workflow.namespace, workflow.name, workflow.revision, workflow);
    return object;
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
    if (found.kind === 'notFound') {
      throw new SyncflowError('WorkflowNotFound', `workflows.syncflow.io "${name}" not found in namespace ${namespace}`);
    }
    if (found.kind === 'notReady') {
      throw new SyncflowError('WorkflowNotReady', `workflow ${namespace}/${name} is not Ready (${found.reason}): ${found.message}`, {
        causes: found.errors,
      });
    }
    return found.workflow;
  }

  private recordRevision(namespace: string, workflowName: string, hash: string, workflow: { spec: unknown; steps: ReadonlyMap<string, { task: { name: string; spec: unknown } }> }): void {
    const key = `${namespace}/${workflowName}/${hash}`;
    if (this.knownRevisions.has(key)) return;
    this.knownRevisions.add(key);
    const tasks: Record<string, unknown> = {};
    for (const step of workflow.steps.values()) tasks[step.task.name] = step.task.spec;
    this.options.store
      .recordRevision({ namespace, workflowName, hash, definition: { workflow: workflow.spec, tasks } })
      .catch((error: unknown) => {
        this.knownRevisions.delete(key);
        this.options.onBackgroundError?.(error, 'recording a workflow revision');
      });
  }
}
