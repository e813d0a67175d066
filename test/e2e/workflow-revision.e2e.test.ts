// Re-running an execution against the revision it ran (spec.workflowRevision), with kubectl through
// kube-apiserver and the real server: the recorded snapshot runs even after the workflow changed;
// a revision that is not recorded, or belongs to another workflow, is refused naming the field.
import { expect } from 'chai';
import { parse } from 'yaml';
import { ControlPlane } from '../harness/controlplane.ts';
import { SyncflowServer } from '../harness/syncflow-server.ts';

const NS = `e2e-rev-${Date.now().toString(36)}`;

interface Execution {
  metadata: { name: string };
  spec: { workflowRevision?: string };
  status: { phase: string; workflowRevision: string; output?: Record<string, unknown> };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('spec.workflowRevision: re-running the revision an execution ran (kubectl)', function () {
  this.timeout(5 * 60_000);
  let cp: ControlPlane;
  let server: SyncflowServer;

  const body = (workflow: string, input: unknown, workflowRevision?: string) =>
    JSON.stringify({
      apiVersion: 'execution.syncflow.io/v1alpha1',
      kind: 'WorkflowExecution',
      metadata: { generateName: `${workflow}-` },
      spec: { workflowRef: { name: workflow }, input, ...(workflowRevision ? { workflowRevision } : {}) },
    });
  const create = (workflow: string, input: unknown, workflowRevision?: string) =>
    cp.kubectl.run(['create', '-n', NS, '-o', 'yaml', '-f', '-'], {
      stdin: body(workflow, input, workflowRevision),
    });
  /** Creates once the workflow is Ready here (the server's informers may still be loading it). */
  const run = async (workflow: string, input: unknown, workflowRevision?: string): Promise<Execution> => {
    for (let i = 0; ; i++) {
      const result = await create(workflow, input, workflowRevision);
      if (result.code === 0) return parse(result.stdout) as Execution;
      if (i > 120 || !/ServiceUnavailable|not Ready|still loading|NotFound/.test(result.stderr))
        throw new Error(`kubectl create: ${result.stderr}`);
      await sleep(500);
    }
  };
  const workflowRevision = async (workflow: string) =>
    (
      await cp.kubectl.ok(['get', 'workflow', workflow, '-n', NS, '-o', 'jsonpath={.status.revision}'])
    ).trim();
  const revisionNamed = async (hash: string): Promise<string> => {
    for (let i = 0; i < 60; i++) {
      const list = JSON.parse(await cp.kubectl.ok(['get', 'workflowrevisions', '-n', NS, '-o', 'json'])) as {
        items: Array<{ metadata: { name: string }; hash: string }>;
      };
      const found = list.items.find((r) => r.hash === hash);
      if (found) return found.metadata.name;
      await sleep(500);
    }
    throw new Error(`no revision with hash ${hash} was recorded`);
  };

  before(async function () {
    cp = await ControlPlane.acquire();
    // Only control planes from hack/cp-up.sh (what the test command uses) run a local server; a kind cluster does not.
    if (!cp.settings.serverPort) this.skip();
    await cp.kubectl.ok(['create', 'namespace', NS]);
    await cp.installExamples(NS);
    server = await SyncflowServer.start(cp);
  });
  after(async () => {
    await server?.stop();
    await cp?.deleteNamespace(NS);
  });

  it('runs the recorded revision after the workflow changed; without it, the current one', async () => {
    const first = await run('user-profile', { userId: '42' });
    expect(first.status.phase).to.equal('Succeeded');
    const oldHash = first.status.workflowRevision;
    const oldRevision = await revisionNamed(oldHash);
    // The workflow changes: its output gains a field.
    await cp.kubectl.ok([
      'patch',
      'workflow',
      'user-profile',
      '-n',
      NS,
      '--type',
      'merge',
      '-p',
      JSON.stringify({ spec: { output: { edition: 'second' } } }),
    ]);
    for (let i = 0; (await workflowRevision('user-profile')) === oldHash; i++) {
      if (i > 120) throw new Error('the workflow never reached its new revision');
      await sleep(250);
    }
    let current: Execution;
    for (let i = 0; ; i++) {
      current = await run('user-profile', { userId: '42' });
      if (current.status.workflowRevision !== oldHash || i > 60) break;
      await sleep(500);
    }
    expect(current.status.workflowRevision).not.to.equal(oldHash);
    expect(current.status.output?.edition).to.equal('second');

    const again = await run('user-profile', { userId: '42' }, oldRevision);
    expect(again.status.phase).to.equal('Succeeded');
    expect(again.status.workflowRevision).to.equal(oldHash);
    expect(again.spec.workflowRevision).to.equal(oldRevision);
    expect(again.status.output).not.to.have.property('edition');
    expect(again.status.output).to.deep.equal(first.status.output);
  });

  it('refuses a revision that is not recorded (404) and one of another workflow (422), naming spec.workflowRevision', async () => {
    const missing = await create('user-profile', { userId: '1' }, 'user-profile-0000000000');
    expect(missing.code).not.to.equal(0);
    expect(missing.stderr).to.match(/NotFound/);
    expect(missing.stderr).to.contain(
      'workflowrevisions.execution.syncflow.io "user-profile-0000000000" not found',
    );
    const loan = await run('loan-quote', { applicantId: 'a-1', amount: 500 });
    const foreign = await create(
      'user-profile',
      { userId: '1' },
      await revisionNamed(loan.status.workflowRevision),
    );
    expect(foreign.code).not.to.equal(0);
    expect(foreign.stderr).to.match(/Invalid|invalid/);
    expect(foreign.stderr).to.contain('spec.workflowRevision');
    expect(foreign.stderr).to.match(/revision of workflow loan-quote, not of user-profile/);
  });
});
