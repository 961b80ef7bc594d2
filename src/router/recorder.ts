/**
 * @module router/recorder
 * One access-log line and one metrics observation per edge request ({@link RequestRecorder}):
 * for the HTTP/1.1 engine's exchanges, for node:http2 requests, and for requests answered
 * before routing (no environment). Called with the proxy's outcome when a request was proxied
 * (status, retries, upstream time, 499, error code), else once the response is over.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AccessLog } from '../edge/access-log.js';
import type { EdgeMetrics } from '../edge/metrics.js';
import type { RouteDecision } from '../routing/index.js';
import { rawGet } from './http1/parse.js';
import type { Http1Exchange } from './http1/server.js';
import type { ProxyOutcome } from './proxy.js';

/** What a line says about the request itself. */
export interface RecordedRequest { reqId: string; method: string; host: string; path: string; bytes: number; clientIp: string; traceparent: string | undefined }

export class RequestRecorder {
  constructor(private readonly log: AccessLog | undefined, private readonly metrics: EdgeMetrics | undefined) {}

  /** The recorder of one HTTP/1.1 exchange (call it once, with the proxy's outcome or, for a local answer, the request id). */
  http1(ex: Http1Exchange, d: RouteDecision, clientIp: string): (o?: ProxyOutcome, reqId?: string) => void {
    const start = performance.now();
    let done = false;
    return (o?: ProxyOutcome, reqId?: string) => {
      if (done) return;
      done = true;
      const status = o?.status ?? (ex.aborted ? 499 : ex.status);
      this.record(d, start, status, o, {
        reqId: o?.requestId ?? reqId ?? '', method: ex.method, host: ex.head.host ?? '', path: ex.target, bytes: ex.bytesWritten, clientIp,
        traceparent: rawGet(ex.head.raw, 'traceparent'),
      });
    };
  }

  /** The recorder of one request through node's compat objects (HTTP/2). */
  node(req: IncomingMessage, res: ServerResponse, d: RouteDecision, clientIp: string): (o?: ProxyOutcome) => void {
    const start = performance.now();
    const socket = req.socket;
    // Read now: an HTTP/2 stream's socket proxy is gone by the time the response closes.
    const h2 = req.httpVersionMajor === 2;
    const written = h2 ? 0 : socket.bytesWritten;
    let done = false;
    return (o?: ProxyOutcome) => {
      if (done) return;
      done = true;
      const status = o?.status ?? (res.writableFinished ? res.statusCode : 499); // 499: the client went away first
      this.record(d, start, status, o, {
        reqId: o?.requestId ?? (res.getHeader('x-request-id') as string | undefined) ?? '', method: req.method ?? '', host: (req.headers.host ?? '') as string, path: req.url ?? '',
        bytes: h2 ? Number(res.getHeader('content-length') ?? 0) || 0 : Math.max(0, (socket.bytesWritten ?? written) - written),
        clientIp, traceparent: req.headers.traceparent as string | undefined,
      });
    };
  }

  /** A request the engine refused before the router saw it (malformed, too large, too slow). */
  refused(clientIp: string, status: number): void {
    this.record(undefined, performance.now(), status, undefined, { reqId: '', method: '', host: '', path: '', bytes: 0, clientIp, traceparent: undefined });
  }

  /** Writes one access-log line and the request metrics. `d` undefined: answered before routing. */
  record(d: RouteDecision | undefined, start: number, status: number, o: ProxyOutcome | undefined, r: RecordedRequest): void {
    const durationMs = performance.now() - start;
    const env = d === undefined ? '' : d.kind === 'unknown-env' ? d.name : d.env.name;
    const service = d !== undefined && (d.kind === 'upstream' || d.kind === 'site' || d.kind === 'no-upstream') ? d.service.name : undefined;
    this.metrics?.observeRequest({ env, service, status, durationMs });
    if (this.log === undefined) return;
    const tp = r.traceparent;
    // One fixed shape (undefined fields are left out of the line): no spreads on the hot path.
    this.log.log({
      reqId: r.reqId, env, service,
      instance: d === undefined ? undefined : d.kind === 'upstream' ? o?.endpoint ?? `${d.upstream.env}/${d.service.name}` : d.kind === 'site' ? `${d.service.name}@${d.deploy.id}` : undefined,
      method: r.method, host: r.host, path: r.path, status, bytes: r.bytes,
      durationMs, // written with µs resolution (formatAccessLine)
      upstreamMs: o?.upstreamMs,
      retries: o?.retries,
      clientIp: r.clientIp,
      fallback: d !== undefined && d.kind !== 'unknown-env' && 'fallback' in d && d.fallback ? d.fallback : undefined,
      traceId: tp ? tp.slice(3, 35) : undefined,
      error: o?.error,
    });
  }
}
