import { expect } from 'chai';
import type { X509Certificate } from 'node:crypto';
import { parseCertificateBundle, subjectAttributes, verifyClientCertificate } from './certificates.ts';
import { DAY_MS, testPki, type TestPki } from './testdata/pki.ts';

describe('verifyClientCertificate', function () {
  this.timeout(30_000);
  let p: TestPki;
  before(() => {
    p = testPki();
  });

  const cases: Array<{
    title: string;
    chain: (p: TestPki) => X509Certificate[];
    roots: (p: TestPki) => string;
    shift?: number;
    reason?: RegExp;
  }> = [
    {
      title: 'accepts a leaf signed by a CA of the bundle',
      chain: (p) => [p.alice.cert],
      roots: (p) => p.clientCA.certPem,
    },
    {
      title: 'accepts a leaf signed by the second CA of a bundle',
      chain: (p) => [p.alice.cert],
      roots: (p) => p.frontProxyCA.certPem + p.clientCA.certPem,
    },
    {
      title: 'accepts a leaf through a presented intermediate',
      chain: (p) => [p.bob.cert, p.intermediateCA.cert],
      roots: (p) => p.rootCA.certPem,
    },
    {
      title: 'rejects a leaf whose intermediate was not presented',
      chain: (p) => [p.bob.cert],
      roots: (p) => p.rootCA.certPem,
      reason: /CN="bob" is not signed by a trusted CA/,
    },
    {
      title: 'rejects a leaf from a CA with the same name but another key',
      chain: (p) => [p.rogueProxy.cert],
      roots: (p) => p.frontProxyCA.certPem,
      reason: /not signed by a trusted CA/,
    },
    {
      title: 'rejects an expired leaf',
      chain: (p) => [p.alice.cert],
      roots: (p) => p.clientCA.certPem,
      shift: 31 * DAY_MS,
      reason: /CN="alice": expired at/,
    },
    {
      title: 'rejects a leaf that is not valid yet',
      chain: (p) => [p.alice.cert],
      roots: (p) => p.clientCA.certPem,
      shift: -DAY_MS,
      reason: /not valid before/,
    },
    {
      title: 'rejects a leaf whose extended key usage excludes client authentication',
      chain: (p) => [p.serverOnly.cert],
      roots: (p) => p.clientCA.certPem,
      reason: /extended key usage/,
    },
    {
      title: 'rejects a leaf signed by a leaf (issuer is not a CA)',
      chain: (p) => [p.alice.cert, p.alice.cert],
      roots: (p) => p.alice.certPem,
      reason: /not signed by a trusted CA/,
    },
    {
      title: 'rejects an empty chain',
      chain: () => [],
      roots: (p) => p.clientCA.certPem,
      reason: /no client certificate/,
    },
  ];

  for (const c of cases) {
    it(c.title, () => {
      const result = verifyClientCertificate(c.chain(p), parseCertificateBundle(c.roots(p)), {
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

  it('rejects a chain whose CA has expired', () => {
    // The leaf and its CA expire together, so the CA's expiry is simulated on its compiled entry.
    const roots = parseCertificateBundle(p.clientCA.certPem);
    const root = roots[0]!;
    const result = verifyClientCertificate([p.alice.cert], [{ ...root, notAfter: Date.now() - 1 }], {
      now: Date.now(),
    });
    expect(result).to.deep.include({ verified: false });
    expect((result as { reason: string }).reason).to.match(/^CA certificate CN="client-ca": expired/);
  });

  it('returns the verified chain leaf first, root last', () => {
    const result = verifyClientCertificate(
      [p.bob.cert, p.intermediateCA.cert],
      parseCertificateBundle(p.rootCA.certPem),
      { now: Date.now() },
    );
    expect(result.verified && result.chain.map((cert) => subjectAttributes(cert, 'CN')[0])).to.deep.equal([
      'bob',
      'intermediate-ca',
      'root-ca',
    ]);
  });
});

describe('verifyClientCertificate on one connection', function () {
  this.timeout(30_000);

  it('remembers a success only while every certificate of its path is valid', () => {
    const p = testPki();
    const presented = [p.alice.cert];
    const roots = parseCertificateBundle(p.clientCA.certPem);
    const now = Date.now();
    expect(verifyClientCertificate(presented, roots, { now }).verified).to.equal(true);
    expect(verifyClientCertificate(presented, roots, { now: now + 1000 }).verified).to.equal(true);
    const later = verifyClientCertificate(presented, roots, { now: now + 31 * DAY_MS });
    expect(later.verified === false && later.reason).to.match(/expired/);
    expect(verifyClientCertificate(presented, roots, { now }).verified).to.equal(true);
  });

  it('answers a second request on the same chain and CAs from memory', () => {
    const p = testPki();
    const presented = [p.bob.cert, p.intermediateCA.cert];
    const roots = parseCertificateBundle(p.rootCA.certPem);
    const first = verifyClientCertificate(presented, roots, { now: Date.now() });
    expect(verifyClientCertificate(presented, roots, { now: Date.now() })).to.equal(first);
    const rejected = verifyClientCertificate(presented, parseCertificateBundle(p.clientCA.certPem), {
      now: Date.now(),
    });
    expect(rejected.verified).to.equal(false);
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
