// The console's debugger pages as people use them, keyboard only: Debian's Chromium driven by
// playwright-core through `syncflow console` against the real control plane and the real server.
// Step-through: a breakpoint on the second task of checkout, the pause with the resolved request, a
// substitute output checked as it is typed, the run finished, the execution page showing the
// substitute and the debug annotation. Time travel: a recorded run whose first call failed once
// (the demo upstream's `flaky` user) shows "retrying" between the two attempts, and the values on
// its edges are the recorded outputs. axe-core on every page; screenshots as docs/console/debugger-*.
import { expect } from 'chai';
import type { Browser, Page } from 'playwright-core';
import { ControlPlane } from '../harness/controlplane.ts';
import { SyncflowServer } from '../harness/syncflow-server.ts';
import {
  accessibilityViolations,
  ensureConsoleBuilt,
  openConsolePage,
  reportFailure,
  screenshot,
  startConsoleCommand,
  type LocalConsole,
} from '../harness/browser.ts';

const NS = `e2e-debugger-${Date.now().toString(36)}`;

interface RecordedExecution {
  metadata: { name: string; annotations?: Record<string, string> };
  status: {
    phase: string;
    tasks: Array<{ id: string; phase: string; attempts?: number; output?: Record<string, unknown> }>;
  };
}

describe('the console debugger in Chromium', function () {
  this.timeout(10 * 60_000);
  let cp: ControlPlane;
  let server: SyncflowServer;
  let local: LocalConsole;
  let origin: string;
  let browser: Browser;
  let page: Page;

  before(async function () {
    cp = await ControlPlane.acquire();
    // Only control planes from hack/cp-up.sh (what the test command uses) run a local server; a kind cluster does not.
    if (!cp.settings.serverPort) this.skip();
    await ensureConsoleBuilt();
    await cp.kubectl.ok(['create', 'namespace', NS]);
    await cp.installExamples(NS);
    server = await SyncflowServer.start(cp);
    for (const workflow of ['checkout', 'user-profile'])
      await cp.kubectl.ok([
        '-n',
        NS,
        'wait',
        '--for=condition=Ready',
        `workflow/${workflow}`,
        '--timeout=180s',
      ]);
    local = await startConsoleCommand(cp.settings.kubeconfig);
    origin = local.origin;
    ({ browser, page } = await openConsolePage(local, { width: 1280, height: 900 }));
    // The console sends an address without a namespace to the default one: let it, before going on.
    await page.waitForURL(/#\/ns\/[^/]+\/workflows/);
  });

  afterEach(async function () {
    await reportFailure(page, this.currentTest);
  });

  after(async () => {
    await browser?.close();
    local?.stop();
    await server?.stop();
  });

  /** Presses a page shortcut with nothing focused that takes typing. */
  const shortcut = async (key: string) => {
    await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
    await page.keyboard.press(key);
  };

  /** Presses a time-travel key and waits until the page shows event `index` (-1: before the first). */
  const travel = async (key: string, index: number) => {
    await shortcut(key);
    await page.locator(`p.instant[data-index="${index}"]`).waitFor();
  };

  it('step-through: a breakpoint on the second task of checkout pauses with the resolved request; skip with a checked substitute finishes the run', async () => {
    await page.goto(`${origin}/#/ns/${NS}/workflows/checkout/debug`);
    await page.locator('.graph[data-laid-out="true"] .task-node').first().waitFor();
    // Keyboard: focus the `pay` node and press Enter to set its breakpoint.
    await page.locator('.react-flow__node[data-id="pay"]').focus();
    await page.keyboard.press('Enter');
    await page.locator('.task-node[data-task="pay"].breakpoint').waitFor();
    const payBox = page.getByRole('group', { name: 'Pause before' }).getByLabel('pay', { exact: true });
    expect(await payBox.isChecked()).to.equal(true);
    expect(await page.locator('.task-node[data-task="pay"]').getAttribute('class')).to.contain('breakpoint');
    // Remembered for this workflow in the browser.
    const saved = await page.evaluate(
      (ns) => localStorage.getItem(`syncflow-debugger-breakpoints/${ns}/checkout`),
      NS,
    );
    expect(JSON.parse(saved ?? '{}')).to.deep.equal({ every: false, tasks: ['pay'] });

    const input = page.getByLabel('Input (JSON)');
    await input.fill('{"cartId": "cart-9", "customerId": "cust-7"}');
    await shortcut('r');
    const paused = page.getByRole('region', { name: 'Paused before pay' });
    await paused.waitFor({ timeout: 60_000 });
    const request = paused.getByRole('region', { name: 'Resolved request' });
    expect(await request.locator('.request-line').textContent()).to.match(
      /^POST http:\/\/demo\.syncflow-system\.svc:8080\/payments$/,
    );
    // The resolved body and the Idempotency-Key come from reserve's output and the input.
    const body = JSON.parse((await request.getByLabel('Request body').textContent()) ?? '{}') as Record<
      string,
      unknown
    >;
    expect(body).to.include({ customer: 'cust-7' });
    expect(String(body.reservation)).to.match(/./);
    expect(await request.getByRole('table').textContent()).to.match(/Idempotency-Key\s*pay-/i);
    // reserve ran and its output is shown; pay waits.
    expect(await page.getByLabel('Output of reserve').textContent()).to.contain('reservationId');
    expect(await page.locator('.task-node[data-task="pay"]').getAttribute('data-phase')).to.equal('Paused');
    expect(await accessibilityViolations(page)).to.deep.equal([]);
    await screenshot(page, 'debugger-step-paused');

    // The substitute is checked against charge-payment's outputSchema as it is typed.
    const editor = page.getByLabel(/Substitute output of pay/);
    await editor.fill('{"paymentId": "p-substitute-1"}');
    await page
      .locator('#skip-output-check')
      .getByText(/status/)
      .waitFor();
    expect(await page.getByRole('button', { name: /Skip with this output/ }).isDisabled()).to.equal(true);
    await editor.fill('{"paymentId": "p-substitute-1", "status": "captured"}');
    await page.locator('#skip-output-check').getByText('Matches the outputSchema.').waitFor();
    // The help overlay lists every shortcut; Escape closes it.
    await shortcut('?');
    const help = page.getByRole('dialog', { name: 'Keyboard shortcuts' });
    await help.waitFor();
    for (const action of ['Continue', 'Skip', 'Abort', 'Run to the chosen task', 'Pause at every task'])
      expect(await help.textContent()).to.contain(action);
    expect(await accessibilityViolations(page)).to.deep.equal([]);
    await screenshot(page, 'debugger-help');
    await page.keyboard.press('Escape');
    await help.waitFor({ state: 'hidden' });

    await shortcut('s');
    const result = page.getByRole('region', { name: 'Result' });
    await result.waitFor({ timeout: 60_000 });
    expect(await result.textContent()).to.match(/Finished: Succeeded/);
    const name = ((await result.getByRole('link', { name: /Open execution/ }).textContent()) ?? '')
      .replace('Open execution ', '')
      .trim();
    const recorded = await cp.kubectl.json<RecordedExecution>(['-n', NS, 'get', 'wfx', name]);
    expect(recorded.metadata.annotations?.['syncflow.io/debug']).to.equal('true');
    const pay = recorded.status.tasks.find((t) => t.id === 'pay');
    expect(pay).to.deep.include({ phase: 'Succeeded', substituted: true });
    expect(pay?.output).to.deep.equal({ paymentId: 'p-substitute-1', status: 'captured' });
    await screenshot(page, 'debugger-step-finished');

    // The execution page shows the substitute and the debug annotation.
    await result.getByRole('link', { name: /Open execution/ }).click();
    await page.getByText('debug run (syncflow.io/debug)').waitFor();
    await page.getByRole('link', { name: 'YAML' }).click();
    const yaml = (await page.getByLabel('Execution YAML').textContent()) ?? '';
    expect(yaml).to.contain('syncflow.io/debug: "true"');
    expect(yaml).to.contain('paymentId: p-substitute-1');
    expect(yaml).to.contain('substituted: true');
  });

  it('step-through: breakpoints are remembered; "run to" pauses at a task without a breakpoint; abort ends the run', async () => {
    await page.goto(`${origin}/#/ns/${NS}/workflows/checkout/debug`);
    await page.locator('.graph[data-laid-out="true"] .task-node').first().waitFor();
    const pause = page.getByRole('group', { name: 'Pause before' });
    // Kept from the first test, in this browser.
    expect(await pause.getByLabel('pay', { exact: true }).isChecked()).to.equal(true);
    // B toggles the breakpoint of the chosen task (pay, the second).
    await shortcut('b');
    await page.locator('.task-node[data-task="pay"]:not(.breakpoint)').waitFor();
    expect(await pause.getByLabel('pay', { exact: true }).isChecked()).to.equal(false);
    await page.getByLabel('Input (JSON)').fill('{"cartId": "cart-10", "customerId": "cust-8"}');
    await page.getByLabel('Run to', { exact: true }).selectOption('email');
    await shortcut('t');
    const paused = page.getByRole('region', { name: 'Paused before email' });
    await paused.waitFor({ timeout: 60_000 });
    // pay ran (no breakpoint any more) and its output reached email's request.
    expect(await page.getByLabel('Output of pay').textContent()).to.contain('paymentId');
    expect(await paused.getByLabel('Request body').textContent()).to.match(/"payment": "p-/);
    await shortcut('x');
    const result = page.getByRole('region', { name: 'Result' });
    await result.waitFor({ timeout: 60_000 });
    expect(await result.textContent()).to.match(/Finished: Failed.*DebugAborted/);
    expect(await accessibilityViolations(page)).to.deep.equal([]);
  });

  /** Runs a workflow through kubectl and returns the recorded execution. */
  const recordedRun = async (workflow: string, input: unknown): Promise<RecordedExecution> => {
    const created = await cp.kubectl.ok(['create', '-n', NS, '-f', '-', '-o', 'jsonpath={.metadata.name}'], {
      stdin: JSON.stringify({
        apiVersion: 'execution.syncflow.io/v1alpha1',
        kind: 'WorkflowExecution',
        metadata: { generateName: `${workflow}-` },
        spec: { workflowRef: { name: workflow }, input },
      }),
    });
    return cp.kubectl.json<RecordedExecution>(['-n', NS, 'get', 'wfx', created.trim()]);
  };

  it('time travel: between the two attempts of a retried task the node shows "retrying"; edge values are the recorded outputs', async () => {
    // The demo upstream answers 503 to the first request for user `flaky`, then 200: one retry.
    const recorded = await recordedRun('user-profile', { userId: 'flaky', withOrders: true });
    expect(recorded.status.phase).to.equal('Succeeded');
    expect(recorded.status.tasks.find((t) => t.id === 'user')?.attempts).to.equal(2);

    // From the execution page, by its link.
    await page.goto(`${origin}/#/ns/${NS}/executions/${recorded.metadata.name}`);
    await page.getByRole('link', { name: 'Time travel' }).click();
    await page.locator('.graph[data-laid-out="true"] .task-node').first().waitFor();
    const phase = (id: string) => page.locator(`.task-node[data-task="${id}"]`).getAttribute('data-phase');
    await travel('Home', -1);
    for (const id of ['user', 'orders', 'recs']) expect(await phase(id)).to.equal('pending');
    // Step forward one event at a time (n) until the first attempt of `user` has failed.
    let index = -1;
    while ((await phase('user')) !== 'retrying' && index < 20) await travel('n', ++index);
    expect(await phase('user')).to.equal('retrying');
    expect(await page.locator('p.instant').textContent()).to.match(/user attempt 1 failed: HTTP 503/);
    expect(await phase('orders')).to.equal('pending');
    expect(await page.getByRole('table', { name: 'Values along edges' }).textContent()).to.contain(
      'No value has flowed yet',
    );
    expect(await accessibilityViolations(page)).to.deep.equal([]);
    await screenshot(page, 'debugger-time-travel-retrying');
    // The instant is in the address: a reload (or a shared link) comes back to it.
    expect(page.url()).to.contain(`at=${index}`);
    await page.reload();
    await page.locator(`p.instant[data-index="${index}"]`).waitFor();
    await page.locator('.graph[data-laid-out="true"] .task-node').first().waitFor();
    expect(await phase('user')).to.equal('retrying');
    // The next event of `user` is its second attempt: running again.
    while ((await phase('user')) === 'retrying' && index < 40) await travel('n', ++index);
    expect(await phase('user')).to.equal('running');

    // At the end, the value along user → orders is what user returned, as recorded.
    await travel('End', (await page.locator('.timeline-events li').count()) - 1);
    expect(await phase('user')).to.equal('done');
    const email = recorded.status.tasks.find((t) => t.id === 'user')?.output?.email;
    const row = page.locator('tr[data-edge="user->orders"]');
    expect(await row.locator('td').nth(2).textContent()).to.equal(JSON.stringify(email));
    // The edge's label shows the value (its full text is the label's <title>, shown on hover).
    const label = page.locator('.react-flow__edge-text').filter({ hasText: 'when has(input.withOrders)' });
    expect(await label.textContent()).to.contain(`· ${JSON.stringify(email)}`);
    expect(await label.locator('title').textContent()).to.equal(JSON.stringify(email));
    // The task under the cursor: its template beside the recorded input, and its request with the
    // Authorization secret redacted.
    await page.locator('.react-flow__node[data-id="user"]').focus();
    await page.keyboard.press('Enter');
    const resolution = page.getByRole('table', { name: 'Template resolution of user' });
    expect(await resolution.textContent()).to.match(/userId\s*\{\{input\.userId\}\}\s*flaky/);
    const requestText = (await page.getByLabel('Request of user').textContent()) ?? '';
    expect(requestText).to.contain('Bearer ***');
    expect(await page.content()).not.to.contain('e2e-s3cr3t');
    // The critical path is highlighted.
    expect(await page.locator('.task-node.critical').count()).to.be.greaterThan(0);
    expect(await accessibilityViolations(page)).to.deep.equal([]);
    await screenshot(page, 'debugger-time-travel');
  });

  it('data flow: a failed task is red with its error, the branches after it are dimmed with why; a false `when` dims its branch', async () => {
    const failed = await recordedRun('loan-quote', { applicantId: 'down-7', amount: 5000 });
    expect(failed.status.phase).to.equal('Failed');
    await page.goto(`${origin}/#/ns/${NS}/executions/${failed.metadata.name}/travel`);
    await page.locator('.graph[data-laid-out="true"] .task-node').first().waitFor();
    const node = (id: string) => page.locator(`.task-node[data-task="${id}"]`);
    expect(await node('score').getAttribute('data-phase')).to.equal('failed');
    expect(await node('score').locator('.task-node-note').textContent()).to.match(/HTTPError/);
    // The run stopped at the failure: the branches after it never ran, dimmed with the reason.
    for (const id of ['quote', 'review']) {
      expect(await node(id).getAttribute('data-phase')).to.equal('cancelled');
      expect(await node(id).getAttribute('class')).to.contain('dimmed');
      expect(await node(id).getAttribute('title')).to.match(/not run: .*score failed/);
    }
    expect(await accessibilityViolations(page)).to.deep.equal([]);
    await screenshot(page, 'debugger-time-travel-failed');

    const quoted = await recordedRun('loan-quote', { applicantId: 'a-1', amount: 5000 });
    expect(quoted.status.phase).to.equal('Succeeded');
    await page.goto(`${origin}/#/ns/${NS}/executions/${quoted.metadata.name}/travel`);
    await page.locator('.graph[data-laid-out="true"] .task-node').first().waitFor();
    expect(await node('quote').getAttribute('data-phase')).to.equal('done');
    expect(await node('review').getAttribute('data-phase')).to.equal('skipped');
    expect(await node('review').getAttribute('title')).to.contain(
      'skipped: when tasks.score.output.score < 650 was false',
    );
    const score = quoted.status.tasks.find((t) => t.id === 'score')?.output?.score;
    expect(await page.locator('tr[data-edge="score->quote"] td').nth(2).textContent()).to.equal(
      JSON.stringify(score),
    );
    // Edges are drawn once the nodes are measured.
    await page.locator('.react-flow__edge.dimmed').first().waitFor();
    expect(await page.locator('.react-flow__edge.dimmed').count()).to.equal(1);
    // The debugger's colours hold in the dark theme too.
    const theme = page.locator('header button', { hasText: /theme/i });
    await theme.click();
    await page.waitForFunction(() => document.documentElement.dataset.theme === 'dark');
    expect(await accessibilityViolations(page)).to.deep.equal([]);
    await theme.click();
  });
});
