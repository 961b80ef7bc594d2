/**
 * The HTTP/1.1 engine's connection handling and upstream pool, through real sockets: keep-alive
 * after a body read through the compat objects, pipelining in order, half-close, stale pooled
 * sockets (replayed only for idempotent requests without a body), idle expiry, and 1xx/HEAD/204
 * framing from upstreams.
 */
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, test } from 'vitest';
import { Http1Listener } from '../../../src/router/http1/listener.js';
import { compat } from '../../../src/router/http1/compat.js';
import { DEFAULT_HTTP1_LIMITS, type Http1Exchange } from '../../../src/router/http1/server.js';
import { Router } from '../../../src/router/router.js';
import { oneServiceSnapshot } from '../helpers.js';
import type { AccessLogEntry } from '../../../src/edge/access-log.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c(); });

/** Sends `data` on one connection and collects everything until the server closes or `ms` pass. */
function converse(port: number, writes: (string | { wait: number })[], ms = 3_000): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    let out = '';
    s.on('data', (d) => { out += d.toString('latin1'); });
    const done = () => { clearTimeout(t); s.destroy(); resolve(out); };
    const t = setTimeout(done, ms);
    s.on('close', done);
    s.on('error', () => undefined);
    void (async () => {
      for (const w of writes) {
        if (typeof w === 'string') s.write(w); else await new Promise((r) => setTimeout(r, w.wait));
      }
    })();
  });
}

async function listener(handler: (ex: Http1Exchange) => void, limits = {}): Promise<number> {
  const l = new Http1Listener(handler, { limits: { ...DEFAULT_HTTP1_LIMITS, ...limits } });
  cleanups.push(() => l.close(100));
  return l.listen(0, '127.0.0.1');
}

describe('client connections', () => {
  test('a body read through the compat request keeps the connection alive for the next request (body sent with the head)', async () => {
    let n = 0;
    const port = await listener((ex) => {
      const { req, res } = compat(ex);
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => { body += c; });
      req.on('end', () => { res.writeHead(200, { 'content-type': 'text/plain' }); res.end(`${++n}:${body}`); });
    });
    const out = await converse(port, [
      'POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\none',
      { wait: 100 },
      'POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\ntwo',
      { wait: 100 },
      'GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    ]);
    expect(out.match(/HTTP\/1\.1 200 OK/g)).toHaveLength(3);
    expect(out).toContain('1:one');
    expect(out).toContain('2:two');
    expect(out).toContain('3:');
  });

  test('pipelined requests in one write are answered in order, even when the first answer is slower', async () => {
    const port = await listener((ex) => {
      const delay = ex.target === '/slow' ? 150 : 0;
      setTimeout(() => ex.respond(200, 'OK', '', ex.target), delay);
    });
    const out = await converse(port, ['GET /slow HTTP/1.1\r\nHost: x\r\n\r\nGET /fast HTTP/1.1\r\nHost: x\r\n\r\nGET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n']);
    const bodies = out.split('HTTP/1.1 200 OK').slice(1).map((r) => r.split('\r\n\r\n')[1]);
    expect(bodies).toEqual(['/slow', '/fast', '/last']);
  });

  test('HTTP/1.0: close by default, keep-alive when asked (and said so in the answer)', async () => {
    const port = await listener((ex) => ex.respond(200, 'OK', '', 'hi'));
    const closed = await converse(port, ['GET / HTTP/1.0\r\n\r\n', { wait: 100 }, 'GET / HTTP/1.0\r\n\r\n']);
    expect(closed.match(/200 OK/g)).toHaveLength(1);
    expect(closed).toContain('connection: close');
    const kept = await converse(port, ['GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n', { wait: 100 }, 'GET / HTTP/1.0\r\n\r\n']);
    expect(kept.match(/200 OK/g)).toHaveLength(2);
    expect(kept).toContain('connection: keep-alive');
  });

  test('a client that half-closes before its answer is treated as gone (the exchange is aborted)', async () => {
    let aborted: boolean | undefined;
    const port = await listener((ex) => { ex.onClose = () => { aborted = ex.aborted; }; /* never answers */ });
    await new Promise<void>((resolve) => {
      const s = connect(port, '127.0.0.1', () => { s.end('GET / HTTP/1.1\r\nHost: x\r\n\r\n'); });
      s.on('close', () => resolve());
      s.resume();
    });
    await new Promise((r) => setTimeout(r, 50));
    expect(aborted).toBe(true);
  });

  test('a request body that stalls → 408 and close', async () => {
    const port = await listener((ex) => { ex.readBody({ onBody: () => true, onBodyEnd: () => undefined, onBodyError: () => undefined }); }, { bodyTimeoutMs: 300 });
    const t0 = Date.now();
    const out = await converse(port, ['POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc']);
    expect(out).toMatch(/^HTTP\/1\.1 408 /);
    expect(Date.now() - t0).toBeLessThan(2_500);
  });
});

/** A raw upstream: answers each request on a connection with `answer(nth request on this connection, head)`; null = destroy. */
async function rawUpstream(answer: (nth: number, head: string, connIndex: number) => string | null): Promise<{ port: number; conns: number; server: Server }> {
  const u = { port: 0, conns: 0, server: undefined as unknown as Server };
  const sockets = new Set<Socket>();
  u.server = createServer((s) => {
    sockets.add(s);
    const ci = u.conns++;
    let n = 0;
    let buf = '';
    s.on('data', (d) => {
      buf += d.toString('latin1');
      let i;
      while ((i = buf.indexOf('\r\n\r\n')) !== -1) {
        const head = buf.slice(0, i);
        const cl = /content-length: (\d+)/i.exec(head);
        const len = cl ? Number(cl[1]) : 0;
        if (buf.length < i + 4 + len) return;
        buf = buf.slice(i + 4 + len);
        const a = answer(n++, head, ci);
        if (a === null) { s.destroy(); return; }
        s.write(a);
      }
    });
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => u.server.listen(0, '127.0.0.1', () => r()));
  u.port = (u.server.address() as AddressInfo).port;
  cleanups.push(() => new Promise<void>((r) => { for (const s of sockets) s.destroy(); u.server.close(() => r()); }));
  return u;
}

async function routerTo(port: number): Promise<number> {
  const router = new Router();
  router.setSnapshot(oneServiceSnapshot(1, [port]));
  cleanups.push(() => router.close(100));
  return router.listenEdge(0);
}

const ok = (body: string) => `HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n\r\n${body}`;

describe('upstream pool', () => {
  test('a pooled socket the upstream closed is replayed for a GET on a fresh one; a POST with a body is not', async () => {
    // Each upstream connection answers its first request, then drops the connection at the second.
    const up = await rawUpstream((nth, _head, ci) => (nth === 0 ? ok(`c${ci}`) : null));
    const port = await routerTo(up.port);
    const first = await converse(port, ['GET /1 HTTP/1.1\r\nHost: app.localhost\r\nConnection: close\r\n\r\n']);
    expect(first).toContain('c0');
    const again = await converse(port, ['GET /2 HTTP/1.1\r\nHost: app.localhost\r\nConnection: close\r\n\r\n']);
    expect(again).toMatch(/^HTTP\/1\.1 200 /);
    expect(again).toContain('c1'); // replayed on a second connection
    const post = await converse(port, ['POST /3 HTTP/1.1\r\nHost: app.localhost\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbody']);
    expect(post).toMatch(/^HTTP\/1\.1 502 /);
  });

  test('idle pooled sockets expire after keepAliveMs; busy ones are reused in between', async () => {
    const up = await rawUpstream(() => ok('x'));
    const router = new Router({ timeouts: { connectMs: 1_000, headersMs: 5_000, bodyMs: 0, keepAliveMs: 300 } });
    router.setSnapshot(oneServiceSnapshot(1, [up.port]));
    cleanups.push(() => router.close(100));
    const port = await router.listenEdge(0);
    for (let i = 0; i < 3; i++) expect(await converse(port, ['GET / HTTP/1.1\r\nHost: app.localhost\r\nConnection: close\r\n\r\n'])).toMatch(/200 OK/);
    expect(up.conns).toBe(1); // one pooled socket served all three
    await new Promise((r) => setTimeout(r, 800));
    expect(await converse(port, ['GET / HTTP/1.1\r\nHost: app.localhost\r\nConnection: close\r\n\r\n'])).toMatch(/200 OK/);
    expect(up.conns).toBe(2); // the idle one had expired
  });

  test('interim 103 reaches an HTTP/1.1 client; HEAD, 204 and 304 answers carry no body and keep the connection', async () => {
    const up = await rawUpstream((_n, head) => {
      const path = head.split(' ')[1];
      if (path === '/hints') return 'HTTP/1.1 103 Early Hints\r\nlink: </a.css>; rel=preload\r\n\r\n' + ok('final');
      if (path === '/204') return 'HTTP/1.1 204 No Content\r\ncontent-length: 5\r\n\r\n'; // (a Content-Length it must not send)
      if (path === '/304') return 'HTTP/1.1 304 Not Modified\r\netag: "x"\r\n\r\n';
      return 'HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n' + (head.startsWith('HEAD') ? '' : 'hello');
    });
    const port = await routerTo(up.port);
    const out = await converse(port, [
      'GET /hints HTTP/1.1\r\nHost: app.localhost\r\n\r\n', { wait: 100 },
      'HEAD /h HTTP/1.1\r\nHost: app.localhost\r\n\r\n', { wait: 100 },
      'GET /204 HTTP/1.1\r\nHost: app.localhost\r\n\r\n', { wait: 100 },
      'GET /304 HTTP/1.1\r\nHost: app.localhost\r\nConnection: close\r\n\r\n',
    ]);
    expect(out).toMatch(/^HTTP\/1\.1 103 Early Hints\r\nlink: <\/a\.css>; rel=preload\r\n\r\nHTTP\/1\.1 200 OK/);
    expect(out).toContain('final');
    const head204 = out.slice(out.indexOf('HTTP/1.1 204'), out.indexOf('\r\n\r\n', out.indexOf('HTTP/1.1 204')));
    expect(head204).toMatch(/^HTTP\/1\.1 204 No Content/);
    expect(head204.toLowerCase()).not.toContain('content-length'); // dropped (RFC 9110 §8.6)
    expect(out).toContain('HTTP/1.1 304 Not Modified');
    expect(out.match(/HTTP\/1\.1 200 OK/g)).toHaveLength(2); // /hints and HEAD, each once
    expect(out).not.toContain('hello');
  });
});

describe('paths', () => {
  test('a "." or ".." segment, plain or percent-encoded, is refused (400) before routing; nothing reaches the upstream', async () => {
    let hits = 0;
    const up = await rawUpstream(() => { hits++; return ok('x'); });
    const port = await routerTo(up.port);
    for (const p of ['/api/../admin', '/api/%2e%2e/admin', '/api/%2E./admin', '/a/./b', '/..', '/x/.%2e?q=1']) {
      const out = await converse(port, [`GET ${p} HTTP/1.1\r\nHost: app.localhost\r\nConnection: close\r\n\r\n`]);
      expect(out, p).toMatch(/^HTTP\/1\.1 400 /);
      expect(out, p).toContain('SWY_PATH_INVALID');
    }
    expect(hits).toBe(0);
    // dots inside names and in the query are fine
    for (const p of ['/app.js', '/a..b/c', '/x?next=/../y', '/.well-known/x']) {
      expect(await converse(port, [`GET ${p} HTTP/1.1\r\nHost: app.localhost\r\nConnection: close\r\n\r\n`]), p).toMatch(/^HTTP\/1\.1 200 /);
    }
  });
});

describe('access log of answers the router makes itself', () => {
  test('refused by the engine, refused before routing, and problems: each is logged, and answers carry x-request-id', async () => {
    const up = await rawUpstream(() => ok('x'));
    const entries: AccessLogEntry[] = [];
    const router = new Router({ accessLog: { log: (e) => entries.push(e), flush: async () => undefined, writeOut: () => undefined, close: async () => undefined }, limits: { maxBodyBytes: 10 } });
    router.setSnapshot(oneServiceSnapshot(1, [up.port]));
    cleanups.push(() => router.close(100));
    const port = await router.listenEdge(0);
    const malformed = await converse(port, ['GET / HTTP/1.1\r\nHost: app.localhost\r\nBad Header: x\r\n\r\n']);
    expect(malformed).toMatch(/^HTTP\/1\.1 400 /);
    const big = await converse(port, ['POST / HTTP/1.1\r\nHost: app.localhost\r\nContent-Length: 11\r\nX-Request-Id: big-1\r\n\r\n']);
    expect(big).toMatch(/^HTTP\/1\.1 413 /);
    expect(big).toContain('x-request-id: big-1');
    const unknown = await converse(port, ['GET / HTTP/1.1\r\nHost: nope.app.localhost\r\nConnection: close\r\n\r\n']);
    expect(unknown).toMatch(/^HTTP\/1\.1 404 /);
    const id = /x-request-id: (\S+)/i.exec(unknown)?.[1];
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    await new Promise((r) => setTimeout(r, 50));
    expect(entries.map((e) => e.status)).toEqual([400, 413, 404]);
    expect(entries[0]).toMatchObject({ env: '', clientIp: '127.0.0.1' });
    expect(entries[1]).toMatchObject({ reqId: 'big-1', method: 'POST', status: 413 });
    expect(entries[2]).toMatchObject({ reqId: id, env: 'nope', status: 404 });
  });
});
