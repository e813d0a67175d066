import { expect } from 'chai';
import { once } from 'node:events';
import { mkdtemp, mkdir, writeFile, rm } from 'node:fs/promises';
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { WebSocket } from 'ws';
import { EchoApiServer, kubeConfigFor } from './testdata/console-fakes.ts';
import {
  bearerFromProtocols,
  consoleApiCall,
  consoleDistDir,
  forwardToKube,
  forwardUpgradeToKube,
  kubeTarget,
} from './console-api.ts';

describe('the console API calls (kube/console-api)', () => {
  describe('consoleApiCall', () => {
    const cases: Array<[string, string, boolean]> = [
      ['GET', '/version', true],
      ['GET', '/api/v1/namespaces', true],
      ['GET', '/apis/syncflow.io/v1alpha1/namespaces/shop/workflows', true],
      ['GET', '/apis/syncflow.io/v1alpha1/namespaces/shop/workflows/user-profile', true],
      ['GET', '/apis/syncflow.io/v1alpha1/namespaces/shop/workflowtasks', true],
      ['GET', '/apis/syncflow.io/v1alpha1/workflows', true],
      ['GET', '/apis/execution.syncflow.io/v1alpha1/namespaces/shop/workflowexecutions', true],
      ['GET', '/apis/execution.syncflow.io/v1alpha1/namespaces/shop/workflowexecutions/x-1', true],
      ['GET', '/apis/execution.syncflow.io/v1alpha1/namespaces/shop/workflowrevisions', true],
      ['GET', '/apis/execution.syncflow.io/v1alpha1/circuitbreakers', true],
      ['GET', '/apis/execution.syncflow.io/v1alpha1/namespaces/shop/circuitbreakers', false],
      ['DELETE', '/apis/execution.syncflow.io/v1alpha1/circuitbreakers', false],
      ['POST', '/apis/execution.syncflow.io/v1alpha1/namespaces/shop/workflowexecutions', true],
      ['POST', '/apis/syncflow.io/v1alpha1/namespaces/shop/workflows', true],
      ['PUT', '/apis/syncflow.io/v1alpha1/namespaces/shop/workflowtasks/get-user', true],
      ['POST', '/apis/syncflow.io/v1alpha1/workflows', false],
      ['PUT', '/apis/syncflow.io/v1alpha1/namespaces/shop/workflows/a/status', false],
      ['DELETE', '/apis/syncflow.io/v1alpha1/namespaces/shop/workflows/user-profile', false],
      ['DELETE', '/apis/execution.syncflow.io/v1alpha1/namespaces/shop/workflowexecutions/x', false],
      ['GET', '/api/v1/namespaces/shop/secrets', false],
      ['GET', '/api/v1/namespaces/shop/secrets/token', false],
      ['GET', '/apis/syncflow.io/v1alpha1/namespaces/shop/workflows/../../../../api/v1/secrets', false],
      ['GET', '/apis/syncflow.io/v1alpha1/namespaces/shop/workflows/a%2Fb', false],
      ['GET', '/apis/apps/v1/deployments', false],
      ['GET', '/apis/syncflow.io/v1alpha1/namespaces/shop/workflows/a/status', false],
    ];
    for (const [method, path, allowed] of cases) {
      it(`${allowed ? 'forwards' : 'refuses'} ${method} ${path}`, () => {
        expect(consoleApiCall(method, path)).to.equal(allowed);
      });
    }

    const STREAM = '/apis/execution.syncflow.io/v1alpha1/namespaces/shop/workflowexecutions/-/stream';
    it('forwards the live-events stream only as a WebSocket upgrade (GET), not as a plain request', () => {
      expect(consoleApiCall('GET', STREAM, { upgrade: true })).to.equal(true);
      expect(consoleApiCall('GET', STREAM)).to.equal(false);
      expect(consoleApiCall('POST', STREAM, { upgrade: true })).to.equal(false);
      expect(
        consoleApiCall('GET', STREAM.replace('/-/stream', '/x/stream'), { upgrade: true }),
        'another subresource name',
      ).to.equal(false);
      expect(consoleApiCall('GET', STREAM.replace('/namespaces/shop', ''), { upgrade: true })).to.equal(
        false,
      );
    });
  });

  describe('bearerFromProtocols', () => {
    it('reads the bearer token a browser offers as a subprotocol and keeps the other protocols', () => {
      const token = Buffer.from('a.b-c').toString('base64url');
      expect(
        bearerFromProtocols(`base64url.bearer.authorization.k8s.io.${token}, stream.syncflow.io`),
      ).to.deep.equal({ token: 'a.b-c', protocols: ['stream.syncflow.io'] });
    });
    it('has no token when none is offered (or an empty one)', () => {
      expect(bearerFromProtocols('stream.syncflow.io')).to.deep.equal({
        token: undefined,
        protocols: ['stream.syncflow.io'],
      });
      expect(bearerFromProtocols('base64url.bearer.authorization.k8s.io.').token).to.equal(undefined);
      expect(bearerFromProtocols(undefined)).to.deep.equal({ token: undefined, protocols: [] });
    });
  });

  describe('forwarding', () => {
    let upstream: EchoApiServer;
    let upstreamUrl: string;
    let front: Server;
    let frontUrl: string;
    let mode: { config: KubeConfig; authorization?: (req: IncomingMessage) => string | undefined };

    before(async () => {
      upstream = new EchoApiServer();
      upstreamUrl = await upstream.listen();
      front = createServer(async (req, res) => {
        const target = await kubeTarget(mode.config);
        const authorization = mode.authorization?.(req);
        forwardToKube(req, res, target, { ...(authorization ? { authorization } : {}) });
      });
      front.on('upgrade', async (req, socket, head) => {
        const target = await kubeTarget(mode.config);
        forwardUpgradeToKube(req, socket, head, target, {});
      });
      front.listen(0, '127.0.0.1');
      await once(front, 'listening');
      frontUrl = `http://127.0.0.1:${(front.address() as AddressInfo).port}`;
    });
    after(async () => {
      front.closeAllConnections();
      front.close();
      await upstream.close();
    });
    beforeEach(() => (upstream.seen.length = 0));

    it('sends the kubeconfig credentials, the path, query and body, and never the browser cookie', async () => {
      mode = { config: kubeConfigFor(upstreamUrl, 'kubeconfig-token') };
      const path = '/apis/execution.syncflow.io/v1alpha1/namespaces/shop/workflowexecutions?dryRun=All';
      const response = await fetch(`${frontUrl}${path}`, {
        method: 'POST',
        headers: { cookie: 'secret=1', 'content-type': 'application/json', authorization: 'Bearer browser' },
        body: '{"spec":{}}',
      });
      expect(response.status).to.equal(200);
      const seen = upstream.seen[0];
      expect(seen?.url).to.equal(path);
      expect(seen?.body).to.equal('{"spec":{}}');
      expect(seen?.headers.authorization).to.equal('Bearer kubeconfig-token');
      expect(seen?.headers.cookie).to.equal(undefined);
      expect(response.headers.get('cache-control')).to.equal('no-store');
    });

    it("forwards the browser's own bearer token when told to, and its 403 unchanged", async () => {
      mode = {
        config: kubeConfigFor(upstreamUrl),
        authorization: (req) => req.headers.authorization,
      };
      const response = await fetch(`${frontUrl}/version`, { headers: { authorization: 'Bearer nobody' } });
      expect(response.status).to.equal(403);
      expect(upstream.seen[0]?.headers.authorization).to.equal('Bearer nobody');
    });

    it('answers 502 with a Status when kube-apiserver cannot be reached', async () => {
      mode = { config: kubeConfigFor('http://127.0.0.1:1') };
      const response = await fetch(`${frontUrl}/version`);
      expect(response.status).to.equal(502);
      const status = (await response.json()) as { kind: string; message: string };
      expect(status.kind).to.equal('Status');
      expect(status.message).to.match(/kube-apiserver/);
    });

    it('forwards a WebSocket watch with the kubeconfig credentials', async () => {
      mode = { config: kubeConfigFor(upstreamUrl, 'kubeconfig-token') };
      const socket = new WebSocket(
        `${frontUrl.replace('http', 'ws')}/apis/syncflow.io/v1alpha1/namespaces/shop/workflows?watch=1`,
      );
      const [message] = (await once(socket, 'message')) as [Buffer];
      socket.close();
      expect(JSON.parse(message.toString())).to.deep.equal({
        type: 'ADDED',
        url: '/apis/syncflow.io/v1alpha1/namespaces/shop/workflows?watch=1',
        authorization: 'Bearer kubeconfig-token',
      });
    });

    it('answers a WebSocket upgrade kube-apiserver refuses with its status', async () => {
      mode = { config: kubeConfigFor('http://127.0.0.1:1') };
      const status = await new Promise<number>((resolve) => {
        const req = request(`${frontUrl}/version`, {
          headers: { connection: 'Upgrade', upgrade: 'websocket' },
        });
        req.on('response', (res) => resolve(res.statusCode ?? 0));
        req.end();
      });
      expect(status).to.equal(502);
    });
  });

  describe('consoleDistDir', () => {
    let root: string;
    before(async () => {
      root = await mkdtemp(join(tmpdir(), 'console-dist-'));
      await mkdir(join(root, 'a/console/dist'), { recursive: true });
      await writeFile(join(root, 'a/console/dist/index.html'), '<!doctype html>');
      await mkdir(join(root, 'a/dist/cli'), { recursive: true });
    });
    after(() => rm(root, { recursive: true, force: true }));

    it('finds the built console from the source tree and from the compiled tree', () => {
      const built = join(root, 'a/console/dist');
      expect(consoleDistDir(new URL(`file://${root}/a/cli/console.ts`))).to.equal(built);
      expect(consoleDistDir(new URL(`file://${root}/a/dist/cli/console.js`))).to.equal(built);
    });

    it('is undefined when the console was not built', () => {
      expect(consoleDistDir(new URL(`file://${root}/b/cli/console.ts`))).to.equal(undefined);
    });
  });
});
