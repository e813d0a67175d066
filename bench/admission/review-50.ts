/**
 * Benchmark: the validating webhook answering AdmissionReviews, in-process over HTTP (loopback,
 * keep-alive, as kube-apiserver keeps its webhook connections), through the real `admissionRoutes`
 * with the informers' catalog, a Secret directory and no live reads (the informers are synced).
 *
 *   (a) Workflow CREATE of a 50-step workflow over 50 WorkflowTasks      target p99 < 10 ms
 *   (b) WorkflowTask UPDATE re-checking 5 dependent 50-step Workflows    (reported, no target)
 *   (c) floor: a CONNECT review of the same size, answered without any check — the HTTP round trip
 *       alone, to tell transport and scheduling noise from the cost of the check
 *
 * Besides latency it reports CPU time per review (`process.cpuUsage`, client and server share the
 * process), which other processes on a loaded machine disturb far less than latency percentiles.
 *
 * Latency is the client's (request written → response parsed); `handlerMs` is the time inside the
 * route (parse, validate, respond). Each review carries fresh objects (a new spec each time, as real
 * applies do), so nothing is served from a cache keyed on the object. Writes bench/results/admission.json.
 *
 *   npx tsx bench/admission/review-50.ts [--iterations 2000] [--out bench/results/admission.json] [--run NAME]
 *
 * Each invocation stores its figures under `runs.<NAME>` of the output file (default `default`),
 * keeping other runs: e.g. one plain run and one under `nice -n -10` — the CPU share a webhook pod
 * with CPU requests gets on a busy node — on the same machine, minutes apart.
 */
import { existsSync, readFileSync } from 'node:fs';
import { writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { cpus, getPriority, loadavg, totalmem } from 'node:os';
import express from 'express';
import { Agent, request } from 'undici';
import { admissionRoutes } from '../../admission/routes.ts';
import { DefinitionCatalog, type DefinitionObject } from '../../core/definitions/catalog.ts';

const STEPS = 50;
const NS = 'bench';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}

/** Task i: {id, n} in; {id, n, nested.v} out; every fifth reads a Secret. */
function task(i: number, rv = '1'): DefinitionObject {
  return {
    kind: 'WorkflowTask',
    metadata: { name: `task-${i}`, namespace: NS, resourceVersion: rv, generation: 1 },
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
        ...(i % 5 === 0 ? { headers: { Authorization: 'Bearer {{secrets.token}}' } } : {}),
      },
      ...(i % 5 === 0
        ? { secrets: [{ name: 'token', secretKeyRef: { name: `api-${i}`, key: 'token' } }] }
        : {}),
      timeout: '1s',
      retry: { maxAttempts: 2, retryNonIdempotent: true },
    },
  };
}

/** 50 steps in layers of 10: each step reads the output of a step of the previous layer. */
function workflow(name: string, salt: number): DefinitionObject {
  const width = 10;
  return {
    kind: 'Workflow',
    metadata: { name, namespace: NS, resourceVersion: '1', generation: 1 },
    spec: {
      description: `bench ${salt}`,
      inputSchema: { type: 'object', required: ['id'], properties: { id: { type: 'string' } } },
      tasks: Array.from({ length: STEPS }, (_, i) => ({
        id: `s${i}`,
        taskRef: { name: `task-${i}` },
        input:
          i < width
            ? { id: '{{input.id}}' }
            : { id: `{{tasks.s${i - width}.output.id}}`, n: `{{tasks.s${i - width}.output.n}}` },
        ...(i % 7 === 0 && i >= width ? { when: `tasks.s${i - width}.output.n > ${salt % 3}` } : {}),
      })),
      output: { last: `{{tasks.s${STEPS - 1}.output}}` },
      timeout: '30s',
    },
  };
}

function review(
  kind: 'Workflow' | 'WorkflowTask',
  operation: 'CREATE' | 'UPDATE' | 'CONNECT',
  object: DefinitionObject,
  oldObject?: DefinitionObject,
): string {
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: crypto.randomUUID(),
      kind: { group: 'syncflow.io', version: 'v1alpha1', kind },
      resource: {
        group: 'syncflow.io',
        version: 'v1alpha1',
        resource: kind === 'Workflow' ? 'workflows' : 'workflowtasks',
      },
      name: object.metadata.name,
      namespace: NS,
      operation,
      userInfo: { username: 'bench' },
      object,
      oldObject: oldObject ?? null,
      dryRun: false,
    },
  });
}

function percentiles(samples: number[]) {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (p: number) =>
    Number((sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number).toFixed(3));
  return { p50: at(50), p90: at(90), p99: at(99), max: at(100) };
}

async function main(): Promise<void> {
  const iterations = Number(arg('iterations', '2000'));
  const loadAtStart = Number(loadavg()[0]?.toFixed(2));
  const out = arg('out', 'bench/results/admission.json');
  const catalog = new DefinitionCatalog();
  for (let i = 0; i < STEPS; i++) catalog.upsert(task(i));
  const dependents = 5;
  for (let d = 0; d < dependents; d++) catalog.upsert(workflow(`dependent-${d}`, d));
  const handler: number[] = [];
  const app = express();
  app.use(
    admissionRoutes({
      definitions: catalog,
      secrets: { keysOf: async () => ['token'] },
      onDecision: (event) => handler.push(event.durationMs),
    }),
  );
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const dispatcher = new Agent({ connections: 1, keepAliveTimeout: 60_000 });

  async function send(path: string, body: string): Promise<number> {
    const started = performance.now();
    const response = await request(`${origin}${path}`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json' },
      dispatcher,
    });
    const answer = (await response.body.json()) as {
      response: { allowed: boolean; status?: { message: string } };
    };
    const elapsed = performance.now() - started;
    if (!answer.response.allowed)
      throw new Error(`benchmark review denied: ${answer.response.status?.message}`);
    return elapsed;
  }

  /**
   * Runs the workloads interleaved (one request of each in turn), so that all of them see the same
   * machine at the same moments; on a shared machine the floor shows what the noise alone costs.
   */
  async function measure(
    workloads: Array<{ name: string; path: string; body: (i: number) => string }>,
    rounds: number,
    warmup: number,
  ) {
    const results = workloads.map(() => ({ latency: [] as number[], handler: [] as number[], cpuUs: 0 }));
    for (let i = 0; i < rounds + warmup; i++) {
      for (const [w, workload] of workloads.entries()) {
        const result = results[w] as (typeof results)[number];
        // Built per request, outside the timing: holding every body would grow the heap and GC pauses.
        const body = workload.body(i);
        const cpu = process.cpuUsage();
        handler.length = 0;
        const elapsed = await send(workload.path, body);
        const used = process.cpuUsage(cpu);
        if (i < warmup) continue;
        result.latency.push(elapsed);
        result.handler.push(...handler);
        result.cpuUs += used.user + used.system;
      }
    }
    return Object.fromEntries(
      workloads.map((w, i) => {
        const r = results[i] as (typeof results)[number];
        return [
          w.name,
          {
            latencyMs: percentiles(r.latency),
            handlerMs: percentiles(r.handler),
            cpuUsPerReview: Math.round(r.cpuUs / r.latency.length),
            samples: r.latency.length,
          },
        ];
      }),
    );
  }

  const warmup = 200;
  const createBody = (i: number) => review('Workflow', 'CREATE', workflow(`wf-${i}`, i));
  const old = task(0);
  const updateBody = (i: number) => {
    const next = task(0, String(i + 2));
    (next.spec as { description?: string }).description = `revision ${i}`;
    (next.spec as { outputSchema: { properties: Record<string, unknown> } }).outputSchema.properties[
      `extra${i}`
    ] = { type: 'string' };
    return review('WorkflowTask', 'UPDATE', next, old);
  };
  const paired = await measure(
    [
      { name: 'create', path: '/admission/v1/workflows', body: createBody },
      {
        name: 'floor',
        path: '/admission/v1/workflows',
        body: (i) => createBody(i).replace('"operation":"CREATE"', '"operation":"CONNECT"'),
      },
    ],
    iterations,
    warmup,
  );
  const updates = await measure(
    [{ name: 'update', path: '/admission/v1/workflowtasks', body: updateBody }],
    Math.max(400, Math.floor(iterations / 4)),
    warmup,
  );
  const create = paired.create as Record<string, unknown> & { latencyMs: { p99: number } };
  const floor = paired.floor as Record<string, unknown>;
  const update = updates.update as Record<string, unknown>;

  await dispatcher.close();
  server.close();
  const target = { p99Ms: 10 };
  const run = arg('run', 'default');
  const result = {
    date: new Date().toISOString(),
    command: process.argv.slice(1).join(' '),
    machine: {
      priority: getPriority(),
      cpu: cpus()[0]?.model,
      cores: cpus().length,
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      node: process.version,
      loadAverage1m: { atStart: loadAtStart, atEnd: Number(loadavg()[0]?.toFixed(2)) },
    },
    workloads: {
      workflowCreate50: {
        description: `Workflow CREATE, ${STEPS} steps over ${STEPS} WorkflowTasks (10 read Secrets), layered data dependencies and when conditions`,
        ...create,
      },
      workflowTaskUpdate5Dependents: {
        description: `WorkflowTask UPDATE (compatible) re-checking ${dependents} dependent ${STEPS}-step Workflows before and after`,
        ...update,
      },
      floorConnect: {
        description:
          'the same request bodies as CONNECT reviews: allowed without a check (HTTP, body parsing and JSON only)',
        ...floor,
      },
    },
    meetsTarget: create.latencyMs.p99 < target.p99Ms,
  };
  const previous = existsSync(out)
    ? (JSON.parse(readFileSync(out, 'utf8')) as { runs?: Record<string, unknown> })
    : {};
  const file = {
    benchmark: 'admission webhook: AdmissionReview for a 50-step Workflow, answered in-process over HTTP',
    target,
    runs: { ...(previous.runs ?? {}), [run]: result },
  };
  writeFileSync(out, `${JSON.stringify(file, null, 2)}\n`);
  console.log(JSON.stringify(result, null, 2));
}

await main();
