/**
 * @module router/hygiene
 * The router's request limits ({@link RequestLimits}, enforced by the HTTP/1.1 engine: see
 * docs/http1.md) and the checks for requests that arrive through node's compat objects
 * (HTTP/2 clients), made before routing so that what reaches an upstream is framed one way only
 * and within limits:
 * - `Content-Length` together with `Transfer-Encoding`, several differing `Content-Length`
 *   values, or a transfer coding other than `chunked` → 400 (RFC 9112 §6.1, §6.3);
 * - a declared body over the limit → 413 up front, without reading it; a body of unknown length
 *   is counted while it streams ({@link CappedBody}) and cut off with 413;
 * - a path with `.`/`..` segments → 400 ({@link hasDotSegment}, for every client).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { swyError } from '../errors/index.js';
import { sendProblem } from './problem.js';

export interface RequestLimits {
  /** Largest request body (bytes); default 100 MiB. */
  maxBodyBytes: number;
  /** Largest request line + header block (bytes); over it → 431. Default 32 KiB. */
  maxHeaderBytes: number;
  /** Most header fields in a request; over it → 431. Default 100. */
  maxHeaderFields: number;
  /** A request head must arrive within this time of its first byte (ms); else 408. Default 30 s. */
  headTimeoutMs: number;
  /** An idle keep-alive client connection is closed after this long (ms). Default 65 s. */
  keepAliveTimeoutMs: number;
  /** A request body that stalls this long (no bytes while the router is reading) → 408 and close (ms). Default 60 s. */
  bodyTimeoutMs: number;
}

export const DEFAULT_LIMITS: RequestLimits = {
  maxBodyBytes: 100 * 1024 * 1024, maxHeaderBytes: 32 * 1024, maxHeaderFields: 100, headTimeoutMs: 30_000, keepAliveTimeoutMs: 65_000, bodyTimeoutMs: 60_000,
};

export function resolveLimits(limits?: Partial<RequestLimits>): RequestLimits {
  return { ...DEFAULT_LIMITS, ...limits };
}

const CLOSE = { connection: 'close' } as const;

/** `Connection: close` for an HTTP/1 answer that must end the connection (HTTP/2 has no such field: its stream just ends). */
export function closeHeaders(req: IncomingMessage): Record<string, string> | undefined {
  return req.httpVersionMajor === 2 ? undefined : CLOSE;
}

/**
 * Checks framing and declared size. Answers (and closes the connection) and returns true when
 * the request is refused; returns false, having touched nothing, when it may go on.
 */
// HOT PATH: a request without a body costs two property reads.
export function refuseRequest(req: IncomingMessage, res: ServerResponse, limits: RequestLimits): boolean {
  const te = req.headers['transfer-encoding'];
  const cl = req.headers['content-length'];
  if (te === undefined && cl === undefined) return false;
  const bad = framingProblem(req, te, cl);
  if (bad !== undefined) { sendProblem(req, res, swyError('SWY_BAD_REQUEST', bad, { cause: 'framing' }), closeHeaders(req)); return true; }
  if (cl !== undefined && Number(cl) > limits.maxBodyBytes) {
    sendProblem(req, res, swyError('SWY_BODY_TOO_LARGE', `the request body (${cl} bytes) exceeds the router's limit of ${limits.maxBodyBytes} bytes`, { limit: limits.maxBodyBytes }), closeHeaders(req));
    return true;
  }
  return false;
}

function framingProblem(req: IncomingMessage, te: string | undefined, cl: string | undefined): string | undefined {
  if (te !== undefined && cl !== undefined) return 'a request must not carry both Content-Length and Transfer-Encoding';
  if (te !== undefined && te.trim().toLowerCase() !== 'chunked') return `unsupported Transfer-Encoding "${te}" (only "chunked" is accepted)`;
  if (cl !== undefined) {
    // node keeps the first Content-Length field only; the raw list has them all.
    const raw = req.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) {
      if (raw[i]!.length !== 14 || raw[i]!.toLowerCase() !== 'content-length') continue;
      for (const v of raw[i + 1]!.split(',')) if (v.trim() !== cl) return 'conflicting Content-Length values';
    }
    if (!/^\d+$/.test(cl)) return `invalid Content-Length "${cl}"`;
  }
  return undefined;
}

/**
 * A request body (chunked, so of unknown length) passed on as it arrives, counted: past `limit`
 * bytes it fails with `SWY_BODY_TOO_LARGE` (and {@link tooLarge} is set) instead of going on.
 * It reads the request only when read itself, so nothing is consumed before the upstream asks.
 */
export class CappedBody extends Readable {
  /** Set once the body went past the limit. */
  tooLarge = false;
  #bytes = 0;
  #started = false;
  readonly #src: IncomingMessage;
  readonly #limit: number;

  constructor(src: IncomingMessage, limit: number) {
    super();
    this.#src = src;
    this.#limit = limit;
  }

  override _read(): void {
    if (!this.#started) { this.#started = true; this.#attach(); }
    this.#src.resume();
  }

  #attach(): void {
    const src = this.#src;
    src.on('data', (c: Buffer) => {
      if (this.destroyed) return;
      this.#bytes += c.length;
      if (this.#bytes > this.#limit) {
        this.tooLarge = true;
        src.pause();
        this.destroy(Object.assign(new Error(`request body exceeds ${this.#limit} bytes`), { code: 'SWY_BODY_TOO_LARGE' }));
        return;
      }
      if (!this.push(c)) src.pause();
    });
    src.on('end', () => { if (!this.destroyed) this.push(null); });
    src.on('error', (err) => { if (!this.destroyed) this.destroy(err); });
    src.on('close', () => { if (!src.complete && !this.destroyed) this.destroy(Object.assign(new Error('the client aborted the request body'), { code: 'ECONNRESET' })); });
  }
}

/**
 * Whether a request path (the part before `?`) has a `.` or `..` segment, written plainly or
 * percent-encoded (`%2e`, any case). Routing matches public prefixes on the path as sent, while
 * an upstream resolves dot segments (RFC 3986 §5.2.4): `/api/../admin` would match `/api` here
 * and reach `/admin` there. Such requests are refused (400) rather than normalised: clients do
 * not send them (browsers resolve dot segments first), and forwarding a rewritten path would
 * change what a signed or cached URL means.
 */
// HOT PATH: one indexOf for paths without '.' or '%'.
export function hasDotSegment(path: string): boolean {
  let end = path.indexOf('?');
  if (end === -1) end = path.length;
  const dot = path.indexOf('.');
  const pct = path.indexOf('%');
  if ((dot === -1 || dot >= end) && (pct === -1 || pct >= end)) return false;
  let s = 0;
  while (s < end) {
    let e = path.indexOf('/', s);
    if (e === -1 || e > end) e = end;
    const len = e - s;
    if (len >= 1 && len <= 6) {
      const seg = path.slice(s, e).toLowerCase();
      if (seg === '.' || seg === '..' || seg === '%2e' || seg === '%2e%2e' || seg === '.%2e' || seg === '%2e.') return true;
    }
    s = e + 1;
  }
  return false;
}
