#!/usr/bin/env node
/**
 * Bench-only upstream for the 1 GiB body section of `npm run bench` (bench/run.js).
 *
 *   node bench/body-upstream.js --port P
 *
 *   GET /bytes/N        200, `Content-Length: N`, N bytes streamed from one 256 KiB buffer (with
 *                       backpressure: the next write waits for 'drain');
 *   POST|PUT any path   reads the request body, counts and discards it, then answers 200 with
 *                       `{"bytes": <count>}`.
 *
 * Prints `READY {"port": P}` when it listens. SIGTERM/SIGINT: exits 0.
 */
import { createServer } from 'node:http';

let port = 0;
for (let i = 2; i < process.argv.length; i++) if (process.argv[i] === '--port') port = Number(process.argv[++i]);

const CHUNK = Buffer.alloc(256 * 1024, 0x61);

const server = createServer({ keepAliveTimeout: 300_000, requestTimeout: 0, headersTimeout: 30_000 }, (req, res) => {
  if (req.method === 'GET') {
    const m = /^\/bytes\/(\d+)$/.exec(req.url ?? '');
    if (!m) { res.writeHead(404); res.end(); return; }
    let left = Number(m[1]);
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(left) });
    const pump = () => {
      while (left > 0) {
        const n = Math.min(left, CHUNK.length);
        left -= n;
        const more = res.write(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n));
        if (left === 0) { res.end(); return; }
        if (!more) { res.once('drain', pump); return; }
      }
      res.end();
    };
    res.on('close', () => { left = 0; });
    pump();
    return;
  }
  let bytes = 0;
  req.on('data', (c) => { bytes += c.length; });
  req.on('end', () => {
    const body = JSON.stringify({ bytes });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  req.on('error', () => res.destroy());
});
server.listen(port, '127.0.0.1', () => process.stdout.write(`READY ${JSON.stringify({ port: server.address().port })}\n`));
for (const s of ['SIGTERM', 'SIGINT']) process.on(s, () => process.exit(0));
