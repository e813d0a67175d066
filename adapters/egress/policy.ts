/**
 * Egress policy for task URLs (docs/operations.md, "Egress"). Destinations are checked twice: the URL's host before
 * anything is sent (host lists, IP literals in any spelling), and every resolved address inside the
 * socket's own DNS lookup, so the connection goes to exactly the address that was checked (no
 * time-of-check/time-of-use gap and no DNS rebinding).
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import type { LookupAddress } from 'node:dns';
import { SyncflowError, type FieldError } from '../../core/errors.ts';
import {
  cidrContains,
  embeddedIPv4,
  formatIp,
  parseCidr,
  parseIp,
  type CidrBlock,
  type IpAddress,
} from './address.ts';

/** Which destinations tasks may call. */
export interface EgressPolicyOptions {
  /** Allow 127.0.0.0/8 and ::1 (the local CLI and tests do; the server does not). */
  allowLoopback?: boolean;
  /** When non-empty, only addresses in these blocks; they never override the built-in denials. */
  allowCidrs?: readonly string[];
  /** Addresses never called, whatever else allows them. */
  denyCidrs?: readonly string[];
  /** When non-empty, only these hosts (`api.example.com`, or `*.svc.cluster.local` for subdomains). */
  allowHosts?: readonly string[];
  /** Hosts never called. Same patterns as `allowHosts`. */
  denyHosts?: readonly string[];
  /** Redirect hops followed (each re-checked); 0, the default, refuses redirects. */
  maxRedirects?: number;
}

/** Outcome of a check: allowed, or denied with a human-readable reason. */
export type EgressDecision = { allowed: true } | { allowed: false; reason: string };

/** Resolves a host name to its addresses (injected so tests and the server can choose). */
export interface HostResolver {
  resolve(hostname: string): Promise<ReadonlyArray<{ address: string; family: number }>>;
}

/** The operating system resolver (`getaddrinfo`), returning every address. */
export const systemResolver: HostResolver = {
  resolve: (hostname) => dnsLookup(hostname, { all: true, verbatim: true }),
};

/** The `lookup` signature `net.connect` calls; `all` is set when happy-eyeballs is on. */
export type SocketLookup = (
  hostname: string,
  options: { all?: boolean; family?: number | string },
  callback: (error: Error | null, address: string | LookupAddress[], family?: number) => void,
) => void;

interface NamedBlock {
  block: CidrBlock;
  why: string;
}

const BUILTIN_DENIED: ReadonlyArray<[string, string]> = [
  ['0.0.0.0/8', 'a "this network" address'],
  ['::/128', 'the unspecified address'],
  ['169.254.169.254/32', 'the cloud metadata address'],
  ['fd00:ec2::254/128', 'the cloud metadata address'],
  ['100.100.100.200/32', 'the cloud metadata address'],
  ['169.254.0.0/16', 'a link-local address'],
  ['fe80::/10', 'a link-local address'],
  ['224.0.0.0/4', 'a multicast address'],
  ['ff00::/8', 'a multicast address'],
  ['255.255.255.255/32', 'the broadcast address'],
];
const LOOPBACK: ReadonlyArray<[string, string]> = [
  ['127.0.0.0/8', 'a loopback address'],
  ['::1/128', 'a loopback address'],
];
const DECISION_CACHE_LIMIT = 1_000;
const ALLOWED: EgressDecision = { allowed: true };

/** A compiled egress policy: checks URLs and provides the pinning socket lookup. */
export class EgressPolicy {
  readonly maxRedirects: number;
  private readonly builtin: NamedBlock[];
  private readonly allowCidrs: CidrBlock[];
  private readonly denyCidrs: CidrBlock[];
  private readonly allowHosts: string[];
  private readonly denyHosts: string[];
  private readonly resolver: HostResolver;
  private readonly hostDecisions = new Map<string, EgressDecision>();

  /** Compiles the options; throws `SyncflowError('FieldInvalid')` listing every bad entry. */
  constructor(options: EgressPolicyOptions = {}, resolver: HostResolver = systemResolver) {
    const errors: FieldError[] = [];
    const cidrs = (list: readonly string[] | undefined, field: string): CidrBlock[] =>
      (list ?? []).flatMap((text, i) => {
        const block = parseCidr(text.trim());
        if (block) return [block];
        errors.push({
          code: 'FieldInvalid',
          field: `${field}[${i}]`,
          message: `\`${text}\` is not a CIDR block`,
        });
        return [];
      });
    this.allowCidrs = cidrs(options.allowCidrs, 'allowCidrs');
    this.denyCidrs = cidrs(options.denyCidrs, 'denyCidrs');
    const maxRedirects = options.maxRedirects ?? 0;
    if (!Number.isInteger(maxRedirects) || maxRedirects < 0 || maxRedirects > 20) {
      errors.push({
        code: 'FieldInvalid',
        field: 'maxRedirects',
        message: 'must be an integer from 0 to 20',
      });
    }
    if (errors.length) throw new SyncflowError('FieldInvalid', 'invalid egress policy', { causes: errors });
    this.maxRedirects = maxRedirects;
    this.allowHosts = (options.allowHosts ?? []).map(normalizeHost);
    this.denyHosts = (options.denyHosts ?? []).map(normalizeHost);
    const builtin = options.allowLoopback ? BUILTIN_DENIED : [...LOOPBACK, ...BUILTIN_DENIED];
    this.builtin = builtin.map(([cidr, why]) => ({ block: parseCidr(cidr) as CidrBlock, why }));
    this.resolver = resolver;
  }

  /** Checks one address (and any IPv4 address embedded in it). */
  checkAddress(address: IpAddress): EgressDecision {
    const candidates = [address];
    const embedded = embeddedIPv4(address);
    if (embedded) candidates.push(embedded);
    const shown = formatIp(address);
    for (const candidate of candidates) {
      const denied = this.denyCidrs.find((b) => cidrContains(b, candidate));
      if (denied) return { allowed: false, reason: `${shown} is in the denied block ${denied.text}` };
    }
    // The built-in denials come before the allow list: an allow block only narrows what may be
    // called, it never reopens the metadata or link-local addresses (loopback has its own option).
    for (const candidate of candidates) {
      const builtin = this.builtin.find((b) => cidrContains(b.block, candidate));
      if (builtin) return { allowed: false, reason: `${shown} is ${builtin.why}` };
    }
    if (this.allowCidrs.length && !candidates.some((c) => this.allowCidrs.some((b) => cidrContains(b, c)))) {
      return { allowed: false, reason: `${shown} is not in the allowed blocks` };
    }
    return ALLOWED;
  }

  /**
   * Checks a URL before anything is sent: scheme, host lists, and the address when the host is an
   * IP literal (sockets skip the lookup for those, so this is where they are checked).
   */
  checkUrl(url: URL): EgressDecision {
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      return { allowed: false, reason: `scheme ${url.protocol} is not allowed; use http or https` };
    }
    const host = url.hostname;
    let decision = this.hostDecisions.get(host);
    if (decision === undefined) {
      decision = this.checkHost(host);
      if (this.hostDecisions.size >= DECISION_CACHE_LIMIT) this.hostDecisions.clear();
      this.hostDecisions.set(host, decision);
    }
    return decision;
  }

  /** Resolves a host and returns only checked addresses; rejects when any address is denied. */
  async resolve(hostname: string): Promise<IpAddress[]> {
    const literal = parseIp(hostname);
    const addresses = literal
      ? [literal]
      : (await this.resolver.resolve(hostname)).map((a) => parseIp(a.address));
    const out: IpAddress[] = [];
    for (const address of addresses) {
      if (!address) throw new SyncflowError('EgressDenied', `${hostname} resolved to an unparseable address`);
      const decision = this.checkAddress(address);
      // One denied address denies the host: a name that can point inside must not be called at all.
      if (!decision.allowed) throw new SyncflowError('EgressDenied', `${hostname}: ${decision.reason}`);
      out.push(address);
    }
    if (!out.length) throw new SyncflowError('EgressDenied', `${hostname} did not resolve to any address`);
    return out;
  }

  /** A `lookup` for `net.connect`/`tls.connect` that connects only to addresses this policy checked. */
  readonly lookup: SocketLookup = (hostname, options, callback) => {
    this.resolve(hostname).then(
      (addresses) => {
        const wanted =
          options.family === 4 || options.family === 'IPv4'
            ? 4
            : options.family === 6 || options.family === 'IPv6'
              ? 6
              : 0;
        const usable = wanted ? addresses.filter((a) => a.family === wanted) : addresses;
        if (!usable.length) {
          callback(new SyncflowError('EgressDenied', `${hostname} has no IPv${wanted} address`), '', 0);
        } else if (options.all) {
          callback(
            null,
            usable.map((a) => ({ address: formatIp(a), family: a.family })),
          );
        } else {
          const first = usable[0] as IpAddress;
          callback(null, formatIp(first), first.family);
        }
      },
      (error: Error) => callback(error, '', 0),
    );
  };

  private checkHost(rawHost: string): EgressDecision {
    const host = normalizeHost(rawHost);
    if (this.denyHosts.some((pattern) => hostMatches(pattern, host))) {
      return { allowed: false, reason: `host ${host} is denied` };
    }
    if (this.allowHosts.length && !this.allowHosts.some((pattern) => hostMatches(pattern, host))) {
      return { allowed: false, reason: `host ${host} is not in the allowed hosts` };
    }
    const literal = parseIp(host);
    if (literal) return this.checkAddress(literal);
    if (host === 'localhost' || host.endsWith('.localhost')) {
      // Resolvers answer these from /etc/hosts; check what they mean, not what DNS says.
      return this.checkAddress(parseIp('127.0.0.1') as IpAddress);
    }
    return ALLOWED;
  }
}

function normalizeHost(host: string): string {
  let h = host.trim().toLowerCase();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  if (h.endsWith('.')) h = h.slice(0, -1);
  return h;
}

function hostMatches(pattern: string, host: string): boolean {
  if (pattern.startsWith('*.')) return host.endsWith(pattern.slice(1));
  return pattern === host;
}
