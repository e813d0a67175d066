/**
 * History benchmark. Against a local PostgreSQL (TEST_DATABASE_URL, e.g. through
 * `hack/postgres.sh run`), in one run:
 *   (a) capacity: executions (5 task rows each) recorded as fast as the writer admits them, for a
 *       bounded time; executions/s durably written
 *   (b) sustained: an open loop at 5,000 executions/s; refusals (must be 0) and queue depth
 *   (c) engine overhead: the DagExecutor running a 5-task diamond against a mock upstream (its own
 *       process), with and without recording on the caller's path (admit → execute → record),
 *       rounds alternated; CPU µs per execution on/off (the target: ≤ 1.10), throughput, latency
 *   (c') recording cost on the caller's path alone (admit + object + record, no database)
 *   (d) watch delivery latency, polling (100 ms) vs LISTEN/NOTIFY, same database
 * Loopback only; every loop is bounded in count or time.
 *
 *   hack/postgres.sh run npx tsx bench/history/run.ts [--quick] [--out bench/results/history.json]
 *   hack/postgres.sh run npx tsx bench/history/run.ts --engine-only [--quick]   (only (c), printed)
 */
import { randomUUID } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { cpus, loadavg, totalmem } from 'node:os';
import pg from 'pg';
import { Registry } from 'prom-client';
import { DagExecutor } from '../../core/engine/executor.ts';
import { UndiciTaskClient } from '../../adapters/http-client.ts';
import { EgressPolicy } from '../../adapters/egress/policy.ts';
import { EXECUTION_API_VERSION, WORKFLOW_LABEL } from '../../core/model/resources.ts';
import type { WorkflowExecutionStatus } from '../../core/model/schema.ts';
import { ExecutionWriter, openHistory, type History } from '../../history/index.ts';
import type { WorkflowExecution } from '../../core/model/execution.ts';
import { SILENT_LOGGER } from '../../core/logger.ts';
import { freshSchema } from '../../test/integration/history/store-contract.ts';
import { execution } from '../../test/integration/history/fixtures.ts';
import { DIAMOND, syncflowWorkflow } from '../engine/workloads.ts';
import { startUpstream } from '../engine/upstream-process.ts';
import { benchOptions } from '../api/measure.ts';

const { quick, out } = benchOptions();
const url = process.env.TEST_DATABASE_URL;
if (!url) {
  console.error('TEST_DATABASE_URL is not set; run: hack/postgres.sh run npx tsx bench/history/run.ts');
  process.exit(2);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const round = (n: number, digits = 3) => Math.round(n * 10 ** digits) / 10 ** digits;
function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

async function open(): Promise<{ history: History; registry: Registry }> {
  const pool = new pg.Pool({ connectionString: url });
  await freshSchema(pool);
  await pool.end();
  const registry = new Registry();
  const history = await openHistory({ databaseUrl: url, logger: SILENT_LOGGER, registry, retention: false });
  return { history, registry };
}

async function flushLatency(registry: Registry): Promise<{ batches: number; meanMs: number }> {
  const metric = await registry.getSingleMetric('syncflow_history_flush_duration_seconds')?.get();
  const ok = (metric?.values ?? []).filter((v) => v.labels.result === 'ok');
  const named = (suffix: string) =>
    ok.find((v) => (v as { metricName?: string }).metricName?.endsWith(suffix))?.value ?? 0;
  const count = named('_count');
  const sum = named('_sum');
  return { batches: count, meanMs: count ? round((sum / count) * 1000) : 0 };
}

/** (a) Records as fast as admitted for `seconds`; counts what became durable. */
async function capacity(seconds: number): Promise<Record<string, unknown>> {
  const { history, registry } = await open();
  let recorded = 0;
  let waits = 0;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  while (performance.now() < deadline) {
    let full = false;
    for (let i = 0; i < 200; i++) {
      if (!history.writer.canAccept()) {
        full = true;
        break;
      }
      history.writer.record(execution());
      recorded++;
    }
    // A full queue: wait instead of spinning, the database needs the CPU.
    if (full) {
      waits++;
      await sleep(2);
    } else {
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
  await history.writer.flush();
  const elapsed = (performance.now() - started) / 1000;
  const stored = Number(
    (await history.store.list({ limit: 1 })).resourceVersion, // every execution takes one resourceVersion
  );
  const latency = await flushLatency(registry);
  await history.close();
  return {
    seconds: round(elapsed),
    executions: recorded,
    resourceVersion: stored,
    executionsPerSecond: Math.round(recorded / elapsed),
    taskRowsPerSecond: Math.round((recorded * 5) / elapsed),
    admissionWaits: waits,
    flush: latency,
  };
}

/** (b) Open loop at `rate` executions/s for `seconds`. */
async function sustained(rate: number, seconds: number): Promise<Record<string, unknown>> {
  const { history, registry } = await open();
  let offered = 0;
  let refused = 0;
  let maxDepth = 0;
  const started = performance.now();
  const total = rate * seconds;
  while (offered < total) {
    const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * rate));
    while (offered < due) {
      offered++;
      try {
        history.writer.record(execution());
      } catch {
        refused++;
      }
    }
    maxDepth = Math.max(maxDepth, history.writer.depth);
    await sleep(2);
  }
  const offeredSeconds = (performance.now() - started) / 1000;
  await history.writer.flush();
  const drainedSeconds = (performance.now() - started) / 1000;
  const latency = await flushLatency(registry);
  await history.close();
  return {
    targetPerSecond: rate,
    offered,
    refused,
    offeredPerSecond: Math.round(offered / offeredSeconds),
    drainedAfterSeconds: round(drainedSeconds),
    maxQueueDepth: maxDepth,
    flush: latency,
  };
}

/** The object the API server would record for a finished execution. */
function toExecution(status: WorkflowExecutionStatus): WorkflowExecution {
  const uid = randomUUID();
  return {
    apiVersion: EXECUTION_API_VERSION,
    kind: 'WorkflowExecution',
    metadata: {
      name: `bench-${uid.slice(0, 13)}`,
      namespace: 'bench',
      uid,
      labels: { [WORKFLOW_LABEL]: 'bench' },
      creationTimestamp: status.startTime ?? new Date().toISOString(),
    },
    spec: { workflowRef: { name: 'bench' }, input: { userId: '42' } },
    status,
  };
}

/**
 * (c) Engine CPU per execution with recording off and on: rounds alternate (off, on, off, on, ...)
 * in one process, each round's CPU taken with process.cpuUsage (the figure least disturbed by the
 * other processes on the machine) and divided by its executions; an "on" round ends when the writer
 * has made its executions durable, so the batches it wrote are paid inside it. The ratio is of the
 * medians. PostgreSQL's own CPU is not included (it is another process, as in production).
 */
async function engineOverhead(
  rounds: number,
  iterations: number,
  concurrency: number,
): Promise<Record<string, unknown>> {
  const { history } = await open();
  const { child, base } = await startUpstream();
  const client = new UndiciTaskClient({ policy: new EgressPolicy({ allowLoopback: true }) });
  const executor = new DagExecutor({ http: client });
  const workflow = syncflowWorkflow(base, 0, DIAMOND);
  const input = { userId: '42' };
  const runOff = () => executor.execute(workflow, input);
  const runOn = async () => {
    const reservation = history.writer.admit(); // before running: 503 instead of an unrecorded run
    const status = await executor.execute(workflow, input);
    reservation.record(toExecution(status));
  };
  interface Round {
    cpuMicros: number;
    perSecond: number;
    latencies: number[];
  }
  async function loop(run: () => Promise<unknown>, durable: boolean): Promise<Round> {
    const latencies: number[] = [];
    let next = 0;
    const cpu = process.cpuUsage();
    const started = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < iterations) {
          next++;
          const t0 = performance.now();
          await run();
          latencies.push(performance.now() - t0);
        }
      }),
    );
    if (durable) await history.writer.flush();
    const used = process.cpuUsage(cpu);
    return {
      cpuMicros: (used.user + used.system) / iterations,
      perSecond: iterations / ((performance.now() - started) / 1000),
      latencies,
    };
  }
  await loop(runOff, false); // warm-up
  await loop(runOn, true);
  const off: Round[] = [];
  const on: Round[] = [];
  for (let r = 0; r < rounds; r++) {
    off.push(await loop(runOff, false));
    on.push(await loop(runOn, true));
  }
  const recorded = (await history.store.list({ namespace: 'bench', limit: 1 })).items[0];
  child.kill('SIGTERM');
  await client.close();
  await history.close();
  const median = (xs: number[]) => percentile(xs, 50);
  const summary = (rs: Round[]) => ({
    cpuMicrosecondsPerExecution: round(median(rs.map((r) => r.cpuMicros)), 1),
    cpuMicrosecondsPerRound: rs.map((r) => round(r.cpuMicros, 1)),
    executionsPerSecond: Math.round(median(rs.map((r) => r.perSecond))),
    p50Ms: round(
      percentile(
        rs.flatMap((r) => r.latencies),
        50,
      ),
    ),
    p99Ms: round(
      percentile(
        rs.flatMap((r) => r.latencies),
        99,
      ),
    ),
  });
  const offSummary = summary(off);
  const onSummary = summary(on);
  return {
    workload: `5-task diamond, 0 ms upstream (separate process), concurrency ${concurrency}, ${rounds} alternating rounds of ${iterations}`,
    recordedTaskRows: recorded?.status.tasks?.length,
    off: offSummary,
    on: onSummary,
    cpuOverheadRatio: round(onSummary.cpuMicrosecondsPerExecution / offSummary.cpuMicrosecondsPerExecution),
    throughputRatio: round(offSummary.executionsPerSecond / onSummary.executionsPerSecond),
  };
}

/** Cost of recording on the caller's path alone: admit, build the object, record (no database). */
async function callerPath(iterations: number): Promise<Record<string, unknown>> {
  const writer = new ExecutionWriter({
    sink: { insertRecords: async (batch) => batch.map(() => 'inserted' as const) },
    logger: SILENT_LOGGER,
    maxQueued: iterations + 1,
    maxBatch: iterations + 1,
    flushIntervalMs: 50,
  });
  const status = execution().status;
  const t0 = performance.now();
  for (let i = 0; i < iterations; i++) writer.admit().record(toExecution(status));
  const micros = ((performance.now() - t0) * 1000) / iterations;
  await writer.close();
  return { iterations, microsecondsPerExecution: round(micros) };
}

/** (d) Delivery latency of one change to a watcher on another connection. */
async function watchLatency(samples: number): Promise<Record<string, unknown>> {
  const { history } = await open();
  // Polling, as the store implements it (100 ms interval).
  const polling: number[] = [];
  const watch = await history.store.watch({ resourceVersion: await history.store.currentResourceVersion() });
  const iterator = watch[Symbol.asyncIterator]();
  for (let i = 0; i < samples; i++) {
    await sleep(Math.random() * 100);
    const x = execution({ namespace: 'watch' });
    const t0 = performance.now();
    await history.store.insertExecutions([x]);
    await iterator.next();
    polling.push(performance.now() - t0);
  }
  watch.close();
  // LISTEN/NOTIFY on the same database, for comparison: notify in the write transaction.
  const listener = new pg.Client({ connectionString: url });
  const notifier = new pg.Client({ connectionString: url });
  await listener.connect();
  await notifier.connect();
  await listener.query('LISTEN history_bench');
  const notify: number[] = [];
  for (let i = 0; i < samples; i++) {
    await sleep(Math.random() * 100);
    const received = new Promise((resolve) => listener.once('notification', resolve));
    const t0 = performance.now();
    await notifier.query("SELECT pg_notify('history_bench', '1')");
    await received;
    notify.push(performance.now() - t0);
  }
  // Idle cost of polling: one readChanges per interval, timed.
  const idle: number[] = [];
  const last = Number(await history.store.currentResourceVersion());
  for (let i = 0; i < 200; i++) {
    const t0 = performance.now();
    await history.store.readChanges(last, 1000);
    idle.push(performance.now() - t0);
  }
  await listener.end();
  await notifier.end();
  await history.close();
  return {
    samples,
    pollingIntervalMs: 100,
    pollingDeliveryMs: { p50: round(percentile(polling, 50)), p99: round(percentile(polling, 99)) },
    listenNotifyDeliveryMs: { p50: round(percentile(notify, 50)), p99: round(percentile(notify, 99)) },
    idlePollQueryMs: { p50: round(percentile(idle, 50)), p99: round(percentile(idle, 99)) },
  };
}

const pgVersion = await (async () => {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const version = (await client.query<{ v: string }>('SHOW server_version')).rows[0]?.v;
  const settings = await client.query<{ name: string; setting: string }>(
    "SELECT name, setting FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'shared_buffers', 'wal_level')",
  );
  await client.end();
  return { version, settings: Object.fromEntries(settings.rows.map((r) => [r.name, r.setting])) };
})();

/** `--engine-only`: just the engine overhead, printed (for comparing changes quickly). */
if (process.argv.includes('--engine-only')) {
  const rounds = quick ? 4 : 8;
  console.log(
    JSON.stringify(
      { loadAverageAtStart: loadavg(), engineOverhead: await engineOverhead(rounds, 2000, 32) },
      null,
      2,
    ),
  );
  process.exit(0);
}

const t0 = performance.now();
const results = {
  benchmark: 'execution history (PostgreSQL writer, engine CPU overhead, watch latency)',
  date: new Date().toISOString(),
  machine: {
    cpu: cpus()[0]?.model,
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    loadAverageAtStart: loadavg().map((l) => round(l, 2)),
    postgres: pgVersion,
    note: 'PostgreSQL, the benchmark process and the mock upstream share the 2 cores; other engineers may be building',
  },
  capacity: await capacity(quick ? 4 : 12),
  sustained5000: await sustained(5000, quick ? 3 : 10),
  recordingOnCallerPath: await callerPath(100_000),
  engineOverhead: await engineOverhead(quick ? 4 : 8, 2000, 32),
  watch: await watchLatency(quick ? 20 : 60),
  targets: { executionsPerSecond: 5000, cpuOverheadRatioMax: 1.1 },
  totalSeconds: 0,
  meetsTargets: false,
};
results.totalSeconds = round((performance.now() - t0) / 1000, 1);
results.meetsTargets =
  (results.capacity.executionsPerSecond as number) >= 5000 &&
  results.sustained5000.refused === 0 &&
  (results.engineOverhead.cpuOverheadRatio as number) <= 1.1;
const text = JSON.stringify(results, null, 2);
console.log(text);
if (out) {
  // The gateway's figures come from gateway-cost.ts: kept as they are.
  const kept = await readFile(out, 'utf8')
    .then((previous) => (JSON.parse(previous) as { gatewayHistoryCost?: unknown }).gatewayHistoryCost)
    .catch(() => undefined);
  await writeFile(out, `${JSON.stringify({ ...results, gatewayHistoryCost: kept }, null, 2)}\n`);
}
