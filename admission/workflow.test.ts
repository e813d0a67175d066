import { expect } from 'chai';
import { DefinitionCatalog } from '../core/definitions/catalog.ts';
import { FreshDefinitions, type StoredDefinition } from './definitions.ts';
import { parseAdmissionReview, type AdmissionDecision, type AdmissionRequest } from './review.ts';
import type { SecretDirectory } from './secrets.ts';
import { FakeLive, FakeSecrets, getUser, notify, NS, profile, review } from './testdata/definitions.ts';
import { WorkflowAdmission } from './workflow.ts';

function request(body: Record<string, unknown>): AdmissionRequest {
  const parsed = parseAdmissionReview(body);
  if ('error' in parsed) throw new Error(parsed.error);
  return parsed;
}

function denialLines(decision: AdmissionDecision): string[] {
  expect(decision.allowed, 'expected a denial').to.equal(false);
  return decision.allowed ? [] : decision.denial.causes.map((c) => `${c.code} ${c.field}`);
}

describe('WorkflowAdmission', () => {
  let catalog: DefinitionCatalog;
  let live: FakeLive;
  const admission = (secrets?: SecretDirectory) =>
    new WorkflowAdmission({
      definitions: new FreshDefinitions(catalog, live),
      ...(secrets ? { secrets } : {}),
    });

  beforeEach(() => {
    catalog = new DefinitionCatalog();
    live = new FakeLive();
    catalog.upsert({ ...getUser(), metadata: { ...getUser().metadata } });
    catalog.upsert(notify());
  });

  it('admits a workflow whose tasks exist and fit, without warnings', async () => {
    const decision = await admission().review(request(review('Workflow', 'CREATE', { object: profile() })));
    expect(decision).to.deep.equal({ allowed: true, warnings: [] });
  });

  it('refuses a type mismatch against the live task schema with the CLI code and path', async () => {
    catalog.upsert(getUser({ email: 'integer' }));
    const decision = await admission().review(request(review('Workflow', 'CREATE', { object: profile() })));
    expect(denialLines(decision)).to.deep.equal(['TypeMismatch spec.tasks[1].input.email']);
    if (decision.allowed) return;
    expect(decision.denial.message).to.equal(
      'Workflow shop/profile is invalid (1 error):\n- spec.tasks[1].input.email: notify input expects string, got integer (from `tasks.user.output.email`) [TypeMismatch]',
    );
  });

  it('reads a task the informers have not delivered yet from the API server', async () => {
    const steps = [{ id: 'user', taskRef: { name: 'lookup' }, input: { userId: '{{input.userId}}' } }];
    live.tasks.set('lookup', { ...getUser(), metadata: { name: 'lookup', namespace: NS } });
    const decision = await admission().review(
      request(review('Workflow', 'CREATE', { object: profile('p', steps) })),
    );
    expect(decision.allowed).to.equal(true);
    expect(live.asked).to.deep.equal(['lookup']);
  });

  it('refuses a reference to a task that exists nowhere, suggesting the nearest name', async () => {
    const steps = [{ id: 'user', taskRef: { name: 'get-usr' }, input: { userId: '{{input.userId}}' } }];
    const decision = await admission().review(
      request(review('Workflow', 'CREATE', { object: profile('p', steps) })),
    );
    expect(denialLines(decision)).to.deep.equal(['TaskNotFound spec.tasks[0].taskRef.name']);
    if (!decision.allowed) {
      expect(decision.denial.code).to.equal('TaskNotFound');
      expect(decision.denial.message).to.contain('did you mean `get-user`?');
    }
  });

  it('refuses a reference to a task that exists but is itself invalid', async () => {
    catalog.upsert({
      kind: 'WorkflowTask',
      metadata: { name: 'broken', namespace: NS, resourceVersion: '2' },
      spec: { http: { method: 'GET', url: 'http://x/{{input.a' } },
    });
    const steps = [{ id: 'b', taskRef: { name: 'broken' } }];
    const decision = await admission().review(
      request(review('Workflow', 'CREATE', { object: profile('p', steps) })),
    );
    expect(denialLines(decision)).to.include('FieldInvalid spec.tasks[0].taskRef.name');
  });

  it('reports every error at once', async () => {
    const steps = [
      { id: 'user', taskRef: { name: 'get-user' }, input: { userId: '{{input.userID}}' } },
      { id: 'mail', taskRef: { name: 'nope' }, input: {} },
    ];
    const decision = await admission().review(
      request(review('Workflow', 'CREATE', { object: profile('p', steps) })),
    );
    expect(denialLines(decision)).to.have.members([
      'UnknownInputField spec.tasks[0].input.userId',
      'TaskNotFound spec.tasks[1].taskRef.name',
    ]);
    if (!decision.allowed) expect(decision.denial.message).to.match(/\(2 errors\)/);
  });

  describe('Secrets the referenced tasks read', () => {
    const withSecret = () =>
      getUser({ secrets: [{ name: 'token', secretKeyRef: { name: 'users-api', key: 'token' } }] });

    it('admits when the Secret and key exist', async () => {
      catalog.upsert(withSecret());
      const decision = await admission(new FakeSecrets({ 'users-api': ['token'] })).review(
        request(review('Workflow', 'CREATE', { object: profile() })),
      );
      expect(decision.allowed).to.equal(true);
    });

    it('refuses a missing Secret, naming task, Secret and how to create it', async () => {
      catalog.upsert(withSecret());
      const decision = await admission(new FakeSecrets({})).review(
        request(review('Workflow', 'CREATE', { object: profile() })),
      );
      expect(denialLines(decision)).to.deep.equal(['UnknownSecret spec.tasks[0].taskRef.name']);
      if (!decision.allowed)
        expect(decision.denial.message).to.contain(
          'kubectl -n shop create secret generic users-api --from-literal=token=...',
        );
    });

    it('refuses a Secret without the key, listing the keys it has', async () => {
      catalog.upsert(withSecret());
      const decision = await admission(new FakeSecrets({ 'users-api': ['password'] })).review(
        request(review('Workflow', 'CREATE', { object: profile() })),
      );
      expect(denialLines(decision)).to.deep.equal(['UnknownSecret spec.tasks[0].taskRef.name']);
      if (!decision.allowed) expect(decision.denial.message).to.contain('its keys are: password');
    });

    it('only warns when the Secret cannot be read', async () => {
      catalog.upsert(withSecret());
      const decision = await admission(new FakeSecrets({ 'users-api': new Error('forbidden') })).review(
        request(review('Workflow', 'CREATE', { object: profile() })),
      );
      expect(decision.allowed).to.equal(true);
      expect(decision.warnings).to.deep.equal([
        'spec.tasks[0].taskRef.name: could not check Secret users-api of WorkflowTask get-user: forbidden',
      ]);
    });
  });

  it('warns when a task’s attempts cannot fit in the workflow deadline', async () => {
    catalog.upsert(getUser({ timeout: '2s', maxAttempts: 3 }));
    const decision = await admission().review(
      request(review('Workflow', 'CREATE', { object: profile('p', undefined, { timeout: '5s' }) })),
    );
    expect(decision.allowed).to.equal(true);
    expect(decision.warnings).to.deep.equal([
      'spec.tasks[0]: WorkflowTask get-user may use 3 attempts × 2s, more than the workflow timeout 5s; later attempts will be cut off by the deadline',
    ]);
  });

  it('admits a metadata-only UPDATE of a workflow that broke underneath (labels, finalizers stay editable)', async () => {
    catalog.upsert(getUser({ email: 'integer' }));
    const decision = await admission().review(
      request(review('Workflow', 'UPDATE', { object: profile(), oldObject: profile() })),
    );
    expect(decision.allowed).to.equal(true);
  });

  it('checks an UPDATE that changes the spec', async () => {
    const changed = profile('profile', [
      { id: 'user', taskRef: { name: 'get-user' }, input: { userId: 42 } },
    ]);
    const decision = await admission().review(
      request(review('Workflow', 'UPDATE', { object: changed, oldObject: profile() })),
    );
    expect(denialLines(decision)).to.deep.equal(['TypeMismatch spec.tasks[0].input.userId']);
  });

  it('lets DELETE through unchecked', async () => {
    const decision = await admission().review(
      request(review('Workflow', 'DELETE', { oldObject: profile() })),
    );
    expect(decision.allowed).to.equal(true);
  });

  it('refuses a review without an object rather than crashing', async () => {
    const decision = await admission().review(request(review('Workflow', 'CREATE', { name: 'p' })));
    expect(denialLines(decision)).to.deep.equal(['FieldRequired request.object']);
  });

  it('never throws on a spec of the wrong shape', async () => {
    const odd: StoredDefinition = {
      kind: 'Workflow',
      metadata: { name: 'odd', namespace: NS },
      spec: { tasks: 'all of them' },
    };
    const decision = await admission().review(request(review('Workflow', 'CREATE', { object: odd })));
    expect(decision.allowed).to.equal(false);
  });

  it('decides the same for a dry run (and has no side effects to skip)', async () => {
    catalog.upsert(getUser({ email: 'integer' }));
    const real = await admission().review(request(review('Workflow', 'CREATE', { object: profile() })));
    const dry = await admission().review(
      request(review('Workflow', 'CREATE', { object: profile(), dryRun: true })),
    );
    expect(dry).to.deep.equal(real);
  });
});
