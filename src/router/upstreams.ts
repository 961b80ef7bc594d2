/**
 * @module router/upstreams
 * Connection pools and load-balancing state per endpoint, keyed by `host:port` so they outlive
 * snapshot swaps (keep-alive connections and in-flight counts survive a config change).
 * Endpoint choice is power-of-two-choices on in-flight requests (least-request).
 */
import { Pool } from 'undici';
import type { EndpointRoute, Snapshot, Upstream } from '../routing/index.js';

export interface UpstreamTimeouts {
  /** TCP connect timeout (ms). */
  connectMs: number;
  /** Time to the response head (ms). */
  headersMs: number;
  /** Max idle gap between body chunks (ms); 0 disables (SSE, long polls). */
  bodyMs: number;
  /** Idle keep-alive socket lifetime (ms). */
  keepAliveMs: number;
}

export const DEFAULT_TIMEOUTS: UpstreamTimeouts = { connectMs: 5_000, headersMs: 60_000, bodyMs: 0, keepAliveMs: 4_000 };

/** Per-endpoint state shared across snapshots. */
export class EndpointState {
  inflight = 0;
  closed = false;
  readonly pool: Pool;
  constructor(readonly origin: string, t: UpstreamTimeouts) {
    this.pool = new Pool(origin, {
      connections: 256,
      pipelining: 1,
      connectTimeout: t.connectMs,
      headersTimeout: t.headersMs,
      bodyTimeout: t.bodyMs,
      keepAliveTimeout: t.keepAliveMs,
    });
  }
}

export class UpstreamPools {
  readonly #byOrigin = new Map<string, EndpointState>();
  // Compiled endpoints are frozen and reused across snapshots: identity lookup, no string building per request.
  readonly #byRoute = new WeakMap<EndpointRoute, EndpointState>();
  readonly #timeouts: UpstreamTimeouts;
  constructor(timeouts: UpstreamTimeouts = DEFAULT_TIMEOUTS) { this.#timeouts = timeouts; }

  /** State of one endpoint, created on first use. */
  endpoint(ep: EndpointRoute): EndpointState {
    const known = this.#byRoute.get(ep);
    if (known !== undefined && !known.closed) return known;
    const origin = `http://${ep.host}:${ep.port}`;
    let s = this.#byOrigin.get(origin);
    if (s === undefined) { s = new EndpointState(origin, this.#timeouts); this.#byOrigin.set(origin, s); }
    this.#byRoute.set(ep, s);
    return s;
  }

  /**
   * Picks an endpoint of `upstream`, avoiding `exclude` (a failed attempt) when possible.
   * Power of two choices: two random endpoints, the one with fewer requests in flight.
   */
  // HOT PATH — change with care.
  pick(upstream: Upstream, exclude?: EndpointRoute): EndpointRoute | undefined {
    const eps = upstream.endpoints;
    const n = eps.length;
    if (n === 0) return undefined;
    if (n === 1) return eps[0] === exclude ? undefined : eps[0];
    let a = (Math.random() * n) | 0;
    let b = (Math.random() * (n - 1)) | 0;
    if (b >= a) b++;
    if (eps[a] === exclude) a = b;
    if (eps[b] === exclude) b = a;
    const ea = eps[a]!, eb = eps[b]!;
    return this.endpoint(ea).inflight <= this.endpoint(eb).inflight ? ea : eb;
  }

  /** Closes pools of endpoints no longer in `snap` (gracefully: in-flight requests finish). */
  sweep(snap: Snapshot): void {
    const live = new Set<string>();
    const add = (u: Upstream | undefined) => { if (u) for (const e of u.endpoints) live.add(`http://${e.host}:${e.port}`); };
    for (const env of snap.environments.values()) for (const u of env.upstreams) add(u);
    for (const [origin, s] of this.#byOrigin) {
      if (!live.has(origin) && s.inflight === 0) { this.#byOrigin.delete(origin); s.closed = true; void s.pool.close().catch(() => undefined); }
    }
  }

  async close(): Promise<void> {
    const all = [...this.#byOrigin.values()];
    this.#byOrigin.clear();
    await Promise.all(all.map((s) => s.pool.destroy().catch(() => undefined)));
  }
}
