import { expect } from 'chai';
import { DefinitionCatalog } from '../core/definitions/catalog.ts';
import { FreshDefinitions } from './definitions.ts';
import { parseAdmissionReview, type AdmissionDecision, type AdmissionRequest } from './review.ts';
import type { SecretDirectory } from './secrets.ts';
import { FakeLive, FakeSecrets, getUser, notify, NS, profile, review } from './testdata/definitions.ts';
import { WorkflowTaskAdmission } from './workflow-task.ts';

function request(body: Record<string, unknown>): AdmissionRequest {
  const parsed = parseAdmissionReview(body);
  if ('error' in parsed) throw new Error(parsed.error);
  return parsed;
}

function denial(decision: AdmissionDecision) {
  if (decision.allowed) throw new Error('expected a denial');
  return decision.denial;
}

describe('WorkflowTaskAdmission', () => {
  let catalog: DefinitionCatalog;
  let live: FakeLive;
  const admission = (options: { secrets?: SecretDirectory; withLive?: boolean } = {}) =>
    new WorkflowTaskAdmission({
      definitions: new FreshDefinitions(catalog, options.withLive === false ? undefined : live),
      ...(options.secrets ? { secrets: options.secrets } : {}),
    });

  beforeEach(() => {
    catalog = new DefinitionCatalog();
    live = new FakeLive();
    for (const object of [getUser(), notify(), profile()]) catalog.upsert(object);
    live.workflows = [profile()];
  });

  describe('CREATE', () => {
    it('admits a valid task', async () => {
      expect(
        await admission().review(request(review('WorkflowTask', 'CREATE', { object: getUser() }))),
      ).to.deep.equal({ allowed: true, warnings: [] });
    });

    it('refuses an invalid task with the CLI codes and paths', async () => {
      const bad = { ...getUser(), spec: { http: { method: 'GET', url: 'http://x/{{input.userId' } } };
      const refused = denial(
        await admission().review(request(review('WorkflowTask', 'CREATE', { object: bad }))),
      );
      expect(refused.causes.map((c) => `${c.code} ${c.field}`)).to.deep.equal([
        'TemplateSyntax spec.http.url',
      ]);
      expect(refused.message).to.match(
        /^WorkflowTask shop\/get-user is invalid \(1 error\):\n- spec\.http\.url: .* \[TemplateSyntax\]$/,
      );
    });

    it('only warns when a Secret it reads does not exist yet', async () => {
      const task = getUser({
        secrets: [{ name: 'token', secretKeyRef: { name: 'users-api', key: 'token' } }],
      });
      const decision = await admission({ secrets: new FakeSecrets({}) }).review(
        request(review('WorkflowTask', 'CREATE', { object: task })),
      );
      expect(decision.allowed).to.equal(true);
      expect(decision.warnings).to.deep.equal([
        'WorkflowTask `get-user` reads Secret `users-api`, which does not exist in namespace shop; Workflows using this task will be refused until it exists',
      ]);
    });
  });

  describe('UPDATE', () => {
    it('refuses a change that breaks a dependent, naming both and the exact incompatibility', async () => {
      const refused = denial(
        await admission().review(
          request(
            review('WorkflowTask', 'UPDATE', { object: getUser({ email: 'integer' }), oldObject: getUser() }),
          ),
        ),
      );
      expect(refused.code).to.equal('DependentBroken');
      expect(refused.message).to.equal(
        [
          'WorkflowTask shop/get-user: this change would break 1 Workflow using it (shop/profile) [DependentBroken]:',
          '- workflow shop/profile: spec.tasks[1].input.email: notify input expects string, got integer (from `tasks.user.output.email`) [TypeMismatch]',
          'change the Workflow first, or make the change compatible (e.g. add fields instead of changing their types)',
        ].join('\n'),
      );
    });

    it('names every broken dependent', async () => {
      live.workflows = [profile(), profile('profile-2')];
      const refused = denial(
        await admission().review(
          request(
            review('WorkflowTask', 'UPDATE', { object: getUser({ email: 'integer' }), oldObject: getUser() }),
          ),
        ),
      );
      expect(refused.message).to.contain('would break 2 Workflows using it (shop/profile, shop/profile-2)');
    });

    it('admits a compatible change (an added optional output field)', async () => {
      const added = getUser({ extra: { nickname: { type: 'string' } } });
      const decision = await admission().review(
        request(review('WorkflowTask', 'UPDATE', { object: added, oldObject: getUser() })),
      );
      expect(decision).to.deep.equal({ allowed: true, warnings: [] });
    });

    it('does not blame the change for what was broken before it', async () => {
      const alreadyBroken = profile('profile', [
        { id: 'user', taskRef: { name: 'get-user' }, input: { userId: '{{input.nope}}' } },
      ]);
      live.workflows = [alreadyBroken];
      const decision = await admission().review(
        request(
          review('WorkflowTask', 'UPDATE', { object: getUser({ email: 'integer' }), oldObject: getUser() }),
        ),
      );
      expect(decision.allowed).to.equal(true);
    });

    it('sees a Workflow created a moment ago that the informers have not delivered', async () => {
      catalog.remove(profile());
      const refused = denial(
        await admission().review(
          request(
            review('WorkflowTask', 'UPDATE', { object: getUser({ email: 'integer' }), oldObject: getUser() }),
          ),
        ),
      );
      expect(refused.code).to.equal('DependentBroken');
    });

    it('falls back to the cache with a warning when the API server cannot list Workflows', async () => {
      live.listFailure = new Error('connection refused');
      const decision = await admission().review(
        request(
          review('WorkflowTask', 'UPDATE', { object: getUser({ email: 'integer' }), oldObject: getUser() }),
        ),
      );
      expect(denial(decision).code).to.equal('DependentBroken');
      expect(decision.warnings).to.deep.equal([
        "could not list Workflows of namespace shop (connection refused); checked the server's cached view only",
      ]);
    });

    it('refuses an UPDATE that makes the task itself invalid', async () => {
      const bad = { ...getUser(), spec: { http: { method: 'GET', url: 'http://x/{{secrets.token}}' } } };
      const refused = denial(
        await admission().review(
          request(review('WorkflowTask', 'UPDATE', { object: bad, oldObject: getUser() })),
        ),
      );
      expect(refused.causes.map((c) => c.code)).to.deep.equal(['UnknownSecret']);
    });

    it('admits a metadata-only UPDATE without looking at dependents', async () => {
      live.listFailure = new Error('must not be called');
      const decision = await admission().review(
        request(review('WorkflowTask', 'UPDATE', { object: getUser(), oldObject: getUser() })),
      );
      expect(decision).to.deep.equal({ allowed: true, warnings: [] });
    });
  });

  describe('DELETE', () => {
    it('refuses deleting a task a Workflow references, naming the dependents', async () => {
      live.workflows = [profile(), profile('profile-2')];
      const refused = denial(
        await admission().review(request(review('WorkflowTask', 'DELETE', { oldObject: getUser() }))),
      );
      expect(refused.code).to.equal('TaskInUse');
      expect(refused.message).to.equal(
        'WorkflowTask shop/get-user is used by 2 Workflows: profile, profile-2; delete them or point them at another task first [TaskInUse]',
      );
    });

    it('admits deleting a task once no Workflow references it', async () => {
      live.workflows = [];
      const decision = await admission().review(
        request(review('WorkflowTask', 'DELETE', { oldObject: getUser() })),
      );
      expect(decision.allowed).to.equal(true);
    });

    it('uses the informers’ view when no live reader is configured', async () => {
      const refused = denial(
        await admission({ withLive: false }).review(
          request(review('WorkflowTask', 'DELETE', { name: 'notify' })),
        ),
      );
      expect(refused.message).to.contain(
        `WorkflowTask ${NS}/notify is used by 1 Workflow: profile; delete it`,
      );
    });
  });

  it('lets CONNECT through', async () => {
    expect(
      (await admission().review(request(review('WorkflowTask', 'CONNECT', { name: 'x' })))).allowed,
    ).to.equal(true);
  });

  it('refuses a write review without an object', async () => {
    expect(
      denial(await admission().review(request(review('WorkflowTask', 'CREATE', { name: 'x' })))).code,
    ).to.equal('BadRequest');
  });
});
