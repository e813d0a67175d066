/**
 * Throughput loop of workload (b) for profiling one implementation at a time; prints the rate and
 * the CPU time this process spends per execution (the upstream runs in its own process):
 *   node --import tsx --cpu-prof bench/engine/profile.ts syncflow|baseline [iterations] [concurrency] [upstream ms]
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Agent } from 'undici';
import { DagExecutor } from '../../core/engine/executor.ts';
import { UndiciTaskClient } from '../../adapters/http-client.ts';
import { EgressPolicy } from '../../adapters/egress/policy.ts';
import { baselineRun, FAN, syncflowWorkflow, type Run } from './workloads.ts';

const mode = process.argv[2] === 'baseline' ? 'baseline' : 'syncflow';
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
const run: Run =
  mode === 'baseline'
    ? baselineRun(agent, base, delayMs, FAN)
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
const used = process.cpuUsage(cpu);
// CPU per execution is what the engine adds; unlike latency it barely depends on machine load.
const cpuUs = (used.user + used.system) / iterations;
process.stdout.write(`${mode}: ${Math.round(rate)} executions/s, ${cpuUs.toFixed(1)} µs CPU per execution\n`);
upstream.kill('SIGTERM');
await client.close();
await agent.close();
