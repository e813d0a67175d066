/**
 * Overload benchmark: twice `--max-in-flight` clients against a real server
 * process whose executions wait on a slow upstream (~1 s). Every client is a closed loop that sends
 * the next request as soon as it has an answer (429 included, ignoring Retry-After: the hostile
 * case) for a fixed time. Reports per answer kind the latency (connection set-up included), client
 * timeouts at 20 s, connection errors, /livez latency meanwhile, the server's RSS before, at peak and
 * after, and the first request after the load (recovery).
 *
 *   npx tsx bench/overload/run.ts --out bench/results/overload.json            # 256/512 and 1024/2048
 *   npx tsx bench/overload/run.ts --runs 256:512 --seconds 10                  # one run
 *   npx tsx bench/overload/run.ts --runs 256:512 --new-connections             # a new TLS connection per request
 *
 * Section keys in the output: `<maxInFlight>x<connections>` plus `-reconnect` for --new-connections.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { EventLoopUtilization } from 'node:perf_hooks';
import { createSecureContext, type SecureContext } from 'node:tls';
import { Client } from 'undici';
import { startUpstream } from '../engine/upstream-process.ts';
import { makeBenchPki, type BenchPki } from '../api/pki.ts';
import { readFile, writeFile } from 'node:fs/promises';
import { flag, machine, round3, summary } from '../api/measure.ts';
import { CALLER_GROUP, NAMESPACE, WORKFLOW, type OverloadServerMessage } from './server.ts';

const args = process.argv.slice(2);
const out = flag('--out');
const seconds = Number(flag('--seconds') ?? 15);
const delayMs = Number(flag('--delay-ms') ?? 1000);
const timeoutMs = 20_000;
const newConnections = args.includes('--new-connections');
const before = args.includes('--before');
const floor = args.includes('--floor');
/** Clients wait the Retry-After second after a 429 (well-behaved callers) instead of asking again at once. */
const honourRetryAfter = args.includes('--honour-retry-after');
/** Connections open over this time (0: all at once, the storm). */
const rampMs = Number(flag('--ramp-ms') ?? 0);
const maxEventLoopDelayMs = Number(flag('--max-event-loop-delay-ms') ?? 100);
const acceptors = flag('--acceptors') ? Number(flag('--acceptors')) : undefined;
/** The server runs on the image's Node (reusePort needs Node ≥ 22.12), or --node PATH. */
const serverNode = flag('--node') ?? process.execPath;
const runs = (flag('--runs') ?? '256:512,1024:2048')
  .split(',')
  .map((r) => r.split(':').map(Number) as [number, number]);
const databaseUrl = flag('--database-url') ?? process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL;
const here = fileURLToPath(new URL('.', import.meta.url));
const PATH = `/run/v1/namespaces/${NAMESPACE}/workflows/${WORKFLOW}`;

interface ServerProcess {
  child: ChildProcess;
  port: number;
  node: string;
  acceptors: number;
  ask<T>(message: OverloadServerMessage, reply: string): Promise<T>;
}

async function startServer(pki: BenchPki, upstream: string, maxInFlight: number): Promise<ServerProcess> {
  const child = fork(`${here}server.ts`, [], {
    execPath: serverNode,
    execArgv: [
      '--import',
      'tsx',
      ...(process.env.SYNCFLOW_BENCH_CPU_PROF
        ? ['--cpu-prof', `--cpu-prof-dir=${process.env.SYNCFLOW_BENCH_CPU_PROF}`]
        : []),
    ],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const ask = <T>(message: OverloadServerMessage, reply: string) =>
    new Promise<T>((resolve, reject) => {
      const onMessage = (m: { type: string }) => {
        if (m.type !== reply) return;
        child.off('message', onMessage);
        child.off('exit', reject);
        resolve(m as T);
      };
      child.on('message', onMessage);
      child.once('exit', reject);
      child.send(message);
    });
  const listening = await ask<{ port: number; node: string; acceptors: number }>(
    {
      type: 'start',
      pki,
      upstream,
      delayMs,
      maxInFlight,
      maxConnections: Math.max(4096, maxInFlight),
      maxEventLoopDelayMs,
      before,
      floor,
      ...(acceptors ? { acceptors } : {}),
      ...(databaseUrl ? { databaseUrl } : {}),
    },
    'listening',
  );
  return { child, port: listening.port, node: listening.node, acceptors: listening.acceptors, ask };
}

/** The resident set of a process, read from /proc (no help needed from its busy event loop). */
async function rssOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
}

const contexts = new WeakMap<BenchPki, SecureContext>();

/**
 * An undici client with the front-proxy certificate (one connection, no pipelining). One TLS
 * context for all clients: building one per connection would make the driver, not the server, the
 * bottleneck of a connection storm.
 */
function client(pki: BenchPki, port: number): Client {
  let secureContext = contexts.get(pki);
  if (!secureContext) {
    secureContext = createSecureContext({
      ca: pki.servingCa,
      cert: pki.frontProxyCert,
      key: pki.frontProxyKey,
    });
    contexts.set(pki, secureContext);
  }
  return new Client(`https://127.0.0.1:${port}`, {
    connect: { secureContext, rejectUnauthorized: true } as Client.Options['connect'],
    pipelining: 1,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    connectTimeout: timeoutMs,
  });
}

interface Outcome {
  status: number | string;
  ms: number;
}

async function shot(c: Client, user: number): Promise<Outcome> {
  const t0 = performance.now();
  try {
    const res = await c.request({
      path: PATH,
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-remote-user': `caller-${user}`,
        'x-remote-group': CALLER_GROUP,
      },
      body: JSON.stringify({ userId: String(user) }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    await res.body.dump({ limit: 1 << 20 });
    return { status: res.statusCode, ms: performance.now() - t0 };
  } catch (error) {
    const e = error as { code?: string; name?: string };
    const kind =
      e.name === 'TimeoutError' || e.code === 'UND_ERR_HEADERS_TIMEOUT' || e.code === 'UND_ERR_BODY_TIMEOUT'
        ? 'timeout'
        : (e.code ?? e.name ?? 'error');
    return { status: kind, ms: performance.now() - t0 };
  }
}

async function overload(pki: BenchPki, upstream: string, maxInFlight: number, connections: number) {
  const server = await startServer(pki, upstream, maxInFlight);
  const rss = () => rssOf(server.child.pid as number);
  const mb = (bytes: number) => Math.round(bytes / 2 ** 20);
  // Warm up: one execution, so that compilation and first connections are not part of the figures.
  const warm = client(pki, server.port);
  await shot(warm, 0);
  await warm.close();
  const rssBefore = await rss();
  let rssPeak = rssBefore;
  const sampler = setInterval(
    () =>
      void rss().then(
        (b) => (rssPeak = Math.max(rssPeak, b)),
        () => undefined,
      ),
    250,
  );
  const serverElu0 = (await server.ask<{ elu: EventLoopUtilization }>({ type: 'stats' }, 'stats')).elu;
  const driverElu0 = performance.eventLoopUtilization();
  const outcomes: Outcome[] = [];
  const firstAnswers: number[] = [];
  const livez: number[] = [];
  const started = performance.now();
  const startedAbs = performance.timeOrigin + started;

  const deadline = started + seconds * 1000;
  let probing = true;
  const probe = (async () => {
    const c = client(pki, server.port);
    while (probing) {
      const t0 = performance.now();
      try {
        const res = await c.request({
          path: '/livez',
          method: 'GET',
          signal: AbortSignal.timeout(timeoutMs),
        });
        await res.body.dump();
        livez.push(performance.now() - t0);
      } catch {
        livez.push(timeoutMs);
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    await c.close();
  })();
  const connects: number[] = [];
  const worker = async (user: number) => {
    if (rampMs) await new Promise((resolve) => setTimeout(resolve, (user * rampMs) / connections));
    let c = client(pki, server.port);
    const t0 = performance.now();
    c.once('connect', () => connects.push(performance.now() - t0));
    let first = true;
    while (performance.now() < deadline) {
      const outcome = await shot(c, user);
      outcomes.push(outcome);
      if (first) firstAnswers.push(outcome.ms);
      first = false;
      if (newConnections || typeof outcome.status === 'string') {
        c.destroy().catch(() => undefined);
        c = client(pki, server.port);
      }
      if (honourRetryAfter && outcome.status === 429)
        await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    await c.destroy();
  };
  await Promise.all(Array.from({ length: connections }, (_, i) => worker(i + 1)));
  const loadSeconds = (performance.now() - started) / 1000;
  const driverElu = performance.eventLoopUtilization(driverElu0).utilization;
  const stats1 = await server.ask<{ elu: EventLoopUtilization; diagnostics: object }>(
    { type: 'stats', since: startedAbs },
    'stats',
  );
  const serverElu1 = stats1.elu;
  const serverElu = performance.eventLoopUtilization(serverElu1, serverElu0).utilization;
  probing = false;
  await probe;
  clearInterval(sampler);
  // Recovery: the first request after the load, on a fresh connection.
  const again = client(pki, server.port);
  const recovery = await shot(again, 0);
  await again.close();
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const rssAfter = await rss();
  await server.ask({ type: 'finish' }, 'finished');

  const byStatus: Record<string, { count: number; p50: number; p99: number; maxMs: number }> = {};
  for (const status of new Set(outcomes.map((o) => String(o.status)))) {
    const ms = outcomes.filter((o) => String(o.status) === status).map((o) => o.ms);
    byStatus[status] = { count: ms.length, ...pick(summary(ms)), maxMs: round3(Math.max(...ms)) };
  }
  const refusals = outcomes.filter((o) => o.status === 429).map((o) => o.ms);
  const all = outcomes.map((o) => o.ms);
  return {
    maxInFlight,
    connections,
    newConnectionPerRequest: newConnections,
    connectionsOpenedOverMs: rampMs,
    clientsHonourRetryAfter: honourRetryAfter,
    server: floor
      ? 'floor: the same listener with a handler answering 429 at once (no application)'
      : before
        ? 'before issue 13 (default Node HTTPS settings, shedding by count only)'
        : `--max-event-loop-delay ${maxEventLoopDelayMs}ms`,
    upstreamDelayMs: delayMs,
    loadSeconds: round3(loadSeconds),
    requests: outcomes.length,
    executionsPerSecond: round3((byStatus['200']?.count ?? 0) / loadSeconds),
    byStatus,
    latencyMs: { ...summary(all), max: round3(Math.max(...all)) },
    refusalsOver2s: refusals.filter((ms) => ms > 2000).length,
    answersOverDelayPlus2s: all.filter((ms) => ms > delayMs + 2000).length,
    clientTimeouts20s: outcomes.filter((o) => o.status === 'timeout').length,
    connectionErrors: outcomes.filter((o) => typeof o.status === 'string' && o.status !== 'timeout').length,
    connectMs: { ...summary(connects), max: round3(Math.max(...connects)) },
    firstAnswerMs: { ...summary(firstAnswers), max: round3(Math.max(...firstAnswers)) },
    livezMs: { ...summary(livez), max: round3(Math.max(...livez)), probes: livez.length },
    serverDiagnostics: stats1.diagnostics,
    eventLoopUtilization: { server: round3(serverElu), driver: round3(driverElu) },
    rssMB: { before: mb(rssBefore), peak: mb(rssPeak), after: mb(rssAfter) },
    recovery: { status: recovery.status, ms: round3(recovery.ms) },
    runtime: {
      node: server.node,
      acceptors: server.acceptors,
      history: databaseUrl ? 'PostgreSQL' : 'embedded PGlite',
    },
  };
}

function pick(s: { p50: number; p99: number }) {
  return { p50: s.p50, p99: s.p99 };
}

const pki = await makeBenchPki();
const upstream = await startUpstream();
const loadBefore = loadavg();
const results: Record<string, unknown> = {};
try {
  for (const [maxInFlight, connections] of runs) {
    const key = `${maxInFlight}x${connections}${newConnections ? '-reconnect' : ''}${rampMs ? `-ramp${rampMs}ms` : ''}${before ? '-before' : ''}${floor ? '-floor' : ''}${honourRetryAfter ? '-retry-after' : ''}`;
    results[key] = await overload(pki, upstream.base, maxInFlight, connections);
    process.stdout.write(`${key}: ${JSON.stringify(results[key], null, 2)}\n`);
  }
} finally {
  upstream.child.kill();
}
if (out) {
  let doc: Record<string, unknown> = {};
  try {
    doc = JSON.parse(await readFile(out, 'utf8')) as Record<string, unknown>;
  } catch {
    // First run written.
  }
  doc.benchmark = 'overload';
  const note =
    'shared 2-core VM: other engineers were compiling and testing on the same two cores during the run; driver, upstream and server share them too';
  for (const [key, result] of Object.entries(results))
    doc[key] = { ...(result as object), machine: machine(loadBefore, note) };
  await writeFile(out, `${JSON.stringify(doc, null, 2)}\n`);
}
