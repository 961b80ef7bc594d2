/**
 * @module router/http1/exchange
 * One request on a client connection of the HTTP/1.1 engine ({@link Http1Exchange}): its parsed
 * head, its body as it arrives (validated: Content-Length counted, chunked checked, passed to a
 * {@link BodySink} in wire form with backpressure) and the means to answer it (head, body, end,
 * or a complete small response). The connection ({@link Http1Connection}) owns the socket and
 * decides what comes after the answer (the next pipelined request, or close).
 */
import type { Socket } from 'node:net';
import { ChunkedDecoder } from './chunked.js';
import { BodyKind } from './fields.js';
import { rawGet, type RequestHead } from './parse.js';
import type { Http1Connection } from './server.js';

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
  /** Body bytes announced so far: Content-Length, or for chunked the bytes received plus the rest of the current chunk. */
  get bodyBytesDeclared(): number { return this.#chunked ? this.#chunked.declared : this.head.contentLength; }

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
