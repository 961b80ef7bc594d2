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
 * {@link ChunkedDecoder}) and passed to the exchange's body sink in their wire form; a framing
 * error mid-body stops the flow at the bad byte and closes the connection. Backpressure: when
 * the sink returns false the socket is paused until {@link Http1Exchange.resumeBody}.
 *
 * Timeouts are checked by one sweep per listener every 250 ms (no timer per request): a head
 * that is not complete within `headTimeoutMs` gets 408; a keep-alive connection idle for
 * `keepAliveTimeoutMs` is closed.
 */
import type { Socket } from 'node:net';
import { ChunkedDecoder } from './chunked.js';
import { BodyKind, ParseError, parseRequestHead, rawGet, type HeadLimits, type RequestHead } from './parse.js';

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

/** Receives a request body's bytes in wire form (chunked stays chunked). */
export interface BodySink {
  /** A run of body bytes (valid framing); false asks the connection to pause until `resumeBody()`. */
  onBody(buf: Buffer): boolean;
  /** The body is complete (for chunked: the last chunk and trailers were passed to onBody). */
  onBodyEnd(): void;
  /** The body stopped: the client went away (`aborted`) or sent bad framing (reason given). */
  onBodyError(reason: string, aborted: boolean): void;
}

const enum BodyState { None, Waiting, Flowing, Done, Failed }

const CONTINUE = Buffer.from('HTTP/1.1 100 Continue\r\n\r\n', 'latin1');

/** One request on a connection and the means to answer it. */
export class Http1Exchange {
  /** Response status once the head was written (0 before). */
  status = 0;
  /** The response head was written. */
  headSent = false;
  /** The response is complete (or the connection gone). */
  finished = false;
  /** The client went away before the response was complete. */
  aborted = false;
  /** Requested by the response: close the connection after it. */
  closeAfter = false;
  /** Bytes written to the socket for this response (head + body). */
  bytesWritten = 0;
  /** Called once when the exchange is over (finished or aborted). */
  onClose: (() => void) | undefined;
  /** Called when the socket drained after a write returned false. */
  onDrain: (() => void) | undefined;

  #bodyState: BodyState;
  #remaining: number;
  #chunked: ChunkedDecoder | undefined;
  #sink: BodySink | undefined;
  /** Body bytes that arrived before the sink was attached. */
  #pending: Buffer[] | undefined;
  #bodyError: string | undefined;
  #continueSent = false;
  /** Chunked bytes validated but not yet passed on (an unfinished control line). */
  #held: Buffer | undefined;

  constructor(readonly conn: Http1Connection, readonly head: RequestHead) {
    this.#remaining = head.body === BodyKind.Length ? head.contentLength : 0;
    this.#bodyState = head.body === BodyKind.None ? BodyState.None : BodyState.Waiting;
    if (head.body === BodyKind.Chunked) this.#chunked = new ChunkedDecoder();
  }

  get socket(): Socket { return this.conn.socket; }
  get https(): boolean { return this.conn.https; }
  get method(): string { return this.head.method; }
  get target(): string { return this.head.target; }
  /** First value of a field (lower-case name). */
  header(name: string): string | undefined { return rawGet(this.head.raw, name); }
  /** The request has a body. */
  get hasBody(): boolean { return this.head.body !== BodyKind.None; }
  /** The whole body was received (true for a request without one). */
  get bodyComplete(): boolean { return this.#bodyState === BodyState.None || this.#bodyState === BodyState.Done; }
  /**
   * The body was received and read by someone (true without a body). A body nobody read (a
   * refusal answered before it) ends the connection: we do not keep reading for a client we refused.
   */
  get bodySettled(): boolean { return this.#bodyState === BodyState.None || (this.#bodyState === BodyState.Done && this.#sink !== undefined); }
  /** Some body bytes were handed to a sink. */
  bodyStarted = false;
  /** Body bytes received so far (decoded size for chunked). */
  get bodyBytes(): number { return this.#chunked ? this.#chunked.bytes : this.head.contentLength - this.#remaining; }

  /**
   * Attaches the body sink and starts the flow (answering `Expect: 100-continue` first). Bytes
   * that arrived earlier are delivered at once. Without a body, `onBodyEnd` is called at once.
   */
  readBody(sink: BodySink): void {
    if (this.#bodyState === BodyState.None) { sink.onBodyEnd(); return; }
    this.#sink = sink;
    if (this.#bodyState === BodyState.Failed) { sink.onBodyError(this.#bodyError ?? 'body failed', this.aborted); return; }
    if (this.head.expectContinue && !this.#continueSent && !this.headSent) { this.#continueSent = true; this.conn.write(CONTINUE); }
    if (this.#bodyState === BodyState.Waiting) this.#bodyState = BodyState.Flowing;
    const pending = this.#pending;
    this.#pending = undefined;
    if (pending !== undefined) {
      for (const b of pending) { this.bodyStarted = true; sink.onBody(b); }
    }
    if (this.#bodyState === BodyState.Done) { sink.onBodyEnd(); return; }
    this.conn.resume();
  }

  /** Resumes a body paused by a sink. */
  resumeBody(): void { this.conn.resume(); }

  /**
   * Feeds body bytes from `buf[start, end)`. Returns the index after the body's last byte
   * (the rest belongs to the next request), or -1 when the framing failed (the connection closes).
   */
  feedBody(buf: Buffer, start: number, end: number): number {
    let stop: number;
    let failed = false;
    const ch = this.#chunked;
    if (ch !== undefined) {
      // Chunked: validate, then pass on only up to a point where every line so far is complete
      // (in chunk data, or done); the rest waits in #held, so no byte of a line that turns out
      // bad ever leaves (e.g. an oversize chunk-size line).
      let lastData = -1;
      stop = ch.feed(buf, start, end, (_b, _s, e) => { lastData = e; });
      if (ch.error !== undefined) failed = true;
      const safe = failed ? -1 : ch.inData || ch.done ? stop : lastData;
      if (safe > start) {
        const out = buf.subarray(start, safe);
        const held = this.#held;
        this.#held = undefined;
        this.#deliver(held === undefined ? out : Buffer.concat([held, out]));
        if (safe < stop) this.#held = Buffer.from(buf.subarray(safe, stop));
      } else if (!failed && stop > start) {
        const more = buf.subarray(start, stop);
        this.#held = this.#held === undefined ? Buffer.from(more) : Buffer.concat([this.#held, more]);
      }
    } else {
      stop = start + Math.min(this.#remaining, end - start);
      this.#remaining -= stop - start;
      if (stop > start) this.#deliver(buf.subarray(start, stop));
    }
    if (failed) { this.#held = undefined; this.#fail(`bad chunked framing: ${ch!.error}`, false); return -1; }
    if (ch !== undefined ? ch.done : this.#remaining === 0) {
      this.#bodyState = BodyState.Done;
      this.#sink?.onBodyEnd();
    }
    return stop;
  }

  #deliver(b: Buffer): void {
    if (this.#sink === undefined || this.#bodyState === BodyState.Waiting) {
      // Not read yet: keep it (the connection stops reading until the sink attaches).
      (this.#pending ??= []).push(Buffer.from(b)); // copy: the socket's buffer is not ours to keep
      this.conn.pause();
      return;
    }
    this.bodyStarted = true;
    if (!this.#sink.onBody(b)) this.conn.pause();
  }

  /** The body ended badly: the client left or the framing was wrong. */
  #fail(reason: string, aborted: boolean): void {
    if (this.#bodyState === BodyState.Done || this.#bodyState === BodyState.None || this.#bodyState === BodyState.Failed) return;
    this.#bodyState = BodyState.Failed;
    this.#bodyError = reason;
    this.#sink?.onBodyError(reason, aborted);
  }

  /** Stops the body flow (timeout): the sink gets `onBodyError`. */
  abortBody(reason: string): void { this.#fail(reason, false); }

  /** Whether body bytes are still expected from the client. */
  get readingBody(): boolean { return this.#bodyState === BodyState.Waiting || this.#bodyState === BodyState.Flowing; }

  /** Writes the response head (a complete head: status line, fields, CRLF CRLF). */
  writeHead(status: number, head: string): boolean {
    this.startResponse(status);
    this.bytesWritten += head.length;
    return this.conn.write(head);
  }

  /** Marks the response as started (its head goes out with the next {@link write}). */
  startResponse(status: number): void {
    this.status = status;
    this.headSent = true;
    if (!this.bodySettled) this.closeAfter = true;
  }

  /** Writes response body bytes; false when the socket buffer is full (wait for `onDrain`). */
  write(chunk: Buffer | string): boolean {
    if (this.finished) return false;
    this.bytesWritten += chunk.length;
    return this.conn.write(chunk);
  }

  /** Ends the response (after an optional last chunk); the connection goes on with the next request or closes. */
  end(chunk?: Buffer | string): void {
    if (this.finished) return;
    if (chunk !== undefined && chunk.length > 0) this.write(chunk);
    this.finished = true;
    this.conn.exchangeDone(this);
  }

  /** Sends a complete small response: status, header lines (each ending CRLF), body. */
  respond(status: number, reason: string, headerLines: string, body: string | Buffer = ''): void {
    if (this.headSent) { this.destroy(); return; }
    if (typeof body === 'string') body = Buffer.from(body, 'utf8'); // heads go out as latin1, bodies as UTF-8
    const len = body.length;
    const close = this.closeAfter || !this.bodySettled || !this.head.keepAlive;
    if (close) this.closeAfter = true;
    const conn = close ? 'connection: close\r\n' : this.head.versionMinor === 0 ? 'connection: keep-alive\r\n' : '';
    const head = `HTTP/1.1 ${status} ${reason}\r\n${headerLines}${conn}content-length: ${len}\r\n\r\n`;
    this.writeHead(status, head);
    if (this.head.method !== 'HEAD' && len > 0) this.write(body);
    this.end();
  }

  /** Abandons the response: the connection is destroyed (a response cut short must not look complete). */
  destroy(): void {
    if (this.finished) return;
    this.finished = true;
    this.aborted = !this.headSent || this.aborted;
    this.conn.destroy();
  }

  /** Called by the connection when the socket closed. */
  socketClosed(): void {
    if (this.readingBody) this.#fail('the client closed the connection during the request body', true);
    if (!this.finished) { this.finished = true; this.aborted = true; }
    const cb = this.onClose;
    this.onClose = undefined;
    cb?.();
  }

  /** Called by the connection once the response is complete. */
  completed(): void {
    const cb = this.onClose;
    this.onClose = undefined;
    cb?.();
  }
}

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

export const REASONS: Record<number, string> = {
  100: 'Continue', 101: 'Switching Protocols', 102: 'Processing', 103: 'Early Hints',
  200: 'OK', 201: 'Created', 202: 'Accepted', 203: 'Non-Authoritative Information', 204: 'No Content', 205: 'Reset Content', 206: 'Partial Content', 207: 'Multi-Status',
  300: 'Multiple Choices', 301: 'Moved Permanently', 302: 'Found', 303: 'See Other', 304: 'Not Modified', 307: 'Temporary Redirect', 308: 'Permanent Redirect',
  400: 'Bad Request', 401: 'Unauthorized', 402: 'Payment Required', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 406: 'Not Acceptable',
  407: 'Proxy Authentication Required', 408: 'Request Timeout', 409: 'Conflict', 410: 'Gone', 411: 'Length Required', 412: 'Precondition Failed',
  413: 'Content Too Large', 414: 'URI Too Long', 415: 'Unsupported Media Type', 416: 'Range Not Satisfiable', 417: 'Expectation Failed',
  421: 'Misdirected Request', 422: 'Unprocessable Content', 425: 'Too Early', 426: 'Upgrade Required', 428: 'Precondition Required', 429: 'Too Many Requests',
  431: 'Request Header Fields Too Large', 451: 'Unavailable For Legal Reasons',
  500: 'Internal Server Error', 501: 'Not Implemented', 502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout', 505: 'HTTP Version Not Supported',
};
