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
import { applySlowSteps, SLOW_WORKFLOW } from '../harness/slow-steps.ts';
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

    /** Records each phase every node shows, as it shows it, and the stream's messages the page receives. */
    const watchRun = async (): Promise<{ phases: () => Promise<string[]>; frames: string[] }> => {
      const frames: string[] = [];
      page.once('websocket', (ws) => {
        if (!ws.url().includes('/workflowexecutions/-/stream')) return;
        ws.on('framereceived', ({ payload }) => frames.push(String(payload)));
      });
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
      return { phases: () => page.evaluate(() => (window as unknown as { seen: string[] }).seen), frames };
    };
    const eventTypes = (frames: string[]) =>
      frames
        .map((f) => JSON.parse(f) as { type: string; task?: string })
        .filter((m) => m.task)
        .map((m) => `${m.task}:${m.type}`);
    /** Runs the form and waits for this run's result (a previous run's result is replaced). */
    const runAndWait = async () => {
      const previous = await page.evaluate(
        () => document.querySelector('section[aria-label="Result"] a')?.textContent ?? null,
      );
      await page.getByRole('button', { name: 'Run', exact: true }).click();
      await page.waitForFunction(
        (before) => {
          const now = document.querySelector('section[aria-label="Result"] a')?.textContent ?? null;
          return now !== null && now !== before;
        },
        previous,
        { timeout: 60_000 },
      );
      return page.getByRole('region', { name: 'Result' });
    };
    let failedLoanQuote = '';

    it('edge labels do not overlap: the two `when` labels under loan-quote’s score each keep their own box', async () => {
      await page.goto(consoleUrl);
      await page.goto(`${new URL(consoleUrl).origin}/#/ns/${NS}/workflows/loan-quote`);
      await page.locator('.graph[data-drawn="true"] .react-flow__edge-text').first().waitFor();
      const labels = page.locator('.react-flow__edge-text');
      expect(await labels.count()).to.equal(2);
      const boxes = await Promise.all((await labels.all()).map(async (l) => (await l.boundingBox())!));
      const [a, b] = boxes as [(typeof boxes)[0], (typeof boxes)[0]];
      const apart =
        a.x + a.width <= b.x || b.x + b.width <= a.x || a.y + a.height <= b.y || b.y + b.height <= a.y;
      expect(apart, `label boxes ${JSON.stringify(boxes)} intersect`).to.equal(true);
    });

    it('Run: the form checks input with the server validator, dry-runs the plan, runs through the stream and lights the graph up live', async () => {
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
      const run = await watchRun();
      const result = await runAndWait();
      expect(await result.textContent()).to.match(/Result: Succeeded/);
      for (const id of ['user', 'orders', 'recs'])
        expect(await page.locator(`.task-node[data-task="${id}"]`).getAttribute('data-phase')).to.equal(
          'Succeeded',
        );
      // The page ran it over the stream (no watch, no create call): every task's events reached it.
      const events = eventTypes(run.frames);
      console.log(`      stream events: ${events.join(' ')}`);
      for (const id of ['user', 'orders', 'recs'])
        expect(events).to.include.members([`${id}:TaskStarted`, `${id}:TaskFinished`]);
      expect(run.frames.some((f) => f.includes('"ExecutionFinished"'))).to.equal(true);
      expect(await accessibilityViolations(page)).to.deep.equal([]);
      // React Flow draws edges once the nodes are measured: a shot taken before shows none.
      await page.locator('.react-flow__edge').first().waitFor();
      await shot(page, 'run-result');
    });

    it('Run: each node is Running while its call is in flight, then Succeeded (stream events, 300 ms steps)', async () => {
      await applySlowSteps(cp, NS);
      await page.goto(`${new URL(consoleUrl).origin}/#/ns/${NS}/workflows/${SLOW_WORKFLOW}/run`);
      await page.locator('.graph[data-laid-out="true"] .task-node').first().waitFor();
      const run = await watchRun();
      const result = await runAndWait();
      expect(await result.textContent()).to.match(/Result: Succeeded/);
      const phases = await run.phases();
      console.log(`      phases seen live: ${phases.join(' ')}`);
      for (const id of ['a', 'b', 'c'])
        expect(phases.indexOf(`${id}:Running`), `${id} Running before Succeeded`)
          .to.be.greaterThan(-1)
          .and.lessThan(phases.lastIndexOf(`${id}:Succeeded`));
      // In order: b starts only after a succeeded.
      expect(phases.indexOf('a:Succeeded')).to.be.lessThan(phases.indexOf('b:Running'));
    });

    it('Run: a branch whose `when` is false is Skipped; a failing loan-quote shows its call retrying, then Failed', async () => {
      await page.goto(`${new URL(consoleUrl).origin}/#/ns/${NS}/workflows/loan-quote/run`);
      await page.getByLabel(/^applicantId/).fill('risky-3');
      await page.getByLabel(/^amount/).fill('5000');
      const risky = await watchRun();
      expect(await (await runAndWait()).textContent()).to.match(/Result: Succeeded/);
      const riskyPhases = await risky.phases();
      console.log(`      phases seen live: ${riskyPhases.join(' ')}`);
      // Score 580: no quote (its when is false), a manual review instead.
      expect(riskyPhases).to.include.members(['score:Running', 'score:Succeeded', 'quote:Skipped']);
      expect(riskyPhases.indexOf('quote:Skipped')).to.be.lessThan(
        riskyPhases.lastIndexOf('review:Succeeded'),
      );
      expect(eventTypes(risky.frames)).to.include('quote:TaskSkipped');
      await page.getByRole('region', { name: 'Result' }).waitFor();

      await page.getByLabel(/^applicantId/).fill('down-7');
      const run = await watchRun();
      const result = await runAndWait();
      await page.getByText(/Result: Failed/).waitFor();
      const phases = await run.phases();
      console.log(`      phases seen live: ${phases.join(' ')}`);
      expect(phases).to.include.members(['score:Running', 'score:Retrying', 'score:Failed']);
      expect(phases.indexOf('score:Retrying')).to.be.lessThan(phases.indexOf('score:Failed'));
      expect(eventTypes(run.frames)).to.include.members(['score:TaskRetrying', 'score:TaskFinished']);
      // The workflow failed before its branches could run: the engine records them Cancelled.
      for (const id of ['quote', 'review'])
        expect(await page.locator(`.task-node[data-task="${id}"]`).getAttribute('data-phase')).to.equal(
          'Cancelled',
        );
      failedLoanQuote = ((await result.getByRole('link', { name: /Open execution/ }).textContent()) ?? '')
        .replace('Open execution ', '')
        .trim();
      expect(failedLoanQuote).to.match(/^loan-quote-/);
      expect(await accessibilityViolations(page)).to.deep.equal([]);
      await shot(page, 'run-failed');
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
      // A task's request shows its headers with the secret redacted; the secret is nowhere on the page.
      await page.locator('details.task-details[data-task="user"] summary').click();
      const request = page.getByRole('region', { name: 'Request of task user' });
      expect(await request.textContent()).to.match(/GET http:\/\/demo\.syncflow-system\.svc:8080\/users\//);
      expect(
        await request
          .getByRole('row')
          .filter({ hasText: /^authorization/i })
          .textContent(),
      ).to.match(/Bearer \*\*\*/);
      expect(await page.locator('body').textContent()).not.to.contain('e2e-s3cr3t');
      expect(await page.getByRole('region', { name: 'Response of task user' }).textContent()).to.match(
        /HTTP 200, 1 attempt.*email/s,
      );
      expect(await accessibilityViolations(page)).to.deep.equal([]);
      await shot(page, 'execution');
    });

    it('replays an execution on the graph at a chosen pace and compares it with a failed loan-quote run', async () => {
      const executionUrl = page.url();
      const name = (executionUrl.split('/').pop() as string).split('?')[0] as string;
      await page.getByLabel('Replay pace').selectOption('100');
      await page.getByRole('button', { name: 'Replay', exact: true }).click();
      await page.getByRole('status').filter({ hasText: 'replayed' }).waitFor();
      await page.getByRole('link', { name: 'Compare…' }).click();
      await page.getByLabel('Right').selectOption(failedLoanQuote);
      const tasks = page.getByRole('table', { name: /^Tasks/ });
      await tasks.waitFor();
      // Two workflows: their tasks are paired by the order they started, each side naming its task.
      expect(await tasks.locator('caption').textContent()).to.match(/different workflows/);
      expect(await tasks.locator('tbody tr').first().textContent()).to.match(
        /user: Succeeded.*score: Failed.*[+−]/,
      );
      const summary = page.getByRole('table', { name: 'Summary' });
      expect(await summary.textContent()).to.match(/user-profile.*loan-quote/);
      expect(await summary.textContent()).to.match(/Succeeded.*Failed TaskFailed/);
      const inputs = page.getByRole('table', { name: /Differences between the inputs/ });
      const row = async (field: string) =>
        inputs
          .locator('tbody tr')
          .filter({ has: page.getByRole('rowheader', { name: new RegExp(`^${field}`) }) });
      expect(await (await row('userId')).getAttribute('data-kind')).to.equal('removed');
      expect(await (await row('applicantId')).textContent()).to.match(/absent.*"down-7"/);
      expect(await (await row('amount')).getAttribute('data-kind')).to.equal('added');
      // Each field's two values sit on one row, in the same columns (the table is aligned).
      const lefts = await inputs
        .locator('tbody tr td:nth-child(2)')
        .evaluateAll((cells) => cells.map((c) => Math.round(c.getBoundingClientRect().left)));
      expect(new Set(lefts).size).to.equal(1);
      expect(
        await page.getByRole('table', { name: /Differences between the outputs/ }).textContent(),
      ).to.contain('email');
      expect(page.url()).to.contain(`a=${name}`);
      expect(await accessibilityViolations(page)).to.deep.equal([]);
      await shot(page, 'compare');
    });

    it("an execution page shows each task's request and response (collapsible, by keyboard) and re-runs it against its revision", async () => {
      const origin = new URL(consoleUrl).origin;
      await page.goto(`${origin}/#/ns/${NS}/executions/${failedLoanQuote}`);
      const score = page.locator('details.task-details[data-task="score"]');
      await score.waitFor();
      expect(await score.getAttribute('open')).to.equal(null);
      await score.locator('summary').focus();
      await page.keyboard.press('Enter');
      const response = page.getByRole('region', { name: 'Response of task score' });
      await response.waitFor();
      expect(await response.textContent()).to.match(/HTTP 503, 2 attempts/);
      expect(await response.locator('.state.error').textContent()).to.match(/HTTPError/);
      expect(page.url()).to.contain('task=score');
      // The request as the server recorded it (templates resolved), and the input the task was given.
      const request = page.getByRole('region', { name: 'Request of task score' });
      expect(await request.textContent()).to.contain(
        'GET http://demo.syncflow-system.svc:8080/scores/down-7',
      );
      expect(await page.getByLabel('Input of score').textContent()).to.contain('"applicantId": "down-7"');
      const cancelled = page.locator('details.task-details[data-task="quote"]');
      await cancelled.locator('summary').click();
      expect(await page.getByRole('region', { name: 'Request of task quote' }).textContent()).to.contain(
        'Cancelled before it started (the execution had ended): nothing was sent',
      );
      expect(await accessibilityViolations(page)).to.deep.equal([]);
      await shot(page, 'execution-task');

      // Re-run: the same input, against the revision this execution ran (or the current one).
      await page.getByRole('link', { name: /Re-run with this input/ }).click();
      const thisRevision = page.getByRole('radio', { name: /this revision/ });
      await page.getByRole('radio', { name: /this revision .*\(loan-quote-[0-9a-f]{10}\)/ }).waitFor();
      expect(await thisRevision.isChecked()).to.equal(true);
      expect(await page.getByRole('radio', { name: 'the current revision' }).isChecked()).to.equal(false);
      expect(await page.getByLabel(/^applicantId/).inputValue()).to.equal('down-7');
      expect(await accessibilityViolations(page)).to.deep.equal([]);
      // The re-run goes through the stream too (execute {workflowRevision}) and lights the graph up live.
      const sent: string[] = [];
      page.once('websocket', (ws) => {
        if (ws.url().includes('/workflowexecutions/-/stream'))
          ws.on('framesent', ({ payload }) => sent.push(String(payload)));
      });
      const watched = await watchRun();
      const result = await runAndWait();
      expect(await result.textContent()).to.match(/Result: Failed/);
      const execute = sent
        .map((f) => JSON.parse(f) as Record<string, unknown>)
        .find((m) => m.type === 'execute');
      expect(execute?.workflowRevision).to.match(/^loan-quote-[0-9a-f]{10}$/);
      expect(eventTypes(watched.frames)).to.include.members([
        'score:TaskStarted',
        'score:TaskRetrying',
        'score:TaskFinished',
      ]);
      expect(await watched.phases()).to.include.members(['score:Running', 'score:Retrying', 'score:Failed']);
      const rerun = ((await result.getByRole('link', { name: /Open execution/ }).textContent()) ?? '')
        .replace('Open execution ', '')
        .trim();
      const rerunObject = JSON.parse(await cp.kubectl.ok(['get', 'wfx', rerun, '-n', NS, '-o', 'json'])) as {
        spec: { workflowRevision?: string; input: unknown };
      };
      expect(rerunObject.spec.workflowRevision).to.match(/^loan-quote-[0-9a-f]{10}$/);
      expect(rerunObject.spec.input).to.deep.equal({ applicantId: 'down-7', amount: 5000 });
      expect(await page.locator('.task-node[data-task="score"]').getAttribute('data-phase')).to.equal(
        'Failed',
      );
    });

    it('every page fits 1280×720 and a 390 px screen (no page-wide horizontal scroll); the theme toggle says what it does', async () => {
      const origin = new URL(consoleUrl).origin;
      const pages = [
        `/#/ns/${NS}/workflows`,
        `/#/ns/${NS}/workflows/user-profile`,
        `/#/ns/${NS}/workflows/user-profile/run`,
        `/#/ns/${NS}/executions`,
        `/#/ns/${NS}/executions/${failedLoanQuote}`,
        `/#/ns/${NS}/compare?a=${failedLoanQuote}&b=${failedLoanQuote}`,
      ];
      for (const width of [1280, 390]) {
        await page.setViewportSize(width === 1280 ? { width, height: 720 } : { width, height: 844 });
        for (const path of pages) {
          await page.goto(`${origin}${path}`);
          await page.locator('main h1').waitFor();
          await page.waitForFunction(() => !document.querySelector('.state.loading'));
          const overflow = await page.evaluate(() => document.documentElement.scrollWidth - innerWidth);
          expect(overflow, `${path} at ${width} px overflows by ${overflow} px`).to.be.at.most(0);
        }
      }
      // At 390 px the workflows table reflows: every column of a row, the last one too, is on screen.
      await page.goto(`${origin}/#/ns/${NS}/workflows`);
      const row = page.locator('tr', { has: page.getByRole('link', { name: 'user-profile' }) });
      await row.waitFor();
      const last = row.locator('td[data-label="p50 duration"]');
      const box = (await last.boundingBox())!;
      expect(box.x).to.be.at.least(0);
      expect(box.x + box.width).to.be.at.most(390);
      expect(await last.isVisible()).to.equal(true);
      expect(await page.evaluate(() => document.documentElement.scrollWidth - innerWidth)).to.be.at.most(0);
      await page.getByRole('button', { name: 'Switch to dark theme' }).click();
      expect(await page.evaluate(() => document.documentElement.dataset.theme)).to.equal('dark');
      await page.getByRole('button', { name: 'Switch to light theme' }).waitFor();
      expect(await accessibilityViolations(page)).to.deep.equal([]);
      await shot(page, 'workflows-narrow-dark');
      await page.goto(`${origin}/#/ns/${NS}/compare?a=${failedLoanQuote}&b=${failedLoanQuote}`);
      await page.getByRole('table', { name: /Differences between the inputs/ }).waitFor();
      await shot(page, 'compare-narrow-dark');
      await page.getByRole('button', { name: 'Switch to light theme' }).click();
      await page.setViewportSize({ width: 1280, height: 720 });
    });

    it('a graph node shows its whole host on hover and on keyboard focus', async () => {
      await page.goto(`${new URL(consoleUrl).origin}/#/ns/${NS}/workflows/user-profile`);
      const node = page.locator('.react-flow__node[data-id="user"]');
      await page.locator('.graph[data-drawn="true"]').waitFor();
      const http = node.locator('.task-node-http');
      expect(await http.getAttribute('title')).to.equal('GET demo.syncflow-system.svc:8080');
      const whole = () =>
        http.evaluate((el) => el.scrollHeight <= el.clientHeight + 1 && el.scrollWidth <= el.clientWidth + 1);
      // Fits on its two lines at rest; focused, nothing of it is clipped either.
      expect(await whole()).to.equal(true);
      await node.focus();
      expect(await whole()).to.equal(true);
      expect(await http.textContent()).to.contain('demo.syncflow-system.svc:8080');
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
      for (let i = 0; i < 7; i++) {
        await fresh.getByRole('link', { name: 'YAML' }).click();
        await fresh.getByLabel('Workflow YAML').waitFor();
        await fresh.getByRole('link', { name: 'Graph' }).click();
        warm.push(await drawn());
      }
      await fresh.close();
      const median = [...warm].sort((a, b) => a - b)[3] as number;
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
      // Run goes through the live-events stream: `get workflowexecutions/stream` (manifests' syncflow-runner has it).
      await cp.kubectl.ok([
        'create',
        'role',
        'console-streamer',
        '-n',
        NS,
        '--verb=get',
        '--resource=workflowexecutions.execution.syncflow.io/stream',
      ]);
      for (const role of ['console-user', 'console-runner', 'console-streamer'])
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
