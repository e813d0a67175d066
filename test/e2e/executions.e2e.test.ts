// workflowexecutions through the real aggregator: kubectl and client-go against kube-apiserver, which
// proxies to the real `syncflow server` process; RBAC through SubjectAccessReview.
import { expect } from 'chai';
import { request as httpsRequest } from 'node:https';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { ClientGo } from '../harness/clientgo.ts';
import { ControlPlane } from '../harness/controlplane.ts';
import type { KubectlResult } from '../harness/kubectl.ts';
import { jsonDocuments } from '../harness/line-process.ts';
import { applySlowSteps } from '../harness/slow-steps.ts';
import { SyncflowServer } from '../harness/syncflow-server.ts';

// Unique per run: without kube-controller-manager a deleted namespace stays Terminating for ever.
const NS = `e2e-exec-${Date.now().toString(36)}`;

function execution(workflow: string, input: unknown, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    apiVersion: 'execution.syncflow.io/v1alpha1',
    kind: 'WorkflowExecution',
    metadata: { generateName: `${workflow}-`, namespace: NS, labels: { team: 'web' } },
    spec: { workflowRef: { name: workflow }, input },
    ...extra,
  });
}

describe('workflowexecutions through kube-apiserver', function () {
  this.timeout(10 * 60_000);
  let cp: ControlPlane;
  let server: SyncflowServer;
  const kubectl = (
    args: string[],
    stdin?: string,
    as?: { user: string; groups?: string[] },
  ): Promise<KubectlResult> =>
    cp.kubectl.run(args, { ...(stdin !== undefined ? { stdin } : {}), ...(as ? { as } : {}) });
  const ok = async (args: string[], stdin?: string): Promise<string> => {
    const result = await kubectl(args, stdin);
    expect(result.code, `kubectl ${args.join(' ')}: ${result.stderr}`).to.equal(0);
    return result.stdout;
  };
  const createExecution = async (workflow: string, input: unknown) =>
    parse(await ok(['create', '-f', '-', '-o', 'yaml'], execution(workflow, input))) as {
      metadata: { name: string; labels: Record<string, string> };
      status: {
        phase: string;
        reason?: string;
        output?: unknown;
        user?: string;
        tasks: Array<{ id: string; phase: string; httpStatus?: number; error?: { reason: string } }>;
      };
    };

  before(async function () {
    cp = await ControlPlane.acquire();
    // Only control planes from hack/cp-up.sh (what the test command uses) provide this; a kind cluster does not.
    if (!cp.settings.serverPort) this.skip();
    await ok(['create', 'namespace', NS]);
    await cp.installExamples(NS);
    server = await SyncflowServer.start(cp);
  });

  let failures = 0;
  afterEach(function () {
    if (this.currentTest?.state === 'failed') failures++;
  });

  after(async () => {
    // The server's own log explains a failure better than kubectl's 503.
    if (failures > 0 && server)
      console.error(`--- syncflow server log (tail) ---\n${server.logs.slice(-6000)}`);
    await server?.stop();
    await kubectl(['delete', 'namespace', NS, '--wait=false']);
  });

  it('is discoverable: the APIService is Available and api-resources lists wfx and workflowrevisions', async () => {
    const available = await ok([
      'get',
      'apiservice',
      'v1alpha1.execution.syncflow.io',
      '-o',
      'jsonpath={.status.conditions[?(@.type=="Available")].status}',
    ]);
    expect(available).to.equal('True');
    const resources = await ok(['api-resources', '--api-group=execution.syncflow.io', '--no-headers']);
    expect(resources).to.match(
      /^workflowexecutions\s+wfx\s+execution\.syncflow\.io\/v1alpha1\s+true\s+WorkflowExecution$/m,
    );
    expect(resources).to.match(
      /^workflowrevisions\s+execution\.syncflow\.io\/v1alpha1\s+true\s+WorkflowRevision$/m,
    );
    // The aggregator lists the group's OpenAPI v3 a few seconds after the APIService is Available;
    // kubectl explain reads it from there.
    for (let waited = 0; waited < 30_000; waited += 500) {
      const index = await cp.kubectl.run(['get', '--raw', '/openapi/v3']);
      if (index.code === 0 && index.stdout.includes('apis/execution.syncflow.io/v1alpha1')) break;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    const explain = await ok(['explain', 'wfx.status.tasks']);
    expect(explain).to.contain('FIELD: tasks <[]Object>');
    expect(explain).to.contain('httpStatus');
  });

  it('`kubectl create -f -o yaml` runs the workflow and returns the finished execution', async () => {
    const object = await createExecution('user-profile', { userId: '42', withOrders: true });
    expect(object.status.phase).to.equal('Succeeded');
    expect(object.status.output).to.deep.equal({
      email: 'user42@example.com',
      name: 'User 42',
      orders: [
        { id: 'o-18', total: 42.5 },
        { id: 'o-2', total: 7 },
      ],
      recommendations: ['book-for-42', 'lamp'],
    });
    expect(object.metadata.labels['syncflow.io/workflow']).to.equal('user-profile');
    expect(object.status.user).to.equal('syncflow-dev-admin');
    expect(JSON.stringify(object)).not.to.contain('e2e-s3cr3t');
  });

  it('records a failing upstream as Failed with the task error', async () => {
    const object = await createExecution('user-profile', { userId: 'missing' });
    expect(object.status.phase).to.equal('Failed');
    expect(object.status.reason).to.equal('TaskFailed');
    const user = object.status.tasks.find((t) => t.id === 'user');
    expect(user).to.deep.include({ phase: 'Failed', httpStatus: 404 });
    expect(user?.error?.reason).to.equal('HTTPError');
  });

  it('answers bad input with 422 naming spec.input.<field>', async () => {
    const result = await kubectl(['create', '-f', '-'], execution('user-profile', { withOrders: 3 }));
    expect(result.code).to.equal(1);
    expect(result.stderr).to.contain('is invalid');
    expect(result.stderr).to.contain('spec.input.userId: is required');
    expect(result.stderr).to.contain('spec.input.withOrders');
  });

  it('`--dry-run=server` returns the plan and calls no upstream', async () => {
    const before = [...server.upstream.calls.values()].reduce((a, b) => a + b, 0);
    const plan = parse(
      await ok(
        ['create', '-f', '-', '--dry-run=server', '-o', 'yaml'],
        execution('checkout', { cartId: 'c1', customerId: 'u1' }),
      ),
    ) as {
      status: { phase: string; plan: { order: string[]; parallelGroups: string[][] } };
    };
    expect(plan.status.phase).to.equal('Pending');
    expect(plan.status.plan.parallelGroups).to.deep.equal([['reserve'], ['pay'], ['email', 'sms']]);
    expect([...server.upstream.calls.values()].reduce((a, b) => a + b, 0)).to.equal(before);
  });

  it('`kubectl get wfx` prints the columns; -o wide, -l, --field-selector and --chunk-size work', async () => {
    const table = await ok(['-n', NS, 'get', 'wfx']);
    expect(table.split('\n')[0]).to.match(/^NAME\s+WORKFLOW\s+PHASE\s+DURATION\s+AGE$/);
    const wide = await ok(['-n', NS, 'get', 'wfx', '-o', 'wide']);
    expect(wide.split('\n')[0]).to.match(/REVISION\s+TASKS\s+USER$/);
    const failed = await ok([
      '-n',
      NS,
      'get',
      'wfx',
      '-l',
      'team=web',
      '--field-selector',
      'status.phase=Failed',
      '--no-headers',
    ]);
    expect(failed.trim().split('\n')).to.have.length(1);
    expect(failed).to.match(/user-profile\s+Failed/);
    const chunked = await ok(['-n', NS, 'get', 'wfx', '--chunk-size=1', '--no-headers', '-o', 'name']);
    expect(chunked.trim().split('\n').length).to.be.at.least(2);
  });

  it('`kubectl get wfx -w` shows an execution created meanwhile', async () => {
    const watch = kubectl(['-n', NS, 'get', 'wfx', '-w', '--no-headers', '--request-timeout=8s']);
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const created = await createExecution('loan-quote', { applicantId: 'w1', amount: 500 });
    const result = await watch;
    expect(result.stdout).to.contain(created.metadata.name);
  });

  it('`kubectl get wfx -w` shows an execution while it runs: Running, each task, then Succeeded', async () => {
    // Three steps of 300 ms each, one after the other.
    await applySlowSteps(cp, NS);
    const watch = kubectl([
      '-n',
      NS,
      'get',
      'wfx',
      '-w',
      '--output-watch-events',
      '-o',
      'json',
      '--request-timeout=10s',
    ]);
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const created = await createExecution('three-slow-steps', {});
    expect(created.status.phase, JSON.stringify(created.status)).to.equal('Succeeded');
    const result = await watch;
    const events = jsonDocuments(result.stdout)
      .map(
        (text) =>
          JSON.parse(text) as {
            type: string;
            object: {
              metadata: { name: string };
              status: { phase: string; tasks?: { id: string; phase: string }[] };
            };
          },
      )
      .filter((event) => event.object.metadata.name === created.metadata.name)
      .map(
        (e) =>
          `${e.type} ${e.object.status.phase} ${(e.object.status.tasks ?? []).map((t) => `${t.id}:${t.phase}`).join(',')}`,
      );
    expect(events, result.stderr).to.deep.equal([
      'ADDED Running ',
      'MODIFIED Running a:Running',
      'MODIFIED Running a:Succeeded',
      'MODIFIED Running a:Succeeded,b:Running',
      'MODIFIED Running a:Succeeded,b:Succeeded',
      'MODIFIED Running a:Succeeded,b:Succeeded,c:Running',
      'MODIFIED Running a:Succeeded,b:Succeeded,c:Succeeded',
      'MODIFIED Succeeded a:Succeeded,b:Succeeded,c:Succeeded',
    ]);
  });

  it('`kubectl label`, `kubectl annotate` and `kubectl delete` behave as for a built-in resource', async () => {
    const name = (await createExecution('loan-quote', { applicantId: 'l1', amount: 500 })).metadata.name;
    await ok(['-n', NS, 'label', 'wfx', name, 'reviewed=yes']);
    await ok(['-n', NS, 'annotate', 'wfx', name, 'note=checked']);
    const labels = await ok([
      '-n',
      NS,
      'get',
      'wfx',
      name,
      '-o',
      'jsonpath={.metadata.labels.reviewed} {.metadata.annotations.note}',
    ]);
    expect(labels).to.equal('yes checked');
    await ok(['-n', NS, 'delete', 'wfx', name]);
    const gone = await kubectl(['-n', NS, 'get', 'wfx', name]);
    expect(gone.code).to.equal(1);
    expect(gone.stderr).to.contain('NotFound');
  });

  it('lists the workflow revisions of a workflow', async () => {
    const revisions = await ok([
      '-n',
      NS,
      'get',
      'workflowrevisions',
      '-l',
      'syncflow.io/workflow=user-profile',
      '-o',
      'jsonpath={.items[*].hash}',
    ]);
    expect(revisions).to.match(/^sha256:[0-9a-f]{64}$/);
  });

  describe('RBAC', () => {
    before(async () => {
      await ok([
        '-n',
        NS,
        'create',
        'role',
        'wfx-reader',
        '--verb=get,list,watch',
        '--resource=workflowexecutions.execution.syncflow.io',
      ]);
      await ok(['-n', NS, 'create', 'rolebinding', 'reader', '--role=wfx-reader', '--user=reader']);
    });

    it('forbids a user without permissions', async () => {
      const result = await kubectl(
        ['-n', NS, 'create', '-f', '-'],
        execution('user-profile', { userId: '1' }),
        { user: 'nobody' },
      );
      expect(result.code).to.equal(1);
      expect(result.stderr).to.contain('Forbidden');
      expect(result.stderr).to.contain('User "nobody" cannot create resource "workflowexecutions"');
    });

    it('lets a user with only get/list read but not create', async () => {
      const list = await kubectl(['-n', NS, 'get', 'wfx', '--no-headers'], undefined, { user: 'reader' });
      expect(list.code, list.stderr).to.equal(0);
      expect(list.stdout.trim().length).to.be.greaterThan(0);
      const create = await kubectl(
        ['-n', NS, 'create', '-f', '-'],
        execution('user-profile', { userId: '1' }),
        { user: 'reader' },
      );
      expect(create.code).to.equal(1);
      expect(create.stderr).to.contain('Forbidden');
    });

    it('does not trust X-Remote-User headers from a client without the front-proxy certificate', async () => {
      const reply = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = httpsRequest(
          {
            host: '127.0.0.1',
            port: cp.settings.serverPort,
            path: `/apis/execution.syncflow.io/v1alpha1/namespaces/${NS}/workflowexecutions`,
            headers: { 'X-Remote-User': 'system:admin', 'X-Remote-Group': 'system:masters' },
            ca: readFileSync(cp.settings.tlsCertFile as string),
            servername: 'localhost',
            rejectUnauthorized: false,
          },
          (res) => {
            let body = '';
            res.on('data', (c: Buffer) => (body += c.toString('utf8')));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
          },
        );
        req.on('error', reject);
        req.end();
      });
      expect(reply.status).to.equal(401);
      expect(reply.body).not.to.contain('WorkflowExecutionList');
    });
  });

  it('client-go creates and lists executions through the aggregator', async () => {
    const clientgo = await ClientGo.forKubeconfig(cp.settings.kubeconfig);
    const created = await clientgo.run(NS, 'create-execution', [
      '-workflow',
      'loan-quote',
      '-input',
      '{"applicantId":"g1","amount":900}',
      '-label',
      'via=client-go',
    ]);
    expect(created.code, created.stderr).to.equal(0);
    const object = JSON.parse(created.stdout) as { status: { phase: string; output: { score: number } } };
    expect(object.status.phase).to.equal('Succeeded');
    expect(object.status.output.score).to.equal(720);
    const listed = await clientgo.run(NS, 'list-executions', ['-selector', 'via=client-go']);
    expect(listed.code, listed.stderr).to.equal(0);
    expect((JSON.parse(listed.stdout) as { items: unknown[] }).items).to.have.length(1);
  });

  describe('restart', () => {
    it('after a restart the APIService is Available again and the history is intact', async () => {
      const name = (await createExecution('user-profile', { userId: 'r1' })).metadata.name;
      await server.restart();
      let available = '';
      for (let i = 0; i < 120 && available !== 'True'; i++) {
        available = await ok([
          'get',
          'apiservice',
          'v1alpha1.execution.syncflow.io',
          '-o',
          'jsonpath={.status.conditions[?(@.type=="Available")].status}',
        ]);
        if (available !== 'True') await new Promise((resolve) => setTimeout(resolve, 500));
      }
      expect(available).to.equal('True');
      const phase = await ok(['-n', NS, 'get', 'wfx', name, '-o', 'jsonpath={.status.phase}']);
      expect(phase).to.equal('Succeeded');
    });
  });
});
