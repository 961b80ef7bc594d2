/**
 * @module router/http1/server
 * The client side of the router's HTTP/1.1 engine: one {@link Http1Connection} per accepted
 * `net`/`tls` socket parses request heads straight from the socket's Buffers
 * ({@link parseRequestHead}), hands each request to the router as an {@link Http1Exchange}, and
 * frames the response. Requests on a connection are handled one at a time: bytes of pipelined
 * requests wait in the connection's buffer until the response before them is complete, so
 * answers go out in order (RFC 9112 §9.3.2).
 *
 * Request bodies are validated as they arrive (Content-Length counted, chunked checked by
 * `ChunkedDecoder`) and passed to the exchange's body sink in their wire form; a framing
 * error mid-body stops the flow at the bad byte and closes the connection. Backpressure: when
 * the sink returns false the socket is paused until {@link Http1Exchange.resumeBody}.
 *
 * Timeouts are checked by one sweep per listener every 250 ms (no timer per request): a head
 * that is not complete within `headTimeoutMs` gets 408; a keep-alive connection idle for
 * `keepAliveTimeoutMs` is closed.
 */
import type { Socket } from 'node:net';
import { Http1Exchange } from './exchange.js';
import { ParseError, type HeadLimits } from './fields.js';
import { parseRequestHead } from './parse.js';
import { REASONS } from './reasons.js';
import type { ForwardSuffix } from './request-head.js';

// The exchange and the reason phrases have their own modules; the engine's users import them from here.
export { Http1Exchange, type BodySink } from './exchange.js';
export { REASONS } from './reasons.js';

export interface Http1Limits extends HeadLimits {
  /** A request head must be complete this long after its first byte (ms); else 408. */
  headTimeoutMs: number;
  /** An idle keep-alive connection is closed after this long (ms). */
  keepAliveTimeoutMs: number;
  /** A request body that stalls this long while the router waits for it (ms) → 408 and close. */
  bodyTimeoutMs: number;
  /** Bytes of pipelined requests buffered before the socket is paused. */
  maxPipelineBytes: number;
}

export const DEFAULT_HTTP1_LIMITS: Http1Limits = {
  maxHeadBytes: 32 * 1024, maxFields: 100, headTimeoutMs: 30_000, keepAliveTimeoutMs: 65_000, bodyTimeoutMs: 60_000, maxPipelineBytes: 64 * 1024,
};

/** What the connection calls for each request. */
export type ExchangeHandler = (ex: Http1Exchange) => void;

const enum ConnState { Idle, Head, Busy, Upgraded, Closed }

/** One client connection: parsing, pipelining, keep-alive, timeouts. */
export class Http1Connection {
  #buf: Buffer | undefined;
  #ex: Http1Exchange | undefined;
  #state = ConnState.Idle;
  /** ms timestamp: when the connection became idle, or when the current head's first byte arrived. */
  since = Date.now();
  #paused = false;
  #driving = false;
  /** Set when the server is draining: close after the current response. */
  draining = false;
  /** The peer's address, read once per connection (each read is a getpeername call). */
  readonly remoteAddress: string;
  /** The router's forwarding lines of this connection's last proxied request (reused while they apply). */
  forwardSuffix: ForwardSuffix | undefined;
  /** Told of every request refused before it reached the router (400/408/431/…: for the access log). */
  onRefused: ((c: Http1Connection, status: number, reason: string) => void) | undefined;

  constructor(
    readonly socket: Socket,
    readonly https: boolean,
    private readonly limits: Http1Limits,
    private readonly handler: ExchangeHandler,
    private readonly onGone: (c: Http1Connection) => void,
    /**
     * HTTP/2 prior knowledge: `check` looks at a new connection's first bytes (true: the
     * HTTP/2 preface, false: HTTP/1, undefined: wait for more); `take` gets the socket and the
     * bytes read so far once this connection let go of it.
     */
    private preface?: { check: (bytes: Buffer) => boolean | undefined; take: (socket: Socket, bytes: Buffer) => void },
  ) {
    this.remoteAddress = socket.remoteAddress ?? '';
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('drain', () => this.#ex?.onDrain?.());
    socket.on('error', () => undefined); // 'close' follows
    socket.on('end', () => this.#onEnd());
    socket.on('close', () => this.#onClose());
  }

  get idle(): boolean { return this.#state === ConnState.Idle; }
  get busy(): boolean { return this.#state === ConnState.Busy || this.#state === ConnState.Upgraded; }

  /** Writes to the socket unless it is gone. */
  write(data: Buffer | string): boolean {
    if (this.socket.destroyed) return false;
    return typeof data === 'string' ? this.socket.write(data, 'latin1') : this.socket.write(data);
  }

  pause(): void { if (!this.#paused) { this.#paused = true; this.socket.pause(); } }
  resume(): void { if (this.#paused) { this.#paused = false; this.socket.resume(); if (this.#state === ConnState.Busy) this.since = Date.now(); } }

  destroy(): void {
    if (this.#state === ConnState.Closed) return;
    this.socket.destroy();
  }

  /** Checks the connection's deadlines (called by the listener's sweep). */
  sweep(now: number): void {
    if (this.#state === ConnState.Busy) {
      // Waiting for request body bytes that do not come (not paused by us: that is the upstream's pace).
      const ex = this.#ex;
      if (ex !== undefined && ex.readingBody && !this.#paused && now - this.since >= this.limits.bodyTimeoutMs) this.#bodyStalled(ex);
      return;
    }
    if (this.#state === ConnState.Idle && now - this.since >= this.limits.keepAliveTimeoutMs) this.destroy();
    else if (this.#state === ConnState.Head && now - this.since >= this.limits.headTimeoutMs) {
      this.#refuse(new ParseError(408, 'the request head was not received in time'));
    }
  }

  /** Closes the connection once it is idle (drain); closes at once when it is. */
  drain(): void {
    this.draining = true;
    if (this.#state === ConnState.Idle) this.destroy();
  }

  /**
   * Hands the socket over for a byte tunnel (after `101 Switching Protocols`); returns the
   * bytes already received after the request head.
   */
  upgrade(): Buffer | undefined {
    this.#state = ConnState.Upgraded;
    this.socket.removeAllListeners('data');
    this.socket.removeAllListeners('drain');
    this.socket.removeAllListeners('end');
    const rest = this.#buf;
    this.#buf = undefined;
    this.resume();
    return rest;
  }

  /** The socket now belongs to another protocol handler (HTTP/2). */
  #handOver(): void {
    this.#state = ConnState.Upgraded;
    this.#buf = undefined;
    for (const e of ['data', 'drain', 'end', 'close', 'error']) this.socket.removeAllListeners(e);
    this.onGone(this);
  }

  #onData(chunk: Buffer): void {
    if (this.#state === ConnState.Closed || this.#state === ConnState.Upgraded) return;
    const ex = this.#ex;
    if (ex !== undefined && ex.readingBody && this.#buf === undefined) {
      this.since = Date.now(); // body activity (the sweep's body timeout)
      // Body bytes: straight to the exchange.
      const stop = ex.feedBody(chunk, 0, chunk.length);
      if (stop === -1) { this.#bodyFailed(ex); return; }
      if (stop < chunk.length) this.#keep(chunk.subarray(stop));
      return;
    }
    if (this.#buf === undefined) this.#buf = chunk;
    else this.#buf = Buffer.concat([this.#buf, chunk]);
    if (ex !== undefined) {
      // Pipelined bytes behind a response in progress.
      if (ex.readingBody) this.#feedBuffered(ex);
      else if (this.#buf !== undefined && this.#buf.length > this.limits.maxPipelineBytes) this.pause();
      return;
    }
    this.#drive();
  }

  #keep(rest: Buffer): void {
    this.#buf = this.#buf === undefined ? Buffer.from(rest) : Buffer.concat([this.#buf, rest]);
    if (this.#buf.length > this.limits.maxPipelineBytes) this.pause();
  }

  /** Feeds buffered bytes to the current body. */
  #feedBuffered(ex: Http1Exchange): void {
    const buf = this.#buf!;
    this.#buf = undefined;
    const stop = ex.feedBody(buf, 0, buf.length);
    if (stop === -1) { this.#bodyFailed(ex); return; }
    if (stop < buf.length) this.#buf = buf.subarray(stop);
  }

  /** Parses and dispatches heads while the connection is free and bytes are buffered. */
  #drive(): void {
    if (this.#driving) return;
    this.#driving = true;
    try {
      while (this.#ex === undefined && this.#state !== ConnState.Closed && this.#buf !== undefined) {
        const buf = this.#buf;
        if (this.preface !== undefined) {
          const h2 = this.preface.check(buf);
          if (h2 === undefined) { this.#state = ConnState.Head; this.since = Date.now(); return; }
          const take = this.preface.take;
          this.preface = undefined;
          if (h2) { this.#handOver(); take(this.socket, buf); return; }
        }
        const r = parseRequestHead(buf, 0, buf.length, this.limits);
        if (r === undefined) {
          if (this.#state !== ConnState.Head) { this.#state = ConnState.Head; this.since = Date.now(); }
          break;
        }
        if (r instanceof ParseError) { this.#refuse(r); break; }
        this.#buf = r.length < buf.length ? buf.subarray(r.length) : undefined;
        const ex = new Http1Exchange(this, r);
        this.#ex = ex;
        this.#state = ConnState.Busy;
        if (ex.readingBody) this.since = Date.now();
        if (ex.readingBody && this.#buf !== undefined) this.#feedBuffered(ex);
        if ((this.#state as ConnState) === ConnState.Closed) break; // the body failed
        this.handler(ex);
      }
      if (this.#ex === undefined && this.#buf === undefined && this.#state !== ConnState.Closed && this.#state !== ConnState.Upgraded) {
        this.#state = ConnState.Idle;
        this.since = Date.now();
        if (this.draining) this.destroy();
      }
    } finally {
      this.#driving = false;
    }
  }

  /** Called by the exchange when its response is complete. */
  exchangeDone(ex: Http1Exchange): void {
    if (this.#ex !== ex) return;
    const keep = !ex.closeAfter && ex.head.keepAlive && ex.bodySettled && !this.draining && this.#state === ConnState.Busy;
    this.#ex = undefined;
    ex.completed();
    if (!keep) {
      if (this.#state !== ConnState.Upgraded) this.#closeAfterWrite();
      return;
    }
    // Reading may have been paused for this exchange's body (or a full pipeline buffer): go on.
    if (this.#buf === undefined || this.#buf.length <= this.limits.maxPipelineBytes) this.resume();
    this.#drive();
  }

  /** Ends the connection once written data is flushed. */
  #closeAfterWrite(): void {
    if (this.#state === ConnState.Closed) return;
    this.#state = ConnState.Closed;
    this.#buf = undefined;
    this.socket.end();
    // A client that never reads would keep the socket half-open: destroy after a grace period.
    const t = setTimeout(() => this.socket.destroy(), 5_000);
    t.unref();
    this.socket.once('close', () => clearTimeout(t));
  }

  /** Answers a refused head (400/405/408/417/431/501/505) and closes. */
  #refuse(e: ParseError): void {
    this.#buf = undefined;
    this.pause();
    this.onRefused?.(this, e.status, e.reason);
    const body = JSON.stringify({ type: 'https://switchyard.dev/errors/' + (e.status === 431 ? 'SWY_HEADERS_TOO_LARGE' : e.status === 408 ? 'SWY_REQUEST_TIMEOUT' : 'SWY_BAD_REQUEST'),
      title: REASONS[e.status] ?? 'Bad Request', status: e.status, code: e.status === 431 ? 'SWY_HEADERS_TOO_LARGE' : e.status === 408 ? 'SWY_REQUEST_TIMEOUT' : 'SWY_BAD_REQUEST', detail: e.reason });
    const bytes = Buffer.from(body, 'utf8');
    this.write(`HTTP/1.1 ${e.status} ${REASONS[e.status] ?? 'Bad Request'}\r\ncontent-type: application/problem+json\r\ncache-control: no-store\r\nconnection: close\r\ncontent-length: ${bytes.length}\r\n\r\n`);
    this.write(bytes);
    this.#closeAfterWrite();
  }

  /** The client stopped sending its body: 408 if nothing was answered yet, then close; the exchange's sink hears of it. */
  #bodyStalled(ex: Http1Exchange): void {
    ex.abortBody(`no request body bytes for ${this.limits.bodyTimeoutMs} ms`);
    this.#buf = undefined;
    if (!ex.headSent) {
      ex.finished = true;
      ex.status = 408;
      if (this.#ex === ex) this.#ex = undefined;
      this.#refuse(new ParseError(408, `the request body stalled for ${this.limits.bodyTimeoutMs} ms`));
      ex.completed();
    } else {
      this.destroy();
    }
  }

  /** A request body's framing failed: 400 if nothing was answered yet, then close. */
  #bodyFailed(ex: Http1Exchange): void {
    this.#buf = undefined;
    if (this.#state === ConnState.Closed) return;
    if (!ex.headSent) {
      ex.finished = true;
      ex.status = 400;
      if (this.#ex === ex) this.#ex = undefined;
      this.#refuse(new ParseError(400, 'malformed chunked request body'));
      ex.completed();
    } else {
      this.destroy();
    }
  }

  #onEnd(): void {
    // The client half-closed: as nginx judges it, a client that closes before its response is
    // complete has gone away (499; the upstream request is cancelled). Nothing is kept half-open.
    this.destroy();
  }

  #onClose(): void {
    this.#state = ConnState.Closed;
    this.#buf = undefined;
    const ex = this.#ex;
    this.#ex = undefined;
    ex?.socketClosed();
    this.onGone(this);
  }
}
