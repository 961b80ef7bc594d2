/**
 * @module router/proxy
 * Forwards one resolved request to an upstream endpoint through its undici pool, streaming
 * both bodies (an undici dispatch handler writing straight into the client response, with
 * backpressure), and maps failures to problem responses: connect failure 502
 * (`SWY_UPSTREAM_CONNECT`), timeout 504 (`SWY_UPSTREAM_TIMEOUT`), other upstream failure 502
 * (`SWY_UPSTREAM_ERROR`), a chunked body past the limit 413 (`SWY_BODY_TOO_LARGE`); a client
 * that goes away is recorded as 499 and its upstream request aborted.
 *
 * Retries: only idempotent methods, only when nothing of the request body was consumed, only
 * for failures before the response head that are safe to repeat (connect errors, resets — not
 * timeouts), on another endpoint when there is one, at most `retries.attempts` times and within
 * the upstream's retry budget. Every attempt feeds passive outlier ejection ({@link UpstreamPools}).
 * Per-service timeouts (`headersMs`, `idleMs`) are passed per request; `connectMs` selects the pool.
 *
 * WebSocket upgrades are tunnelled to the same resolved endpoint over a raw socket.
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { Duplex, Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { swyError, type SwitchyardError } from '../errors/index.js';
import type { EndpointRoute, RouteDecision } from '../routing/index.js';
import { filterResponseHeaders, forwardRequestHeaders } from './headers.js';
import { CappedBody, closeHeaders } from './hygiene.js';
import { DEFAULT_RETRY_ATTEMPTS, DEFAULT_RETRY_BUDGET_PERCENT, type RetryBudget } from './outlier.js';
import { sendProblem } from './problem.js';
import { proxyH2 } from './h2-upstream.js';
import type { EndpointState, UpstreamPools } from './upstreams.js';

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

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

const CONNECT_CODES = new Set(['ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'ENOTFOUND', 'EAI_AGAIN']);
const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);
const RESET_CODES = new Set(['ECONNRESET', 'UND_ERR_SOCKET', 'EPIPE']);
/** Failures that say nothing about the endpoint's health (our own request, our own pool, our own abort). */
const NOT_THE_ENDPOINT = new Set(['UND_ERR_INVALID_ARG', 'UND_ERR_ABORTED', 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH', 'UND_ERR_NOT_SUPPORTED',
  'UND_ERR_DESTROYED', 'UND_ERR_CLOSED', 'SWY_CLIENT_ABORTED', 'SWY_BODY_TOO_LARGE']);

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
  if (d.service.protocol === 'h2c') return proxyH2(pools, req, res, d, info, headers, body);
  return new Promise<ProxyOutcome>((resolve) => { new Exchange(pools, req, res, d, info, headers, body, resolve).start(); });
}

const clientGone = (): Error => Object.assign(new Error('the client closed the request'), { code: 'SWY_CLIENT_ABORTED' });

/**
 * One proxied request: the undici dispatch handler of each of its attempts (one at a time).
 */
class Exchange implements Dispatcher.DispatchHandler {
  readonly #method: string;
  readonly #clientSocket: Duplex; // req.socket is cleared when undici destroys req
  readonly #budget: RetryBudget;
  // current attempt
  #ep: EndpointRoute | undefined;
  #state: EndpointState | undefined;
  #controller: Dispatcher.DispatchController | null = null;
  #active = false;
  #t0 = 0;
  // result
  #retries = 0;
  #status = 0;
  #error: string | undefined;
  #upstreamMs: number | undefined;
  #gone = false;
  #drainHooked = false;

  constructor(
    readonly pools: UpstreamPools, readonly req: IncomingMessage, readonly res: ServerResponse, readonly d: UpstreamDecision,
    readonly info: ProxyRequestInfo, readonly headers: string[], readonly body: Readable | null, readonly resolve: (o: ProxyOutcome) => void,
  ) {
    this.#method = req.method ?? 'GET';
    this.#clientSocket = req.socket;
    this.#budget = pools.retryBudget(d.upstream.key);
  }

  start(): void {
    this.#budget.request(Date.now());
    this.res.once('close', () => this.#closed());
    this.#dispatch(undefined);
  }

  /** The client response is over: finished, destroyed by us, or the client went away. */
  #closed(): void {
    if (!this.res.writableFinished && this.#error === undefined) {
      this.#gone = true;
      this.#status = 499;
      this.#error = 'SWY_CLIENT_ABORTED';
      if (this.#active) {
        if (this.#controller) this.#controller.abort(clientGone());
        // else: still queued in the pool; aborted in onRequestStart.
      }
    }
    this.resolve({ status: this.#status, retries: this.#retries, endpoint: this.#ep?.id, error: this.#error, upstreamMs: this.#upstreamMs });
  }

  #dispatch(exclude: EndpointRoute | undefined): void {
    const d = this.d;
    // On a retry: another endpoint when there is one, else the same again.
    const ep = this.pools.pick(d.upstream, exclude) ?? exclude;
    if (ep === undefined) {
      this.#fail(swyError('SWY_NO_HEALTHY_UPSTREAM',
        `service "${d.service.name}" has no healthy endpoint in environment "${d.upstream.env}" (${d.upstream.total} instance(s), none ready)`,
        { env: d.env.name, service: d.service.name, upstreamEnv: d.upstream.env }));
      return;
    }
    const state = this.pools.endpoint(ep);
    this.#ep = ep;
    this.#state = state;
    this.#controller = null;
    this.#active = true;
    state.inflight++;
    this.#t0 = performance.now();
    const t = d.service.timeouts;
    // Errors, even synchronous ones (invalid header), come back through onResponseError.
    state.poolFor(t?.connectMs).dispatch({
      path: this.info.path, method: this.#method, headers: this.headers, body: this.body,
      headersTimeout: t?.headersMs, bodyTimeout: t?.idleMs,
    }, this);
  }

  /** Ends the current attempt once (in-flight count). */
  #endAttempt(): void {
    if (!this.#active) return;
    this.#active = false;
    this.#state!.inflight--;
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.#gone) controller.abort(clientGone());
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    if (statusCode < 200) return; // interim (1xx): the client's listener answered Expect itself
    this.#upstreamMs = performance.now() - this.#t0;
    if (statusCode >= 500) this.pools.failed(this.#ep!, this.d.upstream, 'gateway');
    else this.pools.succeeded(this.#state!);
    if (this.#gone) { controller.abort(clientGone()); return; }
    const res = this.res;
    this.#status = statusCode;
    res.writeHead(statusCode, filterResponseHeaders(headers as Record<string, string | string[] | undefined>));
    if (!this.#drainHooked) { this.#drainHooked = true; res.on('drain', () => this.#controller?.resume()); }
    if (res.writableNeedDrain) controller.pause();
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#gone) return;
    if (!this.res.write(chunk)) controller.pause();
  }

  onResponseEnd(): void {
    this.#endAttempt();
    if (!this.#gone) this.res.end();
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    this.#endAttempt();
    this.#failed(err as Error & { code?: string });
  }

  #failed(err: Error & { code?: string }): void {
    const res = this.res;
    // Client gone (499). Not `req.destroyed`: undici destroys the request body stream itself
    // when the upstream fails, and that client still waits for its 502/504.
    if (this.#gone || res.destroyed || this.#clientSocket.destroyed) return;
    const d = this.d;
    const ep = this.#ep!;
    if (this.body instanceof CappedBody && this.body.tooLarge) {
      this.#fail(swyError('SWY_BODY_TOO_LARGE', `the request body exceeds the router's limit of ${this.info.maxBodyBytes} bytes`,
        { env: d.env.name, service: d.service.name, limit: this.info.maxBodyBytes }), closeHeaders(this.req));
      return;
    }
    const code = err.code ?? '';
    const connectFailed = CONNECT_CODES.has(code);
    if (!NOT_THE_ENDPOINT.has(code)) this.pools.failed(ep, d.upstream, connectFailed ? 'connect' : 'gateway');
    if (!res.headersSent && (connectFailed || RESET_CODES.has(code)) && this.#mayRetry()) {
      this.#retries++;
      this.#dispatch(ep);
      return;
    }
    this.#fail(mapUpstreamError(err, d, ep));
  }

  /** Sends (or, mid-response, cuts off with) a problem and records it as the outcome. */
  #fail(e: SwitchyardError, extraHeaders?: Record<string, string>): void {
    this.#error = e.code;
    if (!this.res.headersSent) this.#status = e.statusCode;
    sendProblem(this.req, this.res, e, extraHeaders);
  }

  #mayRetry(): boolean {
    const policy = this.d.service.retries;
    if (this.#retries >= (policy?.attempts ?? DEFAULT_RETRY_ATTEMPTS)) return false;
    if (!IDEMPOTENT.has(this.#method)) return false;
    // A body can be sent again only if no byte of it was consumed (e.g. the connection was refused).
    const b = this.body;
    if (b !== null && (b !== this.req || this.req.readableDidRead || this.req.destroyed)) return false;
    return this.#budget.tryRetry(policy?.budgetPercent ?? DEFAULT_RETRY_BUDGET_PERCENT, Date.now());
  }
}

/** undici's timeout codes under the names the HTTP/1.1 engine uses, so problems read the same for every client. */
const CAUSE_NAMES: Record<string, string> = { UND_ERR_HEADERS_TIMEOUT: 'SWY_HEADERS_TIMEOUT', UND_ERR_BODY_TIMEOUT: 'SWY_BODY_TIMEOUT', UND_ERR_CONNECT_TIMEOUT: 'SWY_CONNECT_TIMEOUT' };

function mapUpstreamError(err: Error & { code?: string }, d: UpstreamDecision, ep: EndpointRoute): SwitchyardError {
  const extras = { env: d.env.name, service: d.service.name, upstreamEnv: d.upstream.env, endpoint: ep.id, cause: CAUSE_NAMES[err.code ?? ''] ?? err.code ?? err.message };
  const code = err.code ?? '';
  if (TIMEOUT_CODES.has(code)) {
    return swyError('SWY_UPSTREAM_TIMEOUT', `service "${d.service.name}" (${ep.id}) did not answer in time (${code === 'UND_ERR_BODY_TIMEOUT' ? 'response body stalled' : 'no response head'})`, extras, err);
  }
  if (CONNECT_CODES.has(code)) {
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
  upstream.on('error', (err: Error & { code?: string }) => {
    if (!upstream.bytesRead) {
      socket.end('HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
      if (CONNECT_CODES.has(err.code ?? '')) pools.failed(ep, d.upstream, 'connect');
    }
    close();
  });
  socket.on('error', close);
  upstream.on('close', close);
  socket.on('close', close);
}
