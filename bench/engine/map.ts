/**
 * What a map step costs per element. Against the bench upstream (0 ms answers, its own process),
 * three ways to make the same 100 calls at concurrency 10, in rounds that rotate the order:
 *   - `map`: one execution of a workflow whose one step maps a task over 100 elements;
 *   - `steps`: 100 executions of a one-step workflow (the same task), 10 at a time: what the
 *     engine costs per call without a map;
 *   - `baseline`: 100 hand-written undici GETs with `JSON.parse`, 10 at a time, no engine.
 * Reports CPU µs per element (call) of this process, the figure least disturbed by other processes,
 * and wall time per 100 calls; the map's overhead per element is `map − baseline`.
 *
 *   npx tsx bench/engine/map.ts [--quick] [--out bench/results/map.json]
 */
import { loadavg } from 'node:os';
import { Agent } from 'undici';
import { UndiciTaskClient } from '../../adapters/http-client.ts';
import { EgressPolicy } from '../../adapters/egress/policy.ts';
import {
  compileTask,
  compileWorkflow,
  type CompiledTask,
  type CompiledWorkflow,
} from '../../core/definitions/compile.ts';
import { DagExecutor } from '../../core/engine/executor.ts';
import type { WorkflowDocument } from '../../core/model/schema.ts';
import { benchOptions, machine, reportResult, round3 } from '../api/measure.ts';
import { startUpstream } from './upstream-process.ts';

const { quick, out } = benchOptions();

const ELEMENTS = 100;
const CONCURRENCY = 10;

function workflows(base: string): { map: CompiledWorkflow; single: CompiledWorkflow } {
  const task = compileTask({
    apiVersion: 'syncflow.io/v1alpha1',
    kind: 'WorkflowTask',
    metadata: { name: 'get-item', namespace: 'bench' },
    spec: {
      inputSchema: { type: 'object', required: ['id'], properties: { id: { type: 'string' } } },
      outputSchema: { type: 'object', properties: { id: { type: 'string' } } },
      http: { method: 'GET', url: `${base}/delay/0/item/{{input.id}}` },
    },
  }).value as CompiledTask;
  const tasks = { get: (n: string) => (n === 'get-item' ? task : undefined), names: () => ['get-item'] };
  const doc = (step: Record<string, unknown>, inputSchema: Record<string, unknown>): WorkflowDocument => ({
    apiVersion: 'syncflow.io/v1alpha1',
    kind: 'Workflow',
    metadata: { name: 'bench', namespace: 'bench' },
    spec: {
      inputSchema,
      tasks: [{ id: 'each', taskRef: { name: 'get-item' }, ...step }],
      output: { all: '{{tasks.each.output}}' },
    },
  });
  const map = compileWorkflow(
    doc(
      { map: { items: '{{input.ids}}', concurrency: CONCURRENCY }, input: { id: '{{item}}' } },
      { type: 'object', properties: { ids: { type: 'array', items: { type: 'string' } } } },
    ),
    tasks,
  ).value as CompiledWorkflow;
  const single = compileWorkflow(
    doc({ input: { id: '{{input.id}}' } }, { type: 'object', properties: { id: { type: 'string' } } }),
    tasks,
  ).value as CompiledWorkflow;
  return { map, single };
}

/** Runs `count` calls of `call`, `CONCURRENCY` at a time. */
async function pool(count: number, call: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) await call(next++);
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
}

async function main(): Promise<void> {
  const loadBefore = loadavg();
  const { child, base } = await startUpstream();
  const client = new UndiciTaskClient({ policy: new EgressPolicy({ allowLoopback: true }) });
  const agent = new Agent({ keepAliveTimeout: 30_000, connections: null });
  const executor = new DagExecutor({ http: client });
  const { map, single } = workflows(base);
  const ids = Array.from({ length: ELEMENTS }, (_, i) => `e${i}`);
  const variants: Record<string, () => Promise<void>> = {
    map: async () => {
      const status = await executor.execute(map, { ids });
      if (status.phase !== 'Succeeded') throw new Error(`map failed: ${status.message}`);
    },
    steps: () =>
      pool(ELEMENTS, async (i) => {
        const status = await executor.execute(single, { id: ids[i] });
        if (status.phase !== 'Succeeded') throw new Error(`step failed: ${status.message}`);
      }),
    baseline: () =>
      pool(ELEMENTS, async (i) => {
        const res = await agent.request({
          origin: base,
          path: `/delay/0/item/${ids[i]}`,
          method: 'GET',
          headers: { accept: 'application/json' },
        });
        JSON.parse(await res.body.text());
      }),
  };
  const names = Object.keys(variants);
  const repeats = quick ? 20 : 100;
  const rounds = quick ? 3 : 15;
  const measure = async (name: string) => {
    const cpu = process.cpuUsage();
    const started = performance.now();
    for (let r = 0; r < repeats; r++) await (variants[name] as () => Promise<void>)();
    const used = process.cpuUsage(cpu);
    return {
      cpuUsPerElement: (used.user + used.system) / (repeats * ELEMENTS),
      wallMsPer100: (performance.now() - started) / repeats,
    };
  };
  try {
    for (const name of names) await measure(name);
    const totals = Object.fromEntries(names.map((n) => [n, { cpu: [] as number[], wall: [] as number[] }]));
    for (let r = 0; r < rounds; r++) {
      for (let k = 0; k < names.length; k++) {
        const name = names[(r + k) % names.length] as string;
        const m = await measure(name);
        totals[name]?.cpu.push(m.cpuUsPerElement);
        totals[name]?.wall.push(m.wallMsPer100);
        process.stderr.write(
          `round ${r + 1} ${name}: ${Math.round(m.cpuUsPerElement)} µs CPU/element, ${round3(m.wallMsPer100)} ms/100\n`,
        );
      }
    }
    const median = (values: number[]) =>
      [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
    const figures = Object.fromEntries(
      names.map((n) => {
        const t = totals[n] as { cpu: number[]; wall: number[] };
        return [
          n,
          {
            cpuUsPerElementMedian: round3(median(t.cpu)),
            cpuUsPerElementRounds: t.cpu.map(Math.round),
            wallMsPer100Median: round3(median(t.wall)),
          },
        ];
      }),
    );
    const cpu = (n: string) => (figures[n] as { cpuUsPerElementMedian: number }).cpuUsPerElementMedian;
    const result = {
      benchmark: 'engine-map',
      date: new Date().toISOString(),
      machine: machine(
        loadBefore,
        'shared 2-core VM; other engineers were building and testing at the same time, so absolute numbers are noisy',
      ),
      method: {
        upstream: 'bench/engine/upstream.ts in its own process, 0 ms answers',
        elements: ELEMENTS,
        concurrency: CONCURRENCY,
        repeatsPerRound: repeats,
        rounds,
        order: 'variants rotate each round; medians over rounds',
      },
      variants: figures,
      overheadPerElement: {
        mapOverBaselineCpuUs: round3(cpu('map') - cpu('baseline')),
        stepOverBaselineCpuUs: round3(cpu('steps') - cpu('baseline')),
        mapOverStepRatio: round3(cpu('map') / cpu('steps')),
      },
    };
    await reportResult(result, out);
  } finally {
    await client.close();
    await agent.close();
    child.kill('SIGTERM');
  }
}

await main();
