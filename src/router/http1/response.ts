/**
 * @module router/http1/response
 * Upstream response heads (RFC 9112 §4): the status line and the fields, parsed with the same
 * strict field rules as requests ({@link parseFields}) but kept as byte spans, so the proxy can
 * copy the end-to-end field lines to the client without making a string per field. Pure: no I/O,
 * no `node:` imports.
 */
import { FVAL } from './chars.js';
import {
  BodyKind, checkConnectionNames, COLON, CR, DEFAULT_HEAD_LIMITS, HTAB, hasToken, headEnd, indexOfLF, ParseError, parseFields, SP, str, framingOf,
  type HeadLimits,
} from './fields.js';

export interface ResponseHead {
  status: number;
  reason: string;
  versionMinor: number;
  /** Fields as `[name, value, …]` (made on first use from {@link spans}: the proxy copies bytes instead). */
  readonly raw: string[];
  length: number;
  body: BodyKind;
  contentLength: number;
  /** The upstream connection may be reused after this response. */
  keepAlive: boolean;
  /** The bytes the head was parsed from (valid until the next read of that socket). */
  buf: Uint8Array;
  /** Offset of the status line. */
  start: number;
  /** Per field line: start offset, end offset (after its CRLF), and a class: 1 hop-by-hop (RFC 9110 §7.6.1), 2 Content-Length, 0 any other field. */
  spans: number[];
  /** The Connection field's value (its named fields are hop-by-hop too), if any. */
  connection: string | undefined;
}

/** A response head whose `raw` list is built only when asked for. */
class ParsedResponseHead implements ResponseHead {
  #raw: string[] | undefined;
  constructor(
    public status: number, public reason: string, public versionMinor: number, public length: number, public body: BodyKind,
    public contentLength: number, public keepAlive: boolean, public buf: Uint8Array, public start: number, public spans: number[],
    public connection: string | undefined,
  ) {}

  get raw(): string[] {
    if (this.#raw !== undefined) return this.#raw;
    const raw: string[] = [];
    const b = this.buf, sp = this.spans;
    for (let k = 0; k < sp.length; k += 3) {
      const s = sp[k]!, e = sp[k + 1]! - 2;
      let c = s;
      while (b[c] !== COLON) c++;
      let vs = c + 1, ve = e;
      while (vs < ve && (b[vs] === SP || b[vs] === HTAB)) vs++;
      while (ve > vs && (b[ve - 1] === SP || b[ve - 1] === HTAB)) ve--;
      raw.push(str(b, s, c), str(b, vs, ve));
    }
    return (this.#raw = raw);
  }
}

/**
 * Parses one response head from an upstream. `method` is the request's (HEAD → no body).
 * @returns the head; `undefined` when more bytes are needed; a ParseError (502) when refused.
 */
export function parseResponseHead(buf: Uint8Array, start: number, end: number, method: string, limits: HeadLimits = DEFAULT_HEAD_LIMITS): ResponseHead | ParseError | undefined {
  const lfEnd = headEnd(buf, start, Math.min(end, start + limits.maxHeadBytes));
  if (lfEnd === -1) return end - start >= limits.maxHeadBytes ? new ParseError(502, `the upstream response head exceeds ${limits.maxHeadBytes} bytes`) : undefined;
  const lf = indexOfLF(buf, start, lfEnd + 1);
  if (lf === start || buf[lf - 1] !== CR) return new ParseError(502, 'bare LF after the upstream status line');
  const e = lf - 1;
  // HTTP/1.x SP 3DIGIT SP reason
  const i = start;
  if (e - i < 12 || buf[i] !== 72 || buf[i + 1] !== 84 || buf[i + 2] !== 84 || buf[i + 3] !== 80 || buf[i + 4] !== 47 || buf[i + 5] !== 49 || buf[i + 6] !== 46 || buf[i + 8] !== SP) {
    return new ParseError(502, 'malformed upstream status line');
  }
  const minor = buf[i + 7]! - 48;
  const d1 = buf[i + 9]! - 48, d2 = buf[i + 10]! - 48, d3 = buf[i + 11]! - 48;
  if (minor < 0 || minor > 9 || d1 < 1 || d1 > 5 || d2 < 0 || d2 > 9 || d3 < 0 || d3 > 9) return new ParseError(502, 'malformed upstream status line');
  if (e > i + 12 && buf[i + 12] !== SP) return new ParseError(502, 'malformed upstream status line');
  for (let j = i + 13; j < e; j++) if (FVAL[buf[j]!] !== 1) return new ParseError(502, 'invalid byte in the upstream reason phrase');
  const status = d1 * 100 + d2 * 10 + d3;
  const reason = e > i + 13 ? str(buf, i + 13, e) : '';
  const spans: number[] = [];
  const f = parseFields(buf, lf + 1, lfEnd, limits, false, spans);
  if (f instanceof ParseError) return new ParseError(502, `upstream response: ${f.reason}`);
  const versionMinor = minor === 0 ? 0 : 1;
  const named = checkConnectionNames(f.connection, false);
  if (named) return named;
  let keepAlive = versionMinor === 1 ? !hasToken(f.connection, 'close') : hasToken(f.connection, 'keep-alive');
  let body: BodyKind;
  if (method === 'HEAD' || status < 200 || status === 204 || status === 304) {
    body = BodyKind.None;
  } else {
    const framing = framingOf(f, versionMinor, false);
    if (framing instanceof ParseError) return framing;
    body = framing;
    if (body === BodyKind.Close) keepAlive = false;
  }
  const contentLength = body === BodyKind.Length ? f.contentLength! : 0;
  return new ParsedResponseHead(status, reason, versionMinor, f.pos - start, body, contentLength, keepAlive, buf, start, spans, f.connection);
}

