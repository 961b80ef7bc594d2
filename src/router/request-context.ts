/**
 * @module router/request-context
 * What the edge reads from a request and sets on it before routing, for both client kinds (the
 * HTTP/1.1 engine's field list and node's compat objects): the origin-form path, the request id
 * (the client's when acceptable, else a new UUID), W3C trace context (kept when valid, else a new
 * trace: `edge/traceparent`), and a field's joined values.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { ensureTraceparent } from '../edge/traceparent.js';
import { validRequestId } from './headers.js';
import { hasToken } from './http1/fields.js';
import { rawGet, type RequestHead } from './http1/parse.js';

/** The client's `x-request-id` when acceptable, else a new one (answers the router makes itself). */
export function requestIdOf(raw: readonly string[]): string {
  const v = rawGet(raw, 'x-request-id');
  return v !== undefined && validRequestId(v) ? v : randomUUID();
}

/** Values of every field `name` (lower-case) joined with `, `, or undefined. */
export function rawJoined(raw: readonly string[], name: string): string | undefined {
  let out: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const k = raw[i]!;
    if (k.length === name.length && (k === name || k.toLowerCase() === name)) out = out === undefined ? raw[i + 1] : `${out}, ${raw[i + 1]}`;
  }
  return out;
}

/** {@link ensureTrace} on the HTTP/1.1 engine's head (its field list edited in place; a new trace noted in `head.traceparent`). */
export function ensureTraceRaw(head: RequestHead): void {
  const raw = head.raw;
  // A traceparent the client made hop-by-hop (named in Connection) is not passed on: start a new trace.
  const cur = head.connection !== undefined && hasToken(head.connection, 'traceparent') ? undefined : rawGet(raw, 'traceparent');
  const tp = ensureTraceparent(cur);
  if (tp === cur) return;
  head.traceparent = tp;
  for (let i = raw.length - 2; i >= 0; i -= 2) { const n = raw[i]!.toLowerCase(); if (n === 'traceparent' || n === 'tracestate') raw.splice(i, 2); }
  raw.push('traceparent', tp);
}

/** Keeps a valid W3C traceparent or creates one (then drops `tracestate`, which belonged to the old trace). */
export function ensureTrace(req: IncomingMessage): void {
  const cur = req.headers.traceparent as string | undefined;
  const tp = ensureTraceparent(cur);
  if (tp === cur) return;
  const raw = req.rawHeaders;
  for (let i = raw.length - 2; i >= 0; i -= 2) { const n = raw[i]!.toLowerCase(); if (n === 'traceparent' || n === 'tracestate') raw.splice(i, 2); }
  raw.push('traceparent', tp);
  req.headers.traceparent = tp;
  delete req.headers.tracestate;
}

/** Origin-form path of a request target; absolute-form is reduced to its path. */
export function originForm(url: string | undefined): string | undefined {
  if (url === undefined || url.length === 0) return undefined;
  if (url.charCodeAt(0) === 47 /* / */) return url;
  if (url.startsWith('http://') || url.startsWith('https://')) {
    const slash = url.indexOf('/', url.indexOf('//') + 2);
    return slash === -1 ? '/' : url.slice(slash);
  }
  return undefined;
}
