// kube-apiserver's aggregator is wired to where the syncflow server listens (an ExternalName Service to
// localhost:<SYNCFLOW_SERVER_PORT>). Until a server runs there, the APIService is honestly unavailable.
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:https';
import type { IncomingHttpHeaders } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { expect } from 'chai';
import { ControlPlane } from '../harness/controlplane.ts';
import {
  pokeApiServiceBackend,
  portInUse,
  stubDiscovery,
  waitForApiServiceAvailable,
} from '../harness/stub-apiservice.ts';

interface ApiServiceView {
  spec: {
    group: string;
    version: string;
    service: { namespace: string; name: string; port: number };
    caBundle: string;
  };
  status?: { conditions?: { type: string; status: string; reason?: string; message?: string }[] };
}

interface ServiceView {
  spec: { type: string; externalName?: string; ports: { port: number }[] };
}

describe('aggregated API registration for execution.syncflow.io', function () {
  this.timeout(60 * 60_000);
  let cp: ControlPlane;

  before(async function () {
    cp = await ControlPlane.acquire();
    // Only hack/cp-up.sh registers the API for a local server; elsewhere (kind) the server's own
    // manifests do, and their suites check it.
    if (cp.settings.serverPort === undefined) this.skip();
  });

  it('routes Service syncflow-system/syncflow to localhost on the syncflow server port', async function () {
    const service = await cp.kubectl.json<ServiceView>([
      'get',
      'service',
      'syncflow',
      '-n',
      'syncflow-system',
    ]);
    expect(service.spec.type).to.equal('ExternalName');
    expect(service.spec.externalName).to.equal('localhost');
    expect(service.spec.ports.map((p) => p.port)).to.deep.equal([cp.settings.serverPort]);
  });

  it('registers APIService v1alpha1.execution.syncflow.io with the syncflow CA bundle', async function () {
    const apiService = await cp.kubectl.json<ApiServiceView>([
      'get',
      'apiservice',
      'v1alpha1.execution.syncflow.io',
    ]);
    expect(apiService.spec.group).to.equal('execution.syncflow.io');
    expect(apiService.spec.version).to.equal('v1alpha1');
    expect(apiService.spec.service).to.deep.equal({
      namespace: 'syncflow-system',
      name: 'syncflow',
      port: cp.settings.serverPort,
    });
    const caBundle = Buffer.from(apiService.spec.caBundle, 'base64').toString('utf8');
    expect(caBundle).to.include('-----BEGIN CERTIFICATE-----');
    if (cp.settings.tlsCertFile !== undefined) {
      // The bundle is the CA next to the serving cert the syncflow server is told to use.
      const ca = await readFile(
        cp.settings.tlsCertFile.replace(/syncflow-serving\.crt$/, 'syncflow-ca.crt'),
        'utf8',
      );
      expect(caBundle.trim()).to.equal(ca.trim());
    }
  });

  it('issues the syncflow serving cert for the Service name, localhost and 127.0.0.1 from the bundled CA', async function () {
    const { tlsCertFile } = cp.settings;
    // Only control planes from hack/cp-up.sh (what the test command uses) provide this; a kind cluster does not.
    if (tlsCertFile === undefined) this.skip();
    const cert = new X509Certificate(await readFile(tlsCertFile));
    const ca = new X509Certificate(
      await readFile(tlsCertFile.replace(/syncflow-serving\.crt$/, 'syncflow-ca.crt')),
    );
    expect(cert.checkIssued(ca) && cert.verify(ca.publicKey), 'signed by syncflow-ca').to.equal(true);
    expect(cert.subjectAltName?.split(', ')).to.include.members([
      'DNS:syncflow.syncflow-system.svc',
      'DNS:localhost',
      'IP Address:127.0.0.1',
    ]);
  });

  it('reports Available=False while no syncflow server listens', async function () {
    if (await portInUse(cp.settings.serverPort ?? 0)) {
      // A server is running (a later issue's suites start one): availability is asserted there.
      this.skip();
    }
    // The aggregator checks availability asynchronously; give it a few rounds.
    let available: { status: string; reason?: string; message?: string } | undefined;
    for (let attempt = 0; attempt < 30; attempt++) {
      const view = await cp.kubectl.json<ApiServiceView>([
        'get',
        'apiservice',
        'v1alpha1.execution.syncflow.io',
      ]);
      available = view.status?.conditions?.find((c) => c.type === 'Available');
      if (available?.status === 'False' && available.message !== undefined) break;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    expect(available?.status).to.equal('False');
    expect(available?.message).to.match(/connection refused|failing or missing response/);
    const discovery = await cp.kubectl.run(['get', '--raw', '/apis/execution.syncflow.io/v1alpha1']);
    expect(discovery.code).to.not.equal(0);
    expect(discovery.stderr).to.match(
      /service unavailable|ServiceUnavailable|the server is currently unable/i,
    );
  });
  describe('with an extension server listening on SYNCFLOW_SERVER_PORT', function () {
    // A minimal stand-in that serves only discovery, to prove the wiring cp-up sets up (ExternalName
    // resolution, serving cert and caBundle, front-proxy client cert, X-Remote-* headers). It is not
    // syncflow: the server's own suites exercise the real thing.
    interface SeenRequest {
      path: string;
      headers: IncomingHttpHeaders;
      peerCn: string | undefined;
      peerAuthorized: boolean;
    }
    const seen: SeenRequest[] = [];
    let stub: ReturnType<typeof createServer> | undefined;

    before(async function () {
      const port = cp.settings.serverPort ?? 0;
      if (await portInUse(port)) this.skip(); // a real server owns the port
      const { tlsCertFile, tlsKeyFile, requestheaderClientCaFile } = cp.settings;
      if (tlsCertFile === undefined || tlsKeyFile === undefined || requestheaderClientCaFile === undefined) {
        // Only control planes from hack/cp-up.sh (what the test command uses) provide these; a kind cluster does not.
        this.skip();
      }
      stub = createServer(
        {
          cert: await readFile(tlsCertFile),
          key: await readFile(tlsKeyFile),
          ca: await readFile(requestheaderClientCaFile),
          requestCert: true,
          rejectUnauthorized: false,
        },
        (req, res) => {
          const socket = req.socket as TLSSocket;
          const cn = socket.getPeerCertificate().subject?.CN;
          seen.push({
            path: req.url ?? '',
            headers: req.headers,
            peerCn: Array.isArray(cn) ? cn[0] : cn,
            peerAuthorized: socket.authorized,
          });
          res.setHeader('content-type', 'application/json');
          if (req.url === '/apis/execution.syncflow.io/v1alpha1') {
            res.end(JSON.stringify(stubDiscovery(['get', 'list'])));
            return;
          }
          res.statusCode = 404;
          res.end(
            JSON.stringify({
              kind: 'Status',
              apiVersion: 'v1',
              status: 'Failure',
              reason: 'NotFound',
              code: 404,
            }),
          );
        },
      );
      await new Promise<void>((resolve) => stub?.listen(port, '127.0.0.1', resolve));
      await pokeApiServiceBackend(cp);
    });

    after(async function () {
      if (stub === undefined) return;
      stub.closeAllConnections();
      await new Promise((resolve) => stub?.close(resolve));
      await pokeApiServiceBackend(cp);
    });

    it('becomes Available once the server answers discovery', async function () {
      expect(await waitForApiServiceAvailable(cp, 60)).to.equal('True');
    });

    it('proxies requests with the front-proxy client cert and the requesting user in X-Remote-* headers', async function () {
      seen.length = 0;
      const result = await cp.kubectl.run(['get', '--raw', '/apis/execution.syncflow.io/v1alpha1'], {
        as: { user: 'e2e-alice', groups: ['e2e-devs'] },
      });
      expect(result.code, result.stderr).to.equal(0);
      expect(JSON.parse(result.stdout)).to.include({ groupVersion: 'execution.syncflow.io/v1alpha1' });
      const request = seen.find((r) => r.headers['x-remote-user'] === 'e2e-alice');
      expect(request, JSON.stringify(seen.map((r) => r.headers['x-remote-user']))).to.not.equal(undefined);
      expect(request?.path).to.equal('/apis/execution.syncflow.io/v1alpha1');
      expect(request?.peerCn).to.equal('front-proxy-client');
      expect(request?.peerAuthorized, 'client cert signed by the requestheader CA').to.equal(true);
      expect(String(request?.headers['x-remote-group']).split(/,\s*/)).to.include('e2e-devs');
    });
  });
});
