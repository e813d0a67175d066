import { expect } from 'chai';
import { request } from 'node:https';
import { makeBenchPki, type BenchPki } from '../../bench/api/pki.ts';
import { ClientCertificateCallers } from './admission-callers.ts';
import { SecureListener } from './listener.ts';

describe('ClientCertificateCallers', function () {
  this.timeout(20_000);
  let pki: BenchPki;
  let listener: SecureListener;
  let port: number;
  let callers: ClientCertificateCallers;

  before(async function () {
    this.timeout(60_000);
    pki = await makeBenchPki();
    // The front-proxy CA of the benchmark PKI stands in for the admission client CA.
    listener = new SecureListener({
      tls: { cert: pki.serverCert, key: pki.serverKey, ca: [pki.frontProxyCa] },
      handler: (req, res) => res.end(JSON.stringify(callers.identify(req))),
      acceptors: 1,
    });
    port = await listener.listen(0, '127.0.0.1');
  });

  after(async () => {
    listener.closeAllConnections();
    await listener.close();
  });

  function identify(withCertificate: boolean): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port,
          path: '/',
          ca: pki.servingCa,
          agent: false,
          ...(withCertificate ? { cert: pki.frontProxyCert, key: pki.frontProxyKey } : {}),
        },
        (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve(JSON.parse(text)));
        },
      );
      req.on('error', reject);
      req.end();
    });
  }

  it('takes a client certificate of the admission CA as the API server', async () => {
    callers = new ClientCertificateCallers(pki.frontProxyCa);
    expect(await identify(true)).to.deep.equal({ apiServer: true });
  });

  it('refuses a connection without a client certificate, saying so', async () => {
    callers = new ClientCertificateCallers(pki.frontProxyCa);
    expect(await identify(false)).to.deep.equal({
      apiServer: false,
      refusal: 'no client certificate was presented',
    });
  });

  it('refuses a certificate whose common name is not allowed', async () => {
    callers = new ClientCertificateCallers(pki.frontProxyCa, ['kube-apiserver-webhook-client']);
    expect(await identify(true)).to.deep.equal({
      apiServer: false,
      refusal: "the client certificate's common name is not one of --admission-allowed-names",
    });
    callers = new ClientCertificateCallers(pki.frontProxyCa, ['front-proxy-client']);
    expect(await identify(true)).to.deep.equal({ apiServer: true });
  });

  it('refuses a certificate of another CA', async () => {
    callers = new ClientCertificateCallers(pki.servingCa);
    expect(await identify(true)).to.include({ apiServer: false });
  });
});
