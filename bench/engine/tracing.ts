/**
 * What OpenTelemetry tracing costs the engine. Workload (b) of `run.ts` (3 tasks `a → (b, c)`, 0 ms
 * upstreams, concurrency 64) in rounds that rotate through the variants, so machine noise hits all
 * alike:
 *   - `off`: no tracer (the server without --otel-endpoint);
 *   - `ratio-1%`: adapters/tracing with parent-based ratio sampling at 0.01 and the real OTLP/HTTP
 *     batch exporter, sending to a sink in another process (its serving cost is not charged here);
 *   - `ratio-100%`: every execution recorded and exported, for reference.
 * Executions arrive without a caller traceparent, so the ratio decides for each. Reports CPU µs
 * per execution of this process (the figure least disturbed by other processes) and executions
 * per second, medians over the rounds; the target is `ratio-1%` within 5% of `off`.
 *
 *   npx tsx bench/engine/tracing.ts [--quick] [--out bench/results/engine-tracing.json]
 */
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { UndiciTaskClient } from '../../adapters/http-client.ts';
import { EgressPolicy } from '../../adapters/egress/policy.ts';
import { startTracing, type Tracing } from '../../adapters/tracing.ts';
import { DagExecutor } from '../../core/engine/executor.ts';
import { startUpstream } from './upstream-process.ts';
import { FAN, syncflowWorkflow } from './workloads.ts';
import { machine, round3 } from '../api/measure.ts';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const at = args.indexOf('--out');
const out = at >= 0 ? args[at + 1] : undefined;

/** An OTLP/HTTP receiver that accepts and discards, in its own process; resolves with its port. */
async function startSink(): Promise<{ port: number; stop: () => void; received: () => Promise<number> }> {
  const code = `
    let n = 0;
    const server = require('node:http').createServer((req, res) => {
      req.resume();
      req.on('end', () => { n++; res.writeHead(200, { 'content-type': 'application/json' }).end('{}'); });
    });
    server.listen(0, '127.0.0.1', () => console.log('PORT ' + server.address().port));
    process.on('message', () => process.send(n));`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
  const port = await new Promise<number>((resolve, reject) => {
    let text = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const match = /PORT (\d+)/.exec(text);
      if (match) resolve(Number(match[1]));
    });
    child.on('exit', (c) => reject(new Error(`sink exited with ${c}`)));
  });
  return {
    port,
    stop: () => child.kill('SIGTERM'),
    received: () =>
      new Promise<number>((resolve) => {
        child.once('message', (n) => resolve(n as number));
        child.send('count');
      }),
  };
}

async function main(): Promise<void> {
  const loadBefore = loadavg();
  const { child, base } = await startUpstream();
  const sink = await startSink();
  const client = new UndiciTaskClient({ policy: new EgressPolicy({ allowLoopback: true }) });
  const endpoint = `http://127.0.0.1:${sink.port}/v1/traces`;
  const tracings: Tracing[] = [];
  const traced = (ratio: number) => {
    const tracing = startTracing({ endpoint, serviceName: 'syncflow-bench', ratio, parentBased: true });
    tracings.push(tracing);
    return new DagExecutor({ http: client, tracer: tracing.tracer });
  };
  const variants: Record<string, DagExecutor> = {
    off: new DagExecutor({ http: client }),
    'ratio-1%': traced(0.01),
    'ratio-100%': traced(1),
  };
  const names = Object.keys(variants);
  const workflow = syncflowWorkflow(base, 0, FAN);
  const concurrency = 64;
  const iterations = quick ? 2_000 : 4_000;
  const rounds = quick ? 3 : 15;

  const closedLoop = async (executor: DagExecutor, count: number) => {
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
    for (const name of names) await closedLoop(variants[name] as DagExecutor, quick ? 500 : 2_000);
    const totals = Object.fromEntries(
      names.map((n) => [n, { perSecond: [] as number[], cpuUs: [] as number[] }]),
    );
    for (let r = 0; r < rounds; r++) {
      // Rotate the order each round: no variant always runs first (or right after a GC-heavy one).
      for (let k = 0; k < names.length; k++) {
        const name = names[(r + k) % names.length] as string;
        const m = await closedLoop(variants[name] as DagExecutor, iterations);
        totals[name]?.perSecond.push(m.perSecond);
        totals[name]?.cpuUs.push(m.cpuUs);
        process.stderr.write(
          `round ${r + 1} ${name}: ${Math.round(m.perSecond)}/s, ${Math.round(m.cpuUs)} µs CPU\n`,
        );
      }
    }
    for (const tracing of tracings) await tracing.flush();
    const median = (values: number[]) =>
      [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
    const figures = Object.fromEntries(
      names.map((n) => {
        const t = totals[n] as { perSecond: number[]; cpuUs: number[] };
        return [
          n,
          {
            cpuUsPerExecutionMedian: Math.round(median(t.cpuUs)),
            cpuUsPerExecutionRounds: t.cpuUs.map(Math.round),
            perSecondMedian: Math.round(median(t.perSecond)),
            perSecondRounds: t.perSecond.map(Math.round),
          },
        ];
      }),
    );
    const cpuOverOff = (name: string) =>
      round3(
        (figures[name]?.cpuUsPerExecutionMedian as number) / (figures.off?.cpuUsPerExecutionMedian as number),
      );
    const onePercent = cpuOverOff('ratio-1%');
    const result = {
      benchmark: 'engine-tracing',
      date: new Date().toISOString(),
      machine: machine(
        loadBefore,
        'shared 2-core VM; other engineers were building and testing at the same time, so absolute numbers are noisy',
      ),
      method: {
        workload:
          'bench/engine workload (b): 3 tasks a → (b, c), 0 ms upstreams, closed loop, no caller traceparent',
        concurrency,
        iterationsPerRound: iterations,
        rounds,
        order: 'variants rotate each round; medians over rounds',
        exporter: 'OTLP/HTTP batch exporter (as the server uses) to a discarding receiver in another process',
      },
      variants: figures,
      otlpRequestsReceived: await sink.received(),
      cpuPerExecutionOverOff: { 'ratio-1%': onePercent, 'ratio-100%': cpuOverOff('ratio-100%') },
      target: 'ratio-1% within 5% of off (CPU per execution)',
      withinTarget: onePercent <= 1.05,
    };
    const text = `${JSON.stringify(result, null, 2)}\n`;
    if (out) await writeFile(out, text);
    process.stdout.write(text);
  } finally {
    for (const tracing of tracings) await tracing.shutdown();
    await client.close();
    child.kill('SIGTERM');
    sink.stop();
  }
}

await main();
