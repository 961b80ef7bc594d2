/**
 * HTTP/2 at the router: h2c prior knowledge on the plain edge port (which still serves
 * HTTP/1.1), and `protocol: h2c` services (gRPC-style) proxied over HTTP/2 cleartext with
 * trailers passed back.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connect, createServer as createH2Server, type Http2Server, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { Router } from '../../src/router/router.js';
import { compileSnapshot } from '../../src/routing/compile.js';
import type { RouteTable } from '../../src/routing/types.js';
import { endpoint, rawRequest, startUpstream, type Upstream } from './helpers.js';

interface H2Reply { status: number; headers: IncomingHttpHeaders; trailers: IncomingHttpHeaders | undefined; body: Buffer }

/** One request over a fresh h2c prior-knowledge session. */
function h2Request(port: number, headers: Record<string, string>, body?: Buffer): Promise<H2Reply> {
  return new Promise((resolve, reject) => {
    const session = connect(`http://127.0.0.1:${port}`);
    session.on('error', reject);
    const req = session.request(headers, { endStream: body === undefined });
    let head: IncomingHttpHeaders = {};
    let trailers: IncomingHttpHeaders | undefined;
    const chunks: Buffer[] = [];
    req.on('response', (h) => { head = h; });
    req.on('trailers', (t) => { trailers = t; });
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => { session.close(); resolve({ status: Number(head[':status']), headers: head, trailers, body: Buffer.concat(chunks) }); });
    req.on('error', reject);
    if (body !== undefined) req.end(body);
  });
}

interface H2Upstream { server: Http2Server; port: number; seen: IncomingHttpHeaders[]; close(): Promise<void> }

/** An h2c (prior knowledge) upstream answering gRPC-style: body, then trailers grpc-status/grpc-message. */
async function startGrpcUpstream(name: string): Promise<H2Upstream> {
  const seen: IncomingHttpHeaders[] = [];
  const server = createH2Server();
  server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
    seen.push(headers);
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'x-upstream': name }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0', 'grpc-message': 'ok' }));
      stream.end(Buffer.concat([Buffer.from(`${name}:`), ...chunks]));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  return { server, port, seen, close: () => new Promise<void>((r) => server.close(() => r())) };
}

describe('router: HTTP/2', () => {
  let h1: Upstream;
  let grpcBase: H2Upstream;
  let grpcPreview: H2Upstream;
  let router: Router;
  let edge: number;
  /** Requests to /hang that reached the upstream, and whether each was closed (cancelled). */
  const hanging: { closed: boolean }[] = [];

  beforeAll(async () => {
    h1 = await startUpstream((req, res) => {
      if (req.url === '/hang') { const h = { closed: false }; hanging.push(h); req.on('close', () => { h.closed = true; }); return; }
      if (req.method === 'POST') {
        let n = 0;
        req.on('data', (c: Buffer) => { n += c.length; });
        req.on('end', () => res.writeHead(200, { 'content-type': 'text/plain' }).end(`got ${n}`));
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain', 'x-seen-host': req.headers.host ?? '', 'x-seen-env': String(req.headers['x-switchyard-env']) });
      res.end(`h1 ${req.method} ${req.url}`);
    });
    grpcBase = await startGrpcUpstream('base');
    grpcPreview = await startGrpcUpstream('preview');
    const table: RouteTable = {
      version: 1, domain: 'app.localhost', routingHeader: 'x-switchyard-env',
      services: [
        { name: 'web', public: ['/'], stripPrefix: false },
        { name: 'greeter', public: ['/helloworld.Greeter'], stripPrefix: false, protocol: 'h2c' },
      ],
      environments: [
        { name: 'base', kind: 'base', hosts: [], services: { web: [endpoint('base/web/0', h1.port)], greeter: [endpoint('base/greeter/0', grpcBase.port)] } },
        { name: 'pr-1', kind: 'preview', hosts: [], services: { greeter: [endpoint('pr-1/greeter/0', grpcPreview.port)] } },
        { name: 'pr-2', kind: 'preview', hosts: [], services: {} },
      ],
    };
    router = new Router();
    router.setSnapshot(compileSnapshot(table));
    edge = await router.listenEdge(0);
  });

  afterAll(async () => {
    await router.close(200);
    await Promise.all([h1.close(), grpcBase.close(), grpcPreview.close()]);
  });

  afterEach(() => { grpcBase.seen.length = 0; grpcPreview.seen.length = 0; });

  it('serves an h2c prior-knowledge client on the edge port (HTTP/1.1 upstream)', async () => {
    const r = await h2Request(edge, { ':method': 'GET', ':path': '/hello?x=1', ':authority': 'app.localhost' });
    expect(r.status).toBe(200);
    expect(r.body.toString()).toBe('h1 GET /hello?x=1');
    expect(r.headers['x-seen-host']).toBe('app.localhost');
    expect(r.headers['x-seen-env']).toBe('base');
    expect(r.headers['x-request-id']).toBeTruthy();
  });

  it('an HTTP/2 client that goes away: the router closes its side and cancels the upstream request', async () => {
    const client = connect(`http://127.0.0.1:${edge}`);
    client.on('error', () => undefined);
    const req = client.request({ ':method': 'GET', ':path': '/hang', ':authority': 'app.localhost' });
    req.on('error', () => undefined);
    const deadline = Date.now() + 5_000;
    while (hanging.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(hanging).toHaveLength(1);
    client.destroy(); // the TCP connection ends (FIN) with the request unanswered
    while (!hanging[0]!.closed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(hanging[0]!.closed).toBe(true);
  });

  it('a Host that disagrees with :authority → 400 (RFC 9113 §8.3.1); an equal one is fine', async () => {
    const bad = await h2Request(edge, { ':method': 'GET', ':path': '/x', ':authority': 'app.localhost', host: 'pr-1.app.localhost' });
    expect(bad.status).toBe(400);
    const same = await h2Request(edge, { ':method': 'GET', ':path': '/x', ':authority': 'app.localhost', host: 'APP.localhost' });
    expect(same.status).toBe(200);
  });

  it('streams an h2c client\'s request body to an HTTP/1.1 upstream', async () => {
    const r = await h2Request(edge, { ':method': 'POST', ':path': '/upload', ':authority': 'app.localhost' }, Buffer.alloc(1 << 20, 7));
    expect(r.status).toBe(200);
    expect(r.body.toString()).toBe(`got ${1 << 20}`);
  });

  it('does not speak h2c when turned off', async () => {
    const r2 = new Router();
    r2.setSnapshot(router.snapshot!);
    const p = await r2.listenEdge(0, '127.0.0.1', { h2c: false });
    try {
      await expect(h2Request(p, { ':method': 'GET', ':path': '/', ':authority': 'app.localhost' })).rejects.toThrow();
      const r = await rawRequest(p, 'GET /off HTTP/1.1\r\nHost: app.localhost\r\nConnection: close');
      expect(r.body.toString()).toBe('h1 GET /off');
    } finally {
      await r2.close(200);
    }
  });

  it('still serves HTTP/1.1 on the same port', async () => {
    const r = await rawRequest(edge, 'GET /plain HTTP/1.1\r\nHost: app.localhost\r\nConnection: close');
    expect(r.status).toBe(200);
    expect(r.body.toString()).toBe('h1 GET /plain');
  });

  it('serves HTTP/1.1 when the first bytes arrive one at a time', async () => {
    const { connect: tcp } = await import('node:net');
    const res = await new Promise<string>((resolve, reject) => {
      const s = tcp(edge, '127.0.0.1');
      const out: Buffer[] = [];
      s.on('connect', async () => {
        for (const ch of 'PR') { s.write(ch); await new Promise((r) => setTimeout(r, 20)); }
        s.write('OPFIND / HTTP/1.1\r\nHost: app.localhost\r\nConnection: close\r\n\r\n');
      });
      s.on('data', (c: Buffer) => out.push(c));
      s.on('close', () => resolve(Buffer.concat(out).toString('latin1')));
      s.on('error', reject);
    });
    expect(res).toMatch(/^HTTP\/1\.1 200/);
    expect(res).toContain('h1 PROPFIND /');
  });

  it('passes a gRPC-style exchange to an h2c upstream with body and trailers', async () => {
    const r = await h2Request(edge, {
      ':method': 'POST', ':path': '/helloworld.Greeter/SayHello', ':authority': 'app.localhost',
      'content-type': 'application/grpc', te: 'trailers',
    }, Buffer.from('ping'));
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/grpc');
    expect(r.headers['x-upstream']).toBe('base');
    expect(r.body.toString()).toBe('base:ping');
    expect(r.trailers?.['grpc-status']).toBe('0');
    expect(r.trailers?.['grpc-message']).toBe('ok');
    const seen = grpcBase.seen[0]!;
    expect(seen.te).toBe('trailers');
    expect(seen[':authority']).toBe('app.localhost');
    expect(seen[':path']).toBe('/helloworld.Greeter/SayHello');
    expect(seen['x-switchyard-env']).toBe('base');
    expect(seen['x-forwarded-proto']).toBe('http');
  });

  it('routes an h2 service to the preview\'s own upstream, else to base\'s', async () => {
    const req = (env: string) => h2Request(edge, {
      ':method': 'POST', ':path': '/helloworld.Greeter/SayHello', ':authority': 'app.localhost',
      'content-type': 'application/grpc', te: 'trailers', 'x-switchyard-env': env,
    }, Buffer.from(env));
    const own = await req('pr-1');
    expect(own.body.toString()).toBe('preview:pr-1');
    expect(own.trailers?.['grpc-status']).toBe('0');
    expect(grpcPreview.seen[0]!['x-switchyard-env']).toBe('pr-1');
    const fallback = await req('pr-2');
    expect(fallback.body.toString()).toBe('base:pr-2');
    expect(fallback.trailers?.['grpc-message']).toBe('ok');
    expect(grpcBase.seen[0]!['x-switchyard-env']).toBe('pr-2');
  });

  it('gives an HTTP/1.1 client the h2 service\'s response and trailers (chunked)', async () => {
    const { request } = await import('node:http');
    const r = await new Promise<{ status: number; body: string; trailers: NodeJS.Dict<string> }>((resolve, reject) => {
      const q = request({ port: edge, host: '127.0.0.1', method: 'POST', path: '/helloworld.Greeter/SayHello', headers: { host: 'app.localhost', 'content-type': 'application/grpc', te: 'trailers' }, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => { body += c; });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, trailers: res.trailers }));
        res.on('error', reject);
      });
      q.on('error', reject);
      q.end('hi');
    });
    expect(r.status).toBe(200);
    expect(r.body).toBe('base:hi');
    expect(r.trailers['grpc-status']).toBe('0');
    expect(r.trailers['grpc-message']).toBe('ok');
  });

  it('answers 502 when the h2c upstream is down', async () => {
    const dead = await startGrpcUpstream('dead');
    const port = dead.port;
    await dead.close();
    const r2 = new Router();
    r2.setSnapshot(compileSnapshot({
      version: 1, domain: 'app.localhost', routingHeader: 'x-switchyard-env',
      services: [{ name: 'g', public: ['/'], stripPrefix: false, protocol: 'h2c' }],
      environments: [{ name: 'base', kind: 'base', hosts: [], services: { g: [endpoint('base/g/0', port)] } }],
    }));
    const p = await r2.listenEdge(0);
    try {
      const r = await h2Request(p, { ':method': 'GET', ':path': '/x', ':authority': 'app.localhost', accept: 'application/json' });
      expect(r.status).toBe(502);
      expect(JSON.parse(r.body.toString()).code).toBe('SWY_UPSTREAM_CONNECT');
    } finally {
      await r2.close(200);
    }
  });
});
