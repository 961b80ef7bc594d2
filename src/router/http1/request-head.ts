/**
 * @module router/http1/request-head
 * The request head an HTTP/1.1 upstream gets, built as bytes: the client's request line and
 * field lines are copied from the bytes they arrived in (runs of kept lines in one copy each),
 * then the router's own lines. Same fields, same order and same rules as
 * {@link forwardRequestHeaders} (hop-by-hop and `Connection`-named fields removed, RFC 9110
 * §7.6.1; the routing header and its `baggage` member set; `X-Forwarded-*`/`Forwarded`
 * (RFC 7239) set at the edge; a request id kept or made), which stays the path for heads this
 * one does not take (see {@link upstreamHeadBytes}); test/router/http1/request-head.test.ts
 * holds the two to the same fields.
 *
 * The router's lines after the request id depend only on the environment, the client's
 * `baggage`, its address, Host and the listener: on a keep-alive connection they are built once
 * and reused ({@link ForwardSuffix}), so a request costs a few copies, not string building.
 */
import { setBaggageMember } from '../../routing/index.js';
import { validRequestId } from '../headers.js';
import { BodyKind, eqName, FieldClass } from './fields.js';
import type { RequestHead } from './parse.js';

/** What the router's lines depend on (and the bytes they make), cached per client connection. */
export interface ForwardSuffix {
  routingHeader: string;
  env: string;
  baggage: string | undefined;
  clientIp: string;
  host: string | undefined;
  proto: 'http' | 'https';
  edge: boolean;
  chunked: boolean;
  /** The lines from the routing header to the blank line that ends the head. */
  bytes: Buffer;
}

/** The request's context (a `ProxyRequestInfo` has these). */
export interface ForwardInputs {
  routingHeader: string;
  clientIp: string;
  proto: 'http' | 'https';
  edge: boolean;
  /** Path for the upstream request line (prefix stripped when the route says so). */
  path: string;
}

const XRID = 'x-request-id: ';
const COLON = 58;

/**
 * Builds the upstream head of `head` for environment `env` as bytes, with `cache` the
 * connection's last suffix (or undefined). Returns undefined when this head takes the string
 * path instead: upgrades (the `Upgrade` field is kept), a `Connection` field that names other
 * fields, or no Host (HTTP/1.0).
 * @returns the head bytes, the request id, and the suffix to cache on the connection.
 */
export function upstreamHeadBytes(head: RequestHead, f: ForwardInputs, env: string, cache: ForwardSuffix | undefined, newRequestId: () => string): { bytes: Buffer; requestId: string; suffix: ForwardSuffix } | undefined {
  if (head.upgrade || head.host === undefined || (head.connection !== undefined && namesOtherFields(head.connection))) return undefined;
  const buf = head.buf;
  const sp = head.spans;
  const rh = f.routingHeader;
  const traced = head.traceparent !== undefined;
  // Runs of kept lines; the router's fields are found by class, the routing header by name.
  let runs: number[] | undefined;
  let runStart = -1, runEnd = -1, size = 0;
  let sawRequestId = false, sawBaggage = false;
  for (let k = 0; k < sp.length; k += 3) {
    const s = sp[k]!, e = sp[k + 1]!, c = sp[k + 2]!;
    let keep: boolean;
    switch (c) {
      case FieldClass.Keep: keep = !(buf[s + rh.length] === COLON && eqName(buf, s, s + rh.length, rh)); break;
      case FieldClass.Length: keep = true; break;
      case FieldClass.Forwarding: keep = !f.edge; break;
      case FieldClass.Trace: keep = !traced; break;
      case FieldClass.Router:
        if (buf[s] === 98 || buf[s] === 66) sawBaggage = true; // b/B: baggage (the others: expect, x-request-id)
        else if (buf[s] === 120 || buf[s] === 88) sawRequestId = true;
        keep = false;
        break;
      default: keep = false; // hop-by-hop
    }
    if (!keep) continue;
    if (s === runEnd) { runEnd = e; continue; }
    if (runStart !== -1) { (runs ??= []).push(runStart, runEnd); size += runEnd - runStart; }
    runStart = s; runEnd = e;
  }
  if (runStart !== -1) { (runs ??= []).push(runStart, runEnd); size += runEnd - runStart; }

  let requestId: string | undefined;
  if (sawRequestId) requestId = clientRequestId(head.raw);
  requestId ??= newRequestId();
  const baggage = sawBaggage ? joined(head.raw, 'baggage', ',') : undefined;
  const chunked = head.body === BodyKind.Chunked;
  let suffix = cache;
  if (suffix === undefined || suffix.env !== env || suffix.routingHeader !== rh || suffix.baggage !== baggage || suffix.clientIp !== f.clientIp
    || suffix.host !== head.host || suffix.proto !== f.proto || suffix.edge !== f.edge || suffix.chunked !== chunked) {
    suffix = makeSuffix(rh, env, baggage, f.clientIp, head.host, f.proto, f.edge, chunked);
  }

  // The request line as the client sent it when nothing changes, else rebuilt.
  const sameLine = head.versionMinor === 1 && f.path === head.target;
  const line = sameLine ? undefined : head.method + ' ' + f.path + ' HTTP/1.1\r\n';
  size += (line === undefined ? head.fieldsStart - head.lineStart : line.length)
    + (traced ? 15 + head.traceparent!.length : 0) + XRID.length + requestId.length + 2 + suffix.bytes.length;
  const out = Buffer.allocUnsafe(size);
  let o: number;
  if (line === undefined) o = copyBytes(buf, out, 0, head.lineStart, head.fieldsStart);
  else o = out.write(line, 0, 'latin1');
  if (runs !== undefined) for (let r = 0; r < runs.length; r += 2) o += copyBytes(buf, out, o, runs[r]!, runs[r + 1]!);
  o += out.write((traced ? 'traceparent: ' + head.traceparent + '\r\n' : '') + XRID + requestId + '\r\n', o, 'latin1');
  suffix.bytes.copy(out, o);
  return { bytes: out, requestId, suffix };
}

/** Copies `src[s, e)` to `dst` at `at` (no view object for a Buffer source); returns the byte count. */
function copyBytes(src: Uint8Array, dst: Buffer, at: number, s: number, e: number): number {
  if (Buffer.isBuffer(src)) return src.copy(dst, at, s, e);
  dst.set(src.subarray(s, e), at);
  return e - s;
}

function makeSuffix(routingHeader: string, env: string, baggage: string | undefined, clientIp: string, host: string | undefined, proto: 'http' | 'https', edge: boolean, chunked: boolean): ForwardSuffix {
  let s = routingHeader + ': ' + env + '\r\nbaggage: ' + setBaggageMember(baggage, routingHeader, env) + '\r\n';
  if (edge) {
    s += 'x-forwarded-for: ' + clientIp + '\r\n';
    if (host) s += 'x-forwarded-host: ' + host + '\r\n';
    s += 'x-forwarded-proto: ' + proto + '\r\n';
    const forIp = clientIp.includes(':') ? `"[${clientIp}]"` : clientIp;
    s += `forwarded: for=${forIp};proto=${proto}${host ? `;host="${host}"` : ''}\r\n`;
  }
  if (chunked) s += 'transfer-encoding: chunked\r\n';
  s += '\r\n';
  return { routingHeader, env, baggage, clientIp, host, proto, edge, chunked, bytes: Buffer.from(s, 'latin1') };
}

/** The first acceptable `x-request-id` the client sent (as {@link forwardRequestHeaders} keeps it). */
function clientRequestId(raw: readonly string[]): string | undefined {
  for (let i = 0; i < raw.length; i += 2) {
    const n = raw[i]!;
    if (n.length === 12 && n.toLowerCase() === 'x-request-id' && validRequestId(raw[i + 1]!)) return raw[i + 1];
  }
  return undefined;
}

/** Every value of field `name` (lower-case) joined with `sep`, or undefined. */
function joined(raw: readonly string[], name: string, sep: string): string | undefined {
  let out: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const n = raw[i]!;
    if (n.length === name.length && n.toLowerCase() === name) out = out === undefined ? raw[i + 1] : out + sep + raw[i + 1];
  }
  return out;
}

/** Whether a Connection value names fields other than the standard options (then they are hop-by-hop too). */
export function namesOtherFields(connection: string): boolean {
  if (connection.length <= 10) { const l = connection.toLowerCase(); if (l === 'keep-alive' || l === 'close') return false; } // the usual values
  for (const t of connection.split(',')) {
    const x = t.trim().toLowerCase();
    if (x !== '' && x !== 'close' && x !== 'keep-alive' && x !== 'upgrade') return true;
  }
  return false;
}
