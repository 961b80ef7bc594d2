/**
 * Shared helpers of the router tests: tiny real upstream servers, a raw-socket HTTP client
 * (exact control of the bytes, e.g. no Host header), and snapshot building.
 */
import { createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { compileSnapshot } from '../../src/routing/compile.js';
import type { EndpointRoute, RouteTable, Snapshot } from '../../src/routing/types.js';

export interface Upstream {
  server: Server;
  port: number;
  /** Requests received (counted when the head arrives). */
  hits: number;
  close(): Promise<void>;
}

/** Starts a node:http server on 127.0.0.1:0. */
export async function startUpstream(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Upstream> {
  const u = { hits: 0 } as Upstream;
  const server = createServer((req, res) => { u.hits++; handler(req, res); });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  u.server = server;
  u.port = (server.address() as AddressInfo).port;
  u.close = () => closeServer(server);
  return u;
}

export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) { resolve(); return; }
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** A port on 127.0.0.1 nothing listens on (bound, then released). */
export async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export function endpoint(id: string, port: number, ready = true): EndpointRoute {
  return { id, host: '127.0.0.1', port, ready };
}

/** A one-service table (`app` at `/`) whose base runs the given endpoints. */
export function oneServiceTable(version: number, endpoints: EndpointRoute[]): RouteTable {
  return {
    version,
    domain: 'app.localhost',
    routingHeader: 'x-switchyard-env',
    services: [{ name: 'app', public: ['/'], stripPrefix: false }],
    environments: [{ name: 'base', kind: 'base', hosts: [], services: { app: endpoints } }],
  };
}

export function oneServiceSnapshot(version: number, ports: number[]): Snapshot {
  return compileSnapshot(oneServiceTable(version, ports.map((p, i) => endpoint(`base/app/${i}`, p))));
}

export interface RawResponse {
  status: number;
  /** Lower-case names; repeated fields joined with `, `. */
  headers: Record<string, string>;
  body: Buffer;
}

/**
 * Sends `head` (request line + header lines, no final blank line) and `body` over a fresh TCP
 * connection, reads until the server closes, and parses one response (content-length, chunked
 * or read-to-close bodies). Use `Connection: close` or HTTP/1.0.
 */
export function rawRequest(port: number, head: string, body?: Buffer | string): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const sock: Socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    sock.on('connect', () => {
      sock.write(head + '\r\n\r\n');
      if (body !== undefined) sock.write(body);
    });
    sock.on('data', (c: Buffer) => chunks.push(c));
    sock.on('error', reject);
    sock.on('close', () => {
      try { resolve(parseResponse(Buffer.concat(chunks))); } catch (e) { reject(e); }
    });
    sock.setTimeout(10_000, () => { sock.destroy(new Error('raw request timed out')); });
  });
}

export function parseResponse(buf: Buffer): RawResponse {
  let start = 0;
  for (;;) {
    const end = buf.indexOf('\r\n\r\n', start);
    if (end === -1) throw new Error(`incomplete response: ${JSON.stringify(buf.toString('latin1').slice(0, 200))}`);
    const lines = buf.subarray(start, end).toString('latin1').split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]!);
    if (!m) throw new Error(`bad status line: ${lines[0]}`);
    const status = Number(m[1]);
    const headers: Record<string, string> = {};
    for (const l of lines.slice(1)) {
      const i = l.indexOf(':');
      const k = l.slice(0, i).trim().toLowerCase();
      const v = l.slice(i + 1).trim();
      headers[k] = headers[k] === undefined ? v : `${headers[k]}, ${v}`;
    }
    const rest = buf.subarray(end + 4);
    if (status >= 100 && status < 200 && status !== 101) { start = end + 4; continue; } // interim response
    let body: Buffer;
    if (headers['transfer-encoding']?.toLowerCase().includes('chunked')) body = dechunk(rest);
    else if (headers['content-length'] !== undefined) body = rest.subarray(0, Number(headers['content-length']));
    else body = rest;
    return { status, headers, body };
  }
}

function dechunk(buf: Buffer): Buffer {
  const out: Buffer[] = [];
  let pos = 0;
  for (;;) {
    const eol = buf.indexOf('\r\n', pos);
    if (eol === -1) throw new Error('truncated chunked body');
    const size = parseInt(buf.subarray(pos, eol).toString('latin1').split(';')[0]!, 16);
    if (size === 0) return Buffer.concat(out);
    out.push(buf.subarray(eol + 2, eol + 2 + size));
    pos = eol + 2 + size + 2;
  }
}

/** Parses a problem+json body. */
export function problemOf(r: RawResponse): Record<string, unknown> {
  expectContentType(r, 'application/problem+json');
  return JSON.parse(r.body.toString('utf8')) as Record<string, unknown>;
}

function expectContentType(r: RawResponse, type: string): void {
  if (!(r.headers['content-type'] ?? '').startsWith(type)) {
    throw new Error(`expected ${type}, got ${r.status} ${r.headers['content-type']}: ${r.body.toString('utf8').slice(0, 300)}`);
  }
}

export interface HttpResult { status: number; headers: IncomingHttpHeaders; body: Buffer }

/**
 * One request on a fresh connection (node:http client, Host `app.localhost`, Accept JSON);
 * `body` may be a Buffer, a string or a stream (then chunked unless content-length is set).
 * Fails after 15 s without an answer.
 */
export function send(port: number, opts: { method?: string; path?: string; headers?: Record<string, string>; body?: Buffer | string | Readable } = {}): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({
      host: '127.0.0.1', port, method: opts.method ?? 'GET', path: opts.path ?? '/', agent: false,
      headers: { host: 'app.localhost', accept: 'application/json', ...opts.headers },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(15_000, () => req.destroy(new Error(`no response within 15 s: ${opts.method ?? 'GET'} ${opts.path ?? '/'}`)));
    const b = opts.body;
    if (b instanceof Readable) b.pipe(req);
    else req.end(b);
  });
}

/** The JSON body of a response. */
export const json = (r: HttpResult) => JSON.parse(r.body.toString('utf8')) as Record<string, unknown>;
