/**
 * @module router/http1/fields
 * The field-line rules requests and upstream responses share (RFC 9112 §5, RFC 9110 §5): the
 * head's end, strict field lines (names are tokens, no whitespace before the colon, no obs-fold,
 * no CTLs in values), the framing fields (one Content-Length of plain digits, Transfer-Encoding
 * exactly `chunked`, no HTAB in either), and what a proxy does with each field
 * ({@link FieldClass}). Pure: no I/O, no `node:` imports; strings are decoded as latin1 so every
 * byte round-trips unchanged.
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

export const CR = 13, LF = 10, SP = 32, HTAB = 9, COLON = 58;

/** Lower-cases ASCII letters of `s` (field names are ASCII tchar). */
export function lower(s: string): string { return s.toLowerCase(); }

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

/**
 * Refuses a `Connection` field that names a framing or routing field (`Content-Length`,
 * `Transfer-Encoding`, `Host`): a hop that honours it removes the field and forwards the body
 * unframed, so the next hop reads the body as the next request (smuggling). RFC 9110 §7.6.1 has
 * Connection name hop-by-hop fields only; these are end-to-end and decide how a message is read.
 */
export function checkConnectionNames(connection: string | undefined, request: boolean): ParseError | undefined {
  if (connection === undefined) return undefined;
  for (const t of ['content-length', 'transfer-encoding', 'host']) {
    if (hasToken(connection, t)) return new ParseError(request ? 400 : 502, `Connection names "${t}", a framing or routing field that cannot be hop-by-hop (RFC 9110 §7.6.1)`);
  }
  return undefined;
}

/**
 * How a message's body is delimited by its framing fields (RFC 9112 §6.1, §6.3): chunked (the
 * Transfer-Encoding must be exactly `chunked`, not with Content-Length, not in HTTP/1.0),
 * Content-Length (`None` for 0), or `Close` when there is neither (a request then has no body;
 * a response runs until the connection closes). Statuses: 400/501 for a request, 502 for a response.
 */
export function framingOf(f: { transferEncoding: string | undefined; contentLength: number | undefined }, versionMinor: number, request: boolean): BodyKind | ParseError {
  const what = request ? 'request' : 'upstream response';
  if (f.transferEncoding !== undefined) {
    if (f.contentLength !== undefined) return new ParseError(request ? 400 : 502, `Content-Length together with Transfer-Encoding in the ${what} (RFC 9112 §6.1)`);
    if (versionMinor === 0) return new ParseError(request ? 400 : 502, `Transfer-Encoding in an HTTP/1.0 ${what} (RFC 9112 §6.1)`);
    return checkTransferEncoding(f.transferEncoding, request) ?? BodyKind.Chunked;
  }
  if (f.contentLength !== undefined) return f.contentLength > 0 ? BodyKind.Length : BodyKind.None;
  return BodyKind.Close;
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

