/**
 * @module edge/traceparent
 * W3C Trace Context (https://www.w3.org/TR/trace-context/ §3.2): the edge keeps a valid incoming
 * `traceparent` unchanged (the router records no spans of its own, so it does not re-parent) and
 * creates one when it is absent or invalid, so every request reaching a service belongs to a
 * trace. A new one is sampled (`01`): services with OpenTelemetry's default parent-based sampler
 * would otherwise drop the whole trace. When a new one is created, drop the incoming
 * `tracestate` too (§3.3: it belongs to the discarded trace).
 */
import { randomFillSync } from 'node:crypto';

/** The parts of a traceparent (lower-case hex). */
export interface Traceparent { version: string; traceId: string; parentId: string; flags: string }

const V00 = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const FUTURE = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_PARENT = '0'.repeat(16);

/**
 * Parses a `traceparent` header. Version `00` must be exactly 55 characters; a later version
 * (`01`–`fe`) is read by its first four fields (§3.2.4); `ff`, all-zero ids, upper-case hex,
 * or several header lines are invalid (undefined).
 */
export function parseTraceparent(header: string | string[] | undefined): Traceparent | undefined {
  if (header === undefined) return undefined;
  if (Array.isArray(header)) { if (header.length !== 1) return undefined; header = header[0]!; }
  const h = header.trim();
  const m = V00.exec(h) ?? FUTURE.exec(h);
  if (!m) return undefined;
  const [version, traceId, parentId, flags] = m.length === 4 ? ['00', m[1]!, m[2]!, m[3]!] : [m[1]!, m[2]!, m[3]!, m[4]!];
  if ((m.length !== 4 && (version === '00' || version === 'ff')) || traceId === ZERO_TRACE || parentId === ZERO_PARENT) return undefined;
  return { version, traceId, parentId, flags };
}

// Random ids come from a pooled buffer refilled every 170 traces, hex-encoded once per refill:
// one randomFillSync and one hex encoding instead of two randomBytes calls per new trace
// (measured ~6% of router CPU); an id is then a substring of the hex.
const POOL = Buffer.allocUnsafe(24 * 170);
let poolHex = '';
let poolPos = POOL.length;
function randomHex(n: number): string {
  if (poolPos + n > POOL.length) { randomFillSync(POOL); poolHex = POOL.toString('hex'); poolPos = 0; }
  const s = poolHex.slice(poolPos * 2, (poolPos + n) * 2);
  poolPos += n;
  return s;
}

/** A new random traceparent (version 00; `sampled` sets flag 01, default true). */
export function newTraceparent(sampled = true): string {
  let t = randomHex(16);
  let p = randomHex(8);
  if (t === ZERO_TRACE) t = `${t.slice(0, 31)}1`;
  if (p === ZERO_PARENT) p = `${p.slice(0, 15)}1`;
  return `00-${t}-${p}-${sampled ? '01' : '00'}`;
}

/**
 * The traceparent to pass upstream: the incoming one when valid (unchanged, so future-version
 * fields survive), else a new one. Compare with the input to know whether it was created.
 */
export function ensureTraceparent(header: string | string[] | undefined, opts: { sampled?: boolean } = {}): string {
  if (parseTraceparent(header)) return (Array.isArray(header) ? header[0]! : header!).trim();
  return newTraceparent(opts.sampled ?? true);
}
