// The web console as people use it: Debian's Chromium driven by playwright-core against the real
// control plane and the real server — through `syncflow console` (the kubeconfig's identity) and
// through the server's /console/ with ServiceAccount tokens (each person's own identity and RBAC).
// Every page is checked with axe-core (no serious or critical violation) and photographed into
// docs/console/.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { ControlPlane, repoRoot } from '../harness/controlplane.ts';
import { SyncflowServer } from '../harness/syncflow-server.ts';
import {
  accessibilityViolations,
  ensureConsoleBuilt,
  launchChromium,
  recordFigures,
  reportFailure,
  screenshot as shot,
  startConsoleCommand,
  type LocalConsole,
} from '../harness/browser.ts';
import { startLocalConsole } from '../../cli/console.ts';
import { kubeConfigFor } from '../../kube/testdata/console-fakes.ts';

const NS = `e2e-console-${Date.now().toString(36)}`;

describe('the web console in Chromium', function () {
  this.timeout(10 * 60_000);
  let cp: ControlPlane;
  let server: SyncflowServer;
  let local: LocalConsole;
  let consoleUrl: string;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;

  before(async function () {
    cp = await ControlPlane.acquire();
    // Only control planes from hack/cp-up.sh (what the test command uses) run a local server; a kind cluster does not.
    if (!cp.settings.serverPort) this.skip();
    await ensureConsoleBuilt();
    await cp.kubectl.ok(['create', 'namespace', NS]);
    await cp.installExamples(NS);
    server = await SyncflowServer.start(cp);

    local = await startConsoleCommand(cp.settings.kubeconfig);
    consoleUrl = local.url;
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1280, height: 720 }, ignoreHTTPSErrors: true });
    page = await context.newPage();
  });

  afterEach(async function () {
    // A failed step leaves what the page showed, for the one who reads the failure.
    await reportFailure(page, this.currentTest);
  });

  after(async () => {
    await browser?.close();
    local?.stop();
    await server?.stop();
  });

  describe('through `syncflow console`', () => {
    it('lists the workflows of a namespace with Ready, revision and task count (keyboard, axe)', async () => {
      await page.goto(consoleUrl);
      await page.goto(`${new URL(consoleUrl).origin}/#/ns/${NS}/workflows`);
      const row = page.locator('tr', { has: page.getByRole('link', { name: 'user-profile' }) });
      await row.waitFor();
      await expect((await row.textContent()) ?? '').to.match(/Ready/);
      expect(await row.locator('td').nth(2).textContent()).to.equal('3');
      expect(await accessibilityViolations(page)).to.deep.equal([]);
      await shot(page, 'workflows');
      // Keyboard only: Tab to the workflow's link and follow it with Enter.
      for (let i = 0; i < 30; i++) {
        await page.keyboard.press('Tab');
        if ((await page.evaluate(() => document.activeElement?.textContent)) === 'user-profile') break;
      }
      await page.keyboard.press('Enter');
      await page.waitForURL(/workflows\/user-profile$/);
    });

    it('draws the DAG with a layered layout: a node per task with its method and host, `when` on edges', async () => {
      await page.locator('.graph[data-laid-out="true"] .react-flow__node').first().waitFor();
      const tasks = await page
        .locator('.task-node')
        .evaluateAll((nodes) => nodes.map((n) => n.getAttribute('data-task')).sort());
      expect(tasks).to.deep.equal(['orders', 'recs', 'user']);
      expect(await page.locator('[data-task="user"]').textContent()).to.match(
        /GET.*demo\.syncflow-system\.svc/,
      );
      expect(await page.locator('.react-flow__edge-text').allTextContents()).to.deep.equal([
        'when has(input.withOrders) && input.withOrders == true',
      ]);
      // Parallel tasks side by side: user and recs on one row, orders below user.
      const box = async (id: string) =>
        (await page.locator(`.react-flow__node[data-id="${id}"]`).boundingBox())!;
      expect(Math.abs((await box('user')).y - (await box('recs')).y)).to.be.lessThan(2);
      expect((await box('orders')).y).to.be.greaterThan((await box('user')).y);
      expect(await accessibilityViolations(page)).to.deep.equal([]);
      await shot(page, 'workflow-graph');
      // A node is reached and chosen with the keyboard; its definition is shown.
      await page.locator('.react-flow__node[data-id="user"]').focus();
      await page.keyboard.press('Enter');
      expect(await page.getByRole('region', { name: 'Task user' }).textContent()).to.contain('get-user');
      await page.getByRole('link', { name: 'Schemas' }).click();
      await page.getByRole('table', { name: 'Input schema' }).waitFor();
      await page.getByRole('table', { name: 'Output of task user (get-user)' }).waitFor();
      await page.getByRole('link', { name: 'YAML' }).click();
      expect(await page.getByLabel('Workflow YAML').textContent()).to.contain('kind: Workflow');
      await page.getByRole('link', { name: 'Revisions' }).click();
      await page.getByRole('table', { name: /Revisions of user-profile/ }).waitFor();
      expect(await accessibilityViolations(page)).to.deep.equal([]);
    });

    it('Run: the form checks input with the server validator, dry-runs the plan, runs and lights the graph up live', async () => {
      await page.goto(`${new URL(consoleUrl).origin}/#/ns/${NS}/workflows/user-profile/run`);
      const userId = page.getByLabel(/^userId/);
      await userId.waitFor();
      await userId.fill('');
      await userId.blur();
      await page.getByText(/userId .*required/).waitFor();
      await userId.fill('42');
      await page.getByLabel(/^withOrders/).check();
      await page.getByRole('button', { name: 'Dry run' }).click();
      const plan = page.getByRole('region', { name: 'Dry-run plan' });
      await plan.waitFor();
      expect(await plan.textContent()).to.match(/Order: user → .*orders/);
      expect(await page.locator('[data-task="orders"]').textContent()).to.match(/#\d · group 2/);
      await shot(page, 'run-plan');
      // Every phase each node shows, as it shows it.
      await page.evaluate(() => {
        const seen: string[] = [];
        (window as unknown as { seen: string[] }).seen = seen;
        new MutationObserver((records) => {
          for (const r of records) {
            const el = r.target as Element;
            if (el.getAttribute?.('data-phase'))
              seen.push(`${el.getAttribute('data-task')}:${el.getAttribute('data-phase')}`);
          }
        }).observe(document.body, { attributes: true, subtree: true, attributeFilter: ['data-phase'] });
      });
      await page.getByRole('button', { name: 'Run', exact: true }).click();
      const result = page.getByRole('region', { name: 'Result' });
      await result.waitFor();
      expect(await result.textContent()).to.match(/Result: Succeeded/);
      for (const id of ['user', 'orders', 'recs'])
        expect(await page.locator(`.task-node[data-task="${id}"]`).getAttribute('data-phase')).to.equal(
          'Succeeded',
        );
      const seen = await page.evaluate(() => (window as unknown as { seen: string[] }).seen);
      console.log(`      phases seen live: ${seen.join(' ')}`);
      expect(seen.some((s) => /:(Running|Succeeded)$/.test(s))).to.equal(true);
      expect(await accessibilityViolations(page)).to.deep.equal([]);
      await shot(page, 'run-result');
    });

    it('lists executions (filtered, live) and opens one with its timeline', async () => {
      await page.goto(`${new URL(consoleUrl).origin}/#/ns/${NS}/executions?workflow=user-profile`);
      await page.locator('tr[data-execution]').first().waitFor();
      await page.getByRole('status').filter({ hasText: 'live' }).waitFor();
      // Live: an execution created elsewhere (kubectl) appears without a reload.
      const before = await page.locator('tr[data-execution]').count();
      await cp.kubectl.ok(['create', '-n', NS, '-f', '-'], {
        stdin: JSON.stringify({
          apiVersion: 'execution.syncflow.io/v1alpha1',
          kind: 'WorkflowExecution',
          metadata: { generateName: 'user-profile-', labels: { team: 'web' } },
          spec: { workflowRef: { name: 'user-profile' }, input: { userId: '9' } },
        }),
      });
      await page.waitForFunction((n) => document.querySelectorAll('tr[data-execution]').length > n, before);
      expect(await accessibilityViolations(page)).to.deep.equal([]);
      await shot(page, 'executions');
      await page.locator('tr[data-execution] th a').first().click();
      await page.getByRole('table', { name: /Timeline/ }).waitFor();
      expect(await page.locator('.timeline-row.critical').count()).to.be.greaterThan(0);
      await page.locator('.graph[data-laid-out="true"] .task-node').first().waitFor();
      expect(await accessibilityViolations(page)).to.deep.equal([]);
      await shot(page, 'execution');
    });

    it('replays an execution on the graph at a chosen pace and compares it with a failed run', async () => {
      const executionUrl = page.url();
      const name = executionUrl.split('/').pop() as string;
      await page.getByLabel('Replay pace').selectOption('100');
      await page.getByRole('button', { name: 'Replay', exact: true }).click();
      await page.getByRole('status').filter({ hasText: 'replayed' }).waitFor();
      const failed = JSON.parse(
        await cp.kubectl.ok(['create', '-n', NS, '-o', 'json', '-f', '-'], {
          stdin: JSON.stringify({
            apiVersion: 'execution.syncflow.io/v1alpha1',
            kind: 'WorkflowExecution',
            metadata: { generateName: 'user-profile-' },
            spec: { workflowRef: { name: 'user-profile' }, input: { userId: 'missing' } },
          }),
        }),
      ) as { metadata: { name: string }; status: { phase: string } };
      expect(failed.status.phase).to.equal('Failed');
      await page.getByRole('link', { name: 'Compare…' }).click();
      await page.getByLabel('Right').selectOption(failed.metadata.name);
      const tasks = page.getByRole('table', { name: 'Tasks' });
      await tasks.waitFor();
      expect(
        await tasks
          .locator('tbody tr')
          .filter({ has: page.getByRole('rowheader', { name: 'user', exact: true }) })
          .textContent(),
      ).to.match(/Succeeded.*Failed/);
      expect(
        await page.getByRole('table', { name: 'Differences between the inputs' }).textContent(),
      ).to.contain('missing');
      expect(page.url()).to.contain(`a=${name}`);
      expect(await accessibilityViolations(page)).to.deep.equal([]);
      await shot(page, 'compare');
    });

    it('works on a narrow screen and in the dark theme', async () => {
      await page.setViewportSize({ width: 390, height: 844 });
      await page.goto(`${new URL(consoleUrl).origin}/#/ns/${NS}/workflows`);
      await page.getByRole('link', { name: 'user-profile' }).waitFor();
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - innerWidth);
      expect(overflow).to.be.at.most(0);
      await page.getByRole('button', { name: 'Dark theme' }).click();
      expect(await page.evaluate(() => document.documentElement.dataset.theme)).to.equal('dark');
      expect(await accessibilityViolations(page)).to.deep.equal([]);
      await shot(page, 'workflows-narrow-dark');
      await page.getByRole('button', { name: 'Dark theme' }).click();
      await page.setViewportSize({ width: 1280, height: 720 });
    });
  });

  describe('benchmarks (results in docs/console/benchmarks.json)', () => {
    const results: Record<string, unknown> = {};
    after(() => recordFigures('benchmarks.json', browser, results));

    it('the first page loads at most 300 KB of JavaScript, gzipped', async () => {
      const fresh = await context.newPage();
      const scripts = new Set<string>();
      fresh.on('response', (r) => {
        if (r.url().endsWith('.js')) scripts.add(new URL(r.url()).pathname);
      });
      await fresh.goto(`${new URL(consoleUrl).origin}/#/ns/${NS}/workflows`);
      await fresh.getByRole('link', { name: 'user-profile' }).waitFor();
      await fresh.close();
      const sizes = Object.fromEntries(
        [...scripts].map((path) => [
          path,
          gzipSync(readFileSync(join(repoRoot, 'console/dist', path))).length,
        ]),
      );
      const total = Object.values(sizes).reduce((a, b) => a + b, 0);
      results.firstPage = { scripts: sizes, gzippedBytes: total, limitBytes: 300 * 1024 };
      console.log(`      first page: ${(total / 1024).toFixed(1)} KiB of JavaScript gzipped`);
      expect(total).to.be.at.most(300 * 1024);
    });

    it('an execution list of 10,000 rows scrolls without reading them all', async () => {
      // A kube-apiserver stand-in holding 10,000 executions, served 50 a page as the real one does.
      const TOTAL = 10_000;
      const listCalls: string[] = [];
      const fake = createServer((req, res) => {
        const url = new URL(req.url ?? '/', 'http://fake');
        if (!url.pathname.endsWith('/workflowexecutions')) {
          res.writeHead(404, { 'content-type': 'application/json' }).end('{"kind":"Status","code":404}');
          return;
        }
        if (url.searchParams.get('watch')) {
          res.writeHead(200, { 'content-type': 'application/json' });
          return; // Open, quiet.
        }
        listCalls.push(url.search);
        const from = Number(url.searchParams.get('continue') ?? 0);
        const limit = Number(url.searchParams.get('limit') ?? TOTAL);
        const items = Array.from({ length: Math.max(0, Math.min(limit, TOTAL - from)) }, (_, i) => ({
          metadata: {
            name: `run-${String(from + i).padStart(5, '0')}`,
            creationTimestamp: new Date(Date.now() - (from + i) * 1000).toISOString(),
          },
          spec: { workflowRef: { name: 'user-profile' } },
          status: {
            phase: 'Succeeded',
            durationMs: 12,
            startTime: new Date(Date.now() - (from + i) * 1000).toISOString(),
          },
        }));
        const more = from + items.length < TOTAL;
        res.writeHead(200, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            metadata: { resourceVersion: '1', ...(more ? { continue: String(from + items.length) } : {}) },
            items,
          }),
        );
      });
      fake.listen(0, '127.0.0.1');
      await once(fake, 'listening');
      const local = await startLocalConsole({
        kubeConfig: kubeConfigFor(`http://127.0.0.1:${(fake.address() as AddressInfo).port}`),
        distDir: join(repoRoot, 'console/dist'),
        port: 0,
      });
      const fresh = await context.newPage();
      try {
        await fresh.goto(local.url);
        await fresh.goto(`${local.origin}/#/ns/big/executions`);
        await fresh.locator('tr[data-execution]').nth(49).waitFor();
        const started = Date.now();
        for (let i = 0; i < 5; i++) {
          const before = await fresh.locator('tr[data-execution]').count();
          await fresh.evaluate(() => window.scrollTo(0, document.body.scrollHeight));
          await fresh.waitForFunction(
            (n) => document.querySelectorAll('tr[data-execution]').length > n,
            before,
          );
        }
        const rows = await fresh.locator('tr[data-execution]').count();
        const perPageMs = (Date.now() - started) / 5;
        results.executionList = {
          total: TOTAL,
          rowsAfterFiveScrolls: rows,
          listRequests: listCalls.length,
          msPerScrolledPage: Math.round(perPageMs),
        };
        console.log(
          `      10,000 executions: ${rows} rows read after five scrolls, in ${listCalls.length} list calls, ${perPageMs.toFixed(0)} ms a page`,
        );
        expect(rows).to.equal(300);
        expect(listCalls.every((q) => q.includes('limit=50'))).to.equal(true);
        expect(await fresh.getByRole('button', { name: 'Load more' }).count()).to.equal(1);
      } finally {
        await fresh.close();
        await local.close();
        fake.closeAllConnections();
        fake.close();
      }
    });

    it('times a 50-task workflow laid out and drawn (target 200 ms with the layout engine loaded)', async () => {
      const tasks = Array.from({ length: 50 }, (_, i) => ({
        id: `t${i}`,
        taskRef: { name: 'get-recs' },
        input: { userId: '{{input.userId}}' },
        ...(i >= 5 ? { dependsOn: [`t${i - 5}`] } : {}),
      }));
      await cp.kubectl.ok(['apply', '-n', NS, '-f', '-'], {
        stdin: JSON.stringify({
          apiVersion: 'syncflow.io/v1alpha1',
          kind: 'Workflow',
          metadata: { name: 'fifty' },
          spec: {
            inputSchema: { type: 'object', required: ['userId'], properties: { userId: { type: 'string' } } },
            tasks,
          },
        }),
      });
      const fresh = await context.newPage();
      // Frames are drawn only for the page in front (the graph is timed to its first drawn frame).
      await fresh.bringToFront();
      const drawn = async () => {
        await fresh.locator('.graph[data-drawn="true"]').waitFor();
        return fresh.evaluate(() => {
          const entries = performance.getEntriesByName('syncflow:graph-drawn');
          return entries[entries.length - 1]?.duration ?? NaN;
        });
      };
      await fresh.goto(`${new URL(consoleUrl).origin}/#/ns/${NS}/workflows/fifty`);
      const cold = await drawn();
      expect(await fresh.locator('.task-node').count()).to.equal(50);
      const warm: number[] = [];
      for (let i = 0; i < 5; i++) {
        await fresh.getByRole('link', { name: 'YAML' }).click();
        await fresh.getByLabel('Workflow YAML').waitFor();
        await fresh.getByRole('link', { name: 'Graph' }).click();
        warm.push(await drawn());
      }
      await fresh.close();
      const median = [...warm].sort((a, b) => a - b)[2] as number;
      results.graph50 = {
        coldMs: Math.round(cold),
        warmMs: warm.map(Math.round),
        warmMedianMs: Math.round(median),
        targetMs: 200,
        met: median < 200,
      };
      console.log(
        `      50-task graph: cold ${cold.toFixed(0)} ms (loads the layout engine), warm median ${median.toFixed(0)} ms`,
      );
      // The target (200 ms) is recorded, not asserted: on a shared machine a timing fails by load alone.
      expect(warm.every((ms) => ms > 0)).to.equal(true);
    });
  });

  describe('through the server at /console/ with ServiceAccount tokens', () => {
    let base: string;
    const tokenFor = async (account: string) => {
      await cp.kubectl.ok(['create', 'serviceaccount', account, '-n', NS]);
      return (await cp.kubectl.ok(['create', 'token', account, '-n', NS])).trim();
    };
    const signIn = async (token: string) => {
      const fresh = await context.newPage();
      await fresh.goto(`${base}/console/#/ns/${NS}/workflows`);
      await fresh.getByLabel('Bearer token').fill(token);
      await fresh.getByRole('button', { name: 'Sign in' }).click();
      return fresh;
    };

    before(() => {
      base = `https://127.0.0.1:${cp.settings.serverPort}`;
    });

    it('a ServiceAccount allowed to read and run sees the workflows and runs one, by keyboard only', async () => {
      await cp.kubectl.ok([
        'create',
        'role',
        'console-user',
        '-n',
        NS,
        '--verb=get,list,watch',
        '--resource=workflows.syncflow.io,workflowtasks.syncflow.io,workflowexecutions.execution.syncflow.io,workflowrevisions.execution.syncflow.io',
      ]);
      await cp.kubectl.ok([
        'create',
        'role',
        'console-runner',
        '-n',
        NS,
        '--verb=create',
        '--resource=workflowexecutions.execution.syncflow.io',
      ]);
      for (const role of ['console-user', 'console-runner'])
        await cp.kubectl.ok([
          'create',
          'rolebinding',
          role,
          '-n',
          NS,
          `--role=${role}`,
          `--serviceaccount=${NS}:viewer`,
        ]);
      const viewer = await signIn(await tokenFor('viewer'));
      await viewer.getByRole('link', { name: 'user-profile' }).waitFor();
      expect(await accessibilityViolations(viewer)).to.deep.equal([]);
      await viewer.goto(`${base}/console/#/ns/${NS}/workflows/user-profile/run`);
      // Keyboard only: Tab to the first field, type, Enter runs the form.
      await viewer.getByLabel(/^userId/).waitFor();
      for (let i = 0; i < 30; i++) {
        await viewer.keyboard.press('Tab');
        if ((await viewer.evaluate(() => document.activeElement?.id)) === 'field-userId') break;
      }
      await viewer.keyboard.type('7');
      await viewer.keyboard.press('Enter');
      const result = viewer.getByRole('region', { name: 'Result' });
      await result.waitFor();
      expect(await result.textContent()).to.match(/Result: Succeeded/);
      await viewer.close();
    });

    it('a ServiceAccount without RBAC sees 403s naming the permission, not the server’s view', async () => {
      const nobody = await signIn(await tokenFor('nobody'));
      const alert = nobody.getByRole('alert');
      await alert.waitFor();
      const text = (await alert.textContent()) ?? '';
      expect(text).to.match(/You may not read/);
      expect(text).to.contain(`system:serviceaccount:${NS}:nobody`);
      expect(text).to.match(/cannot list resource "workflows"/);
      expect(await nobody.getByRole('link', { name: 'user-profile' }).count()).to.equal(0);
      expect(await accessibilityViolations(nobody)).to.deep.equal([]);
      await shot(nobody, 'forbidden');
      await nobody.close();
    });
  });
});
