import { expect } from 'chai';
import { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import {
  acceptClientCertificate,
  handshakeVerdict,
  parseCertificateBundle,
  peerCertificateChain,
  subjectAttributes,
  type HandshakeVerdict,
} from './certificates.ts';
import { DAY_MS, testPki, type TestPki } from './testdata/pki.ts';

const AUTHORIZED: HandshakeVerdict = { authorized: true };

describe('acceptClientCertificate', function () {
  this.timeout(30_000);
  let p: TestPki;
  before(() => {
    p = testPki();
  });

  const cases: Array<{
    title: string;
    chain: (p: TestPki) => X509Certificate[];
    bundle: (p: TestPki) => string;
    verdict?: HandshakeVerdict | undefined;
    shift?: number;
    reason?: RegExp;
  }> = [
    {
      title: 'accepts a verified leaf signed by a CA of the bundle',
      chain: (p) => [p.alice.cert],
      bundle: (p) => p.clientCA.certPem,
    },
    {
      title: 'accepts a verified leaf signed by the second CA of a bundle',
      chain: (p) => [p.alice.cert],
      bundle: (p) => p.frontProxyCA.certPem + p.clientCA.certPem,
    },
    {
      title: 'accepts the chain as Node 20 reports it, with the CA of the TLS context appended',
      chain: (p) => [p.alice.cert, p.clientCA.cert],
      bundle: (p) => p.clientCA.certPem,
    },
    {
      title: 'accepts a verified leaf through a presented intermediate',
      chain: (p) => [p.bob.cert, p.intermediateCA.cert, p.rootCA.cert],
      bundle: (p) => p.rootCA.certPem,
    },
    {
      title: 'refuses a chain OpenSSL refused, although it leads to the bundle',
      chain: (p) => [p.alice.cert],
      bundle: (p) => p.clientCA.certPem,
      verdict: { authorized: false, error: 'CERT_REVOKED' },
      reason: /^certificate CN="alice" failed TLS verification \(CERT_REVOKED\)$/,
    },
    {
      title: 'refuses a chain without a handshake verdict',
      chain: (p) => [p.alice.cert],
      bundle: (p) => p.clientCA.certPem,
      verdict: undefined,
      reason: /^certificate CN="alice" was not verified at the TLS handshake$/,
    },
    {
      title: 'refuses a verified chain that leads to the other bundle (client CA is not front proxy)',
      chain: (p) => [p.alice.cert, p.clientCA.cert],
      bundle: (p) => p.frontProxyCA.certPem,
      reason: /^certificate CN="alice" is not signed by a trusted CA$/,
    },
    {
      title: 'refuses a verified chain that leads to the other bundle (front proxy is not a client CA)',
      chain: (p) => [p.frontProxyClient.cert, p.frontProxyCA.cert],
      bundle: (p) => p.clientCA.certPem + p.rootCA.certPem,
      reason: /^certificate CN="front-proxy-client" is not signed by a trusted CA$/,
    },
    {
      title: 'does not skip a presented certificate that did not issue the one before it',
      chain: (p) => [p.alice.cert, p.frontProxyCA.cert],
      bundle: (p) => p.frontProxyCA.certPem,
      reason: /CN="alice" is not signed by a trusted CA/,
    },
    {
      title: 'does not classify through a presented certificate that is not a CA',
      chain: (p) => [p.alice.cert, p.alice.cert],
      bundle: (p) => p.alice.certPem,
      reason: /not signed by a trusted CA/,
    },
    {
      title: 'does not classify a leaf whose intermediate was not presented',
      chain: (p) => [p.bob.cert],
      bundle: (p) => p.rootCA.certPem,
      reason: /CN="bob" is not signed by a trusted CA/,
    },
    {
      title: 'does not classify a leaf from a CA with the same name but another key',
      chain: (p) => [p.rogueProxy.cert],
      bundle: (p) => p.frontProxyCA.certPem,
      reason: /not signed by a trusted CA/,
    },
    {
      title: 'refuses a leaf that expired after the handshake (a long keep-alive connection)',
      chain: (p) => [p.alice.cert],
      bundle: (p) => p.clientCA.certPem,
      shift: 31 * DAY_MS,
      reason: /^certificate CN="alice": expired at/,
    },
    {
      title: 'refuses a leaf that is not valid yet by the clock of the request',
      chain: (p) => [p.alice.cert],
      bundle: (p) => p.clientCA.certPem,
      shift: -DAY_MS,
      reason: /not valid before/,
    },
    {
      title: 'refuses an empty chain',
      chain: () => [],
      bundle: (p) => p.clientCA.certPem,
      reason: /^no client certificate$/,
    },
  ];

  for (const c of cases) {
    it(c.title, () => {
      const result = acceptClientCertificate(c.chain(p), parseCertificateBundle(c.bundle(p)), {
        verdict: 'verdict' in c ? c.verdict : AUTHORIZED,
        now: Date.now() + (c.shift ?? 0),
      });
      if (c.reason === undefined) {
        expect(result, JSON.stringify(result)).to.include({ verified: true });
      } else {
        expect(result.verified).to.equal(false);
        expect((result as { reason: string }).reason).to.match(c.reason);
      }
    });
  }

  describe('words the reasons OpenSSL gives as the authenticators always have', () => {
    const reasons: Array<{ error: string; shift?: number; reason: RegExp }> = [
      {
        error: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
        reason: /^certificate CN="alice" is not signed by a trusted CA$/,
      },
      {
        error: 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
        reason: /^certificate CN="alice" is not signed by a trusted CA$/,
      },
      {
        error: 'SELF_SIGNED_CERT_IN_CHAIN',
        reason: /^certificate CN="alice" is not signed by a trusted CA$/,
      },
      { error: 'CERT_HAS_EXPIRED', shift: 31 * DAY_MS, reason: /^certificate CN="alice": expired at / },
      {
        error: 'CERT_HAS_EXPIRED',
        reason: /^certificate CN="alice": a certificate of its chain has expired$/,
      },
      { error: 'CERT_NOT_YET_VALID', shift: -DAY_MS, reason: /^certificate CN="alice": not valid before / },
      {
        error: 'CERT_NOT_YET_VALID',
        reason: /^certificate CN="alice": a certificate of its chain is not valid yet$/,
      },
      {
        error: 'INVALID_PURPOSE',
        reason: /^certificate CN="alice": extended key usage does not allow client authentication$/,
      },
      {
        error: 'PATH_LENGTH_EXCEEDED',
        reason: /^certificate CN="alice": its chain exceeds the path length a CA allows$/,
      },
      {
        error: 'INVALID_CA',
        reason: /^certificate CN="alice": its chain holds an issuer that is not a valid CA$/,
      },
      {
        error: 'UNSPECIFIED',
        reason: /^certificate CN="alice" failed TLS verification \(UNSPECIFIED: e\.g\. an issuer's key usage/,
      },
    ];
    for (const r of reasons) {
      it(`${r.error}${r.shift ? ' (dates explain it)' : ''}`, () => {
        const result = acceptClientCertificate([p.alice.cert], parseCertificateBundle(p.clientCA.certPem), {
          verdict: { authorized: false, error: r.error },
          now: Date.now() + (r.shift ?? 0),
        });
        expect(result.verified === false && result.reason).to.match(r.reason);
      });
    }
  });

  it('rejects a chain whose CA has expired since the handshake', () => {
    // The leaf and its CA expire together, so the CA's expiry is simulated on its compiled entry.
    const root = parseCertificateBundle(p.clientCA.certPem)[0]!;
    const result = acceptClientCertificate([p.alice.cert], [{ ...root, notAfter: Date.now() - 1 }], {
      verdict: AUTHORIZED,
      now: Date.now(),
    });
    expect(result.verified === false && result.reason).to.match(/^CA certificate CN="client-ca": expired/);
  });

  it('returns the classified chain leaf first, the CA of the bundle last', () => {
    const result = acceptClientCertificate(
      [p.bob.cert, p.intermediateCA.cert],
      parseCertificateBundle(p.rootCA.certPem),
      { verdict: AUTHORIZED, now: Date.now() },
    );
    expect(result.verified && result.chain.map((cert) => subjectAttributes(cert, 'CN')[0])).to.deep.equal([
      'bob',
      'intermediate-ca',
      'root-ca',
    ]);
  });

  it('checks the time at every request on a chain classified once', () => {
    const presented = [p.alice.cert];
    const bundle = parseCertificateBundle(p.clientCA.certPem);
    const now = Date.now();
    const at = (time: number) =>
      acceptClientCertificate(presented, bundle, { verdict: AUTHORIZED, now: time });
    expect(at(now).verified).to.equal(true);
    const later = at(now + 31 * DAY_MS);
    expect(later.verified === false && later.reason).to.match(/expired/);
    expect(at(now).verified).to.equal(true);
    const other = acceptClientCertificate(presented, parseCertificateBundle(p.frontProxyCA.certPem), {
      verdict: AUTHORIZED,
      now,
    });
    expect(other.verified).to.equal(false);
  });

  it('answers a chain classified once with one shared, frozen acceptance while it is valid', () => {
    const presented = [p.bob.cert, p.intermediateCA.cert];
    const bundle = parseCertificateBundle(p.rootCA.certPem);
    const now = Date.now();
    const first = acceptClientCertificate(presented, bundle, { verdict: AUTHORIZED, now });
    const second = acceptClientCertificate(presented, bundle, { verdict: AUTHORIZED, now: now + 1000 });
    expect(second).to.equal(first);
    expect(Object.isFrozen(first) && first.verified && Object.isFrozen(first.chain)).to.equal(true);
    // OpenSSL's verdict is still asked first: the same chain refused at another handshake is refused.
    const refused = acceptClientCertificate(presented, bundle, { verdict: { authorized: false }, now });
    expect(refused.verified).to.equal(false);
  });
});

describe('peerCertificateChain', () => {
  const p = testPki();
  /**
   * A connection presenting `certs` as Node's `getPeerX509Certificate()` reports them: new objects
   * on every call, each linked to the next (the last to a new copy of itself, as a root).
   */
  const connection = (certs: X509Certificate[]): TLSSocket => {
    // A new object, linked to the next certificate as Node links them.
    const at = (i: number): X509Certificate =>
      Object.defineProperty(new X509Certificate(certs[i]!.raw), 'issuerCertificate', {
        get: () => at(Math.min(i + 1, certs.length - 1)),
      });
    return {
      authorized: true,
      getPeerCertificate: () => expect.fail('the detailed certificate objects cost ~0.1-0.8 ms'),
      getPeerX509Certificate: () => at(0),
    } as unknown as TLSSocket;
  };

  it('reads the chain leaf first, once per connection, and shares it between connections presenting the same certificates', () => {
    const first = connection([p.bob.cert, p.intermediateCA.cert]);
    const chain = peerCertificateChain(first);
    expect(chain.map((cert) => cert.fingerprint256)).to.deep.equal([
      p.bob.cert.fingerprint256,
      p.intermediateCA.cert.fingerprint256,
    ]);
    expect(peerCertificateChain(first)).to.equal(chain);
    // Parsed and classified once: a new keep-alive connection of the same client costs neither again.
    expect(peerCertificateChain(connection([p.bob.cert, p.intermediateCA.cert]))).to.equal(chain);
    expect(Object.isFrozen(chain)).to.equal(true);
    const other = peerCertificateChain(connection([p.bob.cert]));
    expect(other).to.not.equal(chain);
    expect(other.map((cert) => cert.fingerprint256)).to.deep.equal([p.bob.cert.fingerprint256]);
  });
});

describe('handshakeVerdict', () => {
  const socket = (fields: { authorized: boolean; authorizationError?: unknown }): TLSSocket =>
    ({
      ...fields,
      getPeerCertificate: () => ({}),
      getPeerX509Certificate: () => undefined,
    }) as unknown as TLSSocket;

  it("reads OpenSSL's verdict and its error code from the socket", () => {
    expect(handshakeVerdict(socket({ authorized: true }))).to.deep.equal({ authorized: true });
    expect(
      handshakeVerdict(socket({ authorized: false, authorizationError: 'PATH_LENGTH_EXCEEDED' })),
    ).to.deep.equal({ authorized: false, error: 'PATH_LENGTH_EXCEEDED' });
    expect(
      handshakeVerdict(
        socket({
          authorized: false,
          authorizationError: Object.assign(new Error('x'), { code: 'INVALID_CA' }),
        }),
      ),
    ).to.deep.equal({ authorized: false, error: 'INVALID_CA' });
    expect(
      handshakeVerdict(socket({ authorized: false, authorizationError: new Error('odd') })),
    ).to.deep.equal({
      authorized: false,
      error: 'odd',
    });
    expect(handshakeVerdict(socket({ authorized: false, authorizationError: null }))).to.deep.equal({
      authorized: false,
    });
  });
});

describe('parseCertificateBundle', () => {
  it('parses every certificate of a bundle and skips other PEM blocks', () => {
    const p = testPki();
    const bundle = `${p.clientCA.certPem}\n${p.alice.keyPem}\n${p.rootCA.certPem}`;
    expect(parseCertificateBundle(bundle).map((t) => subjectAttributes(t.cert, 'CN')[0])).to.deep.equal([
      'client-ca',
      'root-ca',
    ]);
  });

  it('rejects text without a certificate', () => {
    expect(() => parseCertificateBundle('hello')).to.throw(/no PEM "CERTIFICATE" block/);
  });

  it('names the certificate that cannot be parsed', () => {
    const broken = `${testPki().clientCA.certPem}-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n`;
    expect(() => parseCertificateBundle(broken)).to.throw(/certificate #2 of the bundle cannot be parsed/);
  });
});

describe('subjectAttributes', () => {
  it('returns every O value in order and the CN', () => {
    const alice = testPki().alice.cert;
    expect(subjectAttributes(alice, 'O')).to.deep.equal(['dev', 'ops']);
    expect(subjectAttributes(alice, 'CN')).to.deep.equal(['alice']);
    expect(subjectAttributes(alice, 'OU')).to.deep.equal([]);
  });
});
