/**
 * The execution history in PostgreSQL through `pg` (real PostgreSQL, or PGlite behind
 * pglite-socket: the same code either way).
 *
 * Ordering: every write transaction takes the history write lock (a transaction-scoped advisory
 * lock) before it draws numbers from `resource_version_seq` and records the newest one in
 * `history_state.last_rv`. Numbers therefore become visible in the order they were drawn, which is
 * what makes keyset pagination gap-free and lets watch read "everything after N" safely. Writers
 * are batches (one per replica at a time), patches and deletes, so the lock is cheap.
 */
import type pg from 'pg';
import { SyncflowError } from '../core/errors.ts';
import { EXECUTION_API_VERSION, WORKFLOW_LABEL } from '../core/model/resources.ts';
import type { ExecutionPhase, WorkflowExecutionStatus } from '../core/model/schema.ts';
import { decodeContinue, encodeContinue } from './continue-token.ts';
import type { Logger } from '../core/logger.ts';
import { executionSelector, matchesExecution, toLabelSelector, type ExecutionSelector } from './selector.ts';
import { fieldSelectorConditions, labelSelectorConditions, SqlParameters } from './sql-filter.ts';
import type {
  ExecutionFilter,
  ExecutionName,
  ExecutionList,
  ExecutionListOptions,
  ExecutionStore,
  ExecutionWatch,
  ExecutionWatchOptions,
  InsertOutcome,
  MetadataUpdate,
  NewWorkflowRevision,
  RevisionList,
  RevisionListOptions,
  TaskDurationStats,
  WorkflowRevisionRecord,
} from './store.ts';
import type { WorkflowExecution } from '../core/model/execution.ts';
import { executionRecord, type ExecutionRecord } from './record.ts';
import { WatchHub, type ChangeFeed, type ChangePage, type StoredChange } from './watch.ts';

/** Advisory lock serialising history writes (two int4 keys: "sflw", 2; also in history/migrations/003_record_batch.sql). */
const WRITE_LOCK = [0x73666c77, 2] as const;

/** Rows deleted per transaction by delete-collection and retention. */
const DELETE_BATCH = 500;

/** Options of the PostgreSQL store. */
export interface PgExecutionStoreOptions {
  /** Pool to use; the caller owns it (and must listen for its 'error' events). */
  pool: pg.Pool;
  logger: Logger;
  /** Watch polling interval (default 100 ms). */
  watchPollIntervalMs?: number;
  /** Events buffered per slow watcher before it is closed with Gone (default 10,000). */
  watchMaxBufferedEvents?: number;
}

interface ExecutionRow {
  rv: string;
  id: string;
  namespace: string;
  name: string;
  uid: string;
  workflow_name: string;
  phase: ExecutionPhase;
  created_at: Date;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  spec: WorkflowExecution['spec'] | null;
  status: WorkflowExecutionStatus | null;
}

interface ChangeRow extends ExecutionRow {
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
}

interface RevisionRow {
  namespace: string;
  name: string;
  workflow_name: string;
  hash: string;
  definition: unknown;
  created_at: Date;
  resource_version: string;
}

/** Columns of an execution as an object; `rv` is its current resourceVersion. */
const EXECUTION_COLUMNS = `e.resource_version AS rv, e.id, e.namespace, e.name, e.uid::text AS uid, e.workflow_name,
  e.phase, e.created_at, e.labels, e.annotations, e.spec, e.status`;

/**
 * Separates the rows of a batch inside each column parameter. JSON text never holds a raw control
 * character (JSON.stringify escapes them), and the plain columns (names, uid, phase, time) are
 * refused when they hold one (checkRecordable, and again here), so splitting on it is exact.
 */
const ROW_SEPARATOR = '\x01';

/**
 * A whole batch in one call of a function of the schema (history/migrations/003_record_batch.sql): one round
 * trip, its own transaction, the history write lock taken inside. Each column is one text parameter
 * (the rows' values joined by ROW_SEPARATOR, split by the server), so the client writes eleven
 * parameters per batch instead of eleven per row and escapes nothing; the task rows go in the same
 * call. spec and status stay separate json values: the server validates each once and never parses
 * the batch as one document. A prepared statement of the connection: parsed once, then only bound.
 */
const RECORD_EXECUTIONS = `SELECT uid FROM syncflow_record_executions($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) AS uid`;

/**
 * Prepared statement names are made unique per connection: pglite-socket multiplexes all
 * connections onto one backend session, where equal names would collide.
 */
const connectionIds = new WeakMap<object, number>();
let nextConnectionId = 0;
function statementName(client: object, statement: string): string {
  let id = connectionIds.get(client);
  if (id === undefined) {
    id = ++nextConnectionId;
    connectionIds.set(client, id);
  }
  return `syncflow_history_${statement}_${id}`;
}

/** The stored executions among (namespace, name) pairs given as two arrays. */
const STORED_NAMES = `SELECT e.namespace, e.name FROM unnest($1::text[], $2::text[]) AS k(namespace, name)
JOIN LATERAL (SELECT namespace, name FROM executions WHERE namespace = k.namespace AND name = k.name) e ON true`;

const MARK_LAST_RV = `UPDATE history_state SET last_rv = (SELECT last_value FROM resource_version_seq)`;

/** Opens a write transaction holding the history write lock (one simple query, two statements). */
const BEGIN_LOCKED = `BEGIN; SELECT pg_advisory_xact_lock(${WRITE_LOCK[0]}, ${WRITE_LOCK[1]})`;

/**
 * Deletes executions by id with their task rows and name reservations and writes a DELETED change
 * for each, all in the caller's transaction. Returns the change rows.
 */
const DELETE_EXECUTIONS = `
WITH d AS (DELETE FROM executions WHERE id = ANY($1::bigint[]) RETURNING *),
     t AS (DELETE FROM task_executions WHERE execution_id = ANY($1::bigint[])),
     -- A deleted execution's name is free again at once, as in Kubernetes.
     r AS (DELETE FROM execution_name_reservations WHERE (namespace, name) IN (SELECT namespace, name FROM d))
INSERT INTO execution_changes (rv, type, execution_id, namespace, name, uid, workflow_name, phase,
                               created_at, labels, annotations)
SELECT nextval('resource_version_seq'), 'DELETED', d.id, d.namespace, d.name, d.uid, d.workflow_name,
       d.phase, d.created_at, d.labels, d.annotations
FROM (SELECT * FROM d ORDER BY id) d
RETURNING rv, type, rv AS id, namespace, name, uid::text AS uid, workflow_name, phase, created_at, labels,
          annotations, NULL::json AS spec, NULL::json AS status`;

/**
 * A plain column value that would break the row separation: refused as the database refuses bad
 * data (SQLSTATE 22021), so the writer isolates the record instead of retrying the batch.
 */
function unseparable(record: ExecutionRecord): Error {
  return Object.assign(
    new Error(
      `execution ${record.namespace}/${record.name} cannot be recorded: its name, uid, workflow, phase or creation time holds a control character`,
    ),
    { code: '22021' },
  );
}

/**
 * The RECORD_EXECUTIONS parameters of a batch: per column, the rows' values joined by ROW_SEPARATOR
 * (the same record twice goes once). The plain columns are checked for the separator.
 */
function batchParameters(batch: readonly ExecutionRecord[]): string[] {
  const columns: string[][] = [[], [], [], [], [], [], [], [], [], [], []];
  const seen = new Set<string>();
  for (const record of batch) {
    if (seen.has(record.uid)) continue;
    seen.add(record.uid);
    const row = record.row;
    for (let c = 0; c < 6; c++) {
      const value = row[c] as string;
      if (value.includes(ROW_SEPARATOR)) throw unseparable(record);
      (columns[c] as string[]).push(value);
    }
    for (let c = 6; c < 10; c++) (columns[c] as string[]).push(row[c] as string);
    (columns[10] as string[]).push(JSON.stringify(record.tasks));
  }
  return columns.map((column) => column.join(ROW_SEPARATOR));
}

function notFound(namespace: string, name: string): SyncflowError {
  return new SyncflowError(
    'NotFound',
    `workflowexecutions "${name}" not found in namespace "${namespace}"; list executions to find its name`,
  );
}

/** RFC 3339 with seconds precision unless the time has milliseconds. */
function timestamp(date: Date): string {
  return date.toISOString().replace('.000Z', 'Z');
}

function parseRv(value: string | undefined, field: string): number {
  if (value === undefined || value === '') return 0;
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) {
    throw new SyncflowError(
      'BadRequest',
      `${field}: "${value}" is not a resourceVersion; use one returned by list or get`,
      {
        causes: [{ code: 'FieldInvalid', field, message: 'not a resourceVersion' }],
      },
    );
  }
  return Number(value);
}

/** Builds the API object of a row; rows without spec (DELETED changes) give the metadata-only form. */
function toExecution(row: ExecutionRow): WorkflowExecution {
  const metadata: WorkflowExecution['metadata'] = {
    name: row.name,
    namespace: row.namespace,
    uid: row.uid,
    labels: row.labels,
    creationTimestamp: timestamp(row.created_at),
    resourceVersion: String(row.rv),
  };
  if (Object.keys(row.annotations).length > 0) metadata.annotations = row.annotations;
  if (row.spec === null || row.status === null) {
    return {
      apiVersion: EXECUTION_API_VERSION,
      kind: 'WorkflowExecution',
      metadata,
      spec: { workflowRef: { name: row.workflow_name } },
      status: { phase: row.phase },
    };
  }
  return {
    apiVersion: EXECUTION_API_VERSION,
    kind: 'WorkflowExecution',
    metadata,
    spec: row.spec,
    status: row.status,
  };
}

function toRevision(row: RevisionRow): WorkflowRevisionRecord {
  return {
    namespace: row.namespace,
    name: row.name,
    workflowName: row.workflow_name,
    hash: row.hash,
    definition: row.definition,
    creationTimestamp: timestamp(row.created_at),
    resourceVersion: String(row.resource_version),
  };
}

/** A filter compiled once: parsed selectors plus the in-memory matcher watch uses. */
interface CompiledFilter extends ExecutionSelector {
  createdAfter: Date | undefined;
  createdBefore: Date | undefined;
}

function compileFilter(filter: ExecutionFilter): CompiledFilter {
  return {
    ...executionSelector(filter),
    createdAfter: filter.createdAfter,
    createdBefore: filter.createdBefore,
  };
}

function filterConditions(filter: CompiledFilter, params: SqlParameters): string[] {
  const conditions: string[] = [];
  if (filter.namespace !== undefined) conditions.push(`e.namespace = ${params.add(filter.namespace)}`);
  conditions.push(
    ...labelSelectorConditions(filter.labels, params, {
      labels: 'e.labels',
      workflowName: 'e.workflow_name',
    }),
  );
  conditions.push(...fieldSelectorConditions(filter.fields, params, 'e'));
  if (filter.createdAfter) conditions.push(`e.created_at >= ${params.add(filter.createdAfter)}`);
  if (filter.createdBefore) conditions.push(`e.created_at < ${params.add(filter.createdBefore)}`);
  return conditions;
}

function checkLimit(limit: number | undefined): number {
  if (limit === undefined || limit === 0) return 0;
  if (!Number.isSafeInteger(limit) || limit < 0) {
    throw new SyncflowError(
      'BadRequest',
      `limit: ${limit} is not a non-negative integer; use e.g. limit=500`,
      {
        causes: [{ code: 'FieldInvalid', field: 'limit', message: 'must be a non-negative integer' }],
      },
    );
  }
  return limit;
}

/** The execution history in PostgreSQL. */
export class PgExecutionStore implements ExecutionStore, ChangeFeed {
  private readonly pool: pg.Pool;
  private readonly logger: Logger;
  private readonly hub: WatchHub;
  /** Revisions known to be stored, so recording a known one costs no round trip. */
  private readonly knownRevisions = new Map<string, WorkflowRevisionRecord>();

  constructor(options: PgExecutionStoreOptions) {
    this.pool = options.pool;
    this.logger = options.logger;
    this.hub = new WatchHub({
      feed: this,
      logger: options.logger,
      ...(options.watchPollIntervalMs !== undefined ? { pollIntervalMs: options.watchPollIntervalMs } : {}),
      ...(options.watchMaxBufferedEvents !== undefined
        ? { maxBufferedEvents: options.watchMaxBufferedEvents }
        : {}),
    });
  }

  /** Runs `work` in a transaction holding the history write lock. */
  private async writeTransaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let failure: Error | undefined;
    // A checked-out connection that dies between queries emits 'error'; the failing query reports it.
    const onError = (error: Error) => {
      failure = error;
    };
    client.on('error', onError);
    try {
      // Round trips are most of a small write's cost: BEGIN and the lock go in one simple query.
      await client.query(BEGIN_LOCKED);
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      failure = error as Error;
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      // A connection that failed mid-transaction may be broken: let the pool discard it.
      client.off('error', onError);
      client.release(failure);
    }
  }

  async insertExecutions(batch: readonly WorkflowExecution[]): Promise<InsertOutcome[]> {
    return this.insertRecords(batch.map(executionRecord));
  }

  async insertRecords(batch: readonly ExecutionRecord[]): Promise<InsertOutcome[]> {
    if (batch.length === 0) return [];
    const values = batchParameters(batch);
    const client = await this.pool.connect();
    let failure: Error | undefined;
    try {
      const result = await client.query<{ uid: string }>({
        name: statementName(client, 'record_executions'),
        text: RECORD_EXECUTIONS,
        values,
      });
      if (result.rows.length === batch.length) return batch.map(() => 'inserted' as const);
      const inserted = new Set(result.rows.map((r) => r.uid));
      // Some were not inserted: a retry of a batch that did commit (same uid), a name conflict, or
      // the same record twice in the batch (sent once).
      const missing = batch.filter((x) => !inserted.has(x.uid));
      const existing = await client.query<{ namespace: string; name: string; uid: string }>(
        `SELECT namespace, name, uid::text AS uid FROM executions
         WHERE (namespace, name) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
        [missing.map((x) => x.namespace), missing.map((x) => x.name)],
      );
      const owner = new Map(existing.rows.map((r) => [`${r.namespace}/${r.name}`, r.uid]));
      return batch.map((x) => {
        if (inserted.has(x.uid)) return 'inserted';
        return owner.get(`${x.namespace}/${x.name}`) === x.uid ? 'duplicate' : 'conflict';
      });
    } catch (error) {
      failure = error as Error;
      throw error;
    } finally {
      // A connection whose query failed may be broken: let the pool discard it.
      client.release(failure);
    }
  }

  async get(namespace: string, name: string): Promise<WorkflowExecution | undefined> {
    const result = await this.pool.query<ExecutionRow>(
      `SELECT ${EXECUTION_COLUMNS} FROM executions e WHERE e.namespace = $1 AND e.name = $2`,
      [namespace, name],
    );
    const row = result.rows[0];
    return row ? toExecution(row) : undefined;
  }

  async storedNames(names: readonly ExecutionName[]): Promise<Set<string>> {
    if (names.length === 0) return new Set();
    // A lateral join on the unique index: planned in 0.07 ms where `(namespace, name) IN (unnest)`
    // took 0.37 ms (it is planned on every call; EXPLAIN ANALYZE, PostgreSQL 15, 20,000 rows).
    // A prepared statement of the connection (asked about every batch of generated names): bound,
    // not parsed and planned again each time.
    const client = await this.pool.connect();
    let failure: Error | undefined;
    try {
      const result = await client.query<{ namespace: string; name: string }>({
        name: statementName(client, 'stored_names'),
        text: STORED_NAMES,
        values: [names.map((n) => n.namespace), names.map((n) => n.name)],
      });
      return new Set(result.rows.map((r) => `${r.namespace}/${r.name}`));
    } catch (error) {
      failure = error as Error;
      throw error;
    } finally {
      // A connection whose query failed may be broken: let the pool discard it.
      client.release(failure);
    }
  }

  async reserveName(namespace: string, name: string, ttlMs: number): Promise<boolean> {
    // One statement: refused when an execution has the name or an unexpired reservation holds it;
    // two replicas reserving at once meet on the primary key and one of them gets no row back.
    const result = await this.pool.query(
      `INSERT INTO execution_name_reservations (namespace, name, expires_at)
       SELECT $1, $2, now() + $3 * interval '1 millisecond'
       WHERE NOT EXISTS (SELECT 1 FROM executions WHERE namespace = $1 AND name = $2)
       ON CONFLICT (namespace, name) DO UPDATE SET expires_at = EXCLUDED.expires_at
         WHERE execution_name_reservations.expires_at < now()
       RETURNING 1`,
      [namespace, name, ttlMs],
    );
    return result.rowCount === 1;
  }

  async releaseName(namespace: string, name: string): Promise<void> {
    await this.pool.query('DELETE FROM execution_name_reservations WHERE namespace = $1 AND name = $2', [
      namespace,
      name,
    ]);
  }

  async purgeNameReservations(batchSize: number): Promise<number> {
    const result = await this.pool.query(
      `DELETE FROM execution_name_reservations WHERE (namespace, name) IN (
         SELECT namespace, name FROM execution_name_reservations WHERE expires_at < now() LIMIT $1)`,
      [batchSize],
    );
    return result.rowCount ?? 0;
  }

  async list(options: ExecutionListOptions = {}): Promise<ExecutionList> {
    const filter = compileFilter(options);
    const limit = checkLimit(options.limit);
    const position = options.continue ? decodeContinue(options.continue) : undefined;
    const params = new SqlParameters();
    const conditions = filterConditions(filter, params);
    if (position) {
      conditions.push(`e.id <= ${params.add(position.snapshot)}`, `e.id < ${params.add(position.after)}`);
    }
    // One statement, one snapshot: the rows and the last_rv they are consistent with.
    const sql = `SELECT s.last_rv, page.* FROM history_state s LEFT JOIN LATERAL (
        SELECT ${EXECUTION_COLUMNS} FROM executions e
        ${conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : ''}
        ORDER BY e.id DESC ${limit > 0 ? `LIMIT ${params.add(limit + 1)}` : ''}
      ) page ON true`;
    const result = await this.pool.query<ExecutionRow & { last_rv: string }>(sql, params.values);
    const rows = result.rows.filter((r) => r.id !== null);
    const snapshot = position?.snapshot ?? Number(result.rows[0]?.last_rv ?? 0);
    const more = limit > 0 && rows.length > limit;
    const page = more ? rows.slice(0, limit) : rows;
    const list: ExecutionList = { items: page.map(toExecution), resourceVersion: String(snapshot) };
    const last = page[page.length - 1];
    if (more && last) list.continue = encodeContinue({ snapshot, after: Number(last.id) });
    return list;
  }

  async currentResourceVersion(): Promise<string> {
    const result = await this.pool.query<{ last_rv: string }>('SELECT last_rv FROM history_state');
    return String(result.rows[0]?.last_rv ?? '0');
  }

  async readChanges(afterRv: number, limit: number): Promise<ChangePage> {
    const result = await this.pool.query<ChangeRow>(
      `SELECT * FROM (
        (SELECT 'ADDED' AS type, e.id AS event_rv, ${EXECUTION_COLUMNS}
         FROM executions e WHERE e.id > $1 ORDER BY e.id LIMIT $2)
        UNION ALL
        (SELECT c.type, c.rv AS event_rv, c.rv, c.execution_id, c.namespace, c.name, c.uid::text, c.workflow_name,
                c.phase, c.created_at, c.labels, c.annotations,
                CASE WHEN c.type = 'MODIFIED' THEN e.spec END,
                CASE WHEN c.type = 'MODIFIED' THEN e.status END
         FROM execution_changes c LEFT JOIN executions e ON e.id = c.execution_id
         WHERE c.rv > $1 ORDER BY c.rv LIMIT $2)
      ) x ORDER BY event_rv LIMIT $2`,
      [afterRv, limit],
    );
    // Read after the changes: a compaction that could have hidden some of them shows here.
    const state = await this.pool.query<{ last_rv: string; compacted_rv: string }>(
      'SELECT last_rv, compacted_rv FROM history_state',
    );
    const compacted = Number(state.rows[0]?.compacted_rv ?? 0);
    if (afterRv < compacted) {
      throw new SyncflowError(
        'Gone',
        `too old resource version: ${afterRv} (the history keeps changes after ${compacted}); list again and watch from the list's resourceVersion`,
      );
    }
    const changes: StoredChange[] = result.rows.map((row) => {
      const rv = Number((row as ChangeRow & { event_rv: string }).event_rv);
      const object = toExecution({ ...row, rv: String(rv) });
      return { rv, event: { type: row.type, object } };
    });
    return { changes, lastRv: Number(state.rows[0]?.last_rv ?? 0) };
  }

  async watch(options: ExecutionWatchOptions = {}): Promise<ExecutionWatch> {
    const filter = compileFilter(options);
    const fromRv = parseRv(options.resourceVersion, 'resourceVersion');
    return this.hub.watch(fromRv, (event) => matchesExecution(filter, event.object));
  }

  async updateMetadata(namespace: string, name: string, update: MetadataUpdate): Promise<WorkflowExecution> {
    const expectedRv =
      update.resourceVersion === undefined
        ? undefined
        : parseRv(update.resourceVersion, 'metadata.resourceVersion');
    return this.writeTransaction(async (client) => {
      const current = await client.query<{ id: string; resource_version: string; workflow_name: string }>(
        'SELECT id, resource_version, workflow_name FROM executions WHERE namespace = $1 AND name = $2 FOR UPDATE',
        [namespace, name],
      );
      const row = current.rows[0];
      if (!row) throw notFound(namespace, name);
      if (expectedRv !== undefined && Number(row.resource_version) !== expectedRv) {
        throw new SyncflowError(
          'Conflict',
          `metadata.resourceVersion: workflowexecutions "${name}" has been modified (stored ${row.resource_version}, given ${expectedRv}); get it again and reapply your change`,
        );
      }
      if (update.labels[WORKFLOW_LABEL] !== row.workflow_name) {
        const message = `label ${WORKFLOW_LABEL} is set by the server and cannot be changed or removed; keep it "${row.workflow_name}"`;
        throw new SyncflowError('FieldInvalid', `metadata.labels: ${message}`, {
          causes: [{ code: 'FieldInvalid', field: `metadata.labels[${WORKFLOW_LABEL}]`, message }],
        });
      }
      await client.query(
        `WITH v AS (SELECT nextval('resource_version_seq') AS rv),
              u AS (UPDATE executions e SET labels = $2, annotations = $3, resource_version = v.rv
                    FROM v WHERE e.id = $1 RETURNING e.*)
         INSERT INTO execution_changes (rv, type, execution_id, namespace, name, uid, workflow_name, phase,
                                        created_at, labels, annotations)
         SELECT u.resource_version, 'MODIFIED', u.id, u.namespace, u.name, u.uid, u.workflow_name, u.phase,
                u.created_at, u.labels, u.annotations FROM u`,
        [row.id, JSON.stringify(update.labels), JSON.stringify(update.annotations)],
      );
      await client.query(MARK_LAST_RV);
      const updated = await client.query<ExecutionRow>(
        `SELECT ${EXECUTION_COLUMNS} FROM executions e WHERE e.id = $1`,
        [row.id],
      );
      return toExecution(updated.rows[0] as ExecutionRow);
    });
  }

  /** Deletes executions by id inside a write transaction; returns their DELETED change rows. */
  private async deleteIds(client: pg.PoolClient, ids: string[]): Promise<ExecutionRow[]> {
    if (ids.length === 0) return [];
    const result = await client.query<ExecutionRow>(DELETE_EXECUTIONS, [ids]);
    await client.query(MARK_LAST_RV);
    return result.rows;
  }

  async delete(namespace: string, name: string): Promise<WorkflowExecution> {
    return this.writeTransaction(async (client) => {
      const current = await client.query<ExecutionRow>(
        `SELECT ${EXECUTION_COLUMNS} FROM executions e WHERE e.namespace = $1 AND e.name = $2 FOR UPDATE`,
        [namespace, name],
      );
      const row = current.rows[0];
      if (!row) throw notFound(namespace, name);
      const [deleted] = await this.deleteIds(client, [row.id]);
      return toExecution({ ...row, rv: deleted?.rv ?? row.rv });
    });
  }

  async deleteCollection(filter: ExecutionFilter): Promise<WorkflowExecution[]> {
    const compiled = compileFilter(filter);
    const deleted: WorkflowExecution[] = [];
    const ceiling = Number(await this.currentResourceVersion());
    for (;;) {
      const rows = await this.writeTransaction(async (client) => {
        const params = new SqlParameters();
        const conditions = [...filterConditions(compiled, params), `e.id <= ${params.add(ceiling)}`];
        const ids = await client.query<{ id: string }>(
          `SELECT e.id FROM executions e WHERE ${conditions.join(' AND ')} ORDER BY e.id LIMIT ${DELETE_BATCH}`,
          params.values,
        );
        return this.deleteIds(
          client,
          ids.rows.map((r) => r.id),
        );
      });
      deleted.push(...rows.map(toExecution));
      if (rows.length < DELETE_BATCH) return deleted;
    }
  }

  /**
   * Deletes up to `batchSize` executions created before `cutoff` (oldest first) in one
   * transaction, writing DELETED changes for watchers; returns how many it deleted.
   */
  async deleteCreatedBefore(cutoff: Date, batchSize: number): Promise<number> {
    return this.writeTransaction(async (client) => {
      const ids = await client.query<{ id: string }>(
        'SELECT id FROM executions WHERE created_at < $1 ORDER BY created_at LIMIT $2',
        [cutoff, batchSize],
      );
      return (
        await this.deleteIds(
          client,
          ids.rows.map((r) => r.id),
        )
      ).length;
    });
  }

  /**
   * Purges up to `batchSize` MODIFIED/DELETED changes recorded before `cutoff` and raises the
   * compacted resourceVersion accordingly (watches from before it get Gone); returns how many.
   */
  async compactChanges(cutoff: Date, batchSize: number): Promise<number> {
    const result = await this.pool.query<{ purged: string }>(
      `WITH d AS (DELETE FROM execution_changes WHERE rv IN (
                    SELECT rv FROM execution_changes WHERE changed_at < $1 ORDER BY rv LIMIT $2)
                  RETURNING rv),
            u AS (UPDATE history_state SET compacted_rv = GREATEST(compacted_rv, (SELECT max(rv) FROM d))
                  WHERE EXISTS (SELECT 1 FROM d))
       SELECT count(*) AS purged FROM d`,
      [cutoff, batchSize],
    );
    return Number(result.rows[0]?.purged ?? 0);
  }

  async recordRevision(
    revision: NewWorkflowRevision,
  ): Promise<{ revision: WorkflowRevisionRecord; created: boolean }> {
    const key = `${revision.namespace}/${revision.workflowName}/${revision.hash}`;
    const known = this.knownRevisions.get(key);
    if (known) return { revision: known, created: false };
    const hex = /^(?:sha256:)?([0-9a-f]{10,})$/.exec(revision.hash)?.[1];
    if (!hex) {
      const message = `"${revision.hash}" is not a sha256 revision; pass Workflow status.revision (sha256:<hex>)`;
      throw new SyncflowError('FieldInvalid', `hash: ${message}`, {
        causes: [{ code: 'FieldInvalid', field: 'hash', message }],
      });
    }
    const name = `${revision.workflowName}-${hex.slice(0, 10)}`;
    const result = await this.writeTransaction(async (client) => {
      const inserted = await client.query<RevisionRow>(
        `INSERT INTO workflow_revisions (namespace, name, workflow_name, hash, definition, resource_version)
         VALUES ($1, $2, $3, $4, $5, nextval('resource_version_seq'))
         ON CONFLICT (namespace, workflow_name, hash) DO NOTHING RETURNING *`,
        [revision.namespace, name, revision.workflowName, revision.hash, JSON.stringify(revision.definition)],
      );
      if (inserted.rows[0]) {
        await client.query(MARK_LAST_RV);
        return { row: inserted.rows[0], created: true };
      }
      const existing = await client.query<RevisionRow>(
        'SELECT * FROM workflow_revisions WHERE namespace = $1 AND workflow_name = $2 AND hash = $3',
        [revision.namespace, revision.workflowName, revision.hash],
      );
      return { row: existing.rows[0] as RevisionRow, created: false };
    });
    const record = toRevision(result.row);
    this.knownRevisions.set(key, record);
    if (result.created)
      this.logger.info({ namespace: record.namespace, revision: record.name }, 'recorded workflow revision');
    return { revision: record, created: result.created };
  }

  async getRevision(namespace: string, name: string): Promise<WorkflowRevisionRecord | undefined> {
    const result = await this.pool.query<RevisionRow>(
      'SELECT * FROM workflow_revisions WHERE namespace = $1 AND name = $2',
      [namespace, name],
    );
    return result.rows[0] ? toRevision(result.rows[0]) : undefined;
  }

  async listRevisions(options: RevisionListOptions = {}): Promise<RevisionList> {
    const limit = checkLimit(options.limit);
    const position = options.continue ? decodeContinue(options.continue) : undefined;
    const params = new SqlParameters();
    const conditions: string[] = [];
    if (options.namespace !== undefined) conditions.push(`r.namespace = ${params.add(options.namespace)}`);
    conditions.push(
      ...labelSelectorConditions(toLabelSelector(options.labelSelector), params, {
        labels: `jsonb_build_object('${WORKFLOW_LABEL}', r.workflow_name)`,
        workflowName: 'r.workflow_name',
      }),
    );
    if (position) {
      conditions.push(
        `r.resource_version <= ${params.add(position.snapshot)}`,
        `r.resource_version < ${params.add(position.after)}`,
      );
    }
    const sql = `SELECT s.last_rv, page.* FROM history_state s LEFT JOIN LATERAL (
        SELECT r.* FROM workflow_revisions r ${conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : ''}
        ORDER BY r.resource_version DESC ${limit > 0 ? `LIMIT ${params.add(limit + 1)}` : ''}
      ) page ON true`;
    const result = await this.pool.query<RevisionRow & { last_rv: string }>(sql, params.values);
    const rows = result.rows.filter((r) => r.name !== null);
    const snapshot = position?.snapshot ?? Number(result.rows[0]?.last_rv ?? 0);
    const more = limit > 0 && rows.length > limit;
    const page = more ? rows.slice(0, limit) : rows;
    const list: RevisionList = { items: page.map(toRevision), resourceVersion: String(snapshot) };
    const last = page[page.length - 1];
    if (more && last) list.continue = encodeContinue({ snapshot, after: Number(last.resource_version) });
    return list;
  }

  async taskDurationStats(options: {
    namespace: string;
    workflowName: string;
    recentExecutions?: number;
  }): Promise<TaskDurationStats[]> {
    const result = await this.pool.query<{ task_id: string; p50: number; p90: number; samples: number }>(
      `SELECT t.task_id,
              percentile_cont(0.5) WITHIN GROUP (ORDER BY t.duration_ms) AS p50,
              percentile_cont(0.9) WITHIN GROUP (ORDER BY t.duration_ms) AS p90,
              count(*)::int AS samples
       FROM (SELECT id FROM executions WHERE namespace = $1 AND workflow_name = $2 ORDER BY id DESC LIMIT $3) e
       JOIN task_executions t ON t.execution_id = e.id
       WHERE t.phase = 'Succeeded' AND t.duration_ms IS NOT NULL
       GROUP BY t.task_id ORDER BY t.task_id`,
      [options.namespace, options.workflowName, options.recentExecutions ?? 200],
    );
    return result.rows.map((r) => ({ taskId: r.task_id, p50Ms: r.p50, p90Ms: r.p90, samples: r.samples }));
  }

  /** Ends every watch; the pool stays open (its owner closes it). */
  close(): void {
    this.hub.stop();
  }
}
