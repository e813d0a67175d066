/**
 * IP address parsing for the egress policy. Every spelling an attacker could use to reach a denied
 * address is understood: inet_aton IPv4 forms (`2130706433`, `0x7f.1`, `0177.0.0.1`, `127.1`),
 * IPv6 with compression, zone ids and embedded IPv4, and IPv4-mapped / -compatible / NAT64 / 6to4
 * IPv6 addresses, which are checked as the IPv4 address they carry.
 */

/** A parsed address: family and value as a 32- or 128-bit integer. */
export interface IpAddress {
  family: 4 | 6;
  value: bigint;
}

/** A CIDR block such as `10.0.0.0/8` or `fd00:ec2::254/128`. */
export interface CidrBlock {
  family: 4 | 6;
  base: bigint;
  prefix: number;
  /** The text it was written as, for messages. */
  text: string;
}

/**
 * Parses an IPv4 address the way `inet_aton` (and so `getaddrinfo`) does: one to four parts, each
 * decimal, octal (leading 0) or hex (0x); the last part fills the remaining bytes.
 */
export function parseIPv4(text: string): IpAddress | undefined {
  const parts = text.split('.');
  // A trailing dot is accepted by resolvers (`127.0.0.1.`).
  if (parts.length > 1 && parts[parts.length - 1] === '') parts.pop();
  if (parts.length > 4) return undefined;
  const numbers: number[] = [];
  for (const part of parts) {
    let value: number;
    if (/^0x[0-9a-f]*$/i.test(part)) value = part.length === 2 ? 0 : parseInt(part.slice(2), 16);
    else if (/^0[0-7]+$/.test(part)) value = parseInt(part.slice(1), 8);
    else if (/^(0|[1-9][0-9]*)$/.test(part)) value = Number(part);
    else return undefined;
    if (!Number.isFinite(value)) return undefined;
    numbers.push(value);
  }
  const last = numbers.pop() as number;
  if (numbers.some((n) => n > 255)) return undefined;
  const lastBytes = 4 - numbers.length;
  if (last >= 2 ** (8 * lastBytes)) return undefined;
  let value = 0n;
  for (const n of numbers) value = (value << 8n) | BigInt(n);
  value = (value << BigInt(8 * lastBytes)) | BigInt(last);
  return { family: 4, value };
}

/** Parses an IPv6 address (brackets, zone id and a trailing embedded IPv4 accepted). */
export function parseIPv6(text: string): IpAddress | undefined {
  let s = text;
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1);
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  if (!s.includes(':')) return undefined;
  const lastColon = s.lastIndexOf(':');
  const lastPart = s.slice(lastColon + 1);
  if (lastPart.includes('.')) {
    // An embedded IPv4 must be a strict dotted quad; rewrite it as two hex groups.
    if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(lastPart)) return undefined;
    const v4 = parseIPv4(lastPart);
    if (!v4) return undefined;
    s = `${s.slice(0, lastColon + 1)}${(v4.value >> 16n).toString(16)}:${(v4.value & 0xffffn).toString(16)}`;
  }
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const groupsOf = (part: string): bigint[] | undefined => {
    if (part === '') return [];
    const out: bigint[] = [];
    for (const group of part.split(':')) {
      if (!/^[0-9a-f]{1,4}$/i.test(group)) return undefined;
      out.push(BigInt(parseInt(group, 16)));
    }
    return out;
  };
  const head = groupsOf(halves[0] as string);
  const rest = halves.length === 2 ? groupsOf(halves[1] as string) : [];
  if (!head || !rest) return undefined;
  const explicit = head.length + rest.length;
  if (halves.length === 1 ? explicit !== 8 : explicit > 7) return undefined;
  const groups = [...head, ...Array<bigint>(8 - explicit).fill(0n), ...rest];
  let value = 0n;
  for (const g of groups) value = (value << 16n) | g;
  return { family: 6, value };
}

/** Parses any IP spelling; `undefined` for host names. */
export function parseIp(text: string): IpAddress | undefined {
  return text.includes(':') ? parseIPv6(text) : parseIPv4(text);
}

const MAPPED_PREFIX = 0xffffn << 32n; // ::ffff:0:0/96
const NAT64_PREFIX = 0x64ff9bn << 96n; // 64:ff9b::/96
const SIX_TO_FOUR = 0x2002n; // 2002::/16

/**
 * The IPv4 address an IPv6 address carries (mapped, compatible, NAT64, 6to4), so that it is
 * checked against the IPv4 rules too.
 */
export function embeddedIPv4(address: IpAddress): IpAddress | undefined {
  if (address.family !== 6) return undefined;
  const v = address.value;
  const low32 = v & 0xffffffffn;
  const high96 = v >> 32n;
  if (high96 === MAPPED_PREFIX >> 32n) return { family: 4, value: low32 };
  if (high96 === NAT64_PREFIX >> 32n) return { family: 4, value: low32 };
  // IPv4-compatible (::a.b.c.d), excluding :: and ::1.
  if (high96 === 0n && low32 > 1n) return { family: 4, value: low32 };
  if (v >> 112n === SIX_TO_FOUR) return { family: 4, value: (v >> 80n) & 0xffffffffn };
  return undefined;
}

/** Parses `a.b.c.d/n`, `x::y/n` or a bare address (a /32 or /128 block). */
export function parseCidr(text: string): CidrBlock | undefined {
  const slash = text.indexOf('/');
  const addressText = slash < 0 ? text : text.slice(0, slash);
  const address = addressText.includes(':') ? parseIPv6(addressText) : parseStrictIPv4(addressText);
  if (!address) return undefined;
  const bits = address.family === 4 ? 32 : 128;
  const prefixText = slash < 0 ? String(bits) : text.slice(slash + 1);
  if (!/^[0-9]{1,3}$/.test(prefixText)) return undefined;
  const prefix = Number(prefixText);
  if (prefix > bits) return undefined;
  const mask = maskOf(prefix, bits);
  return { family: address.family, base: address.value & mask, prefix, text };
}

/** True when the block contains the address (same family only). */
export function cidrContains(block: CidrBlock, address: IpAddress): boolean {
  if (block.family !== address.family) return false;
  const bits = block.family === 4 ? 32 : 128;
  return (address.value & maskOf(block.prefix, bits)) === block.base;
}

/** Formats an address canonically (dotted quad, or full lower-case IPv6 groups compressed). */
export function formatIp(address: IpAddress): string {
  if (address.family === 4) {
    const v = Number(address.value);
    return [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join('.');
  }
  const groups: string[] = [];
  for (let i = 7; i >= 0; i--) groups.push(((address.value >> BigInt(16 * i)) & 0xffffn).toString(16));
  // Compress the longest run of two or more zero groups (RFC 5952).
  let best = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; i++) {
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLength) [best, bestLength] = [i, j - i];
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLength).join(':')}`;
}

function parseStrictIPv4(text: string): IpAddress | undefined {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(text) ? parseIPv4(text) : undefined;
}

function maskOf(prefix: number, bits: number): bigint {
  if (prefix === 0) return 0n;
  const all = (1n << BigInt(bits)) - 1n;
  return (all >> BigInt(bits - prefix)) << BigInt(bits - prefix);
}
