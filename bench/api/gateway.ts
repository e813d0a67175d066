/**
 * Direct run gateway benchmark: the gateway with authentication, authorization
 * and history on, against the engine benchmark's baseline orchestrator behind a minimal HTTPS server,
 * in the same run and against the same mock upstream process (bench/engine/upstream.ts).
 *
 *   (1) server CPU per request gateway/baseline: 3-task fan `a → (b, c)`, 0 ms upstreams,
 *       concurrency 64, alternating rounds; target ≤ 1.15
 *   (2) throughput of the gateway with `--workers auto` (one event loop per CPU on the shared
 *       socket, node:cluster) against the single-process baseline, same rounds; target ≥ 1.0
 *   (3) p50 latency overhead gateway − baseline: 5-task diamond, 10 ms upstreams, paired closed loop
 *       at concurrency 1 (and 32, for reference); target ≤ 1 ms at concurrency 1
 *
 * Each server runs in its own process (gateway-server.ts); the driver presents the front-proxy client
 * certificate and X-Remote-User/Group headers, as kube-apiserver's aggregator does. History goes to
 * PostgreSQL when a URL is given (--database-url, or TEST_DATABASE_URL as `hack/postgres.sh run` sets
 * it), else to embedded PGlite. Loopback only; every loop is bounded by a request count.
 *
 * Both servers run as the image runs the server: compiled (hack/build.sh with tsconfig.bench.json),
 * with the Node flags of the Dockerfile's ENTRYPOINT, on the image's Node major (Node 24 from
 * hack/node24.sh when the machine's node is older; `--node PATH` picks another binary). `--tsx`
 * runs them from the TypeScript sources instead. The driver runs on the machine's node.
 *
 *   hack/postgres.sh run npx tsx bench/api/gateway.ts --out bench/results/api.json
 *   hack/postgres.sh run npx tsx bench/api/gateway.ts --node "$(command -v node)" --section gatewayOnNode20 --out …
 *   npx tsx bench/api/gateway.ts --quick
 *   npx tsx bench/api/gateway.ts --ablation [--variants a,b] [--repeat N] [--requests N]
 */
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent } from 'undici';
import { repoRoot } from '../../test/harness/controlplane.ts';
import { dockerEntrypoint, dockerNodeMajor } from '../../test/harness/dockerfile.ts';
import { startUpstream } from '../engine/upstream-process.ts';
import { baselineRun, FAN } from '../engine/workloads.ts';
import {
  CALLER_GROUP,
  NAMESPACE,
  type Ablation,
  type DriverMessage,
  WORKFLOWS,
  type WorkflowName,
} from './gateway-server.ts';
import {
  closedLoop,
  flag,
  machine,
  median,
  pairedLoop,
  replyOf,
  round3,
  summary,
  writeSection,
  type Shot,
} from './measure.ts';
import { makeBenchPki } from './pki.ts';
import { postgresProcesses } from './postgres-processes.ts';
import { workerCount } from '../../apiserver/workers.ts';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const out = flag('--out');
const databaseUrl = flag('--database-url') ?? process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL;
const here = fileURLToPath(new URL('.', import.meta.url));
/** `--workers auto`: one event loop per available CPU, as the server counts them. */
const AUTO_WORKERS = workerCount('auto');

/**
 * The Node flags the image runs the server with (the Dockerfile's ENTRYPOINT between the node binary
 * and the script), given to both server processes so that the baseline gets the same runtime.
 */
const IMAGE_NODE_FLAGS = imageNodeFlags();

function imageNodeFlags(): string[] {
  const words = dockerEntrypoint();
  return words.slice(
    1,
    words.findIndex((w) => w.endsWith('.js')),
  );
}

/**
 * The Node binary both servers run on: the image's Node major (the machine's node may be older;
 * hack/node24.sh installs Node 24 into the cache), or `--node PATH`.
 */
const SERVER_NODE = flag('--node') ?? imageNode();

function imageNode(): string {
  const major = dockerNodeMajor();
  if (Number(process.versions.node.split('.')[0]) === major) return process.execPath;
  if (major !== 24)
    throw new Error(`the image runs Node ${major}: pass --node PATH to a Node ${major} binary`);
  return execFileSync('bash', [join(repoRoot, 'hack', 'node24.sh')], { encoding: 'utf8' }).trim();
}

/** The compiled server (tsconfig.bench.json through hack/build.sh), unless --tsx. */
const compiled = args.includes('--tsx') ? undefined : buildServer();

function buildServer(): string {
  // One directory per run: two runs at once (the test command's gate and a benchmark) must not
  // rebuild each other's server under them.
  const out = join(repoRoot, '.cache', `bench-build-${process.pid}`);
  process.on('exit', () => rmSync(out, { recursive: true, force: true }));
  execFileSync('bash', [join(repoRoot, 'hack', 'build.sh'), out, 'tsconfig.bench.json'], {
    cwd: repoRoot,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return join(out, 'bench', 'api', 'gateway-server.js');
}

/** A server process of gateway-server.ts, driven over IPC. */
class ServerProcess {
  private constructor(
    private readonly child: ChildProcess,
    readonly origin: string,
    /** The server's Node version. */
    readonly node: string,
  ) {}

  static async start(start: Extract<DriverMessage, { type: 'start' }>): Promise<ServerProcess> {
    // SYNCFLOW_BENCH_CPU_PROF=DIR writes a V8 CPU profile of each server process there (for profiling);
    // SYNCFLOW_BENCH_SERVER_FLAGS adds Node flags to the server processes (e.g. --trace-gc).
    const flags = [
      ...IMAGE_NODE_FLAGS,
      ...(process.env.SYNCFLOW_BENCH_CPU_PROF
        ? ['--cpu-prof', `--cpu-prof-dir=${process.env.SYNCFLOW_BENCH_CPU_PROF}`]
        : []),
      ...(process.env.SYNCFLOW_BENCH_SERVER_FLAGS?.split(' ').filter(Boolean) ?? []),
    ];
    // Both servers run compiled JavaScript, as the image does (hack/build.sh); --tsx runs the sources.
    const child = compiled
      ? fork(compiled, [], {
          execPath: SERVER_NODE,
          execArgv: flags,
          stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        })
      : fork(`${here}gateway-server.ts`, [], {
          execPath: SERVER_NODE,
          execArgv: ['--import', 'tsx', ...flags],
          stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        });
    child.send(start);
    const { port, node } = await ServerProcess.reply<{ port: number; node: string }>(child, 'listening');
    return new ServerProcess(child, `https://127.0.0.1:${port}`, node);
  }

  private static reply<T>(child: ChildProcess, type: string): Promise<T> {
    return replyOf<T>(child, type);
  }

  /** User + system CPU time the process has used, in µs. */
  async cpuMicros(): Promise<number> {
    this.child.send({ type: 'cpu' } satisfies DriverMessage);
    const { usage } = await ServerProcess.reply<{ usage: NodeJS.CpuUsage }>(this.child, 'cpu');
    return usage.user + usage.system;
  }

  async finish(lastExecution?: string): Promise<Record<string, unknown>> {
    this.child.send({ type: 'finish', ...(lastExecution ? { lastExecution } : {}) } satisfies DriverMessage);
    const { verdict } = await ServerProcess.reply<{ verdict: Record<string, unknown> }>(
      this.child,
      'finished',
    );
    return verdict;
  }

  /** Waits for the process to exit by itself after `finish` (a CPU profile is written then), else ends it. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    const timer = setTimeout(() => this.child.kill('SIGTERM'), 10_000);
    await exited;
    clearTimeout(timer);
  }
}

/**
 * `--ablation`: the gateway's server CPU per request with one part switched off at a time (fan
 * workflow, concurrency 64), to see where the gateway's cost over the baseline goes. CPU time per
 * request is measured in the server process, so it is far less sensitive to machine load than rates;
 * the whole machine's CPU per request is reported next to it (what PostgreSQL and the driver add),
 * and a local PostgreSQL's own CPU per request (`databaseCpuUsPerRequest`, its processes' times).
 */
async function ablation(
  start: Omit<Extract<DriverMessage, { type: 'start' }>, 'mode'>,
  agent: Agent,
): Promise<void> {
  const all: Array<{
    name: string;
    mode: 'syncflow' | 'baseline';
    without: Ablation[];
    express?: boolean;
    workers?: number;
  }> = [
    { name: 'baseline', mode: 'baseline', without: [] },
    { name: 'gateway --workers auto', mode: 'syncflow', without: [], workers: AUTO_WORKERS },
    { name: 'baseline inside express', mode: 'baseline', without: [], express: true },
    { name: 'gateway', mode: 'syncflow', without: [] },
    ...(['auth', 'history', 'logs', 'metrics', 'live'] as const).map((part) => ({
      name: `gateway without ${part}`,
      mode: 'syncflow' as const,
      without: [part],
    })),
    {
      name: 'gateway without auth/history/logs/metrics',
      mode: 'syncflow',
      without: ['auth', 'history', 'logs', 'metrics'],
    },
  ];
  // --variants a,b,c picks rows by name (default: the four summary rows); --repeat N runs the
  // chosen rows N times interleaved and reports each row's median, which damps a shared machine.
  const chosen = flag('--variants')?.split(',');
  const variants = chosen
    ? chosen.map((name) => {
        const found = all.find((v) => v.name === name);
        if (!found)
          throw new Error(`--variants: no row "${name}"; rows: ${all.map((v) => v.name).join(', ')}`);
        return found;
      })
    : all.filter((v) =>
        [
          'baseline',
          'baseline inside express',
          'gateway',
          'gateway without auth/history/logs/metrics',
        ].includes(v.name),
      );
  const repeat = Number(flag('--repeat') ?? 1);
  // --concurrency N and --workflow diamond price the parts at another load (e.g. the latency at 1).
  const ablationConcurrency = Number(flag('--concurrency') ?? 64);
  const ablationWorkflow = (flag('--workflow') ?? 'fan') as WorkflowName;
  const requests = Number(flag('--requests') ?? (quick ? 1_000 : 3_000));
  const samples = new Map<
    string,
    Array<{
      cpu: number;
      database?: number;
      machine: number;
      perSecond: number;
      p50Ms: number;
      errors: number;
    }>
  >();
  // A local PostgreSQL's own CPU per request (its processes, from /proc), beside the server's.
  const postgres = databaseUrl ? await postgresProcesses(databaseUrl) : undefined;
  for (let r = 0; r < repeat; r++) {
    for (const variant of variants) {
      const server = await ServerProcess.start({
        ...start,
        mode: variant.mode,
        without: variant.without,
        express: variant.express ?? false,
        ...(variant.workers ? { workers: variant.workers } : {}),
      });
      try {
        const shot = gatewayShot(agent, server.origin, ablationWorkflow);
        await closedLoop(shot, ablationConcurrency, requests / 2);
        const cpu0 = await server.cpuMicros();
        const machine0 = machineBusyMicros();
        const database0 = postgres?.cpuMicros();
        const result = await closedLoop(shot, ablationConcurrency, requests);
        const cpu = (await server.cpuMicros()) - cpu0;
        const database = postgres && database0 !== undefined ? postgres.cpuMicros() - database0 : undefined;
        const sample = {
          cpu: Math.round(cpu / requests),
          ...(database !== undefined ? { database: Math.round(database / requests) } : {}),
          machine: Math.round((machineBusyMicros() - machine0) / requests),
          perSecond: Math.round(result.latencies.length / result.seconds),
          p50Ms: summary(result.latencies).p50,
          errors: result.errors,
        };
        samples.set(variant.name, [...(samples.get(variant.name) ?? []), sample]);
        process.stderr.write(`${variant.name}: ${JSON.stringify(sample)}\n`);
        await server.finish();
      } finally {
        await server.stop();
      }
    }
  }
  const rows: Record<string, unknown> = {};
  for (const [name, list] of samples) {
    rows[name] = {
      serverCpuUsPerRequest: median(list.map((x) => x.cpu)),
      ...(postgres
        ? databaseFigures(list.flatMap((x) => (x.database === undefined ? [] : [x.database])))
        : {}),
      machineCpuUsPerRequest: median(list.map((x) => x.machine)),
      perSecond: median(list.map((x) => x.perSecond)),
      p50Ms: median(list.map((x) => x.p50Ms)),
      errors: list.reduce((a, x) => a + x.errors, 0),
      ...(list.length > 1 ? { runs: list.length, cpuPerRun: list.map((x) => x.cpu) } : {}),
    };
  }
  process.stderr.write(`${JSON.stringify(rows, null, 1)}\n`);
  if (out)
    await writeSection(out, 'gatewayAblation', {
      date: new Date().toISOString(),
      machine: machine(loadavg(), 'see gateway.machine'),
      workflow: `${ablationWorkflow}, ${WORKFLOWS[ablationWorkflow].delayMs} ms upstreams, concurrency ${ablationConcurrency}`,
      requests,
      rows,
    });
}

/** PostgreSQL's own CPU per request of a row: the median, and each run's when there were several. */
function databaseFigures(runs: number[]): Record<string, unknown> {
  return {
    databaseCpuUsPerRequest: median(runs),
    ...(runs.length > 1 ? { databaseCpuPerRun: runs } : {}),
  };
}

/**
 * CPU time of the whole machine (all cores, all processes: driver, upstream, server, PostgreSQL)
 * in µs: per request, it tells whether a row is bound by the server's thread or by the machine.
 */
function machineBusyMicros(): number {
  let ms = 0;
  for (const { times } of cpus()) ms += times.user + times.nice + times.sys + times.irq;
  return ms * 1000;
}

const BODY = JSON.stringify({ userId: '42' });

/** One run through the gateway (or the baseline server) as the aggregator would send it. */
function gatewayShot(
  agent: Agent,
  origin: string,
  workflow: WorkflowName,
  onExecution?: (name: string) => void,
): Shot {
  return async () => {
    const res = await agent.request({
      origin,
      path: `/run/v1/namespaces/${NAMESPACE}/workflows/${workflow}`,
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-remote-user': 'system:serviceaccount:shop:checkout',
        'x-remote-group': CALLER_GROUP,
      },
      body: BODY,
    });
    const text = await res.body.text();
    if (res.statusCode !== 200) throw new Error(`${res.statusCode} ${text.slice(0, 300)}`);
    const execution = res.headers['syncflow-execution'];
    if (onExecution && typeof execution === 'string') onExecution(execution);
  };
}

async function main(): Promise<void> {
  const loadBefore = loadavg();
  const pki = await makeBenchPki();
  const upstream = await startUpstream();
  const start = {
    type: 'start' as const,
    pki,
    upstream: upstream.base,
    ...(databaseUrl ? { databaseUrl } : {}),
  };
  const servers: ServerProcess[] = [];
  // The aggregator's connection to an extension server: front-proxy client certificate, keep-alive.
  const agent = new Agent({
    connect: { ca: pki.servingCa, cert: pki.frontProxyCert, key: pki.frontProxyKey },
    connections: null,
    keepAliveTimeout: 30_000,
  });
  const local = new Agent({ keepAliveTimeout: 30_000, connections: null });
  // The last execution each server answered (by origin): its finish checks it was recorded.
  const lastExecution = new Map<string, string>();
  try {
    if (args.includes('--ablation')) {
      await ablation(start, agent);
      return;
    }
    const syncflow = await ServerProcess.start({ ...start, mode: 'syncflow' });
    servers.push(syncflow);
    const baseline = await ServerProcess.start({ ...start, mode: 'baseline' });
    servers.push(baseline);
    const workers = await ServerProcess.start({ ...start, mode: 'syncflow', workers: AUTO_WORKERS });
    servers.push(workers);

    const shot = (origin: string, workflow: WorkflowName): Shot =>
      gatewayShot(agent, origin, workflow, (name) => lastExecution.set(origin, name));

    // Warm-up: JIT, connection pools, the authorizer's cache, the history's prepared statements.
    const warm = quick ? 300 : 2_000;
    for (const target of [syncflow, baseline, workers]) {
      for (const workflow of ['fan', 'diamond'] as const) {
        const w = await closedLoop(shot(target.origin, workflow), 16, warm);
        if (w.errors) throw new Error(`warm-up against ${target.origin} failed: ${w.firstError}`);
      }
    }

    const latency: Record<string, unknown> = {};
    let errors = 0;
    for (const concurrency of [1, 32]) {
      const total = concurrency === 1 ? (quick ? 200 : 1_000) : quick ? 2_000 : 8_000;
      const { a: b, b: s } = await pairedLoop(
        shot(baseline.origin, 'diamond'),
        shot(syncflow.origin, 'diamond'),
        concurrency,
        total,
      );
      errors += b.errors + s.errors;
      const bs = summary(b.latencies);
      const ss = summary(s.latencies);
      latency[`c${concurrency}`] = {
        samples: s.latencies.length,
        errors: {
          baseline: b.errors,
          gateway: s.errors,
          ...(b.firstError || s.firstError ? { first: b.firstError ?? s.firstError } : {}),
        },
        baselineMs: bs,
        gatewayMs: ss,
        overheadMs: {
          p50: round3(ss.p50 - bs.p50),
          p90: round3(ss.p90 - bs.p90),
          p99: round3(ss.p99 - bs.p99),
        },
      };
      process.stderr.write(`latency c=${concurrency}: ${JSON.stringify(latency[`c${concurrency}`])}\n`);
    }

    // Five alternating rounds: single rounds on this shared VM move by ±20%.
    const rounds = quick ? 1 : 5;
    const perRound = quick ? 2_000 : 6_000;
    const rates = { baseline: [] as number[], gateway: [] as number[], workers: [] as number[] };
    const cpu = { baseline: 0, gateway: 0, workers: 0 };
    for (let r = 0; r < rounds; r++) {
      for (const [name, target] of [
        ['baseline', baseline],
        ['gateway', syncflow],
        ['workers', workers],
      ] as const) {
        const cpu0 = await target.cpuMicros();
        const result = await closedLoop(shot(target.origin, 'fan'), 64, perRound);
        cpu[name] += (await target.cpuMicros()) - cpu0;
        errors += result.errors;
        if (result.errors)
          process.stderr.write(`throughput ${name}: ${result.errors} errors, first: ${result.firstError}\n`);
        rates[name].push(result.latencies.length / result.seconds);
      }
    }
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    // Reference only: the bare in-process orchestrator of bench/engine (no HTTP in front of it).
    const bare = await closedLoop(baselineRun(local, upstream.base, 0, FAN), 64, perRound);
    const throughput = {
      workflow: 'fan: a → (b, c), 0 ms upstreams',
      concurrency: 64,
      rounds,
      requestsPerRound: perRound,
      baselinePerSecond: Math.round(mean(rates.baseline)),
      gatewayPerSecond: Math.round(mean(rates.gateway)),
      perRound: { baseline: rates.baseline.map(Math.round), gateway: rates.gateway.map(Math.round) },
      workersPerSecond: Math.round(mean(rates.workers)),
      workers: AUTO_WORKERS,
      ratio: round3(mean(rates.gateway) / mean(rates.baseline)),
      workersRatio: round3(mean(rates.workers) / mean(rates.baseline)),
      serverCpuUsPerRequest: {
        baseline: Math.round(cpu.baseline / (rounds * perRound)),
        gateway: Math.round(cpu.gateway / (rounds * perRound)),
        workers: Math.round(cpu.workers / (rounds * perRound)),
      },
      cpuRatio: round3(cpu.gateway / cpu.baseline),
      inProcessEngineBaselinePerSecond: Math.round(bare.latencies.length / bare.seconds),
    };
    process.stderr.write(`throughput: ${JSON.stringify(throughput)}\n`);

    const verdict = await syncflow.finish(lastExecution.get(syncflow.origin));
    await baseline.finish();
    const workersVerdict = await workers.finish(lastExecution.get(workers.origin));
    const c1 = latency.c1 as { overheadMs: { p50: number } };
    const c32 = latency.c32 as { overheadMs: { p50: number } };
    const result = {
      date: new Date().toISOString(),
      machine: machine(
        loadBefore,
        'shared 2-core VM; other engineers build and test concurrently, see the load averages',
      ),
      method: {
        upstream: 'bench/engine/upstream.ts: separate node:http process on 127.0.0.1, fixed latency',
        gateway:
          'buildApp over node:https in its own process: DelegatingGuard with FrontProxyAuthenticator (certificate chain verified against the requestheader CA, allowed names) and SubjectAccessReviewAuthorizer (real cache; the review answered in-process), DagExecutor over undici with egress policy, pino info logs to /dev/null, metrics, history writer',
        baseline:
          'bench/engine/workloads.ts baselineRun (hand-written undici orchestrator) behind a minimal node:https server, own process, same certificate',
        driver:
          'undici client in a third process with the front-proxy client certificate and X-Remote-User/Group, keep-alive; latency paired (workers alternate targets), throughput in alternating rounds',
        history: verdict.history,
        runtime: compiled
          ? `both servers compiled (hack/build.sh) on Node ${syncflow.node}, node ${IMAGE_NODE_FLAGS.join(' ')} as the image's ENTRYPOINT; driver on Node ${process.version}`
          : `both servers from the TypeScript sources through tsx on Node ${syncflow.node}, node ${IMAGE_NODE_FLAGS.join(' ')}; driver on Node ${process.version}`,
      },
      latency,
      throughput,
      verification: { errors, ...verdict, workers: workersVerdict },
      targets: {
        serverCpuRatio: { target: 1.15, value: throughput.cpuRatio, met: throughput.cpuRatio <= 1.15 },
        workersThroughputRatio: {
          target: 1,
          value: throughput.workersRatio,
          met: throughput.workersRatio >= 1,
        },
        overheadP50Ms: {
          target: 1,
          c1: c1.overheadMs.p50,
          c32: c32.overheadMs.p50,
          // Latency overhead is the unloaded figure (c=1); at c=32 the gateway runs near its CPU
          // limit and queueing adds to it, which is the throughput figure's subject.
          measuredAt: 'c=1',
          met: c1.overheadMs.p50 <= 1,
        },
        zeroErrors: { met: errors === 0 },
      },
    };
    const text = `${JSON.stringify(result, null, 2)}\n`;
    // --section NAME writes another section (e.g. the run with --node on the machine's node).
    if (out) await writeSection(out, flag('--section') ?? 'gateway', result);
    process.stdout.write(text);
  } finally {
    await agent.close();
    await local.close();
    await Promise.all(servers.map((server) => server.stop()));
    upstream.child.kill('SIGTERM');
  }
}

await main();
