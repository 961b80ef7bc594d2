/**
 * @module router/http1/proxy
 * Forwards one request to an HTTP/1.1 upstream endpoint over a pooled raw socket
 * ({@link RawPool}): the request head rewritten once (as bytes copied from the client's,
 * `request-head.ts`; from strings for HTTP/2 clients and rare heads), both bodies passed on with
 * backpressure both ways (a full writer pauses the other side's reader). The client side is a
 * {@link Downstream}: an HTTP/1.1 exchange of our engine (`downstream-h1`) or an HTTP/2 stream
 * of `node:http2` (`downstream-h2`) — one upstream path for every client.
 *
 * Failure mapping and retries: connect failure 502 `SWY_UPSTREAM_CONNECT`, no head in time 504
 * `SWY_UPSTREAM_TIMEOUT`, any other upstream failure 502 `SWY_UPSTREAM_ERROR`, a chunked body over
 * the limit 413 `SWY_BODY_TOO_LARGE`, client gone 499. A retry goes to another endpoint for
 * idempotent methods only, before any body byte was sent and any response byte received, within
 * the retry budget; a pooled socket the upstream had closed (stale) is replayed at once on a fresh
 * one without counting as a retry or an endpoint failure.
 *
 * Upgrades (WebSocket): the request goes out on a fresh socket; on `101` both sockets become a
 * byte tunnel; any other answer is passed on and the connection closed.
 */
import type { Socket } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { swyError, type SwitchyardError } from '../../errors/index.js';
import type { EndpointRoute, RouteDecision } from '../../routing/index.js';
import { randomUUID } from 'node:crypto';
import { forwardRequestHeaders } from '../headers.js';
import { DEFAULT_RETRY_ATTEMPTS, DEFAULT_RETRY_BUDGET_PERCENT, type RetryBudget } from '../outlier.js';
import type { ProxyOutcome, ProxyRequestInfo } from '../proxy.js';
import type { EndpointState, UpstreamPools } from '../upstreams.js';
import type { UpstreamConn, ResponseHandler, UpstreamError } from './client.js';
import { BodyKind } from './fields.js';
import type { ResponseHead } from './response.js';
import type { BodySink, Http1Exchange } from './server.js';
import { Http1Downstream } from './downstream-h1.js';
import { upstreamHeadBytes } from './request-head.js';
import { H2Downstream } from './downstream-h2.js';

export { responseFieldLines, responseHeadBytes, sendProblemRaw } from './downstream-h1.js';

/** The client side of one proxied exchange: its request body, and how the upstream's answer is framed to it. */
export interface Downstream {
  readonly method: string;
  /** The request has a body (its bytes follow the head). */
  readonly hasBody: boolean;
  /** The body goes upstream chunked (its size is counted against the limit while it streams). */
  readonly chunkedBody: boolean;
  /** Body bytes received so far (decoded). */
  readonly bodyBytes: number;
  /** Body bytes announced so far (for chunked: received plus the rest of the chunk whose size line came): the body limit's measure. */
  readonly bodyBytesDeclared: number;
  /** Some body bytes were handed to the sink. */
  readonly bodyStarted: boolean;
  readonly bodyComplete: boolean;
  readonly responseStarted: boolean;
  /** The exchange is over (answered, or the client gone). */
  readonly finished: boolean;
  /** The client went away before its answer was complete. */
  readonly aborted: boolean;
  /** Status sent to the client (0 before the head). */
  readonly status: number;
  /** Called once when the exchange is over. */
  onClose: (() => void) | undefined;
  /** Called when the client can take more response bytes after a write returned false. */
  onDrain: (() => void) | undefined;
  /** Streams the request body in the form the upstream head announces (wire form: chunked stays chunked). */
  readBody(sink: BodySink): void;
  resumeBody(): void;
  informational(head: ResponseHead): void;
  /** Starts the response; `extra` are the router's field lines (`name: value\r\n` each). */
  responseHead(head: ResponseHead, extra: string): void;
  /** Response body bytes in the upstream's framing, valid only during the call; false pauses the upstream. */
  responseBody(buf: Buffer): boolean;
  responseEnd(): void;
  /** The end of one upstream read: a point to flush batched writes. */
  readEnd(): void;
  /** A `101`: the upstream socket and the client become one tunnel. */
  tunnel(head: ResponseHead, extra: string, up: Socket, rest: Buffer | undefined): void;
  /** Answers with a problem, or cuts the response off if it started. */
  problem(e: SwitchyardError, extra: string): void;
}

type UpstreamDecision = Extract<RouteDecision, { kind: 'upstream' }>;

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);
const CONNECT_CODES = new Set(['ECONNREFUSED', 'SWY_CONNECT_TIMEOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT']);
const TIMEOUT_CODES = new Set(['SWY_HEADERS_TIMEOUT', 'SWY_BODY_TIMEOUT']);
const RESET_CODES = new Set(['ECONNRESET', 'EPIPE']);

/**
 * Builds the upstream request head from strings (without the final CRLF when the client sent no
 * Host) and the router's response lines: HTTP/2 clients, and the HTTP/1.1 heads
 * {@link upstreamHeadBytes} leaves to it.
 */
function upstreamHead(method: string, raw: readonly string[], host: string | undefined, d: UpstreamDecision, info: ProxyRequestInfo, upgrade: boolean, bodyLines: string, traceparent?: string): { head: string; extra: string; requestId: string } {
  const { headers, requestId } = forwardRequestHeaders(raw, {
    routingHeader: info.routingHeader, env: d.env.name, clientIp: info.clientIp, proto: info.proto, host, edge: info.edge, upgrade, traceparent,
  });
  let head = method + ' ' + info.path + ' HTTP/1.1\r\n';
  for (let i = 0; i < headers.length; i += 2) head += headers[i] + ': ' + headers[i + 1] + '\r\n';
  head += bodyLines;
  // A client may send no Host (HTTP/1.0); HTTP/1.1 upstreams require one: the endpoint's address is added per attempt.
  if (host !== undefined) head += '\r\n';
  return { head, extra: responseLines(requestId, info), requestId };
}

/** The router's own response field lines: the request id, then the route's and the listener's. */
function responseLines(requestId: string, info: ProxyRequestInfo): string {
  let extra = 'x-request-id: ' + requestId + '\r\n';
  if (info.responseHeaders) for (const k in info.responseHeaders) extra += k + ': ' + info.responseHeaders[k] + '\r\n';
  if (info.extraResponseLines !== undefined) extra += info.extraResponseLines;
  return extra;
}

/** Proxies an HTTP/1.1 exchange to the decision's upstream; `done` gets the outcome once the exchange is over. */
export function proxyExchange(pools: UpstreamPools, ex: Http1Exchange, d: UpstreamDecision, info: ProxyRequestInfo, done: ((o: ProxyOutcome) => void) | undefined): void {
  const upgrade = ex.head.upgrade;
  const down = new Http1Downstream(ex, upgrade);
  const conn = ex.conn;
  const b = upstreamHeadBytes(ex.head, info, d.env.name, conn.forwardSuffix, randomUUID);
  if (b !== undefined) {
    conn.forwardSuffix = b.suffix;
    new RawExchange(pools, down, d, info, b.bytes, false, responseLines(b.requestId, info), b.requestId, upgrade, done).start();
    return;
  }
  const h = upstreamHead(ex.method, ex.head.raw, ex.head.host, d, info, upgrade, ex.head.body === BodyKind.Chunked ? 'transfer-encoding: chunked\r\n' : '', ex.head.traceparent);
  new RawExchange(pools, down, d, info, h.head, ex.head.host === undefined, h.extra, h.requestId, upgrade, done).start();
}

/**
 * Proxies a request of an HTTP/2 client (node:http2's compat objects) to the decision's HTTP/1.1
 * upstream over the same raw pool; resolves with the outcome once the response is over. A body
 * without `content-length` goes upstream chunked.
 */
export function proxyH2Request(pools: UpstreamPools, req: IncomingMessage, res: ServerResponse, d: UpstreamDecision, info: ProxyRequestInfo): Promise<ProxyOutcome> {
  const down = new H2Downstream(req, res);
  const host = req.headers.host ?? (req.headers[':authority'] as string | undefined);
  const bodyLines = down.chunkedBody ? 'transfer-encoding: chunked\r\n' : '';
  const h = upstreamHead(req.method ?? 'GET', req.rawHeaders, host, d, info, false, bodyLines);
  return new Promise((resolve) => new RawExchange(pools, down, d, info, h.head, host === undefined, h.extra, h.requestId, false, resolve).start());
}

/** One proxied request: its attempts (one at a time) against the upstream's endpoints. */
class RawExchange implements ResponseHandler, BodySink {
  readonly #budget: RetryBudget;
  #ep: EndpointRoute | undefined;
  #state: EndpointState | undefined;
  #conn: UpstreamConn | undefined;
  #active = false;
  #t0 = 0;
  #retries = 0;
  #status = 0;
  #error: string | undefined;
  #upstreamMs: number | undefined;
  #bodyAttached = false;
  #bodySent = false;
  #awaitingConnect = false;
  #over = false;

  constructor(
    readonly pools: UpstreamPools, readonly down: Downstream, readonly d: UpstreamDecision, readonly info: ProxyRequestInfo,
    /** Request line and fields; without its final CRLF when `needsHost` (a string then: the endpoint's address is added per attempt). */
    readonly head: string | Buffer, readonly needsHost: boolean,
    readonly extra: string, readonly requestId: string, readonly upgrade: boolean,
    readonly done: ((o: ProxyOutcome) => void) | undefined,
  ) {
    this.#budget = pools.retryBudget(d.upstream.key);
  }

  start(): void {
    this.#budget.request(Date.now());
    this.down.onClose = () => this.#exchangeOver();
    this.down.onDrain = () => this.#conn?.resume();
    this.#attempt(undefined);
  }

  #exchangeOver(): void {
    if (this.#over) return;
    this.#over = true;
    const down = this.down;
    if (down.aborted && this.#error === undefined) {
      this.#status = 499;
      this.#error = 'SWY_CLIENT_ABORTED';
    }
    if (down.status !== 0 && this.#status === 0) this.#status = down.status;
    if (this.#active) { this.#endAttempt(); this.#conn?.destroy(); }
    this.done?.({ status: this.#status, retries: this.#retries, endpoint: this.#ep?.id, error: this.#error, upstreamMs: this.#upstreamMs, requestId: this.requestId });
  }

  #attempt(exclude: EndpointRoute | undefined): void {
    const d = this.d;
    const ep = this.pools.pick(d.upstream, exclude) ?? exclude;
    if (ep === undefined) {
      this.#fail(swyError('SWY_NO_HEALTHY_UPSTREAM',
        `service "${d.service.name}" has no healthy endpoint in environment "${d.upstream.env}" (${d.upstream.total} instance(s), none ready)`,
        { env: d.env.name, service: d.service.name, upstreamEnv: d.upstream.env }));
      return;
    }
    this.#connect(ep, false);
  }

  #connect(ep: EndpointRoute, fresh: boolean): void {
    const state = this.pools.endpoint(ep);
    this.#ep = ep;
    this.#state = state;
    const pool = state.rawPool(this.d.service.timeouts);
    const conn = this.upgrade ? pool.fresh(true) : fresh ? pool.fresh() : pool.acquire();
    this.#conn = conn;
    this.#active = true;
    state.inflight++;
    this.#t0 = performance.now();
    // Head and the body bytes already here leave in one write (a request without a body is one write anyway).
    if (!this.down.hasBody) { this.#send(conn, ep); return; }
    const sock = conn.socket;
    sock.cork();
    try { this.#send(conn, ep); } finally { sock.uncork(); }
  }

  #send(conn: UpstreamConn, ep: EndpointRoute): void {
    conn.request(this.down.method, this.needsHost ? `${this.head as string}host: ${ep.host}:${ep.port}\r\n\r\n` : this.head, this, this.upgrade);
    // The body is read only once the socket is connected: a refused connection then consumed
    // none of it, and the request can be retried elsewhere with its body intact.
    if (conn.connecting) this.#awaitingConnect = true;
    else this.#attachBody(conn);
  }

  #attachBody(conn: UpstreamConn): void {
    this.#awaitingConnect = false;
    if (!this.#bodyAttached) { this.#bodyAttached = true; this.down.readBody(this); }
    else if (this.down.bodyComplete) conn.endRequest();
  }

  #endAttempt(): void {
    if (!this.#active) return;
    this.#active = false;
    this.#state!.inflight--;
  }

  // ---- request body (BodySink) ----

  onBody(buf: Buffer): boolean {
    const conn = this.#conn;
    if (conn === undefined || !this.#active) return true; // the exchange is over; the connection will close
    this.#bodySent = true;
    const max = this.info.maxBodyBytes;
    // A chunk that would take the body over the limit is refused when its size line arrives, before it is forwarded.
    if (max !== undefined && this.down.chunkedBody && this.down.bodyBytesDeclared > max) {
      this.#endAttempt();
      conn.destroy();
      this.#fail(swyError('SWY_BODY_TOO_LARGE', `the request body exceeds the router's limit of ${max} bytes`,
        { env: this.d.env.name, service: this.d.service.name, limit: max }));
      return true;
    }
    return conn.write(buf);
  }

  onBodyEnd(): void { if (this.#active) this.#conn?.endRequest(); }

  onBodyError(_reason: string, aborted: boolean): void {
    // The client left (499, recorded at close) or sent bad framing (the connection answers 400):
    // either way the upstream request is cut off so nothing after the bad byte reaches it.
    if (this.#active) { this.#endAttempt(); this.#conn?.destroy(); }
    if (!aborted) { this.#error = 'SWY_BAD_REQUEST'; this.#status = 400; }
  }

  // ---- response (ResponseHandler) ----

  onInformational(head: ResponseHead): void { this.down.informational(head); }

  onResponseHead(head: ResponseHead, rest: Buffer | undefined): void {
    const down = this.down;
    this.#upstreamMs = performance.now() - this.#t0;
    if (head.status >= 500) this.pools.failed(this.#ep!, this.d.upstream, 'gateway');
    else this.pools.succeeded(this.#state!);
    if (down.finished) { this.#endAttempt(); this.#conn?.destroy(); return; }
    this.#status = head.status;
    if (head.status === 101) {
      this.#endAttempt();
      down.tunnel(head, this.extra, this.#conn!.socket, rest);
      return;
    }
    down.responseHead(head, this.extra);
  }

  onResponseBody(buf: Buffer): boolean { return this.down.responseBody(buf); }

  onResponseEnd(): void {
    this.#endAttempt();
    this.down.responseEnd();
  }

  onResponseError(err: UpstreamError): void {
    this.#endAttempt();
    const down = this.down;
    if (down.finished || this.#over) return;
    const d = this.d;
    const ep = this.#ep!;
    const code = err.code;
    if (err.stale && !down.responseStarted && this.#mayReplay()) { this.#connect(ep, true); return; }
    const connectFailed = CONNECT_CODES.has(code);
    this.pools.failed(ep, d.upstream, connectFailed ? 'connect' : 'gateway');
    if (!down.responseStarted && (connectFailed || RESET_CODES.has(code)) && this.#mayRetry()) {
      this.#retries++;
      this.#attempt(ep);
      return;
    }
    this.#fail(mapError(err, d, ep));
  }

  onRequestDrain(): void {
    if (this.#awaitingConnect) { if (this.#active) this.#attachBody(this.#conn!); return; } // connected (see #send)
    this.down.resumeBody();
  }

  onReadEnd(): void { this.down.readEnd(); }

  /** Replays on a fresh socket: the request must be idempotent and no body byte sent. */
  #mayReplay(): boolean {
    return !this.#bodySent && !this.down.bodyStarted && IDEMPOTENT.has(this.down.method) && !this.upgrade;
  }

  #mayRetry(): boolean {
    const policy = this.d.service.retries;
    if (this.#retries >= (policy?.attempts ?? DEFAULT_RETRY_ATTEMPTS)) return false;
    if (!this.#mayReplay()) return false;
    return this.#budget.tryRetry(policy?.budgetPercent ?? DEFAULT_RETRY_BUDGET_PERCENT, Date.now());
  }

  #fail(e: SwitchyardError): void {
    this.#error = e.code;
    if (!this.down.responseStarted) this.#status = e.statusCode;
    this.down.problem(e, this.extra);
  }
}

function mapError(err: UpstreamError, d: UpstreamDecision, ep: EndpointRoute): SwitchyardError {
  const extras = { env: d.env.name, service: d.service.name, upstreamEnv: d.upstream.env, endpoint: ep.id, cause: err.code };
  if (TIMEOUT_CODES.has(err.code)) {
    return swyError('SWY_UPSTREAM_TIMEOUT', `service "${d.service.name}" (${ep.id}) did not answer in time (${err.code === 'SWY_BODY_TIMEOUT' ? 'response body stalled' : 'no response head'})`, extras, err);
  }
  if (CONNECT_CODES.has(err.code)) {
    return swyError('SWY_UPSTREAM_CONNECT', `could not connect to service "${d.service.name}" (${ep.id}): ${err.code}`, extras, err);
  }
  return swyError('SWY_UPSTREAM_ERROR', `service "${d.service.name}" (${ep.id}) failed: ${err.message}`, extras, err);
}
