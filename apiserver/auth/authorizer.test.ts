import { expect } from 'chai';
import { Registry } from 'prom-client';
import { SyncflowError } from '../../core/errors.ts';
import {
  AlwaysAllowPaths,
  forbiddenMessage,
  SubjectAccessReviewAuthorizer,
  subjectAccessReviewSpec,
  type Authorizer,
  type ResourceAttributes,
} from './authorizer.ts';
import { FakeClock, FakeReviewClient } from './testdata/fake-review-client.ts';
import type { UserInfo } from './user.ts';

const alice: UserInfo = {
  username: 'alice',
  uid: 'u-1',
  groups: ['dev', 'system:authenticated'],
  extra: { scopes: ['read'], 'acme.com/project': ['p1', 'p2'] },
};
const createWfx: ResourceAttributes = {
  verb: 'create',
  group: 'execution.syncflow.io',
  version: 'v1alpha1',
  resource: 'workflowexecutions',
  namespace: 'shop',
};

describe('subjectAccessReviewSpec', () => {
  it('maps user, uid, groups and extra, and resourceAttributes without empty fields', () => {
    expect(subjectAccessReviewSpec(alice, { ...createWfx, subresource: '', name: 'run-1' })).to.deep.equal({
      user: 'alice',
      uid: 'u-1',
      groups: ['dev', 'system:authenticated'],
      extra: { 'acme.com/project': ['p1', 'p2'], scopes: ['read'] },
      resourceAttributes: {
        namespace: 'shop',
        verb: 'create',
        group: 'execution.syncflow.io',
        version: 'v1alpha1',
        resource: 'workflowexecutions',
        name: 'run-1',
      },
    });
  });

  it('maps non-resource requests to nonResourceAttributes and omits absent uid and extra', () => {
    expect(
      subjectAccessReviewSpec({ username: 'bob', groups: [], extra: {} }, { verb: 'get', path: '/metrics' }),
    ).to.deep.equal({
      user: 'bob',
      groups: [],
      nonResourceAttributes: { path: '/metrics', verb: 'get' },
    });
  });
});

describe('SubjectAccessReviewAuthorizer', () => {
  let client: FakeReviewClient;
  let clock: FakeClock;
  let registry: Registry;
  let authorizer: SubjectAccessReviewAuthorizer;
  let allowed: boolean;
  const cacheCount = async (result: string, decision: string): Promise<number> => {
    const metric = await registry.getSingleMetric('syncflow_authz_cache_total')!.get();
    return (
      metric.values.find((v) => v.labels.result === result && v.labels.decision === decision)?.value ?? 0
    );
  };

  beforeEach(() => {
    allowed = true;
    client = new FakeReviewClient();
    client.subjectAccessReview = () => ({
      status: allowed ? { allowed: true, reason: 'RBAC: allowed by RoleBinding "run"' } : { allowed: false },
    });
    clock = new FakeClock();
    registry = new Registry();
    authorizer = new SubjectAccessReviewAuthorizer({ client, now: clock.now, registry });
  });

  it('sends an authorization.k8s.io/v1 SubjectAccessReview and returns its decision', async () => {
    expect(await authorizer.authorize(alice, createWfx)).to.deep.equal({
      allowed: true,
      reason: 'RBAC: allowed by RoleBinding "run"',
    });
    expect(client.subjectAccessReviews).to.deep.equal([
      {
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SubjectAccessReview',
        spec: subjectAccessReviewSpec(alice, createWfx),
      },
    ]);
  });

  it('reports an explicit deny', async () => {
    client.subjectAccessReview = () => ({
      status: { allowed: false, denied: true, reason: 'denied by policy', evaluationError: 'x' },
    });
    expect(await authorizer.authorize(alice, createWfx)).to.deep.equal({
      allowed: false,
      denied: true,
      reason: 'denied by policy',
    });
  });

  it('never allows a review that is both allowed and denied', async () => {
    client.subjectAccessReview = () => ({ status: { allowed: true, denied: true } });
    expect(await authorizer.authorize(alice, createWfx)).to.include({ allowed: false, denied: true });
  });

  it('asks kube-apiserver even for system:masters', async () => {
    allowed = false;
    expect(
      await authorizer.authorize({ username: 'root', groups: ['system:masters'], extra: {} }, createWfx),
    ).to.include({ allowed: false });
    expect(client.subjectAccessReviews).to.have.length(1);
  });

  it('caches an allow for 10 s', async () => {
    await authorizer.authorize(alice, createWfx);
    clock.advance(9_999);
    allowed = false;
    expect(await authorizer.authorize(alice, createWfx)).to.include({ allowed: true });
    expect(client.subjectAccessReviews).to.have.length(1);
    clock.advance(1);
    expect(await authorizer.authorize(alice, createWfx)).to.include({ allowed: false });
    expect(client.subjectAccessReviews).to.have.length(2);
    expect(await cacheCount('hit', 'allow')).to.equal(1);
    expect(await cacheCount('miss', 'allow')).to.equal(1);
    expect(await cacheCount('miss', 'deny')).to.equal(1);
  });

  it('caches a deny for 2 s, so a new RoleBinding applies quickly', async () => {
    allowed = false;
    await authorizer.authorize(alice, createWfx);
    allowed = true;
    clock.advance(1_999);
    expect(await authorizer.authorize(alice, createWfx)).to.include({ allowed: false });
    clock.advance(1);
    expect(await authorizer.authorize(alice, createWfx)).to.include({ allowed: true });
    expect(await cacheCount('hit', 'deny')).to.equal(1);
  });

  it('honours configured TTLs', async () => {
    const custom = new SubjectAccessReviewAuthorizer({
      client,
      now: clock.now,
      allowTtlMs: 100,
      denyTtlMs: 0,
    });
    await custom.authorize(alice, createWfx);
    clock.advance(100);
    await custom.authorize(alice, createWfx);
    allowed = false;
    await custom.authorize(alice, { ...createWfx, verb: 'get' });
    await custom.authorize(alice, { ...createWfx, verb: 'get' });
    expect(client.subjectAccessReviews).to.have.length(4);
  });

  it('keys the cache by user, groups, extra and attributes', async () => {
    await authorizer.authorize(alice, createWfx);
    await authorizer.authorize({ ...alice, groups: ['dev'] }, createWfx);
    await authorizer.authorize({ ...alice, extra: {} }, createWfx);
    await authorizer.authorize(alice, { ...createWfx, namespace: 'other' });
    await authorizer.authorize(alice, { verb: 'get', path: '/metrics' });
    await authorizer.authorize(alice, { ...createWfx });
    expect(client.subjectAccessReviews).to.have.length(5);
  });

  it('shares a cached decision exactly between requests whose reviews are equal', async () => {
    const bob: UserInfo = { username: 'bob', groups: ['a', 'b'], extra: {} };
    const requests: Array<[UserInfo, ResourceAttributes | { verb: string; path: string }]> = [
      [bob, createWfx],
      [{ ...bob, uid: '' }, createWfx], // an empty uid is no uid
      [{ ...bob, uid: 'u' }, createWfx],
      [{ ...bob, groups: ['b', 'a'] }, createWfx], // group order is kept
      [{ ...bob, groups: ['a,b'] }, createWfx],
      [{ ...bob, groups: ['a', 'b'], extra: { x: ['1'], y: ['2'] } }, createWfx],
      [{ ...bob, groups: ['a', 'b'], extra: { y: ['2'], x: ['1'] } }, createWfx], // extra keys sorted
      [{ ...bob, extra: { x: [] } }, createWfx],
      [{ ...bob, username: 'bob","a' }, createWfx], // quoting cannot make two users one
      [bob, { ...createWfx, subresource: '', name: '' }], // empty attributes are absent ones
      [bob, { ...createWfx, name: 'run-1' }],
      [bob, { ...createWfx, namespace: undefined }],
      [bob, { verb: 'create', path: 'workflowexecutions' }],
    ];
    for (const [user, attrs] of requests) await authorizer.authorize(user, attrs);
    const distinct = new Set(requests.map(([u, a]) => JSON.stringify(subjectAccessReviewSpec(u, a))));
    expect(client.subjectAccessReviews).to.have.length(distinct.size);
    expect(distinct.size).to.equal(requests.length - 3);
    expect(client.subjectAccessReviews.map((body) => JSON.stringify(body.spec))).to.have.members([
      ...distinct,
    ]);
  });

  it('answers ServiceUnavailable when the review fails, and does not cache it', async () => {
    client.subjectAccessReview = () => Promise.reject(new Error('HTTP 500'));
    for (let i = 0; i < 2; i++) {
      try {
        await authorizer.authorize(alice, createWfx);
        expect.fail('expected a rejection');
      } catch (error) {
        expect(error).to.be.instanceOf(SyncflowError).and.include({ code: 'ServiceUnavailable' });
      }
    }
    expect(client.subjectAccessReviews).to.have.length(2);
    expect(await cacheCount('miss', 'error')).to.equal(2);
  });

  it('treats a response without status as no permission', async () => {
    client.subjectAccessReview = () => ({});
    expect(await authorizer.authorize(alice, createWfx)).to.deep.equal({ allowed: false, reason: '' });
  });
});

describe('AlwaysAllowPaths', () => {
  const denyAll: Authorizer = { authorize: async () => ({ allowed: false, reason: 'delegate' }) };
  const anonymous: UserInfo = { username: 'system:anonymous', groups: ['system:unauthenticated'], extra: {} };
  const paths = new AlwaysAllowPaths(denyAll);

  const cases: Array<[string, string, boolean]> = [
    ['get', '/livez', true],
    ['get', '/readyz', true],
    ['get', '/healthz', true],
    ['get', '/livez/ping', true],
    ['head', '/readyz/informers', true],
    ['get', '/version', true],
    ['get', '/apis', true],
    ['get', '/apis/execution.syncflow.io', true],
    ['get', '/apis/execution.syncflow.io/v1alpha1', true],
    ['get', '/openapi/v2', true],
    ['get', '/openapi/v3', true],
    ['get', '/openapi/v3/apis/execution.syncflow.io/v1alpha1', true],
    ['post', '/apis', false],
    ['get', '/metrics', false],
    ['get', '/apis/syncflow.io', false],
    ['get', '/livezz', false],
    ['get', '/openapi/v2x', false],
  ];
  for (const [verb, path, allowed] of cases) {
    it(`${allowed ? 'allows' : 'delegates'} ${verb} ${path}`, async () => {
      expect(await paths.authorize(anonymous, { verb, path })).to.include({ allowed });
    });
  }

  it('delegates every resource request', async () => {
    expect(await paths.authorize(anonymous, createWfx)).to.deep.equal({ allowed: false, reason: 'delegate' });
  });

  it('takes a custom list of paths and verbs', async () => {
    const custom = new AlwaysAllowPaths(denyAll, { paths: ['/healthz', '/debug/*'], verbs: ['get'] });
    expect(custom.allows({ verb: 'get', path: '/debug/pprof' })).to.equal(true);
    expect(custom.allows({ verb: 'get', path: '/readyz' })).to.equal(false);
    expect(custom.allows({ verb: 'head', path: '/healthz' })).to.equal(false);
  });
});

describe('forbiddenMessage', () => {
  it('phrases namespaced, cluster-scoped and non-resource requests as Kubernetes does', () => {
    expect(forbiddenMessage(alice, createWfx)).to.equal(
      'User "alice" cannot create resource "workflowexecutions" in API group "execution.syncflow.io" in the namespace "shop"',
    );
    expect(
      forbiddenMessage(
        alice,
        { ...createWfx, namespace: undefined, verb: 'list', subresource: 'status' },
        'no RBAC policy matched',
      ),
    ).to.equal(
      'User "alice" cannot list resource "workflowexecutions/status" in API group "execution.syncflow.io" at the cluster scope: no RBAC policy matched',
    );
    expect(forbiddenMessage(undefined, { verb: 'get', path: '/metrics' })).to.equal(
      'User "" cannot get path "/metrics"',
    );
  });
});
