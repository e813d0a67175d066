/**
 * Client-certificate verification on `node:crypto`'s X509Certificate: chains a presented leaf
 * (optionally through presented intermediates) to one certificate of a trusted CA bundle, checking
 * issuer names, signatures, validity periods, CA basic constraints and the clientAuth extended key
 * usage, as Go's `x509.Certificate.Verify` does for Kubernetes' client-certificate authenticators.
 */
import { X509Certificate } from 'node:crypto';
import type { TLSSocket, DetailedPeerCertificate } from 'node:tls';

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;
const CLIENT_AUTH_OID = '1.3.6.1.5.5.7.3.2';
const ANY_EKU_OID = '2.5.29.37.0';
/** Longest chain followed (leaf + intermediates), so a hostile chain cannot make us loop or work hard. */
const MAX_CHAIN_LENGTH = 8;

/** A parsed certificate with its validity period compiled to milliseconds once. */
export interface TrustedCertificate {
  cert: X509Certificate;
  notBefore: number;
  notAfter: number;
}

/**
 * Parses a PEM bundle (one or more CERTIFICATE blocks; other blocks are skipped). Throws an Error
 * naming the block index when a certificate cannot be parsed or the bundle holds none.
 */
export function parseCertificateBundle(pem: string): TrustedCertificate[] {
  const blocks = pem.match(PEM_BLOCK) ?? [];
  if (blocks.length === 0) throw new Error('no PEM "CERTIFICATE" block found');
  return blocks.map((block, index) => {
    try {
      return trusted(new X509Certificate(block));
    } catch (cause) {
      throw new Error(
        `certificate #${index + 1} of the bundle cannot be parsed: ${(cause as Error).message}`,
        { cause },
      );
    }
  });
}

function trusted(cert: X509Certificate): TrustedCertificate {
  return { cert, notBefore: Date.parse(cert.validFrom), notAfter: Date.parse(cert.validTo) };
}

/** Why a chain was not accepted, phrased for a log line or a 401 message (never containing key material). */
export type VerificationResult =
  { verified: true; chain: X509Certificate[] } | { verified: false; reason: string };

/** Options of {@link verifyClientCertificate}. */
export interface VerifyOptions {
  /** Current time in ms since the epoch. */
  now: number;
}

/**
 * Verifies that `presented[0]` (the leaf) chains to one of `roots`, possibly through the other
 * presented certificates acting as intermediates. Every certificate on the path must be within its
 * validity period; issuers must be CAs; the leaf and intermediates, when they restrict extended key
 * usage, must allow clientAuth.
 *
 * Signature checks cost ~0.3 ms, so outcomes are remembered per (`presented` array, `roots` array)
 * — both stable per connection ({@link peerCertificateChain}) and per configuration — for as long
 * as the time says the outcome holds: a success until the first certificate of its path expires, a
 * non-time failure for good, a time failure never.
 */
export function verifyClientCertificate(
  presented: readonly X509Certificate[],
  roots: readonly TrustedCertificate[],
  options: VerifyOptions,
): VerificationResult {
  const remembered = outcomes.get(presented)?.get(roots);
  if (remembered !== undefined && options.now >= remembered.from && options.now <= remembered.until) {
    return remembered.result;
  }
  const outcome = verifyPath(presented, roots, options.now);
  if (outcome.from !== undefined) {
    let byRoots = outcomes.get(presented);
    if (byRoots === undefined) outcomes.set(presented, (byRoots = new WeakMap()));
    byRoots.set(roots, outcome as Outcome);
  }
  return outcome.result;
}

/** A verification result and the time window in which it holds (absent: do not remember it). */
interface Outcome {
  result: VerificationResult;
  from: number;
  until: number;
}

const outcomes = new WeakMap<readonly X509Certificate[], WeakMap<readonly TrustedCertificate[], Outcome>>();

function verifyPath(
  presented: readonly X509Certificate[],
  roots: readonly TrustedCertificate[],
  now: number,
): Outcome | { result: VerificationResult; from?: undefined } {
  const permanent = (reason: string): Outcome => ({
    result: { verified: false, reason },
    from: -Infinity,
    until: Infinity,
  });
  const leaf = presented[0];
  if (leaf === undefined) return permanent('no client certificate');
  const intermediates = presented.slice(1).map(trusted);
  const path: TrustedCertificate[] = [];
  let current = trusted(leaf);
  for (let depth = 0; depth < MAX_CHAIN_LENGTH; depth++) {
    const timeProblem = validityProblem(current, now);
    if (timeProblem !== undefined)
      return { result: { verified: false, reason: `${describe(current.cert)}: ${timeProblem}` } };
    const usage = usageProblem(current.cert);
    if (usage !== undefined) return permanent(`${describe(current.cert)}: ${usage}`);
    path.push(current);
    const root = roots.find((candidate) => issued(candidate, current.cert));
    if (root !== undefined) {
      const rootProblem = validityProblem(root, now);
      if (rootProblem !== undefined)
        return { result: { verified: false, reason: `CA ${describe(root.cert)}: ${rootProblem}` } };
      path.push(root);
      return {
        result: { verified: true, chain: path.map((entry) => entry.cert) },
        from: Math.max(...path.map((entry) => entry.notBefore)),
        until: Math.min(...path.map((entry) => entry.notAfter)),
      };
    }
    const next = intermediates.find(
      (candidate) => !path.some((entry) => entry.cert === candidate.cert) && issued(candidate, current.cert),
    );
    if (next === undefined) return permanent(`${describe(current.cert)} is not signed by a trusted CA`);
    current = next;
  }
  return permanent(`certificate chain longer than ${MAX_CHAIN_LENGTH}`);
}

function issued(issuer: TrustedCertificate, subject: X509Certificate): boolean {
  if (!issuer.cert.ca || !subject.checkIssued(issuer.cert)) return false;
  try {
    return subject.verify(issuer.cert.publicKey);
  } catch {
    return false;
  }
}

function validityProblem(cert: TrustedCertificate, now: number): string | undefined {
  if (!(now >= cert.notBefore)) return `not valid before ${cert.cert.validFrom}`;
  if (!(now <= cert.notAfter)) return `expired at ${cert.cert.validTo}`;
  return undefined;
}

function usageProblem(cert: X509Certificate): string | undefined {
  const usages = extendedKeyUsages(cert);
  if (usages === undefined || usages.includes(CLIENT_AUTH_OID) || usages.includes(ANY_EKU_OID))
    return undefined;
  return 'extended key usage does not allow client authentication';
}

/** The certificate's extended key usage OIDs; `extKeyUsage` on Node ≥ 23, `keyUsage` before. */
function extendedKeyUsages(cert: X509Certificate): string[] | undefined {
  const withNewName = cert as X509Certificate & { extKeyUsage?: string[] };
  return 'extKeyUsage' in withNewName ? withNewName.extKeyUsage : cert.keyUsage;
}

/** `CN=…` of a certificate, for messages. */
function describe(cert: X509Certificate): string {
  const cn = subjectAttributes(cert, 'CN')[0];
  return cn === undefined ? `certificate "${cert.subject.replaceAll('\n', ', ')}"` : `certificate CN="${cn}"`;
}

/**
 * Values of one attribute (`CN`, `O`, …) of the certificate's subject, in order. Node renders the
 * subject one attribute per line, `KEY=value`, with several values of a key as `KEY=a` lines.
 */
export function subjectAttributes(cert: X509Certificate, key: string): string[] {
  const values: string[] = [];
  for (const line of subjectLines(cert)) {
    const eq = line.indexOf('=');
    if (eq > 0 && line.slice(0, eq) === key) values.push(line.slice(eq + 1));
  }
  return values;
}

/** `cert.subject` is rebuilt by OpenSSL on every read: read it once per certificate. */
const subjects = new WeakMap<X509Certificate, string[]>();
function subjectLines(cert: X509Certificate): string[] {
  let lines = subjects.get(cert);
  if (lines === undefined) subjects.set(cert, (lines = cert.subject.split('\n')));
  return lines;
}

const chainsBySocket = new WeakMap<TLSSocket, X509Certificate[]>();

/**
 * The client certificate chain of a TLS connection, leaf first, empty when the client sent none.
 * Read once per connection and cached (keep-alive connections from the front proxy carry many
 * requests). Node 20 returns the presented intermediates from `getPeerCertificate(true)` on the
 * first call only (later calls, and calls after `getPeerX509Certificate()`, give the leaf alone),
 * so use this function rather than those methods elsewhere in the server. Node 24 gives a server
 * the leaf alone: there, an intermediate CA must be in the CA bundle (it then acts as a root, as
 * in Go). The server must be created with `requestCert: true` and `rejectUnauthorized: false`;
 * verification is done by the authenticators, not by the TLS layer.
 */
export function peerCertificateChain(socket: TLSSocket): X509Certificate[] {
  const cached = chainsBySocket.get(socket);
  if (cached !== undefined) return cached;
  const chain: X509Certificate[] = [];
  const seen = new Set<DetailedPeerCertificate>();
  let current = socket.getPeerCertificate(true) as DetailedPeerCertificate | null | undefined;
  while (current?.raw !== undefined && !seen.has(current) && chain.length < MAX_CHAIN_LENGTH) {
    seen.add(current);
    chain.push(new X509Certificate(current.raw));
    current = current.issuerCertificate;
  }
  chainsBySocket.set(socket, chain);
  return chain;
}
