/**
 * The console's live 3D view under load, in headless Chromium with software WebGL (SwiftShader: this
 * machine has no GPU): frame time p50/p95 and event-to-frame latency p95 (target < 100 ms) in two
 * scenarios, each after a warm-up:
 *   - `concurrent`: 100 executions always in flight (a 4-task fan-out, each task 700 ms: about 670
 *     events/s), their events sent as the server sends them (`batch` every 50 ms);
 *   - `rate`: 1,000 events/s of mixed executions, batched the same way.
 * A stand-in server serves the built console (console/dist), config.json, the namespace's
 * definitions (40 workflows sharing 120 WorkflowTasks) and the stream's WebSocket, whose
 * `subscribe` it answers and then feeds: the page's own stream client, model and renderer do all the
 * work, as in production; the real server's delivery is measured by bench/live/delivery.ts.
 *
 *   bash hack/console.sh && npx tsx bench/console/live3d.ts [--seconds 15] [--out bench/results/live3d.json]
 */
import { createReadStream, existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { loadavg } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocketServer, type WebSocket } from 'ws';
import { machine, percentile, round3 } from '../api/measure.ts';

const repo = fileURLToPath(new URL('../../', import.meta.url));
const dist = join(repo, 'console/dist');
const args = process.argv.slice(2);
const option = (name: string) => {
  const at = args.indexOf(name);
  return at >= 0 ? args[at + 1] : undefined;
};
const seconds = Number(option('--seconds') ?? 15);
const out = option('--out');
const NS = 'bench';
const BATCH_MS = 50;

/** The part of playwright-core (the console's dev package) the benchmark drives. */
interface Page {
  goto(url: string): Promise<unknown>;
  evaluate<T, A>(fn: (arg: A) => T, arg: A): Promise<T>;
  waitForFunction(fn: () => unknown, arg?: undefined, options?: { timeout: number }): Promise<unknown>;
}
interface Browser {
  version(): string;
  newPage(options: { viewport: { width: number; height: number } }): Promise<Page>;
  close(): Promise<void>;
}
interface Hook {
  webgl: boolean;
  ready: boolean;
  subscribed: boolean;
  renderer: string;
  quality: string;
  events: Record<string, number>;
  effects: Record<string, number>;
  frames: number;
  frameMs: number[];
  latencyMs: number[];
}

// 40 workflows of 4 steps (a → b, c → d) over 120 WorkflowTasks: each task shared by several workflows.
const taskNames = Array.from({ length: 120 }, (_, i) => `task-${i}`);
const workflows = Array.from({ length: 40 }, (_, w) => {
  const ref = (k: number) => taskNames[(w * 3 + k * 7) % taskNames.length] as string;
  return {
    apiVersion: 'syncflow.io/v1alpha1',
    kind: 'Workflow',
    metadata: { name: `flow-${w}`, namespace: NS, labels: { team: `team-${w % 4}` } },
    spec: {
      tasks: [
        { id: 'a', taskRef: { name: ref(0) } },
        { id: 'b', taskRef: { name: ref(1) }, dependsOn: ['a'] },
        { id: 'c', taskRef: { name: ref(2) }, dependsOn: ['a'] },
        { id: 'd', taskRef: { name: ref(3) }, dependsOn: ['b', 'c'] },
      ],
    },
  };
});
const tasks = taskNames.map((name) => ({
  apiVersion: 'syncflow.io/v1alpha1',
  kind: 'WorkflowTask',
  metadata: { name, namespace: NS },
  spec: { http: { method: 'GET', url: `http://upstream.bench/${name}` } },
}));

const TYPES: Record<string, string> = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.css': 'text/css',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

function serve(req: IncomingMessage, res: ServerResponse): void {
  const path = new URL(req.url ?? '/', 'http://x').pathname;
  const json = (body: unknown, code = 200) => {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  if (path === '/config.json') return json({ apiBase: '', auth: 'session' });
  if (path === `/apis/syncflow.io/v1alpha1/namespaces/${NS}/workflows`)
    return json({ metadata: {}, items: workflows });
  if (path === `/apis/syncflow.io/v1alpha1/namespaces/${NS}/workflowtasks`)
    return json({ metadata: {}, items: tasks });
  if (path.startsWith('/api') || path.startsWith('/apis')) return json({ metadata: {}, items: [] });
  const file = normalize(join(dist, path === '/' ? 'index.html' : path));
  if (!file.startsWith(dist) || !existsSync(file)) return json({ kind: 'Status', code: 404 }, 404);
  res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
  createReadStream(file).pipe(res);
}

/** One execution's events, each with its offset (ms) from the start: tasks of `taskMs`, b and c in parallel. */
function script(w: number, uid: string, taskMs: number): { at: number; message: Record<string, unknown> }[] {
  const flow = workflows[w] as (typeof workflows)[number];
  const execution = {
    namespace: NS,
    name: `${flow.metadata.name}-${uid}`,
    uid,
    workflow: flow.metadata.name,
  };
  let seq = 0;
  const m = (at: number, body: Record<string, unknown>) => ({
    at,
    message: { id: '', seq: ++seq, time: '', execution, ...body },
  });
  const started = (at: number, task: string) =>
    m(at, { type: 'TaskStarted', task, attempt: 1, request: 'GET /' });
  const finished = (at: number, task: string) =>
    m(at, {
      type: 'TaskFinished',
      task,
      phase: Number(uid) % 50 === 0 ? 'Failed' : 'Succeeded',
      durationMs: taskMs,
    });
  const signal = (at: number, from: string, to: string) => m(at, { type: 'Signal', from, to, ready: true });
  const t = taskMs;
  return [
    m(0, {
      type: 'ExecutionStarted',
      namespace: NS,
      workflow: flow.metadata.name,
      revision: 'r',
      graph: {
        tasks: flow.spec.tasks.map((s) => ({ id: s.id, taskRef: s.taskRef.name })),
        edges: [
          { from: 'a', to: 'b' },
          { from: 'a', to: 'c' },
          { from: 'b', to: 'd' },
          { from: 'c', to: 'd' },
        ],
      },
    }),
    started(0, 'a'),
    finished(t, 'a'),
    signal(t, 'a', 'b'),
    signal(t, 'a', 'c'),
    started(t, 'b'),
    started(t, 'c'),
    finished(2 * t, 'b'),
    finished(2 * t, 'c'),
    signal(2 * t, 'b', 'd'),
    signal(2 * t, 'c', 'd'),
    started(2 * t, 'd'),
    finished(3 * t, 'd'),
    m(3 * t, {
      type: 'ExecutionFinished',
      object: { metadata: { name: execution.name }, status: { phase: 'Succeeded', durationMs: 3 * t } },
    }),
  ];
}

/** Feeds a subscriber: executions started so that `inFlight` run at once (or at `eventsPerSecond`). */
class Feeder {
  private pending: { at: number; message: Record<string, unknown> }[] = [];
  private timer: ReturnType<typeof setInterval> | undefined;
  private next = 0;
  sent = 0;
  constructor(
    private readonly socket: WebSocket,
    /** The subscription's id: every message carries it. */
    private readonly id: string,
  ) {}

  start(load: { inFlight: number; taskMs: number } | { eventsPerSecond: number; taskMs: number }): void {
    this.stop();
    const began = Date.now();
    const events = 14;
    // Executions started per batch: to keep `inFlight` running, or to produce `eventsPerSecond`.
    const perSecond =
      'inFlight' in load ? load.inFlight / ((3 * load.taskMs) / 1000) : load.eventsPerSecond / events;
    let started = 0;
    this.timer = setInterval(() => {
      const now = Date.now() - began;
      const due = Math.floor((now / 1000) * perSecond) - started;
      for (let i = 0; i < due; i++, started++) {
        const uid = String(this.next++);
        for (const e of script(Number(uid) % workflows.length, uid, load.taskMs))
          this.pending.push({ at: began + now + e.at, message: { ...e.message, id: this.id } });
      }
      const cut = Date.now();
      const ready = this.pending.filter((e) => e.at <= cut);
      this.pending = this.pending.filter((e) => e.at > cut);
      ready.sort((a, b) => a.at - b.at);
      if (ready.length === 0) return;
      this.sent += ready.length;
      // As the server sends a busy subscription's events (docs/stream.md "Batches").
      this.socket.send(
        ready.length === 1
          ? JSON.stringify(ready[0]?.message)
          : JSON.stringify({ type: 'batch', id: this.id, messages: ready.map((e) => e.message) }),
      );
    }, BATCH_MS);
  }

  stop(): void {
    clearInterval(this.timer);
    this.pending = [];
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function main(): Promise<void> {
  if (!existsSync(join(dist, 'index.html'))) throw new Error('build the console first: bash hack/console.sh');
  const loadBefore = loadavg();
  const http = createServer(serve);
  const wss = new WebSocketServer({
    noServer: true,
    handleProtocols: (p) => (p.has('stream.syncflow.io') ? 'stream.syncflow.io' : false),
  });
  let feeder: Feeder | undefined;
  http.on('upgrade', (req, socket, head) =>
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on('message', (data) => {
        const request = JSON.parse(String(data)) as { type: string; id: string };
        if (request.type === 'subscribe') {
          ws.send(JSON.stringify({ type: 'subscribed', id: request.id }));
          feeder = new Feeder(ws, request.id);
        }
      });
    }),
  );
  http.listen(0, '127.0.0.1');
  await new Promise((resolve) => http.once('listening', resolve));
  const origin = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;

  const { chromium } = createRequire(join(repo, 'console/package.json'))('playwright-core') as {
    chromium: { launch(options: unknown): Promise<Browser> };
  };
  // The flags of the browser tests' software WebGL (test/harness/browser.ts launchChromium).
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--use-angle=swiftshader',
      '--enable-unsafe-swiftshader',
      '--disable-quic',
      '--no-first-run',
    ],
  });
  const results: Record<string, unknown> = {};
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(`${origin}/#/ns/${NS}/live`);
    await page.waitForFunction(
      () => {
        const h = (globalThis as unknown as { __live3d?: Hook }).__live3d;
        return h?.ready && h.subscribed && h.frames > 2;
      },
      undefined,
      { timeout: 120_000 },
    );
    const read = () =>
      page.evaluate(() => {
        const h = (globalThis as unknown as { __live3d: Hook }).__live3d;
        return { ...h, frameMs: [...h.frameMs], latencyMs: [...h.latencyMs] };
      }, undefined);
    // Nothing happening, after the first frames (shader compilation) and the quality settled.
    await sleep(5_000);
    const idleBefore = await read();
    await sleep(5_000);
    const idle = await read();
    const idleFrames = idle.frameMs.slice(-Math.min(idle.frameMs.length, idle.frames - idleBefore.frames));
    results.idle = {
      framesPerSecond: round3((idle.frames - idleBefore.frames) / 5),
      frameMs: { p50: round3(percentile(idleFrames, 50)), p95: round3(percentile(idleFrames, 95)) },
      quality: idle.quality,
    };
    const scenarios = [
      { name: 'concurrent', label: '100 executions in flight', load: { inFlight: 100, taskMs: 700 } },
      { name: 'rate', label: '1,000 events/s', load: { eventsPerSecond: 1000, taskMs: 300 } },
    ] as const;
    for (const scenario of scenarios) {
      const active = feeder as Feeder;
      active.start(scenario.load);
      await sleep(5_000); // warm-up: the quality settles
      const before = await read();
      const sentBefore = active.sent;
      await sleep(seconds * 1000);
      const after = await read();
      const sent = active.sent - sentBefore;
      active.stop();
      // Samples of the measured interval only (the arrays keep the latest values).
      const frames = after.frameMs.slice(-Math.min(after.frameMs.length, after.frames - before.frames));
      const newEffects =
        Object.values(after.effects).reduce((a, b) => a + b, 0) -
        Object.values(before.effects).reduce((a, b) => a + b, 0);
      const latencies = after.latencyMs.slice(-Math.min(after.latencyMs.length, newEffects));
      results[scenario.name] = {
        load: scenario.label,
        eventsPerSecond: Math.round(sent / seconds),
        framesPerSecond: round3((after.frames - before.frames) / seconds),
        frameMs: { p50: round3(percentile(frames, 50)), p95: round3(percentile(frames, 95)) },
        eventToFrameMs: {
          p50: round3(percentile(latencies, 50)),
          p95: round3(percentile(latencies, 95)),
          samples: latencies.length,
        },
        quality: after.quality,
        effectsDrawn: newEffects,
      };
      console.log(scenario.name, JSON.stringify(results[scenario.name]));
      await sleep(2_000);
    }
    const final = await read();
    const doc = {
      benchmark: 'live3d',
      date: new Date().toISOString(),
      method: {
        browser: `Chromium ${browser.version()} headless, 1280x800, software WebGL`,
        renderer: final.renderer,
        network: `${workflows.length} workflows sharing ${taskNames.length} WorkflowTasks, laid out by core/graph/network-layout.ts`,
        feed: `a stand-in server answers subscribe and sends the events as batch messages every ${BATCH_MS} ms; ${seconds} s measured per scenario after a 5 s warm-up`,
        latency:
          'from the page receiving a message to the end of the first frame drawn after it (performance.now(), one clock)',
        target: 'event-to-frame p95 < 100 ms',
      },
      results,
      machine: machine(loadBefore, 'shared 2-core VM, no GPU; other sessions were running'),
    };
    console.log(JSON.stringify(doc, null, 2));
    if (out) await writeFile(out, `${JSON.stringify(doc, null, 2)}\n`);
  } finally {
    await browser.close();
    wss.close();
    http.close();
  }
}

await main();
