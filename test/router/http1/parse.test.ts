/**
 * Unit tests of the strict HTTP/1.1 head parser (src/router/http1/parse.ts): every refusal the
 * engine promises (docs/http1.md) and the valid forms it must keep accepting.
 */
import { describe, expect, test } from 'vitest';
import { BodyKind, DEFAULT_HEAD_LIMITS, hasToken, ParseError, type HeadLimits } from '../../../src/router/http1/fields.js';
import { parseRequestHead, rawGet, type RequestHead } from '../../../src/router/http1/parse.js';
import { parseResponseHead, type ResponseHead } from '../../../src/router/http1/response.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

function req(s: string, limits: HeadLimits = DEFAULT_HEAD_LIMITS): RequestHead | ParseError | undefined {
  const buf = b(s);
  return parseRequestHead(buf, 0, buf.length, limits);
}
function ok(s: string, limits?: HeadLimits): RequestHead {
  const r = req(s, limits);
  if (!(r !== undefined && !(r instanceof ParseError))) throw new Error(`expected a head, got ${r instanceof ParseError ? `${r.status} ${r.reason}` : 'undefined'}`);
  return r;
}
function res(s: string, method = 'GET', limits?: HeadLimits): ResponseHead | ParseError | undefined {
  const buf = b(s);
  return parseResponseHead(buf, 0, buf.length, method, limits);
}
function resOk(s: string, method = 'GET'): ResponseHead {
  const r = res(s, method);
  if (!(r !== undefined && !(r instanceof ParseError))) throw new Error(`expected a head, got ${r instanceof ParseError ? `${r.status} ${r.reason}` : 'undefined'}`);
  return r;
}

const H = 'Host: a.example\r\n';

describe('parseRequestHead: refusals', () => {
  // [name, head, status, reason pattern]
  const cases: [string, string, number, RegExp][] = [
    // Framing (request smuggling, RFC 9112 §6.1, §6.3, §11.2)
    ['Content-Length with Transfer-Encoding', `POST / HTTP/1.1\r\n${H}Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n`, 400, /Content-Length together with Transfer-Encoding/],
    ['Transfer-Encoding with Content-Length', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n`, 400, /Content-Length together with Transfer-Encoding/],
    ['two different Content-Length', `POST / HTTP/1.1\r\n${H}Content-Length: 3\r\nContent-Length: 4\r\n\r\n`, 400, /more than one Content-Length/],
    ['two equal Content-Length', `POST / HTTP/1.1\r\n${H}Content-Length: 3\r\nContent-Length: 3\r\n\r\n`, 400, /more than one Content-Length/],
    ['Content-Length: +5', `POST / HTTP/1.1\r\n${H}Content-Length: +5\r\n\r\n`, 400, /invalid Content-Length "\+5"/],
    ['Content-Length: -1', `POST / HTTP/1.1\r\n${H}Content-Length: -1\r\n\r\n`, 400, /invalid Content-Length/],
    ['Content-Length: 1,1', `POST / HTTP/1.1\r\n${H}Content-Length: 1,1\r\n\r\n`, 400, /invalid Content-Length "1,1"/],
    ['Content-Length: 1 1', `POST / HTTP/1.1\r\n${H}Content-Length: 1 1\r\n\r\n`, 400, /invalid Content-Length/],
    ['Content-Length: 0x5', `POST / HTTP/1.1\r\n${H}Content-Length: 0x5\r\n\r\n`, 400, /invalid Content-Length/],
    ['empty Content-Length', `POST / HTTP/1.1\r\n${H}Content-Length:\r\n\r\n`, 400, /invalid Content-Length ""/],
    ['Content-Length over 15 digits', `POST / HTTP/1.1\r\n${H}Content-Length: 0000000000000005\r\n\r\n`, 400, /invalid Content-Length/],
    ['huge Content-Length', `POST / HTTP/1.1\r\n${H}Content-Length: 99999999999999999999\r\n\r\n`, 400, /invalid Content-Length/],
    ['HTAB after Content-Length', `POST / HTTP/1.1\r\n${H}Content-Length: 5\t\r\n\r\n`, 400, /HTAB in the Content-Length/],
    ['HTAB before Content-Length', `POST / HTTP/1.1\r\n${H}Content-Length:\t5\r\n\r\n`, 400, /HTAB in the Content-Length/],
    ['Transfer-Encoding: gzip, chunked', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: gzip, chunked\r\n\r\n`, 501, /unsupported transfer coding/],
    ['Transfer-Encoding: chunked, chunked', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked, chunked\r\n\r\n`, 400, /applies chunked more than once/],
    ['a fragment in the target', `GET /a#f HTTP/1.1\r\n${H}\r\n`, 400, /invalid byte 0x23 in the request target/],
    ['Transfer-Encoding: chunked, gzip', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked, gzip\r\n\r\n`, 400, /does not end in chunked/],
    ['Transfer-Encoding: identity', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: identity\r\n\r\n`, 400, /does not end in chunked/],
    ['Transfer-Encoding: xchunked', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: xchunked\r\n\r\n`, 400, /does not end in chunked/],
    ['empty Transfer-Encoding', `POST / HTTP/1.1\r\n${H}Transfer-Encoding:\r\n\r\n`, 400, /does not end in chunked/],
    ['two Transfer-Encoding fields', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n`, 400, /more than one Transfer-Encoding/],
    ['two Transfer-Encoding: chunked fields', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n`, 400, /more than one Transfer-Encoding/],
    ['HTAB after Transfer-Encoding', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\t\r\n\r\n`, 400, /HTAB in the Transfer-Encoding/],
    ['HTAB in Connection', `GET / HTTP/1.1\r\n${H}Connection: upgrade\t\r\nUpgrade: websocket\r\n\r\n`, 400, /HTAB in the Connection/],
    ['empty Transfer-Encoding with Content-Length', `POST / HTTP/1.1\r\n${H}Transfer-Encoding:\r\nContent-Length: 0\r\n\r\n`, 400, /Content-Length together with Transfer-Encoding/],
    ['Transfer-Encoding in HTTP/1.0', `POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n`, 400, /HTTP\/1\.0/],
    // Field syntax (RFC 9112 §2.2, §5)
    ['obs-fold', `GET / HTTP/1.1\r\n${H}X: a\r\n b\r\n\r\n`, 400, /obsolete line folding/],
    ['obs-fold with HTAB', `GET / HTTP/1.1\r\n${H}X: a\r\n\tb\r\n\r\n`, 400, /obsolete line folding/],
    ['whitespace before the first field', `GET / HTTP/1.1\r\n ${H}\r\n`, 400, /obsolete line folding/],
    ['bare LF after the request line', `GET / HTTP/1.1\n${H}\r\n`, 400, /bare LF after the request line/],
    ['bare LF ending a field line', `GET / HTTP/1.1\r\nHost: a\nX: y\r\n\r\n`, 400, /bare LF in the header section/],
    ['bare LF as the empty line', `GET / HTTP/1.1\r\n${H}\n`, 400, /bare LF in the header section/],
    ['bare CR in a value', `GET / HTTP/1.1\r\n${H}X: a\rb\r\n\r\n`, 400, /invalid byte 0x0d/],
    ['NUL in a value', `GET / HTTP/1.1\r\n${H}X: a\0b\r\n\r\n`, 400, /invalid byte 0x00 in the value/],
    ['CTL in a value', `GET / HTTP/1.1\r\n${H}X: a\x01b\r\n\r\n`, 400, /invalid byte 0x01 in the value/],
    ['DEL in a value', `GET / HTTP/1.1\r\n${H}X: a\x7fb\r\n\r\n`, 400, /invalid byte 0x7f in the value/],
    ['NUL in a name', `GET / HTTP/1.1\r\n${H}X\0: v\r\n\r\n`, 400, /invalid byte 0x00 in a header field name/],
    ['non-ASCII in a name', `GET / HTTP/1.1\r\n${H}X\xe9: v\r\n\r\n`, 400, /invalid byte 0xe9 in a header field name/],
    ['space before the colon', `GET / HTTP/1.1\r\n${H}X : v\r\n\r\n`, 400, /whitespace between a header field name and the colon/],
    ['HTAB before the colon', `GET / HTTP/1.1\r\n${H}X\t: v\r\n\r\n`, 400, /whitespace between a header field name and the colon/],
    ['empty field name', `GET / HTTP/1.1\r\n${H}: v\r\n\r\n`, 400, /empty or invalid header field name/],
    ['field line without a colon', `GET / HTTP/1.1\r\n${H}X\r\n\r\n`, 400, /without a colon/],
    // Host (RFC 9112 §3.2, §3.2.2)
    ['two Host fields', `GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n`, 400, /more than one Host/],
    ['two equal Host fields, different case', `GET / HTTP/1.1\r\nhost: a\r\nHOST: a\r\n\r\n`, 400, /more than one Host/],
    ['two Host fields in HTTP/1.0', `GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n`, 400, /more than one Host/],
    ['HTTP/1.1 without Host', `GET / HTTP/1.1\r\nX: y\r\n\r\n`, 400, /without a Host/],
    ['invalid Host', `GET / HTTP/1.1\r\nHost: a b\r\n\r\n`, 400, /invalid Host/],
    ['Host with userinfo', `GET / HTTP/1.1\r\nHost: u@a\r\n\r\n`, 400, /invalid Host/],
    ['absolute-form authority disagrees with Host', `GET http://a/x HTTP/1.1\r\nHost: b\r\n\r\n`, 400, /disagrees with Host/],
    ['absolute-form port disagrees with Host', `GET http://a:8080/x HTTP/1.1\r\nHost: a\r\n\r\n`, 400, /disagrees with Host/],
    ['absolute-form in HTTP/1.0 without Host', `GET http://a/x HTTP/1.0\r\n\r\n`, 400, /disagrees with Host/],
    ['absolute-form with userinfo', `GET http://u@a/ HTTP/1.1\r\nHost: a\r\n\r\n`, 400, /not in origin, absolute or asterisk form/],
    ['absolute-form, not http(s)', `GET ftp://a/ HTTP/1.1\r\nHost: a\r\n\r\n`, 400, /not in origin, absolute or asterisk form/],
    ['relative target', `GET foo HTTP/1.1\r\n${H}\r\n`, 400, /not in origin, absolute or asterisk form/],
    // Request line (RFC 9112 §3)
    ['asterisk-form for GET', `GET * HTTP/1.1\r\n${H}\r\n`, 400, /OPTIONS only/],
    ['lower-case method', `get / HTTP/1.1\r\n${H}\r\n`, 400, /unknown method "get"/],
    ['unknown method', `BREW / HTTP/1.1\r\n${H}\r\n`, 501, /unknown method "BREW"/],
    ['RTSP method', `DESCRIBE / HTTP/1.1\r\n${H}\r\n`, 501, /unknown method/],
    ['CONNECT', `CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n`, 405, /CONNECT is not supported/],
    ['two spaces after the method', `GET  / HTTP/1.1\r\n${H}\r\n`, 400, /malformed request line/],
    ['HTAB after the method', `GET\t/ HTTP/1.1\r\n${H}\r\n`, 400, /malformed request line/],
    ['space after the version', `GET / HTTP/1.1 \r\n${H}\r\n`, 400, /malformed HTTP version/],
    ['missing version', `GET /\r\n${H}\r\n`, 400, /malformed request line/],
    ['lower-case version', `GET / http/1.1\r\n${H}\r\n`, 400, /malformed HTTP version/],
    ['two-digit minor version', `GET / HTTP/1.10\r\n${H}\r\n`, 400, /malformed HTTP version/],
    ['HTTP/1.2', `GET / HTTP/1.2\r\n${H}\r\n`, 505, /HTTP\/1\.2 is not supported/],
    ['HTTP/2.0', `GET / HTTP/2.0\r\n${H}\r\n`, 505, /HTTP\/2\.0 is not supported/],
    ['HTTP/0.9', `GET / HTTP/0.9\r\n${H}\r\n`, 505, /HTTP\/0\.9 is not supported/],
    ['NUL in the target', `GET /\0 HTTP/1.1\r\n${H}\r\n`, 400, /invalid byte 0x00 in the request target/],
    ['HTAB in the target', `GET /\ta HTTP/1.1\r\n${H}\r\n`, 400, /invalid byte 0x09 in the request target/],
    ['DEL in the target', `GET /\x7f HTTP/1.1\r\n${H}\r\n`, 400, /invalid byte 0x7f in the request target/],
    ['non-ASCII in the target', `GET /\xe9 HTTP/1.1\r\n${H}\r\n`, 400, /invalid byte 0xe9 in the request target/],
    ['two empty lines before the request line', `\r\n\r\nGET / HTTP/1.1\r\n${H}\r\n`, 400, /malformed request line/],
    ['bare LF before the request line', `\nGET / HTTP/1.1\r\n${H}\r\n`, 400, /bare LF before the request line/],
    // Expect (RFC 9110 §10.1.1)
    ['Expect: foo', `GET / HTTP/1.1\r\n${H}Expect: foo\r\n\r\n`, 417, /unsupported expectation "foo"/],
    ['empty Expect', `GET / HTTP/1.1\r\n${H}Expect:\r\n\r\n`, 417, /unsupported expectation/],
    ['Expect: 100-continue, foo', `GET / HTTP/1.1\r\n${H}Expect: 100-continue, foo\r\n\r\n`, 417, /unsupported expectation/],
    ['Expect: foo in HTTP/1.0', `GET / HTTP/1.0\r\nExpect: foo\r\n\r\n`, 417, /unsupported expectation/],
  ];
  test.each(cases)('%s', (_name, head, status, reason) => {
    const r = req(head);
    expect(r).toBeInstanceOf(ParseError);
    expect((r as ParseError).status).toBe(status);
    expect((r as ParseError).reason).toMatch(reason);
  });

  test('431: a head over maxHeadBytes, complete or not', () => {
    const limits = { maxHeadBytes: 64, maxFields: 100 };
    const long = `GET / HTTP/1.1\r\n${H}X: ${'a'.repeat(60)}\r\n\r\n`;
    for (const s of [long, long.slice(0, 70), long.slice(0, 64)]) {
      const r = req(s, limits);
      expect(r).toBeInstanceOf(ParseError);
      expect((r as ParseError).status).toBe(431);
    }
    // One byte short of the limit: still waiting.
    expect(req(long.slice(0, 63), limits)).toBeUndefined();
    // Exactly maxHeadBytes long: accepted.
    const exact = `GET / HTTP/1.1\r\n${H}X: ${'a'.repeat(64 - 16 - H.length - 7)}\r\n\r\n`;
    expect(exact.length).toBe(64);
    expect(ok(exact, limits).length).toBe(64);
  });

  test('431: more than maxFields fields', () => {
    const limits = { maxHeadBytes: 32 * 1024, maxFields: 3 };
    expect(ok(`GET / HTTP/1.1\r\n${H}A: 1\r\nB: 2\r\n\r\n`, limits).raw).toHaveLength(6);
    const r = req(`GET / HTTP/1.1\r\n${H}A: 1\r\nB: 2\r\nC: 3\r\n\r\n`, limits);
    expect(r).toBeInstanceOf(ParseError);
    expect((r as ParseError).status).toBe(431);
  });

  test('a bad request line is refused before the head is complete', () => {
    const r = req('GET / HTTP/9.9\r\nHost: a\r\n');
    expect(r).toBeInstanceOf(ParseError);
    expect((r as ParseError).status).toBe(505);
  });
});

describe('parseRequestHead: valid forms', () => {
  test('origin-form', () => {
    const h = ok(`GET /a/b?c=d HTTP/1.1\r\nHost: a.example:8080\r\nAccept: */*\r\n\r\n`);
    expect(h).toMatchObject({ method: 'GET', target: '/a/b?c=d', versionMinor: 1, host: 'a.example:8080', body: BodyKind.None, contentLength: 0, keepAlive: true, upgrade: false, expectContinue: false });
    expect(h.raw).toEqual(['Host', 'a.example:8080', 'Accept', '*/*']);
  });

  test.each([
    ['http://a.example/x', 'a.example'],
    ['https://A.Example:8443/x?y', 'a.example:8443'],
    ['HTTP://a.example', 'a.example'],
    ['http://a.example?q', 'a.example'],
  ])('absolute-form %s with Host %s', (target, host) => {
    const h = ok(`GET ${target} HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
    expect(h.target).toBe(target);
    expect(h.host).toBe(host);
  });

  test('asterisk-form for OPTIONS', () => {
    expect(ok(`OPTIONS * HTTP/1.1\r\n${H}\r\n`).target).toBe('*');
  });

  test('every method llhttp knows, except CONNECT', () => {
    for (const m of ['ACL', 'DELETE', 'GET', 'HEAD', 'M-SEARCH', 'MKCALENDAR', 'OPTIONS', 'PATCH', 'POST', 'PROPFIND', 'PURGE', 'PUT', 'QUERY', 'SEARCH', 'TRACE', 'UNSUBSCRIBE']) {
      expect(ok(`${m} / HTTP/1.1\r\n${H}\r\n`).method).toBe(m);
    }
  });

  test('field values: surrounding OWS trimmed, inner HTAB and obs-text kept, names keep their case', () => {
    const h = ok(`GET / HTTP/1.1\r\n${H}X-A:\t a\tb \t\r\nx-b: caf\xe9\r\nX-Empty:\r\n!#$%&'*+-.^_\`|~09azAZ: v\r\n\r\n`);
    expect(h.raw).toEqual(['Host', 'a.example', 'X-A', 'a\tb', 'x-b', 'caf\xe9', 'X-Empty', '', "!#$%&'*+-.^_`|~09azAZ", 'v']);
  });

  test('target characters RFC 3986 allows, and some it does not but llhttp does (visible ASCII but "#")', () => {
    expect(ok(`GET /a%20b/~x?y=%zz&z="<>\\^\`{|}f HTTP/1.1\r\n${H}\r\n`).target).toBe('/a%20b/~x?y=%zz&z="<>\\^`{|}f');
  });

  test('HTTP/1.0: no Host needed, close by default, keep-alive on request', () => {
    expect(ok('GET / HTTP/1.0\r\n\r\n')).toMatchObject({ versionMinor: 0, host: undefined, keepAlive: false });
    expect(ok('GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n').keepAlive).toBe(true);
    expect(ok('GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n').keepAlive).toBe(true);
  });

  test('HTTP/1.1: keep-alive unless Connection: close', () => {
    expect(ok(`GET / HTTP/1.1\r\n${H}\r\n`).keepAlive).toBe(true);
    expect(ok(`GET / HTTP/1.1\r\n${H}Connection: close\r\n\r\n`).keepAlive).toBe(false);
    expect(ok(`GET / HTTP/1.1\r\n${H}Connection: foo\r\nConnection: Close\r\n\r\n`).keepAlive).toBe(false);
    expect(ok(`GET / HTTP/1.1\r\n${H}Connection: not-close\r\n\r\n`).keepAlive).toBe(true);
  });

  test('empty Host is accepted (RFC 9112 §3.2: an empty authority)', () => {
    expect(ok('GET / HTTP/1.1\r\nHost:\r\n\r\n').host).toBe('');
  });

  test.each([
    ['Content-Length: 5', BodyKind.Length, 5],
    ['Content-Length:  5  ', BodyKind.Length, 5],
    ['Content-Length: 0005', BodyKind.Length, 5],
    ['Content-Length: 0', BodyKind.None, 0],
    ['Content-Length: 999999999999999', BodyKind.Length, 999999999999999],
    ['Transfer-Encoding: chunked', BodyKind.Chunked, 0],
    ['Transfer-Encoding: Chunked ', BodyKind.Chunked, 0],
    ['X: y', BodyKind.None, 0],
  ])('framing: %s', (field, kind, length) => {
    const h = ok(`POST / HTTP/1.1\r\n${H}${field}\r\n\r\n`);
    expect(h.body).toBe(kind);
    expect(h.contentLength).toBe(length);
  });

  test('HTTP/1.0 Content-Length body', () => {
    expect(ok('POST / HTTP/1.0\r\nContent-Length: 3\r\n\r\n')).toMatchObject({ body: BodyKind.Length, contentLength: 3 });
  });

  test('Expect: 100-continue (any case) in HTTP/1.1; ignored in HTTP/1.0', () => {
    expect(ok(`POST / HTTP/1.1\r\n${H}Expect: 100-continue\r\nContent-Length: 3\r\n\r\n`).expectContinue).toBe(true);
    expect(ok(`POST / HTTP/1.1\r\n${H}Expect: 100-Continue\r\n\r\n`).expectContinue).toBe(true);
    expect(ok(`POST / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n`).expectContinue).toBe(false);
  });

  test('upgrade needs Connection: upgrade and an Upgrade field', () => {
    expect(ok(`GET / HTTP/1.1\r\n${H}Connection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n`).upgrade).toBe(true);
    expect(ok(`GET / HTTP/1.1\r\n${H}Connection: upgrade\r\n\r\n`).upgrade).toBe(false);
    expect(ok(`GET / HTTP/1.1\r\n${H}Upgrade: websocket\r\n\r\n`).upgrade).toBe(false);
    expect(ok(`GET / HTTP/1.1\r\n${H}Connection: upgrade\r\nUpgrade:\r\n\r\n`).upgrade).toBe(false);
    expect(ok(`GET / HTTP/1.1\r\n${H}Connection: foo upgrade\r\nUpgrade: websocket\r\n\r\n`).upgrade).toBe(false);
    expect(ok(`GET / HTTP/1.1\r\n${H}Connection: upgrade;x\r\nUpgrade: websocket\r\n\r\n`).upgrade).toBe(false);
  });

  test('one empty line before the request line is skipped and counted in length', () => {
    const s = `\r\nGET / HTTP/1.1\r\n${H}\r\n`;
    expect(ok(s).length).toBe(s.length);
  });

  test('pipelined heads in one buffer: length leads to the next one', () => {
    const first = `POST /1 HTTP/1.1\r\n${H}Content-Length: 3\r\n\r\n`;
    const second = `GET /2 HTTP/1.1\r\n${H}\r\n`;
    const third = `GET /3 HTTP/1.1\r\n${H}Connection: close\r\n\r\n`;
    const buf = b(first + 'abc' + second + third);
    const h1 = parseRequestHead(buf, 0, buf.length) as RequestHead;
    expect(h1).toMatchObject({ target: '/1', length: first.length, contentLength: 3 });
    const at2 = h1.length + h1.contentLength;
    const h2 = parseRequestHead(buf, at2, buf.length) as RequestHead;
    expect(h2).toMatchObject({ target: '/2', length: second.length });
    const h3 = parseRequestHead(buf, at2 + h2.length, buf.length) as RequestHead;
    expect(h3).toMatchObject({ target: '/3', length: third.length, keepAlive: false });
    // A prefix of the next head is incomplete, not an error.
    expect(parseRequestHead(buf, at2 + h2.length, buf.length - 1)).toBeUndefined();
  });

  test('every proper prefix of a valid head is incomplete (undefined)', () => {
    const heads = [
      `\r\nPOST http://a.example/x?y HTTP/1.1\r\n${H}Content-Length: 3\r\nX: a\tb\r\n\r\n`,
      'GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n',
      `OPTIONS * HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n`,
    ];
    for (const s of heads) {
      const buf = b(s);
      for (let n = 0; n < buf.length; n++) expect(parseRequestHead(buf, 0, n), `prefix ${JSON.stringify(s.slice(0, n))}`).toBeUndefined();
      expect(parseRequestHead(buf, 0, buf.length)).toMatchObject({ length: buf.length });
    }
  });

  test('a start offset inside a larger buffer', () => {
    const buf = b(`garbage!GET /x HTTP/1.1\r\n${H}\r\ntrailing`);
    const h = parseRequestHead(buf, 8, buf.length) as RequestHead;
    expect(h).toMatchObject({ target: '/x', length: buf.length - 8 - 8 });
  });

  test('a plain Uint8Array (not a Buffer) decodes the same', () => {
    const s = `GET /\x7e HTTP/1.1\r\n${H}X: caf\xe9\r\n\r\n`;
    const u8 = new Uint8Array(b(s));
    const h = parseRequestHead(u8, 0, u8.length) as RequestHead;
    expect(h).toMatchObject({ method: 'GET', target: '/~', raw: ['Host', 'a.example', 'X', 'caf\xe9'] });
  });
});

describe('parseResponseHead', () => {
  test.each([
    ['HEAD request', 'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n', 'HEAD'],
    ['204', 'HTTP/1.1 204 No Content\r\n\r\n', 'GET'],
    ['304', 'HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n', 'GET'],
    ['100', 'HTTP/1.1 100 Continue\r\n\r\n', 'POST'],
    ['103', 'HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n', 'GET'],
    ['101', 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n', 'GET'],
    ['HEAD with chunked', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n', 'HEAD'],
  ])('no body: %s', (_n, s, method) => {
    const h = resOk(s, method);
    expect(h.body).toBe(BodyKind.None);
    expect(h.keepAlive).toBe(true);
  });

  test('close-delimited when no framing field', () => {
    expect(resOk('HTTP/1.1 200 OK\r\nX: y\r\n\r\n')).toMatchObject({ status: 200, reason: 'OK', body: BodyKind.Close, keepAlive: false });
    expect(resOk('HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n')).toMatchObject({ body: BodyKind.Close, keepAlive: false });
  });

  test('chunked and Content-Length', () => {
    expect(resOk('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n')).toMatchObject({ body: BodyKind.Chunked, keepAlive: true });
    expect(resOk('HTTP/1.1 201 Created\r\nContent-Length: 7\r\n\r\n')).toMatchObject({ status: 201, body: BodyKind.Length, contentLength: 7 });
    expect(resOk('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n')).toMatchObject({ body: BodyKind.None, keepAlive: true });
  });

  test('a Connection field naming Content-Length, Transfer-Encoding or Host → 502 (the framing must not become hop-by-hop)', () => {
    for (const c of ['content-length', 'close, Content-Length', 'transfer-encoding', 'host']) {
      const r = res(`HTTP/1.1 200 OK\r\nConnection: ${c}\r\nContent-Length: 1\r\n\r\n`);
      expect(r, c).toBeInstanceOf(ParseError);
      expect((r as ParseError).status).toBe(502);
      expect((r as ParseError).reason).toMatch(/framing or routing field/);
    }
    const q = req('POST / HTTP/1.1\r\nHost: a\r\nConnection: Content-Length\r\nContent-Length: 1\r\n\r\nx');
    expect(q).toBeInstanceOf(ParseError);
    expect((q as ParseError).status).toBe(400);
    expect(resOk('HTTP/1.1 200 OK\r\nConnection: x-content-length\r\nContent-Length: 1\r\n\r\n').contentLength).toBe(1);
  });

  test('keepAlive', () => {
    expect(resOk('HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: close\r\n\r\n').keepAlive).toBe(false);
    expect(resOk('HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n').keepAlive).toBe(false);
    expect(resOk('HTTP/1.0 200 OK\r\nContent-Length: 1\r\nConnection: keep-alive\r\n\r\n')).toMatchObject({ versionMinor: 0, keepAlive: true });
  });

  test('status line forms', () => {
    expect(resOk('HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n')).toMatchObject({ status: 200, reason: '' });
    expect(resOk('HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n')).toMatchObject({ status: 200, reason: '' });
    expect(resOk('HTTP/1.1 599 Odd \xe9\tReason\r\nContent-Length: 0\r\n\r\n')).toMatchObject({ status: 599, reason: 'Odd \xe9\tReason' });
    const s = 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n';
    expect(resOk(s + 'HTTP/1.1 204').length).toBe(s.length);
  });

  test.each([
    ['HTTP/1.1 2000 OK\r\n\r\n'],
    ['HTTP/1.1 099 X\r\n\r\n'],
    ['HTTP/1.1 600 X\r\n\r\n'],
    ['HTTP/1.1 20 OK\r\n\r\n'],
    ['HTTP/2.0 200 OK\r\n\r\n'],
    ['HTTP/1.1  200 OK\r\n\r\n'],
    ['http/1.1 200 OK\r\n\r\n'],
    ['HTTP/1.1 200 O\0K\r\n\r\n'],
    ['HTTP/1.1 200 OK\n\r\n'],
    ['HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n'],
    ['HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n'],
    ['HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n'],
    ['HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n'],
    ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n'],
    ['HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n'],
    ['HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n'],
    ['HTTP/1.1 200 OK\r\nX : a\r\n\r\n'],
  ])('502: %j', (s) => {
    const r = res(s);
    expect(r).toBeInstanceOf(ParseError);
    expect((r as ParseError).status).toBe(502);
  });

  test('incomplete, then 502 over maxHeadBytes', () => {
    const s = 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n';
    for (let n = 0; n < s.length; n++) expect(res(s.slice(0, n))).toBeUndefined();
    const r = res(`HTTP/1.1 200 OK\r\nX: ${'a'.repeat(100)}`, 'GET', { maxHeadBytes: 64, maxFields: 10 });
    expect((r as ParseError).status).toBe(502);
  });
});

describe('helpers', () => {
  test('hasToken matches whole list members only, case-insensitively', () => {
    expect(hasToken('keep-alive, Upgrade', 'upgrade')).toBe(true);
    expect(hasToken('close', 'close')).toBe(true);
    expect(hasToken('\tclose ', 'close')).toBe(true);
    expect(hasToken('not-close', 'close')).toBe(false);
    expect(hasToken('closed', 'close')).toBe(false);
    expect(hasToken('closed, close', 'close')).toBe(true);
    expect(hasToken('foo close', 'close')).toBe(false);
    expect(hasToken('close foo', 'close')).toBe(false);
    expect(hasToken('a,,CLOSE,', 'close')).toBe(true);
    expect(hasToken('', 'close')).toBe(false);
    expect(hasToken(undefined, 'close')).toBe(false);
  });

  test('rawGet finds the first field by lower-case name', () => {
    const raw = ['Host', 'a', 'X-Y', '1', 'x-y', '2'];
    expect(rawGet(raw, 'x-y')).toBe('1');
    expect(rawGet(raw, 'host')).toBe('a');
    expect(rawGet(raw, 'nope')).toBeUndefined();
  });
});
