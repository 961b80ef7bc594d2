/**
 * @module router/http1/parse
 * Strict HTTP/1.1 message-head parsing straight from Buffers (RFC 9112): request heads from
 * clients, and the field-line parsing that upstream response heads (`response.ts`) share. Pure: no I/O, no `node:` imports; bytes in, a head or a
 * {@link ParseError} out. Strings are decoded as latin1 so every byte round-trips unchanged.
 *
 * Stricter than RFC 9112 requires (and, where noted, than Node's llhttp), on purpose: a proxy
 * that forwards a request must frame it exactly one way, so anything two parsers could read
 * differently is refused (request smuggling, RFC 9112 §11.2). The deliberate differences are
 * listed in docs/http1.md and pinned by test/router/http1/differential.test.ts, which feeds
 * generated heads to this parser and to llhttp. Callers pass Buffers; the `Uint8Array` type keeps
 * this module free of `node:` imports (a plain Uint8Array works too, decoded byte by byte).
 */

import { FVAL, TCHAR } from './chars.js';

/** Why a head was refused: the HTTP status to answer and a reason naming the offending part. */
export class ParseError {
  constructor(
    /** 400, 405 (CONNECT), 417, 431, 501 (unknown transfer coding) or 505 (HTTP version). */
    readonly status: number,
    readonly reason: string,
  ) {}
}

/** How a message body is delimited (RFC 9112 §6.3). */
export const enum BodyKind {
  /** No body (no framing field; HEAD/1xx/204/304 responses). */
  None = 0,
  /** `Content-Length` bytes. */
  Length = 1,
  /** `Transfer-Encoding: chunked`. */
  Chunked = 2,
  /** Response read until the connection closes. */
  Close = 3,
}

export interface HeadLimits {
  /** Largest request line / status line + fields + final CRLF (bytes); over it → 431. */
  maxHeadBytes: number;
  /** Most header fields; over it → 431. */
  maxFields: number;
}

export const DEFAULT_HEAD_LIMITS: HeadLimits = { maxHeadBytes: 32 * 1024, maxFields: 100 };

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

/**
 * What a proxy does with a field line when it forwards it (RFC 9110 §7.6.1 hop-by-hop; the
 * router's own fields). The third number of each span in {@link RequestHead.spans} and in
 * response spans (responses use Keep, Hop and Length only).
 */
export const enum FieldClass {
  Keep = 0,
  /** Hop-by-hop: `Connection`, `Keep-Alive`, `TE`, `Trailer`, `Transfer-Encoding`, `Upgrade`, `Proxy-*`. */
  Hop = 1,
  /** `Content-Length` (end-to-end, but never in a 1xx/204 answer). */
  Length = 2,
  /** Replaced by the router: `Expect` (answered here), `Baggage` (member set), `X-Request-Id` (kept or made). */
  Router = 3,
  /** Forwarding claims (`X-Forwarded-*`, `Forwarded`, `X-Real-IP`): set by the edge, kept on internal hops. */
  Forwarding = 4,
  /** `traceparent`/`tracestate`: kept unless the router started a new trace. */
  Trace = 5,
}

/** Whether `buf[s, e)` equals `lowerName` ignoring ASCII case (no string made). */
export function eqName(buf: Uint8Array, s: number, e: number, lowerName: string): boolean {
  if (e - s !== lowerName.length) return false;
  for (let k = 0; k < lowerName.length; k++) {
    let c = buf[s + k]!;
    if (c >= 65 && c <= 90) c |= 0x20;
    if (c !== lowerName.charCodeAt(k)) return false;
  }
  return true;
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

export const CR = 13, LF = 10, SP = 32, HTAB = 9, COLON = 58;

/** Lower-cases ASCII letters of `s` (field names are ASCII tchar). */
function lower(s: string): string { return s.toLowerCase(); }

/** Index of the `\n` that ends the head (the first empty line), or -1 while incomplete. */
export function headEnd(buf: Uint8Array, start: number, end: number): number {
  let lineStart = start;
  for (;;) {
    const lf = indexOfLF(buf, lineStart, end);
    if (lf === -1) return -1;
    // "\r\n" or a bare "\n" (refused later by the line parser) ends the head.
    if (lf === lineStart || (lf === lineStart + 1 && buf[lineStart] === CR)) return lf;
    lineStart = lf + 1;
  }
}

export function indexOfLF(buf: Uint8Array, from: number, end: number): number {
  const i = buf.indexOf(LF, from);
  return i === -1 || i >= end ? -1 : i;
}

/** `Uint8Array.prototype.toString` (inherited from Array): a Buffer overrides it with the encoding-aware one. */
const U8_TO_STRING = Uint8Array.prototype.toString;

/** Decodes `buf[s, e)` as latin1 (every byte maps to one UTF-16 unit: lossless). */
export function str(buf: Uint8Array, s: number, e: number): string {
  if (buf.toString !== U8_TO_STRING) return (buf as Buffer).toString('latin1', s, e);
  // A plain Uint8Array: its toString() would ignore the arguments and join the bytes as numbers.
  let r = '';
  for (let i = s; i < e; i++) r += String.fromCharCode(buf[i]!);
  return r;
}

interface Fields {
  raw: string[];
  pos: number;
  contentLength: number | undefined;
  transferEncoding: string | undefined;
  host: string | undefined;
  hostCount: number;
  connection: string | undefined;
  upgrade: boolean;
  expect: string | undefined;
}

/**
 * Parses header field lines from `pos` up to and including the blank line at `lfEnd`.
 * Returns the fields or a ParseError.
 */
export function parseFields(buf: Uint8Array, pos: number, lfEnd: number, limits: HeadLimits, request: boolean, spans?: number[]): Fields | ParseError {
  const f: Fields = { raw: [], pos, contentLength: undefined, transferEncoding: undefined, host: undefined, hostCount: 0, connection: undefined, upgrade: false, expect: undefined };
  let count = 0;
  for (;;) {
    const lf = indexOfLF(buf, pos, lfEnd + 1);
    if (lf === -1) return new ParseError(400, 'unterminated header section');
    if (lf === pos || buf[lf - 1] !== CR) return new ParseError(400, 'bare LF in the header section (CRLF required, RFC 9112 §2.2)');
    const lineEnd = lf - 1;
    if (lineEnd === pos) { f.pos = lf + 1; return f; } // blank line
    if (++count > limits.maxFields) return new ParseError(431, `more than ${limits.maxFields} header fields`);
    const c0 = buf[pos]!;
    if (c0 === SP || c0 === HTAB) return new ParseError(400, 'obsolete line folding in a header field (RFC 9112 §5.2)');
    let i = pos;
    while (i < lineEnd && TCHAR[buf[i]!] === 1) i++;
    if (i === pos) return new ParseError(400, 'empty or invalid header field name');
    if (i === lineEnd) return new ParseError(400, 'header field line without a colon');
    if (buf[i] !== COLON) {
      const b = buf[i]!;
      return new ParseError(400, b === SP || b === HTAB ? 'whitespace between a header field name and the colon (RFC 9112 §5.1)'
        : `invalid byte 0x${b.toString(16).padStart(2, '0')} in a header field name`);
    }
    let vs = i + 1;
    while (vs < lineEnd && (buf[vs] === SP || buf[vs] === HTAB)) vs++;
    let ve = lineEnd;
    while (ve > vs && (buf[ve - 1] === SP || buf[ve - 1] === HTAB)) ve--;
    for (let j = vs; j < ve; j++) {
      if (FVAL[buf[j]!] !== 1) return new ParseError(400, `invalid byte 0x${buf[j]!.toString(16).padStart(2, '0')} in the value of header field "${str(buf, pos, i)}"`);
    }
    // Requests keep every field as strings (and spans); responses (spans only) just the values framing needs.
    let value: string | undefined;
    if (request) { value = str(buf, vs, ve); f.raw.push(str(buf, pos, i), value); }
    let hop = 0;
    // Framing, connection and hop-by-hop fields, compared byte-wise (no string per name).
    switch (i - pos) {
      case 2:
        if (eqName(buf, pos, i, 'te')) hop = 1;
        break;
      case 4:
        if (eqName(buf, pos, i, 'host')) { f.hostCount++; f.host = value ?? str(buf, vs, ve); }
        break;
      case 6:
        if (eqName(buf, pos, i, 'expect')) { value ??= str(buf, vs, ve); f.expect = f.expect === undefined ? value : `${f.expect}, ${value}`; }
        break;
      case 7:
        if (eqName(buf, pos, i, 'upgrade')) { hop = 1; if (ve > vs) f.upgrade = true; } else if (eqName(buf, pos, i, 'trailer')) hop = 1;
        break;
      case 10:
        if (eqName(buf, pos, i, 'connection')) {
          hop = 1;
          // llhttp reads `upgrade<HTAB>` as another token (no upgrade) where RFC 9110 §5.6.1 trims it:
          // a tunnel one hop opens and the next does not is smuggling, so no HTAB here.
          if (hasHtab(buf, i + 1, lineEnd)) return new ParseError(request ? 400 : 502, 'HTAB in the Connection field (framing fields take SP only)');
          value ??= str(buf, vs, ve);
          f.connection = f.connection === undefined ? value : `${f.connection}, ${value}`;
        } else if (eqName(buf, pos, i, 'keep-alive')) hop = 1;
        break;
      case 14:
        if (eqName(buf, pos, i, 'content-length')) {
          hop = 2; // end-to-end, but dropped from a 1xx/204 answer (RFC 9110 §8.6)
          if (f.contentLength !== undefined) return new ParseError(400, 'more than one Content-Length field (RFC 9112 §6.3)');
          if (hasHtab(buf, i + 1, lineEnd)) return new ParseError(400, 'HTAB in the Content-Length field (framing fields take SP only)');
          if (ve === vs || ve - vs > 15) return new ParseError(400, `invalid Content-Length "${str(buf, vs, ve)}"`);
          let n = 0;
          for (let k = vs; k < ve; k++) {
            const d = buf[k]! - 48;
            if (d < 0 || d > 9) return new ParseError(400, `invalid Content-Length "${str(buf, vs, ve)}" (digits only, RFC 9110 §8.6)`);
            n = n * 10 + d;
          }
          f.contentLength = n;
        }
        break;
      case 16:
        if (eqName(buf, pos, i, 'proxy-connection')) hop = 1;
        break;
      case 17:
        if (eqName(buf, pos, i, 'transfer-encoding')) {
          hop = 1;
          if (f.transferEncoding !== undefined) return new ParseError(request ? 400 : 502, 'more than one Transfer-Encoding field');
          if (hasHtab(buf, i + 1, lineEnd)) return new ParseError(request ? 400 : 502, 'HTAB in the Transfer-Encoding field (framing fields take SP only)');
          f.transferEncoding = value ?? str(buf, vs, ve);
        }
        break;
      case 18:
        if (eqName(buf, pos, i, 'proxy-authenticate')) hop = 1;
        break;
      case 19:
        if (eqName(buf, pos, i, 'proxy-authorization')) hop = 1;
        break;
    }
    if (request && hop === 0) hop = requestClass(buf, pos, i);
    if (spans !== undefined) spans.push(pos, lf + 1, hop);
    pos = lf + 1;
  }
}

/** The class of a request field `buf[s, e)` that is not hop-by-hop or Content-Length (see {@link FieldClass}). */
function requestClass(buf: Uint8Array, s: number, e: number): FieldClass {
  switch (e - s) {
    case 6: return eqName(buf, s, e, 'expect') ? FieldClass.Router : FieldClass.Keep;
    case 7: return eqName(buf, s, e, 'baggage') ? FieldClass.Router : FieldClass.Keep;
    case 9: return eqName(buf, s, e, 'forwarded') || eqName(buf, s, e, 'x-real-ip') ? FieldClass.Forwarding : FieldClass.Keep;
    case 10: return eqName(buf, s, e, 'tracestate') ? FieldClass.Trace : FieldClass.Keep;
    case 11: return eqName(buf, s, e, 'traceparent') ? FieldClass.Trace : FieldClass.Keep;
    case 12: return eqName(buf, s, e, 'x-request-id') ? FieldClass.Router : FieldClass.Keep;
    case 15: return eqName(buf, s, e, 'x-forwarded-for') ? FieldClass.Forwarding : FieldClass.Keep;
    case 16: return eqName(buf, s, e, 'x-forwarded-host') || eqName(buf, s, e, 'x-forwarded-port') ? FieldClass.Forwarding : FieldClass.Keep;
    case 17: return eqName(buf, s, e, 'x-forwarded-proto') ? FieldClass.Forwarding : FieldClass.Keep;
    default: return FieldClass.Keep;
  }
}

/** Whether `buf[s, e)` holds an HTAB. llhttp refuses one after a Content-Length or Transfer-Encoding
 * value but not before it, and misreads one in Connection; we refuse HTAB in these fields. */
function hasHtab(buf: Uint8Array, s: number, e: number): boolean {
  for (let j = s; j < e; j++) if (buf[j] === HTAB) return true;
  return false;
}

/**
 * Whether the comma-separated list `value` has a member equal to `token` (lower-case),
 * case-insensitively; members are trimmed of OWS. `foo close` is one (invalid) member, not `close`.
 */
export function hasToken(value: string | undefined, token: string): boolean {
  if (value === undefined) return false;
  const n = token.length;
  const len = value.length;
  let i = 0;
  while (i <= len) {
    let e = value.indexOf(',', i);
    if (e === -1) e = len;
    let ms = i, me = e;
    while (ms < me && (value.charCodeAt(ms) === SP || value.charCodeAt(ms) === HTAB)) ms++;
    while (me > ms && (value.charCodeAt(me - 1) === SP || value.charCodeAt(me - 1) === HTAB)) me--;
    if (me - ms === n) {
      let k = 0;
      for (; k < n; k++) {
        let c = value.charCodeAt(ms + k);
        if (c >= 65 && c <= 90) c += 32;
        if (c !== token.charCodeAt(k)) break;
      }
      if (k === n) return true;
    }
    i = e + 1;
  }
  return false;
}

/** Checks the Transfer-Encoding value: only exactly `chunked` is accepted. */
export function checkTransferEncoding(te: string, request: boolean): ParseError | undefined {
  const v = lower(te);
  if (v === 'chunked') return undefined;
  const parts = v.split(',').map((s) => s.trim());
  if (parts.length > 1 && parts.every((x) => x === 'chunked')) return new ParseError(request ? 400 : 502, `Transfer-Encoding "${te}" applies chunked more than once (RFC 9112 §7.1)`);
  if (parts[parts.length - 1] !== 'chunked') {
    return new ParseError(request ? 400 : 502, `Transfer-Encoding "${te}" does not end in chunked (RFC 9112 §6.3)`);
  }
  return new ParseError(request ? 501 : 502, `unsupported transfer coding in "${te}" (only chunked is accepted)`);
}

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

  // Framing (RFC 9112 §6.1, §6.3).
  let body = BodyKind.None;
  let contentLength = 0;
  if (f.transferEncoding !== undefined) {
    if (f.contentLength !== undefined) return new ParseError(400, 'Content-Length together with Transfer-Encoding (RFC 9112 §6.1)');
    if (versionMinor === 0) return new ParseError(400, 'Transfer-Encoding in an HTTP/1.0 request (RFC 9112 §6.1)');
    const bad = checkTransferEncoding(f.transferEncoding, true);
    if (bad) return bad;
    body = BodyKind.Chunked;
  } else if (f.contentLength !== undefined) {
    contentLength = f.contentLength;
    body = contentLength > 0 ? BodyKind.Length : BodyKind.None;
  }

  let expectContinue = false;
  if (f.expect !== undefined) {
    if (lower(f.expect) !== '100-continue') return new ParseError(417, `unsupported expectation "${f.expect}" (RFC 9110 §10.1.1)`);
    expectContinue = versionMinor === 1;
  }
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
