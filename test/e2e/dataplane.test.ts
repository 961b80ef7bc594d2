/**
 * End-to-end: the data plane of `switchyard up --workers 2` — replicas and load balancing,
 * passive ejection when a replica dies, WebSocket upgrades with per-hop fallback, router workers
 * sharing the snapshot version (and being replaced when one dies), graceful drain on SIGTERM,
 * and request hygiene at the edge.
 *
 * One switchyard on a copy of examples/shop serves every test of this file (they build on each
 * other: feat1 and feat2 are created, a replica and a worker are killed, and the last test stops
 * switchyard with SIGTERM). The copy's spec runs 3 api replicas; the copy's api adds
 * `/api/whoami` with `SWITCHYARD_INSTANCE`, `/api/slow?ms=N`, and a hand-made WebSocket
 * endpoint `/api/ws` (101 handshake, a greeting naming the instance, then a raw byte echo).
 * afterAll stops switchyard by PID and checks that no service process is left.
 */
import { randomBytes, createHash } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  alive, describeProcs, killLeftovers, makeWorkspace, request, sleep, startSwitchyard, waitGone,
  waitNoProcessesUnder, type Switchyard, type Workspace,
  stopAndAssertClean,
} from './harness.js';

const API_REPLICAS = 3;
const BASE_API_IDS = Array.from({ length: API_REPLICAS }, (_, i) => `base/api/${i}`);

/** The copy's api: the example's routes plus whoami-with-instance, a slow endpoint and a WebSocket echo. */
const API_SERVER = `// api (test copy): the example's routes + /api/slow and a hand-made WebSocket echo at /api/ws.
import { createHash } from 'node:crypto';
import { callJson, json, me, serve } from '../lib.js';

const id = process.env.SWITCHYARD_INSTANCE;
const routingHeader = (process.env.SWITCHYARD_ROUTING_HEADER ?? 'x-switchyard-env').toLowerCase();

const server = serve(async (req, res) => {
  const url = new URL(req.url, 'http://x');
  if (url.pathname === '/api/chain') {
    const down = await callJson(process.env.PAYMENTS_URL, '/chain', req);
    return json(res, 200, { chain: [me, ...down.chain] });
  }
  if (url.pathname === '/api/whoami') {
    return json(res, 200, { instance: me, id, pid: process.pid, headers: req.headers, greeting: process.env.GREETING ?? null });
  }
  if (url.pathname === '/api/slow') {
    const ms = Number(url.searchParams.get('ms') ?? '1000');
    await new Promise((r) => setTimeout(r, ms));
    return json(res, 200, { instance: me, id, sleptMs: ms });
  }
  json(res, 404, { error: 'not found', path: url.pathname, instance: me });
});

server.on('upgrade', (req, socket, head) => {
  socket.on('error', () => socket.destroy());
  const url = new URL(req.url, 'http://x');
  const key = req.headers['sec-websocket-key'];
  if (url.pathname !== '/api/ws' || String(req.headers.upgrade).toLowerCase() !== 'websocket' || !key) {
    socket.end('HTTP/1.1 400 Bad Request\\r\\nconnection: close\\r\\ncontent-length: 0\\r\\n\\r\\n');
    return;
  }
  const accept = createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
  socket.write('HTTP/1.1 101 Switching Protocols\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\nSec-WebSocket-Accept: ' + accept + '\\r\\n\\r\\n');
  socket.write('hello from ' + id + ' env=' + (req.headers[routingHeader] ?? '-') + '\\n');
  if (head.length) socket.write(head);
  socket.on('data', (d) => socket.write(d));
  socket.on('end', () => socket.end());
});
`;

// ---------------------------------------------------------------------------------------------
// Raw sockets

/** A raw TCP connection to 127.0.0.1 that accumulates what it receives. */
class RawConn {
  data = Buffer.alloc(0);
  error: string | undefined;
  closed = false;
  readonly socket: net.Socket;
  #wake: (() => void)[] = [];

  constructor(port: number) {
    this.socket = net.connect(port, '127.0.0.1');
    const wake = () => { for (const w of this.#wake.splice(0)) w(); };
    this.socket.on('data', (d: Buffer) => { this.data = Buffer.concat([this.data, d]); wake(); });
    this.socket.on('error', (e: NodeJS.ErrnoException) => { this.error = e.code ?? e.message; wake(); });
    this.socket.on('close', () => { this.closed = true; wake(); });
  }

  get text(): string { return this.data.toString('latin1'); }

  /** Resolves once `pred(text)` holds; rejects after `timeoutMs` or when the connection closes first. */
  async until(pred: (text: string) => boolean, what: string, timeoutMs = 15_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (pred(this.text)) return this.text;
      if (this.closed) throw new Error(`connection closed before ${what} (error ${this.error ?? 'none'}); received: ${JSON.stringify(this.text.slice(0, 500))}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; received: ${JSON.stringify(this.text.slice(0, 500))}`);
      await new Promise<void>((r) => { const t = setTimeout(r, left); this.#wake.push(() => { clearTimeout(t); r(); }); });
    }
  }

  /** Resolves once the peer closed the connection (or after `timeoutMs`). */
  async closedOrTimeout(timeoutMs = 15_000): Promise<void> {
    await this.until(() => false, 'close', timeoutMs).catch(() => undefined);
  }

  destroy(): void { this.socket.destroy(); }
}

/** Sends `bytes` on a fresh connection and returns everything received until the router closes it. */
async function rawExchange(port: number, bytes: string | Buffer): Promise<{ text: string; status: number; error: string | undefined }> {
  const c = new RawConn(port);
  c.socket.write(bytes);
  await c.closedOrTimeout();
  c.destroy();
  const m = /^HTTP\/1\.1 (\d{3})/.exec(c.text);
  return { text: c.text, status: m ? Number(m[1]) : 0, error: c.error };
}

interface WsResult { status: number; head: string; greeting: string; echo: string; acceptOk: boolean }

/** A WebSocket upgrade by hand to `/api/ws` with `host`; reads the greeting, sends `message`, reads the echo. */
async function wsEcho(port: number, host: string, message: string): Promise<WsResult> {
  const c = new RawConn(port);
  try {
    const key = randomBytes(16).toString('base64');
    c.socket.write(
      `GET /api/ws HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    const afterHead = await c.until((t) => t.includes('\r\n\r\n'), 'the response head');
    const headEnd = afterHead.indexOf('\r\n\r\n');
    const head = afterHead.slice(0, headEnd);
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
    if (status !== 101) return { status, head, greeting: '', echo: '', acceptOk: false };
    const expected = createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
    const acceptOk = new RegExp(`^sec-websocket-accept: ${expected.replace(/[+/=]/g, '\\$&')}$`, 'im').test(head);
    const bodyStart = headEnd + 4;
    const t1 = await c.until((t) => t.indexOf('\n', bodyStart) !== -1, 'the greeting');
    const greetingEnd = t1.indexOf('\n', bodyStart);
    const greeting = t1.slice(bodyStart, greetingEnd);
    // `text` is latin1: one character per byte
    const bytes = Buffer.from(message);
    c.socket.write(bytes);
    const t2 = await c.until((t) => t.length >= greetingEnd + 1 + bytes.length, 'the echo');
    const echo = Buffer.from(t2.slice(greetingEnd + 1, greetingEnd + 1 + bytes.length), 'latin1').toString('utf8');
    return { status, head, greeting, echo, acceptOk };
  } finally {
    c.destroy();
  }
}

// ---------------------------------------------------------------------------------------------
// Processes and status

interface RouterStatus { id: string; pid: number; version: number; listening: boolean; lastError?: string }
interface Status { snapshotVersion: number; storeVersion: number; routers: RouterStatus[] }

/** Parent PID and process group of a live process (undefined when it is gone). */
function procIds(pid: number): { ppid: number; pgid: number } | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(f[1]), pgid: Number(f[2]) };
  } catch {
    return undefined;
  }
}

async function poll<T>(what: string, timeoutMs: number, f: () => Promise<T | undefined>, everyMs = 100): Promise<{ value: T; ms: number }> {
  const t0 = Date.now();
  let last: unknown;
  for (;;) {
    try {
      const v = await f();
      if (v !== undefined) return { value: v, ms: Date.now() - t0 };
    } catch (e) { last = e; }
    if (Date.now() - t0 > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms${last ? ` (last error: ${String(last)})` : ''}`);
    await sleep(everyMs);
  }
}

describe('the data plane of switchyard up --workers 2 (shop copy, api × 3)', () => {
  let ws: Workspace;
  let sy: Switchyard;
  const seenPids = new Set<number>();
  const remember = async () => { for (const p of await sy.servicePids()) seenPids.add(p); };
  const status = async (): Promise<Status> => {
    const r = await request(sy.admin, '/status');
    if (r.status !== 200) throw new Error(`GET /status answered ${r.status}: ${r.body}`);
    return r.json<Status>();
  };
  /** Instance id (`<env>/<service>/<replica>`) that answered a whoami, or an error text. */
  const whoami = async (host = 'shop.localhost'): Promise<string> => {
    const r = await sy.get('/api/whoami', { host });
    if (r.status !== 200) return `status ${r.status}: ${r.body.slice(0, 200)}`;
    return r.json<{ id: string }>().id;
  };

  beforeAll(async () => {
    ws = makeWorkspace('swy-dataplane-');
    const specFile = path.join(ws.app, 'switchyard.yaml');
    const spec = fs.readFileSync(specFile, 'utf8');
    const withReplicas = spec.replace('    public: ["/api"]\n', `    public: ["/api"]\n    replicas: ${API_REPLICAS}\n`);
    expect(withReplicas).not.toBe(spec);
    fs.writeFileSync(specFile, withReplicas);
    fs.writeFileSync(path.join(ws.app, 'api', 'server.js'), API_SERVER);
    // `--port 0` with workers: the owner picks free ports (bind 0, release) and the workers bind
    // them seconds later; on a busy machine another process can take one meanwhile (reported).
    // One retry on that, with a fresh data dir, keeps this file about the data plane.
    for (let attempt = 1; ; attempt++) {
      try {
        sy = await startSwitchyard({ app: ws.app, dataDir: ws.dataDir, extraArgs: ['--workers', '2', '--head-timeout', '1500', '--max-header-fields', '40'] });
        break;
      } catch (e) {
        if (attempt >= 2 || !/could not listen: Error: (bind|listen) EADDRINUSE/.test(String(e))) throw e;
        console.warn(`[dataplane] switchyard up lost a port race, retrying: ${/EADDRINUSE \S+/.exec(String(e))?.[0]}`);
        const left = await waitNoProcessesUnder(ws.root, 10_000);
        expect(left, describeProcs(left)).toEqual([]);
        fs.rmSync(ws.dataDir, { recursive: true, force: true });
      }
    }
    await remember();
  }, 120_000);

  afterAll(async () => {
    if (!ws) return;
    if (sy && sy.child.exitCode === null && sy.child.signalCode === null) await remember().catch(() => undefined);
    await stopAndAssertClean(ws, sy, seenPids, 10_000);
  }, 60_000);

  it('1. replicas: 3 → base runs api/0..2 and 60 requests reach all three', async () => {
    const base = (await sy.envs()).find((e) => e.name === 'base')!;
    const apis = base.instances.filter((i) => i.service === 'api');
    expect(apis.map((i) => i.id).sort()).toEqual(BASE_API_IDS);
    expect(apis.every((i) => i.state === 'healthy'), JSON.stringify(apis)).toBe(true);
    expect(new Set(apis.map((i) => i.pid)).size).toBe(API_REPLICAS);

    const t0 = Date.now();
    const counts: Record<string, number> = {};
    // 4 at a time: the least-request choice then actually sees requests in flight
    for (let i = 0; i < 60; i += 4) {
      for (const id of await Promise.all([0, 1, 2, 3].map(() => whoami()))) counts[id] = (counts[id] ?? 0) + 1;
    }
    console.log(`[dataplane] 60 whoami in ${Date.now() - t0} ms: ${JSON.stringify(counts)}`);
    expect(Object.keys(counts).sort()).toEqual(BASE_API_IDS);
    expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(60);
  });

  it('2. SIGKILL of one replica\'s process group: the next 50 GETs all answer 200; the runtime restarts it with a new pid', async () => {
    const victim = (await sy.envs()).find((e) => e.name === 'base')!.instances.find((i) => i.id === 'base/api/1')!;
    expect(victim.pid, JSON.stringify(victim)).toEqual(expect.any(Number));
    const pid = victim.pid!;
    // only a group our switchyard leads: the instance is its own process group leader
    expect(procIds(pid)?.pgid).toBe(pid);
    process.kill(-pid, 'SIGKILL');
    const killedAt = Date.now();

    const failures: string[] = [];
    const counts: Record<string, number> = {};
    for (let i = 0; i < 50; i++) {
      const r = await sy.get('/api/whoami', { host: 'shop.localhost' }).catch((e: Error) => ({ status: 0, body: e.message, json: () => ({}) as never }));
      if (r.status !== 200) failures.push(`#${i} (${Date.now() - killedAt} ms): ${r.status} ${r.body.slice(0, 300)}`);
      else { const id = (r.json() as { id: string }).id; counts[id] = (counts[id] ?? 0) + 1; }
    }
    console.log(`[dataplane] 50 GETs after the kill in ${Date.now() - killedAt} ms: ${JSON.stringify(counts)}; failures ${failures.length}`);
    expect(failures, failures.join('\n')).toEqual([]);

    const back = await poll('base/api/1 healthy again with a new pid', 15_000, async () => {
      const inst = (await sy.envs()).find((e) => e.name === 'base')!.instances.find((i) => i.id === 'base/api/1');
      return inst && inst.state === 'healthy' && inst.pid !== null && inst.pid !== pid ? inst : undefined;
    }, 250);
    console.log(`[dataplane] base/api/1 healthy again ${Date.now() - killedAt} ms after the kill (pid ${pid} → ${back.value.pid}, restarts ${back.value.restarts})`);
    expect(back.value.restarts).toBeGreaterThanOrEqual(1);
    expect(alive(back.value.pid!)).toBe(true);
    expect(alive(pid)).toBe(false);
    await remember();

    // the restarted replica (on a new port) takes traffic again
    const seen = await poll('all three replicas answering again', 15_000, async () => {
      const ids = new Set(await Promise.all(Array.from({ length: 30 }, () => whoami())));
      return BASE_API_IDS.every((id) => ids.has(id)) ? ids : undefined;
    }, 200);
    expect([...seen.value].sort()).toEqual(BASE_API_IDS);
  }, 60_000);

  it('3. WebSocket upgrade: feat1 (its own api) reaches api@feat1, base reaches api@base; bytes echo both ways', async () => {
    const c = await sy.cli(['env', 'create', 'feat1', '--service', 'api'], { timeoutMs: 60_000 });
    expect(c.code, c.stderr).toBe(0);
    await remember();

    const onFeat1 = await wsEcho(sy.edgePort, 'feat1.shop.localhost', 'ping-feat1 ✓ ' + 'x'.repeat(1000));
    expect(onFeat1.status, onFeat1.head).toBe(101);
    expect(onFeat1.acceptOk, onFeat1.head).toBe(true);
    expect(onFeat1.greeting).toMatch(/^hello from feat1\/api\/[0-2] env=feat1$/);
    expect(onFeat1.echo).toBe('ping-feat1 ✓ ' + 'x'.repeat(1000));

    const onBase = await wsEcho(sy.edgePort, 'shop.localhost', 'ping-base');
    expect(onBase.status, onBase.head).toBe(101);
    expect(onBase.acceptOk, onBase.head).toBe(true);
    expect(onBase.greeting).toMatch(/^hello from base\/api\/[0-2] env=base$/);
    expect(onBase.echo).toBe('ping-base');

    // the routing header selects the preview for an upgrade too
    const viaHeader = new RawConn(sy.edgePort);
    try {
      viaHeader.socket.write('GET /api/ws HTTP/1.1\r\nHost: shop.localhost\r\nx-switchyard-env: feat1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
      const t = await viaHeader.until((s) => /\r\n\r\nhello from [^\n]*\n/.test(s), 'the greeting');
      expect(t).toMatch(/^HTTP\/1\.1 101 /);
      expect(t).toMatch(/hello from feat1\/api\/[0-2] env=feat1\n/);
    } finally { viaHeader.destroy(); }

    // an unknown environment in the host: no tunnel
    const nope = await rawExchange(sy.edgePort, 'GET /api/ws HTTP/1.1\r\nHost: nope.shop.localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    expect(nope.status, nope.text).toBe(404);
  }, 90_000);

  it('6. hygiene at the edge: CL+TE → 400, a 40 KiB header → 431, Host is case- and port-insensitive', async () => {
    const smuggle = await rawExchange(sy.edgePort,
      'POST /api/whoami HTTP/1.1\r\nHost: shop.localhost\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n');
    expect(smuggle.status, smuggle.text).toBe(400);
    expect(smuggle.text.toLowerCase()).toContain('connection: close');

    const big = await rawExchange(sy.edgePort, `GET /api/whoami HTTP/1.1\r\nHost: shop.localhost\r\nx-big: ${'a'.repeat(40 * 1024)}\r\n\r\n`);
    expect(big.status, `${big.text.slice(0, 300)} (error ${big.error})`).toBe(431);

    const mixed = await sy.get('/api/whoami', { host: 'FEAT1.Shop.localhost:1234' });
    expect(mixed.status, mixed.body).toBe(200);
    expect(mixed.json()).toMatchObject({ instance: 'api@feat1', id: expect.stringMatching(/^feat1\/api\/[0-2]$/) });
    expect(mixed.json().headers.host).toBe('FEAT1.Shop.localhost:1234'); // Host passes through unchanged

    // the connection stays usable for normal requests afterwards
    expect(await whoami()).toMatch(/^base\/api\/[0-2]$/);
  });

  it('7. limit flags reach every worker: a head that stalls → 408 after --head-timeout; more fields than --max-header-fields → 431', async () => {
    for (let i = 0; i < 2; i++) { // two connections: with 2 workers, most likely both answer once
      const t0 = Date.now();
      const slow = await rawExchange(sy.edgePort, 'GET /api/whoami HTTP/1.1\r\nHost: shop.localhost\r\nX-Slow: ');
      const ms = Date.now() - t0;
      expect(slow.status, slow.text).toBe(408);
      expect(ms).toBeGreaterThanOrEqual(1_400);
      expect(ms).toBeLessThan(6_000);
    }
    const fields = Array.from({ length: 41 }, (_, i) => `x-f${i}: v`).join('\r\n');
    const many = await rawExchange(sy.edgePort, `GET /api/whoami HTTP/1.1\r\nHost: shop.localhost\r\n${fields}\r\n\r\n`);
    expect(many.status, many.text.slice(0, 300)).toBe(431);
    const fewer = Array.from({ length: 30 }, (_, i) => `x-f${i}: v`).join('\r\n');
    const ok = await rawExchange(sy.edgePort, `GET /api/whoami HTTP/1.1\r\nHost: shop.localhost\r\nConnection: close\r\n${fewer}\r\n\r\n`);
    expect(ok.status, ok.text.slice(0, 300)).toBe(200);
  });

  it('4. workers share the snapshot version; env create reaches both before the CLI returns; a killed worker is replaced', async () => {
    // steady state first (test 2's restart may still be publishing)
    const s0 = (await poll('2 listening workers at snapshotVersion', 10_000, async () => {
      const s = await status();
      return s.routers.length === 2 && s.routers.every((r) => r.listening && r.version === s.snapshotVersion) ? s : undefined;
    })).value;
    expect(s0.routers.map((r) => r.id)).toEqual([expect.stringMatching(/^worker-\d+$/), expect.stringMatching(/^worker-\d+$/)]);
    for (const r of s0.routers) expect(procIds(r.pid)?.ppid, `worker ${r.pid} is a child of switchyard`).toBe(sy.pid);

    const c = await sy.cli(['env', 'create', 'feat2'], { timeoutMs: 60_000 });
    expect(c.code, c.stderr).toBe(0);
    const s1 = await status();
    expect(s1.snapshotVersion).toBeGreaterThan(s0.snapshotVersion);
    expect(s1.routers.map((r) => r.version), JSON.stringify(s1)).toEqual([s1.snapshotVersion, s1.snapshotVersion]);
    // both workers route feat2 at once (fresh connections are spread over the workers)
    const first = await Promise.all(Array.from({ length: 8 }, () => sy.get('/api/whoami', { host: 'feat2.shop.localhost' })));
    for (const r of first) {
      expect(r.status, r.body).toBe(200);
      expect(r.json().headers['x-switchyard-env']).toBe('feat2'); // feat2 runs nothing itself: api@base serves it
      expect(r.json().instance).toBe('api@base');
    }

    // kill one worker under load
    const victim = s1.routers[0]!;
    expect(procIds(victim.pid)?.ppid).toBe(sy.pid);
    const paths = ['/api/whoami', '/chain'];
    const results = { ok: 0, failed: [] as string[] };
    let stopLoad = false;
    let killedAt = 0;
    const loop = async (n: number) => {
      while (!stopLoad) {
        const p = paths[n % 2]!;
        // 4 s: a connection the owner handed to the worker just as it died is never answered (see below)
        const r = await request(sy.edge, p, { host: 'shop.localhost', timeoutMs: 4_000 }).then((x) => (x.status === 200 ? '200' : `${x.status} ${x.body.slice(0, 160)}`), (e: NodeJS.ErrnoException) => `${e.code ?? e.message}`);
        if (r === '200') results.ok++;
        else results.failed.push(`${p} ${r} at ${killedAt ? `${Date.now() - killedAt} ms after the kill` : 'before the kill'}`);
      }
    };
    const loops = [0, 1, 2, 3].map(loop);
    await sleep(300);
    process.kill(victim.pid, 'SIGKILL');
    killedAt = Date.now();
    const replaced = await poll('a replacement worker listening at the current version', 10_000, async () => {
      const s = await status();
      return s.routers.length === 2 && s.routers.every((r) => r.pid !== victim.pid && r.listening && r.version === s.snapshotVersion) ? s : undefined;
    }, 100).catch((e: Error) => e);
    const left = 3_000 - (Date.now() - killedAt);
    if (left > 0) await sleep(left);
    stopLoad = true;
    await Promise.all(loops);
    if (replaced instanceof Error) throw replaced;
    const newWorker = replaced.value.routers.find((r) => !s1.routers.some((o) => o.pid === r.pid))!;
    console.log(`[dataplane] worker ${victim.id} (pid ${victim.pid}) killed; ${newWorker.id} (pid ${newWorker.pid}) listening at v${newWorker.version} after ${replaced.ms} ms; ` +
      `load: ${results.ok} ok, ${results.failed.length} failed${results.failed.length ? `: ${results.failed.join('; ')}` : ''}`);
    expect(newWorker.version).toBe(replaced.value.snapshotVersion);
    expect(alive(victim.pid)).toBe(false);
    expect(results.ok).toBeGreaterThan(20);
    // Only requests on connections the dead worker held can fail: at most one per load loop.
    // Observed: ECONNRESET for an edge request the worker was serving; a 502 from web on /chain
    // when its internal hop (web → API_URL, a discovery listener of the same workers) was on the
    // dead worker; and on most kills one ETIMEDOUT — a connection node:cluster's round-robin
    // owner had just handed to the worker: the owner keeps that socket open but never serves it
    // (RoundRobinHandle waits for an ack from a dead worker). Tolerated here; reported.
    expect(results.failed.length, results.failed.join('\n')).toBeLessThanOrEqual(4);
    const expected = (f: string) => / (ECONNRESET|ETIMEDOUT|EPIPE) /.test(f) || /^\/chain 502 \{"error":"\/api\/chain answered 502/.test(f) || /^\/chain 502 \{"error":"fetch failed"/.test(f);
    expect(results.failed.filter((f) => !expected(f)), results.failed.join('\n')).toEqual([]);

    // the replacement serves the current snapshot: feat2 and feat1 route through both workers
    const after = await Promise.all(Array.from({ length: 8 }, (_, i) => whoami(i % 2 ? 'feat2.shop.localhost' : 'feat1.shop.localhost')));
    for (const [i, id] of after.entries()) expect(id).toMatch(i % 2 ? /^base\/api\/[0-2]$/ : /^feat1\/api\/[0-2]$/);
  }, 90_000);

  it('5. SIGTERM drains: an in-flight request completes with 200, new connections are refused, exit 0, no service left', async () => {
    await remember();
    const pids = [...seenPids];
    const t0 = Date.now();
    const slow = sy.get('/api/slow?ms=1500', { host: 'shop.localhost' });
    await sleep(200);
    const stopping = sy.stop();
    const termAt = Date.now();

    // new connections: refused once the workers stopped accepting (poll: the drain message needs a moment)
    const refused = await poll('a new connection to the edge refused', 1_500, () => new Promise<number | undefined>((resolve) => {
      const s = net.connect(sy.edgePort, '127.0.0.1');
      s.once('connect', () => { s.destroy(); resolve(undefined); });
      s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'ECONNREFUSED' ? Date.now() - termAt : undefined));
    }), 25).catch((e: Error) => e);

    const r = await slow;
    const doneAt = Date.now();
    const exit = await stopping;
    console.log(`[dataplane] slow request: 200 after ${doneAt - t0} ms (SIGTERM at ${termAt - t0} ms); ` +
      `new connections refused ${refused instanceof Error ? 'NEVER' : `${refused.value} ms`} after SIGTERM; exit ${exit.code} after ${exit.ms} ms`);
    expect(r.status, r.body).toBe(200);
    expect(r.json()).toMatchObject({ instance: 'api@base', sleptMs: 1500 });
    if (refused instanceof Error) throw refused;
    expect(refused.value).toBeLessThan(doneAt - termAt); // refused while the slow request was still in flight
    expect(exit).toMatchObject({ code: 0, signal: null, killed: false });

    const leftPids = await waitGone(pids, 10_000);
    expect(leftPids, `service pids alive after exit: ${leftPids.join(', ')}`).toEqual([]);
    const leftProcs = await waitNoProcessesUnder(ws.root, 10_000);
    expect(leftProcs, describeProcs(leftProcs)).toEqual([]);
    const edgeGone = await new Promise<string>((resolve) => {
      const s = net.connect(sy.edgePort, '127.0.0.1');
      s.once('connect', () => { s.destroy(); resolve('connected'); });
      s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    });
    expect(edgeGone).toBe('ECONNREFUSED');
  }, 60_000);
});
