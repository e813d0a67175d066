// The development control plane itself: one Kubernetes release for server and kubectl, and client-go.
import { readFile } from 'node:fs/promises';
import { expect } from 'chai';
import { ClientGo } from '../harness/clientgo.ts';
import { Kubectl } from '../harness/kubectl.ts';
import { ControlPlane } from '../harness/controlplane.ts';

interface VersionView {
  clientVersion: { gitVersion: string; major: string; minor: string };
  serverVersion: { gitVersion: string; major: string; minor: string };
}

describe('development control plane', function () {
  this.timeout(60 * 60_000);
  let cp: ControlPlane;

  before(async function () {
    cp = await ControlPlane.acquire();
  });

  it('runs kubectl and kube-apiserver built from the same Kubernetes release', async function () {
    const version = await cp.kubectl.json<VersionView>(['version']);
    expect(version.clientVersion.gitVersion).to.equal(version.serverVersion.gitVersion);
    expect(version.serverVersion.gitVersion).to.match(/^v1\.\d+\.\d+$/);
    expect(Number(version.serverVersion.minor)).to.be.at.least(34);
    if (cp.settings.kubernetesVersion !== undefined) {
      expect(version.serverVersion.gitVersion).to.equal(cp.settings.kubernetesVersion);
    }
  });

  it('answers /readyz with every check passing', async function () {
    const readyz = await cp.kubectl.ok(['get', '--raw', '/readyz?verbose']);
    expect(readyz).to.match(/readyz check passed\s*$/);
    expect(readyz).to.include('[+]etcd ok');
  });

  it('publishes the requestheader and client CA configuration extension servers read', async function () {
    const { requestheaderClientCaFile, clientCaFile } = cp.settings;
    // Only control planes from hack/cp-up.sh (what the test command uses) provide this; a kind cluster does not.
    if (requestheaderClientCaFile === undefined || clientCaFile === undefined) this.skip();
    const configMap = await cp.kubectl.json<{ data: Record<string, string> }>([
      'get',
      'configmap',
      'extension-apiserver-authentication',
      '-n',
      'kube-system',
    ]);
    expect(configMap.data['requestheader-client-ca-file']?.trim()).to.equal(
      (await readFile(requestheaderClientCaFile, 'utf8')).trim(),
    );
    expect(configMap.data['client-ca-file']?.trim()).to.equal((await readFile(clientCaFile, 'utf8')).trim());
    expect(JSON.parse(configMap.data['requestheader-allowed-names'] ?? '[]')).to.deep.equal([
      'front-proxy-client',
    ]);
    expect(JSON.parse(configMap.data['requestheader-username-headers'] ?? '[]')).to.deep.equal([
      'X-Remote-User',
    ]);
    expect(JSON.parse(configMap.data['requestheader-group-headers'] ?? '[]')).to.deep.equal([
      'X-Remote-Group',
    ]);
    expect(JSON.parse(configMap.data['requestheader-extra-headers-prefix'] ?? '[]')).to.deep.equal([
      'X-Remote-Extra-',
    ]);
  });

  it('lets the syncflow server identity delegate authn/authz and read definitions, nothing more', async function () {
    const { serverKubeconfig } = cp.settings;
    // Only control planes from hack/cp-up.sh (what the test command uses) provide this; a kind cluster does not.
    if (serverKubeconfig === undefined) this.skip();
    const server = new Kubectl(cp.settings.kubectl, serverKubeconfig);
    const whoami = await server.json<{ status: { userInfo: { username: string } } }>(['auth', 'whoami']);
    expect(whoami.status.userInfo.username).to.equal('system:serviceaccount:syncflow-system:syncflow');
    const canI = async (...args: string[]) => (await server.run(['auth', 'can-i', ...args])).stdout.trim();
    expect(await canI('create', 'tokenreviews.authentication.k8s.io')).to.equal('yes');
    expect(await canI('create', 'subjectaccessreviews.authorization.k8s.io')).to.equal('yes');
    expect(await canI('get', 'configmap/extension-apiserver-authentication', '-n', 'kube-system')).to.equal(
      'yes',
    );
    expect(await canI('watch', 'workflows.syncflow.io', '--all-namespaces')).to.equal('yes');
    expect(await canI('update', 'workflows.syncflow.io', '--subresource=status', '-n', 'default')).to.equal(
      'yes',
    );
    expect(await canI('delete', 'workflows.syncflow.io', '-n', 'default')).to.equal('no');
  });

  describe('client-go (test/clientgo)', function () {
    let clientgo: ClientGo;
    let namespace: string;

    before(async function () {
      clientgo = await ClientGo.forKubeconfig(cp.settings.kubeconfig);
      namespace = await cp.createNamespace('e2e-clientgo');
      await cp.kubectl.ok(['apply', '-f', '-'], {
        stdin: JSON.stringify({
          apiVersion: 'v1',
          kind: 'List',
          items: [
            {
              apiVersion: 'syncflow.io/v1alpha1',
              kind: 'WorkflowTask',
              metadata: { name: 'ping', namespace },
              spec: { http: { method: 'GET', url: 'http://ping.example.svc/' } },
            },
            {
              apiVersion: 'syncflow.io/v1alpha1',
              kind: 'Workflow',
              metadata: { name: 'ping', namespace },
              spec: { tasks: [{ id: 'ping', taskRef: { name: 'ping' } }] },
            },
          ],
        }),
      });
    });

    after(async function () {
      if (namespace !== undefined) await cp.deleteNamespace(namespace);
    });

    it('lists Workflows with the dynamic client', async function () {
      const result = await clientgo.run(namespace, 'list-workflows');
      expect(result.code, result.stderr).to.equal(0);
      const list = JSON.parse(result.stdout) as { items: { metadata: { name: string } }[] };
      expect(list.items.map((item) => item.metadata.name)).to.deep.equal(['ping']);
    });

    it('reports a usage error for create-execution without -workflow', async function () {
      const result = await clientgo.run(namespace, 'create-execution');
      expect(result.code).to.equal(2);
      expect(result.stderr).to.include('-workflow is required');
    });
  });
});
