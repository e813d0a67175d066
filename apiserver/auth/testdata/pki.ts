/**
 * Real certificates for the auth tests, made once per process with the openssl CLI into a temp dir
 * (EC P-256 keys, so the whole set takes well under a second). Validity: 30 days from now.
 */
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const OPENSSL_CONFIG = `
[req]
distinguished_name = dn
[dn]
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[ca_pathlen0]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[ca_no_cert_sign]
basicConstraints = critical,CA:TRUE
keyUsage = critical,digitalSignature,cRLSign
subjectKeyIdentifier = hash
[client]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
[ca_name_constrained]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
nameConstraints = critical,permitted;dirName:permitted_subtree
[permitted_subtree]
O = allowed
[client_unknown_critical]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
1.3.6.1.4.1.55555.1 = critical,ASN1:NULL
[server]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost,IP:127.0.0.1
`;

/** One issued certificate: PEMs and the parsed certificate. */
export interface Issued {
  certPem: string;
  keyPem: string;
  cert: X509Certificate;
}

/** The test PKI. */
export interface TestPki {
  frontProxyCA: Issued;
  /** CN=front-proxy-client, signed by frontProxyCA. */
  frontProxyClient: Issued;
  /** CN=other-proxy, signed by frontProxyCA. */
  otherProxy: Issued;
  /** A CA with the same subject as frontProxyCA but another key. */
  rogueCA: Issued;
  /** CN=front-proxy-client signed by rogueCA. */
  rogueProxy: Issued;
  clientCA: Issued;
  /** CN=alice, O=dev, O=ops, signed by clientCA. */
  alice: Issued;
  /** CN=server-only with extendedKeyUsage serverAuth only, signed by clientCA. */
  serverOnly: Issued;
  /** Root CA of a two-level chain. */
  rootCA: Issued;
  /** Intermediate CA signed by rootCA. */
  intermediateCA: Issued;
  /** CN=bob, O=team, signed by intermediateCA. */
  bob: Issued;
  /** CN=localhost serving certificate signed by clientCA. */
  server: Issued;
  /** A second client CA (for CA rotation), and carol (CN=carol) signed by it. */
  clientCA2: Issued;
  carol: Issued;
  /** Root CA with pathLenConstraint 0: it may issue leaves only, no CA below it. */
  pathLenZeroCA: Issued;
  /** CA:TRUE signed by pathLenZeroCA, which was not allowed to issue a CA. */
  pathLenViolatingCA: Issued;
  /** CN=dave, signed by pathLenViolatingCA (valid only if path length is ignored). */
  dave: Issued;
  /** Root CA (CA:TRUE) whose keyUsage lacks keyCertSign: it may not sign certificates. */
  noCertSignCA: Issued;
  /** CN=erin, signed by noCertSignCA. */
  erin: Issued;
  /** CN=frank, signed by clientCA, carrying an unknown extension marked critical. */
  unknownCritical: Issued;
  /** Root CA whose name constraints permit subjects under O=allowed only. */
  nameConstrainedCA: Issued;
  /** O=other, CN=mallory, signed by nameConstrainedCA outside its permitted subtree. */
  mallory: Issued;
}

let pki: TestPki | undefined;

/** The test PKI, generated on first use. */
export function testPki(): TestPki {
  pki ??= generate();
  return pki;
}

function generate(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'syncflow-auth-pki-'));
  try {
    const cnf = join(dir, 'openssl.cnf');
    writeFileSync(cnf, OPENSSL_CONFIG);
    const openssl = (...args: string[]): void => {
      execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    };
    let serial = 1000;
    const read = (name: string): Issued => {
      const certPem = readFileSync(join(dir, `${name}.crt`), 'utf8');
      return {
        certPem,
        keyPem: readFileSync(join(dir, `${name}.key`), 'utf8'),
        cert: new X509Certificate(certPem),
      };
    };
    const newKey = (name: string): string[] => [
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      `${name}.key`,
    ];
    const root = (name: string, subject: string, extensions = 'ca'): Issued => {
      openssl(
        'req',
        '-new',
        '-x509',
        ...newKey(name),
        '-subj',
        subject,
        '-days',
        '30',
        '-config',
        cnf,
        '-extensions',
        extensions,
        '-out',
        `${name}.crt`,
      );
      return read(name);
    };
    const issue = (name: string, subject: string, issuer: string, extensions: string): Issued => {
      openssl('req', '-new', ...newKey(name), '-subj', subject, '-config', cnf, '-out', `${name}.csr`);
      openssl(
        'x509',
        '-req',
        '-in',
        `${name}.csr`,
        '-CA',
        `${issuer}.crt`,
        '-CAkey',
        `${issuer}.key`,
        '-set_serial',
        String(serial++),
        '-days',
        '30',
        '-extfile',
        cnf,
        '-extensions',
        extensions,
        '-out',
        `${name}.crt`,
      );
      return read(name);
    };
    return {
      frontProxyCA: root('fpca', '/CN=front-proxy-ca'),
      frontProxyClient: issue('fpclient', '/CN=front-proxy-client', 'fpca', 'client'),
      otherProxy: issue('other', '/CN=other-proxy', 'fpca', 'client'),
      rogueCA: root('rogue', '/CN=front-proxy-ca'),
      rogueProxy: issue('rogueproxy', '/CN=front-proxy-client', 'rogue', 'client'),
      clientCA: root('clientca', '/CN=client-ca'),
      alice: issue('alice', '/O=dev/O=ops/CN=alice', 'clientca', 'client'),
      serverOnly: issue('serveronly', '/CN=server-only', 'clientca', 'server'),
      rootCA: root('root', '/CN=root-ca'),
      intermediateCA: issue('intermediate', '/CN=intermediate-ca', 'root', 'ca'),
      bob: issue('bob', '/O=team/CN=bob', 'intermediate', 'client'),
      server: issue('server', '/CN=localhost', 'clientca', 'server'),
      clientCA2: root('clientca2', '/CN=client-ca-2'),
      carol: issue('carol', '/CN=carol', 'clientca2', 'client'),
      pathLenZeroCA: root('pathlen0', '/CN=path-len-zero-ca', 'ca_pathlen0'),
      pathLenViolatingCA: issue('pathlenviolating', '/CN=path-len-violating-ca', 'pathlen0', 'ca'),
      dave: issue('dave', '/CN=dave', 'pathlenviolating', 'client'),
      noCertSignCA: root('nocertsign', '/CN=no-cert-sign-ca', 'ca_no_cert_sign'),
      erin: issue('erin', '/CN=erin', 'nocertsign', 'client'),
      unknownCritical: issue('frank', '/CN=frank', 'clientca', 'client_unknown_critical'),
      nameConstrainedCA: root('nameconstrained', '/O=allowed/CN=name-constrained-ca', 'ca_name_constrained'),
      mallory: issue('mallory', '/O=other/CN=mallory', 'nameconstrained', 'client'),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** 24 hours in ms. */
export const DAY_MS = 86_400_000;

/** ConfigMap data as kube-apiserver writes it for the test PKI; `overrides` replace keys (undefined deletes). */
export function authenticationConfigMapData(
  overrides: Record<string, string | undefined> = {},
): Record<string, string> {
  const p = testPki();
  const data: Record<string, string | undefined> = {
    'client-ca-file': p.clientCA.certPem + p.rootCA.certPem,
    'requestheader-client-ca-file': p.frontProxyCA.certPem,
    'requestheader-allowed-names': '["front-proxy-client"]',
    'requestheader-username-headers': '["X-Remote-User"]',
    'requestheader-uid-headers': '["X-Remote-Uid"]',
    'requestheader-group-headers': '["X-Remote-Group"]',
    'requestheader-extra-headers-prefix': '["X-Remote-Extra-"]',
    ...overrides,
  };
  return Object.fromEntries(
    Object.entries(data).filter((entry): entry is [string, string] => entry[1] !== undefined),
  );
}
