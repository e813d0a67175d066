import { expect } from 'chai';
import { Registry } from 'prom-client';
import sinon from 'sinon';
import { SyncflowError } from '../core/errors.ts';
import { execution } from '../test/integration/history/fixtures.ts';
import { createHistoryMetrics } from './metrics.ts';
import type { ExecutionRecord } from './record.ts';
import type { ExecutionBatchSink, InsertOutcome } from './store.ts';
import type { WorkflowExecution } from '../core/model/execution.ts';
import { RecordingLogger } from './testing.ts';
import { checkRecordable, ExecutionWriter, isDataError, type ExecutionWriterOptions } from './writer.ts';

/** A sink that records batches and can be made to fail. */
class FakeSink implements ExecutionBatchSink {
  readonly batches: string[][] = [];
  failure: Error | undefined;
  readonly poisoned = new Set<string>();
  readonly taken = new Set<string>();
  /** The row of each execution written, by name. */
  readonly rows = new Map<string, ExecutionRecord['row']>();
  private waiting: (() => void)[] = [];

  async insertRecords(batch: readonly ExecutionRecord[]): Promise<InsertOutcome[]> {
    await Promise.resolve();
    if (this.failure) throw this.failure;
    if (batch.some((x) => this.poisoned.has(x.name))) {
      throw Object.assign(new Error('invalid input syntax for type timestamp'), { code: '22007' });
    }
    this.batches.push(batch.map((x) => x.name));
    for (const x of batch) this.rows.set(x.name, x.row);
    for (const resolve of this.waiting.splice(0)) resolve();
    return batch.map((x) => (this.taken.has(x.name) ? 'conflict' : 'inserted'));
  }

  /** Resolves at the next successful batch. */
  nextBatch(): Promise<void> {
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  get written(): string[] {
    return this.batches.flat();
  }
}

const connectionLost = () =>
  Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });

describe('ExecutionWriter', () => {
  let sink: FakeSink;
  let logger: RecordingLogger;
  let registry: Registry;
  const writers: ExecutionWriter[] = [];

  function writer(options: Partial<ExecutionWriterOptions> = {}): ExecutionWriter {
    const created: { writer?: ExecutionWriter } = {};
    const metrics = createHistoryMetrics(registry, () => created.writer?.depth ?? 0);
    const w = new ExecutionWriter({ sink, logger, metrics, retryDelayMs: 1, maxRetryDelayMs: 2, ...options });
    created.writer = w;
    writers.push(w);
    return w;
  }

  async function metric(name: string): Promise<number> {
    const values = (await registry.getSingleMetric(name)?.get())?.values ?? [];
    return values.reduce((sum, v) => sum + v.value, 0);
  }

  beforeEach(() => {
    sink = new FakeSink();
    logger = new RecordingLogger();
    registry = new Registry();
  });

  afterEach(async () => {
    sink.failure = undefined;
    await Promise.all(writers.splice(0).map((w) => w.close({ timeoutMs: 1000 }).catch(() => undefined)));
  });

  it('writes executions in batches of at most maxBatch, in the order they were recorded', async () => {
    const w = writer({ maxBatch: 3 });
    const xs = Array.from({ length: 7 }, () => execution());
    for (const x of xs) w.record(x);
    await w.flush();
    expect(sink.batches.map((b) => b.length)).to.deep.equal([3, 3, 1]);
    expect(sink.written).to.deep.equal(xs.map((x) => x.metadata.name));
    expect(await metric('syncflow_history_executions_written_total')).to.equal(7);
    expect(await metric('syncflow_history_queue_depth')).to.equal(0);
  });

  describe('flush timing (fake clock)', () => {
    let clock: sinon.SinonFakeTimers;
    beforeEach(() => {
      clock = sinon.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    });
    afterEach(() => clock.restore());

    it('writes a partial batch flushIntervalMs after its first execution, without being asked', async () => {
      const w = writer({ flushIntervalMs: 50, maxBatch: 100 });
      w.record(execution());
      await clock.tickAsync(49);
      expect(sink.batches).to.have.length(0);
      await clock.tickAsync(1);
      expect(sink.batches).to.have.length(1);
    });

    it('writes a full batch at once', async () => {
      const w = writer({ flushIntervalMs: 50, maxBatch: 2 });
      w.record(execution());
      w.record(execution());
      await clock.tickAsync(0);
      expect(sink.batches).to.deep.equal([sink.written]);
      expect(sink.written).to.have.length(2);
    });
  });

  it('refuses with ServiceUnavailable at admission once queued and running executions reach the bound', async () => {
    sink.failure = connectionLost();
    const w = writer({ maxQueued: 3 });
    w.record(execution());
    const running = w.admit();
    w.admit().record(execution());
    expect(w.canAccept()).to.equal(false);
    let error: unknown;
    try {
      w.admit();
    } catch (e) {
      error = e;
    }
    expect(error).to.be.instanceOf(SyncflowError);
    expect((error as SyncflowError).code).to.equal('ServiceUnavailable');
    expect((error as SyncflowError).message).to.contain(
      '3 executions are waiting for the history database (bound 3)',
    );
    expect(await metric('syncflow_history_admissions_refused_total')).to.equal(1);
    running.release();
    expect(w.canAccept()).to.equal(true);
  });

  it('buffers while the database is down, then writes everything and accepts again when it returns', async () => {
    sink.failure = connectionLost();
    const w = writer({ maxQueued: 2 });
    const xs = [execution(), execution()];
    for (const x of xs) w.record(x);
    const flushed = w.flush();
    expect(() => w.admit()).to.throw(SyncflowError);
    while ((await metric('syncflow_history_flush_failures_total')) < 3)
      await new Promise((r) => setTimeout(r, 1));
    sink.failure = undefined;
    await flushed;
    expect(sink.written).to.deep.equal(xs.map((x) => x.metadata.name));
    expect(w.canAccept()).to.equal(true);
    expect(logger.at('warn')).to.deep.equal(['history batch failed; buffering executions and retrying']);
    expect(logger.at('info')).to.include('history database reachable again; writing the buffered executions');
    expect(JSON.stringify(logger.entries)).to.contain('ECONNREFUSED');
  });

  it('isolates executions the database rejects, writes the others and logs each rejected one', async () => {
    const w = writer({ maxBatch: 8 });
    const xs = Array.from({ length: 8 }, () => execution());
    sink.poisoned.add(xs[5]?.metadata.name as string);
    for (const x of xs) w.record(x);
    await w.flush();
    expect([...sink.written].sort()).to.deep.equal(
      xs
        .filter((_, i) => i !== 5)
        .map((x) => x.metadata.name)
        .sort(),
    );
    const rejected = logger.entries.filter((e) => e.level === 'error');
    expect(rejected.map((e) => e.fields.execution)).to.deep.equal([xs[5]?.metadata.name]);
    expect(rejected[0]?.message).to.equal('execution not recorded: the database rejected it');
  });

  it('records an acknowledged execution whose name another replica took under a uid-derived name, loudly, never dropping it', async () => {
    const w = writer();
    const x = execution();
    const other = execution();
    sink.taken.add(x.metadata.name);
    w.record(x);
    w.record(other);
    await w.flush();
    const renamed = `${x.metadata.name}-${x.metadata.uid}`;
    expect(sink.written).to.include.members([renamed, other.metadata.name]);
    expect(sink.rows.get(renamed)?.[7]).to.equal(
      JSON.stringify({ 'syncflow.io/requested-name': x.metadata.name }),
    );
    const errors = logger.entries.filter((e) => e.level === 'error');
    expect(errors.map((e) => e.fields)).to.deep.equal([
      {
        namespace: x.metadata.namespace,
        execution: x.metadata.name,
        uid: x.metadata.uid,
        recordedAs: renamed,
      },
    ]);
    expect(errors[0]?.message).to.match(/^execution recorded under another name/);
    expect(logger.entries.filter((e) => /not recorded/.test(e.message))).to.deep.equal([]);
    expect(await metric('syncflow_history_name_conflicts_total')).to.equal(1);
  });

  it('logs an execution as not recorded only if its uid-derived name is taken as well', async () => {
    const w = writer();
    const x = execution();
    sink.taken.add(x.metadata.name);
    sink.taken.add(`${x.metadata.name}-${x.metadata.uid}`);
    w.record(x);
    await w.flush();
    expect(logger.at('error')).to.deep.equal([
      'execution recorded under another name: another execution took its name after it was acknowledged (another replica); its annotation syncflow.io/requested-name holds the name its creator was given',
      'execution not recorded: its uid-derived name is taken too',
    ]);
    expect(await metric('syncflow_history_name_conflicts_total')).to.equal(2);
  });

  it('validates an execution when it is recorded, naming each bad field', () => {
    const w = writer();
    const x = execution();
    x.metadata.uid = 'not-a-uuid';
    x.metadata.creationTimestamp = 'yesterday';
    const reservation = w.admit();
    let error: SyncflowError | undefined;
    try {
      reservation.record(x);
    } catch (e) {
      error = e as SyncflowError;
    }
    expect(error?.code).to.equal('FieldInvalid');
    expect(error?.causes.map((c) => c.field)).to.deep.equal(['metadata.uid', 'metadata.creationTimestamp']);
    expect(w.depth).to.equal(0);
  });

  it('refuses at record time an execution that cannot be serialised, and frees its place', () => {
    const w = writer({ maxQueued: 1 });
    const x = execution();
    (x.status as { output?: unknown }).output = { big: BigInt(1) };
    expect(() => w.record(x)).to.throw(TypeError, /BigInt/);
    expect(w.depth).to.equal(0);
    expect(w.canAccept()).to.equal(true);
  });

  it('lets a reservation be used once', () => {
    const w = writer();
    const reservation = w.admit();
    reservation.release();
    expect(() => reservation.record(execution())).to.throw(SyncflowError, 'already used or released');
    expect(w.depth).to.equal(0);
  });

  it('finds an execution by name while it waits for the database, and not once it is written', async () => {
    const w = writer();
    sink.failure = connectionLost();
    const [a, b] = [execution(), execution()];
    w.record(a);
    w.record(b);
    expect(w.pending(b.metadata.namespace, b.metadata.name)).to.deep.equal(b);
    expect(w.pending(a.metadata.namespace, a.metadata.name)).to.deep.equal(a);
    expect(w.pending('elsewhere', a.metadata.name)).to.equal(undefined);
    sink.failure = undefined;
    await w.flush();
    expect(w.pending(a.metadata.namespace, a.metadata.name)).to.equal(undefined);
    expect(w.pending(b.metadata.namespace, b.metadata.name)).to.equal(undefined);
    expect(w.depth).to.equal(0);
  });

  it('finds the newest execution of a name recorded twice, also after the older one is written', async () => {
    const w = writer();
    const older = execution();
    const other = execution();
    const newer = { ...other, metadata: { ...other.metadata, name: older.metadata.name } };
    const { namespace, name } = older.metadata;
    w.record(older);
    const olderWritten = w.flush();
    // The batch with the older one is being written when the newer one is queued.
    await sink.nextBatch();
    w.record(newer);
    expect(w.pending(namespace, name)?.metadata.uid).to.equal(newer.metadata.uid);
    await olderWritten;
    expect(sink.written).to.deep.equal([name]);
    expect(w.pending(namespace, name)?.metadata.uid, 'still queued').to.equal(newer.metadata.uid);
    await w.flush();
    expect(w.pending(namespace, name)).to.equal(undefined);
  });

  it('flush resolves at once when nothing is pending', async () => {
    await writer().flush();
    expect(sink.batches).to.deep.equal([]);
  });

  it('close stops admitting and writes what is queued', async () => {
    const w = writer();
    const x = execution();
    w.record(x);
    await w.close();
    expect(sink.written).to.deep.equal([x.metadata.name]);
    expect(() => w.admit()).to.throw(SyncflowError, 'the server is shutting down');
  });

  it('close reports how many executions it could not write when the database stays down', async () => {
    sink.failure = connectionLost();
    const w = writer();
    w.record(execution());
    w.record(execution());
    let error: SyncflowError | undefined;
    try {
      await w.close({ timeoutMs: 20 });
    } catch (e) {
      error = e as SyncflowError;
    }
    expect(error?.code).to.equal('ServiceUnavailable');
    expect(error?.message).to.contain('2 executions could not be written');
    expect(logger.at('error')).to.include(
      'history writer closed with executions not written to the database',
    );
  });

  it('refuses a flush interval above 50 ms, naming the option', () => {
    expect(() => writer({ flushIntervalMs: 100 })).to.throw(
      SyncflowError,
      'flushIntervalMs: 100 must be in (0, 50] ms',
    );
  });
});

describe('checkRecordable', () => {
  /** The fields checkRecordable names when it refuses `broken` (fails the test when it accepts it). */
  function refusedFields(broken: WorkflowExecution): string[] {
    try {
      checkRecordable(broken);
    } catch (error) {
      return (error as SyncflowError).causes.map((c) => c.field);
    }
    return expect.fail('expected an error');
  }

  it('accepts a complete execution', () => {
    expect(() => checkRecordable(execution())).to.not.throw();
  });

  it('names every missing field', () => {
    const x = execution();
    const broken = {
      ...x,
      metadata: { ...x.metadata, name: '', namespace: '' },
      spec: { workflowRef: { name: '' } },
      status: {},
    } as unknown as WorkflowExecution;
    expect(refusedFields(broken)).to.deep.equal([
      'metadata.namespace',
      'metadata.name',
      'spec.workflowRef.name',
      'status.phase',
    ]);
  });
  it('refuses a control character in a column the history stores as plain text, naming the field', () => {
    const x = execution();
    const broken = {
      ...x,
      metadata: { ...x.metadata, name: 'a\u0001b' },
      spec: { workflowRef: { name: 'wf\u0001' } },
      status: { ...x.status, phase: 'Succeeded\u0001' },
    } as unknown as WorkflowExecution;
    expect(refusedFields(broken)).to.deep.equal(['metadata.name', 'spec.workflowRef.name', 'status.phase']);
  });
});

describe('isDataError', () => {
  const cases: [string, unknown, boolean][] = [
    ['invalid text representation', { code: '22P02' }, true],
    ['unique violation', { code: '23505' }, true],
    ['connection refused', { code: 'ECONNREFUSED' }, false],
    ['admin shutdown', { code: '57P01' }, false],
    ['undefined table (operations must fix it; retry, do not drop)', { code: '42P01' }, false],
    ['no code', new Error('Connection terminated unexpectedly'), false],
  ];
  for (const [title, error, expected] of cases) {
    it(`${expected ? 'drops' : 'retries'} on ${title}`, () => {
      expect(isDataError(error)).to.equal(expected);
    });
  }
});
