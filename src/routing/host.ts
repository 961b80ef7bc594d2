/**
 * @module routing/host
 * Host header normalisation and W3C baggage member lookup: string scans, no allocation
 * unless the input needs changing. Pure.
 */

/**
 * Lowercases a Host value and drops the port and a trailing dot (`Feat1.Shop.localhost:8080.` →
 * `feat1.shop.localhost`). IPv6 literals keep their brackets. Returns the input when already
 * normal, so the common case allocates nothing.
 * @see RFC 9110 §7.2 (Host is case-insensitive; port optional)
 */
// HOT PATH — change with care: called once per request.
export function normaliseHost(host: string): string {
  let end = host.length;
  let needsLower = false;
  let i = 0;
  if (host.charCodeAt(0) === 91 /* [ */) {
    const close = host.indexOf(']');
    if (close > 0) return host.slice(0, close + 1).toLowerCase();
  }
  for (; i < end; i++) {
    const c = host.charCodeAt(i);
    if (c === 58 /* : */) { end = i; break; }
    if (c >= 65 && c <= 90) needsLower = true;
  }
  if (end > 0 && host.charCodeAt(end - 1) === 46 /* . */) end--;
  if (end === host.length && !needsLower) return host;
  const s = end === host.length ? host : host.slice(0, end);
  return needsLower ? s.toLowerCase() : s;
}

/**
 * Value of the member `key` in a W3C `baggage` header, or `undefined`. Properties after `;`
 * are ignored; values are percent-decoded only when they contain `%`.
 * @see W3C Baggage §3.2 (list members separated by `,`, OWS around them)
 */
export function baggageMember(baggage: string, key: string): string | undefined {
  let pos = 0;
  const n = baggage.length;
  while (pos < n) {
    let comma = baggage.indexOf(',', pos);
    if (comma === -1) comma = n;
    // skip OWS
    let s = pos;
    while (s < comma && (baggage.charCodeAt(s) === 32 || baggage.charCodeAt(s) === 9)) s++;
    if (baggage.startsWith(key, s)) {
      let e = s + key.length;
      while (e < comma && (baggage.charCodeAt(e) === 32 || baggage.charCodeAt(e) === 9)) e++;
      if (baggage.charCodeAt(e) === 61 /* = */) {
        let vEnd = baggage.indexOf(';', e + 1);
        if (vEnd === -1 || vEnd > comma) vEnd = comma;
        const v = baggage.slice(e + 1, vEnd).trim();
        if (v.indexOf('%') === -1) return v;
        try { return decodeURIComponent(v); } catch { return v; }
      }
    }
    pos = comma + 1;
  }
  return undefined;
}

/**
 * Returns `baggage` with member `key` set to `value`: replaced in place if present, else
 * appended; other members untouched. `undefined` input gives just the member.
 */
export function setBaggageMember(baggage: string | undefined, key: string, value: string): string {
  const member = `${key}=${value}`;
  if (!baggage) return member;
  const parts = baggage.split(',');
  let found = false;
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!.trim();
    const eq = p.indexOf('=');
    if (eq > 0 && p.slice(0, eq).trim() === key) {
      if (found) { parts.splice(i--, 1); continue; }
      found = true;
      const semi = p.indexOf(';');
      parts[i] = semi === -1 ? member : member + p.slice(semi);
    } else parts[i] = p;
  }
  if (!found) parts.push(member);
  return parts.filter((p) => p.length > 0).join(',');
}
