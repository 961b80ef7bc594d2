/**
 * @module router/http1/downstream-h1
 * The client side of a proxied exchange for HTTP/1.1 clients ({@link Http1Downstream}): how an
 * upstream's answer is framed to an {@link Http1Exchange}. The response head is built by copying
 * the upstream's end-to-end field lines (hop-by-hop and `Connection`-named ones dropped, RFC 9110
 * §7.6.1) and goes out in one write with the first body bytes; chunked bodies pass as they are
 * (de-chunked, and the connection closed, for HTTP/1.0 clients); a `101` turns both sockets into
 * a byte tunnel; problems are RFC 9457 documents.
 */
import type { Socket } from 'node:net';
import type { SwitchyardError } from '../../errors/index.js';
import { problemBody } from '../problem.js';
import { ChunkedDecoder } from './chunked.js';
import { BodyKind } from './fields.js';
import { namesOtherFields } from './request-head.js';
import type { ResponseHead } from './response.js';
import type { Downstream } from './proxy.js';
import { REASONS, type BodySink, type Http1Exchange } from './server.js';

/** Hop-by-hop response fields (RFC 9110 §7.6.1); `content-length`/`transfer-encoding` are re-added by framing. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'proxy-authenticate', 'proxy-authorization']);

/**
 * Response field lines for the client: the upstream's minus hop-by-hop ones and those named in
 * its `Connection` field. With `upgrade`, `Upgrade` and `Connection` are kept (101).
 */
export function responseFieldLines(raw: readonly string[], upgrade: boolean, dropLength = false): string {
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
    if (dropLength && l === 'content-length') continue;
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
  // Content-Length is passed on, except in a 204 (RFC 9110 §8.6: a server MUST NOT send one there).
  const keepMax = h.status === 204 ? 0 : 2;
  for (let k = 0; k < sp.length; k += 3) if (sp[k + 2]! <= keepMax && sp[k + 2] !== 1) size += sp[k + 1]! - sp[k]!;
  const out = Buffer.allocUnsafe(size);
  let o = out.write('HTTP/1.1', 0, 'latin1');
  o += statusTail !== undefined ? out.write(statusTail, o, 'latin1') : src.copy(out, o, h.start + 8, statusEnd);
  for (let k = 0; k < sp.length; k += 3) if (sp[k + 2]! <= keepMax && sp[k + 2] !== 1) o += src.copy(out, o, sp[k]!, sp[k + 1]!);
  o += out.write(extra, o, 'latin1');
  out[o++] = 13;
  out[o++] = 10;
  return { out, len: o };
}

/** Answers `ex` with a problem (RFC 9457 JSON or text, like `sendProblem`); destroys the connection if a response already started. */
export function sendProblemRaw(ex: Http1Exchange, err: SwitchyardError, extra = ''): void {
  if (ex.headSent) { ex.destroy(); return; }
  const status = err.statusCode === 499 ? 400 : err.statusCode;
  const p = problemBody(err, ex.header('accept'), ex.target);
  ex.respond(status, REASONS[status] ?? 'Error', `content-type: ${p.contentType}\r\ncache-control: no-store\r\n${extra}`, p.body);
}

/** A proxied exchange's HTTP/1.1 client. */
export class Http1Downstream implements Downstream {
  /** De-chunking for HTTP/1.0 clients. */
  #dechunk: ChunkedDecoder | undefined;
  /** The client socket is corked from the response head to the end of that upstream read (string-built heads). */
  #corked = false;
  /** Response head (and the first body bytes, up to its size) not yet written: flushed at the end of the upstream read. */
  #out: Buffer | undefined;
  #outLen = 0;

  constructor(readonly ex: Http1Exchange, readonly upgrade: boolean) {}

  get method(): string { return this.ex.method; }
  get hasBody(): boolean { return this.ex.hasBody; }
  get chunkedBody(): boolean { return this.ex.head.body === BodyKind.Chunked; }
  get bodyBytes(): number { return this.ex.bodyBytes; }
  get bodyBytesDeclared(): number { return this.ex.bodyBytesDeclared; }
  get bodyStarted(): boolean { return this.ex.bodyStarted; }
  get bodyComplete(): boolean { return this.ex.bodyComplete; }
  get responseStarted(): boolean { return this.ex.headSent; }
  get finished(): boolean { return this.ex.finished; }
  get aborted(): boolean { return this.ex.aborted; }
  get status(): number { return this.ex.status; }
  set onClose(f: (() => void) | undefined) { this.ex.onClose = f; }
  set onDrain(f: (() => void) | undefined) { this.ex.onDrain = f; }

  readBody(sink: BodySink): void { this.ex.readBody(sink); }
  resumeBody(): void { this.ex.resumeBody(); }

  informational(head: ResponseHead): void {
    const ex = this.ex;
    if (head.status === 100 || ex.head.versionMinor === 0 || ex.headSent) return; // we answered Expect ourselves; 1.0 has no 1xx
    ex.write(`HTTP/1.1 ${head.status} ${head.reason || REASONS[head.status] || ''}\r\n${responseFieldLines(head.raw, false, true)}\r\n`);
  }

  responseHead(head: ResponseHead, extra: string): void {
    const ex = this.ex;
    const client10 = ex.head.versionMinor === 0;
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
    ex.writeHead(head.status, 'HTTP/1.1 ' + head.status + ' ' + (head.reason || REASONS[head.status] || '') + '\r\n' + responseFieldLines(head.raw, false, head.status === 204) + extra + '\r\n');
  }

  /** Writes the pending head (and body bytes gathered with it). */
  #flush(): void {
    const out = this.#out;
    if (out === undefined) return;
    this.#out = undefined;
    this.ex.write(this.#outLen === out.length ? out : out.subarray(0, this.#outLen));
  }

  responseBody(buf: Buffer): boolean {
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

  responseEnd(): void {
    this.#flush();
    if (!this.ex.finished) this.ex.end();
  }

  readEnd(): void {
    this.#flush();
    if (this.#corked) { this.#corked = false; this.ex.socket.uncork(); }
  }

  /** Upgrade accepted: the 101 goes out and the two sockets become one tunnel. */
  tunnel(head: ResponseHead, extra: string, up: Socket, upRest: Buffer | undefined): void {
    const ex = this.ex;
    ex.writeHead(101, 'HTTP/1.1 101 ' + (head.reason || REASONS[101]) + '\r\n' + responseFieldLines(head.raw, true) + extra + '\r\n');
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

  problem(e: SwitchyardError, extra: string): void { sendProblemRaw(this.ex, e, extra); }
}
