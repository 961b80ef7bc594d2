/**
 * @module router/http1/parse
 * Strict HTTP/1.1 request heads straight from Buffers (RFC 9112 §3): the request line (a known
 * method, origin-, absolute- or asterisk-form target, HTTP/1.0 or 1.1), then the fields by the
 * shared rules of `fields.ts`, then Host and framing decided (RFC 9112 §3.2, §6). Pure: no I/O,
 * no `node:` imports; bytes in, a head or a {@link ParseError} out.
 *
 * Stricter than RFC 9112 requires (and, where noted, than Node's llhttp), on purpose: a proxy
 * that forwards a request must frame it exactly one way, so anything two parsers could read
 * differently is refused (request smuggling, RFC 9112 §11.2). The deliberate differences are
 * listed in docs/http1.md and pinned by test/router/http1/differential.test.ts, which feeds
 * generated heads to this parser and to llhttp. Callers pass Buffers; the `Uint8Array` type keeps
 * this module free of `node:` imports (a plain Uint8Array works too, decoded byte by byte).
 */

import { TCHAR } from './chars.js';
import {
  BodyKind, checkConnectionNames, framingOf, lower, CR, DEFAULT_HEAD_LIMITS, hasToken, headEnd, indexOfLF, LF, ParseError, parseFields, SP, str,
  type HeadLimits,
} from './fields.js';

export interface RequestHead {
  method: string;
  /** Request target exactly as sent (origin-, absolute- or asterisk-form). */
  target: string;
  /** 1 for HTTP/1.1, 0 for HTTP/1.0. */
  versionMinor: number;
  /** Fields as received: `[name, value, …]`, names in their original case, values without surrounding OWS. */
  raw: string[];
  /** Bytes of the head including the final CRLF. */
  length: number;
  body: BodyKind;
  /** Body length in bytes when `body` is {@link BodyKind.Length}. */
  contentLength: number;
  /** The Host field (HTTP/1.1 requires exactly one); for absolute-form it equals the target's authority. */
  host: string | undefined;
  /** The connection may carry another request after this one. */
  keepAlive: boolean;
  /** `Connection: upgrade` with a non-empty `Upgrade` field (WebSocket and friends). */
  upgrade: boolean;
  /** `Expect: 100-continue`. */
  expectContinue: boolean;
  /** The bytes the head was parsed from (kept so the upstream head can copy field lines as they came). */
  buf: Uint8Array;
  /** Offsets in `buf`: the request line, and the first field line (just after the request line's LF). */
  lineStart: number;
  fieldsStart: number;
  /** Field lines as `[lineStart, lineEnd (after LF), class, …]`, class one of {@link FieldClass}. */
  spans: number[];
  /** The Connection field's value(s), joined with `, `. */
  connection: string | undefined;
  /** Set by the router when it replaced the client's `traceparent` (then `traceparent`/`tracestate` lines are not copied). */
  traceparent?: string;
}

/** The methods Node's llhttp knows (`http.METHODS` of Node 20): anything else is refused. */
const METHODS = new Set(['ACL', 'BIND', 'CHECKOUT', 'CONNECT', 'COPY', 'DELETE', 'GET', 'HEAD', 'LINK', 'LOCK', 'M-SEARCH', 'MERGE',
  'MKACTIVITY', 'MKCALENDAR', 'MKCOL', 'MOVE', 'NOTIFY', 'OPTIONS', 'PATCH', 'POST', 'PROPFIND', 'PROPPATCH', 'PURGE', 'PUT', 'QUERY',
  'REBIND', 'REPORT', 'SEARCH', 'SOURCE', 'SUBSCRIBE', 'TRACE', 'UNBIND', 'UNLINK', 'UNLOCK', 'UNSUBSCRIBE']);

/** request-target bytes: visible ASCII (RFC 3986 characters; no raw non-ASCII, no controls). */
const TARGET = new Uint8Array(256);
for (let c = 0x21; c <= 0x7e; c++) TARGET[c] = 1;
TARGET[0x23] = 0; // '#': a fragment is not part of a request target (RFC 9112 §3.2); the client keeps it
/** Host field bytes: reg-name / IP-literal / port (RFC 3986 §3.2.2). */
const HOSTCH = new Uint8Array(256);
for (const c of "-._~!$&'()*+,;=%[]:") HOSTCH[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) HOSTCH[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) HOSTCH[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) HOSTCH[c] = 1;

/**
 * Parses one request head from `buf[start, end)`.
 * @returns the head; `undefined` when more bytes are needed; a {@link ParseError} (400, 405,
 *   417, 431, 501, 505) when the head is refused. A head over `limits.maxHeadBytes` is 431
 *   whether or not it is complete.
 */
export function parseRequestHead(buf: Uint8Array, start: number, end: number, limits: HeadLimits = DEFAULT_HEAD_LIMITS): RequestHead | ParseError | undefined {
  // RFC 9112 §2.2: a server SHOULD ignore at least one empty line before the request line.
  let s = start;
  if (end - s >= 2 && buf[s] === CR && buf[s + 1] === LF) s += 2;
  const lfEnd = headEnd(buf, s, Math.min(end, s + limits.maxHeadBytes));
  if (lfEnd === -1) {
    if (end - s >= limits.maxHeadBytes) return new ParseError(431, `the request head exceeds ${limits.maxHeadBytes} bytes`);
    // Fail fast on a request line that can already be seen to be bad.
    const lf = indexOfLF(buf, s, end);
    if (lf !== -1) { const rl = requestLine(buf, s, lf); if (rl instanceof ParseError) return rl; }
    return undefined;
  }
  const lf = indexOfLF(buf, s, lfEnd + 1)!;
  const rl = requestLine(buf, s, lf);
  if (rl instanceof ParseError) return rl;
  const spans: number[] = [];
  const f = parseFields(buf, lf + 1, lfEnd, limits, true, spans);
  if (f instanceof ParseError) return f;
  const { method, target, versionMinor } = rl;

  // Host (RFC 9112 §3.2): exactly one in HTTP/1.1, at most one in HTTP/1.0.
  if (f.hostCount > 1) return new ParseError(400, 'more than one Host field (RFC 9112 §3.2)');
  if (f.hostCount === 0 && versionMinor === 1) return new ParseError(400, 'HTTP/1.1 request without a Host field (RFC 9112 §3.2)');
  if (f.host !== undefined) {
    for (let k = 0; k < f.host.length; k++) if (HOSTCH[f.host.charCodeAt(k)] !== 1) return new ParseError(400, `invalid Host "${f.host}"`);
  }
  if (target.charCodeAt(0) !== 47 /* / */ && target !== '*') {
    // absolute-form: its authority must agree with Host (stricter than §3.2.2, which says to ignore Host).
    const authority = absoluteAuthority(target);
    if (authority === undefined) return new ParseError(400, `request target "${target}" is not in origin, absolute or asterisk form`);
    if (f.host === undefined || lower(f.host) !== lower(authority)) return new ParseError(400, `the authority of "${target}" disagrees with Host "${f.host ?? ''}"`);
  }

  // Framing (RFC 9112 §6.1, §6.3): a request without framing fields has no body.
  const framing = framingOf(f, versionMinor, true);
  if (framing instanceof ParseError) return framing;
  const body = framing === BodyKind.Close ? BodyKind.None : framing;
  const contentLength = body === BodyKind.Length ? f.contentLength! : 0;

  let expectContinue = false;
  if (f.expect !== undefined) {
    if (lower(f.expect) !== '100-continue') return new ParseError(417, `unsupported expectation "${f.expect}" (RFC 9110 §10.1.1)`);
    expectContinue = versionMinor === 1;
  }
  const named = checkConnectionNames(f.connection, true);
  if (named) return named;
  const keepAlive = versionMinor === 1 ? !hasToken(f.connection, 'close') : hasToken(f.connection, 'keep-alive');
  const upgrade = f.upgrade && hasToken(f.connection, 'upgrade');
  return {
    method, target, versionMinor, raw: f.raw, length: f.pos - start, body, contentLength, host: f.host, keepAlive, upgrade, expectContinue,
    buf, lineStart: s, fieldsStart: lf + 1, spans, connection: f.connection,
  };
}

function requestLine(buf: Uint8Array, s: number, lf: number): { method: string; target: string; versionMinor: number } | ParseError {
  if (lf === s) return new ParseError(400, 'bare LF before the request line (CRLF required, RFC 9112 §2.2)');
  if (buf[lf - 1] !== CR) return new ParseError(400, 'bare LF after the request line (CRLF required, RFC 9112 §2.2)');
  const e = lf - 1;
  let i = s;
  while (i < e && TCHAR[buf[i]!] === 1) i++;
  if (i === s || i === e || buf[i] !== SP) return new ParseError(400, 'malformed request line (method SP target SP version)');
  const method = str(buf, s, i);
  if (!METHODS.has(method)) return new ParseError(method.toUpperCase() === method ? 501 : 400, `unknown method "${method.slice(0, 32)}"`);
  if (method === 'CONNECT') return new ParseError(405, 'CONNECT is not supported: switchyard is not a forward proxy');
  const ts = ++i;
  while (i < e && TARGET[buf[i]!] === 1) i++;
  if (i === ts || i === e || buf[i] !== SP) {
    return new ParseError(400, i < e && buf[i] !== SP ? `invalid byte 0x${buf[i]!.toString(16).padStart(2, '0')} in the request target` : 'malformed request line (method SP target SP version)');
  }
  const target = str(buf, ts, i);
  if (target === '*' && method !== 'OPTIONS') return new ParseError(400, 'asterisk-form target is for OPTIONS only (RFC 9112 §3.2.4)');
  i++;
  if (buf[i] === SP) return new ParseError(400, 'malformed request line (method SP target SP version)');
  if (e - i !== 8 || buf[i] !== 72 || buf[i + 1] !== 84 || buf[i + 2] !== 84 || buf[i + 3] !== 80 || buf[i + 4] !== 47 || buf[i + 6] !== 46) {
    return new ParseError(400, 'malformed HTTP version in the request line');
  }
  const major = buf[i + 5]! - 48, minor = buf[i + 7]! - 48;
  if (major < 0 || major > 9 || minor < 0 || minor > 9) return new ParseError(400, 'malformed HTTP version in the request line');
  // Only HTTP/1.0 and HTTP/1.1. RFC 9110 §6.2 would read HTTP/1.2+ as 1.1, but llhttp (and so every
  // Node upstream) refuses them: a version two hops would read differently is refused (505).
  if (major !== 1 || minor > 1) return new ParseError(505, `HTTP/${major}.${minor} is not supported on this connection`);
  return { method, target, versionMinor: minor };
}

/** The authority of an absolute-form `http(s)://authority/...` target, or undefined. */
function absoluteAuthority(target: string): string | undefined {
  const l = lower(target.slice(0, 8));
  const skip = l.startsWith('http://') ? 7 : l.startsWith('https://') ? 8 : -1;
  if (skip === -1) return undefined;
  let e = skip;
  while (e < target.length) { const c = target.charCodeAt(e); if (c === 47 || c === 63 || c === 35) break; e++; }
  const authority = target.slice(skip, e);
  if (authority.length === 0 || authority.includes('@')) return undefined;
  return authority;
}

/** The value of the first field named `name` (lower-case) in a raw list, or undefined. */
export function rawGet(raw: readonly string[], name: string): string | undefined {
  const n = name.length;
  for (let i = 0; i < raw.length; i += 2) {
    const k = raw[i]!;
    if (k.length === n && (k === name || lower(k) === name)) return raw[i + 1];
  }
  return undefined;
}

