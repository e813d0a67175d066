// The builder as a new user meets it, in Debian's Chromium against the real control plane and the
// real server through `syncflow console`: from the templates library to a running workflow, with a
// type error seen on the node and fixed on the way; the library, builder and playground pass axe;
// the keyboard alone adds, connects and configures a step; the five playground lessons pass by
// running them.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Locator, Page } from 'playwright-core';
import { parse } from 'yaml';
import { ControlPlane, repoRoot } from '../harness/controlplane.ts';
import { SyncflowServer } from '../harness/syncflow-server.ts';
import { installWebhooks } from '../harness/webhooks.ts';
import {
  accessibilityViolations,
  ensureConsoleBuilt,
  openConsolePage,
  recordFigures,
  reportFailure,
  screenshot as shot,
  startConsoleCommand,
  type LocalConsole,
} from '../harness/browser.ts';

const NS = `e2e-builder-${Date.now().toString(36)}`;
const LONG = { timeout: 60_000 };

/** The YAML a page offers as its Download YAML link (CodeMirror draws only the lines in view). */
async function downloadedYaml(scope: Page | Locator): Promise<string> {
  const link = scope.getByRole('link', { name: 'Download YAML' });
  const target = (await link.getAttribute('href')) ?? '';
  return decodeURIComponent(target.replace(/^data:text\/yaml;charset=utf-8,/, ''));
}

/** Presses Tab until `target` has the focus (the keyboard's way to reach it). */
async function tabTo(page: Page, target: Locator, max = 400): Promise<void> {
  for (let i = 0; i < max; i++) {
    if (await target.evaluate((el) => el === document.activeElement)) return;
    await page.keyboard.press('Tab');
  }
  throw new Error(`Tab never reached ${target.toString()}`);
}

describe('the builder in Chromium', function () {
  this.timeout(15 * 60_000);
  let cp: ControlPlane;
  let server: SyncflowServer;
  let local: LocalConsole;
  let origin: string;
  let browser: Browser;
  let page: Page;
  let failed = false;
  let removeWebhooks: (() => Promise<void>) | undefined;

  before(async function () {
    cp = await ControlPlane.acquire();
    // Only control planes from hack/cp-up.sh (what the test command uses) run a local server; a kind cluster does not.
    if (!cp.settings.serverPort) this.skip();
    await ensureConsoleBuilt();
    await cp.kubectl.ok(['create', 'namespace', NS]);
    await cp.createDemoSecret(NS);
    // The namespace already has a task the user connects to the template: send-email (from the library).
    const notify = parse(readFileSync(join(repoRoot, 'templates/fan-out-notify.yaml'), 'utf8')) as {
      tasks: Array<{ metadata: { name: string } }>;
    };
    const sendEmail = notify.tasks.find((t) => t.metadata.name === 'send-email');
    await cp.kubectl.ok(['-n', NS, 'apply', '-f', '-'], { stdin: JSON.stringify(sendEmail) });
    server = await SyncflowServer.start(cp);
    // The admission webhooks check every definition applied in the namespace (the suite's own only).
    removeWebhooks = await installWebhooks(cp, NS);
    local = await startConsoleCommand(cp.settings.kubeconfig);
    origin = local.origin;
    ({ browser, page } = await openConsolePage(local, { width: 1440, height: 1000 }));
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed') failed = true;
    await reportFailure(page, this.currentTest);
  });

  after(async () => {
    if (failed && server) console.error(`--- syncflow server log (tail) ---\n${server.logs.slice(-4000)}`);
    await browser?.close();
    local?.stop();
    await removeWebhooks?.();
    await server?.stop();
    if (cp && cp.settings.serverPort) await cp.deleteNamespace(NS);
  });

  it('takes a new user from the "parallel fetch" template to a deployed workflow whose run Succeeded', async () => {
    const started = Date.now();
    await page.goto(`${origin}/#/ns/${NS}/templates`);
    await page.getByLabel('Search templates').fill('parallel');
    await page.getByRole('button', { name: 'Preview Parallel fetch' }).click();
    await page.locator('section.graph[data-drawn="true"]').waitFor(LONG);
    await shot(page, 'builder-library');
    await page.getByRole('link', { name: 'Use the template Parallel fetch' }).click();

    // A first visit: the tour greets the user; it can be skipped, and stays skipped.
    await page.getByRole('region', { name: 'Builder tour' }).waitFor(LONG);
    await shot(page, 'builder-tour');
    await page.getByRole('button', { name: 'Skip the tour' }).click();

    // The placeholder is highlighted until filled.
    const placeholders = page.getByRole('region', { name: 'Template placeholders' });
    expect(await placeholders.textContent()).to.contain('Still to fill: ${name}');
    await page.getByLabel(/\$\{name\}/).fill('my-parallel-fetch');
    await page.getByRole('button', { name: 'Fill in placeholders' }).click();
    await placeholders.getByText('All placeholders filled.').waitFor(LONG);
    await page.getByRole('heading', { name: 'Valid' }).waitFor(LONG);

    // One more task, from the palette, connected after `score`.
    await page.getByLabel('Search tasks').fill('email');
    await page.getByRole('button', { name: 'Add send-email' }).click();
    const form = page.getByRole('form', { name: 'Step send-email' });
    await form.waitFor(LONG);
    await form.getByRole('checkbox', { name: 'score' }).check();
    const node = page.locator('.react-flow__node [data-task="send-email"]');
    await page
      .locator('.react-flow__edge[data-id="score->send-email"], [aria-label="send-email waits for score"]')
      .first()
      .waitFor({ state: 'attached', ...LONG });

    // A number mapped into a string field: the type error appears on the node and in the YAML.
    await form.getByLabel(/^to/).fill('{{tasks.score.output.score}}');
    await page.locator('.react-flow__node [data-task="send-email"]:not([data-errors="0"])').waitFor(LONG);
    const nodeText = (await node.textContent()) ?? '';
    expect(nodeText).to.match(/error/);
    expect(await page.getByRole('region', { name: 'Validation' }).textContent()).to.match(
      /spec\.tasks\[3\]\.input\.to/,
    );
    await page.locator('.yaml-editor .cm-lint-marker-error').first().waitFor(LONG);
    await shot(page, 'builder-type-error');

    // Fixed with the user's email (a string), and a subject.
    await form.getByLabel(/^to/).fill('{{tasks.user.output.email}}');
    await form.getByLabel(/^subject/).fill('Your profile is ready');
    await page.locator('.react-flow__node [data-task="send-email"][data-errors="0"]').waitFor(LONG);
    await page.getByRole('heading', { name: 'Valid' }).waitFor(LONG);

    // Dry run: the plan on the canvas.
    await page.getByRole('button', { name: 'Dry run' }).click();
    await page.locator('.plan-note', { hasText: 'plan: group 1' }).first().waitFor(LONG);
    expect(await page.locator('.plan-note', { hasText: 'plan: group 2' }).count()).to.equal(1);
    await shot(page, 'builder-dry-run');

    // Deploy (server-side dry run first), then run it on the Run page.
    await page.getByRole('button', { name: 'Deploy', exact: true }).click();
    await page.getByRole('status').filter({ hasText: 'Workflow/my-parallel-fetch created' }).waitFor(LONG);
    for (let i = 0; i < 240; i++) {
      const ready = await cp.kubectl.ok([
        '-n',
        NS,
        'get',
        'workflow',
        'my-parallel-fetch',
        '-o',
        'jsonpath={.status.conditions[?(@.type=="Ready")].status}',
      ]);
      if (ready === 'True') break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    await page.getByRole('link', { name: 'Run my-parallel-fetch' }).click();
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    await page.getByText(/Execution my-parallel-fetch-\S+ Succeeded/).waitFor(LONG);
    const wallMs = Date.now() - started;

    const workflow = await cp.kubectl.json<{ spec: { tasks: Array<{ id: string; dependsOn?: string[] }> } }>([
      '-n',
      NS,
      'get',
      'workflow',
      'my-parallel-fetch',
    ]);
    expect(workflow.spec.tasks.map((t) => t.id)).to.deep.equal(['user', 'recs', 'score', 'send-email']);
    expect(workflow.spec.tasks[3]?.dependsOn).to.deep.equal(['score']);
    const executions = await cp.kubectl.json<{
      items: Array<{ status: { phase: string; output?: { email?: string } } }>;
    }>(['-n', NS, 'get', 'wfx', '-l', 'syncflow.io/workflow=my-parallel-fetch']);
    expect(executions.items.map((e) => e.status.phase)).to.deep.equal(['Succeeded']);
    console.log(`      template → running workflow, scripted path: ${(wallMs / 1000).toFixed(1)} s`);
    recordFigures('builder.json', browser, { templateToSucceededRunMs: wallMs });
  });

  it('shows a webhook refusal with its message: a task change that would break the deployed workflow, refused before any change', async () => {
    await page.goto(`${origin}/#/ns/${NS}/builder`);
    await page.locator('summary', { hasText: 'New WorkflowTask' }).click();
    const form = page.getByRole('form', { name: 'New WorkflowTask' });
    await form.getByLabel('Name', { exact: true }).fill('fetch-credit-score');
    await form
      .getByLabel('URL template')
      .fill('http://demo.syncflow-system.svc:8080/scores/{{input.customerId}}');
    await form
      .getByLabel('Input schema (JSON Schema)')
      .fill('{"type":"object","required":["customerId"],"properties":{"customerId":{"type":"integer"}}}');
    await form
      .getByLabel('Output schema (JSON Schema)')
      .fill('{"type":"object","required":["score"],"properties":{"score":{"type":"number"}}}');
    await form.getByRole('button', { name: 'Deploy task' }).click();
    const alert = form.getByRole('alert');
    await alert.waitFor(LONG);
    expect(await alert.textContent())
      .to.contain('my-parallel-fetch')
      .and.contain('WorkflowTask/fetch-credit-score (dry-run)');
    // Refused at the dry run: the task in the cluster is what it was.
    const task = await cp.kubectl.json<{
      spec: { inputSchema: { properties: { customerId: { type: string } } } };
    }>(['-n', NS, 'get', 'workflowtask', 'fetch-credit-score']);
    expect(task.spec.inputSchema.properties.customerId.type).to.equal('string');
  });

  it('has no serious or critical accessibility violation on the library, the builder and the playground', async () => {
    for (const path of ['templates', 'builder/my-parallel-fetch', 'playground']) {
      await page.goto(`${origin}/#/ns/${NS}/${path}`);
      await page.locator('h1').first().waitFor(LONG);
      if (path.startsWith('builder')) await page.locator('.yaml-editor .cm-editor').waitFor(LONG);
      if (path === 'playground') await page.locator('.yaml-editor .cm-editor').waitFor(LONG);
      expect(await accessibilityViolations(page), path).to.deep.equal([]);
    }
    await shot(page, 'builder-playground');
    await page.goto(`${origin}/#/ns/${NS}/builder/my-parallel-fetch`);
    await page.locator('.react-flow__node').first().waitFor(LONG);
    await shot(page, 'builder-canvas');
  });

  it('adds, connects and configures a step with the keyboard alone, and undoes it', async () => {
    await page.goto(`${origin}/#/ns/${NS}/builder/my-parallel-fetch`);
    await page.locator('.react-flow__node').first().waitFor(LONG);
    const add = page.getByRole('button', { name: 'Add fetch-recommendations' });
    await tabTo(page, add);
    await page.keyboard.press('Enter');
    const form = page.getByRole('form', { name: 'Step fetch-recommendations' });
    await form.waitFor(LONG);
    // Focus moved into the new step's form: type its input, then tick a dependency.
    const userId = form.getByLabel(/^userId/);
    await tabTo(page, userId);
    await page.keyboard.press('ControlOrMeta+a');
    await page.keyboard.type('{{tasks.user.output.id}}');
    const dependency = form.getByRole('checkbox', { name: 'score' });
    await tabTo(page, dependency);
    await page.keyboard.press('Space');
    expect(await dependency.isChecked()).to.equal(true);
    await page
      .locator('.react-flow__node [data-task="fetch-recommendations"][data-errors="0"]')
      .waitFor(LONG);
    const yaml = await downloadedYaml(page);
    expect(yaml).to.contain('id: fetch-recommendations').and.contain('{{tasks.user.output.id}}');
    // Undo until the step is gone, redo brings it back.
    const undo = page.getByRole('button', { name: 'Undo' });
    while (await page.locator('.react-flow__node [data-task="fetch-recommendations"]').count()) {
      await tabTo(page, undo);
      await page.keyboard.press('Enter');
    }
    await tabTo(page, page.getByRole('button', { name: 'Redo' }));
    await page.keyboard.press('Enter');
    await page.locator('.react-flow__node [data-task="fetch-recommendations"]').waitFor(LONG);
  });

  it('builds with the mouse too: drag tasks from the palette, connect them handle to handle, delete a step', async () => {
    await page.goto(`${origin}/#/ns/${NS}/builder`);
    const canvas = page.getByRole('region', { name: 'Workflow canvas' });
    await canvas.waitFor(LONG);
    await page.locator('.palette-item[data-task="fetch-user"]').dragTo(canvas);
    await page.locator('.react-flow__node [data-task="fetch-user"]').waitFor(LONG);
    await page.locator('.palette-item[data-task="send-email"]').dragTo(canvas);
    await page.locator('.react-flow__node [data-task="send-email"]').waitFor(LONG);
    // Laid out again after the second node: wait until the two nodes no longer overlap.
    const source = page.locator('.react-flow__node[data-id="fetch-user"] .react-flow__handle.source');
    const target = page.locator('.react-flow__node[data-id="send-email"] .react-flow__handle.target');
    await page.waitForFunction(() => {
      const boxes = [...document.querySelectorAll('.react-flow__node')].map((n) => n.getBoundingClientRect());
      return (
        boxes.length === 2 &&
        Math.abs((boxes[0]?.y ?? 0) - (boxes[1]?.y ?? 0)) +
          Math.abs((boxes[0]?.x ?? 0) - (boxes[1]?.x ?? 0)) >
          50
      );
    });
    await source.dragTo(target);
    await page
      .locator('.react-flow__edge[data-id="fetch-user->send-email"]')
      .waitFor({ state: 'attached', ...LONG });
    expect(await downloadedYaml(page)).to.match(/dependsOn:\s*\n?\s*- fetch-user/);
    await page.locator('.react-flow__node[data-id="fetch-user"]').click();
    await page.keyboard.press('Delete');
    await page.locator('.react-flow__node [data-task="fetch-user"]').waitFor({ state: 'detached', ...LONG });
    expect(await downloadedYaml(page)).not.to.contain('fetch-user');
  });

  it('edits the YAML to change the canvas: errors on the line as one types, completion of templates, undo', async () => {
    await page.goto(`${origin}/#/ns/${NS}/builder/my-parallel-fetch`);
    await page.locator('.react-flow__node [data-task="recs"]').waitFor(LONG);
    const editor = page.locator('.yaml-editor .cm-content');
    const original = await downloadedYaml(page);
    // A deployed workflow is edited as written: no status, no metadata the server keeps.
    expect(original).not.to.match(/managedFields|resourceVersion|status:|uid:/);
    // Renaming a step in the YAML renames its node; the output that still reads `tasks.recs` is an error.
    await editor.click();
    await page.keyboard.press('ControlOrMeta+a');
    await page.keyboard.insertText(original.replace('- id: recs', '- id: recommendations'));
    await page.locator('.react-flow__node [data-task="recommendations"]').waitFor(LONG);
    expect(await page.locator('.react-flow__node [data-task="recs"]').count()).to.equal(0);
    const validation = page.getByRole('region', { name: 'Validation' });
    await validation.getByText('spec.output.recommendations').waitFor(LONG);
    await page.locator('.yaml-editor .cm-lint-marker-error').first().waitFor(LONG);
    // Completion after `{{` offers the templates the steps may use.
    await page.keyboard.press('ControlOrMeta+End');
    await page.keyboard.type('\n# {{inp');
    const options = page.locator('.cm-tooltip-autocomplete');
    await options.waitFor(LONG);
    expect(await options.textContent()).to.contain('{{input.userId}}');
    await page.keyboard.press('Escape');
    // Undo (the toolbar's, a model step) brings the step's name back on the canvas and in the YAML.
    await page.getByRole('button', { name: 'Undo' }).click();
    await page.locator('.react-flow__node [data-task="recs"]').waitFor(LONG);
    expect(await downloadedYaml(page)).to.contain('- id: recs');
  });

  it('explains where it is needed: task cards on focus, help with its docs/authoring.md section, a tour seen once', async () => {
    await page.goto(`${origin}/#/ns/${NS}/builder/my-parallel-fetch`);
    await page.locator('.react-flow__node').first().waitFor(LONG);
    // The tour was dismissed on the first visit: it stays away.
    expect(await page.getByRole('region', { name: 'Builder tour' }).count()).to.equal(0);
    // Focusing a palette task shows its description, an example input and its schemas.
    await page.getByRole('button', { name: 'Add fetch-user' }).focus();
    const card = page.getByRole('tooltip').filter({ hasText: 'Example input' }).first();
    await card.waitFor({ state: 'visible', ...LONG });
    expect(await card.textContent())
      .to.contain('Fetch a user profile')
      .and.contain('"userId": "text"')
      .and.contain('Output schema');
    // Hovering a node shows the same card for its task.
    await page.locator('.react-flow__node[data-id="recs"]').hover();
    await page
      .getByRole('tooltip')
      .filter({ hasText: 'Product recommendations for a user' })
      .waitFor({ state: 'visible', ...LONG });
    // A field's help names its docs/authoring.md anchor and shows that section.
    await page.locator('.react-flow__node [data-task="user"]').click();
    const help = page
      .getByRole('form', { name: 'Step user' })
      .getByRole('button', { name: 'Help: input' })
      .first();
    await help.click();
    const note = page.getByRole('note').first();
    await note.waitFor(LONG);
    expect(await note.textContent())
      .to.contain('docs/authoring.md#templates')
      .and.contain('## Templates');
    await shot(page, 'builder-help');
  });

  it('passes the five playground lessons by running them', async () => {
    const edits: Record<string, (yaml: string) => string> = {
      'first-workflow': (y) => y.replace('userId: ""', 'userId: "{{input.userId}}"'),
      dependencies: (y) => y.replace('email: ""', 'email: "{{tasks.user.output.email}}"'),
      parallel: (y) => y.replace('      dependsOn: [user]\n', ''),
      templates: (y) => y.replace('greeting: "Hello"', 'greeting: "Hello {{tasks.user.output.name}}"'),
      'live-events': (y) => y,
    };
    for (const [lesson, edit] of Object.entries(edits)) {
      await page.goto(`${origin}/#/ns/${NS}/playground?lesson=${lesson}`);
      const section = page.locator(`[data-lesson="${lesson}"]`);
      const editor = section.locator('.cm-content');
      await editor.waitFor(LONG);
      const before = await downloadedYaml(section);
      const next = edit(before);
      if (next !== before) {
        await editor.click();
        await page.keyboard.press('ControlOrMeta+a');
        await page.keyboard.press('Delete');
        await page.keyboard.insertText(next);
      }
      await section.getByRole('button', { name: /^Run and check/ }).click();
      await section.getByRole('status').filter({ hasText: 'Passed' }).waitFor({ timeout: 90_000 });
    }
    expect(await page.getByRole('navigation', { name: 'Lessons' }).textContent()).to.match(/(✓[^✓]*){5}/);
  });
});
