/**
 * CPU µs per execution of the engine, the figure of the regression gate's engine part (workload (b):
 * 3-task fan, 0 ms upstreams in their own process, 64 concurrent), in alternating rounds against the
 * hand-written undici baseline. With `--against DIR` a second engine, loaded from DIR (a copy of the
 * repository at another commit, e.g. `git archive <rev> core adapters | tar -x -C DIR` plus a
 * node_modules link), joins the rotation, so a change is compared with its predecessor in one run.
 *
 *   npx tsx bench/engine/cpu.ts [--rounds 5] [--executions 2000] [--against DIR] [--out FILE]
 */
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Agent } from 'undici';
import { EgressPolicy } from '../../adapters/egress/policy.ts';
import { UndiciTaskClient } from '../../adapters/http-client.ts';
import { DagExecutor } from '../../core/engine/executor.ts';
import { closedLoop, machine, round3, type Shot } from '../api/measure.ts';
import { startUpstream } from './upstream-process.ts';
import { baselineRun, FAN, syncflowWorkflow } from './workloads.ts';

const args = process.argv.slice(2);
const flag = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const rounds = Number(flag('--rounds') ?? 5);
const executions = Number(flag('--executions') ?? 2_000);
const against = flag('--against');
const out = flag('--out');

/** CPU µs per execution of `shot` in this process over `total` executions at concurrency 64. */
async function cpuPerExecution(shot: Shot, total: number): Promise<number> {
  const before = process.cpuUsage();
  const result = await closedLoop(shot, 64, total);
  if (result.errors > 0) throw new Error(`${result.errors} executions failed: ${result.firstError}`);
  const used = process.cpuUsage(before);
  return (used.user + used.system) / total;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

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
  const cpu: Record<string, number[]> = Object.fromEntries(targets.map((t) => [t.name, []]));
  try {
    for (const t of targets) await cpuPerExecution(t.shot, 500);
    for (let round = 0; round < rounds; round++) {
      for (const t of targets) cpu[t.name]?.push(await cpuPerExecution(t.shot, executions));
      process.stdout.write(
        `round ${round + 1}: ${targets.map((t) => `${t.name} ${Math.round(cpu[t.name]?.at(-1) ?? 0)}`).join(', ')} µs\n`,
      );
    }
  } finally {
    for (const t of targets) await t.close?.();
    await agent.close();
    upstream.child.kill();
  }
  const b = cpu.baseline as number[];
  const ratios = (name: string) => (cpu[name] as number[]).map((v, i) => round3(v / (b[i] as number)));
  const result = {
    benchmark: 'engine CPU per execution (3-task fan, 0 ms upstream in its own process, 64 concurrent)',
    command: `npx tsx bench/engine/cpu.ts ${args.join(' ')}`.trim(),
    date: new Date().toISOString(),
    machine: machine(loadBefore, 'shared 2-core VM; rounds alternate the targets'),
    executionsPerRound: executions,
    cpuUsPerExecution: Object.fromEntries(
      targets.map((t) => [t.name, (cpu[t.name] as number[]).map(Math.round)]),
    ),
    ratioToBaseline: Object.fromEntries(
      targets.filter((t) => t.name !== 'baseline').map((t) => [t.name, ratios(t.name)]),
    ),
    ...(against
      ? {
          syncflowToAgainst: median(
            (cpu.syncflow as number[]).map((v, i) => v / ((cpu.against as number[])[i] as number)),
          ),
        }
      : {}),
    median: Object.fromEntries(
      targets.map((t) => [
        t.name,
        {
          cpuUs: Math.round(median(cpu[t.name] as number[])),
          ...(t.name === 'baseline' ? {} : { ratio: median(ratios(t.name)) }),
        },
      ]),
    ),
  };
  process.stdout.write(
    `${JSON.stringify(result.median)}${against ? ` syncflow/against per round, median: ${round3(result.syncflowToAgainst as number)}` : ''}\n`,
  );
  if (out) {
    const { writeFile } = await import('node:fs/promises');
    await writeFile(out, `${JSON.stringify(result, null, 2)}\n`);
  }
}

await main();
