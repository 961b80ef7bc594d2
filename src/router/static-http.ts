/**
 * @module router/static-http
 * Pure HTTP helpers of static serving: request-path decoding with traversal checks, `Range`,
 * `Accept-Encoding`, entity-tag matching and cache policy. No I/O; unit-tested through
 * {@link serveStatic}.
 */

/** A decoded request path, or why it is refused. */
export type DecodedPath =
  | { ok: true; /** Site-relative, no leading `/`; `''` is the root; a trailing `/` marks a folder. */ rel: string; /** Raw path as sent (still encoded). */ raw: string; query: string }
  | { ok: false; reason: string };

/**
 * Splits off the query, percent-decodes the path exactly once and refuses anything that could
 * name a file outside the site or alias another name: backslashes (raw or `%5C`), encoded
 * slashes (`%2F`), NUL and other control characters, bad escapes, and empty, `.` or `..`
 * segments (also when written `%2e%2e`). Double-encoded input (`%252e`) stays literal.
 */
export function decodeRequestPath(pathWithQuery: string): DecodedPath {
  const q = pathWithQuery.indexOf('?');
  let raw = q === -1 ? pathWithQuery : pathWithQuery.slice(0, q);
  const query = q === -1 ? '' : pathWithQuery.slice(q);
  const hash = raw.indexOf('#');
  if (hash !== -1) raw = raw.slice(0, hash);
  if (raw === '') raw = '/';
  if (!raw.startsWith('/')) raw = '/' + raw;
  if (raw.includes('\\')) return { ok: false, reason: 'backslash in path' };
  if (/%(2f|5c)/i.test(raw)) return { ok: false, reason: 'encoded "/" or "\\" in path' };
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    return { ok: false, reason: 'malformed percent-encoding' };
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(decoded)) return { ok: false, reason: 'control character in path' };
  const segs = decoded.slice(1).split('/');
  for (let i = 0; i < segs.length; i++) {
    const s = segs[i]!;
    if (s === '.' || s === '..') return { ok: false, reason: `"${s}" segment in path` };
    if (s === '' && i !== segs.length - 1) return { ok: false, reason: 'empty segment in path' };
  }
  return { ok: true, rel: decoded.slice(1), raw, query };
}

/** Result of parsing `Range` against a size. */
export type RangeResult =
  | { kind: 'none' }
  | { kind: 'unsatisfiable' }
  | { kind: 'range'; start: number; end: number };

/**
 * Parses a single `bytes=` range (`a-b`, `a-`, `-n`). Syntax it does not support (other
 * units, several ranges, garbage) is ignored as RFC 9110 allows: the whole file is sent.
 */
export function parseRange(header: string | undefined, size: number): RangeResult {
  if (header === undefined) return { kind: 'none' };
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!m || (m[1] === '' && m[2] === '')) return { kind: 'none' };
  if (m[1] === '') {
    const n = Number(m[2]);
    if (n === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'range', start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? Number.MAX_SAFE_INTEGER : Number(m[2]);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || end < start) return { kind: 'none' };
  if (start >= size) return { kind: 'unsatisfiable' };
  return { kind: 'range', start, end: Math.min(end, size - 1) };
}

/** Encodings this server produces, best first. */
export type Coding = 'br' | 'gzip';

/**
 * The codings `Accept-Encoding` allows, best first by q-value (ties: br before gzip).
 * `*` stands for every coding not named; `q=0` excludes.
 */
export function acceptedCodings(header: string | undefined): Coding[] {
  if (!header) return [];
  const q = new Map<string, number>();
  for (const part of header.split(',')) {
    const [name, ...params] = part.trim().toLowerCase().split(';');
    if (!name) continue;
    let weight = 1;
    for (const p of params) {
      const m = /^\s*q\s*=\s*([0-9.]+)\s*$/.exec(p);
      if (m) weight = Number(m[1]);
    }
    q.set(name === 'x-gzip' ? 'gzip' : name, Number.isFinite(weight) ? weight : 0);
  }
  const star = q.get('*');
  const weightOf = (c: Coding) => q.get(c) ?? star ?? 0;
  return (['br', 'gzip'] as const).filter((c) => weightOf(c) > 0).sort((a, b) => weightOf(b) - weightOf(a));
}

/** Weak comparison of `If-None-Match` against an entity tag (`*` matches any). */
export function noneMatch(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  const opaque = (t: string) => t.trim().replace(/^W\//, '');
  const mine = opaque(etag);
  return header.split(',').some((t) => t.trim() === '*' || opaque(t) === mine);
}

/** Strong comparison for `If-Range`: a date or a weak tag never matches (we send no `Last-Modified`). */
export function ifRangeMatches(header: string | undefined, etag: string): boolean {
  if (header === undefined) return true;
  const t = header.trim();
  return !t.startsWith('W/') && !etag.startsWith('W/') && t === etag;
}

/**
 * A fingerprinted name: its file name has a run of ≥ 8 hex digits, mixing digits and letters,
 * delimited by `.`, `-` or `_` (`app.3f9a1c2b.js`, `chunk-0a1b2c3d4e.css`). Requiring both
 * digits and letters keeps dates (`report-20240101.pdf`) and words out.
 */
export function isFingerprinted(path: string): boolean {
  const name = path.slice(path.lastIndexOf('/') + 1);
  for (const m of name.matchAll(/(?:^|[.\-_])([0-9a-f]{8,})(?=[.\-_])/gi)) {
    const run = m[1]!;
    if (/[0-9]/.test(run) && /[a-f]/i.test(run)) return true;
  }
  return false;
}

/** `Cache-Control` for a served file: HTML revalidates always, fingerprinted assets never. */
export function cacheControlFor(path: string, contentType: string): string {
  if (contentType.startsWith('text/html')) return 'no-cache';
  if (isFingerprinted(path)) return 'public, max-age=31536000, immutable';
  return 'no-cache';
}

/** Whether the last segment has a file extension (`app.js`, not `about` or `.well-known`). */
export function hasExtension(rel: string): boolean {
  const name = rel.slice(rel.lastIndexOf('/') + 1);
  return name.lastIndexOf('.') > 0;
}
