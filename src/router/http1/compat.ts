/**
 * @module router/http1/compat
 * node:http-shaped request and response objects over an {@link Http1Exchange}, for the parts of
 * the router that are not the proxy hot path and are shared with the HTTP/2 listeners: static
 * sites, access policies (login page, Basic auth, denials), problems, redirects, ACME
 * challenges, h2c upstreams. They implement the subset of `IncomingMessage`/`ServerResponse`
 * those parts use (a `Readable` body; `setHeader`/`writeHead`/`write`/`end`, a `Writable` that
 * can be a pipeline's destination). Built only when such a path is taken.
 */
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeader, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { Readable, Writable } from 'node:stream';
import { ChunkedDecoder } from './chunked.js';
import { BodyKind } from './fields.js';
import { REASONS, type BodySink, type Http1Exchange } from './server.js';

/** The request side: method, url, headers, and the body as a Readable (decoded). */
export class CompatRequest extends Readable implements BodySink {
  readonly method: string;
  url: string;
  readonly httpVersion: string;
  readonly httpVersionMajor = 1;
  readonly httpVersionMinor: number;
  /** The exchange's own field list: edits (policies removing credentials) reach the proxy. */
  readonly rawHeaders: string[];
  complete = false;
  #headers: IncomingHttpHeaders | undefined;
  #started = false;
  readonly #dechunk: ChunkedDecoder | undefined;

  constructor(readonly ex: Http1Exchange) {
    super();
    this.method = ex.method;
    this.url = ex.target;
    this.httpVersionMinor = ex.head.versionMinor;
    this.httpVersion = `1.${ex.head.versionMinor}`;
    this.rawHeaders = ex.head.raw;
    if (ex.head.body === BodyKind.Chunked) this.#dechunk = new ChunkedDecoder();
    if (!ex.hasBody) { this.complete = true; this.push(null); }
  }

  get socket(): IncomingMessage['socket'] { return this.ex.socket; }
  get connection(): IncomingMessage['socket'] { return this.ex.socket; }

  /** Lower-case names; repeated fields joined with `, ` (`set-cookie`/`cookie` as node does). */
  get headers(): IncomingHttpHeaders {
    if (this.#headers !== undefined) return this.#headers;
    const h: Record<string, string | string[]> = {};
    const raw = this.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) {
      const k = raw[i]!.toLowerCase();
      const v = raw[i + 1]!;
      const cur = h[k];
      if (cur === undefined) h[k] = k === 'set-cookie' ? [v] : v;
      else if (Array.isArray(cur)) cur.push(v);
      else if (k === 'host' || k === 'content-length' || k === 'content-type' || k === 'authorization' || k === 'user-agent') continue; // first wins, like node
      else h[k] = k === 'cookie' ? `${cur}; ${v}` : `${cur}, ${v}`;
    }
    this.#headers = h as IncomingHttpHeaders;
    return this.#headers;
  }

  override _read(): void {
    if (!this.#started) { this.#started = true; this.ex.readBody(this); return; }
    this.ex.resumeBody();
  }

  onBody(buf: Buffer): boolean {
    if (this.#dechunk === undefined) return this.push(buf);
    let ok = true;
    this.#dechunk.feed(buf, 0, buf.length, (b, s, e) => { ok = this.push((b as Buffer).subarray(s, e)); });
    return ok;
  }

  onBodyEnd(): void { this.complete = true; this.push(null); }

  onBodyError(reason: string, aborted: boolean): void {
    this.destroy(Object.assign(new Error(reason), { code: aborted ? 'ECONNRESET' : 'SWY_BAD_REQUEST' }));
  }
}

/** The response side: a Writable that frames what is written (Content-Length, chunked, or close). */
export class CompatResponse extends Writable {
  statusCode = 200;
  statusMessage = '';
  readonly #fields = new Map<string, [string, OutgoingHttpHeader]>();
  #chunked = false;
  #noBody = false;
  #trailers: string | undefined;
  #pendingCb: ((err?: Error | null) => void) | undefined;

  constructor(readonly ex: Http1Exchange) {
    super();
    ex.onDrain = () => { const cb = this.#pendingCb; this.#pendingCb = undefined; cb?.(); };
    const prev = ex.onClose;
    ex.onClose = () => {
      prev?.();
      if (ex.aborted && !this.destroyed) this.destroy();
    };
  }

  get headersSent(): boolean { return this.ex.headSent; }
  get socket(): ServerResponse['socket'] { return this.ex.socket; }

  setHeader(name: string, value: OutgoingHttpHeader): this { this.#fields.set(name.toLowerCase(), [name, value]); return this; }
  getHeader(name: string): OutgoingHttpHeader | undefined { return this.#fields.get(name.toLowerCase())?.[1]; }
  hasHeader(name: string): boolean { return this.#fields.has(name.toLowerCase()); }
  removeHeader(name: string): void { this.#fields.delete(name.toLowerCase()); }
  getHeaders(): OutgoingHttpHeaders {
    const o: OutgoingHttpHeaders = {};
    for (const [k, [, v]] of this.#fields) o[k] = v;
    return o;
  }

  /** `writeHead(status[, reason][, headers])` as node's. */
  writeHead(status: number, reason?: string | OutgoingHttpHeaders | OutgoingHttpHeader[], headers?: OutgoingHttpHeaders | OutgoingHttpHeader[]): this {
    if (this.ex.headSent) return this;
    if (typeof reason === 'string') this.statusMessage = reason; else headers = reason;
    this.statusCode = status;
    if (Array.isArray(headers)) {
      for (let i = 0; i + 1 < headers.length; i += 2) this.setHeader(String(headers[i]), headers[i + 1] as OutgoingHttpHeader);
    } else if (headers !== undefined) {
      for (const k in headers) { const v = headers[k]; if (v !== undefined) this.setHeader(k, v); }
    }
    this.#sendHead();
    return this;
  }

  flushHeaders(): void { this.#sendHead(); }

  /** Trailer fields, sent in the last chunk (chunked responses only). */
  addTrailers(t: Record<string, string | string[]>): void {
    let s = '';
    for (const k in t) { const v = t[k]!; for (const x of Array.isArray(v) ? v : [v]) s += `${k}: ${x}\r\n`; }
    this.#trailers = (this.#trailers ?? '') + s;
  }

  #sendHead(): void {
    const ex = this.ex;
    if (ex.headSent) return;
    const status = this.statusCode;
    this.#noBody = ex.method === 'HEAD' || status === 204 || status === 304 || status < 200;
    let lines = `HTTP/1.1 ${status} ${this.statusMessage || REASONS[status] || ''}\r\n`;
    let hasLength = false;
    for (const [k, [name, v]] of this.#fields) {
      if (k === 'connection' || k === 'transfer-encoding' || k === 'keep-alive') continue; // framing is ours
      if (k === 'content-length') hasLength = true;
      if (Array.isArray(v)) for (const x of v) lines += `${name}: ${x}\r\n`;
      else lines += `${name}: ${v}\r\n`;
    }
    let close = ex.closeAfter || !ex.head.keepAlive || !ex.bodySettled || ex.conn.draining;
    if (!hasLength && !this.#noBody) {
      if (ex.head.versionMinor === 1) { this.#chunked = true; lines += 'transfer-encoding: chunked\r\n'; } else close = true;
    }
    if (close) { ex.closeAfter = true; lines += 'connection: close\r\n'; }
    else if (ex.head.versionMinor === 0) lines += 'connection: keep-alive\r\n';
    ex.writeHead(status, lines + '\r\n');
  }

  override end(chunk?: unknown, encoding?: unknown, cb?: unknown): this {
    // Like node: a whole body given to end() before any write gets a Content-Length.
    if (!this.ex.headSent && typeof chunk !== 'function' && chunk !== undefined && chunk !== null && !this.#fields.has('content-length') && this.writableLength === 0) {
      const len = typeof chunk === 'string' ? Buffer.byteLength(chunk, typeof encoding === 'string' ? encoding as BufferEncoding : 'utf8') : (chunk as Uint8Array).length;
      this.setHeader('content-length', String(len));
    } else if (!this.ex.headSent && (chunk === undefined || typeof chunk === 'function') && !this.#fields.has('content-length') && this.writableLength === 0) {
      this.setHeader('content-length', '0');
    }
    return super.end(chunk as never, encoding as never, cb as never);
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.#sendHead();
    const ex = this.ex;
    if (this.#noBody || chunk.length === 0 || ex.finished) { cb(); return; }
    let ok: boolean;
    if (this.#chunked) {
      const s = ex.socket;
      s.cork();
      ex.write(chunk.length.toString(16) + '\r\n');
      ex.write(chunk);
      ok = ex.write('\r\n');
      s.uncork();
    } else {
      ok = ex.write(chunk);
    }
    if (ok) cb(); else this.#pendingCb = cb;
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.#sendHead();
    const ex = this.ex;
    if (this.#chunked && !ex.finished) ex.write(`0\r\n${this.#trailers ?? ''}\r\n`);
    ex.end();
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (!this.ex.finished) this.ex.destroy();
    const p = this.#pendingCb;
    this.#pendingCb = undefined;
    p?.(err);
    cb(err);
  }
}

/** The exchange as node:http-shaped objects (typed as node's for the code shared with HTTP/2). */
export function compat(ex: Http1Exchange): { req: IncomingMessage; res: ServerResponse } {
  return { req: new CompatRequest(ex) as unknown as IncomingMessage, res: new CompatResponse(ex) as unknown as ServerResponse };
}
