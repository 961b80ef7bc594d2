/**
 * @module router/headers
 * Request and response header rewriting for the proxy: hop-by-hop fields removed (RFC 9110
 * §7.6.1, including those named in `Connection`), `X-Forwarded-*` and `Forwarded` (RFC 7239) set,
 * a request id kept or created, and the routing header plus its `baggage` member set to the
 * environment so services can pass it on.
 */
import { randomUUID } from 'node:crypto';
import { setBaggageMember } from '../routing/index.js';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'proxy-authenticate', 'proxy-authorization']);
const FORWARDING = new Set(['x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto', 'x-forwarded-port', 'forwarded', 'x-real-ip']);

export interface ForwardContext {
  /** Routing header name (lowercase). */
  routingHeader: string;
  /** Environment name to pass on. */
  env: string;
  clientIp: string;
  proto: 'http' | 'https';
  /** Host as the client sent it. */
  host: string | undefined;
  /** Set X-Forwarded-* / Forwarded (edge); internal hops keep what they got. */
  edge: boolean;
  /** Keep an `Upgrade`/`Connection: upgrade` pair (WebSocket). */
  upgrade?: boolean;
  /** A trace the router started: sent instead of the client's `traceparent`/`tracestate`, whatever `Connection` names. */
  traceparent?: string;
}

/** Fields `Connection` can never make hop-by-hop here (the parser refuses such a request; HTTP/2 has no Connection). */
const NEVER_HOP = new Set(['content-length', 'host']);

/** Whether a request id from a client is acceptable to keep (visible ASCII, ≤ 128 bytes). */
export function validRequestId(v: string): boolean {
  return v.length > 0 && v.length <= 128 && /^[\x21-\x7e]+$/.test(v);
}

/**
 * Builds the upstream request headers as a flat `[name, value, …]` list
 * from node's `rawHeaders`. Returns the request id used.
 */
export function forwardRequestHeaders(raw: readonly string[], ctx: ForwardContext): { headers: string[]; requestId: string } {
  const out: string[] = [];
  let connectionTokens: string[] | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.length === 10 && raw[i]!.toLowerCase() === 'connection') {
      (connectionTokens ??= []).push(...raw[i + 1]!.toLowerCase().split(',').map((s) => s.trim()));
    }
  }
  let requestId: string | undefined;
  let baggage: string | undefined;
  let xff: string | undefined;
  let sawHost = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.charCodeAt(0) === 58 /* : */) continue; // HTTP/2 pseudo-headers (`:authority` becomes Host below)
    const lower = name.toLowerCase();
    const value = raw[i + 1]!;
    if (HOP_BY_HOP.has(lower)) {
      if (ctx.upgrade && lower === 'upgrade') out.push(name, value);
      continue;
    }
    if (ctx.traceparent !== undefined && (lower === 'traceparent' || lower === 'tracestate')) continue;
    if (connectionTokens !== undefined && connectionTokens.includes(lower) && !NEVER_HOP.has(lower)) continue;
    if (lower === ctx.routingHeader) continue;
    // The router answers `Expect: 100-continue` itself when it starts reading the body.
    if (lower === 'expect') continue;
    if (lower === 'baggage') { baggage = baggage === undefined ? value : `${baggage},${value}`; continue; }
    if (lower === 'x-request-id') { if (requestId === undefined && validRequestId(value)) requestId = value; continue; }
    if (ctx.edge && FORWARDING.has(lower)) {
      // Untrusted client: its forwarding claims are dropped (trusted proxies come with the edge issue).
      continue;
    }
    if (!ctx.edge && lower === 'x-forwarded-for') { xff = value; }
    if (lower === 'host') sawHost = true;
    out.push(name, value);
  }
  if (ctx.traceparent !== undefined) out.push('traceparent', ctx.traceparent);
  if (ctx.host !== undefined && !sawHost) out.push('host', ctx.host); // HTTP/2 clients send :authority only
  requestId ??= randomUUID();
  out.push('x-request-id', requestId);
  out.push(ctx.routingHeader, ctx.env);
  out.push('baggage', setBaggageMember(baggage, ctx.routingHeader, ctx.env));
  if (ctx.upgrade) out.push('connection', 'upgrade');
  if (ctx.edge) {
    const ip = ctx.clientIp;
    out.push('x-forwarded-for', ip);
    if (ctx.host) out.push('x-forwarded-host', ctx.host);
    out.push('x-forwarded-proto', ctx.proto);
    const forIp = ip.includes(':') ? `"[${ip}]"` : ip;
    out.push('forwarded', `for=${forIp};proto=${ctx.proto}${ctx.host ? `;host="${ctx.host}"` : ''}`);
  }
  void xff;
  return { headers: out, requestId };
}
