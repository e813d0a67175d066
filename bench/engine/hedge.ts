/**
 * What hedging gains and costs. A one-step workflow GETs an upstream whose every 50th answer (2%)
 * takes 500 ms and the others 2 ms; three task variants, in rounds that rotate the order:
 *   - `plain`: no hedge (the baseline, same run);
 *   - `hedgeP95`: `hedge: {after: p95, maxExtraPercent: 10}`;
 *   - `hedge20ms`: `hedge: {after: 20ms, maxExtraPercent: 10}`.
 * Reports latency percentiles of the executions (wall time seen by the caller) and the extra
 * requests per execution. The upstream is a node:http server in this process: latency, not CPU,
 * is measured here, and the slow answers are timers that cost nothing.
 *
 *   npx tsx bench/engine/hedge.ts [--quick] [--out bench/results/hedge.json]
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadavg } from 'node:os';
import { UndiciTaskClient } from '../../adapters/http-client.ts';
import { EgressPolicy } from '../../adapters/egress/policy.ts';
import {
  compileTask,
  compileWorkflow,
  type CompiledTask,
  type CompiledWorkflow,
} from '../../core/definitions/compile.ts';
import { DagExecutor } from '../../core/engine/executor.ts';
import { benchOptions, machine, reportResult, round3, summary } from '../api/measure.ts';

const { quick, out } = benchOptions();

const CONCURRENCY = 4;
const SLOW_EVERY = 50;

/** The upstream: every SLOW_EVERY-th request answers after 500 ms, the others after 2 ms. */
async function startSlowUpstream(): Promise<{ base: string; requests: () => number; close: () => void }> {
  let requests = 0;
  const server = createServer((req, res) => {
    req.resume();
    const slow = ++requests % SLOW_EVERY === 0;
    const timer = setTimeout(
      () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'),
      slow ? 500 : 2,
    );
    res.on('close', () => clearTimeout(timer));
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests: () => requests,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

function workflow(
  base: string,
  hedge: { after: string; maxExtraPercent?: number } | undefined,
): CompiledWorkflow {
  const task = compileTask({
    apiVersion: 'syncflow.io/v1alpha1',
    kind: 'WorkflowTask',
    metadata: { name: 'get', namespace: 'bench' },
    spec: { http: { method: 'GET', url: `${base}/x` }, ...(hedge ? { hedge } : {}) },
  }).value as CompiledTask;
  return compileWorkflow(
    {
      apiVersion: 'syncflow.io/v1alpha1',
      kind: 'Workflow',
      metadata: { name: 'bench', namespace: 'bench' },
      spec: { tasks: [{ id: 'get', taskRef: { name: 'get' } }] },
    },
    { get: () => task, names: () => ['get'] },
  ).value as CompiledWorkflow;
}

async function main(): Promise<void> {
  const loadBefore = loadavg();
  const upstream = await startSlowUpstream();
  const client = new UndiciTaskClient({ policy: new EgressPolicy({ allowLoopback: true }) });
  const executor = new DagExecutor({ http: client });
  const variants: Record<string, CompiledWorkflow> = {
    plain: workflow(upstream.base, undefined),
    hedgeP95: workflow(upstream.base, { after: 'p95', maxExtraPercent: 10 }),
    hedge20ms: workflow(upstream.base, { after: '20ms', maxExtraPercent: 10 }),
  };
  const names = Object.keys(variants);
  const perRound = quick ? 200 : 1_000;
  const rounds = quick ? 2 : 5;
  const measure = async (name: string, count: number) => {
    const latencies: number[] = [];
    let hedged = 0;
    const before = upstream.requests();
    let next = 0;
    const worker = async () => {
      while (next < count) {
        next++;
        const started = performance.now();
        const status = await executor.execute(variants[name] as CompiledWorkflow, {});
        latencies.push(performance.now() - started);
        if (status.phase !== 'Succeeded') throw new Error(`bench execution failed: ${status.message}`);
        if (status.tasks?.[0]?.hedged) hedged++;
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    return { latencies, hedged, requests: upstream.requests() - before };
  };
  try {
    // Warm-up: connections, and the p95 variant's latency history.
    for (const name of names) await measure(name, 100);
    const totals = Object.fromEntries(
      names.map((n) => [n, { latencies: [] as number[], hedged: 0, requests: 0, executions: 0 }]),
    );
    for (let r = 0; r < rounds; r++) {
      for (let k = 0; k < names.length; k++) {
        const name = names[(r + k) % names.length] as string;
        const m = await measure(name, perRound);
        const t = totals[name] as (typeof totals)[string];
        t.latencies.push(...m.latencies);
        t.hedged += m.hedged;
        t.requests += m.requests;
        t.executions += perRound;
        process.stderr.write(`round ${r + 1} ${name}: p99 ${round3(summary(m.latencies).p99)} ms\n`);
      }
    }
    const figures = Object.fromEntries(
      names.map((n) => {
        const t = totals[n] as (typeof totals)[string];
        const s = summary(t.latencies);
        return [
          n,
          {
            executions: t.executions,
            latencyMs: { ...s, max: round3(Math.max(...t.latencies)) },
            hedgedExecutions: t.hedged,
            extraRequestRatio: round3(t.requests / t.executions - 1),
          },
        ];
      }),
    );
    const p99 = (n: string) => (figures[n] as { latencyMs: { p99: number } }).latencyMs.p99;
    const result = {
      benchmark: 'engine-hedge',
      date: new Date().toISOString(),
      machine: machine(
        loadBefore,
        'shared 2-core VM; other engineers were building and testing at the same time, so absolute numbers are noisy',
      ),
      method: {
        upstream: `in-process node:http; every ${SLOW_EVERY}th request 500 ms, the others 2 ms`,
        workflow: 'one GET step; executor over UndiciTaskClient with a loopback-allowing egress policy',
        concurrency: CONCURRENCY,
        executionsPerRound: perRound,
        rounds,
        order: 'variants rotate each round; percentiles over all rounds; 100 warm-up executions each',
      },
      variants: figures,
      p99Gain: {
        hedgeP95OverPlain: round3(p99('hedgeP95') / p99('plain')),
        hedge20msOverPlain: round3(p99('hedge20ms') / p99('plain')),
      },
    };
    await reportResult(result, out);
  } finally {
    await client.close();
    upstream.close();
  }
}

await main();
