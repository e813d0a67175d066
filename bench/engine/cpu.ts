/**
 * CPU µs per execution of the engine, the figure of the regression gate's engine part (workload (b):
 * 3-task fan, 0 ms upstreams in their own process, 64 concurrent), in alternating rounds against the
 * hand-written undici baseline. With `--against DIR` a second engine, loaded from DIR (a copy of the
 * repository at another commit, e.g. `git archive <rev> core adapters | tar -x -C DIR` plus a
 * node_modules link), joins the rotation, so a change is compared with its predecessor in one run.
 *
 *   npx tsx bench/engine/cpu.ts [--rounds 5] [--executions 2000] [--runs 1] [--against DIR [--against-label TEXT]] [--out FILE]
 *
 * Each run measures every target `rounds` times in turn; the figures of a run are medians over its
 * rounds (the gate's engine part is one run of 3 rounds of 2,000 executions).
 */
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Agent } from 'undici';
import { EgressPolicy } from '../../adapters/egress/policy.ts';
import { UndiciTaskClient } from '../../adapters/http-client.ts';
import { DagExecutor } from '../../core/engine/executor.ts';
import { cpuPerExecution, flag, machine, median, round3, type Shot } from '../api/measure.ts';
import { startUpstream } from './upstream-process.ts';
import { baselineRun, FAN, syncflowWorkflow } from './workloads.ts';

const args = process.argv.slice(2);
const rounds = Number(flag('--rounds') ?? 5);
const executions = Number(flag('--executions') ?? 2_000);
const runs = Number(flag('--runs') ?? 1);
const against = flag('--against');
const againstLabel = flag('--against-label') ?? against;
const out = flag('--out');

interface EngineModules {
  DagExecutor: typeof DagExecutor;
  UndiciTaskClient: typeof UndiciTaskClient;
  EgressPolicy: typeof EgressPolicy;
}

/** A shot running the fan workflow on an engine built from `m`, and a closer. */
function engineShot(m: EngineModules, base: string): { shot: Shot; close: () => Promise<void> } {
  const client = new m.UndiciTaskClient({ policy: new m.EgressPolicy({ allowLoopback: true }) });
  const executor = new m.DagExecutor({ http: client });
  // The workflow is compiled by this tree's compiler in both cases; the plan is plain data.
  const workflow = syncflowWorkflow(base, 0, FAN);
  return {
    shot: async () => {
      const status = await executor.execute(workflow as never, { userId: '42' });
      if (status.phase !== 'Succeeded') throw new Error(`execution ${status.phase}: ${status.message}`);
    },
    close: () => client.close(),
  };
}

async function main(): Promise<void> {
  const loadBefore = loadavg();
  const upstream = await startUpstream();
  const agent = new Agent({ keepAliveTimeout: 30_000, connections: null });
  const targets: Array<{ name: string; shot: Shot; close?: () => Promise<void> }> = [
    { name: 'baseline', shot: baselineRun(agent, upstream.base, 0, FAN) },
    { name: 'syncflow', ...engineShot({ DagExecutor, UndiciTaskClient, EgressPolicy }, upstream.base) },
  ];
  if (against) {
    const dir = resolve(against);
    const load = async (path: string) =>
      (await import(pathToFileURL(resolve(dir, path)).href)) as Record<string, unknown>;
    const m = {
      ...(await load('core/engine/executor.ts')),
      ...(await load('adapters/http-client.ts')),
      ...(await load('adapters/egress/policy.ts')),
    } as unknown as EngineModules;
    targets.push({ name: 'against', ...engineShot(m, upstream.base) });
  }
  const measured: RunFigures[] = [];
  try {
    for (const t of targets) await cpuPerExecution(t.shot, 500);
    for (let run = 0; run < runs; run++) {
      const cpu: Record<string, number[]> = Object.fromEntries(targets.map((t) => [t.name, []]));
      for (let round = 0; round < rounds; round++) {
        for (const t of targets) cpu[t.name]?.push(await cpuPerExecution(t.shot, executions));
        process.stdout.write(
          `run ${run + 1} round ${round + 1}: ${targets.map((t) => `${t.name} ${Math.round(cpu[t.name]?.at(-1) ?? 0)}`).join(', ')} µs\n`,
        );
      }
      measured.push(figures(cpu));
      process.stdout.write(`run ${run + 1}: ${JSON.stringify(measured.at(-1)?.median)}\n`);
    }
  } finally {
    for (const t of targets) await t.close?.();
    await agent.close();
    upstream.child.kill();
  }
  const names = targets.map((t) => t.name).filter((n) => n !== 'baseline');
  const result = {
    benchmark: 'engine CPU per execution (3-task fan, 0 ms upstream in its own process, 64 concurrent)',
    command: `npx tsx bench/engine/cpu.ts ${args.join(' ')}`.trim(),
    date: new Date().toISOString(),
    machine: machine(loadBefore, 'shared 2-core VM, other sessions running; rounds alternate the targets'),
    targets: {
      baseline: 'hand-written undici orchestrator (bench/engine/workloads.ts baselineRun)',
      syncflow: 'DagExecutor + UndiciTaskClient of this tree',
      ...(against ? { against: `DagExecutor + UndiciTaskClient of ${againstLabel}` } : {}),
    },
    executionsPerRound: executions,
    roundsPerRun: rounds,
    runs: measured,
    // Over runs: the median of each run's ratio (syncflow's CPU over the baseline's of the same rounds).
    medianRatioToBaseline: Object.fromEntries(
      names.map((n) => [n, round3(median(measured.map((r) => r.median[n]?.ratio as number)))]),
    ),
  };
  process.stdout.write(
    `ratio to the baseline, median over runs: ${JSON.stringify(result.medianRatioToBaseline)}\n`,
  );
  if (out) {
    const { writeFile } = await import('node:fs/promises');
    await writeFile(out, `${JSON.stringify(result, null, 2)}\n`);
  }
}

/** One run's figures: CPU µs per execution of each round, and per target the medians and ratios. */
interface RunFigures {
  loadavg: number[];
  cpuUsPerExecution: Record<string, number[]>;
  median: Record<string, { cpuUs: number; ratio?: number; ratioOfMedians?: number }>;
  syncflowToAgainst?: number;
}

function figures(cpu: Record<string, number[]>): RunFigures {
  const b = cpu.baseline as number[];
  const ratios = (name: string) => (cpu[name] as number[]).map((v, i) => v / (b[i] as number));
  const out: RunFigures = {
    loadavg: loadavg().map(round3),
    cpuUsPerExecution: Object.fromEntries(Object.entries(cpu).map(([n, v]) => [n, v.map(Math.round)])),
    median: Object.fromEntries(
      Object.entries(cpu).map(([n, v]) => [
        n,
        n === 'baseline'
          ? { cpuUs: Math.round(median(v)) }
          : {
              cpuUs: Math.round(median(v)),
              ratio: round3(median(ratios(n))),
              ratioOfMedians: round3(median(v) / median(b)),
            },
      ]),
    ),
  };
  if (cpu.against) {
    const a = cpu.against;
    out.syncflowToAgainst = round3(median((cpu.syncflow as number[]).map((v, i) => v / (a[i] as number))));
  }
  return out;
}

await main();
