// The console's live 3D view in Debian's Chromium with software WebGL (SwiftShader), against the real
// control plane and server, through `syncflow console`: the page subscribes to the stream, 50
// executions run, and its test hook (window.__live3d) must show a visual effect for every
// TaskStarted, TaskFinished and Signal it received; then the recorded minute replays at 10× in about
// six seconds. axe-core checks the page and its companion table. docs/live-view.md is the contract.
import { expect } from 'chai';
import { WebSocket, type ClientOptions } from 'ws';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { StreamClient, type StreamClientMessage } from '../../client/stream.ts';
import { DEMO_HOST } from '../../examples/demo-upstream/server.ts';
import { ControlPlane } from '../harness/controlplane.ts';
import { SyncflowServer } from '../harness/syncflow-server.ts';
import {
  accessibilityViolations,
  ensureConsoleBuilt,
  launchChromium,
  recordFigures,
  reportFailure,
  screenshot,
  startConsoleCommand,
  type LocalConsole,
} from '../harness/browser.ts';

/** Four WorkflowTasks shared by two workflows: a chain and a fan-out whose b and c run in parallel. */
const step = (name: string) => `apiVersion: syncflow.io/v1alpha1
kind: WorkflowTask
metadata: { name: ${name} }
spec:
  inputSchema: { type: object, required: [step], properties: { step: { type: string } } }
  http: { method: GET, url: 'http://${DEMO_HOST}:8080/slow/{{input.step}}?ms=150' }
  timeout: 5s
---
`;
const DEFINITIONS = `${['live-a', 'live-b', 'live-c', 'live-d'].map(step).join('')}apiVersion: syncflow.io/v1alpha1
kind: Workflow
metadata: { name: live-chain, labels: { team: shop } }
spec:
  tasks:
    - { id: a, taskRef: { name: live-a }, input: { step: a } }
    - { id: b, taskRef: { name: live-b }, input: { step: '{{tasks.a.output.id}}b' } }
    - { id: c, taskRef: { name: live-c }, input: { step: '{{tasks.b.output.id}}c' } }
---
apiVersion: syncflow.io/v1alpha1
kind: Workflow
metadata: { name: live-fanout, labels: { team: shop } }
spec:
  tasks:
    - { id: a, taskRef: { name: live-a }, input: { step: a } }
    - { id: b, taskRef: { name: live-b }, input: { step: '{{tasks.a.output.id}}b' } }
    - { id: c, taskRef: { name: live-c }, input: { step: '{{tasks.a.output.id}}c' } }
    - { id: d, taskRef: { name: live-d }, input: { step: d }, dependsOn: [b, c] }
`;
const WORKFLOWS = ['live-chain', 'live-fanout'];
const EXECUTIONS = 50;
const COUNTED = ['TaskStarted', 'TaskFinished', 'Signal'] as const;

interface Hook {
  webgl: boolean;
  ready: boolean;
  subscribed: boolean;
  events: Record<string, number>;
  effects: Record<string, number>;
  drawn: Record<string, number>;
  frames: number;
  frameMs: number[];
  latencyMs: number[];
  quality: string;
  reducedMotion: boolean;
  replay: { state: string; speed: number; startedAt?: number; endedAt?: number; events: number };
}

/** Waits (up to 60 s) for a Workflow to be Ready. */
async function ready(cp: ControlPlane, ns: string, workflow: string): Promise<void> {
  for (let i = 0; i < 240; i++) {
    const status = await cp.kubectl.ok([
      '-n',
      ns,
      'get',
      'workflow',
      workflow,
      '-o',
      'jsonpath={.status.conditions[?(@.type=="Ready")].status}',
    ]);
    if (status === 'True') return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`workflow ${workflow} did not become Ready`);
}

const hook = (page: Page) => page.evaluate(() => (window as unknown as { __live3d: Hook }).__live3d);

/** What the scene draws, as the page's hook reads it back from the GPU buffers' sources. */
interface SceneSample {
  nodes: { id: string; scale: number; color: [number, number, number] }[];
  links: { source: string; target: string; color: [number, number, number]; hidden: boolean }[];
}

/** The hue (0 to 1: red 0, blue about 0.66) of a colour; undefined for a grey. */
function hue([r, g, b]: [number, number, number]): number | undefined {
  const max = Math.max(r, g, b);
  const min = Math.min(r, g, b);
  if (max - min < 1e-6) return undefined;
  const h =
    max === r ? (g - b) / (max - min) : max === g ? 2 + (b - r) / (max - min) : 4 + (r - g) / (max - min);
  return (((h / 6) % 1) + 1) % 1;
}

function percentile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? NaN;
}

describe('the console’s live 3D view in Chromium (software WebGL)', function () {
  this.timeout(10 * 60_000);
  let cp: ControlPlane;
  let server: SyncflowServer;
  let local: LocalConsole;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let ns: string;
  let stream: StreamClient;
  /** When the first execution started and the last finished (epoch ms). */
  let ran: { first: number; last: number };
  /** The messages of the 50 runs, as their own `execute` streams delivered them. */
  const expected: Record<string, number> = {};

  before(async function () {
    cp = await ControlPlane.acquire();
    // Only control planes from hack/cp-up.sh (what the test command uses) run a local server; a kind cluster does not.
    if (!cp.settings.serverPort) this.skip();
    await ensureConsoleBuilt();
    ns = await cp.createNamespace('e2e-live3d');
    await cp.kubectl.ok(['-n', ns, 'apply', '-f', '-'], { stdin: DEFINITIONS });
    server = await SyncflowServer.start(cp);
    for (const workflow of WORKFLOWS) await ready(cp, ns, workflow);
    const kubeConfig = await cp.kubeConfig();
    const tls: ClientOptions = {};
    await kubeConfig.applyToHTTPSOptions(tls);
    const apiserver = kubeConfig.getCurrentCluster()?.server as string;
    stream = new StreamClient({
      url: `${apiserver}/apis/execution.syncflow.io/v1alpha1/namespaces/${ns}/workflowexecutions/-/stream`,
      connect: (url, protocols) => new WebSocket(url, protocols, tls),
    });
    local = await startConsoleCommand(cp.settings.kubeconfig);
    browser = await launchChromium({ webgl: true });
    context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    page = await context.newPage();
  });

  afterEach(async function () {
    await reportFailure(page, this.currentTest);
  });

  after(async () => {
    stream?.close();
    await browser?.close();
    local?.stop();
    await server?.stop();
    if (ns) await cp.deleteNamespace(ns);
  });

  it('opens the view: WebGL draws the shared tasks once, and the page subscribes to the namespace', async () => {
    await page.goto(local.url);
    // The console settles on its first route before it is sent to another (else it may override it).
    await page.waitForURL(/#\/ns\//);
    await page.goto(`${local.origin}/#/ns/${ns}/live`);
    await page.waitForFunction(
      () => {
        const h = (window as unknown as { __live3d?: Hook }).__live3d;
        return h?.ready && h.subscribed && h.frames > 2;
      },
      undefined,
      { timeout: 120_000 },
    );
    const state = await hook(page);
    expect(state.webgl, 'WebGL in headless Chromium (SwiftShader)').to.equal(true);
    // Four WorkflowTasks shared by the two workflows: four nodes, not seven; five distinct links.
    expect(await page.locator('.live3d-table tbody tr').count()).to.equal(4);
    expect(
      await page.getByRole('img', { name: /3D network of 4 tasks and 5 dependencies/ }).count(),
    ).to.equal(1);
  });

  it('draws an effect for every TaskStarted, TaskFinished and Signal of 50 executions', async () => {
    const before = await hook(page);
    const started = Date.now();
    // Ten at a time (a connection runs up to 16 at once), alternating the two workflows.
    let issued = 0;
    const worker = async (): Promise<void> => {
      while (issued < EXECUTIONS) {
        const i = issued++;
        // A loaded server sheds new executions (429, before they start: no event): retried, as it asks.
        for (let attempt = 1; ; attempt++) {
          const handle = stream.execute({ namespace: ns, workflow: WORKFLOWS[i % 2] as string, input: {} });
          let last: StreamClientMessage | undefined;
          for await (const message of handle) {
            last = message;
            if ((COUNTED as readonly string[]).includes(message.type))
              expected[message.type] = (expected[message.type] ?? 0) + 1;
          }
          if (last?.type === 'error' && last.status.code === 429 && attempt < 30) {
            await new Promise((resolve) => setTimeout(resolve, 1000));
            continue;
          }
          expect(last?.type, JSON.stringify(last)).to.equal('ExecutionFinished');
          break;
        }
      }
    };
    // The picture for docs/live-view.md is taken mid-run, while the network is busy.
    const picture = page
      .waitForFunction(() => ((window as unknown as { __live3d: Hook }).__live3d.effects.Signal ?? 0) >= 60)
      .then(() => screenshot(page, 'live3d'));
    await Promise.all(Array.from({ length: 10 }, worker));
    await picture;
    ran = { first: started, last: Date.now() };
    // 25 chains (3 tasks, 2 signals) and 25 fan-outs (4 tasks, 4 signals).
    expect(expected).to.deep.equal({ TaskStarted: 175, TaskFinished: 175, Signal: 150 });
    // The page's subscription receives the same events (batched); each must have drawn its effect.
    await page.waitForFunction(
      ({ want, base }) => {
        const h = (window as unknown as { __live3d: Hook }).__live3d;
        return Object.entries(want).every(([type, n]) => (h.effects[type] ?? 0) - (base[type] ?? 0) >= n);
      },
      { want: expected, base: before.effects },
      { timeout: 60_000 },
    );
    const after = await hook(page);
    for (const type of COUNTED) {
      const events = (after.events[type] ?? 0) - (before.events[type] ?? 0);
      const effects = (after.effects[type] ?? 0) - (before.effects[type] ?? 0);
      expect(events, `${type} events received`).to.equal(expected[type]);
      expect(effects, `${type} effects drawn`).to.equal(events);
    }
    // The table says the same (it is refreshed twice a second): every task called, none failed.
    await page.waitForFunction(() => {
      const cells = [...document.querySelectorAll('.live3d-table tbody tr td:nth-child(4)')];
      return cells.reduce((sum, cell) => sum + Number(cell.textContent), 0) >= 175;
    });
    const calls = await page.locator('.live3d-table tbody tr td:nth-child(4)').allTextContents();
    expect(calls.map(Number).reduce((a, b) => a + b, 0)).to.equal(175);
    const errors = await page.locator('.live3d-table tbody tr td:nth-child(5)').allTextContents();
    expect(errors.map(Number).reduce((a, b) => a + b, 0)).to.equal(0);
    expect(await accessibilityViolations(page)).to.deep.equal([]);
    const latency = after.latencyMs;
    recordFigures('live3d-e2e.json', browser, {
      executions: EXECUTIONS,
      effects: expected,
      eventToFrameMsP95: percentile(latency, 0.95),
      frameMsP50: percentile(after.frameMs, 0.5),
      quality: after.quality,
    });
  });

  it('replays the recorded minute at 10× in about six seconds, every recorded event drawn again', async () => {
    const from = ran.first - 2_000;
    // datetime-local takes the browser's local time.
    const [fromText, toText] = await page.evaluate(
      (times) =>
        times.map((ms) =>
          new Date(ms - new Date(ms).getTimezoneOffset() * 60_000).toISOString().slice(0, 19),
        ),
      [from, from + 60_000],
    );
    await page.getByLabel('From', { exact: true }).fill(fromText as string);
    await page.getByLabel('To', { exact: true }).fill(toText as string);
    await page.getByRole('combobox', { name: /^Speed/ }).selectOption('10');
    const before = await hook(page);
    await page.getByRole('button', { name: 'Replay' }).click();
    await page.waitForFunction(
      () => (window as unknown as { __live3d: Hook }).__live3d.replay.state === 'playing',
    );
    await page.waitForFunction(
      () => (window as unknown as { __live3d: Hook }).__live3d.replay.state === 'done',
      undefined,
      {
        timeout: 60_000,
      },
    );
    const after = await hook(page);
    const seconds = ((after.replay.endedAt as number) - (after.replay.startedAt as number)) / 1000;
    console.log(`      replay of a recorded minute at 10x took ${seconds.toFixed(2)} s`);
    expect(seconds).to.be.within(4, 12);
    // Rebuilt from history: every task start, finish and signal of the 50 executions again.
    for (const type of COUNTED)
      expect((after.effects[type] ?? 0) - (before.effects[type] ?? 0), type).to.equal(expected[type]);
    await page.getByRole('status').filter({ hasText: 'Replay at 10× finished.' }).waitFor();
    expect(await accessibilityViolations(page)).to.deep.equal([]);
    recordFigures('live3d-replay.json', browser, { recordedSeconds: 60, speed: 10, wallSeconds: seconds });
  });

  it('filters the table by phase, and plays the network’s growth from revisions', async () => {
    await page.getByRole('button', { name: 'Live', exact: true }).click();
    const rows = page.locator('.live3d-table tbody tr');
    await page.getByRole('combobox', { name: /^Phase/ }).selectOption('Failed');
    await page.waitForFunction(() => document.querySelectorAll('.live3d-table tbody tr').length === 0);
    await page.getByRole('combobox', { name: /^Phase/ }).selectOption('');
    await page.waitForFunction(() => document.querySelectorAll('.live3d-table tbody tr').length === 4);
    expect(await rows.count()).to.equal(4);
    await page.getByRole('button', { name: 'Growth time-lapse' }).click();
    await page.waitForFunction(
      () =>
        (window as unknown as { __live3d: { growth: { state: string } } }).__live3d.growth.state === 'done',
      undefined,
      { timeout: 30_000 },
    );
    const growth = await page.evaluate(
      () => (window as unknown as { __live3d: { growth: { shown: number } } }).__live3d.growth,
    );
    expect(growth.shown).to.equal(2);
    await page.getByRole('status').filter({ hasText: 'Growth: 2 of 2 workflows' }).waitFor();
  });

  /** Runs `workflow` once through the test's own stream (retrying the 429 of a loaded server); its messages. */
  const runOnce = async (workflow: string): Promise<StreamClientMessage[]> => {
    for (let attempt = 1; ; attempt++) {
      const messages: StreamClientMessage[] = [];
      for await (const message of stream.execute({ namespace: ns, workflow, input: {} }))
        messages.push(message);
      const last = messages.at(-1);
      if (last?.type === 'error' && last.status.code === 429 && attempt < 30) {
        await new Promise((resolve) => setTimeout(resolve, 1000));
        continue;
      }
      expect(last?.type, JSON.stringify(last)).to.equal('ExecutionFinished');
      return messages;
    }
  };
  /** Waits until what the scene draws satisfies `check` (the source of a predicate, polled every frame); returns it. */
  const sceneWhen = async (check: string): Promise<SceneSample> => {
    await page
      .waitForFunction(
        `(() => { const s = window.__live3d.sample?.(); return s !== undefined && (${check})(s); })()`,
        undefined,
        { timeout: 60_000, polling: 'raf' },
      )
      .catch(async (error: Error) => {
        const last = await page.evaluate(() =>
          JSON.stringify(
            (window as unknown as { __live3d: { sample?: () => SceneSample } }).__live3d.sample?.(),
          ),
        );
        throw new Error(`${error.message}: the scene never satisfied ${check}; it drew ${last}`);
      });
    return page.evaluate(() =>
      (window as unknown as { __live3d: { sample: () => SceneSample } }).__live3d.sample(),
    );
  };

  it('the workflow filter draws only that workflow’s tasks, hides links to the others, and counts only its events', async () => {
    await page.getByRole('button', { name: 'Live', exact: true }).click();
    await page.getByRole('combobox', { name: /^Workflow/ }).selectOption('live-chain');
    // live-d is a task of live-fanout only: scaled to nothing, its links drawn in the background colour.
    const filtered = await sceneWhen(
      `(s) => s.nodes.every((n) => (n.scale === 0) === n.id.endsWith('/live-d'))`,
    );
    expect(filtered.nodes.filter((n) => n.scale === 0).map((n) => n.id)).to.deep.equal([`${ns}/live-d`]);
    expect(filtered.links.filter((l) => l.hidden).map((l) => `${l.source}>${l.target}`)).to.have.members([
      `${ns}/live-b>${ns}/live-d`,
      `${ns}/live-c>${ns}/live-d`,
    ]);
    expect(filtered.links.filter((l) => !l.hidden)).to.have.length(3);
    // A live-fanout run draws nothing and counts nothing; a live-chain run after it is counted.
    const before = await hook(page);
    await runOnce('live-fanout');
    const chain = await runOnce('live-chain');
    const started = chain.filter((m) => m.type === 'TaskStarted').length;
    expect(started).to.equal(3);
    await page.waitForFunction(
      (want) => ((window as unknown as { __live3d: Hook }).__live3d.events.TaskStarted ?? 0) >= want,
      (before.events.TaskStarted ?? 0) + started,
      { timeout: 60_000 },
    );
    const after = await hook(page);
    expect((after.events.TaskStarted ?? 0) - (before.events.TaskStarted ?? 0)).to.equal(started);
    expect((after.effects.TaskStarted ?? 0) - (before.effects.TaskStarted ?? 0)).to.equal(started);
    await page.getByRole('combobox', { name: /^Workflow/ }).selectOption('');
    await sceneWhen('(s) => s.nodes.every((n) => n.scale > 0) && s.links.every((l) => !l.hidden)');
  });

  it('the heat map colours and sizes nodes and links by their share of calls: the busiest red and twice as large, the idle blue', async () => {
    // A fresh model (Live), then calls on live-chain's tasks only: live-d and the fan-out's links stay idle.
    await page.getByRole('button', { name: 'Live', exact: true }).click();
    for (let i = 0; i < 3; i++) await runOnce('live-chain');
    const id = (task: string) => `${ns}/${task}`;
    const link = (from: string, to: string) => (l: SceneSample['links'][number]) =>
      l.source === id(from) && l.target === id(to);
    // Without the heat map, every node is drawn at its own size once the calls' flashes have faded.
    const plain = await sceneWhen('(s) => s.nodes.every((n) => Math.abs(n.scale - 1) < 1e-6)');
    expect(plain.nodes).to.have.length(4);
    await page.getByRole('checkbox', { name: 'Heat map' }).check();
    const hot = `(n) => ['live-a', 'live-b', 'live-c'].some((t) => n.id.endsWith('/' + t))`;
    const heat = await sceneWhen(
      `(s) => s.nodes.every((n) => Math.abs(n.scale - ((${hot})(n) ? 2 : 1)) < 1e-6)`,
    );
    for (const node of heat.nodes) {
      const h = hue(node.color) as number;
      // Blue (hue 0.66 before the sRGB to linear conversion, which shifts it a little) and red.
      if (node.id === id('live-d')) expect(h, node.id).to.be.within(0.58, 0.72);
      else expect(Math.min(h, 1 - h), node.id).to.be.lessThan(0.02);
    }
    for (const [from, to, busy] of [
      ['live-a', 'live-b', true],
      ['live-b', 'live-c', true],
      ['live-a', 'live-c', false],
      ['live-b', 'live-d', false],
      ['live-c', 'live-d', false],
    ] as const) {
      const h = hue((heat.links.find(link(from, to)) as SceneSample['links'][number]).color) as number;
      if (busy) expect(Math.min(h, 1 - h), `${from}>${to}`).to.be.lessThan(0.02);
      else expect(h, `${from}>${to}`).to.be.within(0.58, 0.72);
    }
    // Off again: the region colours and sizes come back.
    await page.getByRole('checkbox', { name: 'Heat map' }).uncheck();
    const back = await sceneWhen('(s) => s.nodes.every((n) => Math.abs(n.scale - 1) < 1e-6)');
    expect(back.nodes.map((n) => n.color)).to.deep.equal(plain.nodes.map((n) => n.color));
  });

  it('lays out a workflow added while the view is open around the nodes already there, which keep their places', async () => {
    const stored = () =>
      page.evaluate((key) => {
        const layout = JSON.parse(localStorage.getItem(key) ?? '{"nodes": []}') as {
          nodes: { id: string; x: number; y: number; z: number }[];
        };
        return Object.fromEntries(layout.nodes.map((n) => [n.id, [n.x, n.y, n.z]]));
      }, `syncflow-live3d-layout:${ns}:`);
    const before = await stored();
    expect(Object.keys(before)).to.have.length(4);
    await cp.kubectl.ok(['-n', ns, 'apply', '-f', '-'], {
      stdin: `${step('live-e')}apiVersion: syncflow.io/v1alpha1
kind: Workflow
metadata: { name: live-extra }
spec:
  tasks:
    - { id: a, taskRef: { name: live-a }, input: { step: a } }
    - { id: e, taskRef: { name: live-e }, input: { step: '{{tasks.a.output.id}}e' } }
`,
    });
    await page.waitForFunction(
      () => {
        const h = (window as unknown as { __live3d?: { nodes: number; ready: boolean } }).__live3d;
        return h?.ready && h.nodes === 5;
      },
      undefined,
      { timeout: 60_000 },
    );
    const after = await stored();
    expect(Object.keys(after)).to.have.length(5);
    for (const [id, place] of Object.entries(before)) expect(after[id], id).to.deep.equal(place);
    expect(await page.locator('.live3d-table tbody tr').count()).to.equal(5);
  });

  it('with prefers-reduced-motion nothing travels: signals light their link, the table lists the tasks', async () => {
    const calm = await browser.newContext({
      viewport: { width: 1024, height: 700 },
      reducedMotion: 'reduce',
    });
    try {
      const quiet = await calm.newPage();
      await quiet.goto(local.url);
      await quiet.waitForURL(/#\/ns\//);
      await quiet.goto(`${local.origin}/#/ns/${ns}/live`);
      await quiet.waitForFunction(() => {
        const h = (window as unknown as { __live3d?: Hook }).__live3d;
        return h?.ready && h.subscribed;
      });
      expect((await hook(quiet)).reducedMotion).to.equal(true);
      for await (const message of stream.execute({ namespace: ns, workflow: 'live-chain', input: {} }))
        if (message.type === 'ExecutionFinished') break;
      await quiet
        .waitForFunction(
          () => ((window as unknown as { __live3d: Hook }).__live3d.effects.Signal ?? 0) >= 2,
          undefined,
          {
            timeout: 60_000,
          },
        )
        .catch(async (error: Error) => {
          throw new Error(
            `${error.message}; the page reported ${JSON.stringify({ ...(await hook(quiet)), frameMs: [], latencyMs: [] })}`,
          );
        });
      const state = await hook(quiet);
      expect(state.drawn.particle ?? 0).to.equal(0);
      expect(state.drawn.linkFlash).to.equal(2);
      expect(await accessibilityViolations(quiet)).to.deep.equal([]);
    } finally {
      await calm.close();
    }
  });
});
