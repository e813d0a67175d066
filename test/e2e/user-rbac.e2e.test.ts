// The user ClusterRoles of manifests/base/rbac-users.yaml on a real kube-apiserver, with real requests
// through the aggregator to the real server (which asks kube-apiserver with SubjectAccessReview):
// syncflow-runner runs workflows but cannot change them, syncflow-viewer reads history but cannot
// run, syncflow-author manages definitions, and the built-in view/edit roles pick them up through
// their aggregation labels.
import { expect } from 'chai';
import { join } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { ControlPlane } from '../harness/controlplane.ts';
import type { Impersonation, KubectlResult } from '../harness/kubectl.ts';
import { repoRoot, SyncflowServer } from '../harness/syncflow-server.ts';

interface PolicyRule {
  apiGroups?: string[];
  resources?: string[];
  verbs: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}

interface ClusterRole {
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  rules?: PolicyRule[];
  aggregationRule?: { clusterRoleSelectors: Array<{ matchLabels: Record<string, string> }> };
}

const USER_ROLES = ['syncflow-author', 'syncflow-runner', 'syncflow-viewer', 'syncflow-history-editor'];

describe('RBAC for syncflow users (syncflow-author, -runner, -viewer; view/edit aggregation)', function () {
  this.timeout(10 * 60_000);
  let cp: ControlPlane;
  let server: SyncflowServer | undefined;
  let ns: string;
  const id = Math.random().toString(36).slice(2, 7);
  const runner: Impersonation = { user: `e2e-runner-${id}`, groups: ['system:authenticated'] };
  const viewer: Impersonation = { user: `e2e-viewer-${id}`, groups: ['system:authenticated'] };
  const author: Impersonation = { user: `e2e-author-${id}`, groups: ['system:authenticated'] };
  const viewUser: Impersonation = { user: `e2e-view-${id}`, groups: ['system:authenticated'] };
  const editUser: Impersonation = { user: `e2e-edit-${id}`, groups: ['system:authenticated'] };

  const kubectl = (args: string[], as?: Impersonation, stdin?: string): Promise<KubectlResult> =>
    cp.kubectl.run(['-n', ns, ...args], { ...(as ? { as } : {}), ...(stdin !== undefined ? { stdin } : {}) });
  const canI = async (
    as: Impersonation,
    verb: string,
    resource: string,
    ...extra: string[]
  ): Promise<boolean> => {
    const result = await kubectl(['auth', 'can-i', verb, resource, ...extra], as);
    return result.stdout.trim() === 'yes';
  };
  const execution = (workflow: string, input: unknown): string =>
    JSON.stringify({
      apiVersion: 'execution.syncflow.io/v1alpha1',
      kind: 'WorkflowExecution',
      metadata: { generateName: `${workflow}-`, namespace: ns },
      spec: { workflowRef: { name: workflow }, input },
    });
  const workflow = (name: string): string =>
    JSON.stringify({
      apiVersion: 'syncflow.io/v1alpha1',
      kind: 'Workflow',
      metadata: { name, namespace: ns },
      spec: {
        inputSchema: {
          type: 'object',
          required: ['applicantId'],
          properties: { applicantId: { type: 'string' } },
        },
        tasks: [
          { id: 'score', taskRef: { name: 'credit-score' }, input: { applicantId: '{{input.applicantId}}' } },
        ],
        output: { score: '{{tasks.score.output.score}}' },
      },
    });

  before(async function () {
    cp = await ControlPlane.acquire();
    // Only control planes from hack/cp-up.sh (what the test command uses) provide this; a kind cluster does not.
    if (!cp.settings.serverPort) this.skip();
    // The user roles exactly as the production overlay renders them.
    const rendered = await cp.kubectl.ok(['kustomize', join(repoRoot, 'manifests/overlays/production')]);
    const roles = parseAllDocuments(rendered)
      .map((d) => d.toJS() as ClusterRole)
      .filter((o) => o.kind === 'ClusterRole' && USER_ROLES.includes(o.metadata.name));
    expect(roles.map((r) => r.metadata.name).sort()).to.deep.equal([...USER_ROLES].sort());
    await cp.kubectl.ok(['apply', '--server-side', '--field-manager=syncflow-install', '-f', '-'], {
      stdin: roles.map((r) => stringify(r)).join('---\n'),
    });
    ns = await cp.createNamespace('e2e-users');
    await cp.installExamples(ns);
    for (const [role, who] of [
      ['syncflow-runner', runner],
      ['syncflow-viewer', viewer],
      ['syncflow-author', author],
      ['view', viewUser],
      ['edit', editUser],
    ] as const) {
      await cp.kubectl.ok([
        '-n',
        ns,
        'create',
        'rolebinding',
        `${role}-${id}`,
        `--clusterrole=${role}`,
        `--user=${who.user}`,
      ]);
    }
    server = await SyncflowServer.start(cp);
  });

  after(async () => {
    await server?.stop();
    if (ns !== undefined) await cp.deleteNamespace(ns);
  });

  it('syncflow-runner: may create executions and read Workflows, not change Workflows or read history', async () => {
    expect(await canI(runner, 'create', 'workflowexecutions.execution.syncflow.io')).to.equal(true);
    expect(await canI(runner, 'get', 'workflows.syncflow.io')).to.equal(true);
    expect(await canI(runner, 'create', 'workflows.syncflow.io')).to.equal(false);
    expect(await canI(runner, 'update', 'workflowtasks.syncflow.io')).to.equal(false);
    expect(await canI(runner, 'list', 'workflowexecutions.execution.syncflow.io')).to.equal(false);

    // A real execution through kube-apiserver's aggregator; the server authorizes it with a
    // SubjectAccessReview for the impersonated user and records who ran it.
    const created = await kubectl(
      ['create', '-f', '-', '-o', 'json'],
      runner,
      execution('loan-quote', { applicantId: 'r1', amount: 500 }),
    );
    expect(created.code, created.stderr).to.equal(0);
    const object = JSON.parse(created.stdout) as { status: { phase: string; user?: string } };
    expect(object.status.phase).to.equal('Succeeded');
    expect(object.status.user).to.equal(runner.user);

    const denied = await kubectl(['apply', '-f', '-'], runner, workflow(`runner-${id}`));
    expect(denied.code).to.equal(1);
    expect(denied.stderr).to.match(/forbidden.*cannot (create|get|patch) resource "workflows"/i);
    const list = await kubectl(['get', 'wfx'], runner);
    expect(list.code).to.equal(1);
    expect(list.stderr).to.match(/forbidden/i);
  });

  it('syncflow-viewer: may list executions and revisions, not create executions', async () => {
    expect(await canI(viewer, 'list', 'workflowexecutions.execution.syncflow.io')).to.equal(true);
    expect(await canI(viewer, 'watch', 'workflowrevisions.execution.syncflow.io')).to.equal(true);
    expect(await canI(viewer, 'create', 'workflowexecutions.execution.syncflow.io')).to.equal(false);
    expect(await canI(viewer, 'delete', 'workflowexecutions.execution.syncflow.io')).to.equal(false);
    expect(await canI(viewer, 'create', 'workflows.syncflow.io')).to.equal(false);

    const list = await kubectl(['get', 'wfx', '-o', 'name'], viewer);
    expect(list.code, list.stderr).to.equal(0);
    expect(list.stdout).to.match(/workflowexecution\.execution\.syncflow\.io\/loan-quote-/);
    const revisions = await kubectl(['get', 'workflowrevisions', '-o', 'name'], viewer);
    expect(revisions.code, revisions.stderr).to.equal(0);

    const run = await kubectl(
      ['create', '-f', '-'],
      viewer,
      execution('loan-quote', { applicantId: 'v1', amount: 1 }),
    );
    expect(run.code).to.equal(1);
    expect(run.stderr).to.match(/forbidden/i);
    expect(run.stderr).to.contain(viewer.user);
  });

  it('syncflow-author: manages Workflows and WorkflowTasks, does not run them', async () => {
    for (const verb of ['create', 'update', 'patch', 'delete']) {
      expect(await canI(author, verb, 'workflows.syncflow.io'), verb).to.equal(true);
      expect(await canI(author, verb, 'workflowtasks.syncflow.io'), verb).to.equal(true);
    }
    expect(await canI(author, 'update', 'workflows.syncflow.io', '--subresource=status')).to.equal(false);
    expect(await canI(author, 'create', 'workflowexecutions.execution.syncflow.io')).to.equal(false);
    const applied = await kubectl(['apply', '-f', '-'], author, workflow(`authored-${id}`));
    expect(applied.code, applied.stderr).to.equal(0);
  });

  describe('aggregation into the built-in roles', () => {
    let aggregated: Map<string, ClusterRole>;

    before(async () => {
      // The ClusterRole aggregation controller runs in kube-controller-manager, which this control plane
      // does not have (hack/cp-up.sh): when it is absent, do its job here — set each built-in role's rules
      // to the union of the rules of the ClusterRoles its aggregationRule selects — so the bindings
      // below are checked against what a real cluster computes. The selection itself is the server's.
      aggregated = new Map();
      for (const name of ['view', 'edit', 'admin']) {
        const role = await cp.kubectl.json<ClusterRole>(['get', 'clusterrole', name]);
        const selected = new Map<string, ClusterRole>();
        for (const selector of role.aggregationRule?.clusterRoleSelectors ?? []) {
          const labels = Object.entries(selector.matchLabels)
            .map(([k, v]) => `${k}=${v}`)
            .join(',');
          const list = await cp.kubectl.json<{ items: ClusterRole[] }>(['get', 'clusterroles', '-l', labels]);
          for (const item of list.items) selected.set(item.metadata.name, item);
        }
        aggregated.set(name, { ...role, rules: [...selected.values()].flatMap((r) => r.rules ?? []) });
        const hasOurs = (role.rules ?? []).some((r) => r.apiGroups?.includes('execution.syncflow.io'));
        if (!hasOurs) {
          await cp.kubectl.ok([
            'patch',
            'clusterrole',
            name,
            '--type=merge',
            '-p',
            JSON.stringify({ rules: aggregated.get(name)?.rules }),
          ]);
        }
      }
    });

    it('view selects syncflow-viewer only; edit and admin select all four user roles', async () => {
      const selects = async (role: string): Promise<string[]> => {
        const found: string[] = [];
        const builtIn = await cp.kubectl.json<ClusterRole>(['get', 'clusterrole', role]);
        for (const selector of builtIn.aggregationRule?.clusterRoleSelectors ?? []) {
          const labels = Object.entries(selector.matchLabels)
            .map(([k, v]) => `${k}=${v}`)
            .join(',');
          const list = await cp.kubectl.json<{ items: ClusterRole[] }>(['get', 'clusterroles', '-l', labels]);
          found.push(...list.items.map((i) => i.metadata.name).filter((n) => USER_ROLES.includes(n)));
        }
        return [...new Set(found)].sort();
      };
      expect(await selects('view')).to.deep.equal(['syncflow-viewer']);
      expect(await selects('edit')).to.deep.equal([...USER_ROLES].sort());
      expect(await selects('admin')).to.deep.equal([...USER_ROLES].sort());
    });

    it('a user bound to view lists executions and Workflows but cannot run or change anything', async () => {
      expect(await canI(viewUser, 'list', 'workflowexecutions.execution.syncflow.io')).to.equal(true);
      expect(await canI(viewUser, 'list', 'workflows.syncflow.io')).to.equal(true);
      expect(await canI(viewUser, 'create', 'workflowexecutions.execution.syncflow.io')).to.equal(false);
      expect(await canI(viewUser, 'delete', 'workflows.syncflow.io')).to.equal(false);
      const list = await kubectl(['get', 'wfx', '-o', 'name'], viewUser);
      expect(list.code, list.stderr).to.equal(0);
      expect(list.stdout).to.contain('loan-quote-');
      const run = await kubectl(
        ['create', '-f', '-'],
        viewUser,
        execution('loan-quote', { applicantId: 'x', amount: 1 }),
      );
      expect(run.code).to.equal(1);
      expect(run.stderr).to.match(/forbidden/i);
    });

    it('a user bound to edit runs workflows, manages definitions and deletes history', async () => {
      expect(await canI(editUser, 'create', 'workflows.syncflow.io')).to.equal(true);
      expect(await canI(editUser, 'deletecollection', 'workflowexecutions.execution.syncflow.io')).to.equal(
        true,
      );
      const created = await kubectl(
        ['create', '-f', '-', '-o', 'jsonpath={.metadata.name} {.status.phase}'],
        editUser,
        execution('loan-quote', { applicantId: 'e1', amount: 700 }),
      );
      expect(created.code, created.stderr).to.equal(0);
      const [name, phase] = created.stdout.split(' ');
      expect(phase).to.equal('Succeeded');
      const deleted = await kubectl(['delete', 'wfx', name ?? ''], editUser);
      expect(deleted.code, deleted.stderr).to.equal(0);
    });
  });
});
