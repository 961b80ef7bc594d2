/**
 * The proxy over real sockets: streaming bodies, Expect, SSE, WebSocket-style upgrades,
 * upstream failures (connect, timeout), retries, load spreading and snapshot swaps.
 */
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { Router, type RouterOptions } from '../../src/router/router.js';
import { deadPort, json, oneServiceSnapshot, send, startUpstream, type HttpResult as Res, type Upstream } from './helpers.js';

const MB = 1024 * 1024;

const routers: Router[] = [];
const upstreams: Upstream[] = [];
const sockets: Socket[] = [];
const cleanups: (() => void)[] = [];

afterEach(async () => {
  vi.restoreAllMocks();
  for (const c of cleanups.splice(0)) c();
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(routers.splice(0).map((r) => r.close(200)));
  await Promise.all(upstreams.splice(0).map((u) => u.close()));
});

async function upstream(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Upstream> {
  const u = await startUpstream(handler);
  upstreams.push(u);
  return u;
}

/** A router serving one service `app` at `/` from the given endpoint ports; resolves with its edge port. */
async function routerFor(ports: number[], options?: RouterOptions): Promise<{ router: Router; port: number }> {
  const router = new Router(options);
  routers.push(router);
  router.setSnapshot(oneServiceSnapshot(1, ports));
  return { router, port: await router.listenEdge(0) };
}

const sha256 = (b: Buffer | Buffer[]) => { const h = createHash('sha256'); for (const c of Array.isArray(b) ? b : [b]) h.update(c); return h.digest('hex'); };

/** Upstream that hashes the request body and answers what it got. */
function hashingUpstream() {
  return upstream((req, res) => {
    const h = createHash('sha256');
    let bytes = 0;
    req.on('data', (c: Buffer) => { bytes += c.length; h.update(c); });
    req.on('end', () => {
      const body = JSON.stringify({ bytes, sha256: h.digest('hex'), contentLength: req.headers['content-length'] ?? null, te: req.headers['transfer-encoding'] ?? null, headers: req.headers });
      res.writeHead(200, { 'content-type': 'application/json' }).end(body);
    });
  });
}

/** Upstream that names itself. */
function namedUpstream(name: string) {
  return upstream((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ name, method: req.method, requestId: req.headers['x-request-id'] })));
  });
}

function chunksOf(buf: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) out.push(buf.subarray(i, i + size));
  return out;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([p, new Promise<T>((_, reject) => { t = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms); })]).finally(() => clearTimeout(t));
}

describe('streaming bodies', () => {
  test('a 50 MB request body with content-length arrives intact', async () => {
    const u = await hashingUpstream();
    const { port } = await routerFor([u.port]);
    const payload = randomBytes(50 * MB);
    const r = await send(port, { method: 'POST', headers: { 'content-length': String(payload.length) }, body: Readable.from(chunksOf(payload, MB)) });
    expect(r.status).toBe(200);
    const got = json(r);
    expect(got.bytes).toBe(50 * MB);
    expect(got.sha256).toBe(sha256(payload));
    expect(got.contentLength).toBe(String(50 * MB));
  });

  test('a 50 MB response body streams back intact', async () => {
    const block = randomBytes(MB);
    const blocks = 50;
    const u = await upstream((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      void pipeline(Readable.from((function* () { for (let i = 0; i < blocks; i++) yield block; })()), res).catch(() => undefined);
    });
    const { port } = await routerFor([u.port]);
    const h = createHash('sha256');
    let bytes = 0;
    const status = await new Promise<number>((resolve, reject) => {
      httpRequest({ host: '127.0.0.1', port, path: '/big', agent: false, headers: { host: 'app.localhost' } }, (res) => {
        res.on('data', (c: Buffer) => { bytes += c.length; h.update(c); });
        res.on('end', () => resolve(res.statusCode!));
        res.on('error', reject);
      }).on('error', reject).end();
    });
    expect(status).toBe(200);
    expect(bytes).toBe(blocks * MB);
    expect(h.digest('hex')).toBe(sha256(Array.from({ length: blocks }, () => block)));
  });

  test('a chunked request body without content-length arrives intact (and chunked)', async () => {
    const u = await hashingUpstream();
    const { port } = await routerFor([u.port]);
    const parts = Array.from({ length: 40 }, (_, i) => randomBytes(1000 + i * 37));
    const r = await send(port, { method: 'PUT', body: Readable.from(parts) });
    expect(r.status).toBe(200);
    const got = json(r);
    expect(got.contentLength).toBeNull();
    expect(got.te).toBe('chunked');
    expect(got.bytes).toBe(parts.reduce((n, p) => n + p.length, 0));
    expect(got.sha256).toBe(sha256(parts));
  });

  test('Expect: 100-continue: the client gets 100 Continue, then the body goes through', async () => {
    const u = await hashingUpstream();
    const { port } = await routerFor([u.port]);
    const body = Buffer.from('hello after continue');
    let continued = false;
    const r = await new Promise<Res>((resolve, reject) => {
      const req = httpRequest({
        host: '127.0.0.1', port, method: 'POST', path: '/upload', agent: false,
        headers: { host: 'app.localhost', accept: 'application/json', expect: '100-continue', 'content-length': String(body.length) },
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      });
      req.on('continue', () => { continued = true; req.end(body); });
      req.on('error', reject);
      req.setTimeout(15_000, () => req.destroy(new Error('no response within 15 s')));
    });
    expect(continued).toBe(true);
    expect(r.status, r.body.toString()).toBe(200);
    expect(json(r).bytes).toBe(body.length);
    expect(json(r).sha256).toBe(sha256(body));
  });

  test('an SSE response delivers its first event before the upstream ends the stream', async () => {
    let release!: () => void;
    const released = new Promise<void>((r) => { release = r; });
    let upstreamEnded = false;
    const u = await upstream((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.write('event: tick\ndata: first\n\n');
      void released.then(() => { res.end('data: second\n\n'); upstreamEnded = true; });
    });
    cleanups.push(release);
    const { port } = await routerFor([u.port]);
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      httpRequest({ host: '127.0.0.1', port, path: '/events', agent: false, headers: { host: 'app.localhost', accept: 'text/event-stream' } }, resolve)
        .on('error', reject).end();
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/event-stream');
    let text = '';
    res.setEncoding('utf8');
    await withTimeout(new Promise<void>((resolve) => {
      const onData = (c: string) => { text += c; if (text.includes('\n\n')) { res.off('data', onData); resolve(); } };
      res.on('data', onData);
    }), 5_000, 'first SSE event (buffered by the proxy?)');
    expect(text).toBe('event: tick\ndata: first\n\n');
    expect(upstreamEnded).toBe(false);
    const rest = new Promise<string>((resolve) => { let s = ''; res.on('data', (c: string) => { s += c; }); res.on('end', () => resolve(s)); });
    release();
    expect(await withTimeout(rest, 5_000, 'end of SSE stream')).toBe('data: second\n\n');
  });
});

describe('WebSocket-style upgrade', () => {
  test('101 from the upstream is relayed and bytes flow both ways', async () => {
    const u = await upstream((_req, res) => { res.writeHead(426).end(); });
    const upstreamSockets: Socket[] = [];
    cleanups.push(() => { for (const s of upstreamSockets) s.destroy(); });
    let upgradeHeaders: IncomingHttpHeaders | undefined;
    let upgradePath: string | undefined;
    u.server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
      upstreamSockets.push(socket);
      upgradeHeaders = req.headers;
      upgradePath = req.url;
      socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n');
      socket.write('hello-from-upstream;');
      if (head.length) socket.write(Buffer.concat([Buffer.from('echo:'), head]));
      socket.on('data', (d: Buffer) => socket.write(Buffer.concat([Buffer.from('echo:'), d])));
    });
    const { port } = await routerFor([u.port]);

    const client = connect(port, '127.0.0.1');
    sockets.push(client);
    await once(client, 'connect');
    client.write([
      'GET /socket?room=1 HTTP/1.1', 'Host: app.localhost', 'Connection: Upgrade', 'Upgrade: websocket',
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Version: 13', 'X-Switchyard-Env: bogus', '', '',
    ].join('\r\n'));
    let received = Buffer.alloc(0);
    client.on('data', (d: Buffer) => { received = Buffer.concat([received, d]); });
    const until = (pred: () => boolean, what: string) => withTimeout(new Promise<void>((resolve) => {
      const check = () => { if (pred()) { client.off('data', check); resolve(); } };
      client.on('data', check); check();
    }), 5_000, what);

    await until(() => received.includes('hello-from-upstream;'), '101 and the first upstream bytes');
    const text = received.toString('latin1');
    expect(text.startsWith('HTTP/1.1 101 Switching Protocols\r\n')).toBe(true);
    expect(text.toLowerCase()).toContain('upgrade: websocket');
    expect(upgradePath).toBe('/socket?room=1');
    expect(upgradeHeaders?.upgrade).toBe('websocket');
    expect(upgradeHeaders?.connection?.toLowerCase()).toBe('upgrade');
    expect(upgradeHeaders?.['sec-websocket-key']).toBe('dGhlIHNhbXBsZSBub25jZQ==');
    expect(upgradeHeaders?.['x-switchyard-env']).toBe('base'); // unknown env → base, header replaced
    expect(upgradeHeaders?.['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);

    const start = received.length;
    const binary = randomBytes(64 * 1024);
    client.write('ping');
    await until(() => received.subarray(start).includes('echo:ping'), 'echo of ping');
    const start2 = received.length;
    client.write(binary);
    // the upstream echoes each chunk it reads with an "echo:" prefix; strip them to compare
    await until(() => {
      const s = received.subarray(start2).toString('latin1').split('echo:').join('');
      return s.length >= binary.length;
    }, 'echo of 64 KiB');
    const echoed = Buffer.from(received.subarray(start2).toString('latin1').split('echo:').join(''), 'latin1');
    expect(echoed.length).toBe(binary.length);
    expect(sha256(echoed)).toBe(sha256(binary));
  });
});

describe('upstream failures', () => {
  test('connection refused (single endpoint, GET) → 502 SWY_UPSTREAM_CONNECT naming service and env', async () => {
    const { port } = await routerFor([await deadPort()]);
    const r = await send(port, { path: '/x' });
    expect(r.status).toBe(502);
    expect(r.headers['content-type']).toBe('application/problem+json');
    const p = json(r);
    expect(p).toMatchObject({ status: 502, code: 'SWY_UPSTREAM_CONNECT', service: 'app', env: 'base', upstreamEnv: 'base', endpoint: 'base/app/0', cause: 'ECONNREFUSED' });
    expect(p.detail).toContain('"app"');
    expect(r.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  test('connection refused on a POST with a body → 502 SWY_UPSTREAM_CONNECT', async () => {
    const { port } = await routerFor([await deadPort()]);
    const r = await send(port, { method: 'POST', path: '/x', body: 'payload' });
    expect(r.status).toBe(502);
    expect(json(r)).toMatchObject({ code: 'SWY_UPSTREAM_CONNECT', service: 'app', env: 'base' });
  });

  test('an upstream that never sends its head → 504 after headersMs', async () => {
    const held: ServerResponse[] = [];
    const u = await upstream((req, res) => { req.resume(); held.push(res); });
    const { port } = await routerFor([u.port], { timeouts: { connectMs: 1000, headersMs: 300, bodyMs: 0, keepAliveMs: 1000 } });
    const t0 = Date.now();
    const r = await send(port, { path: '/slow' });
    const elapsed = Date.now() - t0;
    expect(r.status).toBe(504);
    expect(json(r)).toMatchObject({ code: 'SWY_UPSTREAM_TIMEOUT', service: 'app', env: 'base', cause: 'SWY_HEADERS_TIMEOUT' });
    expect(held).toHaveLength(1); // it did reach the upstream, once (a timeout is not retried)
    expect(elapsed).toBeGreaterThanOrEqual(250);
    expect(elapsed).toBeLessThan(3_000);
  });

  test('a POST whose upstream never answers → 504 too (the client is not left hanging)', async () => {
    const held: ServerResponse[] = [];
    const u = await upstream((req, res) => { req.resume(); held.push(res); });
    const { port } = await routerFor([u.port], { timeouts: { connectMs: 1000, headersMs: 300, bodyMs: 0, keepAliveMs: 1000 } });
    const r = await send(port, { method: 'POST', path: '/slow', body: 'payload' });
    expect(r.status).toBe(504);
    expect(json(r)).toMatchObject({ code: 'SWY_UPSTREAM_TIMEOUT', service: 'app', env: 'base' });
    expect(held).toHaveLength(1);
  });
});

describe('retries', () => {
  // With Math.random() = 0 the power-of-two-choices pick starts at endpoints[0]: the dead one.
  test('an idempotent GET is retried on another endpoint when the first refuses the connection', async () => {
    const live = await namedUpstream('live');
    const { port } = await routerFor([await deadPort(), live.port]);
    vi.spyOn(Math, 'random').mockReturnValue(0);
    const r = await send(port, { path: '/get' });
    expect(r.status, r.body.toString()).toBe(200);
    expect(json(r).name).toBe('live');
    expect(live.hits).toBe(1);
  });

  test('GETs against one dead and one live endpoint all succeed (whatever the pick)', async () => {
    const live = await namedUpstream('live');
    const { port } = await routerFor([await deadPort(), live.port]);
    for (let i = 0; i < 20; i++) expect((await send(port, { path: `/get/${i}` })).status).toBe(200);
    expect(live.hits).toBe(20);
  });

  test('a POST with a body is not retried: 502, and the live endpoint never sees it', async () => {
    const live = await namedUpstream('live');
    const { port } = await routerFor([await deadPort(), live.port]);
    vi.spyOn(Math, 'random').mockReturnValue(0);
    const r = await send(port, { method: 'POST', path: '/post', body: 'not twice' });
    expect(r.status).toBe(502);
    expect(json(r)).toMatchObject({ code: 'SWY_UPSTREAM_CONNECT', endpoint: 'base/app/0' });
    expect(live.hits).toBe(0);
  });
});

describe('request id, load spreading, snapshot swaps', () => {
  test('x-request-id is on every response: generated when absent, kept when valid, replaced when invalid', async () => {
    const u = await namedUpstream('a');
    const { port } = await routerFor([u.port]);
    const gen = await send(port);
    expect(gen.headers['x-request-id']).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(json(gen).requestId).toBe(gen.headers['x-request-id']);
    const kept = await send(port, { headers: { 'x-request-id': 'trace-42' } });
    expect(kept.headers['x-request-id']).toBe('trace-42');
    expect(json(kept).requestId).toBe('trace-42');
    const bad = await send(port, { headers: { 'x-request-id': 'x'.repeat(200) } });
    expect(bad.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(json(bad).requestId).toBe(bad.headers['x-request-id']);
  });

  test('300 requests are spread across 3 endpoints', async () => {
    const us = await Promise.all(['a', 'b', 'c'].map(namedUpstream));
    const { port } = await routerFor(us.map((u) => u.port));
    const byName: Record<string, number> = { a: 0, b: 0, c: 0 };
    for (let batch = 0; batch < 30; batch++) {
      const rs = await Promise.all(Array.from({ length: 10 }, () => send(port)));
      for (const r of rs) { expect(r.status).toBe(200); byName[json(r).name as string]!++; }
    }
    expect(byName.a! + byName.b! + byName.c!).toBe(300);
    expect(us.map((u) => u.hits)).toEqual([byName.a, byName.b, byName.c]);
    // Binomial(300, 1/3): 100 ± 8; 40 is > 7 standard deviations below.
    for (const n of Object.values(byName)) expect(n).toBeGreaterThanOrEqual(40);
  });

  test('setSnapshot mid-flight: the in-flight request finishes on its old target, new ones go to the new one', async () => {
    let releaseOld!: () => void;
    const oldReleased = new Promise<void>((r) => { releaseOld = r; });
    cleanups.push(releaseOld);
    let oldGotIt!: () => void;
    const oldReceived = new Promise<void>((r) => { oldGotIt = r; });
    const oldU = await upstream((req, res) => {
      req.resume();
      oldGotIt();
      void oldReleased.then(() => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ name: 'old' })));
    });
    const newU = await namedUpstream('new');
    const { router, port } = await routerFor([oldU.port]);

    const inflight = send(port, { path: '/slow' });
    await withTimeout(oldReceived, 5_000, 'old upstream receiving the request');
    router.setSnapshot(oneServiceSnapshot(2, [newU.port]));
    expect(router.version).toBe(2);

    const fresh = await send(port, { path: '/fresh' });
    expect(fresh.status).toBe(200);
    expect(json(fresh).name).toBe('new');

    releaseOld();
    const old = await inflight;
    expect(old.status).toBe(200);
    expect(json(old).name).toBe('old');
    expect(oldU.hits).toBe(1);
    expect(newU.hits).toBe(1);

    // and later requests keep going to the new target
    expect(json(await send(port)).name).toBe('new');
    expect(oldU.hits).toBe(1);
  });

  test('an older snapshot version is ignored', async () => {
    const a = await namedUpstream('a');
    const b = await namedUpstream('b');
    const { router, port } = await routerFor([a.port]);
    router.setSnapshot(oneServiceSnapshot(3, [b.port]));
    router.setSnapshot(oneServiceSnapshot(2, [a.port]));
    expect(router.version).toBe(3);
    expect(json(await send(port)).name).toBe('b');
  });
});

describe('client aborts', () => {
  test('a client that goes away mid-response does not skew load balancing afterwards', async () => {
    // endpoint 0 streams slowly (the client aborts it); endpoint 1 is normal.
    const slowSockets: Socket[] = [];
    const slow = await upstream((req, res) => {
      if (req.url === '/stream') {
        slowSockets.push(res.socket as Socket);
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('partial');
        return; // never ends
      }
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ name: 'slow' }));
    });
    cleanups.push(() => { for (const s of slowSockets) s.destroy(); });
    const other = await namedUpstream('other');
    const { port } = await routerFor([slow.port, other.port]);

    const spy = vi.spyOn(Math, 'random').mockReturnValue(0); // first pick: endpoint 0
    await new Promise<void>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, path: '/stream', agent: false, headers: { host: 'app.localhost' } }, (res) => {
        res.once('data', () => { req.destroy(); resolve(); });
      });
      req.on('error', () => undefined);
      setTimeout(() => reject(new Error('no data from /stream')), 5_000).unref();
      req.end();
    });
    spy.mockRestore();
    await new Promise((r) => setTimeout(r, 200)); // let the router notice the abort

    // With both endpoints idle, picks are uniform: 40 sequential requests hit both.
    const names: Record<string, number> = { slow: 0, other: 0 };
    for (let i = 0; i < 40; i++) names[json(await send(port, { path: '/n' })).name as string]!++;
    expect(names.other).toBeGreaterThan(0);
    expect(names.slow).toBeGreaterThan(0);
  });
});
