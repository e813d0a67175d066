// SyncflowClient end to end: the typed client against the real kube-apiserver, whose aggregator
// proxies to the real `syncflow server` process (RBAC through SubjectAccessReview), and against the
// server's direct run gateway with the same client certificate.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import {
  SyncflowApiError,
  SyncflowClient,
  SyncflowRunError,
  type ExecutionWatchEvent,
} from '../../client/index.ts';
import { ControlPlane } from '../harness/controlplane.ts';
import { SyncflowServer } from '../harness/syncflow-server.ts';

interface Profile {
  email: string;
  name: string;
  orders?: Array<{ id: string; total: number }>;
  recommendations?: string[];
}

describe('SyncflowClient against kube-apiserver and the syncflow server', function () {
  this.timeout(5 * 60_000);
  let cp: ControlPlane;
  let server: SyncflowServer;
  let client: SyncflowClient;
  let ns: string;
  const run = `c${Date.now().toString(36)}`;
  let adminUser = '';

  before(async function () {
    cp = await ControlPlane.acquire();
    const s = cp.settings;
    // Only control planes from hack/cp-up.sh (what the test command uses) provide this; a kind cluster does not.
    if (!s.serverPort || !s.tlsCertFile) this.skip();
    ns = await cp.createNamespace('e2e-client');
    await cp.installExamples(ns);
    server = await SyncflowServer.start(cp);
    // The serving certificate is issued by the CA next to it (the APIService's caBundle).
    const ca = readFileSync(join(dirname(s.tlsCertFile as string), 'syncflow-ca.crt'));
    client = new SyncflowClient(await cp.kubeConfig(), {
      gateway: { url: `https://127.0.0.1:${s.serverPort}`, ca },
      timeoutMs: 60_000,
    });
  });

  after(async () => {
    client?.close();
    await server?.stop();
    if (ns) await cp.deleteNamespace(ns);
  });

  it('execute runs the workflow and returns the finished, typed execution', async () => {
    const execution = await client.execute<Profile>(
      ns,
      'user-profile',
      { userId: '42', withOrders: true },
      { labels: { run } },
    );
    expect(execution.metadata.name).to.match(/^user-profile-[a-z0-9]{5}$/);
    expect(execution.metadata.labels).to.deep.equal({ run, 'syncflow.io/workflow': 'user-profile' });
    expect(execution.status.phase).to.equal('Succeeded');
    // The admin of hack/cp-up.sh; through the aggregator it arrives as the front proxy's X-Remote-User.
    expect(execution.status.user).to.match(/admin$/);
    adminUser = execution.status.user as string;
    expect(execution.status.output?.email).to.equal('user42@example.com');
    expect(execution.status.output?.orders).to.deep.equal([
      { id: 'o-18', total: 42.5 },
      { id: 'o-2', total: 7 },
    ]);

    const again = await client.get<Profile>(ns, execution.metadata.name);
    expect(again.status).to.deep.equal(execution.status);
  });

  it('returns a failing upstream as a Failed execution with the task error', async () => {
    const execution = await client.execute(ns, 'user-profile', { userId: 'missing' }, { labels: { run } });
    expect(execution.status.phase).to.equal('Failed');
    expect(execution.status.reason).to.equal('TaskFailed');
    const user = execution.status.tasks?.find((t) => t.id === 'user');
    expect(user).to.include({ phase: 'Failed', httpStatus: 404 });
  });

  it('throws SyncflowApiError 422 naming spec.input.<field> for bad input, 404 for an unknown workflow', async () => {
    const invalid = (await client
      .execute(ns, 'user-profile', { withOrders: 'yes' })
      .catch((e: unknown) => e)) as SyncflowApiError;
    expect(invalid).to.be.instanceOf(SyncflowApiError);
    expect(invalid).to.include({ code: 422, reason: 'Invalid' });
    expect(invalid.fields).to.include.members(['spec.input.userId', 'spec.input.withOrders']);
    const missing = (await client
      .execute(ns, 'no-such-workflow', {})
      .catch((e: unknown) => e)) as SyncflowApiError;
    expect(missing).to.include({ code: 404, reason: 'NotFound' });
  });

  it('plans with dryRun and stores nothing', async () => {
    const planned = await client.execute(
      ns,
      'loan-quote',
      { applicantId: 'a1', amount: 1000 },
      { dryRun: true, labels: { run: `${run}-dry` } },
    );
    expect(planned.status.phase).to.equal('Pending');
    expect(planned.status.plan?.parallelGroups).to.deep.equal([['score'], ['quote', 'review']]);
    const listed = await client.list(ns, { labelSelector: `run=${run}-dry` });
    expect(listed.items).to.have.length(0);
  });

  it('lists with label and field selectors and pages with limit/continue', async () => {
    const failed = await client.list(ns, {
      labelSelector: `run=${run}`,
      fieldSelector: 'status.phase=Failed',
    });
    expect(failed.items.map((i) => i.status.phase)).to.deep.equal(['Failed']);
    const first = await client.list(ns, { labelSelector: `run=${run}`, limit: 1 });
    expect(first.items).to.have.length(1);
    expect(first.metadata.continue).to.be.a('string');
    const all: string[] = [];
    for await (const item of client.listAll(ns, { labelSelector: `run=${run}`, limit: 1 }))
      all.push(item.metadata.name);
    expect(all).to.have.length(2);
    expect(new Set(all).size).to.equal(2);
  });

  it('watch delivers an execution created meanwhile', async () => {
    const label = `${run}-watch`;
    const start = await client.list(ns, { labelSelector: `run=${label}` });
    const events: ExecutionWatchEvent[] = [];
    let added!: () => void;
    const seen = new Promise<void>((resolve) => (added = resolve));
    const watch = await client.watch(
      ns,
      { labelSelector: `run=${label}`, resourceVersion: start.metadata.resourceVersion },
      (event) => {
        events.push(event);
        if (event.type === 'ADDED') added();
      },
    );
    const created = await client.execute(ns, 'user-profile', { userId: '7' }, { labels: { run: label } });
    await seen;
    watch.stop();
    await watch.done;
    const names = events.filter((e) => e.type === 'ADDED').map((e) => e.object.metadata.name);
    expect(names).to.deep.equal([created.metadata.name]);
  });

  it('delete removes the record; get then throws 404', async () => {
    const execution = await client.execute(ns, 'user-profile', { userId: '8' });
    const deleted = await client.delete(ns, execution.metadata.name);
    expect(deleted.metadata.name).to.equal(execution.metadata.name);
    const error = (await client
      .get(ns, execution.metadata.name)
      .catch((e: unknown) => e)) as SyncflowApiError;
    expect(error).to.include({ code: 404, reason: 'NotFound' });
  });

  it('throws a 403 SyncflowApiError for a user RBAC does not allow to create executions', async () => {
    const stranger = new SyncflowClient(await cp.kubeConfig({ user: `stranger-${run}` }));
    try {
      const error = (await stranger
        .execute(ns, 'user-profile', { userId: '42' })
        .catch((e: unknown) => e)) as SyncflowApiError;
      expect(error).to.be.instanceOf(SyncflowApiError);
      expect(error).to.include({ code: 403, reason: 'Forbidden' });
      expect(error.message).to.contain(`stranger-${run}`);
      const watchError = (await stranger
        .watch(ns, {}, () => undefined)
        .catch((e: unknown) => e)) as SyncflowApiError;
      expect(watchError).to.include({ code: 403, reason: 'Forbidden' });
    } finally {
      stranger.close();
    }
  });

  it('run goes through the direct gateway with the same credentials and is recorded', async () => {
    const result = await client.run<Profile>(ns, 'user-profile', { userId: '42' });
    expect(result.output.email).to.equal('user42@example.com');
    const [namespace, name] = result.execution.split('/') as [string, string];
    expect(namespace).to.equal(ns);
    // The gateway does not wait for the history; the aggregated read may need a moment.
    let recorded: Awaited<ReturnType<SyncflowClient['get']>> | undefined;
    for (let attempt = 0; attempt < 50 && !recorded; attempt++) {
      recorded = await client.get(ns, name).catch(() => undefined);
      if (!recorded) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    // Directly, the same user is authenticated from its client certificate.
    expect(recorded?.status.user).to.equal(adminUser);

    const failed = (await client
      .run(ns, 'user-profile', { userId: 'missing' })
      .catch((e: unknown) => e)) as SyncflowRunError;
    expect(failed).to.be.instanceOf(SyncflowRunError);
    expect(failed).to.include({ httpStatus: 502, code: 'TaskFailed' });
    expect(failed.execution).to.match(new RegExp(`^${ns}/user-profile-`));
    const invalid = (await client
      .run(ns, 'user-profile', { withOrders: 'yes' })
      .catch((e: unknown) => e)) as SyncflowRunError;
    expect(invalid).to.include({ httpStatus: 422, code: 'InvalidInput' });
    expect(invalid.problem.errors?.map((e) => e.field)).to.include('spec.input.userId');
  });
});
