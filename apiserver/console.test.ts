// The console as `syncflow server` serves it at /console/: its files, and its API calls forwarded to
// kube-apiserver with the browser's own bearer token, never the server's identity.
import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { WebSocket } from 'ws';
import { EchoApiServer, kubeConfigFor } from '../kube/testdata/console-fakes.ts';
import { restConfigOf } from '../kube/testdata/rest-config.ts';
import { buildApp } from './app.ts';
import { consoleRoutes, consoleUpgrades } from './console.ts';
import type { ExecutionService } from './execution/service.ts';
import type { ExecutionStore } from '../history/store.ts';
import type { RequestGuard } from './http/guard.ts';

describe('the console in the server application (/console/)', () => {
  let upstream: EchoApiServer;
  let server: Server;
  let base: string;
  let dist: string;
  const API = '/console/k8s/apis/execution.syncflow.io/v1alpha1/namespaces/shop/workflowexecutions';

  const start = async (distDir: string | undefined, kubeApi: string) => {
    const handler = buildApp({
      // The console's routes never reach the execution parts.
      service: {} as ExecutionService,
      store: {} as ExecutionStore,
      guard: {} as RequestGuard,
      registry: new Registry(),
      readiness: [],
      maxInFlight: 0,
      // The server's own identity: it must never reach kube-apiserver on a browser's behalf.
      console: consoleRoutes({
        kubeConfig: restConfigOf(kubeConfigFor(kubeApi, 'server-sa-token')),
        distDir,
      }),
    });
    const s = createServer(handler);
    const upgrade = consoleUpgrades({ kubeConfig: restConfigOf(kubeConfigFor(kubeApi, 'server-sa-token')) });
    s.on('upgrade', (req, socket, head) => {
      if (!upgrade(req, socket, head)) socket.end('HTTP/1.1 404 Not Found\r\n\r\n');
    });
    await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
    return s;
  };

  before(async () => {
    upstream = new EchoApiServer();
    const upstreamUrl = await upstream.listen();
    dist = await mkdtemp(join(tmpdir(), 'console-dist-'));
    await writeFile(join(dist, 'index.html'), '<!doctype html><title>syncflow console</title>');
    server = await start(dist, upstreamUrl);
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    server.close();
    await upstream.close();
    await rm(dist, { recursive: true, force: true });
  });
  beforeEach(() => (upstream.seen.length = 0));

  it('serves the built console at /console/ (and sends /console there)', async () => {
    const page = await fetch(`${base}/console/`);
    expect(page.status).to.equal(200);
    expect(await page.text()).to.contain('syncflow console');
    expect(page.headers.get('x-frame-options')).to.equal('DENY');
    const bare = await fetch(`${base}/console`, { redirect: 'manual' });
    expect(bare.status).to.equal(301);
    expect(bare.headers.get('location')).to.equal('/console/');
  });

  it('tells the page to call the API under /console/k8s with a bearer token', async () => {
    const config = await fetch(`${base}/console/config.json`);
    expect(await config.json()).to.deep.equal({ apiBase: '/console/k8s', auth: 'bearer' });
  });

  it("forwards the browser's bearer token as the user's own, never the server's", async () => {
    const response = await fetch(`${API}?limit=1`.replace(/^/, base), {
      headers: { authorization: 'Bearer user-token' },
    });
    expect(response.status).to.equal(200);
    expect(upstream.seen[0]?.url).to.equal(
      '/apis/execution.syncflow.io/v1alpha1/namespaces/shop/workflowexecutions?limit=1',
    );
    expect(upstream.seen[0]?.headers.authorization).to.equal('Bearer user-token');
  });

  it('a user without RBAC sees the 403 kube-apiserver gives them, not what the server could see', async () => {
    const response = await fetch(`${base}${API}`, { headers: { authorization: 'Bearer nobody' } });
    expect(response.status).to.equal(403);
    expect(JSON.stringify(upstream.seen)).not.to.contain('server-sa-token');
  });

  it('refuses a call without a bearer token (401) instead of sending it anonymously or as the server', async () => {
    const response = await fetch(`${base}${API}`);
    expect(response.status).to.equal(401);
    expect(((await response.json()) as { message: string }).message).to.match(/bearer token/);
    expect(upstream.seen).to.have.length(0);
  });

  it('refuses a call from another origin (403) and calls the console does not make (403)', async () => {
    const foreign = await fetch(`${base}${API}`, {
      headers: { authorization: 'Bearer user-token', origin: 'https://evil.example' },
    });
    expect(foreign.status).to.equal(403);
    const secrets = await fetch(`${base}/console/k8s/api/v1/namespaces/shop/secrets`, {
      headers: { authorization: 'Bearer user-token' },
    });
    expect(secrets.status).to.equal(403);
    expect(((await secrets.json()) as { message: string }).message).to.contain(
      'GET /api/v1/namespaces/shop/secrets',
    );
    expect(upstream.seen).to.have.length(0);
  });

  it('a call from its own origin passes', async () => {
    const response = await fetch(`${base}${API}`, {
      headers: { authorization: 'Bearer user-token', origin: base.replace('http:', 'https:') },
    });
    expect(response.status).to.equal(200);
  });

  it('says how to build the console when this server has none', async () => {
    const bare = await start(undefined, 'http://127.0.0.1:1');
    try {
      const response = await fetch(`http://127.0.0.1:${(bare.address() as AddressInfo).port}/console/`);
      expect(response.status).to.equal(404);
      expect(await response.text()).to.match(/hack\/console\.sh/);
    } finally {
      bare.close();
    }
  });

  describe('the live-events stream over WebSocket (the browser cannot set Authorization)', () => {
    const STREAM =
      '/console/k8s/apis/execution.syncflow.io/v1alpha1/namespaces/shop/workflowexecutions/-/stream';
    const bearer = (token: string) =>
      `base64url.bearer.authorization.k8s.io.${Buffer.from(token).toString('base64url')}`;
    const refusedWith = async (socket: WebSocket) => {
      socket.on('error', () => undefined);
      const [, response] = (await once(socket, 'unexpected-response')) as [unknown, { statusCode: number }];
      socket.terminate();
      return response.statusCode;
    };

    it('forwards the token the page offers as a subprotocol as the Authorization of the user, and not the protocol', async () => {
      const socket = new WebSocket(`${base.replace('http', 'ws')}${STREAM}`, [
        bearer('user-token'),
        'stream.syncflow.io',
      ]);
      const [message] = (await once(socket, 'message')) as [Buffer];
      expect(socket.protocol).to.equal('stream.syncflow.io');
      socket.close();
      expect(JSON.parse(message.toString())).to.deep.equal({
        type: 'ADDED',
        url: STREAM.slice('/console/k8s'.length),
        authorization: 'Bearer user-token',
        protocols: 'stream.syncflow.io',
      });
    });

    it('refuses an upgrade without a token (401), from another origin (403) or to a path the console does not use (403)', async () => {
      expect(
        await refusedWith(new WebSocket(`${base.replace('http', 'ws')}${STREAM}`, ['stream.syncflow.io'])),
      ).to.equal(401);
      expect(
        await refusedWith(
          new WebSocket(
            `${base.replace('http', 'ws')}${STREAM}`,
            [bearer('user-token'), 'stream.syncflow.io'],
            {
              origin: 'https://evil.example',
            },
          ),
        ),
      ).to.equal(403);
      expect(
        await refusedWith(
          new WebSocket(`${base.replace('http', 'ws')}/console/k8s/api/v1/namespaces/shop/pods?watch=1`, [
            bearer('user-token'),
            'stream.syncflow.io',
          ]),
        ),
      ).to.equal(403);
      expect(upstream.seen).to.have.length(0);
      expect(upstream.sockets.clients.size).to.equal(0);
    });

    it('leaves upgrades outside /console/ to the server (the stream and watches of the API)', () => {
      const upgrade = consoleUpgrades({ kubeConfig: restConfigOf(kubeConfigFor('http://127.0.0.1:1')) });
      const req = { url: '/stream/v1', headers: {} } as never;
      expect(upgrade(req, {} as never, Buffer.alloc(0))).to.equal(false);
    });
  });
});
