/**
 * @module router/http1/downstream-h2
 * The client side of a proxied exchange for HTTP/2 clients ({@link H2Downstream}), so their
 * requests to HTTP/1.1 upstreams use the same raw-socket pool as everyone else's. node:http2's
 * compat objects carry the stream: the request body is passed on as it arrives (chunk-framed
 * when the client gave no `content-length`), the upstream's head becomes an HTTP/2 HEADERS frame
 * (hop-by-hop and `Connection`-named fields dropped, RFC 9113 §8.2.2), and a chunked upstream
 * body is de-chunked (HTTP/2 frames data itself).
 */
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { swyError, type SwitchyardError } from '../../errors/index.js';
import { sendProblem } from '../problem.js';
import { ChunkedDecoder } from './chunked.js';
import { BodyKind } from './fields.js';
import type { ResponseHead } from './response.js';
import type { Downstream } from './proxy.js';
import type { BodySink } from './server.js';

/** Fields HTTP/2 forbids in a response or that are hop-by-hop (RFC 9113 §8.2.2, RFC 9110 §7.6.1). */
const DROP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'proxy-authenticate', 'proxy-authorization']);
const LAST_CHUNK = Buffer.from('0\r\n\r\n', 'latin1');

/** Whether an HTTP/2 request has a body: a non-zero `content-length`, or a HEADERS frame that did not end the stream. */
function hasBody(req: IncomingMessage): boolean {
  const cl = req.headers['content-length'];
  if (cl !== undefined) return cl !== '0';
  if (req.headers['transfer-encoding'] !== undefined) return true; // (an HTTP/1.1 request through compat objects)
  return (req as unknown as { stream?: { endAfterHeaders?: boolean } }).stream?.endAfterHeaders === false;
}

/** A proxied exchange's HTTP/2 client (node:http2 compat request and response). */
export class H2Downstream implements Downstream {
  readonly chunkedBody: boolean;
  readonly #hasBody: boolean;
  bodyBytes = 0;
  bodyStarted = false;
  bodyComplete: boolean;
  aborted = false;
  #closed = false;
  #dechunk: ChunkedDecoder | undefined;
  #noBody = false;
  onClose: (() => void) | undefined;
  onDrain: (() => void) | undefined;

  constructor(readonly req: IncomingMessage, readonly res: ServerResponse) {
    this.#hasBody = hasBody(req);
    this.chunkedBody = this.#hasBody && req.headers['content-length'] === undefined;
    this.bodyComplete = !this.#hasBody;
    res.once('close', () => {
      this.#closed = true;
      if (!res.writableFinished) this.aborted = true;
      const f = this.onClose;
      this.onClose = undefined;
      f?.();
    });
    res.on('drain', () => this.onDrain?.());
  }

  get method(): string { return this.req.method ?? 'GET'; }
  get hasBody(): boolean { return this.#hasBody; }
  get bodyBytesDeclared(): number { return this.bodyBytes; }
  get responseStarted(): boolean { return this.res.headersSent; }
  get finished(): boolean { return this.#closed || this.res.writableEnded; }
  get status(): number { return this.res.headersSent ? this.res.statusCode : 0; }

  readBody(sink: BodySink): void {
    const req = this.req;
    if (!this.#hasBody) { sink.onBodyEnd(); return; }
    req.on('data', (c: Buffer) => {
      this.bodyBytes += c.length;
      this.bodyStarted = true;
      const wire = this.chunkedBody ? Buffer.concat([Buffer.from(`${c.length.toString(16)}\r\n`, 'latin1'), c, Buffer.from('\r\n', 'latin1')]) : c;
      if (!sink.onBody(wire)) req.pause();
    });
    req.on('end', () => {
      this.bodyComplete = true;
      if (this.chunkedBody) sink.onBody(LAST_CHUNK);
      sink.onBodyEnd();
    });
    req.on('aborted', () => sink.onBodyError('the client reset the stream during the request body', true));
    req.on('error', () => sink.onBodyError('the client stream failed during the request body', true));
  }

  resumeBody(): void { this.req.resume(); }

  informational(): void { /* 1xx are not relayed to HTTP/2 clients */ }

  responseHead(head: ResponseHead, extra: string): void {
    const res = this.res;
    const headers: OutgoingHttpHeaders = {};
    let named: string[] | undefined;
    if (head.connection !== undefined) named = head.connection.toLowerCase().split(',').map((t) => t.trim()).filter((t) => t.length > 0);
    const raw = head.raw;
    for (let i = 0; i < raw.length; i += 2) {
      const k = raw[i]!.toLowerCase();
      if (DROP.has(k) || (named !== undefined && named.includes(k)) || (k === 'content-length' && head.status === 204)) continue;
      const v = raw[i + 1]!;
      const cur = headers[k];
      if (k === 'set-cookie') (headers[k] = (cur as string[] | undefined) ?? []).push(v);
      else headers[k] = cur === undefined ? v : `${String(cur)}, ${v}`;
    }
    for (const line of extra.split('\r\n')) {
      const c = line.indexOf(':');
      if (c > 0) headers[line.slice(0, c).toLowerCase()] = line.slice(c + 1).trim();
    }
    this.#noBody = head.body === BodyKind.None;
    if (head.body === BodyKind.Chunked) this.#dechunk = new ChunkedDecoder();
    res.writeHead(head.status, headers);
  }

  responseBody(buf: Buffer): boolean {
    const res = this.res;
    if (this.finished || this.#noBody) return true;
    // `buf` is the upstream's shared read buffer: copy what is queued.
    if (this.#dechunk !== undefined) {
      let ok = true;
      this.#dechunk.feed(buf, 0, buf.length, (b, s, e) => { ok = res.write(Buffer.from((b as Buffer).subarray(s, e))) && ok; });
      return ok;
    }
    return res.write(Buffer.from(buf));
  }

  responseEnd(): void { if (!this.finished) this.res.end(); }

  readEnd(): void { /* node:http2 frames and flushes by itself */ }

  tunnel(_head: ResponseHead, extra: string, up: Socket): void {
    up.destroy();
    this.problem(swyError('SWY_UPSTREAM_ERROR', 'the upstream switched protocols on a request that did not ask to'), extra);
  }

  problem(e: SwitchyardError, extra: string): void {
    const h: Record<string, string> = {};
    for (const line of extra.split('\r\n')) {
      const c = line.indexOf(':');
      if (c > 0) h[line.slice(0, c).toLowerCase()] = line.slice(c + 1).trim();
    }
    sendProblem(this.req, this.res, e, h);
  }
}
