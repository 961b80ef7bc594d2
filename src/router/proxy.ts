/**
 * @module router/proxy
 * Proxying for requests that arrive through node's compat objects (HTTP/2 clients, and requests
 * of any client to `protocol: h2c` services): HTTP/1.1 upstreams are reached through the raw
 * socket pool of the HTTP/1.1 engine ({@link proxyH2Request}), h2c upstreams through node:http2
 * sessions ({@link proxyH2}). The shapes shared by every proxy path live here: what the router
 * tells a proxy ({@link ProxyRequestInfo}) and what it hears back ({@link ProxyOutcome}).
 * HTTP/1.1 clients' requests to HTTP/1.1 upstreams go straight through `http1/proxy`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { RouteDecision } from '../routing/index.js';
import { forwardRequestHeaders } from './headers.js';
import { CappedBody } from './hygiene.js';
import { proxyH2 } from './h2-upstream.js';
import { proxyH2Request } from './http1/proxy.js';
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
  /**
   * Largest request body accepted (bytes). A body with Content-Length is checked up front by
   * the router (see `router/hygiene`); a chunked one is counted here and cut off with 413.
   * Unset: no limit.
   */
  maxBodyBytes?: number;
  /** Response header lines (`name: value\r\n` each) added by the router (HTTP/1.1 engine), e.g. HSTS. */
  extraResponseLines?: string;
}

/** How a proxied exchange ended, for the access log and metrics. */
export interface ProxyOutcome {
  /** Status the client got: the upstream's, the problem's, or 499 when the client went away first. */
  status: number;
  /** Attempts after the first. */
  retries: number;
  /** Endpoint id of the last attempt (undefined when none was tried). */
  endpoint: string | undefined;
  /** Error code when the exchange did not complete normally (`SWY_UPSTREAM_CONNECT`, `SWY_CLIENT_ABORTED`, …). */
  error: string | undefined;
  /** Dispatch of the answering attempt to its response head (ms); undefined without a head. */
  upstreamMs: number | undefined;
  /** The `x-request-id` sent upstream and to the client (HTTP/1.1 engine; the node path reads it from the response). */
  requestId?: string;
}

function hasBody(req: IncomingMessage): boolean {
  const cl = req.headers['content-length'];
  if (cl !== undefined) return cl !== '0';
  if (req.headers['transfer-encoding'] !== undefined) return true;
  // HTTP/2 (compat API) frames the body itself: without Content-Length there is one unless the
  // HEADERS frame ended the stream.
  return req.httpVersionMajor === 2 && (req as unknown as { stream?: { endAfterHeaders?: boolean } }).stream?.endAfterHeaders === false;
}

/** Proxies `req` to the decision's upstream; resolves when the client response is closed, with the outcome. */
export function proxyHttp(pools: UpstreamPools, req: IncomingMessage, res: ServerResponse, d: UpstreamDecision, info: ProxyRequestInfo): Promise<ProxyOutcome> {
  if (d.service.protocol !== 'h2c') return proxyH2Request(pools, req, res, d, info);
  const { headers, requestId } = forwardRequestHeaders(req.rawHeaders, {
    routingHeader: info.routingHeader, env: d.env.name,
    clientIp: info.clientIp, proto: info.proto, host: req.headers.host, edge: info.edge,
  });
  res.setHeader('x-request-id', requestId);
  if (info.responseHeaders) for (const k in info.responseHeaders) res.setHeader(k, info.responseHeaders[k]!);
  let body: Readable | null = null;
  if (hasBody(req)) {
    body = info.maxBodyBytes !== undefined && req.headers['content-length'] === undefined ? new CappedBody(req, info.maxBodyBytes) : req;
  }
  return proxyH2(pools, req, res, d, info, headers, body);
}
