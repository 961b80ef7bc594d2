/**
 * Resilience of the proxy over real sockets: passive outlier ejection (and return), the
 * last-endpoint rule, per-service timeouts from the spec, retries and the retry budget,
 * 499 on client abort, and request hygiene (CL+TE, oversize bodies, oversize headers).
 *
 * Tests that need the per-request outcome (retries, 499) drive `proxyExchange` from a tiny
 * node:http server of their own (the Router does not expose outcomes); the rest go through
 * a real Router.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { refuseRequest, resolveLimits } from '../../src/router/hygiene.js';
import { mayEject, nextEjectionMs, OutlierState, RetryBudget, DEFAULT_OUTLIER } from '../../src/router/outlier.js';
import type { ProxyOutcome } from '../../src/router/proxy.js';
import { proxyExchange } from '../../src/router/http1/proxy.js';
import { Http1Listener } from '../../src/router/http1/listener.js';
import { DEFAULT_HTTP1_LIMITS } from '../../src/router/http1/server.js';
import { Router, type RouterOptions } from '../../src/router/router.js';
import { UpstreamPools, type UpstreamTimeouts } from '../../src/router/upstreams.js';
import { compileSnapshot, resolveEdge } from '../../src/routing/index.js';
import type { RouteTable, ServiceRoute, Snapshot } from '../../src/routing/types.js';
import { SpecSchema, type AppSpec } from '../../src/spec/schema.js';
import { openPgliteDriver, readRouteTable, Store } from '../../src/store/index.js';
import { closeServer, deadPort, endpoint, json, oneServiceSnapshot, oneServiceTable, parseResponse, problemOf, rawRequest, send, startUpstream, type HttpResult as Res, type RawResponse, type Upstream } from './helpers.js';

const routers: Router[] = [];
const upstreams: Upstream[] = [];
const servers: Server[] = [];
const poolsToClose: UpstreamPools[] = [];
const listeners: Http1Listener[] = [];
const cleanups: (() => void | Promise<void>)[] = [];

afterEach(async () => {
  vi.restoreAllMocks();
  for (const c of cleanups.splice(0)) await c();
  await Promise.all(routers.splice(0).map((r) => r.close(200)));
  await Promise.all(servers.splice(0).map((s) => closeServer(s)));
  await Promise.all(listeners.splice(0).map((l) => l.close(200)));
  await Promise.all(poolsToClose.splice(0).map((p) => p.close()));
  await Promise.all(upstreams.splice(0).map((u) => u.close()));
});

async function upstream(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Upstream> {
  const u = await startUpstream(handler);
  upstreams.push(u);
  return u;
}

/** Upstream answering `status` with its name. */
function named(name: string, status = 200) {
  return upstream((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ name })));
  });
}

/** Listens on a given port (to bring a "dead" endpoint back). */
async function upstreamOn(port: number, handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Upstream> {
  const u = { hits: 0, port } as Upstream;
  const server = createServer((req, res) => { u.hits++; handler(req, res); });
  await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(port, '127.0.0.1', () => resolve()); });
  u.server = server;
  u.close = () => closeServer(server);
  upstreams.push(u);
  return u;
}

async function routerWith(snap: Snapshot, options?: RouterOptions): Promise<{ router: Router; port: number }> {
  const router = new Router(options);
  routers.push(router);
  router.setSnapshot(snap);
  return { router, port: await router.listenEdge(0) };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(pred: () => boolean, what: string, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/**
 * A node:http server that resolves each request against `snap` and proxies it with
 * `proxyExchange` over `pools` behind an HTTP/1.1 engine listener, collecting the outcomes.
 */
async function proxyHarness(snap: Snapshot, pools: UpstreamPools, maxBodyBytes?: number): Promise<{ port: number; outcomes: ProxyOutcome[] }> {
  poolsToClose.push(pools);
  const outcomes: ProxyOutcome[] = [];
  // The router's own HTTP/1.1 engine in front (a listener and the proxy, without the rest of the Router).
  const listener = new Http1Listener((ex) => {
    const d = resolveEdge(snap, { host: ex.head.host, header: undefined, baggage: undefined, path: ex.target });
    if (d.kind !== 'upstream') { ex.respond(500, 'Internal Server Error', '', d.kind); return; }
    proxyExchange(pools, ex, d, {
      edge: true, clientIp: '127.0.0.1', proto: 'http', path: ex.target, routingHeader: snap.routingHeader, responseHeaders: undefined,
      ...(maxBodyBytes !== undefined ? { maxBodyBytes } : {}),
    }, (o) => outcomes.push(o));
  }, { limits: DEFAULT_HTTP1_LIMITS });
  listeners.push(listener);
  return { port: await listener.listen(0, '127.0.0.1'), outcomes };
}

/** A one-service snapshot whose service carries `extra` (timeouts, retries). */
function snapshotWith(ports: number[], extra: Partial<ServiceRoute>): Snapshot {
  const t = oneServiceTable(1, ports.map((p, i) => endpoint(`base/app/${i}`, p)));
  return compileSnapshot({ ...t, services: [{ ...t.services[0]!, ...extra }] });
}

// ---------------------------------------------------------------------------------------------

describe('passive outlier ejection', () => {
  test('5 consecutive 5xx eject an endpoint; it returns by itself after the ejection time, and a repeat ejection lasts longer', async () => {
    const BASE = 1_000;
    const bad = await named('bad', 500);
    const good = await named('good');
    const { port } = await routerWith(oneServiceSnapshot(1, [bad.port, good.port]), { resilience: { outlier: { baseEjectionMs: BASE } } });
    vi.spyOn(Math, 'random').mockReturnValue(0); // power of two choices: endpoints[0] (bad) whenever it is a candidate

    for (let i = 0; i < 5; i++) expect((await send(port)).status).toBe(500); // a 5xx answer is passed on, not retried
    const ejectedAt = Date.now();
    expect(bad.hits).toBe(5);
    // ejected: everything goes to the good one
    for (let i = 0; i < 10; i++) expect(json(await send(port)).name).toBe('good');
    expect(Date.now() - ejectedAt).toBeLessThan(BASE); // (else the check above proved nothing)
    expect(bad.hits).toBe(5);

    await sleep(BASE + 200 - (Date.now() - ejectedAt)); // back in service
    expect((await send(port)).status).toBe(500);
    expect(bad.hits).toBe(6);
    // one failure after returning is not enough; four more (5 in a row) eject it again, now for 2 × BASE
    for (let i = 0; i < 4; i++) await send(port);
    const again = Date.now();
    expect(bad.hits).toBe(10);
    await sleep(BASE + 200); // the first ejection time has passed, the second has not
    const name = json(await send(port)).name;
    if (Date.now() - again < 2 * BASE) expect(name).toBe('good');
    expect(bad.hits).toBe(10);
    await sleep(2 * BASE + 300 - (Date.now() - again)); // back again
    expect((await send(port)).status).toBe(500);
    expect(bad.hits).toBe(11);
  });

  test('a refused connection ejects at once (the request is retried on the other endpoint); the endpoint returns when its time is up', async () => {
    const BASE = 1_000;
    const deadP = await deadPort();
    const good = await named('good');
    const { port } = await routerWith(oneServiceSnapshot(1, [deadP, good.port]), { resilience: { outlier: { baseEjectionMs: BASE } } });
    vi.spyOn(Math, 'random').mockReturnValue(0);

    const first = await send(port);
    const ejectedAt = Date.now();
    expect(first.status, first.body.toString()).toBe(200); // refused, ejected, retried on "good"
    expect(json(first).name).toBe('good');
    const revived = await upstreamOn(deadP, (req, res) => { req.resume(); res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ name: 'revived' })); });
    for (let i = 0; i < 5; i++) expect(json(await send(port)).name).toBe('good'); // still ejected, though listening again
    expect(Date.now() - ejectedAt).toBeLessThan(BASE);
    expect(revived.hits).toBe(0);
    await sleep(BASE + 200 - (Date.now() - ejectedAt));
    expect(json(await send(port)).name).toBe('revived');
    expect(revived.hits).toBe(1);
  });

  test('the last endpoint of an upstream is never ejected', async () => {
    const only = await named('only', 503);
    const { port } = await routerWith(oneServiceSnapshot(1, [only.port]), { resilience: { outlier: { baseEjectionMs: 60_000 } } });
    for (let i = 0; i < 20; i++) expect((await send(port)).status).toBe(503);
    expect(only.hits).toBe(20); // all reached it: never "no healthy endpoint"

    // the only endpoint refusing connections: it stays in, and serves as soon as it is back
    const deadP = await deadPort();
    const { port: port2 } = await routerWith(oneServiceSnapshot(1, [deadP]), { resilience: { outlier: { baseEjectionMs: 60_000 } } });
    for (let i = 0; i < 3; i++) expect(problemOf(await rawRequest(port2, 'GET / HTTP/1.1\r\nHost: app.localhost\r\nAccept: application/json\r\nConnection: close'))).toMatchObject({ code: 'SWY_UPSTREAM_CONNECT' });
    await upstreamOn(deadP, (req, res) => { req.resume(); res.writeHead(200).end('back'); });
    expect((await send(port2)).status).toBe(200);
  });

  test('with two endpoints both failing, only one is ejected (max ejection percent); the other keeps the traffic', async () => {
    const a = await named('a', 500);
    const b = await named('b', 500);
    const pools = new UpstreamPools(undefined, { outlier: { baseEjectionMs: 60_000 } });
    const snap = oneServiceSnapshot(1, [a.port, b.port]);
    const { port } = await proxyHarness(snap, pools);
    for (let i = 0; i < 40; i++) expect((await send(port)).status).toBe(500);
    expect(a.hits + b.hits).toBe(40);
    const eps = snap.base.upstreams[0]!.endpoints;
    expect(pools.ejectedCount).toBe(1);
    expect(eps.filter((e) => pools.isEjected(e))).toHaveLength(1);
    // whichever was ejected got no request after that
    const survivor = pools.isEjected(eps[0]!) ? b : a;
    expect(survivor.hits).toBeGreaterThanOrEqual(40 - 5 - 4);
  });

  test('ejection state belongs to the endpoint origin and survives a snapshot swap', async () => {
    const bad = await named('bad', 500);
    const good = await named('good');
    const { router, port } = await routerWith(oneServiceSnapshot(1, [bad.port, good.port]), { resilience: { outlier: { baseEjectionMs: 60_000 } } });
    vi.spyOn(Math, 'random').mockReturnValue(0);
    for (let i = 0; i < 5; i++) await send(port);
    expect(bad.hits).toBe(5);
    // new snapshot, new (frozen) endpoint objects for the same origins, in the same order
    const other = await named('other');
    router.setSnapshot(compileSnapshot(oneServiceTable(2, [endpoint('base/app/0', bad.port), endpoint('base/app/1', good.port), endpoint('base/app/2', other.port)])));
    for (let i = 0; i < 10; i++) expect(json(await send(port)).name).not.toBe('bad');
    expect(bad.hits).toBe(5);
  });
});

describe('outlier and budget arithmetic', () => {
  test('ejection cap: never the last, always one of two, else the percentage', () => {
    expect(mayEject(1, 0, 100)).toBe(false);
    expect(mayEject(2, 0, 10)).toBe(true);
    expect(mayEject(2, 1, 100)).toBe(false);
    expect(mayEject(10, 4, 50)).toBe(true);
    expect(mayEject(10, 5, 50)).toBe(false);
    expect(mayEject(3, 1, 100)).toBe(true);
    expect(mayEject(3, 2, 100)).toBe(false);
  });

  test('ejection time grows per repeat, is capped, and decays while in service', () => {
    const o = { ...DEFAULT_OUTLIER, baseEjectionMs: 10_000, maxEjectionMs: 35_000 };
    const s = new OutlierState();
    expect(nextEjectionMs(s, o, 0)).toBe(10_000);
    s.returnedAt = 10_000;
    expect(nextEjectionMs(s, o, 10_001)).toBe(20_000);
    s.returnedAt = 30_000;
    expect(nextEjectionMs(s, o, 30_001)).toBe(30_000);
    s.returnedAt = 60_000;
    expect(nextEjectionMs(s, o, 60_001)).toBe(35_000); // capped
    s.returnedAt = 100_000;
    expect(nextEjectionMs(s, o, 100_000 + 25_000)).toBe(30_000); // 2 base periods in service: multiplier 4 → 2, then +1
  });

  test('retry budget: at most budgetPercent of recent requests, with a floor, over a sliding window', () => {
    const b = new RetryBudget(1_000, 3);
    let t = 5_000;
    let granted = 0;
    for (let i = 0; i < 100; i++) { b.request(t); if (b.tryRetry(20, t)) granted++; }
    expect(granted).toBe(20);
    t += 1_500; // next window: the previous one still counts
    b.request(t);
    expect(b.tryRetry(20, t)).toBe(false);
    t += 2_000; // both windows gone
    b.request(t);
    expect(b.tryRetry(20, t)).toBe(true); // floor
    expect(b.tryRetry(0, t)).toBe(false); // 0 % disables
  });
});

describe('retries and the retry budget', () => {
  test('100 requests with every endpoint refusing: retries stay within 20 % of the requests', async () => {
    const pools = new UpstreamPools();
    const { port, outcomes } = await proxyHarness(oneServiceSnapshot(1, [await deadPort(), await deadPort()]), pools);
    for (let batch = 0; batch < 10; batch++) {
      const rs = await Promise.all(Array.from({ length: 10 }, () => send(port)));
      for (const r of rs) expect(r.status).toBe(502);
    }
    await until(() => outcomes.length === 100, '100 outcomes');
    const retries = outcomes.reduce((n, o) => n + o.retries, 0);
    expect(retries).toBeGreaterThan(0);
    expect(retries).toBeLessThanOrEqual(20);
    expect(outcomes.every((o) => o.status === 502 && o.error === 'SWY_UPSTREAM_CONNECT')).toBe(true);
  });

  test('a service allowing a 100 % budget retries every request (the budget is per service)', async () => {
    const pools = new UpstreamPools();
    const { port, outcomes } = await proxyHarness(snapshotWith([await deadPort(), await deadPort()], { retries: { attempts: 1, budgetPercent: 100 } }), pools);
    for (let i = 0; i < 30; i++) expect((await send(port)).status).toBe(502);
    await until(() => outcomes.length === 30, '30 outcomes');
    expect(outcomes.reduce((n, o) => n + o.retries, 0)).toBe(30);
  });

  test('attempts: 0 disables retries', async () => {
    const live = await named('live');
    const pools = new UpstreamPools();
    const { port, outcomes } = await proxyHarness(snapshotWith([await deadPort(), live.port], { retries: { attempts: 0 } }), pools);
    vi.spyOn(Math, 'random').mockReturnValue(0);
    expect((await send(port)).status).toBe(502);
    await until(() => outcomes.length === 1, 'outcome');
    expect(outcomes[0]).toMatchObject({ status: 502, retries: 0, error: 'SWY_UPSTREAM_CONNECT', endpoint: 'base/app/0' });
    expect(live.hits).toBe(0);
  });

  test('a refused GET is retried on another endpoint and the outcome counts the retry', async () => {
    const live = await named('live');
    const pools = new UpstreamPools();
    const { port, outcomes } = await proxyHarness(oneServiceSnapshot(1, [await deadPort(), live.port]), pools);
    vi.spyOn(Math, 'random').mockReturnValue(0);
    const r = await send(port);
    expect(json(r).name).toBe('live');
    await until(() => outcomes.length === 1, 'outcome');
    expect(outcomes[0]).toMatchObject({ status: 200, retries: 1, endpoint: 'base/app/1', error: undefined });
    expect(outcomes[0]!.upstreamMs).toBeGreaterThanOrEqual(0);
  });

  test('a POST with a body is never retried, nor a POST without one', async () => {
    const live = await named('live');
    const pools = new UpstreamPools();
    const { port, outcomes } = await proxyHarness(oneServiceSnapshot(1, [await deadPort(), live.port]), pools);
    vi.spyOn(Math, 'random').mockReturnValue(0);
    const r = await send(port, { method: 'POST', body: 'charge the card once' });
    expect(r.status).toBe(502);
    expect(json(r)).toMatchObject({ code: 'SWY_UPSTREAM_CONNECT', endpoint: 'base/app/0', env: 'base', service: 'app', cause: 'ECONNREFUSED' });
    await until(() => outcomes.length === 1, 'outcome');
    expect(outcomes[0]).toMatchObject({ status: 502, retries: 0 });
    expect(live.hits).toBe(0);

    // (the dead endpoint is ejected now; a fresh pool set to see the first pick fail again)
    const pools2 = new UpstreamPools();
    const h2 = await proxyHarness(oneServiceSnapshot(1, [await deadPort(), live.port]), pools2);
    expect((await send(h2.port, { method: 'POST' })).status).toBe(502);
    expect(live.hits).toBe(0);
  });

  test('a PUT whose connection was refused is retried with its body intact (no byte of it had been sent)', async () => {
    let got = '';
    const live = await upstream((req, res) => {
      let s = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => { s += c; });
      req.on('end', () => { got = s; res.writeHead(200).end('stored'); });
    });
    const pools = new UpstreamPools();
    const { port, outcomes } = await proxyHarness(oneServiceSnapshot(1, [await deadPort(), live.port]), pools);
    vi.spyOn(Math, 'random').mockReturnValue(0);
    const body = 'x'.repeat(100_000);
    const r = await send(port, { method: 'PUT', body, headers: { 'content-length': String(body.length) } });
    expect(r.status).toBe(200);
    expect(got).toBe(body);
    await until(() => outcomes.length === 1, 'outcome');
    expect(outcomes[0]!.retries).toBe(1);
  });

  test('a timeout is not retried', async () => {
    const held: ServerResponse[] = [];
    const a = await upstream((req, res) => { req.resume(); held.push(res); });
    const b = await upstream((req, res) => { req.resume(); held.push(res); });
    cleanups.push(() => { for (const r of held) r.destroy(); });
    const pools = new UpstreamPools();
    const { port, outcomes } = await proxyHarness(snapshotWith([a.port, b.port], { timeouts: { headersMs: 150 } }), pools);
    const r = await send(port);
    expect(r.status).toBe(504);
    expect(a.hits + b.hits).toBe(1);
    await until(() => outcomes.length === 1, 'outcome');
    expect(outcomes[0]).toMatchObject({ status: 504, retries: 0, error: 'SWY_UPSTREAM_TIMEOUT' });
  });
});

describe('client aborts', () => {
  test('a client that goes away before the response head: outcome 499, and the upstream request is aborted', async () => {
    let upstreamSawClose = false;
    let gotIt!: () => void;
    const received = new Promise<void>((r) => { gotIt = r; });
    const held: ServerResponse[] = [];
    const u = await upstream((req, res) => { req.resume(); held.push(res); res.on('close', () => { upstreamSawClose = true; }); gotIt(); });
    cleanups.push(() => { for (const r of held) r.destroy(); });
    const pools = new UpstreamPools();
    const { port, outcomes } = await proxyHarness(oneServiceSnapshot(1, [u.port]), pools);
    const sock: Socket = connect(port, '127.0.0.1');
    sock.on('error', () => undefined);
    sock.write('GET /wait HTTP/1.1\r\nHost: app.localhost\r\n\r\n');
    await received;
    sock.destroy();
    await until(() => outcomes.length === 1, 'outcome');
    expect(outcomes[0]).toMatchObject({ status: 499, error: 'SWY_CLIENT_ABORTED', retries: 0, endpoint: 'base/app/0' });
    await until(() => upstreamSawClose, 'the upstream request to be aborted');
  });

  test('a client that goes away mid-response: outcome 499', async () => {
    const held: ServerResponse[] = [];
    const u = await upstream((req, res) => { req.resume(); held.push(res); res.writeHead(200, { 'content-type': 'text/plain' }); res.write('partial'); });
    cleanups.push(() => { for (const r of held) r.destroy(); });
    const pools = new UpstreamPools();
    const { port, outcomes } = await proxyHarness(oneServiceSnapshot(1, [u.port]), pools);
    await new Promise<void>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, path: '/stream', agent: false, headers: { host: 'app.localhost' } }, (res) => {
        res.once('data', () => { req.destroy(); resolve(); });
      });
      req.on('error', () => undefined);
      setTimeout(() => reject(new Error('no data')), 5_000).unref();
      req.end();
    });
    await until(() => outcomes.length === 1, 'outcome');
    expect(outcomes[0]).toMatchObject({ status: 499, error: 'SWY_CLIENT_ABORTED' });
  });
});

describe('per-service timeouts from the spec', () => {
  test('spec → store → route table → snapshot → proxy: a service with headersMs 200 gets 504 while one with 5 s succeeds', async () => {
    // both upstreams answer after 1.5 s (undici's header timer ticks coarsely, ~0.5 s: keep a margin)
    const held: ServerResponse[] = [];
    const slowAnswer = (name: string) => upstream((req, res) => {
      req.resume();
      held.push(res);
      setTimeout(() => { if (!res.destroyed) res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ name })); }, 1_500);
    });
    const hasty = await slowAnswer('hasty');
    const patient = await slowAnswer('patient');
    cleanups.push(() => { for (const r of held) r.destroy(); });

    const parsed = SpecSchema.parse({
      app: 'shop',
      services: {
        hasty: { run: 'x', public: ['/hasty'], timeouts: { headersMs: 200 }, retries: { attempts: 2 } },
        patient: { run: 'x', public: ['/patient'], timeouts: { headersMs: 5_000 } },
        plain: { run: 'x', public: ['/plain'] },
      },
    });
    expect(parsed.services.hasty!.timeouts).toEqual({ connectMs: 5_000, headersMs: 200, idleMs: 0 }); // defaults filled in
    expect(parsed.services.hasty!.retries).toEqual({ attempts: 2, budgetPercent: 20 });
    expect(parsed.services.plain!.timeouts).toBeUndefined(); // absent: the router's defaults
    const spec: AppSpec = { ...parsed, domain: 'shop.localhost', root: '/tmp', file: '/tmp/switchyard.yaml' } as AppSpec;

    const dir = mkdtempSync(join(tmpdir(), 'swy-resilience-'));
    const store = new Store(await openPgliteDriver(join(dir, 'store')));
    cleanups.push(async () => { await store.close(); rmSync(dir, { recursive: true, force: true }); });
    await store.migrate();
    await store.putApp('shop', spec);
    await store.createEnvironment({ app: 'shop', name: 'base', kind: 'base', parent: null, overrides: { services: {} }, hosts: [] });
    await store.recordInstances([
      { app: 'shop', env: 'base', service: 'hasty', replica: 0, host: '127.0.0.1', port: hasty.port, pid: 1, state: 'healthy', restarts: 0 },
      { app: 'shop', env: 'base', service: 'patient', replica: 0, host: '127.0.0.1', port: patient.port, pid: 2, state: 'healthy', restarts: 0 },
    ]);
    const table = await readRouteTable(store, 'shop');
    expect(table.services.find((s) => s.name === 'hasty')).toMatchObject({ timeouts: { headersMs: 200 }, retries: { attempts: 2, budgetPercent: 20 } });
    expect(table.services.find((s) => s.name === 'plain')!.timeouts).toBeUndefined();
    const snap = compileSnapshot(table);
    expect(snap.serviceByName.get('hasty')!.timeouts).toEqual({ connectMs: 5_000, headersMs: 200, idleMs: 0 });
    expect(Object.isFrozen(snap.serviceByName.get('hasty')!.timeouts)).toBe(true);

    const { port } = await routerWith(snap);
    const t0 = Date.now();
    let hastyMs = 0;
    const [h, p] = await Promise.all([
      send(port, { path: '/hasty/x', headers: { host: 'shop.localhost' } }).finally(() => { hastyMs = Date.now() - t0; }),
      send(port, { path: '/patient/x', headers: { host: 'shop.localhost' } }),
    ]);
    expect(h.status).toBe(504);
    expect(json(h)).toMatchObject({ code: 'SWY_UPSTREAM_TIMEOUT', service: 'hasty', env: 'base', endpoint: 'base/hasty/0', cause: 'SWY_HEADERS_TIMEOUT' });
    expect(p.status).toBe(200);
    expect(json(p).name).toBe('patient');
    expect(hastyMs).toBeLessThan(1_400); // did not wait for the answer
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1_450);
    expect(hasty.hits).toBe(1); // a timeout is not retried
  });

  test('idleMs: a response body that stalls is cut off; the outcome says timeout', async () => {
    const held: ServerResponse[] = [];
    const u = await upstream((req, res) => { req.resume(); held.push(res); res.writeHead(200, { 'content-type': 'text/plain' }); res.write('first'); });
    cleanups.push(() => { for (const r of held) r.destroy(); });
    const pools = new UpstreamPools();
    const { port, outcomes } = await proxyHarness(snapshotWith([u.port], { timeouts: { idleMs: 200 } }), pools);
    const err = await send(port).then(() => undefined, (e: Error) => e);
    expect(err).toBeInstanceOf(Error); // the response was cut off mid-body
    await until(() => outcomes.length === 1, 'outcome');
    expect(outcomes[0]).toMatchObject({ status: 200, error: 'SWY_UPSTREAM_TIMEOUT' });
  });

  test('a service with its own timeouts gets a pool with them; the router default keeps the shared one', () => {
    const pools = new UpstreamPools({ connectMs: 5_000, headersMs: 60_000, bodyMs: 0, keepAliveMs: 4_000 } satisfies UpstreamTimeouts);
    poolsToClose.push(pools);
    const s = pools.endpoint(endpoint('base/app/0', 1));
    const shared = s.rawPool(undefined);
    expect(s.rawPool(undefined)).toBe(shared);
    expect(shared.timeouts).toEqual({ connectMs: 5_000, headersMs: 60_000, bodyMs: 0, keepAliveMs: 4_000 });
    const own = s.rawPool({ connectMs: 250, idleMs: 100 });
    expect(own).not.toBe(shared);
    expect(own.timeouts).toEqual({ connectMs: 250, headersMs: 60_000, bodyMs: 100, keepAliveMs: 4_000 });
    expect(s.rawPool({ connectMs: 250, idleMs: 100 })).toBe(own);
  });
});

describe('request hygiene', () => {
  test('Content-Length with Transfer-Encoding → 400 and the connection closed; the upstream never sees it', async () => {
    const u = await named('u');
    const { port } = await routerWith(oneServiceSnapshot(1, [u.port]));
    const r = await rawRequest(port, 'POST / HTTP/1.1\r\nHost: app.localhost\r\nContent-Length: 5\r\nTransfer-Encoding: chunked', '0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: app.localhost\r\n\r\n');
    expect(r.status).toBe(400);
    expect(r.headers.connection).toBe('close');
    expect(problemOf(r)).toMatchObject({ code: 'SWY_BAD_REQUEST' });
    expect(u.hits).toBe(0);
  });

  test('conflicting Content-Length values → 400', async () => {
    const u = await named('u');
    const { port } = await routerWith(oneServiceSnapshot(1, [u.port]));
    const r = await rawRequest(port, 'POST / HTTP/1.1\r\nHost: app.localhost\r\nContent-Length: 5\r\nContent-Length: 6\r\nConnection: close', 'hello!');
    expect(r.status).toBe(400);
    expect(u.hits).toBe(0);
  });

  test('a transfer coding other than chunked (which node lets through) → 400 from the router', async () => {
    const u = await named('u');
    const { port } = await routerWith(oneServiceSnapshot(1, [u.port]));
    const r = await rawRequest(port, 'POST / HTTP/1.1\r\nHost: app.localhost\r\nAccept: application/json\r\nTransfer-Encoding: gzip', 'hello');
    expect(r.status).toBe(400);
    expect(r.headers.connection).toBe('close');
    expect(problemOf(r)).toMatchObject({ code: 'SWY_BAD_REQUEST' });
    expect(u.hits).toBe(0);
  });

  test('refuseRequest catches CL+TE and conflicting lengths itself when a lenient parser lets them through', async () => {
    const server = createServer({ insecureHTTPParser: true }, (req, res) => {
      if (refuseRequest(req, res, resolveLimits())) return;
      req.resume();
      res.end('passed');
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as AddressInfo).port;
    const clte = await rawRequest(port, 'POST / HTTP/1.1\r\nHost: a\r\nAccept: application/json\r\nContent-Length: 5\r\nTransfer-Encoding: chunked', '0\r\n\r\n');
    expect(clte.status).toBe(400);
    expect(clte.headers.connection).toBe('close');
    expect(String(problemOf(clte).detail)).toContain('both Content-Length and Transfer-Encoding');
    const ok = await rawRequest(port, 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nConnection: close', 'hello');
    expect(ok.body.toString()).toBe('passed');
  });

  test('a declared body over the limit → 413 at once, without the body being sent', async () => {
    const u = await named('u');
    const { port } = await routerWith(oneServiceSnapshot(1, [u.port]), { limits: { maxBodyBytes: 1024 } });
    // Only the head is sent: the answer must not wait for 10 MB that never come.
    const r = await rawRequest(port, `PUT /upload HTTP/1.1\r\nHost: app.localhost\r\nAccept: application/json\r\nContent-Length: ${10 * 1024 * 1024}`);
    expect(r.status).toBe(413);
    expect(r.headers.connection).toBe('close');
    expect(problemOf(r)).toMatchObject({ code: 'SWY_BODY_TOO_LARGE', limit: 1024 });
    expect(u.hits).toBe(0);
    // at the limit: fine
    const fine = await send(port, { method: 'PUT', body: 'y'.repeat(1024) });
    expect(fine.status).toBe(200);
  });

  test('a chunked body that grows past the limit → 413 (counted while streaming); under the limit it goes through', async () => {
    let upstreamBytes = 0;
    const u = await upstream((req, res) => {
      req.on('data', (c: Buffer) => { upstreamBytes += c.length; });
      req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ bytes: upstreamBytes })));
      req.on('error', () => undefined);
    });
    const { port } = await routerWith(oneServiceSnapshot(1, [u.port]), { limits: { maxBodyBytes: 4096 } });

    const r = await chunkedUpload(port, 64, 512); // 32 KiB in 512-byte chunks, sent until the router answers
    expect(r.status).toBe(413);
    expect(problemOf(r)).toMatchObject({ code: 'SWY_BODY_TOO_LARGE', service: 'app', env: 'base' });
    expect(upstreamBytes).toBeLessThanOrEqual(4096);

    upstreamBytes = 0;
    const ok = await chunkedUpload(port, 4, 512); // 2 KiB
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body.toString()).bytes).toBe(2048);
  });

  test('a header block over the limit → 431 (default 32 KiB; configurable)', async () => {
    const u = await named('u');
    const { port } = await routerWith(oneServiceSnapshot(1, [u.port]));
    const big = await rawRequest(port, `GET / HTTP/1.1\r\nHost: app.localhost\r\nX-Big: ${'a'.repeat(40 * 1024)}\r\nConnection: close`);
    expect(big.status).toBe(431);
    expect(problemOf(big)).toMatchObject({ code: 'SWY_HEADERS_TOO_LARGE', status: 431 });
    // (under node's own 16 KiB default: the test upstream has it)
    const under = await rawRequest(port, `GET / HTTP/1.1\r\nHost: app.localhost\r\nX-Big: ${'a'.repeat(12 * 1024)}\r\nConnection: close`);
    expect(under.status).toBe(200);

    const { port: small } = await routerWith(oneServiceSnapshot(1, [u.port]), { limits: { maxHeaderBytes: 2048 } });
    expect((await rawRequest(small, `GET / HTTP/1.1\r\nHost: app.localhost\r\nX-Big: ${'a'.repeat(4096)}\r\nConnection: close`)).status).toBe(431);
    expect((await rawRequest(small, `GET / HTTP/1.1\r\nHost: app.localhost\r\nX-Big: ${'a'.repeat(1024)}\r\nConnection: close`)).status).toBe(200);
    expect(u.hits).toBe(2);
  });
});

/**
 * Sends a chunked POST over a raw socket, `count` chunks of `size` bytes a few ms apart, stopping
 * as soon as a response starts; resolves with the parsed response once the server closes.
 */
function chunkedUpload(port: number, count: number, size: number): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let answered = false;
    sock.on('data', (c: Buffer) => { answered = true; chunks.push(c); });
    sock.on('error', (e) => { if (chunks.length === 0) reject(e); });
    sock.on('close', () => { try { resolve(parseResponse(Buffer.concat(chunks))); } catch (e) { reject(e); } });
    sock.setTimeout(10_000, () => sock.destroy(new Error('chunked upload timed out')));
    sock.on('connect', async () => {
      sock.write('POST /upload HTTP/1.1\r\nHost: app.localhost\r\nAccept: application/json\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n');
      for (let i = 0; i < count && !answered && !sock.destroyed; i++) {
        sock.write(`${size.toString(16)}\r\n${'z'.repeat(size)}\r\n`);
        await sleep(2);
      }
      if (!answered && !sock.destroyed) sock.write('0\r\n\r\n');
    });
  });
}
