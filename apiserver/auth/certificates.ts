/**
 * Client certificates as the authenticators accept them: verified by OpenSSL at the TLS handshake
 * (the server requests certificates with every trusted CA in its context), then classified here by
 * the bundle (front-proxy CA or cluster client CA) their chain leads to. No chain is verified here.
 */
import { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;
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

/**
 * OpenSSL's verdict on the client's chain at the TLS handshake (`TLSSocket.authorized` and
 * `authorizationError`), reached against every CA given to the TLS context: path length, key usage
 * of issuers, name constraints, unknown critical extensions, validity and the clientAuth purpose.
 */
export interface HandshakeVerdict {
  authorized: boolean;
  /** OpenSSL's error as Node names it (`CERT_HAS_EXPIRED`, `UNSPECIFIED`, …) when not authorized. */
  error?: string;
}

/** The {@link HandshakeVerdict} of a TLS connection, read with its chain ({@link peerCertificateChain}). */
export function handshakeVerdict(socket: TLSSocket): HandshakeVerdict {
  return peerCertificates(socket).verdict;
}

function readVerdict(socket: TLSSocket): HandshakeVerdict {
  if (socket.authorized) return { authorized: true };
  // Typed as Error, but Node sets the OpenSSL code as a string.
  const error = socket.authorizationError as Error | string | null | undefined;
  if (error === null || error === undefined) return { authorized: false };
  const code = typeof error === 'string' ? error : ((error as { code?: string }).code ?? error.message);
  return { authorized: false, error: code };
}

/** Options of {@link acceptClientCertificate}. */
export interface AcceptOptions {
  /** OpenSSL's verdict on `presented` at the handshake; absent = not verified. */
  verdict: HandshakeVerdict | undefined;
  /** Current time in ms since the epoch. */
  now: number;
}

/**
 * Accepts `presented` (leaf first) as a client certificate of one trust bundle. Trust is OpenSSL's:
 * the chain must have been verified at the handshake. OpenSSL verifies against the union of the
 * bundles, so what remains here is classification — the leaf must lead, by issuer name and
 * signature through presented CA certificates, to a certificate of `bundle`, so that a client-CA
 * certificate is never taken as the front proxy or the reverse — and a time check on that path,
 * because a keep-alive connection outlives its handshake (Go checks at every request).
 */
export function acceptClientCertificate(
  presented: readonly X509Certificate[],
  bundle: readonly TrustedCertificate[],
  options: AcceptOptions,
): VerificationResult {
  const leaf = presented[0];
  if (leaf === undefined) return { verified: false, reason: 'no client certificate' };
  const verdict = options.verdict ?? { authorized: false };
  if (!verdict.authorized) {
    return { verified: false, reason: handshakeReason(leaf, presented, verdict.error, options.now) };
  }
  const classified = classification(presented, bundle);
  if (classified === undefined)
    return { verified: false, reason: `${describe(leaf)} is not signed by a trusted CA` };
  // Inside every certificate's validity period: the answer of the first request on the chain.
  if (options.now >= classified.notBefore && options.now <= classified.notAfter) return classified.accepted;
  for (const [index, entry] of classified.path.entries()) {
    const problem = validityProblem(entry, options.now);
    if (problem !== undefined) {
      const ca = index === classified.path.length - 1 ? 'CA ' : '';
      return { verified: false, reason: `${ca}${describe(entry.cert)}: ${problem}` };
    }
  }
  return classified.accepted;
}

/** OpenSSL errors (as Node names them) meaning: no trusted CA issued this chain. */
const UNTRUSTED = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'CERT_SIGNATURE_FAILURE',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'CERT_UNTRUSTED',
]);

/** The 401 reason for a chain OpenSSL refused, in the words the authenticators have always used. */
function handshakeReason(
  leaf: X509Certificate,
  presented: readonly X509Certificate[],
  error: string | undefined,
  now: number,
): string {
  const dated = (problem: (entry: TrustedCertificate) => string | undefined): string | undefined => {
    for (const cert of presented) {
      const found = problem(trusted(cert));
      if (found !== undefined) return `${describe(cert)}: ${found}`;
    }
    return undefined;
  };
  switch (error) {
    case 'CERT_HAS_EXPIRED':
      return (
        dated((e) => (now > e.notAfter ? `expired at ${e.cert.validTo}` : undefined)) ??
        `${describe(leaf)}: a certificate of its chain has expired`
      );
    case 'CERT_NOT_YET_VALID':
      return (
        dated((e) => (now < e.notBefore ? `not valid before ${e.cert.validFrom}` : undefined)) ??
        `${describe(leaf)}: a certificate of its chain is not valid yet`
      );
    case 'INVALID_PURPOSE':
      return `${describe(leaf)}: extended key usage does not allow client authentication`;
    case 'PATH_LENGTH_EXCEEDED':
      return `${describe(leaf)}: its chain exceeds the path length a CA allows`;
    case 'INVALID_CA':
      return `${describe(leaf)}: its chain holds an issuer that is not a valid CA`;
    default:
      if (error === undefined) return `${describe(leaf)} was not verified at the TLS handshake`;
      if (UNTRUSTED.has(error)) return `${describe(leaf)} is not signed by a trusted CA`;
      // Node names only some OpenSSL errors; the others (an issuer's key usage, name constraints,
      // an unknown critical extension, …) all arrive as UNSPECIFIED.
      return error === 'UNSPECIFIED'
        ? `${describe(leaf)} failed TLS verification (UNSPECIFIED: e.g. an issuer's key usage, a name constraint or an unknown critical extension)`
        : `${describe(leaf)} failed TLS verification (${error})`;
  }
}

/**
 * A chain classified against a bundle: the path to it, the (frozen, shared) answer that accepts it,
 * and the span of time in which every certificate of the path is valid (the latest notBefore, the
 * earliest notAfter), so that a request on a classified chain costs two comparisons.
 */
interface Classification {
  path: TrustedCertificate[];
  accepted: Extract<VerificationResult, { verified: true }>;
  notBefore: number;
  notAfter: number;
}

/** Classifications remembered per (presented array, bundle array): both are stable per connection and per configuration. */
const classifications = new WeakMap<
  readonly X509Certificate[],
  WeakMap<readonly TrustedCertificate[], Classification | null>
>();

/**
 * The classification of `presented` against `bundle` (undefined when it does not lead to the
 * bundle). Signature checks cost ~0.3 ms, so the answer is remembered; it depends on no clock.
 */
function classification(
  presented: readonly X509Certificate[],
  bundle: readonly TrustedCertificate[],
): Classification | undefined {
  let byBundle = classifications.get(presented);
  const remembered = byBundle?.get(bundle);
  if (remembered !== undefined) return remembered ?? undefined;
  const path = findPath(presented, bundle);
  const classified =
    path === undefined
      ? undefined
      : {
          path,
          accepted: Object.freeze({
            verified: true as const,
            chain: Object.freeze(path.map((entry) => entry.cert)) as X509Certificate[],
          }),
          notBefore: Math.max(...path.map((entry) => entry.notBefore)),
          notAfter: Math.min(...path.map((entry) => entry.notAfter)),
        };
  if (byBundle === undefined) classifications.set(presented, (byBundle = new WeakMap()));
  byBundle.set(bundle, classified ?? null);
  return classified;
}

/**
 * Follows `presented` in order (as Node reports it: leaf, the intermediates, the CA OpenSSL found)
 * until a certificate of `bundle` issued the current one. Each step needs the issuer's name, its CA
 * flag and its signature; everything else is OpenSSL's verdict.
 */
function findPath(
  presented: readonly X509Certificate[],
  bundle: readonly TrustedCertificate[],
): TrustedCertificate[] | undefined {
  const path: TrustedCertificate[] = [];
  for (let index = 0; index < Math.min(presented.length, MAX_CHAIN_LENGTH); index++) {
    const current = presented[index] as X509Certificate;
    if (index > 0 && !issued(current, presented[index - 1] as X509Certificate)) return undefined;
    path.push(trusted(current));
    const anchor = bundle.find((candidate) => issued(candidate.cert, current));
    if (anchor !== undefined) return [...path, anchor];
  }
  return undefined;
}

function issued(issuer: X509Certificate, subject: X509Certificate): boolean {
  if (!issuer.ca || !subject.checkIssued(issuer)) return false;
  try {
    return subject.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

function validityProblem(cert: TrustedCertificate, now: number): string | undefined {
  if (!(now >= cert.notBefore)) return `not valid before ${cert.cert.validFrom}`;
  if (!(now <= cert.notAfter)) return `expired at ${cert.cert.validTo}`;
  return undefined;
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

/** The first `CN` of a certificate's subject (undefined without one), read once per certificate. */
export function commonName(cert: X509Certificate): string | undefined {
  if (commonNames.has(cert)) return commonNames.get(cert);
  const cn = subjectAttributes(cert, 'CN')[0];
  commonNames.set(cert, cn);
  return cn;
}
const commonNames = new WeakMap<X509Certificate, string | undefined>();

/** `cert.subject` is rebuilt by OpenSSL on every read: read it once per certificate. */
const subjects = new WeakMap<X509Certificate, string[]>();
function subjectLines(cert: X509Certificate): string[] {
  let lines = subjects.get(cert);
  if (lines === undefined) subjects.set(cert, (lines = cert.subject.split('\n')));
  return lines;
}

/** What a connection's client presented and what OpenSSL said of it, read together once. */
export interface PeerCertificates {
  chain: X509Certificate[];
  verdict: HandshakeVerdict;
}

const peersBySocket = new WeakMap<TLSSocket, PeerCertificates>();

/**
 * The client certificate chain of a TLS connection, leaf first, empty when the client sent none.
 * Read once per connection and cached (keep-alive connections from the front proxy carry many
 * requests), together with OpenSSL's verdict ({@link handshakeVerdict}), so the two always
 * describe the same handshake. Read through `getPeerX509Certificate()` and its `issuerCertificate`
 * links: Node 20 links the intermediates the client presented there, Node 24 gives a server the
 * leaf alone (there, an intermediate CA must be in the CA bundle, with its root, to be classified).
 * `getPeerCertificate(true)` is not used: its detailed objects cost 0.1 ms (Node 24) to 0.8 ms
 * (Node 20, with intermediates) per connection, and on Node 20 it reports the intermediates on its
 * first call only. The server must be created with `requestCert: true` (and
 * `rejectUnauthorized: false`, since token clients present no certificate).
 */
export function peerCertificateChain(socket: TLSSocket): X509Certificate[] {
  return peerCertificates(socket).chain;
}

/** The chain ({@link peerCertificateChain}) and the verdict ({@link handshakeVerdict}) of a connection, in one lookup. */
export function peerCertificates(socket: TLSSocket): PeerCertificates {
  const cached = peersBySocket.get(socket);
  if (cached !== undefined) return cached;
  const presented: X509Certificate[] = [];
  const fingerprints: string[] = [];
  let current = socket.getPeerX509Certificate();
  while (current !== undefined && presented.length < MAX_CHAIN_LENGTH) {
    const fingerprint = current.fingerprint256;
    // A root links to itself (as a new object): the chain ends at a certificate seen already.
    if (fingerprints.includes(fingerprint)) break;
    presented.push(current);
    fingerprints.push(fingerprint);
    current = current.issuerCertificate;
  }
  const peer = { chain: sharedChain(presented, fingerprints), verdict: readVerdict(socket) };
  peersBySocket.set(socket, peer);
  return peer;
}

/** Chains of recent connections by their certificates' SHA-256 fingerprints, the oldest first. */
const chainsByFingerprints = new Map<string, X509Certificate[]>();
/** Distinct chains remembered (front proxies and clients that reconnect); the oldest is dropped beyond. */
const REMEMBERED_CHAINS = 256;

/**
 * The chain of the presented certificates, shared (frozen) by every connection presenting the
 * same ones, so that a client's new connection keeps the classification
 * ({@link acceptClientCertificate}) made for its first. Equal SHA-256 fingerprints of the DER mean
 * equal certificates.
 */
function sharedChain(presented: X509Certificate[], fingerprints: readonly string[]): X509Certificate[] {
  const key = fingerprints.join(' ');
  const known = chainsByFingerprints.get(key);
  if (known !== undefined) return known;
  const chain = Object.freeze(presented) as X509Certificate[];
  chainsByFingerprints.set(key, chain);
  if (chainsByFingerprints.size > REMEMBERED_CHAINS)
    chainsByFingerprints.delete(chainsByFingerprints.keys().next().value as string);
  return chain;
}
