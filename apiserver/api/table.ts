/**
 * `meta.k8s.io/v1 Table` rendering for `kubectl get` (server-side printing).
 *
 * kubectl asks with `Accept: application/json;as=Table;v=v1;g=meta.k8s.io,
 * application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json`; the server answers a Table whose
 * `columnDefinitions` kubectl prints (upper-cased headers; `priority > 0` only with `-o wide`) and whose
 * rows carry `cells` in column order plus `object`: PartialObjectMetadata in the Table's own version by
 * default (`?includeObject=Metadata`), the full object with `Object`, nothing with `None`. Cells that
 * have no value are `null` (kubectl prints them blank, as for CRD printer columns). Date columns hold
 * human-readable ages, as the CRD table convertor does. Checked against kubectl v1.37.2: `get`,
 * `get -o wide`, `--show-labels` (reads labels from the PartialObjectMetadata) and `get syncflow`.
 */
import type { WorkflowExecutionSpec, WorkflowExecutionStatus } from '../../core/model/schema.ts';
import { matchesJson, parseAccept } from './discovery.ts';

/** One column of a Table, as `meta.k8s.io/v1 TableColumnDefinition`. */
export interface ColumnDefinition {
  name: string;
  /** OpenAPI type: string, integer, number, boolean or date. */
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  /** OpenAPI format; `name` marks the object name column. */
  format: string;
  description: string;
  /** 0 is always shown; greater values only in wide output. */
  priority: number;
}

/** The subset of object metadata a Table row needs. */
export interface RowMetadata {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: unknown[];
  finalizers?: string[];
  managedFields?: unknown[];
}

/** An execution object as the store returns it (structurally, so partial records render too). */
export interface WorkflowExecutionLike {
  apiVersion?: string;
  kind?: string;
  metadata: RowMetadata;
  spec?: Partial<WorkflowExecutionSpec>;
  status?: Partial<WorkflowExecutionStatus>;
}

/** A revision object as the store returns it. */
export interface WorkflowRevisionLike {
  apiVersion?: string;
  kind?: string;
  metadata: RowMetadata;
  workflow?: string;
  hash?: string;
}

/** A page of objects and the list metadata the Table repeats. */
export interface TableSource<T> {
  items: readonly T[];
  resourceVersion?: string;
  continue?: string;
  remainingItemCount?: number;
}

/** `?includeObject=` of TableOptions. */
export type IncludeObject = 'None' | 'Metadata' | 'Object';

/** Rendering options; `now` is injected for deterministic ages. */
export interface TableOptions {
  includeObject?: IncludeObject;
  now?: Date;
  /** Table version negotiated from Accept; PartialObjectMetadata follows it. */
  version?: TableVersion;
  /** TableOptions `noHeaders`: omit columnDefinitions (kubectl sets it for watch continuations). */
  noHeaders?: boolean;
}

export type TableVersion = 'v1' | 'v1beta1';

const NAME_DOC =
  'Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically.';
const AGE_DOC = 'CreationTimestamp is a timestamp representing the server time when this object was created.';

/** Columns of `kubectl get workflowexecutions`; REVISION, TASKS and USER only with `-o wide`. */
export const EXECUTION_COLUMNS: readonly ColumnDefinition[] = Object.freeze([
  { name: 'Name', type: 'string', format: 'name', description: NAME_DOC, priority: 0 },
  {
    name: 'Workflow',
    type: 'string',
    format: '',
    description: 'The workflow that ran (spec.workflowRef.name).',
    priority: 0,
  },
  {
    name: 'Phase',
    type: 'string',
    format: '',
    description: 'Running, Succeeded or Failed (status.phase).',
    priority: 0,
  },
  {
    name: 'Duration',
    type: 'string',
    format: '',
    description: 'Wall-clock time of the run (status.durationMs).',
    priority: 0,
  },
  { name: 'Age', type: 'date', format: '', description: AGE_DOC, priority: 0 },
  {
    name: 'Revision',
    type: 'string',
    format: '',
    description: 'Short hash of the workflow revision that ran.',
    priority: 1,
  },
  {
    name: 'Tasks',
    type: 'string',
    format: '',
    description: 'Succeeded tasks out of all tasks.',
    priority: 1,
  },
  { name: 'User', type: 'string', format: '', description: 'Who created the execution.', priority: 1 },
] satisfies ColumnDefinition[]);

/** Columns of `kubectl get workflowrevisions`. */
export const REVISION_COLUMNS: readonly ColumnDefinition[] = Object.freeze([
  { name: 'Name', type: 'string', format: 'name', description: NAME_DOC, priority: 0 },
  {
    name: 'Workflow',
    type: 'string',
    format: '',
    description: 'The workflow this revision snapshots.',
    priority: 0,
  },
  { name: 'Hash', type: 'string', format: '', description: 'Short sha256 of the definition.', priority: 0 },
  { name: 'Age', type: 'date', format: '', description: AGE_DOC, priority: 0 },
] satisfies ColumnDefinition[]);

/** Hex digits shown of a `sha256:` hash. */
const SHORT_HASH_LENGTH = 12;

/** `sha256:0123456789abcdef…` → `0123456789ab`; other strings are shortened the same way. */
export function shortHash(hash: string | undefined): string | null {
  if (!hash) return null;
  return hash.replace(/^sha256:/, '').slice(0, SHORT_HASH_LENGTH);
}

/**
 * Duration of a run, compact: `12ms`, `1.5s`, `42s`, `3m20s`, `1h5m`. Below a second in whole
 * milliseconds; below ten seconds with one decimal (trailing `.0` dropped); then whole units.
 */
export function formatDuration(ms: number | undefined | null): string | null {
  if (ms === undefined || ms === null || !Number.isFinite(ms) || ms < 0) return null;
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 10_000) {
    const tenths = Math.floor(ms / 100) / 10;
    return `${Number.isInteger(tenths) ? tenths.toFixed(0) : tenths.toFixed(1)}s`;
  }
  const totalSeconds = Math.floor(ms / 1000);
  if (totalSeconds < 60) return `${totalSeconds}s`;
  const totalMinutes = Math.floor(totalSeconds / 60);
  if (totalMinutes < 60) {
    const s = totalSeconds % 60;
    return s === 0 ? `${totalMinutes}m` : `${totalMinutes}m${s}s`;
  }
  const hours = Math.floor(totalMinutes / 60);
  const m = totalMinutes % 60;
  return m === 0 ? `${hours}h` : `${hours}h${m}m`;
}

/**
 * Kubernetes' `duration.HumanDuration` (what kubectl's AGE column shows): `45s`, `3m20s`, `15m`,
 * `5h30m`, `12h`, `3d4h`, `30d`, `2y10d`, `9y`; `0s` for up to 1s in the future, `<invalid>` beyond.
 */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 60 * 2) return `${seconds}s`;
  const minutes = Math.trunc(seconds / 60);
  if (minutes < 10) {
    const s = seconds % 60;
    return s === 0 ? `${minutes}m` : `${minutes}m${s}s`;
  }
  if (minutes < 60 * 3) return `${minutes}m`;
  const hours = Math.trunc(minutes / 60);
  if (hours < 8) {
    const m = minutes % 60;
    return m === 0 ? `${hours}h` : `${hours}h${m}m`;
  }
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) {
    const h = hours % 24;
    return h === 0 ? `${Math.trunc(hours / 24)}d` : `${Math.trunc(hours / 24)}d${h}h`;
  }
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24)}d`;
  if (hours < 24 * 365 * 8) {
    const days = Math.trunc(hours / 24);
    const dy = days % 365;
    return dy === 0 ? `${Math.trunc(days / 365)}y` : `${Math.trunc(days / 365)}y${dy}d`;
  }
  return `${Math.trunc(hours / 24 / 365)}y`;
}

/** AGE cell: time since `creationTimestamp` as kubectl shows it; `<unknown>` without a timestamp. */
export function formatAge(creationTimestamp: string | undefined, now: Date = new Date()): string {
  const created = creationTimestamp ? Date.parse(creationTimestamp) : NaN;
  if (Number.isNaN(created)) return '<unknown>';
  return humanDuration(now.getTime() - created);
}

/**
 * The Table version a request asks for, or `undefined` when it does not ask for a Table (or asks only
 * for something else). Clauses are taken in preference order; the first JSON clause decides.
 */
export function negotiateTable(accept: string | undefined): TableVersion | undefined {
  if (accept === undefined) return undefined;
  for (const range of parseAccept(accept)) {
    if (!matchesJson(range)) continue;
    const { as, g, v } = range.params;
    if (as === undefined) return undefined;
    if (as === 'Table' && g === 'meta.k8s.io' && (v === 'v1' || v === 'v1beta1')) return v;
  }
  return undefined;
}

/** True when the Accept header asks for a `meta.k8s.io` Table (v1 or v1beta1). */
export function wantsTable(accept: string | undefined): boolean {
  return negotiateTable(accept) !== undefined;
}

/** Parses `?includeObject=`; absent means Metadata, unknown values `undefined` (reject with 400). */
export function parseIncludeObject(value: string | undefined): IncludeObject | undefined {
  if (value === undefined || value === '') return 'Metadata';
  return value === 'None' || value === 'Metadata' || value === 'Object' ? value : undefined;
}

function partialObjectMetadata(metadata: RowMetadata, version: TableVersion): object {
  return { kind: 'PartialObjectMetadata', apiVersion: `meta.k8s.io/${version}`, metadata };
}

function rowObject<T extends { metadata: RowMetadata }>(
  item: T,
  include: IncludeObject,
  version: TableVersion,
): object {
  if (include === 'None') return {};
  if (include === 'Object') return { object: item };
  return { object: partialObjectMetadata(item.metadata, version) };
}

function table<T extends { metadata: RowMetadata }>(
  source: TableSource<T>,
  columns: readonly ColumnDefinition[],
  cells: (item: T, now: Date) => unknown[],
  options: TableOptions,
): object {
  const version = options.version ?? 'v1';
  const include = options.includeObject ?? 'Metadata';
  const now = options.now ?? new Date();
  const metadata: Record<string, unknown> = {};
  if (source.resourceVersion) metadata.resourceVersion = source.resourceVersion;
  if (source.continue) metadata.continue = source.continue;
  if (source.remainingItemCount !== undefined) metadata.remainingItemCount = source.remainingItemCount;
  return {
    kind: 'Table',
    apiVersion: `meta.k8s.io/${version}`,
    metadata,
    columnDefinitions: options.noHeaders ? [] : columns.map((c) => ({ ...c })),
    rows: source.items.map((item) => ({ cells: cells(item, now), ...rowObject(item, include, version) })),
  };
}

function taskSummary(status: Partial<WorkflowExecutionStatus> | undefined): string | null {
  const tasks = status?.tasks;
  if (!tasks) return null;
  const succeeded = tasks.filter((t) => t.phase === 'Succeeded').length;
  return `${succeeded}/${tasks.length}`;
}

/** Table of executions: NAME, WORKFLOW, PHASE, DURATION, AGE; wide adds REVISION, TASKS, USER. */
export function executionTable(list: TableSource<WorkflowExecutionLike>, options: TableOptions = {}): object {
  return table(
    list,
    EXECUTION_COLUMNS,
    (x, now) => [
      x.metadata.name ?? '',
      x.spec?.workflowRef?.name ?? null,
      x.status?.phase ?? null,
      formatDuration(x.status?.durationMs),
      formatAge(x.metadata.creationTimestamp, now),
      shortHash(x.status?.workflowRevision),
      taskSummary(x.status),
      x.status?.user ?? null,
    ],
    options,
  );
}

/** Table of revisions: NAME, WORKFLOW, HASH (short), AGE. */
export function revisionTable(list: TableSource<WorkflowRevisionLike>, options: TableOptions = {}): object {
  return table(
    list,
    REVISION_COLUMNS,
    (r, now) => [
      r.metadata.name ?? '',
      r.workflow ?? null,
      shortHash(r.hash),
      formatAge(r.metadata.creationTimestamp, now),
    ],
    options,
  );
}

/** A circuit breaker object as the circuitbreakers resource serves it. */
export interface CircuitBreakerLike {
  metadata: RowMetadata;
  origin: string;
  state: string;
  failureRatio: number;
  requests: number;
  openedAt?: string;
  replica: string;
}

/** Columns of `kubectl get circuitbreakers`; REQUESTS only with `-o wide`. */
const CIRCUIT_BREAKER_COLUMNS: readonly ColumnDefinition[] = Object.freeze([
  { name: 'Name', type: 'string', format: 'name', description: 'The origin, as a name.', priority: 0 },
  { name: 'Origin', type: 'string', format: '', description: 'Scheme, host and port called.', priority: 0 },
  { name: 'State', type: 'string', format: '', description: 'closed, open or half-open.', priority: 0 },
  {
    name: 'Failure Ratio',
    type: 'string',
    format: '',
    description: 'Failed calls over calls in the current window; while open, the ratio that opened it.',
    priority: 0,
  },
  {
    name: 'Opened At',
    type: 'string',
    format: '',
    description: 'When the circuit last opened (while open or half-open).',
    priority: 0,
  },
  {
    name: 'Replica',
    type: 'string',
    format: '',
    description: 'The server replica whose breakers these are.',
    priority: 0,
  },
  { name: 'Requests', type: 'integer', format: '', description: 'Calls counted in the window.', priority: 1 },
] satisfies ColumnDefinition[]);

/** Table of circuit breakers: NAME, ORIGIN, STATE, FAILURE RATIO, OPENED AT, REPLICA; wide adds REQUESTS. */
export function circuitBreakerTable(
  list: TableSource<CircuitBreakerLike>,
  options: TableOptions = {},
): object {
  return table(
    list,
    CIRCUIT_BREAKER_COLUMNS,
    (b) => [
      b.metadata.name ?? '',
      b.origin,
      b.state,
      `${Math.round(b.failureRatio * 100)}%`,
      b.openedAt ?? null,
      b.replica,
      b.requests,
    ],
    options,
  );
}
