/**
 * Live events across replicas (DESIGN §9): two live buses, each with its own fan-out on its own
 * connection to one database, play two replicas in this process. Replica A publishes executions'
 * messages at a steady rate (default 1,000 per second for 20 s: TaskStarted/TaskFinished of
 * three-task executions, one in 50 finishing with a 16 KiB output); replica B listens to the
 * namespace and the delivery latency (publish on A → listener on B, one clock) is reported as
 * p50/p99/max, with what was lost and the process's CPU.
 * Then the publish path when nobody listens anywhere: `listening(namespace)` (what the run path
 * asks per execution) and `publish` on a bus with a fan-out nobody is interested in vs a bus
 * without one, in ns per call.
 *
 *   bash hack/postgres.sh run npx tsx bench/live/delivery.ts [--seconds 20] [--rate 1000]
 *   npx tsx bench/live/delivery.ts --embedded            (PGlite through its socket bridge)
 *   ... [--out bench/results/live-delivery.json]          (writes the `postgresql` or `pglite` section)
 */
import { readFile, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { Registry } from 'prom-client';
import { LiveBus, type LiveMessage } from '../../apiserver/execution/bus.ts';
import { SILENT_LOGGER } from '../../core/logger.ts';
import { startEmbeddedDatabase, type EmbeddedDatabase } from '../../history/embedded.ts';
import { PgLiveFanout } from '../../history/live-fanout.ts';
import { createLiveFanoutMetrics } from '../../history/metrics.ts';
import { machine, percentile, round3 } from '../api/measure.ts';

const args = process.argv.slice(2);
const option = (name: string) => {
  const at = args.indexOf(name);
  return at >= 0 ? args[at + 1] : undefined;
};
const embedded = args.includes('--embedded');
const seconds = Number(option('--seconds') ?? 20);
const rate = Number(option('--rate') ?? 1_000);
const out = option('--out');
const TICK_MS = 10;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(what: string, done: () => boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await sleep(5);
  }
}

const execution = (i: number): LiveMessage['execution'] => ({
  uid: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
  name: `checkout-${i}`,
  request: {
    namespace: 'shop',
    name: `checkout-${i}`,
    generateName: undefined,
    labels: { team: 'pay' },
    annotations: {},
    workflowName: 'checkout',
    input: { orderId: i, amount: 42 },
  },
  user: 'system:serviceaccount:shop:checkout',
  revision: 'r1',
});

/** The n-th message of the stream: six per execution (three tasks started and finished). */
function messageNumber(n: number): LiveMessage {
  const x = Math.floor(n / 6);
  const step = n % 6;
  const task = ['reserve', 'charge', 'ship'][Math.floor(step / 2)] as string;
  const time = new Date().toISOString();
  if (step % 2 === 0) {
    return {
      kind: 'event',
      execution: execution(x),
      event: {
        type: 'TaskStarted',
        seq: step + 1,
        time,
        task,
        attempt: 1,
        request: `POST http://${task}.shop/api`,
      },
    };
  }
  const output = x % 50 === 0 ? { blob: 'x'.repeat(16 * 1024) } : { ok: true, id: `${task}-${x}` };
  return {
    kind: 'event',
    execution: execution(x),
    event: {
      type: 'TaskFinished',
      seq: step + 1,
      time,
      task,
      attempt: 1,
      phase: 'Succeeded',
      httpStatus: 200,
      durationMs: 3,
      output,
    },
  } as LiveMessage;
}

interface Replica {
  bus: LiveBus;
  fanout: PgLiveFanout<LiveMessage>;
}

function replica(connectionString: string, registry: Registry): Replica {
  const fanout = new PgLiveFanout<LiveMessage>({
    connectionString,
    logger: SILENT_LOGGER,
    metrics: createLiveFanoutMetrics(registry),
  });
  return { bus: new LiveBus(fanout), fanout };
}

async function delivery(connectionString: string) {
  const registryA = new Registry();
  const registryB = new Registry();
  const a = replica(connectionString, registryA);
  const b = replica(connectionString, registryB);
  await Promise.all([a.fanout.start(), b.fanout.start()]);
  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  let outOfOrder = 0;
  const lastSeq = new Map<string, number>();
  b.bus.subscribe({ namespace: 'shop' }, (m) => {
    if (m.kind !== 'event') return;
    const key = `${m.execution.uid}/${m.event.seq}`;
    const at = sentAt.get(key);
    if (at !== undefined) {
      latencies.push(performance.now() - at);
      sentAt.delete(key);
    }
    if ((lastSeq.get(m.execution.uid) ?? 0) > m.event.seq) outOfOrder++;
    lastSeq.set(m.execution.uid, m.event.seq);
  });
  await until('A learns that B listens', () => a.bus.listening('shop'));
  const total = Math.round(rate * seconds);
  const perTick = (rate * TICK_MS) / 1000;
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  let n = 0;
  while (n < total) {
    // Catch up to the schedule: publishes are spread over ticks of 10 ms.
    const due = Math.min(total, Math.floor(((performance.now() - started) / TICK_MS + 1) * perTick));
    for (; n < due; n++) {
      const m = messageNumber(n);
      if (m.kind === 'event') sentAt.set(`${m.execution.uid}/${m.event.seq}`, performance.now());
      a.bus.publish(m);
    }
    await sleep(TICK_MS);
  }
  const publishedFor = performance.now() - started;
  await until('B receives everything (or gives up)', () => latencies.length === total, 15_000).catch(
    () => undefined,
  );
  const cpu = process.cpuUsage(cpuBefore);
  const wall = performance.now() - started;
  const metrics = async (registry: Registry, name: string) =>
    ((await registry.getMetricsAsJSON()).find((m) => m.name === name)?.values ?? []).map((v) => ({
      labels: v.labels,
      value: v.value,
    }));
  const result = {
    published: total,
    publishSeconds: round3(publishedFor / 1000),
    ratePerSecond: Math.round((total / publishedFor) * 1000),
    received: latencies.length,
    lost: total - latencies.length,
    outOfOrder,
    latencyMs: {
      p50: round3(percentile(latencies, 50)),
      p90: round3(percentile(latencies, 90)),
      p99: round3(percentile(latencies, 99)),
      max: round3(Math.max(...latencies)),
    },
    processCpuPercentOfOneCore: Math.round(((cpu.user + cpu.system) / 1000 / wall) * 100),
    notificationsSent: await metrics(registryA, 'syncflow_live_fanout_notifications_total'),
    dropped: await metrics(registryA, 'syncflow_live_fanout_dropped_total'),
  };
  await a.fanout.close();
  await b.fanout.close();
  return result;
}

/** ns per call of `work`, median of rounds. */
function nsPerCall(work: () => void, calls = 2_000_000, rounds = 7): number {
  const results: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) work();
    results.push(Number(process.hrtime.bigint() - start) / calls);
  }
  return round3(percentile(results, 50));
}

async function nobodyListening(connectionString: string) {
  const registry = new Registry();
  const withFanout = replica(connectionString, registry);
  const other = replica(connectionString, new Registry());
  await Promise.all([withFanout.fanout.start(), other.fanout.start()]);
  await sleep(200);
  const alone = new LiveBus();
  const m = messageNumber(1);
  const variants = {
    listeningNoTransport: nsPerCall(() => alone.listening('shop')),
    listeningFanoutNobodyInterested: nsPerCall(() => withFanout.bus.listening('shop')),
    publishNoTransport: nsPerCall(() => alone.publish(m)),
    publishFanoutNobodyInterested: nsPerCall(() => withFanout.bus.publish(m)),
  };
  const notified =
    (await registry.getMetricsAsJSON()).find((x) => x.name === 'syncflow_live_fanout_notifications_total')
      ?.values[0]?.value ?? 0;
  await withFanout.fanout.close();
  await other.fanout.close();
  return { nsPerCall: variants, notificationsSentWhileNobodyListened: notified };
}

async function main(): Promise<void> {
  const loadBefore = loadavg();
  let db: EmbeddedDatabase | undefined;
  let connectionString = process.env.TEST_DATABASE_URL;
  if (embedded) {
    db = await startEmbeddedDatabase({ logger: SILENT_LOGGER });
    connectionString = db.connectionString;
  }
  if (!connectionString)
    throw new Error('set TEST_DATABASE_URL (bash hack/postgres.sh run ...) or pass --embedded');
  try {
    const result = {
      date: new Date().toISOString(),
      database: embedded
        ? 'embedded PGlite (pglite-socket bridge, same process)'
        : 'PostgreSQL (hack/postgres.sh)',
      method: {
        replicas: 'two LiveBus + PgLiveFanout in one process, each on its own connection; one clock',
        rate: `${rate} messages/s for ${seconds} s, in ticks of ${TICK_MS} ms`,
        messages:
          'TaskStarted/TaskFinished of 3-task executions; every 50th execution finishes with a 16 KiB output',
        target: 'p99 < 100 ms',
      },
      delivery: await delivery(connectionString),
      nobodyListening: await nobodyListening(connectionString),
      machine: machine(
        loadBefore,
        'shared 2-core VM; other engineers were building and testing at the same time',
      ),
    };
    console.log(JSON.stringify(result, null, 2));
    if (out) {
      let doc: Record<string, unknown> = {};
      try {
        doc = JSON.parse(await readFile(out, 'utf8')) as Record<string, unknown>;
      } catch {
        // First section written.
      }
      doc.benchmark = 'live-delivery';
      doc[embedded ? 'pglite' : 'postgresql'] = result;
      await writeFile(out, `${JSON.stringify(doc, null, 2)}\n`);
    }
  } finally {
    await db?.close();
  }
}

await main();
