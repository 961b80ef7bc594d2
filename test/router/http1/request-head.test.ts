/**
 * The upstream request head built as bytes (src/router/http1/request-head.ts) against the one
 * built from strings by forwardRequestHeaders (the path HTTP/2 clients and the rarer HTTP/1.1
 * heads take): for generated client heads, both give the same request line and the same fields
 * in the same order (names compared as sent, values without surrounding OWS), and the suffix
 * cached on a connection is rebuilt whenever what it depends on changes.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { forwardRequestHeaders } from '../../../src/router/headers.js';
import { ParseError } from '../../../src/router/http1/fields.js';
import { parseRequestHead, type RequestHead } from '../../../src/router/http1/parse.js';
import { upstreamHeadBytes, type ForwardInputs } from '../../../src/router/http1/request-head.js';

const CI = process.env.CI === 'true';
const ROUTING = 'x-switchyard-env';

/** The string path, as proxy.ts assembles it for an HTTP/1.1 client. */
function stringHead(head: RequestHead, f: ForwardInputs, env: string, requestId: string): string {
  const { headers } = forwardRequestHeaders(head.raw, {
    routingHeader: f.routingHeader, env, clientIp: f.clientIp, proto: f.proto, host: head.host, edge: f.edge, upgrade: false, traceparent: head.traceparent,
  });
  // A new id on both paths when the client sent no acceptable one: the string path's (a UUID it
  // made) becomes the bytes path's; an id the client sent must be the same on both.
  const rid = headers.indexOf('x-request-id');
  if (!head.raw.some((v, i) => i % 2 === 1 && v === headers[rid + 1])) headers[rid + 1] = requestId;
  let s = head.method + ' ' + f.path + ' HTTP/1.1\r\n';
  for (let i = 0; i < headers.length; i += 2) s += headers[i] + ': ' + headers[i + 1] + '\r\n';
  if (head.body === 2) s += 'transfer-encoding: chunked\r\n';
  return s + '\r\n';
}

function parsed(bytes: Buffer | string): { line: string; fields: string[] } {
  const b = typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes;
  const h = parseRequestHead(b, 0, b.length);
  if (h === undefined || h instanceof ParseError) throw new Error(`upstream head does not parse: ${h instanceof ParseError ? h.reason : 'incomplete'}\n${b.toString('latin1')}`);
  expect(h.length).toBe(b.length); // one head, nothing after it
  return { line: `${h.method} ${h.target} HTTP/1.${h.versionMinor}`, fields: h.raw };
}

const parse = (s: string): RequestHead => {
  const b = Buffer.from(s, 'latin1');
  const h = parseRequestHead(b, 0, b.length);
  if (h === undefined || h instanceof ParseError) throw new Error(`client head refused: ${h instanceof ParseError ? h.reason : 'incomplete'}`);
  return h;
};

const fieldArb = fc.oneof(
  fc.constantFrom(
    ['Accept', 'text/html'], ['User-Agent', 'curl/8'], ['Cookie', 'a=1; b=2'], ['X-Request-Id', 'client-id-1'], ['x-request-id', 'bad id with spaces'],
    ['baggage', 'k=v'], ['Baggage', 'x-switchyard-env=old,o=1'], ['X-Switchyard-Env', 'feat9'], ['x-switchyard-env', 'base'],
    ['X-Forwarded-For', '10.0.0.1'], ['X-Forwarded-Host', 'evil'], ['x-forwarded-proto', 'https'], ['X-Forwarded-Port', '1'], ['Forwarded', 'for=1.2.3.4'], ['X-Real-IP', '9.9.9.9'],
    ['Expect', '100-continue'], ['Keep-Alive', 'timeout=5'], ['TE', 'trailers'], ['Proxy-Authorization', 'Basic x'], ['Trailer', 'x'], ['Proxy-Connection', 'keep-alive'],
    ['Connection', 'keep-alive'], ['Connection', 'close'], ['traceparent', '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'], ['tracestate', 'a=b'],
    ['X-Switchyard-Envy', 'not the routing header'], ['x-switchyard-en', 'nor this'], ['Content-Type', 'application/json'],
  ),
  fc.tuple(fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,12}$/), fc.stringMatching(/^[ -~]{0,20}$/).map((v) => v.trim())),
);

const sampleArb = fc.record({
  method: fc.constantFrom('GET', 'POST', 'HEAD', 'DELETE'),
  target: fc.constantFrom('/', '/api/x?q=1', '/a/b', 'http://shop.localhost/abs'),
  version: fc.constantFrom('1.1', '1.0'),
  fields: fc.array(fieldArb, { maxLength: 10 }),
  ows: fc.constantFrom(' ', '', '  ', '\t'),
  body: fc.constantFrom('none', 'length', 'chunked'),
  leadingCrlf: fc.boolean(),
  strip: fc.boolean(),
  edge: fc.boolean(),
  https: fc.boolean(),
  ipv6: fc.boolean(),
  newTrace: fc.boolean(),
});

describe('upstream head as bytes = upstream head from strings', () => {
  test('same request line and fields, in the same order, for generated heads', () => {
    let compared = 0;
    fc.assert(fc.property(sampleArb, (smp) => {
      const lines = [`Host:${smp.ows}shop.localhost${smp.ows}`];
      for (const [n, v] of smp.fields) {
        if (/^(host|content-length|transfer-encoding|connection)$/i.test(n) && n !== 'Connection') continue;
        lines.push(`${n}:${smp.ows}${v}${v === '' ? '' : smp.ows}`);
      }
      if (smp.body === 'length') lines.push('Content-Length: 5');
      if (smp.body === 'chunked' && smp.version === '1.1') lines.push('Transfer-Encoding: chunked');
      const text = `${smp.leadingCrlf ? '\r\n' : ''}${smp.method} ${smp.target} HTTP/${smp.version}\r\n${lines.join('\r\n')}\r\n\r\n`;
      const b = Buffer.from(text, 'latin1');
      const head = parseRequestHead(b, 0, b.length);
      if (head === undefined || head instanceof ParseError) return; // not a head the router would proxy
      if (smp.newTrace) head.traceparent = '00-11111111111111111111111111111111-2222222222222222-01';
      const path = smp.target.startsWith('http') ? '/abs' : smp.strip ? '/x' : smp.target;
      const f: ForwardInputs = { routingHeader: ROUTING, clientIp: smp.ipv6 ? '::1' : '127.0.0.1', proto: smp.https ? 'https' : 'http', edge: smp.edge, path };
      let n = 0;
      const out = upstreamHeadBytes(head, f, 'feat1', undefined, () => `gen-${++n}`);
      if (out === undefined) {
        // Only the heads it leaves to the string path: a Connection field naming other fields.
        expect(head.connection !== undefined && /[^,\s]/.test(head.connection.replace(/close|keep-alive|upgrade/gi, ''))).toBe(true);
        return;
      }
      const want = parsed(stringHead(head, f, 'feat1', out.requestId));
      expect(parsed(out.bytes)).toEqual(want);
      compared++;
    }), { numRuns: CI ? 3000 : 1500, seed: CI ? 0x5eed : undefined });
    expect(compared).toBeGreaterThan(500);
  });

  test('the cached suffix is reused on the same connection and rebuilt when what it says changes', () => {
    const f: ForwardInputs = { routingHeader: ROUTING, clientIp: '127.0.0.1', proto: 'http', edge: true, path: '/' };
    const ids = () => 'id';
    const a = upstreamHeadBytes(parse('GET / HTTP/1.1\r\nHost: feat1.shop.localhost\r\n\r\n'), f, 'feat1', undefined, ids)!;
    const b = upstreamHeadBytes(parse('GET / HTTP/1.1\r\nHost: feat1.shop.localhost\r\n\r\n'), f, 'feat1', a.suffix, ids)!;
    expect(b.suffix).toBe(a.suffix);
    const text = (x: Buffer) => x.toString('latin1');
    for (const [label, head, ff, env] of [
      ['env', 'GET / HTTP/1.1\r\nHost: feat1.shop.localhost\r\n\r\n', f, 'feat2'],
      ['host', 'GET / HTTP/1.1\r\nHost: feat2.shop.localhost\r\n\r\n', f, 'feat1'],
      ['baggage', 'GET / HTTP/1.1\r\nHost: feat1.shop.localhost\r\nbaggage: k=v\r\n\r\n', f, 'feat1'],
      ['client ip', 'GET / HTTP/1.1\r\nHost: feat1.shop.localhost\r\n\r\n', { ...f, clientIp: '10.1.1.1' }, 'feat1'],
      ['proto', 'GET / HTTP/1.1\r\nHost: feat1.shop.localhost\r\n\r\n', { ...f, proto: 'https' as const }, 'feat1'],
      ['chunked body', 'POST / HTTP/1.1\r\nHost: feat1.shop.localhost\r\nTransfer-Encoding: chunked\r\n\r\n', f, 'feat1'],
    ] as const) {
      const c = upstreamHeadBytes(parse(head), ff, env, a.suffix, ids)!;
      expect(c.suffix, label).not.toBe(a.suffix);
      expect(text(c.bytes), label).toBe(stringHead(parse(head), ff, env, 'id'));
    }
    expect(text(b.bytes)).toBe('GET / HTTP/1.1\r\nHost: feat1.shop.localhost\r\nx-request-id: id\r\nx-switchyard-env: feat1\r\nbaggage: x-switchyard-env=feat1\r\n'
      + 'x-forwarded-for: 127.0.0.1\r\nx-forwarded-host: feat1.shop.localhost\r\nx-forwarded-proto: http\r\nforwarded: for=127.0.0.1;proto=http;host="feat1.shop.localhost"\r\n\r\n');
  });

  test('leaves upgrades, HTTP/1.0 without Host and Connection-named fields to the string path', () => {
    const f: ForwardInputs = { routingHeader: ROUTING, clientIp: '127.0.0.1', proto: 'http', edge: true, path: '/' };
    expect(upstreamHeadBytes(parse('GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n'), f, 'e', undefined, () => 'i')).toBeUndefined();
    expect(upstreamHeadBytes(parse('GET / HTTP/1.0\r\n\r\n'), f, 'e', undefined, () => 'i')).toBeUndefined();
    expect(upstreamHeadBytes(parse('GET / HTTP/1.1\r\nHost: a\r\nConnection: x-secret\r\nX-Secret: 1\r\n\r\n'), f, 'e', undefined, () => 'i')).toBeUndefined();
  });
});
