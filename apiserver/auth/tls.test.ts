import { expect } from 'chai';
import { once } from 'node:events';
import { Agent, createServer, request, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { SyncflowError } from '../../core/errors.ts';
import type { ConfigMapSource } from '../../kube/configmap-source.ts';
import { AuthenticationConfigWatcher, tlsClientCAs } from './authentication-config.ts';
import { authRequestFrom, createDelegatingAuthenticator } from './authenticator.ts';
import { FakeReviewClient } from './testdata/fake-review-client.ts';
import { authenticationConfigMapData, testPki, type Issued, type TestPki } from './testdata/pki.ts';

interface Answer {
  status: number;
  reusedSocket?: boolean;
  body: { user?: unknown; code?: string; message?: string; presented?: number };
}

describe('authentication over a real TLS connection', function () {
  this.timeout(30_000);
  let p: TestPki;
  let server: Server;
  let port: number;
  let watcher: AuthenticationConfigWatcher;
  let push: (data: Record<string, string>) => void = () => undefined;

  before(async () => {
    p = testPki();
    const source: ConfigMapSource = {
      get: async () => authenticationConfigMapData(),
      watch: (onChange) => {
        push = onChange;
        return () => undefined;
      },
    };
    watcher = new AuthenticationConfigWatcher({ source, resyncIntervalMs: 0 });
    const config = await watcher.start();
    const authenticator = createDelegatingAuthenticator({ config: watcher, client: new FakeReviewClient() });
    server = createServer(
      {
        key: p.server.keyPem,
        cert: p.server.certPem,
        requestCert: true,
        rejectUnauthorized: false,
        ca: tlsClientCAs(config),
      },
      (req, res) => {
        const authRequest = authRequestFrom(req);
        const presented = authRequest.peerCertificateChain.length;
        authenticator.authenticate(authRequest).then(
          (user) => res.writeHead(user ? 200 : 401).end(JSON.stringify({ user })),
          (error: SyncflowError) =>
            res
              .writeHead(error.status)
              .end(JSON.stringify({ code: error.code, message: error.message, presented })),
        );
      },
    );
    // What the lead's server does: new CAs for the TLS handshake whenever the ConfigMap changes.
    watcher.on('change', (next) => {
      server.setSecureContext({ key: p.server.keyPem, cert: p.server.certPem, ca: tlsClientCAs(next) });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
  });

  after(async () => {
    watcher.stop();
    server.close();
  });

  function call(
    client: { identity?: Issued; chain?: Issued[]; agent?: Agent },
    headers: Record<string, string | string[]> = {},
  ): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port,
          path: '/apis',
          agent: client.agent ?? false,
          rejectUnauthorized: false,
          headers,
          ...(client.identity
            ? {
                key: client.identity.keyPem,
                cert: [client.identity, ...(client.chain ?? [])].map((c) => c.certPem).join(''),
              }
            : {}),
        },
        (res) => {
          const reusedSocket = req.reusedSocket;
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (text += chunk));
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              body: JSON.parse(text) as Answer['body'],
              ...(client.agent ? { reusedSocket } : {}),
            }),
          );
        },
      );
      req.on('error', reject);
      req.end();
    });
  }

  it('reads repeated X-Remote-Group lines as separate groups from the front proxy', async () => {
    const answer = await call(
      { identity: p.frontProxyClient },
      { 'X-Remote-User': 'alice', 'X-Remote-Group': ['dev', 'ops, qa'], 'X-Remote-Extra-Scopes': ['a', 'b'] },
    );
    expect(answer).to.deep.equal({
      status: 200,
      body: {
        user: {
          username: 'alice',
          groups: ['dev', 'ops, qa', 'system:authenticated'],
          extra: { scopes: ['a', 'b'] },
        },
      },
    });
  });

  it('ignores X-Remote-User from a client without the front-proxy certificate', async () => {
    expect(await call({}, { 'X-Remote-User': 'admin', 'X-Remote-Group': 'system:masters' })).to.deep.equal({
      status: 401,
      body: {},
    });
  });

  it('authenticates a client certificate and ignores its forged headers', async () => {
    const answer = await call({ identity: p.alice }, { 'X-Remote-User': 'admin' });
    expect(answer.body.user).to.deep.equal({
      username: 'alice',
      groups: ['dev', 'ops', 'system:authenticated'],
      extra: {},
    });
  });

  it('follows the intermediate a client sends with its certificate', async function () {
    const answer = await call({ identity: p.bob, chain: [p.intermediateCA] });
    // Node 20 exposes the certificates a client presented (the issuer chain of
    // getPeerX509Certificate()); Node 24 gives the server the leaf alone, so there an intermediate
    // must be in the CA bundle (next test). Skipped where the runtime reports one certificate.
    if (answer.body.presented === 1) this.skip();
    expect(answer.body.user, JSON.stringify(answer)).to.include({ username: 'bob' });
  });

  it('accepts a leaf whose intermediate CA is in the bundle beside its root', async () => {
    push(
      authenticationConfigMapData({
        'client-ca-file': p.clientCA.certPem + p.intermediateCA.certPem + p.rootCA.certPem,
      }),
    );
    try {
      expect((await call({ identity: p.bob })).body.user).to.include({ username: 'bob' });
    } finally {
      push(authenticationConfigMapData());
    }
  });

  it('refuses a leaf whose intermediate CA is in the bundle without its root (OpenSSL needs the root)', async () => {
    push(authenticationConfigMapData({ 'client-ca-file': p.clientCA.certPem + p.intermediateCA.certPem }));
    try {
      const answer = await call({ identity: p.bob });
      expect(answer.status).to.equal(401);
      expect(answer.body.message).to.contain(
        'client certificate verification failed: certificate CN="bob" is not signed by a trusted CA',
      );
    } finally {
      push(authenticationConfigMapData());
    }
  });

  describe('refuses what OpenSSL refuses at the handshake', () => {
    const cases: Array<{ title: string; client: (p: TestPki) => Issued[]; extraCA: (p: TestPki) => Issued }> =
      [
        {
          title: 'a chain through a CA below a root whose path length is 0',
          client: (p) => [p.dave, p.pathLenViolatingCA],
          extraCA: (p) => p.pathLenZeroCA,
        },
        {
          title: 'a certificate issued by a CA whose key usage lacks keyCertSign',
          client: (p) => [p.erin],
          extraCA: (p) => p.noCertSignCA,
        },
        {
          title: 'a certificate carrying an unknown critical extension',
          client: (p) => [p.unknownCritical],
          extraCA: (p) => p.clientCA,
        },
        {
          title: "a certificate outside its CA's name constraints",
          client: (p) => [p.mallory],
          extraCA: (p) => p.nameConstrainedCA,
        },
      ];
    for (const c of cases) {
      it(`refuses ${c.title} with 401`, async () => {
        const [leaf, ...chain] = c.client(p) as [Issued, ...Issued[]];
        const cn = leaf.cert.subject
          .split('\n')
          .find((line) => line.startsWith('CN='))
          ?.slice(3);
        push(authenticationConfigMapData({ 'client-ca-file': p.clientCA.certPem + c.extraCA(p).certPem }));
        try {
          const answer = await call({ identity: leaf, chain }, { 'X-Remote-User': 'admin' });
          expect(answer.status, JSON.stringify(answer)).to.equal(401);
          expect(answer.body.code).to.equal('Unauthorized');
          expect(answer.body.message).to.contain(
            `client certificate verification failed: certificate CN="${cn}"`,
          );
          expect(answer.body.message).to.contain(`front-proxy verification failed: certificate CN="${cn}"`);
        } finally {
          push(authenticationConfigMapData());
        }
      });
    }
  });

  it('does not take a front-proxy certificate as a cluster client certificate', async () => {
    const answer = await call({ identity: p.frontProxyClient });
    expect(answer.status).to.equal(401);
    expect(answer.body.message).to.equal(
      'client certificate verification failed: certificate CN="front-proxy-client" is not signed by a trusted CA',
    );
  });

  it('does not take a cluster client certificate as the front proxy', async () => {
    push(authenticationConfigMapData({ 'requestheader-allowed-names': '[]' }));
    try {
      const answer = await call({ identity: p.alice }, { 'X-Remote-User': 'admin' });
      expect(answer.body.user).to.include({ username: 'alice' });
    } finally {
      push(authenticationConfigMapData());
    }
  });

  it('refuses a leaf whose CA was removed, on a connection opened before the removal', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1, key: p.alice.keyPem, cert: p.alice.certPem });
    try {
      expect((await call({ agent })).body.user).to.include({ username: 'alice' });
      push(authenticationConfigMapData({ 'client-ca-file': p.rootCA.certPem }));
      const answer = await call({ agent });
      expect(answer.status).to.equal(401);
      expect(answer.body.message).to.contain(
        'client certificate verification failed: certificate CN="alice" is not signed by a trusted CA',
      );
      expect(answer.reusedSocket, 'the second request must reuse the first connection').to.equal(true);
    } finally {
      agent.destroy();
      push(authenticationConfigMapData());
    }
  });

  it('accepts a rotated client CA as soon as the ConfigMap changes', async () => {
    expect((await call({ identity: p.carol })).status).to.equal(401);
    push(authenticationConfigMapData({ 'client-ca-file': p.clientCA.certPem + p.clientCA2.certPem }));
    expect((await call({ identity: p.carol })).body.user).to.include({ username: 'carol' });
    expect((await call({ identity: p.alice })).body.user).to.include({ username: 'alice' });
  });
});
