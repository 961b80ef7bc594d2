/**
 * @module router/h2-upstream
 * Proxying to services that speak HTTP/2 cleartext (`protocol: h2c`, e.g. gRPC): one
 * node:http2 client session per endpoint (multiplexed, reopened when it goes away), the request
 * body streamed up, the response head, body and trailers streamed back (trailers reach an HTTP/2
 * client as a trailing HEADERS frame, an HTTP/1.1 client in the last chunk).
 *
 * Header rules are those of HTTP/1.1 upstreams ({@link forwardRequestHeaders}) minus the fields
 * HTTP/2 forbids; `te: trailers` is kept (gRPC requires it). Failures map to the same problems:
 * connect failure 502, no response head in time 504, other failure 502; a client that goes away
 * cancels the upstream stream (499). No retries (gRPC calls are rarely idempotent by method).
 */
import { connect, constants, type ClientHttp2Session, type IncomingHttpHeaders as H2Headers, type OutgoingHttpHeaders } from 'node:http2';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { swyError } from '../errors/index.js';
import type { EndpointRoute, RouteDecision } from '../routing/index.js';
import { CappedBody, closeHeaders } from './hygiene.js';
import { sendProblem } from './problem.js';
import type { ProxyOutcome, ProxyRequestInfo } from './proxy.js';
import type { UpstreamPools } from './upstreams.js';

type UpstreamDecision = Extract<RouteDecision, { kind: 'upstream' }>;

/** Fields that HTTP/2 forbids (RFC 9113 §8.2.2) or that are replaced by pseudo-headers. */
const H1_ONLY = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'host', 'http2-settings', 'te']);
const CONNECT_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT']);

/** HTTP/2 client sessions, one per endpoint origin. */
export class H2Sessions {
  readonly #byOrigin = new Map<string, ClientHttp2Session>();

  /** The live session to `host:port`, opened on first use or after the last one went away. */
  session(host: string, port: number, connectMs: number): ClientHttp2Session {
    const origin = `http://${host}:${port}`;
    const cur = this.#byOrigin.get(origin);
    if (cur !== undefined && !cur.closed && !cur.destroyed) return cur;
    const s = connect(origin);
    const forget = () => { if (this.#byOrigin.get(origin) === s) this.#byOrigin.delete(origin); };
    s.on('error', forget); // streams of the session get the error too
    s.on('goaway', forget);
    s.on('close', forget);
    const timer = setTimeout(() => {
      if (!s.connecting) return;
      s.destroy(Object.assign(new Error(`connect timeout after ${connectMs} ms`), { code: 'ETIMEDOUT' }));
    }, connectMs);
    timer.unref();
    s.once('connect', () => clearTimeout(timer));
    s.once('close', () => clearTimeout(timer));
    s.unref();
    this.#byOrigin.set(origin, s);
    return s;
  }

  /** Closes sessions of origins not in `live` (gracefully: open streams finish). */
  sweep(live: ReadonlySet<string>): void {
    for (const [origin, s] of this.#byOrigin) if (!live.has(origin)) { this.#byOrigin.delete(origin); s.close(); }
  }

  close(): void {
    for (const s of this.#byOrigin.values()) s.destroy();
    this.#byOrigin.clear();
  }
}

/** Request headers for an HTTP/2 upstream from the flat list of {@link forwardRequestHeaders}. */
function h2RequestHeaders(req: IncomingMessage, flat: readonly string[], info: ProxyRequestInfo): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {
    [constants.HTTP2_HEADER_METHOD]: req.method ?? 'GET',
    [constants.HTTP2_HEADER_PATH]: info.path,
    [constants.HTTP2_HEADER_SCHEME]: 'http',
  };
  const host = req.headers.host ?? (req.headers[':authority'] as string | undefined);
  if (host !== undefined) out[constants.HTTP2_HEADER_AUTHORITY] = host;
  for (let i = 0; i < flat.length; i += 2) {
    const name = flat[i]!.toLowerCase();
    if (H1_ONLY.has(name)) continue;
    const value = flat[i + 1]!;
    const prev = out[name];
    if (prev === undefined) out[name] = value;
    else if (name === 'cookie') out[name] = `${prev as string}; ${value}`;
    else if (name === 'set-cookie') out[name] = [...(Array.isArray(prev) ? prev : [String(prev)]), value];
    else out[name] = `${prev as string}, ${value}`;
  }
  const te = req.headers.te;
  const ct = req.headers['content-type'];
  if ((typeof te === 'string' && /(^|,)\s*trailers\s*(;|,|$)/i.test(te)) || (typeof ct === 'string' && ct.startsWith('application/grpc'))) out.te = 'trailers';
  return out;
}

/** Response headers or trailers for the client: pseudo-headers and HTTP/1-only fields dropped. */
function h2ResponseHeaders(h: H2Headers): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const k in h) {
    if (k.charCodeAt(0) === 58 /* : */ || H1_ONLY.has(k)) continue;
    const v = h[k];
    if (v !== undefined) out[k] = v as string | string[];
  }
  return out;
}

/**
 * Proxies `req` to the decision's upstream over HTTP/2 cleartext. `headers` is the flat list of
 * {@link forwardRequestHeaders}; `body` the request body stream (null: none). Resolves when the
 * client response is closed.
 */
export function proxyH2(
  pools: UpstreamPools, req: IncomingMessage, res: ServerResponse, d: UpstreamDecision, info: ProxyRequestInfo,
  headers: readonly string[], body: Readable | null,
): Promise<ProxyOutcome> {
  return new Promise<ProxyOutcome>((resolve) => {
    const ep: EndpointRoute | undefined = pools.pick(d.upstream);
    let status = 0;
    let error: string | undefined;
    let upstreamMs: number | undefined;
    const fail = (code: Parameters<typeof swyError>[0], message: string, cause?: Error & { code?: string }) => {
      error = code;
      const e = swyError(code, message, { env: d.env.name, service: d.service.name, upstreamEnv: d.upstream.env, ...(ep ? { endpoint: ep.id } : {}), ...(cause ? { cause: cause.code ?? cause.message } : {}) }, cause);
      if (!res.headersSent) status = e.statusCode;
      sendProblem(req, res, e);
    };
    if (ep === undefined) {
      res.once('close', () => resolve({ status, retries: 0, endpoint: undefined, error, upstreamMs }));
      fail('SWY_NO_HEALTHY_UPSTREAM', `service "${d.service.name}" has no healthy endpoint in environment "${d.upstream.env}" (${d.upstream.total} instance(s), none ready)`);
      return;
    }
    const state = pools.endpoint(ep);
    const t = d.service.timeouts;
    const defaults = pools.timeouts;
    state.inflight++;
    let active = true;
    const endAttempt = () => { if (active) { active = false; state.inflight--; } };
    const t0 = performance.now();
    let gotHead = false;
    let stream: ReturnType<ClientHttp2Session['request']>;
    try {
      const session = pools.h2.session(ep.host, ep.port, t?.connectMs ?? defaults.connectMs);
      stream = session.request(h2RequestHeaders(req, headers, info), { endStream: body === null });
    } catch (err) {
      endAttempt();
      res.once('close', () => resolve({ status, retries: 0, endpoint: ep.id, error, upstreamMs }));
      fail('SWY_UPSTREAM_ERROR', `service "${d.service.name}" (${ep.id}) failed: ${(err as Error).message}`, err as Error);
      return;
    }

    res.once('close', () => {
      if (!res.writableFinished && error === undefined) {
        status = 499;
        error = 'SWY_CLIENT_ABORTED';
        if (!stream.destroyed) stream.close(constants.NGHTTP2_CANCEL);
      }
      endAttempt();
      resolve({ status, retries: 0, endpoint: ep.id, error, upstreamMs });
    });

    const headersMs = t?.headersMs ?? defaults.headersMs;
    const headTimer = headersMs > 0 ? setTimeout(() => {
      if (gotHead) return;
      pools.failed(ep, d.upstream, 'gateway');
      fail('SWY_UPSTREAM_TIMEOUT', `service "${d.service.name}" (${ep.id}) did not answer in time (no response head)`);
      stream.close(constants.NGHTTP2_CANCEL);
    }, headersMs) : undefined;
    headTimer?.unref();
    const idleMs = t?.idleMs ?? defaults.bodyMs;
    if (idleMs > 0) {
      stream.setTimeout(idleMs, () => {
        if (!gotHead) return;
        error ??= 'SWY_UPSTREAM_TIMEOUT';
        stream.close(constants.NGHTTP2_CANCEL);
        res.destroy();
      });
    }

    if (body !== null) {
      body.on('error', (err) => { if (!stream.destroyed) stream.destroy(err); });
      body.pipe(stream);
    }

    stream.on('response', (h) => {
      const code = Number(h[constants.HTTP2_HEADER_STATUS]);
      if (code < 200) return;
      gotHead = true;
      if (headTimer) clearTimeout(headTimer);
      upstreamMs = performance.now() - t0;
      if (code >= 500) pools.failed(ep, d.upstream, 'gateway'); else pools.succeeded(state);
      if (res.destroyed || error !== undefined) { stream.close(constants.NGHTTP2_CANCEL); return; }
      status = code;
      res.writeHead(code, h2ResponseHeaders(h));
    });
    stream.on('trailers', (h) => {
      if (!res.destroyed && error === undefined) res.addTrailers(h2ResponseHeaders(h) as Record<string, string>);
    });
    stream.on('data', (chunk: Buffer) => {
      if (res.destroyed || error !== undefined) return;
      if (!res.write(chunk)) stream.pause();
    });
    res.on('drain', () => stream.resume());
    stream.on('end', () => {
      endAttempt();
      if (headTimer) clearTimeout(headTimer);
      if (!res.destroyed && error === undefined) {
        if (!gotHead) { fail('SWY_UPSTREAM_ERROR', `service "${d.service.name}" (${ep.id}) ended the stream without a response`); return; }
        res.end();
      }
    });
    stream.on('error', (streamErr: Error & { code?: string; cause?: unknown }) => {
      // A stream pending on a session that failed to connect is cancelled; the cause says why.
      const err = (streamErr.code === 'ERR_HTTP2_STREAM_CANCEL' && streamErr.cause instanceof Error ? streamErr.cause : streamErr) as Error & { code?: string };
      endAttempt();
      if (headTimer) clearTimeout(headTimer);
      if (res.destroyed || error !== undefined) return;
      if (gotHead) { error = 'SWY_UPSTREAM_ERROR'; res.destroy(err); return; }
      if (body instanceof CappedBody && body.tooLarge) {
        error = 'SWY_BODY_TOO_LARGE';
        const e = swyError('SWY_BODY_TOO_LARGE', `the request body exceeds the router's limit of ${info.maxBodyBytes} bytes`, { env: d.env.name, service: d.service.name, limit: info.maxBodyBytes });
        status = e.statusCode;
        sendProblem(req, res, e, closeHeaders(req));
        return;
      }
      const connectFailed = CONNECT_CODES.has(err.code ?? '');
      pools.failed(ep, d.upstream, connectFailed ? 'connect' : 'gateway');
      if (connectFailed) fail('SWY_UPSTREAM_CONNECT', `could not connect to service "${d.service.name}" (${ep.id}): ${err.code}`, err);
      else fail('SWY_UPSTREAM_ERROR', `service "${d.service.name}" (${ep.id}) failed: ${err.message}`, err);
    });
    stream.on('close', () => {
      // Reset by the upstream without an error event (RST_STREAM with a code), before the end.
      endAttempt();
      if (headTimer) clearTimeout(headTimer);
      if (res.destroyed || res.writableEnded || error !== undefined) return;
      if (!gotHead) fail('SWY_UPSTREAM_ERROR', `service "${d.service.name}" (${ep.id}) reset the stream (code ${stream.rstCode})`);
      else { error = 'SWY_UPSTREAM_ERROR'; res.destroy(); }
    });
  });
}
