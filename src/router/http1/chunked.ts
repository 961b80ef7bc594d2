/**
 * @module router/http1/chunked
 * A strict, incremental decoder of the chunked transfer coding (RFC 9112 §7.1): chunk-size in
 * hex, chunk extensions, CRLF line ends only, a last chunk and a trailer section. It validates
 * the bytes as they arrive and reports where the valid prefix ends, so a proxy can pass the
 * encoded bytes on unchanged and stop exactly at the first bad byte: nothing after it is
 * forwarded. Pure: no I/O, no `node:` imports.
 */

import { FVAL, TCHAR } from './chars.js';

const enum S {
  /** chunk-size hex digits. */
  Size,
  /** After `;`: the first byte of an extension name. */
  ExtStart,
  /** In an extension name (token). */
  ExtName,
  /** After `=`: a token, a quoted-string, or nothing. */
  ExtValStart,
  /** In a token value. */
  ExtValToken,
  /** In a quoted-string value. */
  ExtQuoted,
  /** After a backslash in a quoted-string. */
  ExtQuotedEsc,
  /** After the closing quote: `;` or CR. */
  ExtAfterQuoted,
  /** After the CR ending the chunk-size line. */
  SizeLF,
  Data,
  DataCR,
  DataLF,
  /** At the start of a trailer line: CR (end) or a field name. */
  TrailerStart,
  TrailerName,
  TrailerValue,
  TrailerLF,
  EndLF,
  Done,
}

export interface ChunkedLimits {
  /** Longest chunk-size line incl. extensions (bytes). */
  maxLineBytes: number;
  /** Largest trailer section (bytes of its field lines with their CRLFs; the final CRLF not counted). */
  maxTrailerBytes: number;
}

export const DEFAULT_CHUNKED_LIMITS: ChunkedLimits = { maxLineBytes: 4096, maxTrailerBytes: 16 * 1024 };

const HEX = new Int8Array(256).fill(-1);
for (let c = 0; c < 10; c++) HEX[48 + c] = c;
for (let c = 0; c < 6; c++) { HEX[65 + c] = 10 + c; HEX[97 + c] = 10 + c; }

/** qdtext (RFC 9110 §5.6.4): field-value bytes other than DQUOTE and backslash. */
const QDTEXT = FVAL.slice();
QDTEXT[0x22] = 0; QDTEXT[0x5c] = 0;

/**
 * Fields refused in a trailer section (RFC 9110 §6.5.1: framing and routing fields cannot be
 * processed after the content; a next hop that merged them into the header section would frame
 * or route the message differently). Lower-case; matched while the name streams in.
 */
const TRAILER_FORBIDDEN = ['content-length', 'transfer-encoding', 'host', 'trailer', 'connection', 'keep-alive', 'upgrade', 'te'];
const TRAILER_NAME_MAX = 17; // the longest forbidden name

const CR = 13, LF = 10, SEMI = 59, EQ = 61, DQUOTE = 34, BSLASH = 92, COLON = 58, SP = 32, HTAB = 9;

/** Largest chunk size accepted (2^48 bytes): more hex digits would lose precision. */
const MAX_CHUNK = 2 ** 48;

/**
 * The grammar enforced (RFC 9112 §7.1, stricter where noted):
 * ```
 * chunk      = chunk-size *( ";" ext-name [ "=" [ token / quoted-string ] ] ) CRLF chunk-data CRLF
 * chunk-size = 1*12HEXDIG                  ; at most 2^48 - 1, leading zeros count
 * trailer    = *( field-name ":" *field-vchar-or-WS CRLF ) CRLF
 * ```
 * No BWS around `;` and `=` (RFC 9112 §7.1.1 allows it; llhttp refuses it, so a body that Node
 * upstreams would refuse is refused here first). An empty extension value (`;a=`) is accepted as
 * llhttp does; an empty name (`;=b`, `;;`, a trailing `;`) is not.
 */
export class ChunkedDecoder {
  #s = S.Size;
  #size = 0;
  #digits = 0;
  #line = 0;
  #trailer = 0;
  /** The current trailer field name, lower-cased, while it is short enough to be a forbidden one. */
  #name = '';
  /** Data bytes decoded so far. */
  bytes = 0;
  /** Why decoding stopped, once it failed. */
  error: string | undefined;

  constructor(private readonly limits: ChunkedLimits = DEFAULT_CHUNKED_LIMITS) {}

  /** True once the last chunk and the trailer section have been read. */
  get done(): boolean { return this.#s === S.Done && this.error === undefined; }

  /**
   * True while chunk data is expected (its size line is complete). A proxy forwards the bytes
   * consumed so far only at such a point (or {@link done}): an unfinished size line, CRLF or
   * trailer section is held back until it is known to be valid.
   */
  get inData(): boolean { return this.#s === S.Data; }

  /** Data bytes decoded so far plus the rest of the chunk being read: what the sender has declared so far (a body limit checks this). */
  get declared(): number { return this.bytes + (this.#s === S.Data || this.#s === S.SizeLF ? this.#size : 0); }

  /**
   * Decodes `buf[start, end)`. `onData` (optional) gets each run of chunk data. Returns the
   * index just past the last byte consumed: `end`, or less when the message ended there
   * ({@link done}; the rest belongs to the next message) or a byte was refused ({@link error}
   * set; the return value is the offending byte's index).
   */
  feed(buf: Uint8Array, start: number, end: number, onData?: (buf: Uint8Array, start: number, end: number) => void): number {
    let i = start;
    while (i < end) {
      const c = buf[i]!;
      const s = this.#s;
      if (s === S.Data) {
        const n = Math.min(this.#size, end - i);
        if (onData !== undefined) onData(buf, i, i + n);
        this.bytes += n;
        this.#size -= n;
        i += n;
        if (this.#size === 0) this.#s = S.DataCR;
        continue;
      }
      if (s <= S.ExtAfterQuoted) {
        // The chunk-size line (size and extensions) up to its CR.
        if (++this.#line > this.limits.maxLineBytes) return this.#fail(i, 'chunk-size line too long');
        if (c === CR && s !== S.ExtStart && s !== S.ExtQuoted && s !== S.ExtQuotedEsc && (s !== S.Size || this.#digits > 0)) {
          this.#s = S.SizeLF; i++;
          continue;
        }
      }
      switch (s) {
        case S.Size: {
          const h = HEX[c]!;
          if (h >= 0) {
            this.#size = this.#size * 16 + h;
            if (++this.#digits > 12 || this.#size > MAX_CHUNK) return this.#fail(i, 'chunk size too large');
            i++;
            break;
          }
          if (this.#digits === 0) return this.#fail(i, 'chunk size missing or not hexadecimal');
          if (c === SEMI) { this.#s = S.ExtStart; i++; break; }
          if (c === SP || c === HTAB) return this.#fail(i, 'whitespace after the chunk size');
          return this.#fail(i, `invalid byte 0x${c.toString(16)} in the chunk-size line`);
        }
        case S.ExtStart:
          if (TCHAR[c] !== 1) return this.#fail(i, `invalid byte 0x${c.toString(16)} at the start of a chunk extension name`);
          this.#s = S.ExtName; i++;
          break;
        case S.ExtName:
          if (TCHAR[c] === 1) { i++; break; }
          if (c === EQ) { this.#s = S.ExtValStart; i++; break; }
          if (c === SEMI) { this.#s = S.ExtStart; i++; break; }
          return this.#fail(i, `invalid byte 0x${c.toString(16)} in a chunk extension name`);
        case S.ExtValStart:
          if (TCHAR[c] === 1) { this.#s = S.ExtValToken; i++; break; }
          if (c === DQUOTE) { this.#s = S.ExtQuoted; i++; break; }
          if (c === SEMI) { this.#s = S.ExtStart; i++; break; }
          return this.#fail(i, `invalid byte 0x${c.toString(16)} in a chunk extension value`);
        case S.ExtValToken:
          if (TCHAR[c] === 1) { i++; break; }
          if (c === SEMI) { this.#s = S.ExtStart; i++; break; }
          return this.#fail(i, `invalid byte 0x${c.toString(16)} in a chunk extension value`);
        case S.ExtQuoted:
          if (QDTEXT[c] === 1) { i++; break; }
          if (c === DQUOTE) { this.#s = S.ExtAfterQuoted; i++; break; }
          if (c === BSLASH) { this.#s = S.ExtQuotedEsc; i++; break; }
          return this.#fail(i, `invalid byte 0x${c.toString(16)} in a quoted chunk extension value`);
        case S.ExtQuotedEsc:
          if (FVAL[c] !== 1) return this.#fail(i, `invalid byte 0x${c.toString(16)} after a backslash in a chunk extension`);
          this.#s = S.ExtQuoted; i++;
          break;
        case S.ExtAfterQuoted:
          if (c === SEMI) { this.#s = S.ExtStart; i++; break; }
          return this.#fail(i, `invalid byte 0x${c.toString(16)} after a quoted chunk extension value`);
        case S.SizeLF:
          if (c !== LF) return this.#fail(i, 'CR without LF after the chunk size');
          i++;
          this.#line = 0;
          this.#digits = 0;
          if (this.#size === 0) { this.#s = S.TrailerStart; this.#trailer = 0; } else this.#s = S.Data;
          break;
        case S.DataCR:
          if (c !== CR) return this.#fail(i, 'chunk data longer than its size (CRLF expected)');
          this.#s = S.DataLF; i++;
          break;
        case S.DataLF:
          if (c !== LF) return this.#fail(i, 'CR without LF after chunk data');
          this.#s = S.Size; i++;
          break;
        case S.TrailerStart:
          // Either the final CRLF or a trailer field line.
          if (c === CR) { this.#s = S.EndLF; i++; break; }
          if (++this.#trailer > this.limits.maxTrailerBytes) return this.#fail(i, 'trailer section too large');
          if (c === SP || c === HTAB) return this.#fail(i, 'obsolete line folding in the trailer section');
          if (TCHAR[c] !== 1) return this.#fail(i, `invalid byte 0x${c.toString(16)} at the start of a trailer field`);
          this.#name = String.fromCharCode(c >= 65 && c <= 90 ? c | 0x20 : c);
          this.#s = S.TrailerName; i++;
          break;
        case S.TrailerName:
          if (++this.#trailer > this.limits.maxTrailerBytes) return this.#fail(i, 'trailer section too large');
          if (TCHAR[c] === 1) {
            if (this.#name.length <= TRAILER_NAME_MAX) this.#name += String.fromCharCode(c >= 65 && c <= 90 ? c | 0x20 : c);
            i++;
            break;
          }
          if (c === COLON) {
            if (TRAILER_FORBIDDEN.includes(this.#name)) return this.#fail(i, `"${this.#name}" is not allowed in a trailer section (RFC 9110 §6.5.1)`);
            this.#s = S.TrailerValue; i++;
            break;
          }
          return this.#fail(i, c === SP || c === HTAB ? 'whitespace between a trailer field name and the colon'
            : `invalid byte 0x${c.toString(16)} in a trailer field name`);
        case S.TrailerValue:
          if (++this.#trailer > this.limits.maxTrailerBytes) return this.#fail(i, 'trailer section too large');
          if (FVAL[c] === 1) { i++; break; }
          if (c === CR) { this.#s = S.TrailerLF; i++; break; }
          return this.#fail(i, `invalid byte 0x${c.toString(16)} in a trailer field value`);
        case S.TrailerLF:
          if (c !== LF) return this.#fail(i, 'CR without LF in the trailer section');
          if (++this.#trailer > this.limits.maxTrailerBytes) return this.#fail(i, 'trailer section too large');
          this.#s = S.TrailerStart; i++;
          break;
        case S.EndLF:
          if (c !== LF) return this.#fail(i, 'CR without LF at the end of the chunked body');
          this.#s = S.Done; i++;
          return i;
        case S.Done:
          return i;
      }
    }
    return i;
  }

  #fail(i: number, reason: string): number {
    this.error = reason;
    this.#s = S.Done;
    return i;
  }
}

/** Decodes a whole chunked body held in `buf` (`ok` when it is complete and valid); for tests. */
export function decodeChunked(buf: Uint8Array): { ok: boolean; data: Uint8Array[]; consumed: number; error?: string } {
  const d = new ChunkedDecoder();
  const data: Uint8Array[] = [];
  const consumed = d.feed(buf, 0, buf.length, (b, s, e) => data.push(b.subarray(s, e)));
  return { ok: d.done && d.error === undefined, data, consumed, ...(d.error ? { error: d.error } : {}) };
}
