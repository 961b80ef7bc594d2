/**
 * @module router/proxy
 * Forwards one resolved request to an upstream endpoint through its undici pool, streaming
 * both bodies, and maps failures to problem responses: connect failure 502
 * (`SWY_UPSTREAM_CONNECT`), timeout 504 (`SWY_UPSTREAM_TIMEOUT`), client gone 499 in the log.
 * An idempotent request without a body that could not connect is retried once on another endpoint.
 * WebSocket upgrades are tunnelled to the same resolved endpoint over a raw socket.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { swyError, type SwitchyardError } from '../errors/index.js';
import type { EndpointRoute, RouteDecision } from '../routing/index.js';
import { filterResponseHeaders, forwardRequestHeaders } from './headers.js';
import { sendProblem } from './problem.js';
import type { UpstreamPools } from './upstreams.js';

type UpstreamDecision = Extract<RouteDecision, { kind: 'upstream' }>;

export interface ProxyRequestInfo {
  edge: boolean;
  clientIp: string;
  proto: 'http' | 'https';
  /** Path to send upstream (prefix already stripped when configured). */
  path: string;
  /** Routing header name of the snapshot (lowercase). */
  routingHeader: string;
  /** Extra response headers (e.g. `x-switchyard-fallback`). */
  responseHeaders: Record<string, string> | undefined;
}

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

function hasBody(req: IncomingMessage): boolean {
  const cl = req.headers['content-length'];
  return (cl !== undefined && cl !== '0') || req.headers['transfer-encoding'] !== undefined;
}

/** Proxies `req` to the decision's upstream; resolves when the exchange is over. */
export function proxyHttp(pools: UpstreamPools, req: IncomingMessage, res: ServerResponse, d: UpstreamDecision, info: ProxyRequestInfo): Promise<void> {
  const { headers, requestId } = forwardRequestHeaders(req.rawHeaders, {
    routingHeader: info.routingHeader, env: d.env.name,
    clientIp: info.clientIp, proto: info.proto, host: req.headers.host, edge: info.edge,
  });
  res.setHeader('x-request-id', requestId);
  if (info.responseHeaders) for (const k in info.responseHeaders) res.setHeader(k, info.responseHeaders[k]!);
  const body = hasBody(req) ? req : null;
  return attempt(pools, req, res, d, info, headers, body, undefined, 0);
}

function attempt(pools: UpstreamPools, req: IncomingMessage, res: ServerResponse, d: UpstreamDecision, info: ProxyRequestInfo,
  headers: string[], body: IncomingMessage | null, exclude: EndpointRoute | undefined, tries: number): Promise<void> {
  const ep = pools.pick(d.upstream, exclude);
  if (ep === undefined) {
    sendProblem(req, res, swyError('SWY_NO_HEALTHY_UPSTREAM',
      `service "${d.service.name}" has no healthy endpoint in environment "${d.upstream.env}" (${d.upstream.total} instance(s), none ready)`,
      { env: d.env.name, service: d.service.name, upstreamEnv: d.upstream.env }));
    return Promise.resolve();
  }
  const state = pools.endpoint(ep);
  state.inflight++;
  const method = req.method ?? 'GET';
  const clientSocket = req.socket; // req.socket is cleared when undici destroys req (see below)
  return new Promise<void>((resolve) => {
    let done = false;
    const finish = () => { if (!done) { done = true; state.inflight--; resolve(); } };
    state.pool.stream(
      { path: info.path, method, headers, body, signal: undefined, opaque: undefined },
      ({ statusCode, headers: upHeaders }) => {
        res.writeHead(statusCode, filterResponseHeaders(upHeaders as Record<string, string | string[] | undefined>));
        return res;
      },
    ).then(finish, (err: Error & { code?: string }) => {
      // Not twice: the 'close' listener below may already have counted this attempt as done.
      if (!done) { done = true; state.inflight--; }
      // Client gone (499). Not `req.destroyed`: undici destroys the request body stream itself
      // when the upstream fails, and that client still waits for its 502/504.
      if (res.destroyed || clientSocket.destroyed) { resolve(); return; }
      const code = err.code ?? '';
      const connectFailed = code === 'ECONNREFUSED' || code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'ECONNRESET' && !res.headersSent && body === null;
      // Retry only when there is another endpoint to try; else report the connect error itself.
      if (connectFailed && tries === 0 && body === null && IDEMPOTENT.has(method) && !res.headersSent && d.upstream.endpoints.length > 1) {
        resolve(attempt(pools, req, res, d, info, headers, body, ep, tries + 1));
        return;
      }
      sendProblem(req, res, mapUpstreamError(err, d, ep));
      resolve();
    });
    res.once('close', () => { if (!res.writableFinished) finish(); });
  });
}

function mapUpstreamError(err: Error & { code?: string }, d: UpstreamDecision, ep: EndpointRoute): SwitchyardError {
  const extras = { env: d.env.name, service: d.service.name, upstreamEnv: d.upstream.env, endpoint: ep.id, cause: err.code ?? err.message };
  const code = err.code ?? '';
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
    return swyError('SWY_UPSTREAM_TIMEOUT', `service "${d.service.name}" (${ep.id}) did not answer in time`, extras, err);
  }
  if (code === 'ECONNREFUSED' || code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'EHOSTUNREACH') {
    return swyError('SWY_UPSTREAM_CONNECT', `could not connect to service "${d.service.name}" (${ep.id}): ${code}`, extras, err);
  }
  return swyError('SWY_UPSTREAM_ERROR', `service "${d.service.name}" (${ep.id}) failed: ${err.message}`, extras, err);
}

/** Tunnels a WebSocket (or other) upgrade to the resolved endpoint. */
export function proxyUpgrade(pools: UpstreamPools, req: IncomingMessage, socket: Duplex, head: Buffer, d: UpstreamDecision, info: ProxyRequestInfo): void {
  const ep = pools.pick(d.upstream);
  if (ep === undefined) { socket.end('HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n'); return; }
  const { headers } = forwardRequestHeaders(req.rawHeaders, {
    routingHeader: info.routingHeader, env: d.env.name, clientIp: info.clientIp, proto: info.proto, host: req.headers.host, edge: info.edge, upgrade: true,
  });
  const upstream: Socket = connect(ep.port, ep.host);
  let lines = `${req.method} ${info.path} HTTP/1.1\r\n`;
  for (let i = 0; i < headers.length; i += 2) lines += `${headers[i]}: ${headers[i + 1]}\r\n`;
  upstream.on('connect', () => {
    upstream.write(lines + '\r\n');
    if (head.length) upstream.write(head);
    upstream.pipe(socket);
    socket.pipe(upstream);
  });
  const close = () => { upstream.destroy(); socket.destroy(); };
  upstream.on('error', () => {
    if (!upstream.bytesRead) socket.end('HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
    close();
  });
  socket.on('error', close);
  upstream.on('close', close);
  socket.on('close', close);
}
