/**
 * @module router/http1/client
 * The upstream side of the router's HTTP/1.1 engine: pooled keep-alive `net` sockets per
 * endpoint ({@link RawPool}), one request at a time per socket, responses parsed straight from
 * the socket's Buffers ({@link parseResponseHead}, {@link ChunkedDecoder}) and handed on in
 * wire form. Deadlines (connect, response head, body idle, idle keep-alive) are checked by
 * {@link RawPool.sweep}, called every 250 ms by the owner: no timer per request.
 *
 * A request that meets a pooled socket the upstream already closed fails with
 * `stale: true` before any response byte; the caller may replay it (idempotent, no body byte sent).
 */
import { connect, type Socket } from 'node:net';
import { ChunkedDecoder } from './chunked.js';
import { BodyKind, ParseError } from './fields.js';
import { parseResponseHead, type ResponseHead } from './response.js';

export interface RawPoolTimeouts {
  /** TCP connect (ms). */
  connectMs: number;
  /** Request written → response head (ms); 0 disables. */
  headersMs: number;
  /** Longest gap between response body bytes (ms); 0 disables. */
  bodyMs: number;
  /** Idle pooled socket lifetime (ms). */
  keepAliveMs: number;
}

/** An upstream failure, with a code the proxy maps to a status. */
export interface UpstreamError extends Error {
  /** `ECONNREFUSED`… (socket), `SWY_CONNECT_TIMEOUT`, `SWY_HEADERS_TIMEOUT`, `SWY_BODY_TIMEOUT`, `SWY_UPSTREAM_PROTOCOL`, `ECONNRESET`. */
  code: string;
  /** The socket was reused from the pool and failed before any response byte: safe to replay if idempotent. */
  stale?: boolean;
}

function upstreamError(code: string, message: string, stale = false): UpstreamError {
  return Object.assign(new Error(message), { code, stale });
}

/**
 * Every upstream socket reads into this one buffer (`onread`: no Buffer and no stream machinery
 * per read). Bytes handed to a {@link ResponseHandler} are valid only during the call: whoever
 * keeps them copies them (the proxy copies into the client's write, or copies before queueing).
 */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

/** Receives one response. Body bytes come in wire form (chunked stays chunked), valid only during the call. */
export interface ResponseHandler {
  /** An interim response (1xx other than 101). */
  onInformational(head: ResponseHead): void;
  /** The final response head (or 101 on an upgrade; then `rest` holds bytes after it and the socket is the caller's). */
  onResponseHead(head: ResponseHead, rest: Buffer | undefined): void;
  /** Body bytes; false pauses the socket until {@link UpstreamConn.resume}. */
  onResponseBody(buf: Buffer): boolean;
  onResponseEnd(): void;
  onResponseError(err: UpstreamError): void;
  /** The request socket can take more bytes after a write returned false. */
  onRequestDrain(): void;
  /** One read from the socket was fully handed on (a point to flush writes batched since the head). */
  onReadEnd(): void;
}

const enum C { Connecting, Idle, Busy, Closed }

/** One upstream socket. */
export class UpstreamConn {
  readonly socket: Socket;
  #state = C.Connecting;
  #handler: ResponseHandler | undefined;
  #method = 'GET';
  #upgrade = false;
  #buf: Buffer | undefined;
  #head: ResponseHead | undefined;
  #remaining = 0;
  #chunked: ChunkedDecoder | undefined;
  /** Served a request before (a failure before any byte then means it was stale). */
  reused = false;
  #gotBytes = false;
  /** The request (head and body) was completely written. */
  requestDone = false;
  /** ms: when the current deadline started (connect, request sent, last body byte, idle). */
  since = Date.now();
  #pending: (Buffer | string)[] | undefined;

  /** `tunnel`: the socket may become a byte tunnel (upgrade), so it reads as a stream ('data' events, pipe()). */
  constructor(readonly pool: RawPool, tunnel = false) {
    this.socket = tunnel
      ? connect({ host: pool.host, port: pool.port, noDelay: true })
      : connect({ host: pool.host, port: pool.port, noDelay: true, onread: { buffer: READ_BUFFER, callback: (n: number, b: Buffer) => { this.#onData(b.subarray(0, n)); return true; } } });
    if (tunnel) this.socket.on('data', (b: Buffer) => this.#onData(b));
    this.socket.on('connect', () => this.#onConnect());
    this.socket.on('drain', () => this.#handler?.onRequestDrain());
    this.socket.on('error', (err: Error & { code?: string }) => this.#onError(err));
    this.socket.on('end', () => this.#onEnd());
    this.socket.on('close', () => this.#onClose());
  }

  get connecting(): boolean { return this.#state === C.Connecting; }

  /** Starts a request: the head (request line + fields + CRLF) and, optionally, first body bytes. */
  request(method: string, head: string | Buffer, handler: ResponseHandler, upgrade = false): boolean {
    this.#handler = handler;
    this.#method = method;
    this.#upgrade = upgrade;
    this.#head = undefined;
    this.#chunked = undefined;
    this.#gotBytes = false;
    this.requestDone = false;
    if (this.#state === C.Idle) this.#state = C.Busy;
    this.since = Date.now();
    return this.write(head);
  }

  /** Writes request bytes (queued while connecting); false when the socket buffer is full. */
  write(data: Buffer | string): boolean {
    if (this.#state === C.Closed) return false;
    if (this.#state === C.Connecting) { (this.#pending ??= []).push(typeof data === 'string' ? data : Buffer.from(data)); return false; }
    return typeof data === 'string' ? this.socket.write(data, 'latin1') : this.socket.write(data);
  }

  /** The request is completely written. */
  endRequest(): void { this.requestDone = true; if (this.#head === undefined) this.since = Date.now(); }

  pause(): void { this.socket.pause(); }
  resume(): void { this.socket.resume(); }

  /** Destroys the socket; the handler hears nothing more. */
  destroy(): void {
    this.#handler = undefined;
    if (this.#state !== C.Closed) { this.#state = C.Closed; this.socket.destroy(); }
  }

  /** Checks deadlines; returns false once closed. */
  sweep(now: number, t: RawPoolTimeouts): boolean {
    switch (this.#state) {
      case C.Closed: return false;
      case C.Connecting:
        if (now - this.since >= t.connectMs) this.#fail(upstreamError('SWY_CONNECT_TIMEOUT', `connect to ${this.pool.host}:${this.pool.port} timed out after ${t.connectMs} ms`));
        break;
      case C.Idle:
        if (now - this.since >= t.keepAliveMs) this.destroy();
        break;
      case C.Busy:
        if (this.#head === undefined) {
          if (t.headersMs > 0 && this.requestDone && now - this.since >= t.headersMs && !this.#upgrade) {
            this.#fail(upstreamError('SWY_HEADERS_TIMEOUT', `no response head within ${t.headersMs} ms`));
          }
        } else if (t.bodyMs > 0 && now - this.since >= t.bodyMs && !this.socket.isPaused()) {
          this.#fail(upstreamError('SWY_BODY_TIMEOUT', `the response body stalled for ${t.bodyMs} ms`));
        }
        break;
    }
    return (this.#state as C) !== C.Closed; // #fail above may have closed it
  }

  #onConnect(): void {
    if (this.#state !== C.Connecting) return;
    this.#state = this.#handler !== undefined ? C.Busy : C.Idle;
    this.since = Date.now();
    const p = this.#pending;
    this.#pending = undefined;
    let ok = true;
    if (p !== undefined) for (const d of p) ok = (typeof d === 'string' ? this.socket.write(d, 'latin1') : this.socket.write(d)) && ok;
    if (ok) this.#handler?.onRequestDrain();
  }

  #onData(chunk: Buffer): void {
    const h = this.#handler;
    this.#read(chunk);
    h?.onReadEnd();
  }

  #read(chunk: Buffer): void {
    const h = this.#handler;
    if (h === undefined || this.#state !== C.Busy) {
      // Bytes nobody asked for (an idle socket): the upstream is out of step; drop the socket.
      this.destroy();
      return;
    }
    this.#gotBytes = true;
    this.since = Date.now();
    if (this.#head !== undefined) { this.#body(chunk, 0); return; }
    const buf = this.#buf === undefined ? chunk : Buffer.concat([this.#buf, chunk]);
    this.#buf = undefined;
    let pos = 0;
    for (;;) {
      const r = parseResponseHead(buf, pos, buf.length, this.#method, this.pool.headLimits);
      if (r === undefined) { this.#buf = Buffer.from(buf.subarray(pos)); return; } // a copy: `buf` may be the shared read buffer
      if (r instanceof ParseError) { this.#fail(upstreamError('SWY_UPSTREAM_PROTOCOL', r.reason)); return; }
      pos += r.length;
      if (r.status === 101 && this.#upgrade) {
        // The socket now carries the tunnel: it leaves the pool for good.
        this.#state = C.Closed;
        this.#handler = undefined;
        this.socket.removeAllListeners('data');
        this.socket.removeAllListeners('drain');
        this.socket.removeAllListeners('end');
        this.socket.removeAllListeners('close');
        this.socket.removeAllListeners('error');
        this.socket.on('error', () => undefined);
        this.pool.forget(this);
        h.onResponseHead(r, pos < buf.length ? Buffer.from(buf.subarray(pos)) : undefined);
        return;
      }
      if (r.status < 200) {
        if (r.status === 101) { this.#fail(upstreamError('SWY_UPSTREAM_PROTOCOL', 'unrequested 101 Switching Protocols')); return; }
        h.onInformational(r);
        if (this.#handler !== h) return;
        continue;
      }
      this.#head = r;
      if (r.body === BodyKind.Length) this.#remaining = r.contentLength;
      else if (r.body === BodyKind.Chunked) this.#chunked = new ChunkedDecoder();
      h.onResponseHead(r, undefined);
      if (this.#handler !== h) return;
      if (r.body === BodyKind.None) { this.#finish(pos < buf.length); return; }
      if (pos < buf.length) this.#body(buf, pos);
      return;
    }
  }

  #body(buf: Buffer, pos: number): void {
    const h = this.#handler!;
    const head = this.#head!;
    let stop = buf.length;
    let done = false;
    if (head.body === BodyKind.Length) {
      stop = pos + Math.min(this.#remaining, buf.length - pos);
      this.#remaining -= stop - pos;
      done = this.#remaining === 0;
    } else if (head.body === BodyKind.Chunked) {
      const d = this.#chunked!;
      stop = d.feed(buf, pos, buf.length);
      if (d.error !== undefined) {
        if (stop > pos && !h.onResponseBody(pos === 0 && stop === buf.length ? buf : buf.subarray(pos, stop))) this.pause();
        this.#fail(upstreamError('SWY_UPSTREAM_PROTOCOL', `bad chunked response body: ${d.error}`));
        return;
      }
      done = d.done;
    }
    if (stop > pos && !h.onResponseBody(pos === 0 && stop === buf.length ? buf : buf.subarray(pos, stop))) this.socket.pause();
    if (done && this.#handler === h) this.#finish(stop < buf.length);
  }

  /** The response is complete: back to the pool if the exchange allows, else closed. */
  #finish(extraBytes: boolean): void {
    const h = this.#handler!;
    const head = this.#head!;
    this.#handler = undefined;
    const reusable = head.keepAlive && this.requestDone && !extraBytes && !this.#upgrade;
    if (reusable) {
      this.#state = C.Idle;
      this.reused = true;
      this.since = Date.now();
      this.socket.resume();
      this.pool.release(this);
    } else {
      this.destroy();
    }
    h.onResponseEnd();
  }

  #onEnd(): void {
    const head = this.#head;
    if (this.#handler !== undefined && head !== undefined && head.body === BodyKind.Close) {
      const h = this.#handler;
      this.#handler = undefined;
      this.destroy();
      h.onResponseEnd();
      return;
    }
    this.#fail(upstreamError('ECONNRESET', head === undefined ? 'the upstream closed the connection before a response' : 'the upstream closed the connection mid-response',
      head === undefined && !this.#gotBytes && this.reused));
  }

  #onError(err: Error & { code?: string }): void {
    const connecting = this.#state === C.Connecting;
    this.#fail(upstreamError(err.code ?? 'ECONNRESET', err.message, !connecting && this.#head === undefined && !this.#gotBytes && this.reused));
  }

  #onClose(): void {
    if (this.#state === C.Closed && this.#handler === undefined) { this.pool.forget(this); return; }
    this.#fail(upstreamError('ECONNRESET', 'the upstream connection closed', this.#head === undefined && !this.#gotBytes && this.reused));
  }

  #fail(err: UpstreamError): void {
    const h = this.#handler;
    this.destroy();
    this.pool.forget(this);
    h?.onResponseError(err);
  }
}

/** Keep-alive sockets to one endpoint. */
export class RawPool {
  /** Idle sockets, most recently used last (LIFO keeps few sockets warm). */
  readonly #idle: UpstreamConn[] = [];
  /** Every open socket (for the sweep). */
  readonly #all = new Set<UpstreamConn>();
  closed = false;

  constructor(
    readonly host: string,
    readonly port: number,
    readonly timeouts: RawPoolTimeouts,
    readonly headLimits = { maxHeadBytes: 64 * 1024, maxFields: 200 },
  ) {}

  /** An idle socket or a new one (connecting). */
  acquire(): UpstreamConn {
    while (this.#idle.length > 0) {
      const c = this.#idle.pop()!;
      if (!c.socket.destroyed) return c;
    }
    const c = new UpstreamConn(this);
    this.#all.add(c);
    return c;
  }

  /** A new socket, never pooled before (upgrades; the replay of a request that met a stale one). */
  fresh(tunnel = false): UpstreamConn {
    const c = new UpstreamConn(this, tunnel);
    this.#all.add(c);
    return c;
  }

  release(c: UpstreamConn): void {
    if (this.closed) { c.destroy(); this.#all.delete(c); return; }
    this.#idle.push(c);
  }

  forget(c: UpstreamConn): void {
    this.#all.delete(c);
    const i = this.#idle.indexOf(c);
    if (i !== -1) this.#idle.splice(i, 1);
  }

  /** Open sockets (busy + idle). */
  get size(): number { return this.#all.size; }

  /** Applies the deadlines of every socket. */
  sweep(now: number): void {
    for (const c of this.#all) if (!c.sweep(now, this.timeouts)) this.forget(c);
  }

  /** Closes idle sockets now and busy ones when their response ends (`force`: all at once). */
  close(force = false): void {
    this.closed = true;
    for (const c of this.#idle) c.destroy();
    this.#idle.length = 0;
    if (force) for (const c of this.#all) c.destroy();
  }
}
