#!/usr/bin/env node
/**
 * Fuzzes the live router with mutated HTTP/1.x requests (a JS mutator; zzuf is not needed).
 *
 *   node bench/fuzz.js [--seconds 600] [--seed N] [--concurrency 32] [--deadline-ms 15000] [--dist DIR]
 *   npm run fuzz                      # 10 minutes
 *   node bench/fuzz.js --seconds 60   # the bounded CI version (test/e2e/fuzz.test.ts)
 *   node bench/fuzz.js --seed S --replay N   # re-runs case N of seed S alone, printing what went and came back
 *
 * Uses dist/ (run `npm run build` first); builds nothing itself. Starts a CHILD process (this file
 * with `--child`) that runs the Router from dist/ with one base service `app` at `/` pointing at a
 * node:http upstream it also starts (200, echoes the body length; answers WebSocket-style upgrades
 * with 101 and echoes), an access log to a temp file, a 2 s head timeout and small limits. Then,
 * for --seconds, --concurrency connections at a time each send one mutation of a corpus of valid
 * requests (GET, POST with Content-Length, chunked, pipelined pairs, upgrade, HTTP/1.0,
 * absolute-form, Expect: 100-continue, HEAD, OPTIONS *): byte flips, inserted CR/LF/NUL/SP/colon/
 * comma/HTAB, duplicated or dropped lines, truncation, huge headers, many fields, huge chunk
 * sizes, framing changes (CL/TE), version and method changes, bare LFs, obs-folds, garbage, all
 * written in random pieces with random delays and slowloris pauses, sometimes half-closed.
 *
 * A connection is done when the router closes it, or when at least one complete response came
 * back, the client has sent everything, and the line stayed quiet for 1 s (the client then
 * closes). A connection still open at --deadline-ms is a hang.
 *
 * Failures (exit 1): the router child died (its stderr is printed), a hang, a malformed status
 * line, the router's RSS not flat (after warm-up, the median of the last third of the samples more
 * than 30 MB above the median of the first third), or its sockets (/proc/<pid>/fd links to
 * `socket:`) not back to the baseline (+4) after the load stops and a settle. Prints progress
 * every 10 s, the first hangs and malformed answers (case number, bytes sent and received: replay
 * one with --seed S --replay N), and one final line `FUZZ SUMMARY {json}`: connections, requests
 * (request lines sent, approximate), status histogram, hangs by where the client's bytes stopped
 * (`inHead`, `afterHead` — a body the router still waits for —, `clientStalled`), RSS (MB: median
 * of the first and last thirds, max), sockets before/after. Exit 2: bad usage or no dist/.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

const RSS_SLACK_MB = 30;
const FD_SLACK = 4;
const QUIET_MS = 1_000;
const MAX_PIECES = 300;
const MAX_DELAY_MS = 6_000;
const DOMAIN = 'app.localhost';
const HEAD_TIMEOUT_MS = 2_000;

function parseArgs(argv) {
  const o = { seconds: 600, seed: (Date.now() ^ (process.pid << 16)) >>> 0, concurrency: 32, deadlineMs: 15_000, dist: join(here, '..', 'dist'), child: false, accessLog: '', replay: -1 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = () => { const x = argv[++i]; if (x === undefined) usage(`${a} needs a value`); return x; };
    if (a === '--seconds') o.seconds = Number(v());
    else if (a === '--seed') o.seed = Number(v()) >>> 0;
    else if (a === '--concurrency') o.concurrency = Number(v());
    else if (a === '--deadline-ms') o.deadlineMs = Number(v());
    else if (a === '--dist') o.dist = resolve(v());
    else if (a === '--child') o.child = true;
    else if (a === '--access-log') o.accessLog = v();
    else if (a === '--replay') o.replay = Number(v());
    else if (a === '--help' || a === '-h') usage();
    else usage(`unknown argument ${a}`);
  }
  if (!(o.seconds > 0) || !(o.concurrency >= 1) || !(o.deadlineMs > 0)) usage('--seconds, --concurrency and --deadline-ms must be positive');
  return o;
}

function usage(msg) {
  if (msg) console.error(`fuzz: ${msg}`);
  console.error('usage: node bench/fuzz.js [--seconds 600] [--seed N] [--concurrency 32] [--deadline-ms 15000] [--dist DIR] [--replay CASE]');
  process.exit(2);
}

// ---------------------------------------------------------------------------------------------
// The child: router + upstream

async function child(o) {
  const imp = (p) => import(pathToFileURL(join(o.dist, p)).href);
  const [{ Router }, { compileSnapshot }, { createAccessLog }] = await Promise.all([
    imp('router/router.js'), imp('routing/compile.js'), imp('edge/access-log.js'),
  ]);
  const upstream = createServer((req, res) => {
    let n = 0;
    req.on('data', (c) => { n += c.length; });
    req.on('end', () => {
      const body = `${req.method} ${req.url} ${n}\n`;
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) }).end(body);
    });
    req.on('error', () => undefined);
  });
  upstream.on('upgrade', (req, socket, head) => {
    socket.on('error', () => undefined);
    socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    if (head.length) socket.write(head);
    socket.on('data', (c) => socket.write(c));
    setTimeout(() => socket.end(), 300).unref();
  });
  upstream.on('clientError', (_e, s) => s.destroy());
  await new Promise((r) => upstream.listen(0, '127.0.0.1', r));
  const upPort = upstream.address().port;
  const accessLog = createAccessLog({ destination: o.accessLog });
  const router = new Router({
    accessLog,
    limits: { maxBodyBytes: 1024 * 1024, maxHeaderBytes: 16 * 1024, maxHeaderFields: 100, headTimeoutMs: HEAD_TIMEOUT_MS, bodyTimeoutMs: HEAD_TIMEOUT_MS, keepAliveTimeoutMs: 5_000 },
    timeouts: { connectMs: 1_000, headersMs: 5_000, bodyMs: 5_000, keepAliveMs: 4_000 },
  });
  router.setSnapshot(compileSnapshot({
    version: 1, domain: DOMAIN, routingHeader: 'x-switchyard-env',
    services: [{ name: 'app', public: ['/'], stripPrefix: false }],
    environments: [{ name: 'base', kind: 'base', hosts: [], services: { app: [{ id: 'base/app/0', host: '127.0.0.1', port: upPort, ready: true }] } }],
  }));
  const port = await router.listenEdge(0);
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await router.close(1_000);
    await accessLog.close();
    upstream.closeAllConnections();
    await new Promise((r) => upstream.close(r));
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.stdout.write(`READY ${JSON.stringify({ port, pid: process.pid, upstream: upPort })}\n`);
}

// ---------------------------------------------------------------------------------------------
// Random numbers (seeded: a run is reproducible up to timing)

function rng(seed) {
  let s = seed >>> 0 || 0x9e3779b9;
  const next = () => { // mulberry32
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const r = {
    next,
    int: (n) => Math.floor(next() * n),
    range: (a, b) => a + Math.floor(next() * (b - a + 1)),
    pick: (arr) => arr[Math.floor(next() * arr.length)],
    chance: (p) => next() < p,
  };
  return r;
}

// ---------------------------------------------------------------------------------------------
// Corpus and mutations

const H = `Host: ${DOMAIN}\r\n`;
const CORPUS = [
  `GET / HTTP/1.1\r\n${H}User-Agent: fuzz/1\r\nAccept: */*\r\n\r\n`,
  `GET /path/to?q=1&r=%20x HTTP/1.1\r\n${H}Accept: text/html\r\nConnection: close\r\n\r\n`,
  `POST /submit HTTP/1.1\r\n${H}Content-Type: application/json\r\nContent-Length: 13\r\n\r\n{"hello":"x"}`,
  `POST /upload HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n`,
  `POST /upload HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n4\r\nwiki\r\n0\r\nX-Trailer: t\r\n\r\n`,
  `GET /a HTTP/1.1\r\n${H}\r\nPOST /b HTTP/1.1\r\n${H}Content-Length: 3\r\n\r\nabc`,
  `GET /1 HTTP/1.1\r\n${H}\r\nGET /2 HTTP/1.1\r\n${H}Connection: close\r\n\r\n`,
  `GET /ws HTTP/1.1\r\n${H}Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\nping`,
  'GET / HTTP/1.0\r\n\r\n',
  `GET /old HTTP/1.0\r\n${H}Connection: keep-alive\r\n\r\n`,
  `POST /old HTTP/1.0\r\n${H}Content-Length: 4\r\n\r\nbody`,
  `GET http://${DOMAIN}/abs?x=1 HTTP/1.1\r\n${H}\r\n`,
  `POST /expect HTTP/1.1\r\n${H}Expect: 100-continue\r\nContent-Length: 5\r\n\r\nhello`,
  `HEAD / HTTP/1.1\r\n${H}\r\n`,
  `OPTIONS * HTTP/1.1\r\n${H}\r\n`,
  `DELETE /item/7 HTTP/1.1\r\n${H}Content-Length: 0\r\nCookie: a=1; b=2\r\n\r\n`,
  `PUT /bin HTTP/1.1\r\n${H}Content-Type: application/octet-stream\r\nContent-Length: 8\r\n\r\n\x00\x01\x02\xff\xfe\r\n\x00`,
];

const SPECIALS = ['\r', '\n', '\0', ' ', ':', ',', '\t', '\r\n', ' \r\n', '\r\n\r\n', ';', '"', '\x7f', '\xff'];
const METHODS = ['GET', 'POST', 'PUT', 'HEAD', 'CONNECT', 'TRACE', 'PRI', 'get', 'G ET', 'FOO', 'M-SEARCH', ''];
const VERSIONS = ['HTTP/1.0', 'HTTP/1.1', 'HTTP/2.0', 'HTTP/0.9', 'HTTP/1.10', 'http/1.1', 'HTTP/1', 'HTTP/1.1 ', 'HTTP/9.9', ''];
const FRAMING = [
  'Content-Length: 0', 'Content-Length: 5', 'Content-Length: +5', 'Content-Length: -1', 'Content-Length: 5, 6', 'Content-Length: 99999999999999999999',
  'Content-Length: 1000', 'Transfer-Encoding: chunked', 'Transfer-Encoding: gzip', 'Transfer-Encoding: chunked, identity', 'Transfer-Encoding: gzip, chunked',
  'Transfer-Encoding : chunked', 'Transfer-Encoding:\tchunked', 'Transfer-Encoding: \x0bchunked', 'Host: other.localhost', 'Host:', 'Expect: 100-continue', 'Expect: nothing',
  'Connection: close', 'Connection: keep-alive, Upgrade', 'Upgrade: h2c', 'HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA', 'Content-Length: 2\r\nContent-Length: 3',
];

const latin1 = (s) => Buffer.from(s, 'latin1');

/** One mutation of `buf` (a Buffer); returns a new Buffer. */
function mutateOnce(r, buf) {
  const s = buf.toString('latin1');
  const pos = () => r.int(buf.length + 1);
  switch (r.int(17)) {
    case 0: { // byte flips
      const b = Buffer.from(buf);
      for (let k = r.range(1, 4); k > 0 && b.length; k--) { const i = r.int(b.length); b[i] = r.chance(0.5) ? b[i] ^ (1 << r.int(8)) : r.int(256); }
      return b;
    }
    case 1: case 2: { // insert a special character
      const i = pos();
      return latin1(s.slice(0, i) + r.pick(SPECIALS) + s.slice(i));
    }
    case 3: { // duplicate a line (maybe with another value)
      const lines = s.split('\r\n');
      const i = r.int(lines.length);
      const dup = r.chance(0.5) ? lines[i] : lines[i].replace(/:.*/, `: ${r.pick(['0', '7', 'x', 'chunked', DOMAIN, 'evil.localhost'])}`);
      lines.splice(i, 0, dup);
      return latin1(lines.join('\r\n'));
    }
    case 4: { // drop a line
      const lines = s.split('\r\n');
      lines.splice(r.int(lines.length), 1);
      return latin1(lines.join('\r\n'));
    }
    case 5: // truncate
      return buf.subarray(0, r.int(buf.length));
    case 6: { // huge header (sometimes over the 16 KiB limit)
      const size = r.pick([1_000, 8_000, 15_000, 17_000, 40_000, 100_000]);
      const i = s.indexOf('\r\n');
      if (i === -1) return buf;
      return latin1(`${s.slice(0, i + 2)}X-Huge: ${'h'.repeat(size)}\r\n${s.slice(i + 2)}`);
    }
    case 7: { // many header fields
      const n = r.pick([50, 99, 101, 150, 500]);
      const i = s.indexOf('\r\n');
      if (i === -1) return buf;
      let f = '';
      for (let k = 0; k < n; k++) f += `X-F${k}: ${k}\r\n`;
      return latin1(s.slice(0, i + 2) + f + s.slice(i + 2));
    }
    case 8: { // huge or odd chunk size
      const size = r.pick(['ffffffffffffffffffff', '7fffffff', '100000', 'fffff', '-1', '0x10', ' 5', '5 ', '1'.repeat(5_000), `5;${'e'.repeat(20_000)}`]);
      if (/\r\n[0-9a-fA-F]+(;[^\r]*)?\r\n/.test(s)) return latin1(s.replace(/\r\n[0-9a-fA-F]+(;[^\r]*)?\r\n/, `\r\n${size}\r\n`));
      return latin1(`POST /big HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n${size}\r\nabcde\r\n0\r\n\r\n`);
    }
    case 9: { // add a framing / routing field
      const i = s.indexOf('\r\n');
      if (i === -1) return buf;
      return latin1(`${s.slice(0, i + 2)}${r.pick(FRAMING)}\r\n${s.slice(i + 2)}`);
    }
    case 10: { // method or version
      const sp = s.indexOf(' ');
      const eol = s.indexOf('\r\n');
      if (sp === -1 || eol === -1) return buf;
      if (r.chance(0.5)) return latin1(r.pick(METHODS) + s.slice(sp));
      const lastSp = s.lastIndexOf(' ', eol);
      return latin1(s.slice(0, lastSp + 1) + r.pick(VERSIONS) + s.slice(eol));
    }
    case 11: { // CRLF → bare LF (or bare CR) somewhere
      const idx = [];
      for (let i = s.indexOf('\r\n'); i !== -1; i = s.indexOf('\r\n', i + 1)) idx.push(i);
      if (!idx.length) return buf;
      const i = r.pick(idx);
      return latin1(s.slice(0, i) + (r.chance(0.7) ? '\n' : '\r') + s.slice(i + 2));
    }
    case 12: { // obs-fold
      const i = s.indexOf('\r\n');
      if (i === -1) return buf;
      return latin1(`${s.slice(0, i + 2)}X-Fold: a\r\n${r.pick([' ', '\t'])}b\r\n${s.slice(i + 2)}`);
    }
    case 13: { // garbage bytes
      const g = Buffer.alloc(r.range(1, 64));
      for (let k = 0; k < g.length; k++) g[k] = r.int(256);
      const i = pos();
      return Buffer.concat([buf.subarray(0, i), g, buf.subarray(i)]);
    }
    case 14: // repeat (pipelining)
      return Buffer.concat([buf, buf]);
    case 15: { // another corpus request after this one
      return Buffer.concat([buf, latin1(r.pick(CORPUS))]);
    }
    default: { // a smuggled request in the body
      return Buffer.concat([buf, latin1(`GET /smuggled HTTP/1.1\r\n${H}\r\n`)]);
    }
  }
}

/** A test case: bytes, how to write them, whether to half-close, and whether to stall. */
function makeCase(r) {
  let buf = latin1(r.pick(CORPUS));
  const n = r.chance(0.1) ? 0 : r.range(1, 3);
  for (let k = 0; k < n; k++) buf = mutateOnce(r, buf);
  // How to write it: one write, random pieces, or byte by byte (slowloris).
  const pieces = [];
  const style = r.int(10);
  if (style < 4) pieces.push({ bytes: buf, delay: 0 });
  else if (style < 9) {
    for (let i = 0; i < buf.length;) {
      const len = Math.min(buf.length - i, r.range(1, r.chance(0.5) ? 16 : 4096));
      pieces.push({ bytes: buf.subarray(i, i + len), delay: r.chance(0.2) ? r.range(1, 50) : 0 });
      i += len;
    }
  } else {
    for (let i = 0; i < Math.min(buf.length, 200); i++) pieces.push({ bytes: buf.subarray(i, i + 1), delay: r.range(20, 120) });
    if (buf.length > 200) pieces.push({ bytes: buf.subarray(200), delay: 0 });
  }
  if (r.chance(0.05) && pieces.length) pieces[r.int(pieces.length)].delay += r.range(500, 3_500); // a long pause
  // The client itself must be done well before the deadline: at most MAX_PIECES writes, MAX_DELAY_MS of pauses.
  while (pieces.length > MAX_PIECES) {
    for (let i = 0; i + 1 < pieces.length; i++) {
      const b = pieces.splice(i + 1, 1)[0];
      pieces[i] = { bytes: Buffer.concat([pieces[i].bytes, b.bytes]), delay: pieces[i].delay + b.delay };
    }
  }
  const total = pieces.reduce((a, p) => a + p.delay, 0);
  if (total > MAX_DELAY_MS) for (const p of pieces) p.delay = Math.floor((p.delay * MAX_DELAY_MS) / total);
  const stall = r.chance(0.03); // stop part-way and keep the connection open (the router must time it out)
  if (stall && pieces.length > 1) pieces.splice(r.range(1, pieces.length - 1));
  return { buf, sent: Buffer.concat(pieces.map((p) => p.bytes)), pieces, halfClose: !stall && r.chance(0.2), stall };
}

// ---------------------------------------------------------------------------------------------
// Responses

const STATUS_LINE = /^HTTP\/1\.[01] [1-5]\d\d(?: [\t\x20-\x7e\x80-\xff]*)?$/;

/**
 * Checks the responses in `data`: every status line well-formed. Returns { statuses, complete,
 * malformed } where `complete` counts whole final responses. Stops (without failing) where
 * framing cannot be followed (HEAD, a 101 tunnel, a truncated body, read-to-close).
 */
function checkResponses(data, sentHead) {
  const statuses = [];
  let complete = 0;
  let pos = 0;
  while (pos < data.length) {
    const end = data.indexOf('\r\n\r\n', pos);
    const firstLineEnd = data.indexOf('\r\n', pos);
    if (firstLineEnd !== -1 || data.length - pos >= 16) {
      const line = data.subarray(pos, firstLineEnd === -1 ? Math.min(data.length, pos + 200) : firstLineEnd).toString('latin1');
      if (firstLineEnd === -1 ? !/^HTTP\/1\.[01] /.test(line) : !STATUS_LINE.test(line)) return { statuses, complete, malformed: line.slice(0, 200) };
    }
    if (end === -1) break;
    const lines = data.subarray(pos, end).toString('latin1').split('\r\n');
    const status = Number(lines[0].slice(9, 12));
    statuses.push(status);
    const headers = {};
    for (const l of lines.slice(1)) { const i = l.indexOf(':'); if (i > 0) headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim(); }
    pos = end + 4;
    if (status === 101) { complete++; break; } // a tunnel from here on
    if (status < 200) continue;
    if (sentHead || status === 204 || status === 304) { complete++; if (sentHead) break; continue; }
    if ((headers['transfer-encoding'] ?? '').toLowerCase().includes('chunked')) {
      let ok = false;
      for (;;) {
        const eol = data.indexOf('\r\n', pos);
        if (eol === -1) break;
        const size = parseInt(data.subarray(pos, eol).toString('latin1'), 16);
        if (Number.isNaN(size)) return { statuses, complete, malformed: `bad chunk size in a response: ${data.subarray(pos, eol).toString('latin1').slice(0, 80)}` };
        if (size === 0) { const t = data.indexOf('\r\n\r\n', eol); if (t !== -1) { pos = t + 4; ok = true; } break; }
        if (data.length < eol + 2 + size + 2) break;
        pos = eol + 2 + size + 2;
      }
      if (!ok) break;
      complete++;
    } else if (headers['content-length'] !== undefined) {
      const n = Number(headers['content-length']);
      if (!Number.isSafeInteger(n) || n < 0) return { statuses, complete, malformed: `bad content-length in a response: ${headers['content-length']}` };
      if (data.length < pos + n) break;
      pos += n;
      complete++;
    } else {
      complete++; // read to close
      break;
    }
  }
  return { statuses, complete, malformed: undefined };
}

// ---------------------------------------------------------------------------------------------
// One connection

/** Runs one case; resolves with { outcome: 'closed'|'client-closed'|'hang'|'refused', data }. */
function runCase(port, c, deadlineMs) {
  return new Promise((resolvePromise) => {
    const sock = connect(port, '127.0.0.1');
    const chunks = [];
    let bytes = 0;
    let sentAll = false;
    let finished = false;
    let quiet;
    let connected = false;
    const finish = (outcome) => {
      if (finished) return;
      finished = true;
      clearTimeout(deadline);
      clearTimeout(quiet);
      sock.destroy();
      resolvePromise({ outcome, data: Buffer.concat(chunks) });
    };
    const deadline = setTimeout(() => finish('hang'), deadlineMs);
    // Quiet after a complete response and everything sent: the client closes (keep-alive idle).
    const armQuiet = () => {
      clearTimeout(quiet);
      if (!sentAll || c.stall) return;
      quiet = setTimeout(() => {
        if (checkResponses(Buffer.concat(chunks), /HEAD /.test(c.buf.toString('latin1'))).complete > 0) finish('client-closed');
      }, QUIET_MS);
    };
    sock.on('data', (d) => { if (bytes < 1 << 20) chunks.push(d); bytes += d.length; armQuiet(); });
    sock.on('error', (e) => { if (!connected && e.code === 'ECONNREFUSED') finish('refused'); });
    sock.on('close', () => finish('closed'));
    sock.on('connect', async () => {
      connected = true;
      for (const p of c.pieces) {
        if (finished || sock.destroyed || !sock.writable) return;
        if (p.delay) await new Promise((r) => setTimeout(r, p.delay));
        if (finished || sock.destroyed || !sock.writable) return;
        sock.write(p.bytes);
      }
      if (c.halfClose && !finished && sock.writable) sock.end();
      sentAll = true;
      armQuiet();
    });
  });
}

// ---------------------------------------------------------------------------------------------
// /proc

function rssKb(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch { return undefined; }
}

function socketCount(pid) {
  let n = 0;
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try { if (readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('socket:')) n++; } catch { /* closed meanwhile */ }
    }
  } catch { return undefined; }
  return n;
}

const median = (xs) => { if (!xs.length) return 0; const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** Bytes for a report: all of them when short, else the first 240 and the last 160. */
const esc = (b) => JSON.stringify(b.length <= 400 ? b.toString('latin1') : `${b.subarray(0, 240).toString('latin1')}…(${b.length - 400} bytes)…${b.subarray(-160).toString('latin1')}`);

/** Case `no` of a run with `seed` (each case has its own generator: reproducible one by one). */
const caseOf = (seed, no) => makeCase(rng((seed ^ Math.imul(no + 1, 0x9e3779b1)) >>> 0));

// ---------------------------------------------------------------------------------------------
// The driver

async function main(o) {
  for (const f of ['router/router.js', 'routing/compile.js', 'edge/access-log.js']) {
    if (!existsSync(join(o.dist, f))) {
      console.error(`fuzz: ${join(o.dist, f)} is missing: build first with \`npm run build\` (this script uses dist/ and builds nothing)`);
      process.exit(2);
    }
  }
  const tmp = mkdtempSync(join(tmpdir(), 'swy-fuzz-'));
  const logFile = join(tmp, 'access.log');
  const failures = [];
  const fail = (msg) => { failures.push(msg); if (failures.length <= 20) console.error(`FAIL ${msg}`); };

  // Start the router child.
  const kid = spawn(process.execPath, [fileURLToPath(import.meta.url), '--child', '--dist', o.dist, '--access-log', logFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  kid.stderr.on('data', (d) => { stderr = (stderr + d.toString()).slice(-64 * 1024); });
  let exited;
  const exitedP = new Promise((r) => kid.on('exit', (code, signal) => { exited = { code, signal }; r(exited); }));
  const ready = await new Promise((res) => {
    let out = '';
    const t = setTimeout(() => res(undefined), 30_000);
    kid.stdout.on('data', (d) => {
      out += d.toString();
      const m = /READY (\{.*\})\n/.exec(out);
      if (m) { clearTimeout(t); res(JSON.parse(m[1])); }
    });
    exitedP.then(() => { clearTimeout(t); res(undefined); });
  });
  if (!ready) {
    console.error(`fuzz: the router child did not start${exited ? ` (exit ${exited.code ?? exited.signal})` : ''}:\n${stderr}`);
    if (!exited) kid.kill('SIGKILL');
    rmSync(tmp, { recursive: true, force: true });
    process.exit(1);
  }
  const { port, pid } = ready;
  console.log(`fuzz: router pid ${pid} on 127.0.0.1:${port}, seed ${o.seed}, ${o.seconds} s, concurrency ${o.concurrency}, deadline ${o.deadlineMs} ms`);

  if (o.replay >= 0) {
    const c = caseOf(o.seed, o.replay);
    console.log(`case ${o.replay}: ${c.pieces.length} write(s), pauses ${c.pieces.reduce((a, p) => a + p.delay, 0)} ms${c.stall ? ', then stalls' : ''}${c.halfClose ? ', then half-closes' : ''}\nsent ${JSON.stringify(c.sent.toString('latin1'))}`);
    const res = await runCase(port, c, o.deadlineMs);
    const chk = checkResponses(res.data, /HEAD /.test(c.sent.toString('latin1')));
    console.log(`outcome ${res.outcome}; statuses ${JSON.stringify(chk.statuses)}${chk.malformed !== undefined ? `; MALFORMED ${JSON.stringify(chk.malformed)}` : ''}\nreceived ${JSON.stringify(res.data.toString('latin1'))}`);
    kid.kill('SIGTERM');
    await exitedP;
    rmSync(tmp, { recursive: true, force: true });
    process.exit(res.outcome === 'hang' || chk.malformed !== undefined ? 1 : 0);
  }

  await sleep(300);
  const fdBefore = socketCount(pid);
  const rss = [];
  const t0 = Date.now();
  const endAt = t0 + o.seconds * 1000;
  const stats = { connections: 0, requests: 0, bytesSent: 0, closedByRouter: 0, closedByClient: 0, hangs: 0, hangKinds: {}, malformed: 0, statuses: {} };
  const hangs = [];
  let caseNo = 0;

  const sampler = setInterval(() => {
    const kb = rssKb(pid);
    if (kb !== undefined) rss.push({ t: Date.now() - t0, kb });
  }, 1_000);
  let lastReport = Date.now();

  async function worker() {
    while (Date.now() < endAt && !exited) {
      const no = caseNo++;
      const c = caseOf(o.seed, no);
      stats.connections++;
      stats.requests += Math.max(1, (c.sent.toString('latin1').match(/ HTTP\/1\.[01]\r?\n/g) ?? []).length);
      stats.bytesSent += c.sent.length;
      const res = await runCase(port, c, o.deadlineMs);
      if (res.outcome === 'refused') { if (!exited) fail(`case ${no}: connection refused by a live router`); return; }
      const chk = checkResponses(res.data, /HEAD /.test(c.buf.toString('latin1')));
      for (const s of chk.statuses) stats.statuses[s] = (stats.statuses[s] ?? 0) + 1;
      if (chk.malformed !== undefined) { stats.malformed++; fail(`case ${no}: malformed response (${JSON.stringify(chk.malformed)}) to ${esc(c.sent)}: received ${esc(res.data)}`); }
      if (res.outcome === 'hang') {
        stats.hangs++;
        // Where the client's bytes stopped: inside a head, or after a complete head (a body the router still waits for).
        const k = c.stall ? 'clientStalled' : c.sent.includes('\r\n\r\n') ? 'afterHead' : 'inHead';
        stats.hangKinds[k] = (stats.hangKinds[k] ?? 0) + 1;
        if (hangs.length < 10) hangs.push({ case: no, sent: esc(c.sent), sentBytes: c.sent.length, halfClosed: c.halfClose, stall: c.stall, received: esc(res.data) });
      } else if (res.outcome === 'closed') stats.closedByRouter++;
      else stats.closedByClient++;
      if (Date.now() - lastReport >= 10_000) {
        lastReport = Date.now();
        const last = rss.at(-1);
        console.log(`fuzz: ${Math.round((Date.now() - t0) / 1000)} s: ${stats.connections} connections, ${stats.hangs} hangs, ${stats.malformed} malformed, rss ${last ? Math.round(last.kb / 1024) : '?'} MB, sockets ${socketCount(pid)}`);
      }
    }
  }
  await Promise.all(Array.from({ length: o.concurrency }, () => worker()));
  clearInterval(sampler);
  const loadSeconds = (Date.now() - t0) / 1000;

  // Crash?
  if (exited) fail(`the router child died during the run (exit ${exited.code ?? exited.signal}); its stderr:\n${stderr}`);

  // Hangs.
  if (stats.hangs > 0) {
    fail(`${stats.hangs} connection(s) still open after ${o.deadlineMs} ms`);
    for (const h of hangs) console.error(`  hang: case ${h.case}${h.stall ? ' (client stalled mid-request)' : ''}${h.halfClosed ? ' (client half-closed)' : ''}: sent ${h.sentBytes} bytes ${h.sent}; received ${h.received}`);
  }

  // RSS flat after warm-up.
  const warm = Math.min(10_000, (o.seconds * 1000) / 6);
  const after = rss.filter((s) => s.t >= warm).map((s) => s.kb);
  const third = Math.floor(after.length / 3);
  const rssFirst = third > 0 ? median(after.slice(0, third)) : median(after);
  const rssLast = third > 0 ? median(after.slice(-third)) : median(after);
  if (!exited && third > 0 && rssLast - rssFirst > RSS_SLACK_MB * 1024) fail(`RSS grew: median of the first third ${Math.round(rssFirst / 1024)} MB, last third ${Math.round(rssLast / 1024)} MB (> ${RSS_SLACK_MB} MB)`);

  // Sockets back to the baseline after a settle (the router's and the upstream's keep-alive timers).
  let fdAfter;
  if (!exited) {
    const settleEnd = Date.now() + 20_000;
    await sleep(1_000);
    for (;;) {
      fdAfter = socketCount(pid);
      if (fdAfter === undefined || fdAfter <= fdBefore + FD_SLACK || Date.now() > settleEnd) break;
      await sleep(500);
    }
    if (fdAfter !== undefined && fdBefore !== undefined && fdAfter > fdBefore + FD_SLACK) fail(`sockets not back to the baseline: ${fdBefore} before, ${fdAfter} after a 20 s settle`);
  }

  // Stop the child: it must exit 0.
  if (!exited) {
    kid.kill('SIGTERM');
    const t = setTimeout(() => kid.kill('SIGKILL'), 10_000);
    await exitedP;
    clearTimeout(t);
    if (exited.code !== 0) fail(`the router child exited ${exited.code ?? exited.signal} on SIGTERM; its stderr:\n${stderr}`);
  }
  let logLines = 0;
  try { logLines = readFileSync(logFile, 'utf8').split('\n').filter(Boolean).length; } catch { /* none */ }
  rmSync(tmp, { recursive: true, force: true });

  const summary = {
    ok: failures.length === 0, seed: o.seed, seconds: Math.round(loadSeconds), concurrency: o.concurrency,
    connections: stats.connections, requests: stats.requests, bytesSent: stats.bytesSent,
    closedByRouter: stats.closedByRouter, closedByClient: stats.closedByClient, hangs: stats.hangs, hangKinds: stats.hangKinds, malformed: stats.malformed,
    statuses: stats.statuses, rssMB: { first: Math.round(rssFirst / 1024), last: Math.round(rssLast / 1024), max: Math.round(Math.max(0, ...rss.map((s) => s.kb)) / 1024) },
    sockets: { before: fdBefore, after: fdAfter }, accessLogLines: logLines, failures: failures.length,
  };
  console.log(`FUZZ SUMMARY ${JSON.stringify(summary)}`);
  process.exit(failures.length === 0 ? 0 : 1);
}

const opts = parseArgs(process.argv.slice(2));
if (opts.child) {
  child(opts).catch((e) => { console.error(e); process.exit(1); });
} else {
  main(opts).catch((e) => { console.error(e); process.exit(1); });
}
