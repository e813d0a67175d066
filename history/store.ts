/**
 * The execution history as the API server sees it: a store of WorkflowExecution objects with
 * Kubernetes list/watch semantics, workflow revisions and task duration statistics. PostgreSQL is
 * one implementation (`PgExecutionStore`); the interface keeps the API server free of SQL.
 */
import type { WorkflowExecution } from '../core/model/execution.ts';
import type { FieldSelector, LabelSelector } from './selector.ts';
import type { ExecutionRecord } from './record.ts';

/** Which executions a list, watch or delete-collection concerns. */
export interface ExecutionFilter {
  /** Only this namespace; all namespaces when absent. */
  namespace?: string;
  /** Kubernetes label selector string (`team=web,tier in (a,b),!beta`) or its parsed form. */
  labelSelector?: string | LabelSelector;
  /**
   * Kubernetes field selector string or its parsed form; supported fields are
   * `metadata.name`, `metadata.namespace`, `spec.workflowRef.name` and `status.phase`.
   */
  fieldSelector?: string | FieldSelector;
  /** Only executions created at or after this time. */
  createdAfter?: Date;
  /** Only executions created before this time. */
  createdBefore?: Date;
}

/** List options: a filter plus keyset pagination. */
export interface ExecutionListOptions extends ExecutionFilter {
  /** Page size; all matching items when absent or 0. */
  limit?: number;
  /** Opaque token from a previous page's `continue`. */
  continue?: string;
}

/** One page of executions, newest first. */
export interface ExecutionList {
  items: WorkflowExecution[];
  /** The resourceVersion the listing is consistent with; watch from it to see later changes. */
  resourceVersion: string;
  /** Present when more items match: pass it back as `continue`. */
  continue?: string;
}

/** Watch options: a filter (time range ignored) and the resourceVersion to start after. */
export interface ExecutionWatchOptions extends Omit<ExecutionFilter, 'createdAfter' | 'createdBefore'> {
  /** Events with a greater resourceVersion are delivered; "0" or absent means from the start. */
  resourceVersion?: string;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

/** A change committed to the history, from any replica. */
export interface WatchEvent {
  type: WatchEventType;
  /** The object as of the event; DELETED events carry metadata, spec.workflowRef and status.phase. */
  object: WorkflowExecution;
}

/**
 * A running watch: iterate it for events; `close()` ends it. Iteration throws
 * `SyncflowError('Gone')` when the watcher fell too far behind (re-list and watch again).
 */
export interface ExecutionWatch extends AsyncIterable<WatchEvent> {
  close(): void;
}

/** New metadata for a stored execution: labels and annotations only (the rest is immutable). */
export interface MetadataUpdate {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** Optimistic concurrency: fail with Conflict unless the stored resourceVersion is this one. */
  resourceVersion?: string;
}

/** The identity of an execution: names are unique within a namespace. */
export interface ExecutionName {
  namespace: string;
  name: string;
}

/** Outcome of inserting one execution of a batch. */
export type InsertOutcome =
  | 'inserted'
  /** The same uid was already stored (a retried batch whose first commit did succeed). */
  | 'duplicate'
  /** Another execution with the same namespace/name exists; this one was not stored. */
  | 'conflict';

/** A stored definition snapshot of a workflow. */
export interface WorkflowRevisionRecord {
  namespace: string;
  /** `<workflow>-<first 10 hex digits of the hash>`. */
  name: string;
  workflowName: string;
  /** `sha256:<hex>` as in Workflow status.revision. */
  hash: string;
  /** The snapshot: the workflow spec and the task specs it references. */
  definition: unknown;
  creationTimestamp: string;
  resourceVersion: string;
}

/** A revision to record if it is not stored yet. */
export interface NewWorkflowRevision {
  namespace: string;
  workflowName: string;
  hash: string;
  definition: unknown;
}

/** Listing revisions: one namespace or all, optionally one workflow, newest first. */
export interface RevisionListOptions {
  namespace?: string;
  /** Selector over the revision labels (only `syncflow.io/workflow` is set). */
  labelSelector?: string | LabelSelector;
  limit?: number;
  continue?: string;
}

export interface RevisionList {
  items: WorkflowRevisionRecord[];
  resourceVersion: string;
  continue?: string;
}

/** Duration statistics of one step of a workflow over recent executions. */
export interface TaskDurationStats {
  taskId: string;
  /** Median duration of the successful runs, in ms. */
  p50Ms: number;
  p90Ms: number;
  samples: number;
}

/** Inserts executions in bulk; what the batched writer needs from a store. */
export interface ExecutionBatchSink {
  /** Inserts all of them in one transaction (task rows included), returning one outcome each. */
  insertRecords(batch: readonly ExecutionRecord[]): Promise<InsertOutcome[]>;
}

/** The execution history store. */
export interface ExecutionStore extends ExecutionBatchSink {
  /** `insertRecords` of the executions' records. */
  insertExecutions(batch: readonly WorkflowExecution[]): Promise<InsertOutcome[]>;
  get(namespace: string, name: string): Promise<WorkflowExecution | undefined>;
  /** Which of the names are taken by a stored execution, as `namespace/name` keys (one query). */
  storedNames(names: readonly ExecutionName[]): Promise<Set<string>>;
  /**
   * Reserves a name for an execution about to run, for `ttlMs`: false when a stored execution has
   * it or another reservation holds it (of concurrent reservations from any replicas, one wins).
   */
  reserveName(namespace: string, name: string, ttlMs: number): Promise<boolean>;
  /** Deletes the reservation of a name whose execution did not run (a refused input). */
  releaseName(namespace: string, name: string): Promise<void>;
  /** Deletes up to `batchSize` expired name reservations; returns how many. */
  purgeNameReservations(batchSize: number): Promise<number>;
  list(options?: ExecutionListOptions): Promise<ExecutionList>;
  /** Rejects with `SyncflowError('Gone')` when `resourceVersion` is older than the compacted one. */
  watch(options?: ExecutionWatchOptions): Promise<ExecutionWatch>;
  /** Replaces labels and annotations; NotFound, Conflict (resourceVersion) or FieldInvalid. */
  updateMetadata(namespace: string, name: string, update: MetadataUpdate): Promise<WorkflowExecution>;
  /** Deletes one execution and returns it as last stored; NotFound if absent. */
  delete(namespace: string, name: string): Promise<WorkflowExecution>;
  /** Deletes every execution matching the filter (in batches); returns the deleted objects' metadata. */
  deleteCollection(filter: ExecutionFilter): Promise<WorkflowExecution[]>;
  /** The newest committed resourceVersion. */
  currentResourceVersion(): Promise<string>;

  recordRevision(
    revision: NewWorkflowRevision,
  ): Promise<{ revision: WorkflowRevisionRecord; created: boolean }>;
  getRevision(namespace: string, name: string): Promise<WorkflowRevisionRecord | undefined>;
  listRevisions(options?: RevisionListOptions): Promise<RevisionList>;

  /** Per-step duration statistics over the `recentExecutions` newest executions of a workflow. */
  taskDurationStats(options: {
    namespace: string;
    workflowName: string;
    recentExecutions?: number;
  }): Promise<TaskDurationStats[]>;
}
