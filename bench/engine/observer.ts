/**
 * What live events cost the engine. Workload (b) of `run.ts` (3 tasks `a → (b, c)`, 0 ms upstreams,
 * concurrency 64) in rounds that rotate through the variants, so machine noise hits all alike:
 *   - `none`: no observer registered;
 *   - `hooks`: an observer with the three notification hooks only (what the metrics register),
 *     which must not switch event building on;
 *   - `events`: an observer taking every live event (counting them), the cost of being watched;
 *   - `before` (with `--before FILE`): the executor of an earlier commit, written by `git show` next
 *     to `executor.ts` under another name (bench/README.md has the commands), i.e. the same run
 *     without the event code path at all.
 * Reports executions per second and CPU µs per execution of this process per variant.
 *
 *   npx tsx bench/engine/observer.ts [--quick] [--before FILE [--before-label TEXT]]
 *     [--out bench/results/engine-observer.json]
 */
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { UndiciTaskClient } from '../../adapters/http-client.ts';
import { EgressPolicy } from '../../adapters/egress/policy.ts';
import type { ExecutionObserver } from '../../core/engine/collaborators.ts';
import { DagExecutor } from '../../core/engine/executor.ts';
import { startUpstream } from './upstream-process.ts';
import { FAN, syncflowWorkflow } from './workloads.ts';
import { machine, reportResult, round3 } from '../api/measure.ts';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const option = (name: string) => {
  const at = args.indexOf(name);
  return at >= 0 ? args[at + 1] : undefined;
};
const out = option('--out');
const beforeFile = option('--before');

interface Executor {
  execute(workflow: unknown, input: unknown): Promise<{ phase: string; message?: string }>;
}

async function main(): Promise<void> {
  const loadBefore = loadavg();
  const { child, base } = await startUpstream();
  const client = new UndiciTaskClient({ policy: new EgressPolicy({ allowLoopback: true }) });
  let events = 0;
  const hooks: ExecutionObserver = {
    executionStarted: () => {},
    taskFinished: () => {},
    executionFinished: () => {},
  };
  const variants: Record<string, Executor> = {
    none: new DagExecutor({ http: client }),
    hooks: new DagExecutor({ http: client, observer: hooks }),
    events: new DagExecutor({ http: client, observer: { ...hooks, event: () => void events++ } }),
  };
  if (beforeFile) {
    const module = (await import(pathToFileURL(resolve(beforeFile)).href)) as {
      DagExecutor: new (options: { http: UndiciTaskClient }) => Executor;
    };
    variants.before = new module.DagExecutor({ http: client });
  }
  const names = Object.keys(variants);
  const workflow = syncflowWorkflow(base, 0, FAN);
  const concurrency = 64;
  // Many short rounds rather than a few long ones: on a shared machine the load changes within
  // seconds, and the median over many rotations cancels more of it.
  const iterations = quick ? 2_000 : 4_000;
  const rounds = quick ? 1 : 15;

  const closedLoop = async (executor: Executor, count: number) => {
    let next = 0;
    const cpu = process.cpuUsage();
    const started = performance.now();
    const worker = async () => {
      while (next < count) {
        next++;
        const status = await executor.execute(workflow, { userId: '42' });
        if (status.phase !== 'Succeeded') throw new Error(`bench execution failed: ${status.message}`);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    const used = process.cpuUsage(cpu);
    return {
      perSecond: count / ((performance.now() - started) / 1000),
      cpuUs: (used.user + used.system) / count,
    };
  };

  try {
    for (const name of names) await closedLoop(variants[name] as Executor, quick ? 500 : 2_000);
    const totals = Object.fromEntries(
      names.map((n) => [n, { perSecond: [] as number[], cpuUs: [] as number[] }]),
    );
    for (let r = 0; r < rounds; r++) {
      // Rotate the order each round: no variant always runs first (or right after a GC-heavy one).
      for (let k = 0; k < names.length; k++) {
        const name = names[(r + k) % names.length] as string;
        const m = await closedLoop(variants[name] as Executor, iterations);
        totals[name]?.perSecond.push(m.perSecond);
        totals[name]?.cpuUs.push(m.cpuUs);
        process.stderr.write(
          `round ${r + 1} ${name}: ${Math.round(m.perSecond)}/s, ${Math.round(m.cpuUs)} µs CPU\n`,
        );
      }
    }
    const median = (values: number[]) =>
      [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
    const figures = Object.fromEntries(
      names.map((n) => {
        const t = totals[n] as { perSecond: number[]; cpuUs: number[] };
        return [
          n,
          {
            perSecondMedian: Math.round(median(t.perSecond)),
            perSecondRounds: t.perSecond.map(Math.round),
            cpuUsPerExecutionMedian: Math.round(median(t.cpuUs)),
            cpuUsPerExecutionRounds: t.cpuUs.map(Math.round),
          },
        ];
      }),
    );
    const ratio = (a: string, b: string) =>
      figures[a] && figures[b] ? round3(figures[a].perSecondMedian / figures[b].perSecondMedian) : undefined;
    const result = {
      benchmark: 'engine-observer',
      date: new Date().toISOString(),
      machine: machine(
        loadBefore,
        'shared 2-core VM; other engineers were building and testing at the same time, so absolute numbers are noisy',
      ),
      method: {
        workload: 'bench/engine workload (b): 3 tasks a → (b, c), 0 ms upstreams, closed loop',
        concurrency,
        iterationsPerRound: iterations,
        rounds,
        order: 'variants rotate each round; medians over rounds',
        before: beforeFile
          ? `${beforeFile}: ${option('--before-label') ?? 'an earlier executor'}`
          : undefined,
      },
      variants: figures,
      eventsDelivered: events,
      throughputRatio: {
        hooksOverNone: ratio('hooks', 'none'),
        eventsOverNone: ratio('events', 'none'),
        noneOverBefore: ratio('none', 'before'),
      },
    };
    await reportResult(result, out);
  } finally {
    await client.close();
    child.kill('SIGTERM');
  }
}

await main();
