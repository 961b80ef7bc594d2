/**
 * @module edge/ip
 * IP addresses and CIDR ranges for access policies: parsing IPv4 (RFC 791 dotted quad) and IPv6
 * (RFC 4291 §2.2 text forms, `::` compression, embedded IPv4), CIDR prefixes (RFC 4632 §3.1),
 * IPv4-mapped IPv6 (`::ffff:1.2.3.4`, RFC 4291 §2.5.5.2) treated as the IPv4 address it maps,
 * and the client address behind trusted proxies from `X-Forwarded-For`. Pure, no I/O.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { swyError } from '../errors/index.js';

/** An address as bytes: 4 for IPv4 (mapped IPv6 included), 16 for IPv6. */
export interface IpBytes { family: 4 | 6; bytes: Uint8Array }

/** A parsed CIDR range; host bits are cleared. */
export interface Cidr extends IpBytes { prefix: number }

/**
 * Parses an IP address; IPv4-mapped IPv6 becomes IPv4. A zone (`%eth0`) is dropped.
 * Returns undefined when it is not an address (leading zeros in IPv4 are refused, as Node does).
 */
export function parseIp(text: string): IpBytes | undefined {
  let s = text.trim();
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  if (isIPv4(s)) return { family: 4, bytes: Uint8Array.from(s.split('.').map(Number)) };
  if (!isIPv6(s)) return undefined;
  const bytes = new Uint8Array(16);
  let tail = s;
  let v4: number[] | undefined;
  const lastColon = s.lastIndexOf(':');
  if (s.slice(lastColon + 1).includes('.')) { v4 = s.slice(lastColon + 1).split('.').map(Number); tail = s.slice(0, lastColon + 1) + '0:0'; }
  const [head, rest] = tail.includes('::') ? tail.split('::') as [string, string] : [tail, undefined];
  const h = head ? head.split(':') : [];
  const r = rest !== undefined && rest !== '' ? rest.split(':') : [];
  const groups = rest === undefined ? h : [...h, ...Array<string>(8 - h.length - r.length).fill('0'), ...r];
  groups.forEach((g, i) => { const n = parseInt(g, 16); bytes[2 * i] = n >> 8; bytes[2 * i + 1] = n & 0xff; });
  if (v4) bytes.set(v4, 12);
  if (bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff) return { family: 4, bytes: bytes.slice(12) };
  return { family: 6, bytes };
}

/** The canonical text of an address (mapped IPv6 as dotted IPv4, IPv6 in RFC 5952 form). */
export function formatIp(ip: IpBytes): string {
  if (ip.family === 4) return [...ip.bytes].join('.');
  const g: number[] = [];
  for (let i = 0; i < 16; i += 2) g.push((ip.bytes[i]! << 8) | ip.bytes[i + 1]!);
  let bestStart = -1, bestLen = 1;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** Normalises an address text (mapped → IPv4); returns the input when it does not parse. */
export function normalizeIp(text: string): string {
  const p = parseIp(text);
  return p ? formatIp(p) : text;
}

/**
 * Parses `addr/prefix` (or a bare address: /32, /128). `::ffff:a.b.c.d/104` becomes the IPv4
 * range `a.b.c.d/8`. Host bits are cleared (`10.1.2.3/8` is `10.0.0.0/8`).
 * @throws SWY_CIDR_INVALID
 */
export function parseCidr(text: string): Cidr {
  const slash = text.indexOf('/');
  const addrText = slash < 0 ? text : text.slice(0, slash);
  const prefixText = slash < 0 ? undefined : text.slice(slash + 1);
  const ip = parseIp(addrText);
  const wasV6 = addrText.includes(':');
  if (!ip || (prefixText !== undefined && !/^\d{1,3}$/.test(prefixText))) throw swyError('SWY_CIDR_INVALID', `"${text}" is not an IP address or CIDR range`, { cidr: text });
  const textMax = wasV6 ? 128 : 32;
  let prefix = prefixText === undefined ? textMax : Number(prefixText);
  if (prefix > textMax) throw swyError('SWY_CIDR_INVALID', `"${text}": prefix longer than ${textMax} bits`, { cidr: text });
  if (ip.family === 4 && wasV6) {
    if (prefix < 96) throw swyError('SWY_CIDR_INVALID', `"${text}": an IPv4-mapped range needs a prefix of at least 96`, { cidr: text });
    prefix -= 96;
  }
  const bytes = ip.bytes.slice();
  for (let i = 0; i < bytes.length; i++) {
    const keep = Math.max(0, Math.min(8, prefix - 8 * i));
    bytes[i] = bytes[i]! & ((0xff << (8 - keep)) & 0xff);
  }
  return { family: ip.family, bytes, prefix };
}

/** True when `ip` lies in `cidr` (same family after mapping). */
export function cidrContains(cidr: Cidr, ip: IpBytes): boolean {
  if (cidr.family !== ip.family) return false;
  let bits = cidr.prefix;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((ip.bytes[i]! & mask) !== cidr.bytes[i]) return false;
  }
  return true;
}

/**
 * A compiled list of ranges. Linear in the list, which is short (an allowlist, a few proxies).
 * @throws SWY_CIDR_INVALID from the constructor for any bad entry.
 */
export class CidrSet {
  readonly ranges: readonly Cidr[];
  constructor(cidrs: readonly string[]) { this.ranges = cidrs.map(parseCidr); }
  get size(): number { return this.ranges.length; }
  /** True when the address (text or parsed) is in any range; false for an unparsable address. */
  has(ip: string | IpBytes): boolean {
    const p = typeof ip === 'string' ? parseIp(ip) : ip;
    return p !== undefined && this.ranges.some((c) => cidrContains(c, p));
  }
}

/** True when `ip` is in one of `cidrs` (strings or a {@link CidrSet}). @throws SWY_CIDR_INVALID */
export function ipAllowed(ip: string, cidrs: readonly string[] | CidrSet): boolean {
  return (cidrs instanceof CidrSet ? cidrs : new CidrSet(cidrs)).has(ip);
}

/** `1.2.3.4:80` / `[::1]:80` / `"[::1]"` → the address part (XFF entries sometimes carry ports). */
function stripPort(entry: string): string {
  let s = entry.trim().replace(/^"|"$/g, '');
  if (s.startsWith('[')) { const end = s.indexOf(']'); return end > 0 ? s.slice(1, end) : s; }
  if (/^\d+\.\d+\.\d+\.\d+:\d+$/.test(s)) s = s.slice(0, s.lastIndexOf(':'));
  return s;
}

/**
 * The client address for policy decisions. When the socket peer is a trusted proxy, walk
 * `X-Forwarded-For` right to left skipping trusted proxies; the first untrusted entry is the client.
 * Entries left of it were written by the client and are ignored. If every entry is trusted, the
 * leftmost is used; an unparsable entry stops the walk at the last trusted hop seen. A peer that
 * is not a trusted proxy is the client, whatever the header says. Returns the normalised address.
 */
export function clientIp(socketIp: string, xffHeader: string | string[] | undefined, trustedProxies: readonly string[] | CidrSet): string {
  const trusted = trustedProxies instanceof CidrSet ? trustedProxies : new CidrSet(trustedProxies);
  let current = normalizeIp(socketIp);
  if (!xffHeader || trusted.size === 0 || !trusted.has(current)) return current;
  const entries = (Array.isArray(xffHeader) ? xffHeader.join(',') : xffHeader).split(',');
  for (let i = entries.length - 1; i >= 0; i--) {
    const raw = stripPort(entries[i]!);
    if (raw === '') continue;
    const p = parseIp(raw);
    if (!p) return current;
    current = formatIp(p);
    if (!trusted.has(p)) return current;
  }
  return current;
}

/**
 * Rate-limit key of an address: IPv4 as is, IPv6 by its /64 (one subscriber usually holds a whole
 * /64, RFC 6177, so per-address buckets would be trivially sidestepped).
 */
export function rateKey(ip: string): string {
  const p = parseIp(ip);
  if (!p || p.family === 4) return ip;
  const b = p.bytes.slice();
  b.fill(0, 8);
  return `${formatIp({ family: 6, bytes: b })}/64`;
}
