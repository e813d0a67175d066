/**
 * The definitions status controller: keeps Workflow status (observedGeneration, Ready, revision,
 * parallelGroups, taskCount) and WorkflowTask status (usedBy) in line with the catalog, emits Events
 * when a Workflow breaks after admission (a task deleted or changed while the webhook was down), and
 * records each new revision in the history. Runs on the elected leader only; work is queued per
 * namespace, so a burst of changes in one namespace is reconciled once.
 */
import type { RevisionRecorder } from '../core/definitions/revision-recorder.ts';
import type { Logger } from '../core/logger.ts';
import type { WorkflowStatus, WorkflowTaskStatus } from '../core/model/schema.ts';
import type { DefinitionObject, WorkflowLookup } from '../core/definitions/catalog.ts';
import {
  desiredTaskStatus,
  desiredWorkflowStatus,
  readyCondition,
  statusUpToDate,
  taskVerdict,
  type TaskVerdict,
} from './desired-status.ts';

/** The catalog view the controller reads (`DefinitionCatalog` satisfies it). */
export interface DefinitionView {
  lookup(namespace: string, name: string): WorkflowLookup;
  listWorkflows(namespace?: string): DefinitionObject[];
  /** Task names of a namespace (through its resolver). */
  taskResolver(namespace: string): { names(): Iterable<string> };
  getTask(namespace: string, name: string): DefinitionObject | undefined;
  dependentsOf(namespace: string, taskName: string): DefinitionObject[];
  onChange(listener: (namespace: string) => void): () => void;
}

/** Writes status subresources; rejects with `{code: 404}` when the object is gone. */
export interface StatusWriter {
  writeWorkflowStatus(namespace: string, name: string, status: WorkflowStatus): Promise<void>;
  writeTaskStatus(namespace: string, name: string, status: WorkflowTaskStatus): Promise<void>;
}

/** A Kubernetes Event about a definition object. */
export interface DefinitionEvent {
  namespace: string;
  kind: 'Workflow' | 'WorkflowTask';
  name: string;
  uid?: string;
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

/** Emits Events. */
export interface EventRecorder {
  record(event: DefinitionEvent): Promise<void>;
}

/** The part of the one {@link Logger} the controller calls. */
export type ControllerLogger = Pick<Logger, 'info' | 'warn'>;

/** The controller's collaborators. */
export interface StatusControllerOptions {
  catalog: DefinitionView;
  writer: StatusWriter;
  events: EventRecorder;
  revisions: RevisionRecorder;
  logger?: ControllerLogger;
  now?: () => Date;
  /** Schedules a retry of a failed namespace (default: setTimeout, unref'd). */
  scheduleRetry?: (run: () => void, delayMs: number) => void;
}

/** Reconciles definition status for the namespaces the catalog reports changed. */
export class DefinitionStatusController {
  private readonly pending = new Set<string>();
  private running: Promise<void> | undefined;
  private active = false;
  private unsubscribe: (() => void) | undefined;
  private readonly failures = new Map<string, number>();
  /** Last Event per workflow, so a repeated reconcile does not repeat it. */
  private readonly announced = new Map<string, string>();
  private readonly verdicts = new Map<
    string,
    { resourceVersion: string | undefined; verdict: TaskVerdict }
  >();
  /** Every namespace the catalog reported, also before this replica led (tasks-only namespaces included). */
  private readonly seen = new Set<string>();

  /** Create it before the informers start, so it sees every namespace they report. */
  constructor(private readonly options: StatusControllerOptions) {
    this.unsubscribe = options.catalog.onChange((namespace) => {
      this.seen.add(namespace);
      this.enqueue(namespace);
    });
  }

  /** Starts reconciling (on becoming leader): every namespace now, then each one that changes. */
  start(): void {
    if (this.active) return;
    this.active = true;
    for (const namespace of this.namespaces()) this.enqueue(namespace);
  }

  /** Stops reconciling (on losing leadership); waits for the namespace in progress. */
  async stop(): Promise<void> {
    this.active = false;
    this.pending.clear();
    // Forget what was announced: the next leader term starts from the stored status.
    this.announced.clear();
    await this.running;
  }

  /** Stops and detaches from the catalog (shutdown). */
  async close(): Promise<void> {
    await this.stop();
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  /** Resolves when the queue is empty (tests and shutdown). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  /** Queues a namespace; reconciliation runs one namespace at a time. */
  enqueue(namespace: string): void {
    if (!this.active) return;
    this.pending.add(namespace);
    this.running ??= this.drain().finally(() => (this.running = undefined));
  }

  private async drain(): Promise<void> {
    while (this.active && this.pending.size > 0) {
      const namespace = this.pending.values().next().value as string;
      this.pending.delete(namespace);
      try {
        await this.reconcileNamespace(namespace);
        this.failures.delete(namespace);
      } catch (error) {
        const attempt = (this.failures.get(namespace) ?? 0) + 1;
        this.failures.set(namespace, attempt);
        const delayMs = Math.min(30_000, 250 * 2 ** (attempt - 1));
        this.options.logger?.warn(
          { namespace, attempt, delayMs, err: String((error as Error)?.message ?? error) },
          'reconciling definition status failed; retrying',
        );
        const schedule = this.options.scheduleRetry ?? ((run, ms) => setTimeout(run, ms).unref());
        schedule(() => this.enqueue(namespace), delayMs);
      }
    }
  }

  /** Brings the status of every Workflow and WorkflowTask of a namespace up to date. */
  async reconcileNamespace(namespace: string): Promise<void> {
    const { catalog } = this.options;
    let failure: unknown;
    for (const workflow of catalog.listWorkflows(namespace)) {
      try {
        await this.reconcileWorkflow(namespace, workflow);
      } catch (error) {
        failure ??= error;
      }
    }
    for (const name of [...catalog.taskResolver(namespace).names()]) {
      const task = catalog.getTask(namespace, name);
      if (!task) continue;
      try {
        await this.reconcileTask(namespace, name, task);
      } catch (error) {
        failure ??= error;
      }
    }
    if (failure !== undefined) throw failure;
  }

  private now(): Date {
    return (this.options.now ?? (() => new Date()))();
  }

  private async reconcileWorkflow(namespace: string, workflow: DefinitionObject): Promise<void> {
    const name = workflow.metadata.name ?? '';
    const lookup = this.options.catalog.lookup(namespace, name);
    const desired = desiredWorkflowStatus(workflow, lookup, this.now());
    if (lookup.kind === 'ready') await this.options.revisions.record(lookup.workflow);
    await this.announce(
      'Workflow',
      workflow,
      lookup.kind === 'ready'
        ? { ready: true, message: `Workflow is Ready again at revision ${lookup.workflow.revision}` }
        : lookup.kind === 'notReady'
          ? { ready: false, reason: lookup.reason, message: lookup.message }
          : undefined,
    );
    if (statusUpToDate(workflow, desired)) return;
    await this.write(() => this.options.writer.writeWorkflowStatus(namespace, name, desired));
  }

  private async reconcileTask(namespace: string, name: string, task: DefinitionObject): Promise<void> {
    // Validated once per resourceVersion: every change in a namespace reconciles all its tasks.
    const key = `${namespace}/${name}`;
    const rv = task.metadata.resourceVersion;
    let cached = this.verdicts.get(key);
    if (!cached || cached.resourceVersion !== rv || rv === undefined) {
      if (this.verdicts.size >= 50_000) this.verdicts.clear();
      cached = { resourceVersion: rv, verdict: taskVerdict(task) };
      this.verdicts.set(key, cached);
    }
    const verdict = cached.verdict;
    const desired = desiredTaskStatus(
      task,
      this.options.catalog.dependentsOf(namespace, name).length,
      verdict,
      this.now(),
    );
    await this.announce(
      'WorkflowTask',
      task,
      verdict.valid
        ? { ready: true, message: 'WorkflowTask is valid again' }
        : { ready: false, reason: 'Invalid', message: verdict.message },
    );
    if (statusUpToDate(task, desired)) return;
    await this.write(() => this.options.writer.writeTaskStatus(namespace, name, desired));
  }

  /**
   * An Event when an object turns not Ready (a failure found after admission), and when it is Ready
   * again after that; once per change, and not again for what the stored status already shows.
   */
  private async announce(
    kind: 'Workflow' | 'WorkflowTask',
    object: DefinitionObject,
    verdict: { ready: true; message: string } | { ready: false; reason: string; message: string } | undefined,
  ): Promise<void> {
    if (!verdict) return;
    const namespace = object.metadata.namespace || 'default';
    const name = object.metadata.name ?? '';
    const key = `${kind}/${namespace}/${name}`;
    const stored = readyCondition(object);
    const subject = { namespace, kind, name, ...(object.metadata.uid ? { uid: object.metadata.uid } : {}) };
    if (!verdict.ready) {
      const signature = `${verdict.reason}|${verdict.message}`;
      const alreadyStored =
        stored?.status === 'False' && stored.reason === verdict.reason && stored.message === verdict.message;
      if (this.announced.get(key) === signature || (alreadyStored && !this.announced.has(key))) {
        this.announced.set(key, signature);
        return;
      }
      this.announced.set(key, signature);
      await this.options.events.record({
        ...subject,
        type: 'Warning',
        reason: verdict.reason,
        message: `${kind} is not Ready: ${verdict.message}`,
      });
    } else if (this.announced.has(key) || stored?.status === 'False') {
      this.announced.delete(key);
      await this.options.events.record({
        ...subject,
        type: 'Normal',
        reason: 'Ready',
        message: verdict.message,
      });
    }
  }

  /** A write; an object deleted meanwhile is not an error (its delete event reconciles again). */
  private async write(run: () => Promise<void>): Promise<void> {
    try {
      await run();
    } catch (error) {
      if ((error as { code?: number }).code === 404) return;
      throw error;
    }
  }

  private namespaces(): Set<string> {
    return new Set([
      ...this.seen,
      ...this.options.catalog.listWorkflows().map((w) => w.metadata.namespace || 'default'),
    ]);
  }
}
