/**
 * @module edge/names
 * Host names as TLS and certificates see them: normalisation of an SNI `servername`, the
 * certificate-name rules (RFC 5280 §4.2.1.6 `dNSName`, RFC 6125 §6.4.3 wildcards: `*` only as the
 * whole leftmost label, matching exactly one label) and the domain tests the certificate
 * manager uses. Pure functions, no I/O.
 */

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/**
 * Lower-cases a host name and drops one trailing dot. Returns undefined for anything that is not a
 * plausible DNS name (empty, > 253 octets, a label that is empty, > 63 octets, has characters other
 * than `a-z0-9-` or starts/ends with `-`). An IP literal is not a DNS name either.
 * `allowWildcard` admits `*` as the whole leftmost label (certificate names only).
 */
export function normalizeHost(name: string, allowWildcard = false): string | undefined {
  if (typeof name !== 'string') return undefined;
  let n = name.toLowerCase();
  if (n.endsWith('.')) n = n.slice(0, -1);
  if (n.length === 0 || n.length > 253) return undefined;
  const labels = n.split('.');
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i]!;
    if (i === 0 && l === '*' && allowWildcard && labels.length >= 3) continue;
    if (!LABEL.test(l)) return undefined;
  }
  // All-numeric last label: an IPv4 literal or nonsense, never a certificate DNS name.
  if (/^[0-9]+$/.test(labels[labels.length - 1]!)) return undefined;
  return n;
}

/** `a.shop.localhost` → `*.shop.localhost`; undefined when the parent would be a single label. */
export function wildcardFor(host: string): string | undefined {
  const dot = host.indexOf('.');
  if (dot < 0) return undefined;
  const parent = host.slice(dot + 1);
  if (!parent.includes('.')) return undefined;
  return `*.${parent}`;
}

/** True when `host` is `domain` itself or exactly one label under it (what `*.domain` + `domain` cover). */
export function coveredByDomain(host: string, domain: string): boolean {
  if (host === domain) return true;
  if (!host.endsWith(`.${domain}`)) return false;
  const label = host.slice(0, host.length - domain.length - 1);
  return label.length > 0 && !label.includes('.');
}

/**
 * RFC 6125 §6.4.3 match of a presented certificate name (maybe `*.x.y`) against a host name:
 * a wildcard stands for exactly one whole label.
 */
export function certNameMatches(certName: string, host: string): boolean {
  if (certName === host) return true;
  if (!certName.startsWith('*.')) return false;
  return wildcardFor(host) === certName;
}
