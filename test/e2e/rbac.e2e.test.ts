// RBAC decides who may touch Workflows: an identity without a binding is Forbidden, a bound one is not.
import { ApiException, CustomObjectsApi } from '@kubernetes/client-node';
import { expect } from 'chai';
import { ControlPlane } from '../harness/controlplane.ts';

const workflows = { group: 'syncflow.io', version: 'v1alpha1', plural: 'workflows' } as const;

describe('RBAC for syncflow definitions', function () {
  this.timeout(60 * 60_000);
  let cp: ControlPlane;
  let namespace: string;
  const nobody = { user: 'e2e-nobody', groups: ['e2e-visitors'] };
  const reader = { user: 'e2e-reader', groups: ['e2e-readers'] };

  before(async function () {
    cp = await ControlPlane.acquire();
    namespace = await cp.createNamespace('e2e-rbac');
    // The reader's group may read Workflows in this namespace and do nothing else.
    await cp.kubectl.ok([
      'create',
      'role',
      'workflow-reader',
      '-n',
      namespace,
      '--verb=get,list,watch',
      '--resource=workflows.syncflow.io',
    ]);
    await cp.kubectl.ok([
      'create',
      'rolebinding',
      'workflow-reader',
      '-n',
      namespace,
      '--role=workflow-reader',
      `--group=${reader.groups[0]}`,
    ]);
  });

  after(async function () {
    if (namespace !== undefined) await cp.deleteNamespace(namespace);
  });

  it('forbids an impersonated user without a binding to list workflows', async function () {
    const result = await cp.kubectl.run(['get', 'workflows', '-n', namespace], { as: nobody });
    expect(result.code).to.not.equal(0);
    expect(result.stderr).to.include(
      `workflows.syncflow.io is forbidden: User "${nobody.user}" cannot list resource "workflows" ` +
        `in API group "syncflow.io" in the namespace "${namespace}"`,
    );
  });

  it('lets an impersonated group member with a Role list workflows but not create them', async function () {
    const list = await cp.kubectl.run(['get', 'workflows', '-n', namespace], { as: reader });
    expect(list.code, list.stderr).to.equal(0);
    const canCreate = await cp.kubectl.run(
      ['auth', 'can-i', 'create', 'workflows.syncflow.io', '-n', namespace],
      {
        as: reader,
      },
    );
    expect(canCreate.stdout.trim()).to.equal('no');
  });

  it('answers 403 to a client-node client authenticated by a client certificate without a binding', async function () {
    // Minting client certificates needs the client CA key, which only hack/cp-up.sh control planes expose.
    if (cp.settings.clientCaFile === undefined) this.skip();
    const api = (await cp.kubeConfig(nobody)).makeApiClient(CustomObjectsApi);
    const error = await api.listNamespacedCustomObject({ ...workflows, namespace }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).to.be.instanceOf(ApiException);
    expect((error as ApiException<unknown>).code).to.equal(403);
  });

  it('lets a client-node client with the reader group list workflows', async function () {
    // Minting client certificates needs the client CA key, which only hack/cp-up.sh control planes expose.
    if (cp.settings.clientCaFile === undefined) this.skip();
    const api = (await cp.kubeConfig(reader)).makeApiClient(CustomObjectsApi);
    const list = (await api.listNamespacedCustomObject({ ...workflows, namespace })) as {
      kind: string;
      items: unknown[];
    };
    expect(list.kind).to.equal('WorkflowList');
    expect(list.items).to.be.an('array');
  });
});
