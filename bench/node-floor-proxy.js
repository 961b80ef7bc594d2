#!/usr/bin/env node
/**
 * Bench-only "Node floor": the least a `node:http` server + undici proxy can do — no routing,
 * no header rewriting beyond dropping hop-by-hop fields, one keep-alive undici Pool to the fixed
 * upstream, `Pool.stream` piping the body into the ServerResponse. switchyard's current data path
 * is built from the same two layers, so this is the cost floor of that stack on this machine.
 *
 *   node bench/node-floor-proxy.js --upstream-port P --port P
 *
 * Prints `READY {json}` when listening; exits 0 on SIGTERM/SIGINT.
 */
import { createServer } from 'node:http';
import { Pool } from 'undici';

const args = process.argv.slice(2);
const arg = (name) => { const i = args.indexOf(name); return i === -1 ? undefined : args[i + 1]; };
const upstreamPort = Number(arg('--upstream-port'));
const port = Number(arg('--port') ?? 0);
if (!upstreamPort) { console.error('--upstream-port is required'); process.exit(2); }

const pool = new Pool(`http://127.0.0.1:${upstreamPort}`, { connections: 256, pipelining: 1, keepAliveTimeout: 60_000 });
const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

const server = createServer({ keepAliveTimeout: 65_000, requestTimeout: 0 }, (req, res) => {
  const raw = req.rawHeaders;
  const headers = [];
  for (let i = 0; i < raw.length; i += 2) if (!HOP.has(raw[i].toLowerCase())) headers.push(raw[i], raw[i + 1]);
  const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
  pool.stream({ path: req.url, method: req.method, headers, body: hasBody ? req : null }, ({ statusCode, headers: h }) => {
    for (const k of HOP) delete h[k];
    res.writeHead(statusCode, h);
    return res;
  }).catch(() => {
    if (!res.headersSent) { res.writeHead(502, { 'content-length': 0 }); res.end(); } else res.destroy();
  });
});
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`READY ${JSON.stringify({ pid: process.pid, port: server.address().port })}\n`);
});
const stop = () => { server.close(); server.closeAllConnections(); pool.destroy().finally(() => process.exit(0)); setTimeout(() => process.exit(0), 2000).unref(); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
