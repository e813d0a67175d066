/**
 * Benchmark: validating a 200-step workflow (plus its 20 tasks) with the shared validator, as
 * `syncflow validate` and the admission webhook do. Target: < 20 ms per validation.
 * Writes bench/results/validate.json with the machine described.
 *
 *   npx tsx bench/validate/validate-200.ts [--steps 200] [--iterations 300]
 */
import { writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { validateDocuments } from '../../core/validation/validate.ts';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

/** A wide, layered workflow: each step reads the output of a step from the previous layer. */
export function workflowDocuments(steps: number): unknown[] {
  const taskCount = 20;
  const tasks = Array.from({ length: taskCount }, (_, i) => ({
    apiVersion: 'syncflow.io/v1alpha1',
    kind: 'WorkflowTask',
    metadata: { name: `task-${i}` },
    spec: {
      inputSchema: {
        type: 'object',
        required: ['id'],
        properties: { id: { type: 'string' }, n: { type: 'integer' } },
      },
      outputSchema: {
        type: 'object',
        required: ['id', 'n'],
        properties: {
          id: { type: 'string' },
          n: { type: 'integer' },
          nested: { type: 'object', properties: { v: { type: 'number' } } },
        },
      },
      http: {
        method: 'POST',
        url: `http://svc-${i}.bench.svc/items/{{input.id}}`,
        body: { id: '{{input.id}}', n: '{{input.n}}' },
      },
      timeout: '1s',
      retry: { maxAttempts: 2, retryNonIdempotent: true },
    },
  }));
  const width = 10;
  const workflow = {
    apiVersion: 'syncflow.io/v1alpha1',
    kind: 'Workflow',
    metadata: { name: 'wide' },
    spec: {
      inputSchema: { type: 'object', required: ['id'], properties: { id: { type: 'string' } } },
      tasks: Array.from({ length: steps }, (_, i) => ({
        id: `s${i}`,
        taskRef: { name: `task-${i % taskCount}` },
        input:
          i < width
            ? { id: '{{input.id}}' }
            : { id: `{{tasks.s${i - width}.output.id}}`, n: `{{tasks.s${i - width}.output.n}}` },
        ...(i % 7 === 0 && i >= width ? { when: `tasks.s${i - width}.output.n > 0` } : {}),
      })),
      output: { last: `{{tasks.s${steps - 1}.output}}` },
      timeout: '30s',
    },
  };
  return [...tasks, workflow];
}

const steps = arg('steps', 200);
const iterations = arg('iterations', 300);
const docs = workflowDocuments(steps);
const errors = validateDocuments(docs).flatMap((r) => r.errors);
if (errors.length) throw new Error(`benchmark workflow is invalid: ${JSON.stringify(errors.slice(0, 3))}`);
// The same documents each time: the validator keeps no cache keyed on object identity (schema
// compilation is cached by content, as in the server and the webhook). Cloning per iteration was
// tried and only measured the clone's garbage collection.
for (let i = 0; i < 20; i++) validateDocuments(structuredClone(docs));
// Wall time and this process's CPU time: on a shared 2-core machine other processes preempt us,
// which inflates wall-time tails without saying anything about the validator.
const samples: number[] = [];
const cpuSamples: number[] = [];
for (let i = 0; i < iterations; i++) {
  const input = docs;
  const cpu = process.cpuUsage();
  const start = process.hrtime.bigint();
  validateDocuments(input);
  samples.push(Number(process.hrtime.bigint() - start) / 1e6);
  const used = process.cpuUsage(cpu);
  cpuSamples.push((used.user + used.system) / 1000);
}
samples.sort((a, b) => a - b);
cpuSamples.sort((a, b) => a - b);
const at = (list: number[], p: number) =>
  Number((list[Math.min(list.length - 1, Math.floor((p / 100) * list.length))] as number).toFixed(3));
const pct = (p: number) => at(samples, p);
const result = {
  benchmark: 'validate a workflow (CLI and admission validator)',
  date: new Date().toISOString(),
  machine: {
    cpu: cpus()[0]?.model,
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
  },
  workload: { steps, tasks: 20, iterations },
  ms: {
    p50: pct(50),
    p90: pct(90),
    p99: pct(99),
    max: pct(100),
    mean: Number((samples.reduce((a, b) => a + b, 0) / samples.length).toFixed(3)),
  },
  cpuMs: {
    p50: at(cpuSamples, 50),
    p90: at(cpuSamples, 90),
    p99: at(cpuSamples, 99),
    max: at(cpuSamples, 100),
  },
  loadAverage: loadavg().map((l) => Number(l.toFixed(2))),
  target: { p99Ms: 20 },
  meetsTarget: { wallP99: pct(99) < 20, cpuP99: at(cpuSamples, 99) < 20 },
};
console.log(JSON.stringify(result, null, 2));
if (!process.argv.includes('--no-write'))
  writeFileSync('bench/results/validate.json', `${JSON.stringify(result, null, 2)}\n`);
