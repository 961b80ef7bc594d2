/**
 * @module router/http1/proxy
 * Forwards one HTTP/1.1 request ({@link Http1Exchange}) to an HTTP/1.1 upstream endpoint over a
 * pooled raw socket ({@link RawPool}): the request head rewritten once into a string, both bodies
 * passed on in wire form with backpressure both ways (a full writer pauses the other side's
 * reader), the response head filtered (hop-by-hop and `Connection`-named fields removed).
 *
 * Failure mapping and retries follow `router/proxy` (the node:http path for HTTP/2 clients):
 * connect failure 502 `SWY_UPSTREAM_CONNECT`, no head or a stalled body 504
 * `SWY_UPSTREAM_TIMEOUT`, any other upstream failure 502 `SWY_UPSTREAM_ERROR`, a chunked body
 * over the limit 413 `SWY_BODY_TOO_LARGE`, client gone 499. A retry goes to another endpoint
 * for idempotent methods only, before any body byte was sent and any response byte received,
 * within the retry budget; a pooled socket the upstream had closed (stale) is replayed at once
 * on a fresh one without counting as a retry or an endpoint failure.
 *
 * Upgrades (WebSocket): the request goes out on a fresh socket; on `101` both sockets become a
 * byte tunnel; any other answer is passed on and the connection closed.
 */
import type { Socket } from 'node:net';
import { swyError, type SwitchyardError } from '../../errors/index.js';
import type { EndpointRoute, RouteDecision } from '../../routing/index.js';
import { forwardRequestHeaders } from '../headers.js';
import { DEFAULT_RETRY_ATTEMPTS, DEFAULT_RETRY_BUDGET_PERCENT, type RetryBudget } from '../outlier.js';
import { problemBody } from '../problem.js';
import type { ProxyOutcome, ProxyRequestInfo } from '../proxy.js';
import type { EndpointState, UpstreamPools } from '../upstreams.js';
import { ChunkedDecoder } from './chunked.js';
import type { UpstreamConn, ResponseHandler, UpstreamError } from './client.js';
import { BodyKind, type ResponseHead } from './parse.js';
import { REASONS, type BodySink, type Http1Exchange } from './server.js';

type UpstreamDecision = Extract<RouteDecision, { kind: 'upstream' }>;

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);
const CONNECT_CODES = new Set(['ECONNREFUSED', 'SWY_CONNECT_TIMEOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT']);
const TIMEOUT_CODES = new Set(['SWY_HEADERS_TIMEOUT', 'SWY_BODY_TIMEOUT']);
const RESET_CODES = new Set(['ECONNRESET', 'EPIPE']);

/** Hop-by-hop response fields (RFC 9110 §7.6.1); `content-length`/`transfer-encoding` are re-added by framing. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'proxy-authenticate', 'proxy-authorization']);

/**
 * Response field lines for the client: the upstream's minus hop-by-hop ones and those named in
 * its `Connection` field. With `upgrade`, `Upgrade` and `Connection` are kept (101).
 */
export function responseFieldLines(raw: readonly string[], upgrade: boolean): string {
  let named: string[] | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const n = raw[i]!;
    if (n.length === 10 && n.toLowerCase() === 'connection') {
      for (const t of raw[i + 1]!.toLowerCase().split(',')) { const x = t.trim(); if (x) (named ??= []).push(x); }
    }
  }
  let out = '';
  for (let i = 0; i < raw.length; i += 2) {
    const n = raw[i]!;
    const l = n.toLowerCase();
    if (HOP_BY_HOP.has(l) && !(upgrade && (l === 'upgrade' || l === 'connection'))) continue;
    if (named !== undefined && !(upgrade && l === 'upgrade') && named.includes(l)) continue;
    out += n + ': ' + raw[i + 1] + '\r\n';
  }
  return out;
}

/** Response fields of up to this many body bytes are sent in the same write as the head (one copy, one syscall). */
const COALESCE_BYTES = 16 * 1024;

/**
 * The client's response head as bytes: `HTTP/1.1`, the upstream's status code and reason and
 * its end-to-end field lines copied from the upstream's buffer (no string per field), then
 * `extra` (our fields and framing, each line ending CRLF) and the blank line. `reserve` bytes
 * stay free at the end for the body. Undefined when the upstream's Connection field names other
 * fields (they must go too): the caller then builds the head from strings.
 */
export function responseHeadBytes(h: ResponseHead, extra: string, reserve: number): { out: Buffer; len: number } | undefined {
  if (h.connection !== undefined && namesOtherFields(h.connection)) return undefined;
  const src = h.buf as Buffer;
  const sp = h.spans;
  const statusEnd = sp.length > 0 ? sp[0]! : h.start + h.length - 2;
  const bareCode = statusEnd - h.start <= 15; // "HTTP/1.x NNN\r\n" or "HTTP/1.x NNN \r\n": no reason phrase
  const statusTail = bareCode ? ` ${h.status} ${REASONS[h.status] ?? ''}\r\n` : undefined;
  let size = 8 + (statusTail !== undefined ? statusTail.length : statusEnd - (h.start + 8)) + extra.length + 2 + reserve;
  for (let k = 0; k < sp.length; k += 3) if (sp[k + 2] === 0) size += sp[k + 1]! - sp[k]!;
  const out = Buffer.allocUnsafe(size);
  let o = out.write('HTTP/1.1', 0, 'latin1');
  o += statusTail !== undefined ? out.write(statusTail, o, 'latin1') : src.copy(out, o, h.start + 8, statusEnd);
  for (let k = 0; k < sp.length; k += 3) if (sp[k + 2] === 0) o += src.copy(out, o, sp[k]!, sp[k + 1]!);
  o += out.write(extra, o, 'latin1');
  out[o++] = 13;
  out[o++] = 10;
  return { out, len: o };
}

/** Whether a Connection value names fields other than the standard options (then they are hop-by-hop too). */
function namesOtherFields(connection: string): boolean {
  if (connection.length <= 10) { const l = connection.toLowerCase(); if (l === 'keep-alive' || l === 'close') return false; } // the usual values
  for (const t of connection.split(',')) {
    const x = t.trim().toLowerCase();
    if (x !== '' && x !== 'close' && x !== 'keep-alive' && x !== 'upgrade') return true;
  }
  return false;
}

/** Answers `ex` with a problem (RFC 9457 JSON or text, like `sendProblem`); destroys the connection if a response already started. */
export function sendProblemRaw(ex: Http1Exchange, err: SwitchyardError, extra = ''): void {
  if (ex.headSent) { ex.destroy(); return; }
  const status = err.statusCode === 499 ? 400 : err.statusCode;
  const p = problemBody(err, ex.header('accept'), ex.target);
  ex.respond(status, REASONS[status] ?? 'Error', `content-type: ${p.contentType}\r\ncache-control: no-store\r\n${extra}`, p.body);
}

/** Proxies `ex` to the decision's upstream; `done` gets the outcome once the exchange is over. */
export function proxyExchange(pools: UpstreamPools, ex: Http1Exchange, d: UpstreamDecision, info: ProxyRequestInfo, done: ((o: ProxyOutcome) => void) | undefined): void {
  const upgrade = ex.head.upgrade;
  const { headers, requestId } = forwardRequestHeaders(ex.head.raw, {
    routingHeader: info.routingHeader, env: d.env.name, clientIp: info.clientIp, proto: info.proto, host: ex.head.host, edge: info.edge, upgrade,
  });
  let head = ex.method + ' ' + info.path + ' HTTP/1.1\r\n';
  for (let i = 0; i < headers.length; i += 2) head += headers[i] + ': ' + headers[i + 1] + '\r\n';
  if (ex.head.body === BodyKind.Chunked) head += 'transfer-encoding: chunked\r\n';
  // An HTTP/1.0 client may send no Host; HTTP/1.1 upstreams require one: the endpoint's address is added per attempt.
  if (ex.head.host !== undefined) head += '\r\n';
  let extra = 'x-request-id: ' + requestId + '\r\n';
  if (info.responseHeaders) for (const k in info.responseHeaders) extra += k + ': ' + info.responseHeaders[k] + '\r\n';
  if (info.extraResponseLines !== undefined) extra += info.extraResponseLines;
  new RawExchange(pools, ex, d, info, head, extra, requestId, upgrade, done).start();
}

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
  /** De-chunking for HTTP/1.0 clients. */
  #dechunk: ChunkedDecoder | undefined;
  #over = false;
  /** The client socket is corked from the response head to the end of that upstream read: head and body leave in one write. */
  #corked = false;
  /** Response head (and the first body bytes, up to its size) not yet written: flushed at the end of the upstream read. */
  #out: Buffer | undefined;
  #outLen = 0;

  constructor(
    readonly pools: UpstreamPools, readonly ex: Http1Exchange, readonly d: UpstreamDecision, readonly info: ProxyRequestInfo,
    readonly head: string, readonly extra: string, readonly requestId: string, readonly upgrade: boolean,
    readonly done: ((o: ProxyOutcome) => void) | undefined,
  ) {
    this.#budget = pools.retryBudget(d.upstream.key);
  }

  start(): void {
    this.#budget.request(Date.now());
    this.ex.onClose = () => this.#exchangeOver();
    this.ex.onDrain = () => this.#conn?.resume();
    this.#attempt(undefined);
  }

  #exchangeOver(): void {
    if (this.#over) return;
    this.#over = true;
    const ex = this.ex;
    if (ex.aborted && this.#error === undefined) {
      this.#status = 499;
      this.#error = 'SWY_CLIENT_ABORTED';
    }
    if (ex.status !== 0 && this.#status === 0) this.#status = ex.status;
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
    // Head and the body bytes already here leave in one write.
    const sock = conn.socket;
    sock.cork();
    try { this.#send(conn, ep); } finally { sock.uncork(); }
  }

  #send(conn: UpstreamConn, ep: EndpointRoute): void {
    conn.request(this.ex.method, this.ex.head.host !== undefined ? this.head : `${this.head}host: ${ep.host}:${ep.port}\r\n\r\n`, this, this.upgrade);
    if (!this.#bodyAttached) { this.#bodyAttached = true; this.ex.readBody(this); }
    else if (this.ex.bodyComplete) conn.endRequest();
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
    if (max !== undefined && this.ex.head.body === BodyKind.Chunked && this.ex.bodyBytes > max) {
      this.#endAttempt();
      conn.destroy();
      this.#fail(swyError('SWY_BODY_TOO_LARGE', `the request body exceeds the router's limit of ${max} bytes`,
        { env: this.d.env.name, service: this.d.service.name, limit: max }));
      return true;
    }
    return conn.write(buf);
  }

  onBodyEnd(): void { if (this.#active) this.#conn?.endRequest(); }

  onBodyError(reason: string, aborted: boolean): void {
    // The client left (499, recorded at close) or sent bad framing (the connection answers 400):
    // either way the upstream request is cut off so nothing after the bad byte reaches it.
    if (this.#active) { this.#endAttempt(); this.#conn?.destroy(); }
    if (!aborted) { this.#error = 'SWY_BAD_REQUEST'; this.#status = 400; void reason; }
  }

  // ---- response (ResponseHandler) ----

  onInformational(head: ResponseHead): void {
    const ex = this.ex;
    if (head.status === 100 || ex.head.versionMinor === 0 || ex.headSent) return; // we answered Expect ourselves; 1.0 has no 1xx
    ex.write(`HTTP/1.1 ${head.status} ${head.reason || REASONS[head.status] || ''}\r\n${responseFieldLines(head.raw, false)}\r\n`);
  }

  onResponseHead(head: ResponseHead, rest: Buffer | undefined): void {
    const ex = this.ex;
    this.#upstreamMs = performance.now() - this.#t0;
    if (head.status >= 500) this.pools.failed(this.#ep!, this.d.upstream, 'gateway');
    else this.pools.succeeded(this.#state!);
    if (ex.finished) { this.#endAttempt(); this.#conn?.destroy(); return; }
    this.#status = head.status;
    const client10 = ex.head.versionMinor === 0;
    if (head.status === 101) {
      // Upgrade accepted: the two sockets become one tunnel.
      this.#endAttempt();
      const up = this.#conn!.socket;
      ex.writeHead(101, 'HTTP/1.1 101 ' + (head.reason || REASONS[101]) + '\r\n' + responseFieldLines(head.raw, true) + this.extra + '\r\n');
      tunnel(ex, up, rest);
      return;
    }
    let extra = this.extra;
    let close = ex.closeAfter || !ex.head.keepAlive || ex.conn.draining || this.upgrade;
    if (head.body === BodyKind.Chunked) {
      if (client10) { this.#dechunk = new ChunkedDecoder(); close = true; }
      else extra += 'transfer-encoding: chunked\r\n';
    } else if (head.body === BodyKind.Close) {
      close = true;
    }
    if (!close && !ex.bodySettled) close = true; // the client is still sending: no next request on this connection
    if (close) { ex.closeAfter = true; extra += 'connection: close\r\n'; }
    else if (client10) extra += 'connection: keep-alive\r\n';
    const reserve = head.body === BodyKind.Length && head.contentLength <= COALESCE_BYTES ? head.contentLength : 0;
    const bytes = responseHeadBytes(head, extra, reserve);
    if (bytes !== undefined) {
      ex.startResponse(head.status);
      this.#out = bytes.out;
      this.#outLen = bytes.len;
      return;
    }
    if (!this.#corked) { this.#corked = true; ex.socket.cork(); }
    ex.writeHead(head.status, 'HTTP/1.1 ' + head.status + ' ' + (head.reason || REASONS[head.status] || '') + '\r\n' + responseFieldLines(head.raw, false) + extra + '\r\n');
  }

  /** Writes the pending head (and body bytes gathered with it). */
  #flush(): void {
    const out = this.#out;
    if (out === undefined) return;
    this.#out = undefined;
    this.ex.write(this.#outLen === out.length ? out : out.subarray(0, this.#outLen));
  }

  onResponseBody(buf: Buffer): boolean {
    const ex = this.ex;
    if (ex.finished) return true;
    const out = this.#out;
    if (out !== undefined) {
      if (this.#dechunk === undefined && this.#outLen + buf.length <= out.length) {
        buf.copy(out, this.#outLen);
        this.#outLen += buf.length;
        if (this.#outLen === out.length) this.#flush(); // head and whole body: one write
        return true;
      }
      this.#flush();
    }
    // `buf` is the upstream's shared read buffer: what is written is copied (a queued write keeps its Buffer).
    if (this.#dechunk !== undefined) {
      let ok = true;
      this.#dechunk.feed(buf, 0, buf.length, (b, s, e) => { ok = ex.write(Buffer.from((b as Buffer).subarray(s, e))) && ok; });
      return ok;
    }
    return ex.write(Buffer.from(buf));
  }

  onResponseEnd(): void {
    this.#flush();
    this.#endAttempt();
    if (!this.ex.finished) this.ex.end();
  }

  onResponseError(err: UpstreamError): void {
    this.#endAttempt();
    const ex = this.ex;
    if (ex.finished || this.#over) return;
    const d = this.d;
    const ep = this.#ep!;
    const code = err.code;
    if (err.stale && !ex.headSent && this.#mayReplay()) { this.#connect(ep, true); return; }
    const connectFailed = CONNECT_CODES.has(code);
    this.pools.failed(ep, d.upstream, connectFailed ? 'connect' : 'gateway');
    if (!ex.headSent && (connectFailed || RESET_CODES.has(code)) && this.#mayRetry()) {
      this.#retries++;
      this.#attempt(ep);
      return;
    }
    this.#fail(mapError(err, d, ep));
  }

  onRequestDrain(): void { this.ex.resumeBody(); }

  onReadEnd(): void {
    this.#flush();
    if (this.#corked) { this.#corked = false; this.ex.socket.uncork(); }
  }

  /** Replays on a fresh socket: the request must be idempotent and no body byte sent. */
  #mayReplay(): boolean {
    return !this.#bodySent && !this.ex.bodyStarted && IDEMPOTENT.has(this.ex.method) && !this.upgrade;
  }

  #mayRetry(): boolean {
    const policy = this.d.service.retries;
    if (this.#retries >= (policy?.attempts ?? DEFAULT_RETRY_ATTEMPTS)) return false;
    if (!this.#mayReplay()) return false;
    return this.#budget.tryRetry(policy?.budgetPercent ?? DEFAULT_RETRY_BUDGET_PERCENT, Date.now());
  }

  #fail(e: SwitchyardError, extra = ''): void {
    this.#error = e.code;
    if (!this.ex.headSent) this.#status = e.statusCode;
    sendProblemRaw(this.ex, e, this.extra + extra);
  }
}

/** Pipes the client connection and the upstream socket into each other after a 101. */
function tunnel(ex: Http1Exchange, up: Socket, upRest: Buffer | undefined): void {
  const client = ex.socket;
  const clientRest = ex.conn.upgrade();
  ex.finished = true;
  if (upRest !== undefined && upRest.length > 0) client.write(upRest);
  if (clientRest !== undefined && clientRest.length > 0) up.write(clientRest);
  up.pipe(client);
  client.pipe(up);
  const close = () => { up.destroy(); client.destroy(); };
  up.on('error', close);
  client.on('error', close);
  up.on('close', close);
  client.on('close', close);
  ex.completed();
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
