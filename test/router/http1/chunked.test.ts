/**
 * Unit tests of the incremental chunked decoder (src/router/http1/chunked.ts): valid bodies decode
 * the same however they are split, and every refusal names the index of the offending byte.
 */
import { describe, expect, test } from 'vitest';
import { ChunkedDecoder, decodeChunked, type ChunkedLimits } from '../../../src/router/http1/chunked.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

interface Run { done: boolean; error: string | undefined; consumed: number; data: string; bytes: number }

/** Feeds `s` split at the given cut points; stops at the first feed that does not consume it all. */
function run(s: string, cuts: number[] = [], limits?: ChunkedLimits): Run {
  const buf = b(s);
  const d = new ChunkedDecoder(limits);
  let data = '';
  const onData = (x: Uint8Array, st: number, e: number) => { data += Buffer.from(x.buffer, x.byteOffset, x.byteLength).toString('latin1', st, e); };
  let consumed = 0;
  const points = [...cuts, buf.length];
  let from = 0;
  for (const p of points) {
    const n = d.feed(buf, from, p, onData);
    consumed = n;
    if (n < p) break;
    from = p;
  }
  return { done: d.done, error: d.error, consumed, data, bytes: d.bytes };
}

describe('ChunkedDecoder: valid bodies', () => {
  const valid: [string, string, string][] = [
    ['one chunk', '3\r\nabc\r\n0\r\n\r\n', 'abc'],
    ['several chunks, hex sizes in both cases', 'a\r\n0123456789\r\nA\r\nabcdefghij\r\n1\r\nz\r\n0\r\n\r\n', '0123456789abcdefghijz'],
    ['empty body', '0\r\n\r\n', ''],
    ['leading zeros', '0003\r\nabc\r\n000\r\n\r\n', 'abc'],
    ['data holding CRLF and NUL', '4\r\n\r\n\0\n\r\n0\r\n\r\n', '\r\n\0\n'],
    ['extension without value', '3;a\r\nabc\r\n0\r\n\r\n', 'abc'],
    ['extensions with token and quoted values', '3;a=b;c="d e\\"f\\\\";g\r\nabc\r\n0;last=1\r\n\r\n', 'abc'],
    ['quoted value with HTAB and obs-text', '3;a="x\ty\xe9"\r\nabc\r\n0\r\n\r\n', 'abc'],
    ['empty extension value (as llhttp)', '3;a=\r\nabc\r\n0;b=;c\r\n\r\n', 'abc'],
    ['empty quoted value', '3;a=""\r\nabc\r\n0\r\n\r\n', 'abc'],
    ['trailers', '3\r\nabc\r\n0\r\nX-Sum: 123\r\nX-Empty:\r\nX-Obs: caf\xe9\t!\r\n\r\n', 'abc'],
    ['trailers named like framing fields but longer or shorter', '0\r\nContent-Lengths: 1\r\nHosts: a\r\nT: 1\r\nX-Transfer-Encoding-And-More: 1\r\n\r\n', ''],
  ];

  test.each(valid)('%s', (_n, s, data) => {
    const r = run(s);
    expect(r).toMatchObject({ done: true, error: undefined, consumed: s.length, data, bytes: data.length });
    expect(decodeChunked(b(s))).toMatchObject({ ok: true, consumed: s.length });
  });

  test.each(valid)('split at every byte boundary (and at every pair): %s', (_n, s, data) => {
    for (let i = 0; i <= s.length; i++) {
      expect(run(s, [i]), `cut at ${i}`).toMatchObject({ done: true, consumed: s.length, data });
    }
    const every = Array.from({ length: s.length }, (_, i) => i);
    expect(run(s, every)).toMatchObject({ done: true, consumed: s.length, data });
  });

  test('stops at the end of the message: the next bytes are not consumed', () => {
    const s = '3\r\nabc\r\n0\r\n\r\n';
    const buf = b(s + 'GET / HTTP/1.1\r\n');
    const d = new ChunkedDecoder();
    expect(d.feed(buf, 0, buf.length)).toBe(s.length);
    expect(d.done).toBe(true);
    expect(d.feed(buf, s.length, buf.length)).toBe(s.length);
  });

  test('a prefix is neither done nor an error', () => {
    const s = '3;a="b"\r\nabc\r\n0\r\nX: y\r\n\r\n';
    for (let n = 0; n < s.length; n++) {
      expect(run(s.slice(0, n)), `prefix ${n}`).toMatchObject({ done: false, error: undefined, consumed: n });
    }
  });

  test('a 12-hex-digit size is accepted and waits for its data', () => {
    expect(run('ffffffffffff\r\nabc')).toMatchObject({ done: false, error: undefined, bytes: 3 });
  });
});

describe('ChunkedDecoder: refusals name the offending byte', () => {
  // [name, body, index of the offending byte, reason pattern]
  const bad: [string, string, number, RegExp][] = [
    ['empty size', '\r\nabc\r\n0\r\n\r\n', 0, /chunk size missing/],
    ['non-hex size', 'g\r\nabc\r\n0\r\n\r\n', 0, /chunk size missing or not hexadecimal/],
    ['bad hex after good hex', '3g\r\nabc\r\n0\r\n\r\n', 1, /invalid byte 0x67 in the chunk-size line/],
    ['sign before the size', '+3\r\nabc\r\n0\r\n\r\n', 0, /not hexadecimal/],
    ['0x prefix', '0x3\r\nabc\r\n0\r\n\r\n', 1, /invalid byte 0x78/],
    ['13 hex digits', '0000000000003\r\nabc\r\n0\r\n\r\n', 12, /chunk size too large/],
    ['huge size', 'ffffffffffffffffff\r\n', 12, /chunk size too large/],
    ['space after the size', '3 \r\nabc\r\n0\r\n\r\n', 1, /whitespace after the chunk size/],
    ['HTAB before ;', '3\t;a\r\nabc\r\n0\r\n\r\n', 1, /whitespace after the chunk size/],
    ['space before an extension name', '3; a\r\nabc\r\n0\r\n\r\n', 2, /start of a chunk extension name/],
    ['space around =', '3;a =b\r\nabc\r\n0\r\n\r\n', 3, /in a chunk extension name/],
    ['garbage after the size', '3 x\r\nabc\r\n0\r\n\r\n', 1, /whitespace after the chunk size/],
    ['trailing ;', '3;\r\nabc\r\n0\r\n\r\n', 2, /start of a chunk extension name/],
    ['empty extension name', '3;=b\r\nabc\r\n0\r\n\r\n', 2, /start of a chunk extension name/],
    ['two ;', '3;;\r\nabc\r\n0\r\n\r\n', 2, /start of a chunk extension name/],
    ['two =', '3;a=b=c\r\nabc\r\n0\r\n\r\n', 5, /in a chunk extension value/],
    ['space in a token value', '3;a=b c\r\nabc\r\n0\r\n\r\n', 5, /in a chunk extension value/],
    ['non-ASCII in a name', '3;\xe9\r\nabc\r\n0\r\n\r\n', 2, /start of a chunk extension name/],
    ['CTL in a quoted value', '3;a="x\x01"\r\nabc\r\n0\r\n\r\n', 6, /in a quoted chunk extension value/],
    ['DEL in a quoted value', '3;a="\x7f"\r\nabc\r\n0\r\n\r\n', 5, /in a quoted chunk extension value/],
    ['unterminated quoted value', '3;a="x\r\nabc\r\n0\r\n\r\n', 6, /in a quoted chunk extension value/],
    ['bytes after a quoted value', '3;a="b"c\r\nabc\r\n0\r\n\r\n', 7, /after a quoted chunk extension value/],
    ['CR after a backslash', '3;a="\\\r\nabc\r\n0\r\n\r\n', 6, /after a backslash/],
    ['bare LF after the size', '3\nabc\r\n0\r\n\r\n', 1, /invalid byte 0xa in the chunk-size line/],
    ['bare LF after an extension', '3;a\nabc\r\n0\r\n\r\n', 3, /invalid byte 0xa in a chunk extension name/],
    ['CR without LF after the size', '3\rabc\r\n0\r\n\r\n', 2, /CR without LF after the chunk size/],
    ['data longer than its size', '3\r\nabcd\r\n0\r\n\r\n', 6, /chunk data longer than its size/],
    ['missing CRLF after data', '3\r\nabc0\r\n\r\n', 6, /CRLF expected/],
    ['bare LF after data', '3\r\nabc\n0\r\n\r\n', 6, /CRLF expected/],
    ['CR without LF after data', '3\r\nabc\rX0\r\n\r\n', 7, /CR without LF after chunk data/],
    ['bare LF after the last chunk', '3\r\nabc\r\n0\n\r\n', 9, /invalid byte 0xa in the chunk-size line/],
    ['bare LF as the final line', '3\r\nabc\r\n0\r\n\n', 11, /start of a trailer field/],
    ['CR without LF at the end', '0\r\n\rX', 4, /CR without LF at the end/],
    ['trailer without a colon', '0\r\ngarbage\r\n\r\n', 10, /invalid byte 0xd in a trailer field name/],
    ['trailer with an empty name', '0\r\n: v\r\n\r\n', 3, /start of a trailer field/],
    ['space before a trailer colon', '0\r\nX : v\r\n\r\n', 4, /whitespace between a trailer field name and the colon/],
    ['obs-fold in trailers', '0\r\nX: a\r\n b\r\n\r\n', 9, /obsolete line folding/],
    ['NUL in a trailer value', '0\r\nX: a\0\r\n\r\n', 7, /invalid byte 0x0 in a trailer field value/],
    ['DEL in a trailer value', '0\r\nX: \x7f\r\n\r\n', 6, /invalid byte 0x7f in a trailer field value/],
    ['bare LF in trailers', '0\r\nX: a\n\r\n', 7, /invalid byte 0xa in a trailer field value/],
    ['CR without LF in trailers', '0\r\nX: a\rb\r\n\r\n', 8, /CR without LF in the trailer section/],
    ['Content-Length in trailers', '3\r\nabc\r\n0\r\nX-A: 1\r\nContent-Length: 5\r\n\r\n', 33, /"content-length" is not allowed in a trailer section/],
    ['Transfer-Encoding in trailers', '0\r\nTRANSFER-ENCODING: chunked\r\n\r\n', 20, /"transfer-encoding" is not allowed/],
    ['Host in trailers', '0\r\nhost: evil\r\n\r\n', 7, /"host" is not allowed/],
    ['Connection in trailers', '0\r\nConnection: close\r\n\r\n', 13, /"connection" is not allowed/],
  ];

  test.each(bad)('%s', (_n, s, at, reason) => {
    const r = run(s);
    expect(r.done).toBe(false);
    expect(r.error).toMatch(reason);
    expect(r.consumed).toBe(at);
    // Split anywhere: the same byte is refused.
    for (let i = 0; i <= s.length; i++) expect(run(s, [i]), `cut at ${i}`).toMatchObject({ error: r.error, consumed: at });
    expect(decodeChunked(b(s))).toMatchObject({ ok: false, consumed: at, error: r.error });
  });

  test('data before the refused byte is still delivered, none after it', () => {
    expect(run('3\r\nabc\r\n2\r\nxyz\r\n0\r\n\r\n')).toMatchObject({ data: 'abcxy', consumed: 13, bytes: 5, error: 'chunk data longer than its size (CRLF expected)' });
  });

  test('oversize chunk-size line (extensions) is refused at the first byte over the limit', () => {
    const limits = { maxLineBytes: 16, maxTrailerBytes: 64 };
    const line = `3;${'a'.repeat(13)}\r\n`; // 3 ; 13×a CR = 16 bytes: at the limit
    expect(run(`${line}abc\r\n0\r\n\r\n`, [], limits)).toMatchObject({ done: true });
    const over = `3;${'a'.repeat(14)}\r\n`;
    expect(run(`${over}abc\r\n0\r\n\r\n`, [], limits)).toMatchObject({ error: 'chunk-size line too long', consumed: 16 });
    // The default limit: 4096 bytes.
    const r = run(`1;x="${'y'.repeat(5000)}"\r\nz\r\n0\r\n\r\n`);
    expect(r).toMatchObject({ error: 'chunk-size line too long', consumed: 4096 });
  });

  test('oversize trailer section', () => {
    const limits = { maxLineBytes: 64, maxTrailerBytes: 16 };
    expect(run(`0\r\nX: ${'a'.repeat(11)}\r\n\r\n`, [], limits)).toMatchObject({ done: true });
    expect(run(`0\r\nX: ${'a'.repeat(12)}\r\n\r\n`, [], limits)).toMatchObject({ error: 'trailer section too large', consumed: 3 + 16 });
  });

  test('after an error, later feeds consume nothing', () => {
    const d = new ChunkedDecoder();
    const buf = b('x\r\n');
    expect(d.feed(buf, 0, buf.length)).toBe(0);
    expect(d.feed(buf, 1, buf.length)).toBe(1);
    expect(d.done).toBe(false);
    expect(d.error).toMatch(/chunk size missing/);
  });
});
