// The console's view of map steps, cached answers and circuit breakers, in Debian's Chromium through
// `syncflow console` against the real control plane and the real server. A map step over five
// elements (one failing, collected) shows its progress live on the Run page and its element count
// and failures on its graph node and task record; a repeated cached call shows the `cached` badge; a breaker opened by a failing upstream is
// listed on the Breakers page (reached by keyboard), open, with its failure ratio and opening time,
// and listed closed after the upstream recovers and the page is refreshed. axe-core on each page.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import type { Browser, Page } from 'playwright-core';
import { parse } from 'yaml';
import { ControlPlane } from '../harness/controlplane.ts';
import { SyncflowServer } from '../harness/syncflow-server.ts';
import {
  accessibilityViolations,
  ensureConsoleBuilt,
  launchChromium,
  reportFailure,
  screenshot,
  startConsoleCommand,
  type LocalConsole,
} from '../harness/browser.ts';

/** An upstream on loopback: `/item/bad` fails, `/flaky` fails until `healthy`, `/price/*` answers. */
class Upstream {
  healthy = false;
  base = '';
  private server: Server | undefined;
  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const url = req.url ?? '';
      const fail = url === '/item/bad' || (url === '/flaky' && !this.healthy);
      // Elements take a little time, so a map step is seen in progress.
      setTimeout(
        () => {
          res.writeHead(fail ? 503 : 200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ id: url.split('/').pop(), at: url }));
        },
        url.startsWith('/item/') ? 50 : 0,
      );
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.base = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }
  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

const definitions = (base: string) => `apiVersion: syncflow.io/v1alpha1
kind: WorkflowTask
metadata: {name: get-item}
spec:
  inputSchema: {type: object, required: [id], properties: {id: {type: string}}}
  http: {method: GET, url: "${base}/item/{{input.id}}"}
---
apiVersion: syncflow.io/v1alpha1
kind: Workflow
metadata: {name: fan}
spec:
  inputSchema:
    type: object
    properties: {items: {type: array, items: {type: object, required: [id], properties: {id: {type: string}}}}}
  tasks:
  - id: each
    taskRef: {name: get-item}
    map: {items: "{{input.items}}", concurrency: 2, onItemError: collect, maxFailedItems: 2}
    input: {id: "{{item.id}}"}
---
apiVersion: syncflow.io/v1alpha1
kind: WorkflowTask
metadata: {name: price}
spec:
  inputSchema: {type: object, properties: {sku: {type: string}}}
  http: {method: GET, url: "${base}/price/{{input.sku}}"}
  cache: {ttl: 5m}
---
apiVersion: syncflow.io/v1alpha1
kind: Workflow
metadata: {name: priced}
spec:
  tasks: [{id: price, taskRef: {name: price}, input: {sku: lamp}}]
---
apiVersion: syncflow.io/v1alpha1
kind: WorkflowTask
metadata: {name: flaky}
spec:
  http: {method: GET, url: "${base}/flaky"}
  circuitBreaker: {minimumRequests: 3, failureRatio: 0.5, window: 60s, openFor: 2s}
---
apiVersion: syncflow.io/v1alpha1
kind: Workflow
metadata: {name: breaker}
spec:
  tasks: [{id: call, taskRef: {name: flaky}}]
`;

interface Recorded {
  metadata: { name: string };
  status: { phase: string; tasks: Array<{ id: string; phase: string; error?: { reason: string } }> };
}

describe('the console shows map progress, cache hits and circuit breakers in Chromium', function () {
  this.timeout(10 * 60_000);
  let cp: ControlPlane;
  let server: SyncflowServer;
  let local: LocalConsole;
  let origin: string;
  let browser: Browser;
  let page: Page;
  let ns: string;
  const upstream = new Upstream();

  const run = async (workflow: string, input: unknown = {}): Promise<Recorded> => {
    const body = JSON.stringify({
      apiVersion: 'execution.syncflow.io/v1alpha1',
      kind: 'WorkflowExecution',
      metadata: { generateName: `${workflow}-`, namespace: ns },
      spec: { workflowRef: { name: workflow }, input },
    });
    return parse(await cp.kubectl.ok(['create', '-f', '-', '-o', 'yaml'], { stdin: body })) as Recorded;
  };

  before(async function () {
    cp = await ControlPlane.acquire();
    // Only control planes from hack/cp-up.sh (what the test command uses) run a local server; a kind cluster does not.
    if (!cp.settings.serverPort) this.skip();
    await ensureConsoleBuilt();
    await upstream.start();
    ns = await cp.createNamespace('e2e-console-resilience');
    server = await SyncflowServer.start(cp);
    await cp.kubectl.ok(['-n', ns, 'apply', '-f', '-'], { stdin: definitions(upstream.base) });
    for (const workflow of ['fan', 'priced', 'breaker'])
      await cp.kubectl.ok([
        '-n',
        ns,
        'wait',
        '--for=condition=Ready',
        `workflow/${workflow}`,
        '--timeout=180s',
      ]);
    local = await startConsoleCommand(cp.settings.kubeconfig);
    origin = new URL(local.url).origin;
    browser = await launchChromium();
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    // A script error would leave the page blank: say which.
    page.on('pageerror', (error) => console.log(`      page error: ${error.message}`));
    await page.goto(local.url);
    await page.waitForURL(/#\/ns\/[^/]+\/workflows/);
  });

  afterEach(async function () {
    await reportFailure(page, this.currentTest);
  });

  after(async () => {
    await browser?.close();
    local?.stop();
    await server?.stop();
    await upstream.stop();
    if (ns) await cp.deleteNamespace(ns);
  });

  it('a recorded map step shows its element count and failures on its node and its task record', async () => {
    const items = ['a', 'b', 'bad', 'c', 'd'].map((id) => ({ id }));
    const execution = await run('fan', { items });
    expect(execution.status.phase).to.equal('Succeeded');
    await page.goto(`${origin}/#/ns/${ns}/executions/${execution.metadata.name}`);
    const node = page.locator('.task-node[data-task="each"]');
    await node.locator('.task-node-map').waitFor({ timeout: 60_000 });
    expect(await node.locator('.task-node-map').textContent()).to.equal('5 elements · 1 failed');
    expect(await page.locator('.react-flow__node[data-id="each"]').getAttribute('aria-label')).to.contain(
      'map: 5 elements · 1 failed',
    );
    expect(await page.locator('details.task-details[data-task="each"] summary').textContent()).to.contain(
      'map: 5 elements · 1 failed',
    );
    expect(await accessibilityViolations(page)).to.deep.equal([]);
    await screenshot(page, 'map-execution');
  });

  it('a map step run from the Run page shows its progress live, done and failed of N, then the recorded counts', async () => {
    const input = JSON.stringify({ items: ['a', 'b', 'bad', 'c', 'd'].map((id) => ({ id })) });
    await page.goto(`${origin}/#/ns/${ns}/workflows/fan/run?input=${encodeURIComponent(input)}`);
    await page.locator('.graph[data-drawn="true"] .task-node[data-task="each"]').waitFor({ timeout: 60_000 });
    // Every text the node's progress line takes, in order (each stream event is drawn as it arrives).
    await page.evaluate(() => {
      const seen: string[] = [];
      (window as unknown as { seenMap: string[] }).seenMap = seen;
      new MutationObserver(() => {
        const text = document.querySelector('.task-node[data-task="each"] .task-node-map')?.textContent;
        if (text && seen[seen.length - 1] !== text) seen.push(text);
      }).observe(document.body, { subtree: true, childList: true, characterData: true });
    });
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    await page
      .locator('.task-node[data-task="each"] .task-node-map', { hasText: '5 elements · 1 failed' })
      .waitFor({ timeout: 60_000 });
    const seen = await page.evaluate(() => (window as unknown as { seenMap: string[] }).seenMap);
    expect(
      seen.some((t) => /^[1-4] done( · 1 failed)? of 5$/.test(t)),
      seen.join(' | '),
    ).to.equal(true);
    expect(seen).to.include('5 done · 1 failed of 5');
    expect(seen[seen.length - 1]).to.equal('5 elements · 1 failed');
    expect(await accessibilityViolations(page)).to.deep.equal([]);
  });

  it('a cached answer carries the cached badge on its node and its task record', async () => {
    await run('priced');
    const second = await run('priced');
    await page.goto(`${origin}/#/ns/${ns}/executions/${second.metadata.name}`);
    const badge = page.locator('.task-node[data-task="price"] .task-badge');
    await badge.waitFor({ timeout: 60_000 });
    expect(await badge.textContent()).to.equal('cached');
    expect(await page.locator('details.task-details[data-task="price"] summary').textContent()).to.contain(
      'cached',
    );
  });

  it('lists the circuit breakers, reached by keyboard: open with its failure ratio and opening time, then closed', async () => {
    for (let i = 0; i < 3; i++) expect((await run('breaker')).status.phase).to.equal('Failed');
    const fast = await run('breaker');
    expect(fast.status.tasks[0]?.error?.reason).to.equal('CircuitOpen');
    const breakerOrigin = upstream.base;

    await page.goto(`${origin}/#/ns/${ns}/workflows`);
    const link = page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Breakers' });
    await link.waitFor();
    await link.focus();
    await page.keyboard.press('Enter');
    await page.waitForURL(/#\/ns\/[^/]+\/breakers/);
    const row = page.locator(`table.breakers tr[data-origin="${breakerOrigin}"]`);
    await row.waitFor({ timeout: 60_000 });
    expect(await row.getByRole('cell').nth(0).textContent()).to.equal('open');
    expect(await row.getByRole('cell').nth(1).textContent()).to.match(/^\d+%$/);
    expect(await row.locator('time').getAttribute('datetime')).to.match(/^\d{4}-\d\d-\d\dT/);
    expect(await page.locator('table.breakers caption').textContent()).to.match(
      /Circuit breakers of replica \S+/,
    );
    expect(await accessibilityViolations(page)).to.deep.equal([]);
    await screenshot(page, 'breakers');

    upstream.healthy = true;
    // After openFor (2 s) a trial call goes through and, succeeding, closes the circuit.
    const deadline = Date.now() + 60_000;
    while ((await run('breaker')).status.phase !== 'Succeeded') {
      expect(Date.now()).to.be.lessThan(deadline);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    const refresh = page.getByRole('button', { name: 'Refresh' });
    await refresh.focus();
    await page.keyboard.press('Enter');
    await row.getByText('closed', { exact: true }).waitFor({ timeout: 30_000 });
    expect(await row.locator('time').count()).to.equal(0);
  });
});
