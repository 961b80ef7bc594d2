/**
 * Unit tests of the proxy's header rewriting (README "How a request is routed", rule 5).
 */
import { describe, expect, test } from 'vitest';
import { forwardRequestHeaders, type ForwardContext } from '../../src/router/headers.js';

const ctx = (over: Partial<ForwardContext> = {}): ForwardContext => ({
  routingHeader: 'x-switchyard-env', env: 'feat1', clientIp: '10.0.0.7', proto: 'http', host: 'shop.localhost:8080', edge: true, ...over,
});

/** Flat `[name, value, …]` → lower-case name → every value, in order. */
function multimap(flat: readonly string[]): Map<string, string[]> {
  expect(flat.length % 2).toBe(0);
  const m = new Map<string, string[]>();
  for (let i = 0; i < flat.length; i += 2) {
    const k = flat[i]!.toLowerCase();
    m.set(k, [...(m.get(k) ?? []), flat[i + 1]!]);
  }
  return m;
}

function forward(raw: string[], over: Partial<ForwardContext> = {}) {
  const r = forwardRequestHeaders(raw, ctx(over));
  return { ...r, h: multimap(r.headers) };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('forwardRequestHeaders: hop-by-hop', () => {
  test('standard hop-by-hop fields are removed; end-to-end fields are kept with their values', () => {
    const { h } = forward([
      'Host', 'shop.localhost:8080',
      'Connection', 'keep-alive',
      'Keep-Alive', 'timeout=5',
      'Proxy-Connection', 'keep-alive',
      'TE', 'trailers',
      'Trailer', 'x-checksum',
      'Transfer-Encoding', 'chunked',
      'Upgrade', 'h2c',
      'Proxy-Authorization', 'Basic Zm9vOmJhcg==',
      'Accept', 'text/html',
      'Content-Type', 'text/plain',
      'Authorization', 'Bearer t',
      'Cookie', 'a=1',
      'Cookie', 'b=2',
    ]);
    for (const k of ['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'proxy-authorization']) {
      expect(h.has(k), k).toBe(false);
    }
    expect(h.get('host')).toEqual(['shop.localhost:8080']); // Host passed through unchanged
    expect(h.get('accept')).toEqual(['text/html']);
    expect(h.get('content-type')).toEqual(['text/plain']);
    expect(h.get('authorization')).toEqual(['Bearer t']);
    expect(h.get('cookie')).toEqual(['a=1', 'b=2']);
  });

  test('fields named in Connection (any case, several Connection fields, OWS) are removed', () => {
    const { h } = forward([
      'Connection', 'keep-alive, X-Hop-One',
      'connection', ' x-hop-two ,close',
      'X-Hop-One', '1',
      'x-HOP-two', '2',
      'X-Hop-Three', 'kept',
    ]);
    expect(h.has('x-hop-one')).toBe(false);
    expect(h.has('x-hop-two')).toBe(false);
    expect(h.get('x-hop-three')).toEqual(['kept']);
    expect(h.has('connection')).toBe(false);
  });

  test('Connection never removes Content-Length or Host (the body would go on unframed)', () => {
    const { h } = forward(['Host', 'a.localhost', 'Connection', 'content-length, host', 'Content-Length', '3']);
    expect(h.get('content-length')).toEqual(['3']);
    expect(h.get('host')).toEqual(['a.localhost']);
  });

  test("a trace the router started replaces the client's traceparent and tracestate, even when Connection names them", () => {
    const tp = '00-11111111111111111111111111111111-2222222222222222-01';
    const { h } = forward(['Connection', 'traceparent, tracestate', 'traceparent', '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', 'tracestate', 'a=b'], { traceparent: tp });
    expect(h.get('traceparent')).toEqual([tp]);
    expect(h.has('tracestate')).toBe(false);
  });

  test('Upgrade and Connection: upgrade are kept (once) when ctx.upgrade', () => {
    const { h } = forward([
      'Connection', 'keep-alive, Upgrade',
      'Upgrade', 'websocket',
      'Sec-WebSocket-Key', 'dGhlIHNhbXBsZSBub25jZQ==',
      'Sec-WebSocket-Version', '13',
    ], { upgrade: true });
    expect(h.get('upgrade')).toEqual(['websocket']);
    expect(h.get('connection')).toEqual(['upgrade']);
    expect(h.get('sec-websocket-key')).toEqual(['dGhlIHNhbXBsZSBub25jZQ==']);
    expect(h.get('sec-websocket-version')).toEqual(['13']);
  });

  test('without ctx.upgrade an Upgrade request is forwarded without Upgrade/Connection', () => {
    const { h } = forward(['Connection', 'Upgrade', 'Upgrade', 'websocket']);
    expect(h.has('upgrade')).toBe(false);
    expect(h.has('connection')).toBe(false);
  });
});

describe('forwardRequestHeaders: X-Forwarded-* and Forwarded', () => {
  const spoofed = [
    'X-Forwarded-For', '1.2.3.4',
    'x-forwarded-for', '5.6.7.8',
    'X-Forwarded-Host', 'evil.example',
    'X-Forwarded-Proto', 'https',
    'X-Forwarded-Port', '443',
    'Forwarded', 'for=1.2.3.4;proto=https',
    'X-Real-IP', '1.2.3.4',
  ];

  test('at the edge, inbound forwarding fields are dropped and set fresh, each exactly once', () => {
    const { h } = forward(['Host', 'shop.localhost:8080', ...spoofed]);
    expect(h.get('x-forwarded-for')).toEqual(['10.0.0.7']);
    expect(h.get('x-forwarded-host')).toEqual(['shop.localhost:8080']);
    expect(h.get('x-forwarded-proto')).toEqual(['http']);
    expect(h.get('forwarded')).toEqual(['for=10.0.0.7;proto=http;host="shop.localhost:8080"']);
    expect(h.has('x-forwarded-port')).toBe(false);
    expect(h.has('x-real-ip')).toBe(false);
  });

  test('an IPv6 client is bracketed and quoted in Forwarded (RFC 7239 §6), bare in X-Forwarded-For', () => {
    const { h } = forward([], { clientIp: '::1' });
    expect(h.get('forwarded')).toEqual(['for="[::1]";proto=http;host="shop.localhost:8080"']);
    expect(h.get('x-forwarded-for')).toEqual(['::1']);
    const mapped = forward([], { clientIp: '::ffff:127.0.0.1', proto: 'https' }).h;
    expect(mapped.get('forwarded')).toEqual(['for="[::ffff:127.0.0.1]";proto=https;host="shop.localhost:8080"']);
    expect(mapped.get('x-forwarded-proto')).toEqual(['https']);
  });

  test('without a Host, no X-Forwarded-Host and no host= in Forwarded', () => {
    const { h } = forward(['X-Forwarded-Host', 'evil.example'], { host: undefined });
    expect(h.has('x-forwarded-host')).toBe(false);
    expect(h.get('forwarded')).toEqual(['for=10.0.0.7;proto=http']);
  });

  test('on an internal hop, forwarding fields are passed on as received and none are added', () => {
    const { h } = forward(spoofed, { edge: false, clientIp: '127.0.0.1' });
    expect(h.get('x-forwarded-for')).toEqual(['1.2.3.4', '5.6.7.8']);
    expect(h.get('x-forwarded-host')).toEqual(['evil.example']);
    expect(h.get('x-forwarded-proto')).toEqual(['https']);
    expect(h.get('forwarded')).toEqual(['for=1.2.3.4;proto=https']);
  });
});

describe('forwardRequestHeaders: request id', () => {
  test('a valid inbound x-request-id is kept, once, and returned', () => {
    const { h, requestId } = forward(['X-Request-Id', 'abc-123_XYZ.~!']);
    expect(requestId).toBe('abc-123_XYZ.~!');
    expect(h.get('x-request-id')).toEqual(['abc-123_XYZ.~!']);
  });

  test('a 128-byte id is valid', () => {
    const id = 'a'.repeat(128);
    expect(forward(['x-request-id', id]).requestId).toBe(id);
  });

  test('absent → a fresh UUID each time', () => {
    const a = forward(['Accept', '*/*']);
    const b = forward(['Accept', '*/*']);
    expect(a.requestId).toMatch(UUID);
    expect(b.requestId).toMatch(UUID);
    expect(a.requestId).not.toBe(b.requestId);
    expect(a.h.get('x-request-id')).toEqual([a.requestId]);
  });

  test.each([
    ['empty', ''],
    ['with a space', 'abc def'],
    ['too long (129)', 'a'.repeat(129)],
    ['non-ASCII', 'réq-1'],
    ['control character', 'abc\u0001'],
  ])('invalid (%s) → replaced by a fresh UUID, the invalid one not forwarded', (_name, bad) => {
    const { h, requestId } = forward(['X-Request-Id', bad]);
    expect(requestId).toMatch(UUID);
    expect(h.get('x-request-id')).toEqual([requestId]);
  });

  test('duplicated ids: one x-request-id goes upstream', () => {
    const { h, requestId } = forward(['X-Request-Id', 'first', 'x-request-id', 'second']);
    expect(requestId).toBe('first');
    expect(h.get('x-request-id')).toEqual(['first']);
  });
});

describe('forwardRequestHeaders: routing header and baggage', () => {
  test('the routing header is replaced (any case, duplicated), never duplicated', () => {
    const { h } = forward(['X-Switchyard-Env', 'feat2', 'x-switchyard-env', 'bogus', 'Accept', '*/*'], { env: 'feat1' });
    expect(h.get('x-switchyard-env')).toEqual(['feat1']);
  });

  test('the routing header is set when absent; a custom header name is honoured', () => {
    const { h } = forward(['X-Switchyard-Env', 'feat2'], { routingHeader: 'x-env', env: 'pr7' });
    expect(h.get('x-env')).toEqual(['pr7']);
    // another table's header name is just an end-to-end field here
    expect(h.get('x-switchyard-env')).toEqual(['feat2']);
  });

  test('no inbound baggage → baggage with just the routing member', () => {
    expect(forward([]).h.get('baggage')).toEqual(['x-switchyard-env=feat1']);
  });

  test('baggage: the member is replaced in place, other members (and properties) kept, one field', () => {
    const { h } = forward([
      'baggage', 'userId=alice, x-switchyard-env=feat2;ttl=30',
      'Baggage', 'tenant=acme;p=1',
    ]);
    const b = h.get('baggage');
    expect(b).toHaveLength(1);
    const members = b![0]!.split(',').map((s) => s.trim());
    expect(members).toEqual(['userId=alice', 'x-switchyard-env=feat1;ttl=30', 'tenant=acme;p=1']);
  });

  test('baggage without the member gets it appended; duplicated members collapse to one', () => {
    expect(forward(['baggage', 'a=1,b=2']).h.get('baggage')).toEqual(['a=1,b=2,x-switchyard-env=feat1']);
    const dup = forward(['baggage', 'x-switchyard-env=feat2,a=1,x-switchyard-env=nope']).h.get('baggage')![0]!;
    expect(dup.split(',').filter((m) => m.startsWith('x-switchyard-env='))).toEqual(['x-switchyard-env=feat1']);
    expect(dup.split(',')).toContain('a=1');
  });

  test('a member whose key merely starts with the header name is another member', () => {
    expect(forward(['baggage', 'x-switchyard-env-old=feat2']).h.get('baggage')).toEqual(['x-switchyard-env-old=feat2,x-switchyard-env=feat1']);
  });
});

describe('forwardRequestHeaders: Expect', () => {
  test('Expect is not forwarded (the router answers 100-continue to its client itself)', () => {
    const { h } = forward(['Expect', '100-continue', 'Content-Length', '3']);
    expect(h.has('expect')).toBe(false);
    expect(h.get('content-length')).toEqual(['3']);
  });
});

