// The definitions lifecycle against a real kube-apiserver with real kubectl: the syncflow validating
// webhooks (hack/controlplane/webhooks.yaml, clientConfig.url at the real `syncflow server` process),
// the Workflow/WorkflowTask status controller, Events and revisions.
//
// The webhook configuration is limited to this run's namespaces (a namespace label unique to the run),
// so other suites sharing the control plane never depend on this server being up; it is removed after.
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { expect } from 'chai';
import { parseAllDocuments, stringify } from 'yaml';
import type { ReportLine } from '../../cli/load.ts';
import { main as cli } from '../../cli/main.ts';
import { ControlPlane, repoRoot } from '../harness/controlplane.ts';
import type { KubectlResult } from '../harness/kubectl.ts';
import { SyncflowServer } from '../harness/syncflow-server.ts';

const RUN = Date.now().toString(36);
const SELECTOR_KEY = 'syncflow.io/e2e-admission';
const WEBHOOK_NAME = `syncflow-e2e-${RUN}`;
const invalidDir = join(repoRoot, 'test/fixtures/invalid');

/**
 * Invalid fixtures that cannot be applied as objects at all: YAML that does not parse, no object, no
 * name, a kind or apiVersion the API server does not serve (kubectl stops before any request), and
 * a duplicate within one file (a file-level finding: in a cluster the second apply updates the first).
 */
const NOT_APPLICABLE = new Set([
  'duplicate-workflow.yaml',
  'duplicate-yaml-key.yaml',
  'empty-file.yaml',
  'malformed-yaml.yaml',
  'missing-name.yaml',
  'not-an-object.yaml',
  'unknown-kind.yaml',
  'wrong-api-version.yaml',
]);

/**
 * Invalid fixtures the CRD's structural schema already rejects (patterns, enums, bounds, required,
 * strict decoding). kube-apiserver runs that validation before validating webhooks, so the refusal
 * names the same field path but is phrased by kube-apiserver, without a syncflow code.
 */
const REJECTED_BY_CRD_SCHEMA = new Set([
  'duration-backoff.yaml',
  'duration-task-timeout.yaml',
  'duration-workflow-timeout.yaml',
  'invalid-name.yaml',
  'max-concurrency-zero.yaml',
  'on-error-unknown.yaml',
  'retry-too-many-attempts.yaml',
  'retry-unknown-class.yaml',
  'spec-unknown-field.yaml',
  'task-bad-method.yaml',
  'task-missing-http.yaml',
  'tasks-empty.yaml',
]);

/**
 * Fixtures with a WorkflowExecution sample run (checked by `syncflow validate` against the workflow's
 * inputSchema): input errors belong to the execution API (422 on create, see executions.e2e), not to
 * the definitions webhooks.
 */
function hasExecution(file: string): boolean {
  return /^kind:\s*WorkflowExecution\s*$/m.test(readFileSync(join(invalidDir, file), 'utf8'));
}

interface Expectation {
  code: string;
  field: string;
}

function expectationsOf(file: string): Expectation[] {
  return [...readFileSync(join(invalidDir, file), 'utf8').matchAll(/^# expect: (\S+) (.+)$/gm)].map((m) => ({
    code: m[1] as string,
    field: (m[2] as string).trim(),
  }));
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** What `syncflow validate -o json` prints for a fixture (code and field of each line). */
async function cliFindings(file: string): Promise<Expectation[]> {
  let stdout = '';
  await cli(['validate', '-o', 'json', join('test/fixtures/invalid', file)], {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: () => undefined },
    cwd: repoRoot,
  });
  return (JSON.parse(stdout) as ReportLine[]).map((l) => ({ code: l.code, field: l.field }));
}

interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

interface WorkflowView {
  metadata: { generation: number; resourceVersion: string };
  status?: {
    revision?: string;
    taskCount?: number;
    observedGeneration?: number;
    parallelGroups?: string[][];
    conditions?: Condition[];
  };
}

function task(
  name: string,
  outputProperties: Record<string, unknown> = { email: { type: 'string' } },
): Record<string, unknown> {
  return {
    apiVersion: 'syncflow.io/v1alpha1',
    kind: 'WorkflowTask',
    metadata: { name },
    spec: {
      inputSchema: { type: 'object', required: ['userId'], properties: { userId: { type: 'string' } } },
      outputSchema: { type: 'object', required: ['email'], properties: outputProperties },
      http: { method: 'GET', url: `http://users.example.svc/${name}/{{input.userId}}` },
    },
  };
}

const notifyTask = {
  apiVersion: 'syncflow.io/v1alpha1',
  kind: 'WorkflowTask',
  metadata: { name: 'notify' },
  spec: {
    inputSchema: { type: 'object', required: ['email'], properties: { email: { type: 'string' } } },
    http: { method: 'POST', url: 'http://notify.example.svc/send', body: { to: '{{input.email}}' } },
    retry: { retryNonIdempotent: true },
  },
};

function profileWorkflow(name = 'profile'): Record<string, unknown> {
  return {
    apiVersion: 'syncflow.io/v1alpha1',
    kind: 'Workflow',
    metadata: { name },
    spec: {
      inputSchema: { type: 'object', required: ['userId'], properties: { userId: { type: 'string' } } },
      tasks: [
        { id: 'user', taskRef: { name: 'get-user' }, input: { userId: '{{input.userId}}' } },
        { id: 'mail', taskRef: { name: 'notify' }, input: { email: '{{tasks.user.output.email}}' } },
      ],
      output: { email: '{{tasks.user.output.email}}' },
    },
  };
}

describe('definitions lifecycle: admission webhooks, status controller, revisions', function () {
  this.timeout(10 * 60_000);
  let cp: ControlPlane;
  let server: SyncflowServer;
  const namespaces: string[] = [];
  let failures = 0;

  const kubectl = (args: string[], stdin?: string): Promise<KubectlResult> =>
    cp.kubectl.run(args, stdin === undefined ? {} : { stdin });
  const ok = async (args: string[], stdin?: string): Promise<string> => {
    const result = await kubectl(args, stdin);
    expect(result.code, `kubectl ${args.join(' ')}: ${result.stderr}`).to.equal(0);
    return result.stdout;
  };
  const apply = (ns: string, objects: unknown[], extra: string[] = []) =>
    kubectl(['apply', '-n', ns, ...extra, '-f', '-'], objects.map((o) => stringify(o)).join('---\n'));
  const workflowView = async (ns: string, name: string) =>
    JSON.parse(await ok(['get', 'workflow', name, '-n', ns, '-o', 'json'])) as WorkflowView;
  const ready = (view: WorkflowView) => view.status?.conditions?.find((c) => c.type === 'Ready');

  /** Polls until `check` returns a value (the controller and informers are asynchronous). */
  async function eventually<T>(
    what: string | (() => string),
    check: () => Promise<T | undefined>,
    timeoutMs = 30_000,
  ): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await check();
      if (value !== undefined) return value;
      if (Date.now() > deadline) {
        throw new Error(
          `timed out after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : what()}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
  }

  async function namespace(prefix: string): Promise<string> {
    const name = `${prefix}-${RUN}`;
    await ok(['create', 'namespace', name]);
    await ok(['label', 'namespace', name, `${SELECTOR_KEY}=${RUN}`]);
    namespaces.push(name);
    return name;
  }

  function webhookConfiguration(): string {
    const s = cp.settings;
    const ca = readFileSync(join(dirname(s.tlsCertFile as string), 'syncflow-ca.crt')).toString('base64');
    return readFileSync(join(repoRoot, 'hack/controlplane/webhooks.yaml'), 'utf8')
      .replaceAll('${NAME}', WEBHOOK_NAME)
      .replaceAll('${PORT}', String(s.serverPort))
      .replaceAll('${CA_BUNDLE}', ca)
      .replaceAll('${SELECTOR_KEY}', SELECTOR_KEY)
      .replaceAll('${SELECTOR_VALUE}', RUN);
  }

  /** Installs the webhooks and waits until kube-apiserver calls them (its configuration informer lags). */
  async function installWebhooks(probeNamespace: string): Promise<void> {
    await ok(['apply', '-f', '-'], webhookConfiguration());
    const probe = {
      ...profileWorkflow('webhook-probe'),
      spec: { tasks: [{ id: 'a', taskRef: { name: 'no-such-task' } }] },
    };
    let last = '';
    await eventually(
      () => `the webhooks to be called (last kubectl answer: ${last})`,
      async () => {
        const result = await apply(probeNamespace, [probe], ['--dry-run=server']);
        last = `${result.code} ${result.stdout} ${result.stderr}`.trim();
        return result.code !== 0 && result.stderr.includes('TaskNotFound') ? true : undefined;
      },
    );
  }

  let main: string;

  before(async function () {
    cp = await ControlPlane.acquire();
    // Only control planes from hack/cp-up.sh (what the test command uses) provide this; a kind cluster does not.
    if (!cp.settings.serverPort || !cp.settings.tlsCertFile) this.skip();
    main = await namespace('e2e-adm');
    server = await SyncflowServer.start(cp);
    await installWebhooks(main);
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') failures++;
  });

  after(async () => {
    if (failures > 0 && server)
      console.error(`--- syncflow server log (tail) ---\n${server.logs.slice(-6000)}`);
    if (cp) await kubectl(['delete', 'validatingwebhookconfiguration', WEBHOOK_NAME, '--ignore-not-found']);
    await server?.stop();
    for (const ns of namespaces) await kubectl(['delete', 'namespace', ns, '--wait=false']);
  });

  describe('kubectl apply of the invalid fixtures', () => {
    const files = readdirSync(invalidDir)
      .filter((f) => f.endsWith('.yaml'))
      .sort();
    let shop: string;
    let billing: string;

    before(async () => {
      shop = await namespace('e2e-adm-shop');
      billing = await namespace('e2e-adm-billing');
    });

    it('sorts every fixture into webhook, CRD schema or not applicable (no fixture silently skipped)', () => {
      for (const name of [...NOT_APPLICABLE, ...REJECTED_BY_CRD_SCHEMA]) expect(files, name).to.include(name);
      expect(
        files.filter((f) => !NOT_APPLICABLE.has(f) && !REJECTED_BY_CRD_SCHEMA.has(f) && !hasExecution(f))
          .length,
      ).to.be.at.least(35);
    });

    /**
     * Applies a fixture into this run's namespaces (`shop`/`billing` or none → ours). kubectl applies
     * documents in order, so the WorkflowTasks go first: a Workflow must find the tasks its file defines.
     */
    async function applyFixture(file: string): Promise<KubectlResult> {
      const docs = parseAllDocuments(readFileSync(join(invalidDir, file), 'utf8')).map(
        (d) => d.toJS() as { kind: string; metadata: { namespace?: string } },
      );
      for (const doc of docs) doc.metadata.namespace = doc.metadata.namespace === 'billing' ? billing : shop;
      const ordered = [
        ...docs.filter((d) => d.kind === 'WorkflowTask'),
        ...docs.filter((d) => d.kind !== 'WorkflowTask'),
      ];
      return kubectl(['apply', '-f', '-'], ordered.map((d) => stringify(d)).join('---\n'));
    }

    afterEach(async () => {
      for (const ns of [shop, billing]) await ok(['delete', 'workflows,workflowtasks', '--all', '-n', ns]);
    });

    for (const file of files.filter((f) => !NOT_APPLICABLE.has(f) && !hasExecution(f))) {
      if (REJECTED_BY_CRD_SCHEMA.has(file)) {
        it(`${file}: refused by the CRD schema at the same path`, async () => {
          const [first] = expectationsOf(file);
          const result = await applyFixture(file);
          expect(result.code, result.stdout).to.not.equal(0);
          expect(result.stderr).to.contain(first?.field);
        });
        continue;
      }
      it(`${file}: refused by the webhook with the code and path the CLI prints`, async () => {
        const expected = expectationsOf(file);
        const printedByCli = await cliFindings(file);
        const result = await applyFixture(file);
        expect(result.code, `kubectl apply succeeded:\n${result.stdout}`).to.not.equal(0);
        for (const e of expected) {
          expect(printedByCli, 'the CLI prints it').to.deep.include(e);
          const line = new RegExp(`(^|[\\s*:])${escapeRegExp(e.field)}: .*\\[${e.code}\\]`, 'm');
          expect(result.stderr, `${e.code} ${e.field}`).to.match(line);
        }
        // Nothing invalid was stored.
        expect(await ok(['get', 'workflows', '-n', shop, '-o', 'name'])).to.equal('');
      });
    }
  });

  describe('the examples', () => {
    let ns: string;
    before(async () => {
      ns = await namespace('e2e-adm-examples');
    });

    it('are refused while the Secret their task reads is missing, and apply cleanly once it exists', async () => {
      const refused = await kubectl(['apply', '-n', ns, '-f', 'examples/']);
      expect(refused.code).to.not.equal(0);
      expect(refused.stderr).to.match(
        /reads Secret `demo-api`, which does not exist in namespace .* \[UnknownSecret\]/,
      );
      await ok(['-n', ns, 'create', 'secret', 'generic', 'demo-api', '--from-literal=token=e2e']);
      const applied = await kubectl(['apply', '-n', ns, '-f', 'examples/']);
      expect(applied.code, applied.stderr).to.equal(0);
      expect(applied.stderr).to.not.contain('denied');
    });

    it('turn Ready with READY, TASKS and REVISION shown by kubectl get workflows', async () => {
      const table = await eventually('every example Workflow Ready', async () => {
        const out = await ok(['get', 'workflows', '-n', ns]);
        const rows = out.trim().split('\n').slice(1);
        return rows.length >= 3 && rows.every((r) => /^\S+\s+True\s+\d+\s+sha256:[0-9a-f]{64}\s/.test(r))
          ? out
          : undefined;
      });
      expect(table.split('\n')[0]?.split(/\s+/)).to.deep.equal(['NAME', 'READY', 'TASKS', 'REVISION', 'AGE']);
    });
  });

  describe('who may call the webhooks', () => {
    let ns: string;
    before(async function () {
      // kube-apiserver presents a client certificate to webhooks only with hack/cp-up.sh's AdmissionConfiguration.
      if (!cp.settings.admissionClientCaFile) this.skip();
      ns = await namespace('e2e-adm-callers');
      await ok(['apply', '-n', ns, '-f', '-'], stringify(task('get-user')));
    });

    it("gives kube-apiserver's reviews (its client certificate) the suggestion naming the namespace's task", async () => {
      const typo = {
        ...profileWorkflow('typo'),
        spec: { tasks: [{ id: 'user', taskRef: { name: 'get-usr' }, input: { userId: '1' } }] },
      };
      const result = await apply(ns, [typo]);
      expect(result.code).to.equal(1);
      expect(result.stderr).to.contain('TaskNotFound');
      expect(result.stderr).to.contain('`get-user`');
    });

    it('refuses a review sent to the server without that certificate, before reading it', async () => {
      const ca = readFileSync(join(dirname(cp.settings.tlsCertFile as string), 'syncflow-ca.crt'), 'utf8');
      const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = httpsRequest(
          {
            host: '127.0.0.1',
            port: cp.settings.serverPort,
            path: '/admission/v1/workflows',
            method: 'POST',
            ca,
            headers: { 'content-type': 'application/json' },
          },
          (res) => {
            let text = '';
            res.on('data', (chunk: Buffer) => (text += chunk.toString()));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
          },
        );
        req.on('error', reject);
        req.end(
          JSON.stringify({
            apiVersion: 'admission.k8s.io/v1',
            kind: 'AdmissionReview',
            request: {
              uid: 'x',
              operation: 'CREATE',
              namespace: ns,
              kind: { kind: 'Workflow' },
              object: profileWorkflow('probe'),
            },
          }),
        );
      });
      expect(status).to.equal(403);
      expect(JSON.parse(body)).to.deep.equal({
        message: 'reviews are accepted from the API server only: no client certificate was presented',
      });
    });
  });

  describe('changing and deleting a WorkflowTask that Workflows use', () => {
    let ns: string;
    let firstRevision: string;

    before(async () => {
      ns = await namespace('e2e-adm-life');
      const applied = await apply(ns, [task('get-user'), notifyTask, profileWorkflow()]);
      expect(applied.code, applied.stderr).to.equal(0);
      firstRevision = await eventually('profile Ready', async () => {
        const view = await workflowView(ns, 'profile');
        return ready(view)?.status === 'True' ? view.status?.revision : undefined;
      });
    });

    it('shows the plan and counts: status.parallelGroups, taskCount, observedGeneration and USED-BY', async () => {
      const view = await workflowView(ns, 'profile');
      expect(view.status).to.deep.include({
        taskCount: 2,
        observedGeneration: view.metadata.generation,
        parallelGroups: [['user'], ['mail']],
      });
      const usedBy = await eventually('usedBy', async () => {
        const out = await ok([
          'get',
          'workflowtask',
          'get-user',
          '-n',
          ns,
          '-o',
          'jsonpath={.status.usedBy}',
        ]);
        return out === '1' ? out : undefined;
      });
      expect(usedBy).to.equal('1');
      expect(await ok(['get', 'workflowtasks', '-n', ns])).to.match(
        /^NAME\s+METHOD\s+USED-BY\s+AGE\nget-user\s+GET\s+1\s/,
      );
    });

    it('refuses a breaking change, naming the task, the Workflow and the exact incompatibility', async () => {
      const result = await apply(ns, [task('get-user', { email: { type: 'integer' } })]);
      expect(result.code).to.not.equal(0);
      expect(result.stderr).to.contain(
        `denied the request: WorkflowTask ${ns}/get-user: this change would break 1 Workflow using it (${ns}/profile) [DependentBroken]`,
      );
      expect(result.stderr).to.contain(
        `- workflow ${ns}/profile: spec.tasks[1].input.email: notify input expects string, got integer (from \`tasks.user.output.email\`) [TypeMismatch]`,
      );
      expect(
        await ok([
          'get',
          'workflowtask',
          'get-user',
          '-n',
          ns,
          '-o',
          'jsonpath={.spec.outputSchema.properties.email.type}',
        ]),
      ).to.equal('string');
    });

    it('refuses the same change with --dry-run=server and changes nothing', async () => {
      const before = await ok([
        'get',
        'workflowtask',
        'get-user',
        '-n',
        ns,
        '-o',
        'jsonpath={.metadata.resourceVersion}',
      ]);
      const result = await apply(
        ns,
        [task('get-user', { email: { type: 'integer' } })],
        ['--dry-run=server'],
      );
      expect(result.code).to.not.equal(0);
      expect(result.stderr).to.contain('[DependentBroken]');
      expect(
        await ok(['get', 'workflowtask', 'get-user', '-n', ns, '-o', 'jsonpath={.metadata.resourceVersion}']),
      ).to.equal(before);
      expect((await workflowView(ns, 'profile')).status?.revision).to.equal(firstRevision);
    });

    it('accepts a compatible change (an added optional output field); the Workflow revision changes and is recorded', async () => {
      const result = await apply(ns, [
        task('get-user', { email: { type: 'string' }, nickname: { type: 'string' } }),
      ]);
      expect(result.code, result.stderr).to.equal(0);
      const revision = await eventually('a new revision', async () => {
        const view = await workflowView(ns, 'profile');
        return view.status?.revision !== firstRevision && ready(view)?.status === 'True'
          ? view.status?.revision
          : undefined;
      });
      expect(revision).to.match(/^sha256:[0-9a-f]{64}$/);
      const revisions = await eventually('both revisions listed', async () => {
        const list = JSON.parse(
          await ok([
            'get',
            'workflowrevisions',
            '-n',
            ns,
            '-l',
            'syncflow.io/workflow=profile',
            '-o',
            'json',
          ]),
        ) as { items: Array<{ hash: string }> };
        return list.items.length >= 2 ? list.items.map((i) => i.hash) : undefined;
      });
      expect(revisions, 'newest first').to.deep.equal([revision, firstRevision]);
    });

    it('refuses deleting a task a Workflow references, naming the Workflow', async () => {
      const result = await kubectl(['delete', 'workflowtask', 'get-user', '-n', ns]);
      expect(result.code).to.not.equal(0);
      expect(result.stderr).to.contain(`WorkflowTask ${ns}/get-user is used by 1 Workflow: profile`);
      expect(result.stderr).to.contain('[TaskInUse]');
      await ok(['get', 'workflowtask', 'get-user', '-n', ns]);
    });

    it('deletes the task once the Workflow is gone', async () => {
      await ok(['delete', 'workflow', 'profile', '-n', ns]);
      await ok(['delete', 'workflowtask', 'get-user', '-n', ns]);
    });
  });

  describe('a dependency removed by a path admission cannot block', () => {
    let ns: string;

    before(async () => {
      ns = await namespace('e2e-adm-bypass');
      const applied = await apply(ns, [task('get-user'), notifyTask, profileWorkflow()]);
      expect(applied.code, applied.stderr).to.equal(0);
      await eventually('profile Ready', async () =>
        ready(await workflowView(ns, 'profile'))?.status === 'True' ? true : undefined,
      );
    });

    /** The Events the status controller recorded about an object for a reason, once there are any. */
    const warningEvents = (kind: string, name: string, reason: string) =>
      eventually(`a ${reason} Event on the ${kind} ${name}`, async () => {
        const out = await ok([
          'get',
          'events',
          '-n',
          ns,
          '--field-selector',
          `involvedObject.kind=${kind},involvedObject.name=${name},reason=${reason}`,
          '-o',
          'json',
        ]);
        const items = (JSON.parse(out) as { items: Array<{ type: string; message: string }> }).items;
        return items.length ? items : undefined;
      });

    it('turns Ready False with reason TaskNotFound and a Warning Event; READY shows False', async () => {
      // The webhook is briefly gone (as if the server were down with failurePolicy Ignore, or removed by an admin).
      await ok(['delete', 'validatingwebhookconfiguration', WEBHOOK_NAME]);
      try {
        await eventually('the task delete to go through unchecked', async () => {
          const result = await kubectl(['delete', 'workflowtask', 'notify', '-n', ns]);
          return result.code === 0 ? true : undefined;
        });
        // Also unchecked: a task the CRD schema accepts but the validator does not (an unclosed template).
        const broken = task('broken');
        (broken.spec as { http: { url: string } }).http.url = 'http://users.example.svc/{{input.userId';
        const applied = await apply(ns, [broken]);
        expect(applied.code, applied.stderr).to.equal(0);
      } finally {
        await installWebhooks(main);
      }
      const condition = await eventually('Ready False', async () => {
        const c = ready(await workflowView(ns, 'profile'));
        return c?.status === 'False' ? c : undefined;
      });
      expect(condition.reason).to.equal('TaskNotFound');
      expect(condition.message).to.contain(
        `spec.tasks[1].taskRef.name: WorkflowTask \`notify\` does not exist in namespace ${ns}`,
      );
      expect(await ok(['get', 'workflows', '-n', ns, '--no-headers'])).to.match(
        /^profile\s+False\s+2\s+sha256:/,
      );
      const events = await warningEvents('Workflow', 'profile', 'TaskNotFound');
      expect(events[0]?.type).to.equal('Warning');
      expect(events[0]?.message).to.contain('Workflow is not Ready: spec.tasks[1].taskRef.name');
    });

    it('marks a WorkflowTask admitted meanwhile Ready False (Invalid) with a Warning Event', async () => {
      const condition = await eventually('task Ready False', async () => {
        const out = await ok([
          'get',
          'workflowtask',
          'broken',
          '-n',
          ns,
          '-o',
          'jsonpath={.status.conditions[0]}',
        ]);
        const c = out ? (JSON.parse(out) as Condition) : undefined;
        return c?.status === 'False' ? c : undefined;
      });
      expect(condition.reason).to.equal('Invalid');
      expect(condition.message).to.match(/^spec\.http\.url: .*\[TemplateSyntax\]$/);
      const events = await warningEvents('WorkflowTask', 'broken', 'Invalid');
      expect(events[0]?.type).to.equal('Warning');
      expect(events[0]?.message).to.match(/^WorkflowTask is not Ready: spec\.http\.url: /);
    });

    it('turns Ready True again once the task is back', async () => {
      const applied = await apply(ns, [notifyTask]);
      expect(applied.code, applied.stderr).to.equal(0);
      await eventually('Ready True', async () =>
        ready(await workflowView(ns, 'profile'))?.status === 'True' ? true : undefined,
      );
    });
  });

  describe('leader election over a coordination.k8s.io/v1 Lease', () => {
    let ns: string;
    const replicas: Array<{ child: ChildProcess; output: string }> = [];

    async function freePort(): Promise<number> {
      const probe = createServer();
      await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
      const port = (probe.address() as { port: number }).port;
      await new Promise((resolve) => probe.close(resolve));
      return port;
    }

    /** A further `syncflow server` replica with leader election on (the harness server runs without). */
    async function replica(identity: string) {
      const s = cp.settings;
      const args = [
        join(repoRoot, 'bin/syncflow.js'),
        'server',
        `--secure-port=${await freePort()}`,
        '--bind-address=127.0.0.1',
        `--tls-cert-file=${s.tlsCertFile}`,
        `--tls-private-key-file=${s.tlsKeyFile}`,
        `--kubeconfig=${s.serverKubeconfig}`,
        '--leader-elect=true',
        `--leader-election-namespace=${ns}`,
        `--pod-name=${identity}`,
        '--shutdown-grace=1s',
      ];
      const entry = {
        child: spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] }),
        output: '',
      };
      entry.child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (entry.output += chunk));
      entry.child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (entry.output += chunk));
      const kill = () => entry.child.kill('SIGKILL');
      process.once('exit', kill);
      entry.child.once('exit', () => process.off('exit', kill));
      replicas.push(entry);
      return entry;
    }

    async function stopReplica(entry: { child: ChildProcess }) {
      if (entry.child.exitCode !== null) return;
      const exited = new Promise((resolve) => entry.child.once('exit', resolve));
      entry.child.kill('SIGTERM');
      await exited;
    }

    const holder = async () => {
      const result = await kubectl([
        'get',
        'lease',
        'syncflow-controller',
        '-n',
        ns,
        '-o',
        'jsonpath={.spec.holderIdentity}',
      ]);
      return result.code === 0 ? result.stdout : undefined;
    };

    before(async () => {
      ns = await namespace('e2e-adm-lease');
    });

    after(async () => {
      for (const entry of replicas) await stopReplica(entry);
    });

    it('elects one of two replicas; the other takes over when the leader shuts down and releases the Lease', async () => {
      const a = await replica(`a-${RUN}`);
      expect(
        await eventually(
          'replica a to hold the Lease',
          async () => ((await holder()) === `a-${RUN}` ? true : undefined),
          90_000,
        ),
      ).to.equal(true);
      const b = await replica(`b-${RUN}`);
      // Up and electing: it elects once both kinds are listed (two log lines), not at the first.
      await eventually(
        'replica b to be up',
        async () => (b.output.split('definitions listed').length > 2 ? true : undefined),
        90_000,
      );
      await new Promise((resolve) => setTimeout(resolve, 3_000)); // a few election rounds
      expect(await holder()).to.equal(`a-${RUN}`);
      expect(b.output).to.not.contain('became leader');
      const transitionsBefore = Number(
        (await ok([
          'get',
          'lease',
          'syncflow-controller',
          '-n',
          ns,
          '-o',
          'jsonpath={.spec.leaseTransitions}',
        ])) || 0,
      );
      await stopReplica(a);
      // a released the Lease on shutdown: b need not wait out the 15 s lease duration.
      // Within the 15 s lease duration: only a released Lease is taken that soon.
      await eventually(
        'replica b to take over',
        async () => ((await holder()) === `b-${RUN}` ? true : undefined),
        14_000,
      );
      // The server's log lines are buffered (at most 250 ms, apiserver/logging.ts).
      await eventually(
        'replica b to log that it became leader',
        async () =>
          b.output.includes('became leader: running the definitions controller') ? true : undefined,
        5_000,
      );
      const lease = JSON.parse(await ok(['get', 'lease', 'syncflow-controller', '-n', ns, '-o', 'json'])) as {
        spec: { leaseDurationSeconds: number; leaseTransitions: number; renewTime: string };
      };
      expect(lease.spec.leaseDurationSeconds).to.equal(15);
      expect(lease.spec.leaseTransitions).to.equal(transitionsBefore + 1);
      expect(lease.spec.renewTime).to.match(/\.\d{6}Z$/);
    });
  });
});
