#!/usr/bin/env node
/**
 * Bench-only client for the 1 GiB body section of `npm run bench` (bench/run.js): one request
 * on a fresh connection, the body's bytes generated or discarded on the fly (nothing on disk).
 *
 *   node bench/body-client.js --port P --host H --mode upload|download --bytes N [--timeout-ms T]
 *
 *   upload    POST /upload with `Content-Length: N`, written in 1 MiB slices of one buffer (each
 *             write waits for 'drain' when the socket is full); the upstream answers with the byte
 *             count it received, which must be N;
 *   download  GET /bytes/N; the response's bytes are counted (and dropped), which must be N.
 *
 * Prints one JSON line: { ok, mode, bytes, status, seconds, mbPerS, error? } (seconds: from the
 * request's start to the last response byte). Exits 1 when the transfer failed or took longer than
 * --timeout-ms (default 120000; the request is destroyed then).
 */
import { request } from 'node:http';

const o = { port: 0, host: 'localhost', mode: 'download', bytes: 0, timeoutMs: 120_000 };
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i], v = process.argv[++i];
  if (a === '--port') o.port = Number(v);
  else if (a === '--host') o.host = v;
  else if (a === '--mode') o.mode = v;
  else if (a === '--bytes') o.bytes = Number(v);
  else if (a === '--timeout-ms') o.timeoutMs = Number(v);
  else throw new Error(`unknown argument ${a}`);
}
if (!['upload', 'download'].includes(o.mode) || !(o.bytes > 0) || !o.port) throw new Error('--port, --mode upload|download and --bytes N > 0 are required');

const SLICE = Buffer.alloc(1024 * 1024, 0x62);
const t0 = process.hrtime.bigint();
const done = (r) => {
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  process.stdout.write(JSON.stringify({ mode: o.mode, ...r, seconds, mbPerS: r.ok ? o.bytes / 1e6 / seconds : undefined }) + '\n');
  process.exit(r.ok ? 0 : 1);
};
const timer = setTimeout(() => { req.destroy(); done({ ok: false, bytes: counted, error: `timeout after ${o.timeoutMs} ms` }); }, o.timeoutMs);
let counted = 0;

const req = request({
  host: '127.0.0.1', port: o.port, agent: false,
  method: o.mode === 'upload' ? 'POST' : 'GET',
  path: o.mode === 'upload' ? '/upload' : `/bytes/${o.bytes}`,
  headers: { host: o.host, ...(o.mode === 'upload' ? { 'content-type': 'application/octet-stream', 'content-length': String(o.bytes) } : {}) },
}, (res) => {
  const chunks = [];
  res.on('data', (c) => { counted += c.length; if (o.mode === 'upload') chunks.push(c); });
  res.on('end', () => {
    clearTimeout(timer);
    if (o.mode === 'download') return done({ ok: res.statusCode === 200 && counted === o.bytes, status: res.statusCode, bytes: counted, ...(counted !== o.bytes ? { error: `got ${counted} bytes` } : {}) });
    let got;
    try { got = JSON.parse(Buffer.concat(chunks).toString()).bytes; } catch { got = undefined; }
    done({ ok: res.statusCode === 200 && got === o.bytes, status: res.statusCode, bytes: got, ...(got !== o.bytes ? { error: `upstream got ${got} bytes: ${Buffer.concat(chunks).toString().slice(0, 200)}` } : {}) });
  });
  res.on('error', (err) => { clearTimeout(timer); done({ ok: false, status: res.statusCode, bytes: counted, error: err.message }); });
});
req.on('error', (err) => { clearTimeout(timer); done({ ok: false, bytes: counted, error: err.message }); });

if (o.mode === 'upload') {
  let left = o.bytes;
  const pump = () => {
    while (left > 0) {
      const n = Math.min(left, SLICE.length);
      left -= n;
      const more = req.write(n === SLICE.length ? SLICE : SLICE.subarray(0, n));
      if (left === 0) { req.end(); return; }
      if (!more) { req.once('drain', pump); return; }
    }
  };
  pump();
} else {
  req.end();
}
