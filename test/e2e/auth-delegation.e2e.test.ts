// Delegated authentication and authorization against a real kube-apiserver: the ConfigMap it
// publishes, TokenReview, SubjectAccessReview, and the aggregator's front-proxy requests reaching
// a server that uses apiserver/auth. Uses the shared control plane (SYNCFLOW_KUBECONFIG, or one
// started by hack/cp-up.sh for this process).
import { expect } from 'chai';
import { readFile } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { KubeConfig } from '@kubernetes/client-node';
import { SyncflowError } from '../../core/errors.ts';
import {
  AlwaysAllowPaths,
  AuthenticationConfigWatcher,
  authRequestFrom,
  createDelegatingAuthenticator,
  forbiddenMessage,
  KubernetesConfigMapSource,
  KubernetesReviewClient,
  SubjectAccessReviewAuthorizer,
  TokenReviewAuthenticator,
  tlsClientCAs,
  type NonResourceAttributes,
  type ResourceAttributes,
} from '../../apiserver/auth/index.ts';
import { ControlPlane } from '../harness/controlplane.ts';
import { restConfigOf } from '../../kube/testdata/rest-config.ts';
import {
  pokeApiServiceBackend,
  portInUse,
  stubDiscovery,
  waitForApiServiceAvailable,
} from '../harness/stub-apiservice.ts';

const GROUP_VERSION = '/apis/execution.syncflow.io/v1alpha1';

describe('delegated authentication and authorization on a real kube-apiserver', function () {
  this.timeout(10 * 60_000);
  let cp: ControlPlane;
  let serverKubeConfig: KubeConfig;
  let namespace: string;
  let watcher: AuthenticationConfigWatcher;

  before(async function () {
    cp = await ControlPlane.acquire();
    serverKubeConfig = new KubeConfig();
    serverKubeConfig.loadFromFile(cp.settings.serverKubeconfig ?? cp.settings.kubeconfig);
    namespace = await cp.createNamespace('it-auth');
    // A Role for a resource the API does not list yet (kubectl create role would check discovery).
    const role = {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: 'wfx-runner', namespace },
      rules: [
        {
          apiGroups: ['execution.syncflow.io'],
          resources: ['workflowexecutions'],
          verbs: ['create', 'list'],
        },
      ],
    };
    await cp.kubectl.ok(['apply', '-f', '-'], { stdin: JSON.stringify(role) });
    await cp.kubectl.ok([
      'create',
      'rolebinding',
      'wfx-runner',
      '-n',
      namespace,
      '--role=wfx-runner',
      '--group=wfx-runners',
    ]);
    watcher = new AuthenticationConfigWatcher({
      source: new KubernetesConfigMapSource({ kubeConfig: restConfigOf(serverKubeConfig) }),
    });
    await watcher.start();
  });

  after(async function () {
    watcher?.stop();
    if (namespace !== undefined) await cp.deleteNamespace(namespace);
  });

  it('reads the client CA and the front-proxy settings kube-apiserver publishes', async function () {
    const config = watcher.current();
    expect(config?.requestHeader).to.deep.include({
      allowedNames: ['front-proxy-client'],
      usernameHeaders: ['X-Remote-User'],
      groupHeaders: ['X-Remote-Group'],
      extraHeaderPrefixes: ['X-Remote-Extra-'],
    });
    if (cp.settings.requestheaderClientCaFile !== undefined) {
      expect(config?.requestHeader?.clientCA.trim()).to.equal(
        (await readFile(cp.settings.requestheaderClientCaFile, 'utf8')).trim(),
      );
    }
    if (cp.settings.clientCaFile !== undefined) {
      expect(config?.clientCA?.trim()).to.equal((await readFile(cp.settings.clientCaFile, 'utf8')).trim());
    }
  });

  it('authenticates a ServiceAccount token through TokenReview and rejects a forged one', async function () {
    await cp.kubectl.ok(['create', 'serviceaccount', 'caller', '-n', namespace]);
    const token = (await cp.kubectl.ok(['create', 'token', 'caller', '-n', namespace])).trim();
    const authenticator = new TokenReviewAuthenticator({
      client: new KubernetesReviewClient({ kubeConfig: restConfigOf(serverKubeConfig) }),
    });
    const req = (bearer: string) => ({
      headers: { authorization: `Bearer ${bearer}` },
      peerCertificateChain: [],
    });
    const user = await authenticator.authenticate(req(token));
    expect(user?.username).to.equal(`system:serviceaccount:${namespace}:caller`);
    expect(user?.groups).to.include.members([
      'system:serviceaccounts',
      `system:serviceaccounts:${namespace}`,
    ]);
    expect(user?.uid).to.be.a('string').and.not.equal('');
    try {
      await authenticator.authenticate(req(`${token.slice(0, -4)}AAAA`));
      expect.fail('a forged token was accepted');
    } catch (error) {
      expect(error)
        .to.be.instanceOf(SyncflowError)
        .and.include({ code: 'Unauthorized', message: 'invalid bearer token' });
    }
  });

  it('asks RBAC through SubjectAccessReview for resource and non-resource requests', async function () {
    const authorizer = new SubjectAccessReviewAuthorizer({
      client: new KubernetesReviewClient({ kubeConfig: restConfigOf(serverKubeConfig) }),
    });
    const create: ResourceAttributes = {
      verb: 'create',
      group: 'execution.syncflow.io',
      version: 'v1alpha1',
      resource: 'workflowexecutions',
      namespace,
    };
    const runner = {
      username: 'it-runner',
      groups: ['wfx-runners', 'system:authenticated'],
      extra: { scopes: ['x'] },
    };
    const outsider = { username: 'it-outsider', groups: ['system:authenticated'], extra: {} };
    expect(await authorizer.authorize(runner, create)).to.include({ allowed: true });
    expect(await authorizer.authorize(runner, { ...create, verb: 'delete' })).to.include({ allowed: false });
    expect(await authorizer.authorize(outsider, create)).to.include({ allowed: false });
    const version: NonResourceAttributes = { verb: 'get', path: '/version' };
    const anonymous = { username: 'system:anonymous', groups: ['system:unauthenticated'], extra: {} };
    expect(await authorizer.authorize(anonymous, version), 'system:public-info-viewer').to.include({
      allowed: true,
    });
    expect(await authorizer.authorize(anonymous, { verb: 'get', path: '/metrics' })).to.include({
      allowed: false,
    });
  });

  describe('behind the aggregator', function () {
    let server: Server | undefined;

    /** A minimal extension server on the APIService's port that answers with who it authenticated. */
    async function startServer(port: number): Promise<Server> {
      const { tlsCertFile, tlsKeyFile } = cp.settings;
      const [cert, key] = [await readFile(tlsCertFile!, 'utf8'), await readFile(tlsKeyFile!, 'utf8')];
      const client = new KubernetesReviewClient({ kubeConfig: restConfigOf(serverKubeConfig) });
      const authenticator = createDelegatingAuthenticator({ config: watcher, client });
      const authorizer = new AlwaysAllowPaths(new SubjectAccessReviewAuthorizer({ client }));
      const respond = (res: ServerResponse, status: number, body: unknown): void => {
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      };
      const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
        const user = await authenticator.authenticate(authRequestFrom(req));
        if (user === undefined)
          return respond(res, 401, { kind: 'Status', code: 401, reason: 'Unauthorized' });
        const path = (req.url ?? '').split('?')[0] ?? '';
        const match = new RegExp(`^${GROUP_VERSION}/namespaces/([^/]+)/workflowexecutions$`).exec(path);
        const attrs: ResourceAttributes | NonResourceAttributes = match
          ? {
              verb: 'list',
              group: 'execution.syncflow.io',
              version: 'v1alpha1',
              resource: 'workflowexecutions',
              namespace: match[1],
            }
          : { verb: (req.method ?? 'GET').toLowerCase(), path };
        const decision = await authorizer.authorize(user, attrs);
        if (!decision.allowed)
          return respond(res, 403, {
            kind: 'Status',
            code: 403,
            message: forbiddenMessage(user, attrs, decision.reason),
          });
        if (path === GROUP_VERSION) {
          return respond(res, 200, stubDiscovery(['list']));
        }
        respond(res, 200, { user });
      };
      const https = createServer(
        { cert, key, requestCert: true, rejectUnauthorized: false, ca: tlsClientCAs(watcher.current()) },
        (req, res) => {
          handle(req, res).catch((error: SyncflowError) =>
            respond(res, error.status ?? 500, { kind: 'Status', message: error.message }),
          );
        },
      );
      watcher.on('change', (config) => https.setSecureContext({ cert, key, ca: tlsClientCAs(config) }));
      await new Promise<void>((resolve) => https.listen(port, '127.0.0.1', resolve));
      return https;
    }

    before(async function () {
      const port = cp.settings.serverPort;
      // Only control planes from hack/cp-up.sh route the APIService to a local port with known certificates.
      if (port === undefined || cp.settings.tlsCertFile === undefined || cp.settings.tlsKeyFile === undefined)
        this.skip();
      if (await portInUse(port)) this.skip(); // a real syncflow server owns the port
      server = await startServer(port);
      await pokeApiServiceBackend(cp);
      expect(await waitForApiServiceAvailable(cp, 90), 'APIService Available').to.equal('True');
    });

    after(async function () {
      if (server === undefined) return;
      server.closeAllConnections();
      await new Promise((resolve) => server?.close(resolve));
      await pokeApiServiceBackend(cp);
    });

    it('authenticates the user the front proxy forwards', async function () {
      const result = await cp.kubectl.run(
        ['get', '--raw', `${GROUP_VERSION}/namespaces/${namespace}/workflowexecutions`],
        {
          as: { user: 'it-alice', groups: ['wfx-runners'] },
        },
      );
      expect(result.code, result.stderr).to.equal(0);
      const { user } = JSON.parse(result.stdout) as { user: { username: string; groups: string[] } };
      expect(user.username).to.equal('it-alice');
      expect(user.groups).to.include.members(['wfx-runners', 'system:authenticated']);
    });

    it('answers Forbidden, in Kubernetes words, for a user RBAC does not allow', async function () {
      const result = await cp.kubectl.run(
        ['get', '--raw', `${GROUP_VERSION}/namespaces/${namespace}/workflowexecutions`],
        {
          as: { user: 'it-bob' },
        },
      );
      expect(result.code).to.not.equal(0);
      expect(result.stderr).to.contain(
        `User "it-bob" cannot list resource "workflowexecutions" in API group "execution.syncflow.io" in the namespace "${namespace}"`,
      );
    });

    it('does not trust X-Remote-User sent directly without the front-proxy certificate', async function () {
      const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request(
          {
            host: '127.0.0.1',
            port: cp.settings.serverPort,
            path: `${GROUP_VERSION}/namespaces/${namespace}/workflowexecutions`,
            rejectUnauthorized: false,
            agent: false,
            headers: { 'X-Remote-User': 'it-alice', 'X-Remote-Group': ['wfx-runners', 'system:masters'] },
          },
          (res) => {
            let body = '';
            res.on('data', (chunk: Buffer) => (body += chunk.toString()));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
          },
        );
        req.on('error', reject);
        req.end();
      });
      expect(answer.status, answer.body).to.equal(401);
    });
  });
});
