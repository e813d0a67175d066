/**
 * The bounded, batched, asynchronous history writer: executions are queued in memory and written
 * in batches (one transaction each, task rows included) when a batch is full or after at most
 * `flushIntervalMs`. Nothing is dropped silently: while the database is slow or down, batches are
 * retried and the queue grows up to `maxQueued`; from then on `admit()` refuses new executions with
 * `ServiceUnavailable` *before* they run, and accepts again as soon as the queue drains.
 */
import { SyncflowError } from '../core/errors.ts';
import { errorFields, type Logger } from '../core/logger.ts';
import type { HistoryMetrics } from './metrics.ts';
import {
  executionFromRecord,
  executionRecord,
  renamedRecord,
  REQUESTED_NAME_ANNOTATION,
  type ExecutionRecord,
} from './record.ts';
import type { ExecutionBatchSink } from './store.ts';
import type { WorkflowExecution } from '../core/model/execution.ts';

/** Options of the writer; durations in ms. */
export interface ExecutionWriterOptions {
  sink: ExecutionBatchSink;
  logger: Logger;
  /** Metrics to update (create them with `createHistoryMetrics`); none when absent. */
  metrics?: HistoryMetrics;
  /** Executions queued or reserved at most; beyond it `admit()` refuses (default 20,000). */
  maxQueued?: number;
  /** Executions per transaction at most (default 1,000). */
  maxBatch?: number;
  /** Longest time an execution waits before its batch is written (default 20, at most 50). */
  flushIntervalMs?: number;
  /** First retry delay after a failed batch (default 100); doubles up to `maxRetryDelayMs`. */
  retryDelayMs?: number;
  /** Longest retry delay (default 2,000). */
  maxRetryDelayMs?: number;
}

/** A place in the writer's queue, reserved before an execution runs. */
export interface WriteReservation {
  /** Queues the finished execution (validated now; throws FieldInvalid naming the bad field). */
  record(execution: WorkflowExecution): void;
  /** Gives the place back when the execution will not be recorded (it did not run). */
  release(): void;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether text holds a control character: never in a name, and the batch insert separates rows with one (pg-store.ts). */
function hasControl(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) < 0x20) return true;
  return false;
}

function plainText(problems: [string, string][], field: string, value: string | undefined): void {
  if (!value) problems.push([field, 'is required']);
  else if (hasControl(value)) problems.push([field, 'must not contain control characters']);
}

/** Checks what the database would reject, so one bad execution cannot block a batch. */
export function checkRecordable(execution: WorkflowExecution): void {
  const m = execution.metadata;
  const problems: [string, string][] = [];
  plainText(problems, 'metadata.namespace', m?.namespace);
  plainText(problems, 'metadata.name', m?.name);
  if (!m?.uid || !UUID.test(m.uid))
    problems.push(['metadata.uid', 'must be a UUID (use crypto.randomUUID())']);
  if (
    !m?.creationTimestamp ||
    hasControl(m.creationTimestamp) ||
    Number.isNaN(Date.parse(m.creationTimestamp))
  ) {
    problems.push(['metadata.creationTimestamp', 'must be an RFC 3339 time (use new Date().toISOString())']);
  }
  plainText(problems, 'spec.workflowRef.name', execution.spec?.workflowRef?.name);
  plainText(problems, 'status.phase', execution.status?.phase);
  if (problems.length > 0) {
    throw new SyncflowError(
      'FieldInvalid',
      `execution cannot be recorded: ${problems.map(([f, p]) => `${f} ${p}`).join('; ')}`,
      { causes: problems.map(([field, message]) => ({ code: 'FieldInvalid' as const, field, message })) },
    );
  }
}

/**
 * Whether the database rejected the data itself (SQLSTATE class 22 data exception or 23 integrity
 * violation). Everything else (connection loss, shutdown, a missing table) is retried: dropping
 * executions because of an operational problem would lose them.
 */
export function isDataError(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  return typeof code === 'string' && /^(22|23)[0-9A-Z]{3}$/.test(code);
}

interface Pending {
  /** Serialised when recorded: the queue keeps strings, not the execution's object graph. */
  record: ExecutionRecord;
  sequence: number;
}

/**
 * A place in the queue: an object with two methods instead of three closures per execution (the
 * writer is on every execution's path).
 */
class Reservation implements WriteReservation {
  private used = false;

  constructor(private readonly writer: ExecutionWriter) {}

  record(execution: WorkflowExecution): void {
    let record: ExecutionRecord;
    try {
      checkRecordable(execution);
      // Serialised now: what cannot be serialised fails here, on the caller's path, not in a batch.
      record = executionRecord(execution);
    } catch (error) {
      this.use();
      throw error;
    }
    this.use();
    this.writer.enqueueRecorded(record);
  }

  release(): void {
    this.use();
  }

  private use(): void {
    if (this.used)
      throw new SyncflowError('InternalError', 'this write reservation was already used or released');
    this.used = true;
    this.writer.unreserve();
  }
}

/** Queues executions and writes them in batches through a sink. */
export class ExecutionWriter {
  private readonly sink: ExecutionBatchSink;
  private readonly logger: Logger;
  private readonly metrics: HistoryMetrics | undefined;
  private readonly maxQueued: number;
  private readonly maxBatch: number;
  private readonly flushIntervalMs: number;
  private readonly retryDelayMs: number;
  private readonly maxRetryDelayMs: number;

  /** Recorded and not yet durable, oldest first; written entries leave it at once (nothing keeps them alive). */
  private queue: Pending[] = [];
  /** The newest queued entry of each `namespace/name`: read-your-writes in one lookup, not a scan. */
  private readonly byName = new Map<string, Pending>();
  private reserved = 0;
  private enqueued = 0;
  private durable = 0;
  private timer: NodeJS.Timeout | undefined;
  private writing = false;
  private closed = false;
  private abandoned = false;
  private failingSince: number | undefined;
  private lastError: unknown;
  private retryDelay: number;
  private readonly waiters: { sequence: number; resolve: () => void }[] = [];

  constructor(options: ExecutionWriterOptions) {
    const flushIntervalMs = options.flushIntervalMs ?? 20;
    if (!(flushIntervalMs > 0 && flushIntervalMs <= 50)) {
      throw new SyncflowError('FieldInvalid', `flushIntervalMs: ${flushIntervalMs} must be in (0, 50] ms`);
    }
    this.sink = options.sink;
    this.logger = options.logger;
    this.metrics = options.metrics;
    this.maxQueued = options.maxQueued ?? 20_000;
    this.maxBatch = options.maxBatch ?? 1_000;
    this.flushIntervalMs = flushIntervalMs;
    this.retryDelayMs = options.retryDelayMs ?? 100;
    this.maxRetryDelayMs = options.maxRetryDelayMs ?? 2_000;
    this.retryDelay = this.retryDelayMs;
  }

  /** Executions queued (not yet durable) plus places reserved by running executions. */
  get depth(): number {
    return this.queue.length + this.reserved;
  }

  /** Whether `admit()` would succeed now. */
  canAccept(): boolean {
    return !this.closed && this.depth < this.maxQueued;
  }

  /**
   * Reserves a place for an execution about to run. Throws `SyncflowError('ServiceUnavailable')`
   * when the writer is closed or the queue is at its bound: the caller must not run the execution.
   */
  admit(): WriteReservation {
    if (!this.canAccept()) {
      this.metrics?.refused.inc();
      const why = this.closed
        ? 'the server is shutting down'
        : `${this.depth} executions are waiting for the history database (bound ${this.maxQueued})`;
      throw new SyncflowError(
        'ServiceUnavailable',
        `execution history cannot accept more executions: ${why}; retry shortly`,
        this.lastError === undefined ? {} : { cause: this.lastError },
      );
    }
    this.reserved++;
    return new Reservation(this);
  }

  /** Gives back a reserved place (a reservation was used or released). */
  unreserve(): void {
    this.reserved--;
  }

  /** Queues a record whose place was reserved. */
  enqueueRecorded(record: ExecutionRecord): void {
    this.enqueue(record);
  }

  /** Admits and queues in one step, for callers that record after the fact (throws like `admit`). */
  record(execution: WorkflowExecution): void {
    this.admit().record(execution);
  }

  /**
   * A recorded execution that is not durable yet (newest first), for read-your-writes: once it is
   * written it is gone from here and readable from the store, in that order.
   */
  pending(namespace: string, name: string): WorkflowExecution | undefined {
    if (this.byName.size === 0) return undefined;
    const entry = this.byName.get(`${namespace}/${name}`);
    return entry ? executionFromRecord(entry.record) : undefined;
  }

  private enqueue(record: ExecutionRecord): void {
    const entry: Pending = { record, sequence: ++this.enqueued };
    this.queue.push(entry);
    this.byName.set(`${record.namespace}/${record.name}`, entry);
    if (this.queue.length >= this.maxBatch) this.schedule(0);
    else this.schedule(this.flushIntervalMs);
  }

  private schedule(delayMs: number): void {
    if (this.writing || this.abandoned) return;
    if (this.timer) {
      if (delayMs > 0) return;
      clearTimeout(this.timer);
    }
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.writeNext();
    }, delayMs);
  }

  private async writeNext(): Promise<void> {
    if (this.writing || this.queue.length === 0) return;
    this.writing = true;
    const batch = this.queue.slice(0, this.maxBatch);
    const started = performance.now();
    let delay = 0;
    try {
      await this.writeBatch(batch.map((p) => p.record));
      this.metrics?.flushDuration.observe({ result: 'ok' }, (performance.now() - started) / 1000);
      this.metrics?.written.inc(batch.length);
      this.queue.splice(0, batch.length);
      for (const written of batch) {
        const key = `${written.record.namespace}/${written.record.name}`;
        // A newer entry of the same name (queued after this batch was taken) stays readable.
        if (this.byName.get(key) === written) this.byName.delete(key);
      }
      this.markDurable(batch[batch.length - 1]?.sequence ?? this.durable);
      if (this.failingSince !== undefined) {
        this.logger.info(
          { outageMs: Date.now() - this.failingSince, queued: this.depth },
          'history database reachable again; writing the buffered executions',
        );
      }
      this.failingSince = undefined;
      this.lastError = undefined;
      this.retryDelay = this.retryDelayMs;
    } catch (error) {
      this.metrics?.flushDuration.observe({ result: 'error' }, (performance.now() - started) / 1000);
      this.metrics?.flushFailures.inc();
      this.lastError = error;
      if (this.failingSince === undefined) {
        this.failingSince = Date.now();
        this.logger.warn(
          { ...errorFields(error), queued: this.depth, bound: this.maxQueued },
          'history batch failed; buffering executions and retrying',
        );
      }
      delay = this.retryDelay;
      this.retryDelay = Math.min(this.retryDelay * 2, this.maxRetryDelayMs);
    } finally {
      this.writing = false;
    }
    const remaining = this.queue.length;
    if (remaining > 0)
      this.schedule(delay > 0 ? delay : remaining >= this.maxBatch ? 0 : this.flushIntervalMs);
  }

  /**
   * Writes a batch; a batch the database rejects for its data (not the connection) is split until
   * the bad executions are isolated, which are then dropped with an error log naming them. An
   * execution whose name another one took meanwhile (another replica: this replica's own names are
   * reserved before they run) was acknowledged already, so it is not dropped: it is written under a
   * name made unique by its uid, annotated with the name it was given, and logged as an error.
   */
  private async writeBatch(batch: ExecutionRecord[], renamed = false): Promise<void> {
    try {
      const outcomes = await this.sink.insertRecords(batch);
      const conflicts = batch.filter((_, i) => outcomes[i] === 'conflict');
      for (const m of conflicts) {
        this.metrics?.conflicts.inc();
        if (renamed) {
          // Unreachable unless uids repeat: the new name contains the uid.
          this.logger.error(
            { namespace: m.namespace, execution: m.name, uid: m.uid },
            'execution not recorded: its uid-derived name is taken too',
          );
          continue;
        }
        this.logger.error(
          { namespace: m.namespace, execution: m.name, uid: m.uid, recordedAs: renamedRecord(m).name },
          `execution recorded under another name: another execution took its name after it was acknowledged (another replica); its annotation ${REQUESTED_NAME_ANNOTATION} holds the name its creator was given`,
        );
      }
      if (conflicts.length > 0 && !renamed) await this.writeBatch(conflicts.map(renamedRecord), true);
    } catch (error) {
      if (!isDataError(error)) throw error;
      if (batch.length === 1) {
        const m = batch[0];
        this.metrics?.flushFailures.inc();
        this.logger.error(
          { ...errorFields(error), namespace: m?.namespace, execution: m?.name, uid: m?.uid },
          'execution not recorded: the database rejected it',
        );
        return;
      }
      const half = Math.ceil(batch.length / 2);
      await this.writeBatch(batch.slice(0, half), renamed);
      await this.writeBatch(batch.slice(half), renamed);
    }
  }

  private markDurable(sequence: number): void {
    this.durable = sequence;
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const waiter = this.waiters[i];
      if (waiter && waiter.sequence <= sequence) {
        this.waiters.splice(i, 1);
        waiter.resolve();
      }
    }
  }

  /** Resolves when every execution queued before the call is durable (writes it now). */
  flush(): Promise<void> {
    const target = this.enqueued;
    if (this.durable >= target) return Promise.resolve();
    const done = new Promise<void>((resolve) => this.waiters.push({ sequence: target, resolve }));
    this.schedule(0);
    return done;
  }

  /**
   * Stops admitting, then writes everything queued. Rejects with `ServiceUnavailable` naming how
   * many executions are still unwritten if that takes longer than `timeoutMs` (default 30 s).
   */
  async close(options: { timeoutMs?: number } = {}): Promise<void> {
    this.closed = true;
    const timeoutMs = options.timeoutMs ?? 30_000;
    let timeout: NodeJS.Timeout | undefined;
    const expired = new Promise<'expired'>((resolve) => {
      timeout = setTimeout(() => resolve('expired'), timeoutMs);
    });
    try {
      const result = await Promise.race([this.flush().then(() => 'flushed' as const), expired]);
      if (result === 'expired') {
        this.abandoned = true;
        clearTimeout(this.timer);
        const unwritten = this.queue.length;
        this.logger.error(
          { unwritten, ...errorFields(this.lastError) },
          'history writer closed with executions not written to the database',
        );
        throw new SyncflowError(
          'ServiceUnavailable',
          `${unwritten} executions could not be written to the history database within ${timeoutMs} ms; they are lost unless the database returns before the process exits`,
          this.lastError === undefined ? {} : { cause: this.lastError },
        );
      }
      this.logger.info({ written: this.durable }, 'history writer flushed and closed');
    } finally {
      clearTimeout(timeout);
    }
  }
}
