import { expect } from 'chai';
import { RevisionRecorder } from '../core/definitions/revision-recorder.ts';
import type { WorkflowStatus, WorkflowTaskStatus } from '../core/model/schema.ts';
import { DefinitionCatalog, type DefinitionObject } from '../core/definitions/catalog.ts';
import { DefinitionStatusController, type DefinitionEvent, type StatusWriter } from './status-controller.ts';

const NS = 'shop';

function task(name: string, email = 'string', rv = '1'): DefinitionObject {
  return {
    kind: 'WorkflowTask',
    metadata: { name, namespace: NS, resourceVersion: rv, generation: 1, uid: `uid-${name}` },
    spec: {
      inputSchema: { type: 'object', required: ['userId'], properties: { userId: { type: 'string' } } },
      outputSchema: { type: 'object', properties: { email: { type: email } } },
      http: { method: 'GET', url: 'http://users.shop.svc/{{input.userId}}' },
    },
  };
}

function workflow(name: string, taskNames: string[], rv = '1', generation = 1): DefinitionObject {
  return {
    kind: 'Workflow',
    metadata: { name, namespace: NS, resourceVersion: rv, generation, uid: `uid-${name}` },
    spec: {
      inputSchema: { type: 'object', required: ['userId'], properties: { userId: { type: 'string' } } },
      tasks: taskNames.map((t, i) => ({
        id: `s${i}`,
        taskRef: { name: t },
        input: { userId: '{{input.userId}}' },
      })),
    },
  };
}

/** Writes status back into the catalog, as the informer would deliver it. */
class CatalogWriter implements StatusWriter {
  readonly writes: string[] = [];
  failWith: unknown;
  constructor(private readonly catalog: DefinitionCatalog) {}
  async writeWorkflowStatus(namespace: string, name: string, status: WorkflowStatus) {
    if (this.failWith) throw this.failWith;
    this.writes.push(`Workflow ${name}`);
    const current = this.catalog.listWorkflows(namespace).find((w) => w.metadata.name === name);
    if (current) this.catalog.upsert({ ...current, status } as DefinitionObject);
  }
  async writeTaskStatus(namespace: string, name: string, status: WorkflowTaskStatus) {
    if (this.failWith) throw this.failWith;
    this.writes.push(`WorkflowTask ${name}`);
    const current = this.catalog.getTask(namespace, name);
    if (current) this.catalog.upsert({ ...current, status } as DefinitionObject);
  }
}

function statusOf(catalog: DefinitionCatalog, name: string): WorkflowStatus {
  return (
    catalog.listWorkflows(NS).find((w) => w.metadata.name === name) as unknown as { status: WorkflowStatus }
  ).status;
}

function usedBy(catalog: DefinitionCatalog, name: string): number | undefined {
  return (catalog.getTask(NS, name) as { status?: WorkflowTaskStatus }).status?.usedBy;
}

describe('DefinitionStatusController', () => {
  let catalog: DefinitionCatalog;
  let writer: CatalogWriter;
  let events: DefinitionEvent[];
  let revisions: Array<{ workflowName: string; hash: string; definition: unknown }>;
  let retries: Array<{ run: () => void; delayMs: number }>;
  let controller: DefinitionStatusController;
  const clock = new Date('2026-11-26T12:00:00.000Z');

  beforeEach(() => {
    catalog = new DefinitionCatalog();
    writer = new CatalogWriter(catalog);
    events = [];
    revisions = [];
    retries = [];
    controller = new DefinitionStatusController({
      catalog,
      writer,
      events: { record: async (event) => void events.push(event) },
      revisions: new RevisionRecorder({ recordRevision: async (revision) => void revisions.push(revision) }),
      now: () => clock,
      scheduleRetry: (run, delayMs) => retries.push({ run, delayMs }),
      logger: { info: () => {}, warn: () => {} },
    });
    catalog.upsert(task('get-user'));
    catalog.upsert(task('get-recs'));
    catalog.upsert(workflow('profile', ['get-user', 'get-recs']));
  });

  afterEach(() => controller.close());

  it('writes Ready True, observedGeneration, revision, parallelGroups and taskCount', async () => {
    controller.start();
    await controller.idle();
    const status = statusOf(catalog, 'profile');
    expect(status).to.deep.include({ observedGeneration: 1, taskCount: 2, parallelGroups: [['s0', 's1']] });
    expect(status.revision).to.match(/^sha256:[0-9a-f]{64}$/);
    expect(status.conditions).to.deep.equal([
      {
        type: 'Ready',
        status: 'True',
        reason: 'Valid',
        message: `all 2 steps resolve; revision ${status.revision?.slice(0, 19)}`,
        observedGeneration: 1,
        lastTransitionTime: '2026-11-26T12:00:00Z',
      },
    ]);
  });

  it('counts the Workflows using each task in its status.usedBy', async () => {
    catalog.upsert(task('unused'));
    catalog.upsert(workflow('second', ['get-user']));
    controller.start();
    await controller.idle();
    expect([
      usedBy(catalog, 'get-user'),
      usedBy(catalog, 'get-recs'),
      usedBy(catalog, 'unused'),
    ]).to.deep.equal([2, 1, 0]);
  });

  it('records each new revision once, with the workflow and task specs', async () => {
    controller.start();
    await controller.idle();
    expect(revisions).to.have.length(1);
    expect(revisions[0]?.workflowName).to.equal('profile');
    expect(Object.keys((revisions[0]?.definition as { tasks: object }).tasks).sort()).to.deep.equal([
      'get-recs',
      'get-user',
    ]);
    catalog.upsert(task('get-user', 'string', '2')); // same spec, new resourceVersion: same revision
    await controller.idle();
    expect(revisions).to.have.length(1);
    catalog.upsert({
      ...task('get-user', 'string', '3'),
      spec: { ...(task('get-user').spec as object), description: 'changed' },
    });
    await controller.idle();
    expect(revisions).to.have.length(2);
    expect(revisions[1]?.hash).to.equal(statusOf(catalog, 'profile').revision);
  });

  it('turns Ready False with reason TaskNotFound and one Warning Event when a task disappears underneath', async () => {
    controller.start();
    await controller.idle();
    const revision = statusOf(catalog, 'profile').revision;
    catalog.remove(task('get-recs'));
    await controller.idle();
    const status = statusOf(catalog, 'profile');
    expect(status.conditions?.[0]).to.deep.include({ status: 'False', reason: 'TaskNotFound' });
    expect(status.conditions?.[0]?.message).to.contain(
      'WorkflowTask `get-recs` does not exist in namespace shop',
    );
    expect(status.revision, 'the last Ready revision stays').to.equal(revision);
    expect(events).to.deep.equal([
      {
        namespace: NS,
        kind: 'Workflow',
        name: 'profile',
        uid: 'uid-profile',
        type: 'Warning',
        reason: 'TaskNotFound',
        message: `Workflow is not Ready: ${status.conditions?.[0]?.message}`,
      },
    ]);
    controller.enqueue(NS);
    await controller.idle();
    expect(events, 'no repeated Event').to.have.length(1);
  });

  it('reports reason Invalid when a task changes incompatibly, and a Normal Event when it is fixed', async () => {
    controller.start();
    await controller.idle();
    catalog.upsert(workflow('mail', ['get-user']));
    catalog.upsert({
      kind: 'WorkflowTask',
      metadata: { name: 'notify', namespace: NS, resourceVersion: '1' },
      spec: {
        inputSchema: { type: 'object', properties: { email: { type: 'string' } } },
        http: { method: 'GET', url: 'http://n/' },
      },
    });
    const uses = workflow('uses', ['get-user']);
    (uses.spec as { tasks: unknown[] }).tasks.push({
      id: 'n',
      taskRef: { name: 'notify' },
      input: { email: '{{tasks.s0.output.email}}' },
    });
    catalog.upsert(uses);
    await controller.idle();
    catalog.upsert(task('get-user', 'integer', '9'));
    await controller.idle();
    expect(statusOf(catalog, 'uses').conditions?.[0]).to.deep.include({ status: 'False', reason: 'Invalid' });
    expect(events.map((e) => `${e.type} ${e.reason} ${e.name}`)).to.deep.equal(['Warning Invalid uses']);
    catalog.upsert(task('get-user', 'string', '10'));
    await controller.idle();
    expect(statusOf(catalog, 'uses').conditions?.[0]).to.deep.include({
      status: 'True',
      lastTransitionTime: '2026-11-26T12:00:00Z',
    });
    expect(events.map((e) => `${e.type} ${e.reason} ${e.name}`)).to.deep.equal([
      'Warning Invalid uses',
      'Normal Ready uses',
    ]);
  });

  it('marks a WorkflowTask admitted while the webhook was bypassed Ready False (Invalid) with a Warning Event', async () => {
    controller.start();
    await controller.idle();
    catalog.upsert({
      kind: 'WorkflowTask',
      metadata: { name: 'broken', namespace: NS, resourceVersion: '7', generation: 2, uid: 'uid-broken' },
      spec: { http: { method: 'GET', url: 'http://x/{{input.id' } },
    });
    await controller.idle();
    const status = (catalog.getTask(NS, 'broken') as unknown as { status: WorkflowTaskStatus }).status;
    expect(status).to.deep.include({ observedGeneration: 2, usedBy: 0 });
    expect(status.conditions?.[0]).to.deep.include({
      type: 'Ready',
      status: 'False',
      reason: 'Invalid',
      observedGeneration: 2,
    });
    expect(status.conditions?.[0]?.message).to.match(/^spec\.http\.url: .* \[TemplateSyntax\]$/);
    expect(events.map((e) => `${e.type} ${e.reason} ${e.kind}/${e.name}`)).to.deep.equal([
      'Warning Invalid WorkflowTask/broken',
    ]);
    catalog.upsert({
      kind: 'WorkflowTask',
      metadata: { name: 'broken', namespace: NS, resourceVersion: '8', generation: 3, uid: 'uid-broken' },
      spec: { http: { method: 'GET', url: 'http://x/{{input.id}}' } },
    });
    await controller.idle();
    expect(
      (catalog.getTask(NS, 'broken') as unknown as { status: WorkflowTaskStatus }).status.conditions?.[0],
    ).to.deep.include({ status: 'True', reason: 'Valid' });
    expect(events.map((e) => `${e.type} ${e.reason} ${e.kind}/${e.name}`)).to.deep.equal([
      'Warning Invalid WorkflowTask/broken',
      'Normal Ready WorkflowTask/broken',
    ]);
  });

  it('writes nothing when the stored status is already right', async () => {
    controller.start();
    await controller.idle();
    const writes = writer.writes.length;
    await controller.reconcileNamespace(NS);
    expect(writer.writes.length).to.equal(writes);
  });

  it('does not announce a failure the stored status already shows (a new leader taking over)', async () => {
    catalog.upsert(workflow('orphan', ['missing']));
    await controller.reconcileNamespace(NS);
    expect(events).to.have.length(1);
    const successor = new DefinitionStatusController({
      catalog,
      writer,
      events: { record: async (event) => void events.push(event) },
      revisions: new RevisionRecorder({ recordRevision: async () => undefined }),
    });
    await successor.reconcileNamespace(NS);
    await successor.close();
    expect(events).to.have.length(1);
  });

  it('does nothing until it leads, and stops reacting once it no longer does', async () => {
    catalog.upsert(task('x', 'string', '5'));
    await controller.idle();
    expect(writer.writes).to.deep.equal([]);
    controller.start();
    await controller.idle();
    await controller.stop();
    const writes = writer.writes.length;
    catalog.upsert(workflow('later', ['get-user']));
    await controller.idle();
    expect(writer.writes.length).to.equal(writes);
  });

  it('retries a namespace with growing backoff when writes fail, ignoring objects deleted meanwhile', async () => {
    writer.failWith = new Error('the server is currently unable to handle the request');
    controller.start();
    await controller.idle();
    expect(retries.map((r) => r.delayMs)).to.deep.equal([250]);
    retries[0]?.run();
    await controller.idle();
    expect(retries.map((r) => r.delayMs)).to.deep.equal([250, 500]);
    writer.failWith = Object.assign(new Error('not found'), { code: 404 });
    retries[1]?.run();
    await controller.idle();
    expect(retries).to.have.length(2);
  });
});
