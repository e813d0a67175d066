/**
 * Throughput loop of workload (b) for profiling one implementation at a time; prints the rate and
 * the CPU time this process spends per execution (the upstream runs in its own process):
 *   node --import tsx --cpu-prof bench/engine/profile.ts syncflow|baseline|recorded [iterations] [concurrency] [upstream ms]
 * `recorded` is syncflow with each execution recorded in the history as the execution service does
 * it (admit, execute, record): on TEST_DATABASE_URL when set (`hack/postgres.sh run …`; a database
 * whose history tables may be written to), else on embedded PGlite in this process.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Agent } from 'undici';
import { DagExecutor } from '../../core/engine/executor.ts';
import { UndiciTaskClient } from '../../adapters/http-client.ts';
import { EgressPolicy } from '../../adapters/egress/policy.ts';
import { baselineRun, FAN, syncflowWorkflow, type Run } from './workloads.ts';
import { randomUUID } from 'node:crypto';
import { Registry } from 'prom-client';
import { SILENT_LOGGER } from '../../core/logger.ts';
import { EXECUTION_API_VERSION } from '../../core/model/resources.ts';
import { openHistory, type ExecutionWriter } from '../../history/index.ts';

const mode = (['baseline', 'recorded'] as const).find((m) => m === process.argv[2]) ?? 'syncflow';
const iterations = Number(process.argv[3] ?? 10_000);
const concurrency = Number(process.argv[4] ?? 64);
const delayMs = Number(process.argv[5] ?? 0);
const upstream = spawn(
  process.execPath,
  ['--import', 'tsx', fileURLToPath(new URL('upstream.ts', import.meta.url))],
  {
    stdio: ['ignore', 'pipe', 'inherit'],
  },
);
const port = await new Promise<number>((resolve) =>
  upstream.stdout?.on('data', (c: Buffer) => {
    const m = /PORT (\d+)/.exec(c.toString());
    if (m) resolve(Number(m[1]));
  }),
);
const base = `http://127.0.0.1:${port}`;
const client = new UndiciTaskClient({ policy: new EgressPolicy({ allowLoopback: true }) });
const agent = new Agent({ keepAliveTimeout: 30_000 });
const executor = new DagExecutor({ http: client });
const workflow = syncflowWorkflow(base, delayMs, FAN);
const history =
  mode === 'recorded'
    ? await openHistory({
        ...(process.env.TEST_DATABASE_URL ? { databaseUrl: process.env.TEST_DATABASE_URL } : {}),
        logger: SILENT_LOGGER,
        registry: new Registry(),
        retention: false,
      })
    : undefined;
let recorded = 0;
/** Admit, execute, record: the execution service's order, with the object it records. */
async function runRecorded(writer: ExecutionWriter): Promise<void> {
  const reservation = writer.admit();
  const creationTimestamp = new Date().toISOString();
  const input = { userId: '42' };
  const status = await executor.execute(workflow, input);
  reservation.record({
    apiVersion: EXECUTION_API_VERSION,
    kind: 'WorkflowExecution',
    metadata: {
      name: `bench-${process.pid}-${(recorded++).toString(36)}`,
      namespace: 'bench',
      uid: randomUUID(),
      creationTimestamp,
      labels: {},
      annotations: {},
    },
    spec: { workflowRef: { name: 'bench' }, input },
    status: { ...status, user: 'system:serviceaccount:bench:profile' },
  });
}
const run: Run =
  mode === 'baseline'
    ? baselineRun(agent, base, delayMs, FAN)
    : history
      ? () => runRecorded(history.writer)
      : () => executor.execute(workflow, { userId: '42' });

async function loop(n: number): Promise<number> {
  let started = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (started < n) {
        started++;
        await run();
      }
    }),
  );
  return n / ((performance.now() - t0) / 1000);
}

await loop(Math.min(2_000, iterations / 2));
const cpu = process.cpuUsage();
const rate = await loop(iterations);
// What the writer still holds is this run's work too.
await history?.writer.flush();
const used = process.cpuUsage(cpu);
// CPU per execution is what the engine adds; unlike latency it barely depends on machine load.
const cpuUs = (used.user + used.system) / iterations;
process.stdout.write(`${mode}: ${Math.round(rate)} executions/s, ${cpuUs.toFixed(1)} µs CPU per execution\n`);
upstream.kill('SIGTERM');
await client.close();
await agent.close();
await history?.close();
