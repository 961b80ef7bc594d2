// Helpers shared by the shop's three services: who am I, and how to call a dependency so that
// the routing header and W3C baggage travel with the request (all a service must do for
// per-hop preview routing).
import http from 'node:http';

export const service = process.env.SWITCHYARD_SERVICE ?? 'unknown';
export const env = process.env.SWITCHYARD_ENV ?? 'base';
export const me = `${service}@${env}`;
const routingHeader = (process.env.SWITCHYARD_ROUTING_HEADER ?? 'x-switchyard-env').toLowerCase();

/** Headers to copy from an incoming request to outgoing ones. */
export function propagate(req) {
  const out = {};
  for (const name of [routingHeader, 'baggage', 'traceparent', 'x-request-id']) {
    if (req.headers[name] !== undefined) out[name] = req.headers[name];
  }
  return out;
}

/** GET `${baseUrl}${path}` as JSON, passing the routing context on. */
export async function callJson(baseUrl, path, req) {
  const res = await fetch(new URL(path, baseUrl), { headers: propagate(req) });
  if (!res.ok) throw new Error(`${path} answered ${res.status}: ${await res.text()}`);
  return res.json();
}

export function json(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export function serve(handler) {
  const server = http.createServer(async (req, res) => {
    if (req.url === '/healthz') return json(res, 200, { ok: true, instance: me });
    try {
      await handler(req, res);
    } catch (err) {
      json(res, 502, { error: String(err?.message ?? err), instance: me });
    }
  });
  server.listen(Number(process.env.PORT ?? 3000), '127.0.0.1');
  const stop = () => server.close(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  return server;
}
