/**
 * Strict HTTP/1.1 at the edge, over raw sockets, against the Router's public API only (so it
 * tests whichever engine is inside):
 * - smuggling and malformed heads (CL+TE, conflicting or signed Content-Length, Transfer-Encoding
 *   other than a final `chunked`, obs-fold, bare LF, NUL, whitespace before a colon, Host
 *   problems, absolute-form disagreeing with Host) → 400, the connection closed, and not one
 *   byte at the upstream;
 * - a bad or oversize chunk-size line mid-body → 400 (no response had started), the connection
 *   closed, and no byte after it at the upstream (which never sees a complete request);
 * - limits and timeouts: 431 (head size, field count), 413 (body), 408 (slow head), 502, 504,
 *   499 in the access log, idle keep-alive close;
 * - positive controls: chunked upload, pipelining in order, HTTP/1.0, Expect: 100-continue.
 *
 * The upstream is a raw `net` server that counts every byte it receives and answers each complete
 * request (Content-Length or chunked) with `200` and `<method> <target> <body bytes>`, so "nothing
 * reaches an upstream" is checked at the byte level. Every exchange reads until the server closes
 * (or a deadline: a hang is a failure).
 */
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, test } from 'vitest';
import type { AccessLog, AccessLogEntry } from '../../src/edge/access-log.js';
import { Router, type RouterOptions } from '../../src/router/router.js';
import { deadPort, oneServiceSnapshot } from './helpers.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// The counting upstream

interface UpstreamRequest { method: string; target: string; head: string; body: Buffer }

interface CountingUpstream {
  port: number;
  /** Every byte received, all connections. */
  bytes: number;
  /** All bytes received, as latin1 text (for "must never contain" checks). */
  text(): string;
  /** Complete requests received (head and whole body). */
  requests: UpstreamRequest[];
  close(): Promise<void>;
}

/**
 * `answer`: 200 to each complete request, in order per connection (`/slow…` waits 200 ms first,
 * `/chunked…` answers with a chunked body). `silent`: reads and counts, never answers.
 */
async function countingUpstream(mode: 'answer' | 'silent' = 'answer'): Promise<CountingUpstream> {
  const received: Buffer[] = [];
  const sockets = new Set<Socket>();
  const u: CountingUpstream = {
    port: 0, bytes: 0, requests: [],
    text: () => Buffer.concat(received).toString('latin1'),
    close: () => new Promise<void>((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }),
  };
  const server: Server = createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => undefined);
    let buf = Buffer.alloc(0);
    let answering = Promise.resolve();
    sock.on('data', (c: Buffer) => {
      u.bytes += c.length;
      received.push(c);
      buf = Buffer.concat([buf, c]);
      for (;;) {
        const r = takeRequest(buf);
        if (r === undefined) break;
        if (r === 'bad') { sock.destroy(); return; }
        buf = buf.subarray(r.used);
        u.requests.push(r.req);
        if (mode === 'silent') continue;
        const req = r.req;
        answering = answering.then(async () => {
          if (req.target.startsWith('/slow')) await sleep(200);
          const text = `${req.method} ${req.target} ${req.body.length}`;
          if (sock.destroyed) return;
          if (req.target.startsWith('/chunked')) {
            sock.write(`HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n${text.length.toString(16)}\r\n${text}\r\n0\r\n\r\n`);
          } else {
            sock.write(`HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: ${text.length}\r\n\r\n${text}`);
          }
        });
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  u.port = (server.address() as AddressInfo).port;
  upstreams.push(u);
  return u;
}

/** One complete request from the front of `buf`; undefined while incomplete; 'bad' when unparsable. */
function takeRequest(buf: Buffer): { req: UpstreamRequest; used: number } | 'bad' | undefined {
  const end = buf.indexOf('\r\n\r\n');
  if (end === -1) return undefined;
  const head = buf.subarray(0, end).toString('latin1');
  const lines = head.split('\r\n');
  const [method, target] = lines[0]!.split(' ');
  const fields = new Map<string, string>();
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    if (i <= 0) return 'bad';
    fields.set(l.slice(0, i).trim().toLowerCase(), l.slice(i + 1).trim());
  }
  let pos = end + 4;
  let body: Buffer;
  if ((fields.get('transfer-encoding') ?? '').toLowerCase() === 'chunked') {
    const parts: Buffer[] = [];
    for (;;) {
      const eol = buf.indexOf('\r\n', pos);
      if (eol === -1) return undefined;
      const line = buf.subarray(pos, eol).toString('latin1').split(';')[0]!.trim();
      if (!/^[0-9a-fA-F]{1,8}$/.test(line)) return 'bad';
      const size = parseInt(line, 16);
      if (size === 0) {
        const t = buf.indexOf('\r\n\r\n', eol);
        const tEnd = buf.subarray(eol, eol + 4).toString('latin1') === '\r\n\r\n' ? eol + 4 : t === -1 ? -1 : t + 4;
        if (tEnd === -1) return undefined;
        pos = tEnd;
        break;
      }
      if (buf.length < eol + 2 + size + 2) return undefined;
      parts.push(buf.subarray(eol + 2, eol + 2 + size));
      pos = eol + 2 + size + 2;
    }
    body = Buffer.concat(parts);
  } else {
    const n = Number(fields.get('content-length') ?? '0');
    if (buf.length < pos + n) return undefined;
    body = buf.subarray(pos, pos + n);
    pos += n;
  }
  return { req: { method: method ?? '', target: target ?? '', head, body: Buffer.from(body) }, used: pos };
}

// ---------------------------------------------------------------------------------------------
// Router and raw exchanges

const routers: Router[] = [];
const upstreams: CountingUpstream[] = [];
const sockets: Socket[] = [];

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(routers.splice(0).map((r) => r.close(200)));
  await Promise.all(upstreams.splice(0).map((u) => u.close()));
});

/**
 * Router options, with the limits being added alongside the new engine (`maxHeaderFields`,
 * `headTimeoutMs`, `keepAliveTimeoutMs`): typed loosely so this file compiles before and after.
 */
interface StrictOptions {
  limits?: { maxBodyBytes?: number; maxHeaderBytes?: number; maxHeaderFields?: number; headTimeoutMs?: number; keepAliveTimeoutMs?: number };
  timeouts?: RouterOptions['timeouts'];
  accessLog?: AccessLog;
}

async function edge(ports: number[], options: StrictOptions = {}): Promise<number> {
  const router = new Router(options as RouterOptions);
  routers.push(router);
  router.setSnapshot(oneServiceSnapshot(1, ports));
  return router.listenEdge(0);
}

type Step = string | Buffer | { wait: number } | { until: (received: Buffer) => boolean; ms?: number };

interface Exchange {
  data: Buffer;
  /** How the connection ended: the server closed it (`end`), reset it (`reset`), or it was still open at the deadline. */
  ended: 'end' | 'reset' | 'timeout';
  /** From connect to the end (ms). */
  ms: number;
  responses: Resp[];
  /** Why the received bytes are not a well-formed sequence of responses, if they are not. */
  parseError?: string;
}

/**
 * Connects to 127.0.0.1:port, runs the steps (writes, pauses, waits for received bytes) and
 * reads until the server closes the connection or `deadlineMs` passes. Never half-closes: the
 * server must close by itself.
 */
async function exchange(port: number, steps: Step[], deadlineMs = 5_000): Promise<Exchange> {
  const t0 = performance.now();
  const sock = connect(port, '127.0.0.1');
  sockets.push(sock);
  const chunks: Buffer[] = [];
  let closed = false;
  let reset = false;
  let onData: (() => void) | undefined;
  sock.on('data', (c: Buffer) => { chunks.push(c); onData?.(); });
  sock.on('error', () => { reset = true; }); // ECONNRESET, EPIPE: the server went away
  const done = new Promise<void>((r) => sock.on('close', () => { closed = true; onData?.(); r(); }));
  const deadline = sleep(deadlineMs).then(() => 'timeout' as const);
  await once(sock, 'connect');
  const run = (async () => {
    for (const s of steps) {
      if (closed) return;
      if (typeof s === 'string' || Buffer.isBuffer(s)) { sock.write(s); continue; }
      if ('wait' in s) { await sleep(s.wait); continue; }
      const until = performance.now() + (s.ms ?? 3_000);
      while (!closed && !s.until(Buffer.concat(chunks)) && performance.now() < until) {
        await new Promise<void>((r) => { onData = r; setTimeout(r, 20); });
        onData = undefined;
      }
    }
  })();
  const outcome = await Promise.race([done.then(() => 'closed' as const), deadline]);
  if (outcome === 'timeout') { closed = true; sock.destroy(); }
  await run.catch(() => undefined);
  const data = Buffer.concat(chunks);
  const x: Exchange = { data, ended: outcome === 'timeout' ? 'timeout' : reset ? 'reset' : 'end', ms: performance.now() - t0, responses: [] };
  try { x.responses = parseResponses(data); } catch (e) { x.parseError = (e as Error).message; }
  return x;
}

interface Resp { status: number; statusLine: string; headers: Record<string, string>; body: Buffer }

/** Every response in `buf`, interim ones included; throws on a malformed status line or framing. */
function parseResponses(buf: Buffer): Resp[] {
  const out: Resp[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const end = buf.indexOf('\r\n\r\n', pos);
    if (end === -1) throw new Error(`incomplete response head: ${JSON.stringify(buf.subarray(pos, pos + 200).toString('latin1'))}`);
    const lines = buf.subarray(pos, end).toString('latin1').split('\r\n');
    const statusLine = lines[0]!;
    const m = /^HTTP\/1\.[01] ([1-5]\d\d)(?: [\t\x20-\x7e\x80-\xff]*)?$/.exec(statusLine);
    if (!m) throw new Error(`malformed status line: ${JSON.stringify(statusLine)}`);
    const status = Number(m[1]);
    const headers: Record<string, string> = {};
    for (const l of lines.slice(1)) {
      const i = l.indexOf(':');
      if (i <= 0) throw new Error(`malformed response field: ${JSON.stringify(l)}`);
      const k = l.slice(0, i).toLowerCase();
      const v = l.slice(i + 1).trim();
      headers[k] = headers[k] === undefined ? v : `${headers[k]}, ${v}`;
    }
    pos = end + 4;
    let body: Buffer = Buffer.alloc(0);
    if (status >= 200 && status !== 204 && status !== 304) {
      if ((headers['transfer-encoding'] ?? '').toLowerCase() === 'chunked') {
        const parts: Buffer[] = [];
        for (;;) {
          const eol = buf.indexOf('\r\n', pos);
          if (eol === -1) throw new Error('truncated chunked response');
          const size = parseInt(buf.subarray(pos, eol).toString('latin1'), 16);
          if (Number.isNaN(size)) throw new Error('bad chunk size in a response');
          if (size === 0) { pos = buf.indexOf('\r\n\r\n', eol) + 4; break; }
          parts.push(buf.subarray(eol + 2, eol + 2 + size));
          pos = eol + 2 + size + 2;
        }
        body = Buffer.concat(parts);
      } else if (headers['content-length'] !== undefined) {
        const n = Number(headers['content-length']);
        if (buf.length < pos + n) throw new Error('truncated response body');
        body = buf.subarray(pos, pos + n);
        pos += n;
      } else {
        body = buf.subarray(pos);
        pos = buf.length;
      }
    }
    out.push({ status, statusLine, headers, body });
  }
  return out;
}

/** The final (non-1xx) responses; the bytes received must be well-formed responses. */
function finals(x: Exchange): Resp[] {
  expect(x.parseError, `malformed response bytes: ${JSON.stringify(x.data.toString('latin1').slice(0, 400))}`).toBeUndefined();
  return x.responses.filter((r) => r.status >= 200);
}

/** The connection was closed by the server (not left open until the deadline). */
function expectClosed(x: Exchange): void {
  expect(x.ended, `connection still open after the deadline; received ${JSON.stringify(x.data.toString('latin1').slice(0, 300))}`).not.toBe('timeout');
}

/** Exactly one final response, with one of `statuses`. */
function expectOneFinal(x: Exchange, statuses: number | number[]): Resp {
  const f = finals(x);
  expect(f.map((r) => r.status), `responses: ${JSON.stringify(x.data.toString('latin1').slice(0, 400))}`).toHaveLength(1);
  expect([statuses].flat()).toContain(f[0]!.status);
  return f[0]!;
}

// ---------------------------------------------------------------------------------------------
// Malformed heads: 400, closed, nothing at the upstream

const HOST = 'Host: app.localhost\r\n';
/** A second request hidden after the first: must never reach the upstream. */
const SMUGGLED = 'GET /smuggled HTTP/1.1\r\nHost: app.localhost\r\n\r\n';

interface Malformed { name: string; bytes: string; status?: number | number[] }

const MALFORMED: Malformed[] = [
  // framing (RFC 9112 §6.1, §6.3)
  { name: 'Content-Length and Transfer-Encoding (CL.TE)', bytes: `POST / HTTP/1.1\r\n${HOST}Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${SMUGGLED}` },
  { name: 'Transfer-Encoding and Content-Length (TE.CL)', bytes: `POST / HTTP/1.1\r\n${HOST}Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n2e\r\n${SMUGGLED}\r\n0\r\n\r\n` },
  { name: 'two different Content-Length fields', bytes: `POST / HTTP/1.1\r\n${HOST}Content-Length: 0\r\nContent-Length: ${SMUGGLED.length}\r\n\r\n${SMUGGLED}` },
  { name: 'a Content-Length list with different values', bytes: `POST / HTTP/1.1\r\n${HOST}Content-Length: 0, ${SMUGGLED.length}\r\n\r\n${SMUGGLED}` },
  { name: 'Content-Length: +5', bytes: `POST / HTTP/1.1\r\n${HOST}Content-Length: +5\r\n\r\nhello${SMUGGLED}` },
  { name: 'Content-Length: -1', bytes: `POST / HTTP/1.1\r\n${HOST}Content-Length: -1\r\n\r\n${SMUGGLED}` },
  { name: 'Content-Length: 0x5', bytes: `POST / HTTP/1.1\r\n${HOST}Content-Length: 0x5\r\n\r\nhello${SMUGGLED}` },
  { name: 'Content-Length with inner space "1 0"', bytes: `POST / HTTP/1.1\r\n${HOST}Content-Length: 1 0\r\n\r\n0123456789${SMUGGLED}` },
  { name: 'Transfer-Encoding: gzip (no chunked)', bytes: `POST / HTTP/1.1\r\n${HOST}Transfer-Encoding: gzip\r\n\r\n${SMUGGLED}` },
  { name: 'Transfer-Encoding: chunked, gzip (chunked not final)', bytes: `POST / HTTP/1.1\r\n${HOST}Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n${SMUGGLED}` },
  { name: 'Transfer-Encoding: chunked then a second field identity', bytes: `POST / HTTP/1.1\r\n${HOST}Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n${SMUGGLED}` },
  { name: 'Transfer-Encoding: xchunked', bytes: `POST / HTTP/1.1\r\n${HOST}Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n${SMUGGLED}` },
  { name: 'Transfer-Encoding: "chunked" (quoted)', bytes: `POST / HTTP/1.1\r\n${HOST}Transfer-Encoding: "chunked"\r\n\r\n0\r\n\r\n${SMUGGLED}` },
  // chunked is final here, but gzip is an unsupported coding: 400 or 501 (RFC 9112 §6.1), refused either way
  { name: 'Transfer-Encoding: gzip, chunked (unsupported coding)', bytes: `POST / HTTP/1.1\r\n${HOST}Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n${SMUGGLED}`, status: [400, 501] },
  // Connection naming a framing or routing field (RFC 9110 §7.6.1): honouring it would forward the body unframed
  { name: 'Connection: content-length (the body would become the next request)', bytes: `POST /first HTTP/1.1\r\n${HOST}Connection: content-length\r\nContent-Length: ${SMUGGLED.length}\r\n\r\n${SMUGGLED}` },
  { name: 'Connection: keep-alive, Transfer-Encoding', bytes: `POST / HTTP/1.1\r\n${HOST}Connection: keep-alive, Transfer-Encoding\r\nTransfer-Encoding: chunked\r\n\r\n2e\r\n${SMUGGLED}\r\n0\r\n\r\n` },
  { name: 'Connection: host', bytes: `GET / HTTP/1.1\r\n${HOST}Connection: host\r\n\r\n${SMUGGLED}` },
  // obs-fold (RFC 9112 §5.2)
  { name: 'obs-fold of Transfer-Encoding', bytes: `POST / HTTP/1.1\r\n${HOST}Transfer-Encoding:\r\n chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n${SMUGGLED}` },
  { name: 'obs-fold of an ordinary field', bytes: `GET / HTTP/1.1\r\n${HOST}X-Long: first\r\n\tsecond\r\n\r\n${SMUGGLED}` },
  // bare LF (RFC 9112 §2.2)
  { name: 'bare LF everywhere', bytes: `GET / HTTP/1.1\nHost: app.localhost\n\n${SMUGGLED}` },
  { name: 'bare LF after the request line', bytes: `GET / HTTP/1.1\n${HOST}\r\n${SMUGGLED}` },
  { name: 'bare LF after one field', bytes: `GET / HTTP/1.1\r\n${HOST}X-A: 1\nX-B: 2\r\n\r\n${SMUGGLED}` },
  { name: 'bare LF inside a field value ending the head', bytes: `POST / HTTP/1.1\r\n${HOST}Content-Length: 0\r\nX-A: 1\n\n${SMUGGLED}` },
  // NUL and whitespace before the colon (RFC 9112 §5.1, RFC 9110 §5.5)
  { name: 'NUL in a field value', bytes: `GET / HTTP/1.1\r\n${HOST}X-A: a\0b\r\n\r\n${SMUGGLED}` },
  { name: 'NUL in a field name', bytes: `GET / HTTP/1.1\r\n${HOST}X-\0A: b\r\n\r\n${SMUGGLED}` },
  { name: 'NUL in the request target', bytes: `GET /a\0b HTTP/1.1\r\n${HOST}\r\n${SMUGGLED}` },
  { name: 'CR alone inside a field value', bytes: `GET / HTTP/1.1\r\n${HOST}X-A: a\rb\r\n\r\n${SMUGGLED}` },
  { name: 'space before the colon (Transfer-Encoding)', bytes: `POST / HTTP/1.1\r\n${HOST}Transfer-Encoding : chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n${SMUGGLED}` },
  { name: 'space before the colon (ordinary field)', bytes: `GET / HTTP/1.1\r\n${HOST}X-Test : 1\r\n\r\n${SMUGGLED}` },
  { name: 'tab before the colon', bytes: `GET / HTTP/1.1\r\n${HOST}X-Test\t: 1\r\n\r\n${SMUGGLED}` },
  { name: 'a field line without a colon', bytes: `GET / HTTP/1.1\r\n${HOST}X-Test 1\r\n\r\n${SMUGGLED}` },
  // Host (RFC 9112 §3.2)
  { name: 'two Host fields (different)', bytes: `GET / HTTP/1.1\r\n${HOST}Host: other.localhost\r\n\r\n${SMUGGLED}` },
  { name: 'two Host fields (identical)', bytes: `GET / HTTP/1.1\r\n${HOST}${HOST}\r\n${SMUGGLED}` },
  { name: 'HTTP/1.1 without Host', bytes: `GET / HTTP/1.1\r\nX-A: 1\r\n\r\n${SMUGGLED}` },
  { name: 'Host with an invalid value (path)', bytes: `GET / HTTP/1.1\r\nHost: app.localhost/evil\r\n\r\n${SMUGGLED}` },
  { name: 'Host with an invalid value (space)', bytes: `GET / HTTP/1.1\r\nHost: app.localhost evil\r\n\r\n${SMUGGLED}` },
  // absolute-form (RFC 9112 §3.2.2): its authority must agree with Host
  { name: 'absolute-form with another host than Host', bytes: `GET http://evil.localhost/ HTTP/1.1\r\n${HOST}\r\n${SMUGGLED}` },
  { name: 'absolute-form with another port than Host', bytes: `GET http://app.localhost:8081/ HTTP/1.1\r\n${HOST}\r\n${SMUGGLED}` },
  // request line
  { name: 'two spaces in the request line', bytes: `GET  / HTTP/1.1\r\n${HOST}\r\n${SMUGGLED}` },
  { name: 'lower-case HTTP version', bytes: `GET / http/1.1\r\n${HOST}\r\n${SMUGGLED}` },
];

describe('malformed and ambiguous requests: 400, connection closed, nothing reaches the upstream', () => {
  test.each(MALFORMED)('$name', async ({ bytes, status }) => {
    const up = await countingUpstream();
    const port = await edge([up.port]);
    const x = await exchange(port, [bytes]);
    expectClosed(x);
    expectOneFinal(x, status ?? 400);
    await sleep(50); // anything forwarded late would show now
    expect(up.bytes, `the upstream received ${JSON.stringify(up.text().slice(0, 300))}`).toBe(0);
  });

  test('control: the same raw client and upstream see a valid request (the counter counts)', async () => {
    const up = await countingUpstream();
    const port = await edge([up.port]);
    const x = await exchange(port, [`GET /ok HTTP/1.1\r\n${HOST}Connection: close\r\n\r\n`]);
    expectClosed(x);
    const r = expectOneFinal(x, 200);
    expect(r.body.toString()).toBe('GET /ok 0');
    expect(up.bytes).toBeGreaterThan(0);
    expect(up.requests.map((q) => q.target)).toEqual(['/ok']);
  });

  test('control: absolute-form agreeing with Host is served, and the upstream gets origin-form', async () => {
    const up = await countingUpstream();
    const port = await edge([up.port]);
    const x = await exchange(port, [`GET http://app.localhost/abs?q=1 HTTP/1.1\r\n${HOST}Connection: close\r\n\r\n`]);
    expectClosed(x);
    expectOneFinal(x, 200);
    expect(up.requests.map((q) => q.target)).toEqual(['/abs?q=1']);
  });

  test('control: a Content-Length body followed by a pipelined request: both answered, in order', async () => {
    const up = await countingUpstream();
    const port = await edge([up.port]);
    const x = await exchange(port, [`POST /a HTTP/1.1\r\n${HOST}Content-Length: 5\r\n\r\nhelloGET /b HTTP/1.1\r\n${HOST}Connection: close\r\n\r\n`]);
    expectClosed(x);
    expect(finals(x).map((r) => r.body.toString())).toEqual(['POST /a 5', 'GET /b 0']);
  });
});

// ---------------------------------------------------------------------------------------------
// Bad chunk-size lines mid-body

const AFTER = '6\r\nAFTER!\r\n0\r\n\r\n';

const BAD_CHUNKS: { name: string; line: string }[] = [
  { name: 'non-hex chunk size', line: 'zz\r\n' },
  { name: 'chunk size that overflows 64 bits', line: 'FFFFFFFFFFFFFFFFFFFF\r\n' },
  { name: 'negative chunk size', line: '-1\r\n' },
  { name: 'chunk size with a 0x prefix', line: '0x5\r\nhello\r\n' },
  { name: 'chunk size with a sign', line: '+5\r\nhello\r\n' },
  { name: 'oversize chunk-size line (70 KB extension)', line: `5;ext=${'q'.repeat(70_000)}\r\nhello\r\n` },
  { name: 'bare LF after the chunk size', line: '5\nhello\r\n' },
  { name: 'chunk data not followed by CRLF', line: '5\r\nhello##\r\n' },
  { name: 'NUL in the chunk-size line', line: '5\0\r\nhello\r\n' },
  { name: 'Content-Length in the trailer section (RFC 9110 §6.5.1)', line: '0\r\nContent-Length: 5\r\n\r\n' },
  { name: 'Host in the trailer section', line: '0\r\nHost: evil.example\r\n\r\n' },
];

describe('a bad chunk-size line mid-body aborts the request', () => {
  test.each(BAD_CHUNKS)('$name → 400, closed, nothing after it reaches the upstream', async ({ line }) => {
    const up = await countingUpstream();
    const port = await edge([up.port]);
    const x = await exchange(port, [
      `POST /upload HTTP/1.1\r\n${HOST}Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n`,
      { wait: 150 }, // the head and the first chunk may be on their way upstream by now
      line + AFTER + SMUGGLED,
    ]);
    expectClosed(x);
    expectOneFinal(x, 400); // the upstream never answered (it waits for the whole body): nothing had started
    await sleep(100);
    const seen = up.text();
    expect(seen).not.toContain('smuggled');
    expect(seen).not.toContain('AFTER!');
    expect(seen).not.toContain('qqqqqqqq');
    expect(seen).not.toContain('##');
    expect(seen).not.toMatch(/content-length: 5|evil\.example/i);
    expect(up.requests, 'the upstream must not see a complete (truncated) request').toHaveLength(0);
  });

  test('control: a valid chunked upload (extensions, several chunks, a trailer-less end) is forwarded whole', async () => {
    const up = await countingUpstream();
    const port = await edge([up.port]);
    const x = await exchange(port, [
      `POST /upload HTTP/1.1\r\n${HOST}Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n`,
      { wait: 50 },
      '1;name=value\r\n \r\n',
      { wait: 50 },
      'A\r\n0123456789\r\n0\r\n\r\n',
    ]);
    expectClosed(x);
    expect(expectOneFinal(x, 200).body.toString()).toBe('POST /upload 16');
    expect(up.requests).toHaveLength(1);
    expect(up.requests[0]!.body.toString()).toBe('hello 0123456789');
  });
});

// ---------------------------------------------------------------------------------------------
// Limits and timeouts

describe('limits and timeouts', () => {
  test('a head over maxHeaderBytes → 431, closed, nothing upstream', async () => {
    const up = await countingUpstream();
    const port = await edge([up.port], { limits: { maxHeaderBytes: 4096 } });
    const x = await exchange(port, [`GET / HTTP/1.1\r\n${HOST}X-Big: ${'a'.repeat(8_000)}\r\n\r\n`]);
    expectClosed(x);
    expectOneFinal(x, 431);
    await sleep(50);
    expect(up.bytes).toBe(0);
  });

  test('control: a head just under maxHeaderBytes is served', async () => {
    const up = await countingUpstream();
    const port = await edge([up.port], { limits: { maxHeaderBytes: 4096 } });
    const x = await exchange(port, [`GET / HTTP/1.1\r\n${HOST}Connection: close\r\nX-Big: ${'a'.repeat(3_000)}\r\n\r\n`]);
    expectClosed(x);
    expectOneFinal(x, 200);
  });

  test('more header fields than maxHeaderFields → 431, closed, nothing upstream', async () => {
    const up = await countingUpstream();
    const port = await edge([up.port], { limits: { maxHeaderFields: 20 } });
    const fields = Array.from({ length: 30 }, (_, i) => `X-F${i}: ${i}\r\n`).join('');
    const x = await exchange(port, [`GET / HTTP/1.1\r\n${HOST}${fields}\r\n`]);
    expectClosed(x);
    expectOneFinal(x, 431);
    await sleep(50);
    expect(up.bytes).toBe(0);
  });

  test('more than the default 100 header fields → 431', async () => {
    const up = await countingUpstream();
    const port = await edge([up.port]);
    const fields = Array.from({ length: 120 }, (_, i) => `X-F${i}: ${i}\r\n`).join('');
    const x = await exchange(port, [`GET / HTTP/1.1\r\n${HOST}${fields}\r\n`]);
    expectClosed(x);
    expectOneFinal(x, 431);
    expect(up.bytes).toBe(0);
  });

  test('control: fields within maxHeaderFields are served', async () => {
    const up = await countingUpstream();
    const port = await edge([up.port], { limits: { maxHeaderFields: 20 } });
    const fields = Array.from({ length: 15 }, (_, i) => `X-F${i}: ${i}\r\n`).join('');
    const x = await exchange(port, [`GET / HTTP/1.1\r\n${HOST}Connection: close\r\n${fields}\r\n`]);
    expectClosed(x);
    expectOneFinal(x, 200);
  });

  test('a declared body over maxBodyBytes → 413 up front, closed, nothing upstream', async () => {
    const up = await countingUpstream();
    const port = await edge([up.port], { limits: { maxBodyBytes: 1000 } });
    const x = await exchange(port, [`POST / HTTP/1.1\r\n${HOST}Content-Length: 5000\r\n\r\n`, 'x'.repeat(5000)]);
    expectClosed(x);
    expectOneFinal(x, 413);
    await sleep(50);
    expect(up.bytes).toBe(0);
  });

  test('a chunked body growing over maxBodyBytes → 413, closed, the upstream never sees a complete request', async () => {
    const up = await countingUpstream();
    const port = await edge([up.port], { limits: { maxBodyBytes: 1000 } });
    const chunk = `200\r\n${'y'.repeat(0x200)}\r\n`;
    const x = await exchange(port, [`POST / HTTP/1.1\r\n${HOST}Transfer-Encoding: chunked\r\n\r\n`, chunk, { wait: 50 }, chunk, { wait: 50 }, chunk, chunk, '0\r\n\r\n']);
    expectClosed(x);
    expectOneFinal(x, 413);
    await sleep(50);
    expect(up.requests).toHaveLength(0);
  });

  test('a chunk whose declared size takes the body over maxBodyBytes → 413 as soon as its size line arrives (no waiting for the data)', async () => {
    const up = await countingUpstream();
    const port = await edge([up.port], { limits: { maxBodyBytes: 1000 } });
    const x = await exchange(port, [`POST / HTTP/1.1\r\n${HOST}Transfer-Encoding: chunked\r\n\r\n10\r\n${'y'.repeat(16)}\r\n`, { wait: 50 }, '40000000\r\n', { until: (b) => b.includes('413') }]);
    expectClosed(x);
    expectOneFinal(x, 413);
    expect(x.ms).toBeLessThan(2_000); // not the body timeout
    await sleep(50);
    expect(up.text()).not.toContain('40000000');
    expect(up.requests).toHaveLength(0);
  });

  test('control: a body at exactly maxBodyBytes is served', async () => {
    const up = await countingUpstream();
    const port = await edge([up.port], { limits: { maxBodyBytes: 1000 } });
    const x = await exchange(port, [`POST / HTTP/1.1\r\n${HOST}Content-Length: 1000\r\nConnection: close\r\n\r\n`, 'x'.repeat(1000)]);
    expectClosed(x);
    expect(expectOneFinal(x, 200).body.toString()).toBe('POST / 1000');
  });

  test('a head that does not complete within headTimeoutMs → 408, closed, nothing upstream', async () => {
    const up = await countingUpstream();
    const port = await edge([up.port], { limits: { headTimeoutMs: 300 } });
    const x = await exchange(port, [`GET / HTTP/1.1\r\n${HOST}X-Slow: 1\r\n`], 4_000);
    expectClosed(x);
    expectOneFinal(x, 408);
    expect(x.ms).toBeGreaterThanOrEqual(250);
    expect(up.bytes).toBe(0);
  });

  test('slowloris: a head dribbled one byte every 50 ms still gets 408 after headTimeoutMs (a total, not an idle timer)', async () => {
    const up = await countingUpstream();
    const port = await edge([up.port], { limits: { headTimeoutMs: 500 } });
    const head = `GET / HTTP/1.1\r\n${HOST}X-Slow: ${'s'.repeat(200)}\r\n\r\n`;
    const steps: Step[] = [];
    for (const ch of head) steps.push(ch, { wait: 50 });
    const x = await exchange(port, steps, 5_000);
    expectClosed(x);
    expectOneFinal(x, 408);
    expect(x.ms).toBeLessThan(4_000);
    expect(up.bytes).toBe(0);
  });

  test('an idle keep-alive connection is closed after keepAliveTimeoutMs', async () => {
    const up = await countingUpstream();
    const port = await edge([up.port], { limits: { keepAliveTimeoutMs: 300 } });
    const x = await exchange(port, [`GET / HTTP/1.1\r\n${HOST}\r\n`], 4_000);
    expectClosed(x);
    expectOneFinal(x, 200);
    expect(x.ms).toBeGreaterThanOrEqual(250);
  });

  test('upstream connection refused → 502, and the client connection stays usable', async () => {
    const port = await edge([await deadPort()]);
    const x = await exchange(port, [`GET /a HTTP/1.1\r\n${HOST}\r\n`, { until: (d) => d.includes('\r\n\r\n') }, `GET /b HTTP/1.1\r\n${HOST}Connection: close\r\n\r\n`]);
    expectClosed(x);
    expect(finals(x).map((r) => r.status)).toEqual([502, 502]);
  });

  test('upstream silent past headersMs → 504', async () => {
    const up = await countingUpstream('silent');
    const port = await edge([up.port], { timeouts: { connectMs: 1_000, headersMs: 300, bodyMs: 0, keepAliveMs: 1_000 } });
    const x = await exchange(port, [`GET / HTTP/1.1\r\n${HOST}Connection: close\r\n\r\n`], 5_000);
    expectClosed(x);
    expectOneFinal(x, 504);
    expect(up.requests).toHaveLength(1);
  });

  test('a client that goes away before the answer → 499 in the access log', async () => {
    const up = await countingUpstream('silent');
    const entries: AccessLogEntry[] = [];
    const accessLog: AccessLog = { log: (e) => { entries.push(e); }, flush: async () => undefined, writeOut: () => undefined, close: async () => undefined };
    const port = await edge([up.port], { accessLog });
    const sock = connect(port, '127.0.0.1');
    sockets.push(sock);
    sock.on('error', () => undefined);
    await once(sock, 'connect');
    sock.write(`GET /gone HTTP/1.1\r\n${HOST}\r\n`);
    const t = Date.now();
    while (up.requests.length === 0 && Date.now() - t < 3_000) await sleep(10);
    expect(up.requests).toHaveLength(1);
    sock.destroy();
    while (entries.length === 0 && Date.now() - t < 5_000) await sleep(10);
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ status: 499, path: '/gone', method: 'GET' });
  });
});

// ---------------------------------------------------------------------------------------------
// Pipelining, HTTP/1.0, Expect: 100-continue

describe('pipelining, HTTP/1.0, Expect: 100-continue', () => {
  test('three pipelined GETs in one write are answered in order (the first one is the slowest)', async () => {
    const up = await countingUpstream();
    const port = await edge([up.port]);
    const x = await exchange(port, [`GET /slow-1 HTTP/1.1\r\n${HOST}\r\nGET /2 HTTP/1.1\r\n${HOST}\r\nGET /3 HTTP/1.1\r\n${HOST}Connection: close\r\n\r\n`]);
    expectClosed(x);
    expect(finals(x).map((r) => `${r.status} ${r.body.toString()}`)).toEqual(['200 GET /slow-1 0', '200 GET /2 0', '200 GET /3 0']);
  });

  test('pipelined requests with bodies, split across writes at awkward places, are answered in order', async () => {
    const up = await countingUpstream();
    const port = await edge([up.port]);
    const all = `POST /slow-a HTTP/1.1\r\n${HOST}Content-Length: 3\r\n\r\nabcPOST /b HTTP/1.1\r\n${HOST}Transfer-Encoding: chunked\r\n\r\n2\r\nxy\r\n0\r\n\r\nGET /c HTTP/1.1\r\n${HOST}Connection: close\r\n\r\n`;
    const steps: Step[] = [];
    for (let i = 0; i < all.length; i += 7) steps.push(all.slice(i, i + 7), { wait: 2 });
    const x = await exchange(port, steps);
    expectClosed(x);
    expect(finals(x).map((r) => r.body.toString())).toEqual(['POST /slow-a 3', 'POST /b 2', 'GET /c 0']);
  });

  test('Expect: 100-continue pipelined behind a slow request: its 100 Continue is not written before (or into) the earlier response', async () => {
    const up = await countingUpstream();
    const port = await edge([up.port]);
    const x = await exchange(port, [`GET /slow-1 HTTP/1.1\r\n${HOST}\r\nPOST /e HTTP/1.1\r\n${HOST}Expect: 100-continue\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello`]);
    expectClosed(x);
    expect(finals(x).map((r) => r.body.toString())).toEqual(['GET /slow-1 0', 'POST /e 5']);
    expect(x.responses[0]!.status, 'a 100 before the first final response would be taken as the answer to GET /slow-1').toBe(200);
  });

  test('HTTP/1.0 without Host gets a well-formed answer, then the connection is closed', async () => {
    const up = await countingUpstream();
    const port = await edge([up.port]);
    const x = await exchange(port, ['GET / HTTP/1.0\r\n\r\n']);
    expectClosed(x);
    const r = expectOneFinal(x, [200, 400, 404, 421]);
    expect(r.statusLine).toMatch(/^HTTP\/1\.[01] /);
  });

  test('HTTP/1.0 with Host: 200, a chunked upstream answer is not passed on chunked, and the connection is closed', async () => {
    const up = await countingUpstream();
    const port = await edge([up.port]);
    const x = await exchange(port, [`GET /chunked HTTP/1.0\r\n${HOST}\r\n`]);
    expectClosed(x);
    const r = expectOneFinal(x, 200);
    expect(r.headers['transfer-encoding']).toBeUndefined();
    expect(r.body.toString()).toBe('GET /chunked 0');
  });

  test('HTTP/1.0 keep-alive: two requests on one connection', async () => {
    const up = await countingUpstream();
    const port = await edge([up.port]);
    const x = await exchange(port, [
      `GET /a HTTP/1.0\r\n${HOST}Connection: keep-alive\r\n\r\n`,
      { until: (d) => d.includes('GET /a 0') },
      `GET /b HTTP/1.0\r\n${HOST}\r\n`,
    ]);
    expectClosed(x);
    expect(finals(x).map((r) => r.body.toString())).toEqual(['GET /a 0', 'GET /b 0']);
  });

  test('Expect: 100-continue: 100 Continue before the body is sent, then the answer', async () => {
    const up = await countingUpstream();
    const port = await edge([up.port]);
    const x = await exchange(port, [
      `POST /e HTTP/1.1\r\n${HOST}Content-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n`,
      { until: (d) => d.includes('\r\n\r\n'), ms: 3_000 },
      'hello',
    ]);
    expectClosed(x);
    expect(x.responses[0]?.status, 'first response must be 100 Continue').toBe(100);
    expect(expectOneFinal(x, 200).body.toString()).toBe('POST /e 5');
  });

  test('Expect: 100-continue with a declared body over the limit: 413 without the body being sent', async () => {
    const up = await countingUpstream();
    const port = await edge([up.port], { limits: { maxBodyBytes: 1000 } });
    const x = await exchange(port, [`POST /e HTTP/1.1\r\n${HOST}Content-Length: 5000\r\nExpect: 100-continue\r\n\r\n`], 4_000);
    expectClosed(x);
    expectOneFinal(x, 413);
    expect(up.bytes).toBe(0);
  });
});

describe('requests about the server itself', () => {
  test('OPTIONS * → 200 from the router (Allow, no body), the connection kept, nothing upstream (RFC 9110 §9.3.7)', async () => {
    const up = await countingUpstream();
    const port = await edge([up.port]);
    const x = await exchange(port, [
      `OPTIONS * HTTP/1.1\r\n${HOST}\r\n`,
      { until: (d) => d.includes('\r\n\r\n') },
      `GET /after HTTP/1.1\r\n${HOST}Connection: close\r\n\r\n`,
    ]);
    expectClosed(x);
    const [opts, after] = finals(x);
    expect(opts?.status).toBe(200);
    expect(opts?.headers['allow']).toMatch(/GET, HEAD, POST/);
    expect(opts?.headers['content-length']).toBe('0');
    expect(opts?.headers['x-request-id']).toBeTruthy();
    expect(after?.body.toString()).toBe('GET /after 0');
    expect(up.requests.map((r) => `${r.method} ${r.target}`)).toEqual(['GET /after']);
  });
});

describe('fields the client names in Connection', () => {
  test('Connection: traceparent → the upstream still gets a traceparent (a new trace), not the client\'s', async () => {
    const up = await countingUpstream();
    const port = await edge([up.port]);
    const clientTp = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const x = await exchange(port, [`GET /t HTTP/1.1\r\n${HOST}Connection: traceparent, close\r\ntraceparent: ${clientTp}\r\nX-Kept: 1\r\n\r\n`]);
    expectClosed(x);
    expectOneFinal(x, 200);
    const head = up.requests[0]!.head;
    const tps = [...head.matchAll(/^traceparent: (.*)\r$/gim)].map((m) => m[1]);
    expect(tps).toHaveLength(1);
    expect(tps[0]).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    expect(tps[0]).not.toBe(clientTp);
    expect(head).toMatch(/^X-Kept: 1\r$/m);
  });
});
