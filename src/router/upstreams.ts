/**
 * @module router/upstreams
 * Connection pools, load-balancing and passive outlier state per endpoint, keyed by `host:port`
 * so they outlive snapshot swaps (keep-alive connections, in-flight counts and ejections survive
 * a config change). Endpoint choice is power-of-two-choices on in-flight requests (least-request)
 * among the endpoints that are not ejected; retry budgets are kept per upstream (`<env>/<service>`).
 */
import { H2Sessions } from './h2-upstream.js';
import { RawPool } from './http1/client.js';
import type { EndpointRoute, Snapshot, Upstream } from '../routing/index.js';
import {
  DEFAULT_OUTLIER, DEFAULT_RETRY_BUDGET, OutlierState, RetryBudget, mayEject, nextEjectionMs,
  type OutlierOptions, type ResilienceOptions, type RetryBudgetOptions,
} from './outlier.js';

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
  readonly outlier = new OutlierState();
  #raw: RawPool | undefined;
  #rawKey = '';
  constructor(readonly origin: string, private readonly t: UpstreamTimeouts) {}

  /**
   * The raw-socket keep-alive pool (HTTP/1.1 engine) for a service's timeouts (`undefined`: the
   * router's). An endpoint belongs to one service, so one pool; a changed setting replaces it
   * (the old one's sockets finish their requests, then close).
   */
  rawPool(st: { connectMs?: number; headersMs?: number; idleMs?: number } | undefined): RawPool {
    const key = st === undefined ? '' : `${st.connectMs}/${st.headersMs}/${st.idleMs}`;
    if (this.#raw !== undefined && key === this.#rawKey) return this.#raw;
    this.#raw?.close();
    const u = new URL(this.origin);
    const t = this.t;
    this.#raw = new RawPool(u.hostname, Number(u.port), {
      connectMs: st?.connectMs ?? t.connectMs, headersMs: st?.headersMs ?? t.headersMs, bodyMs: st?.idleMs ?? t.bodyMs, keepAliveMs: t.keepAliveMs,
    });
    this.#rawKey = key;
    return this.#raw;
  }

  /** The raw pool if one was made. */
  get raw(): RawPool | undefined { return this.#raw; }
}

/** Failure kinds the proxy reports: `connect` ejects at once, `gateway` counts toward N in a row. */
export type FailureKind = 'connect' | 'gateway';

export class UpstreamPools {
  readonly #byOrigin = new Map<string, EndpointState>();
  // Compiled endpoints are frozen and reused across snapshots: identity lookup, no string building per request.
  readonly #byRoute = new WeakMap<EndpointRoute, EndpointState>();
  readonly #timeouts: UpstreamTimeouts;
  readonly #outlier: OutlierOptions;
  readonly #budgetOptions: RetryBudgetOptions;
  readonly #budgets = new Map<string, RetryBudget>();
  /** Endpoints ejected right now (all upstreams); 0 keeps {@link pick} on its fast path. */
  #ejected = 0;
  /** Bumped on every ejection and return: invalidates the usable-endpoint lists. */
  #generation = 0;
  readonly #usableCache = new WeakMap<Upstream, { generation: number; endpoints: readonly EndpointRoute[] }>();
  /** HTTP/2 cleartext sessions for `protocol: h2c` services (one per endpoint). */
  readonly h2 = new H2Sessions();

  /** The router's upstream timeouts (defaults for services that set none). */
  get timeouts(): UpstreamTimeouts { return this.#timeouts; }

  /** Applies the raw pools' deadlines (connect, head, body idle, keep-alive) every 250 ms. */
  readonly #deadlines: ReturnType<typeof setInterval>;

  constructor(timeouts: UpstreamTimeouts = DEFAULT_TIMEOUTS, resilience: ResilienceOptions = {}) {
    this.#deadlines = setInterval(() => {
      const now = Date.now();
      for (const s of this.#byOrigin.values()) s.raw?.sweep(now);
    }, 250);
    this.#deadlines.unref();
    this.#timeouts = timeouts;
    this.#outlier = { ...DEFAULT_OUTLIER, ...resilience.outlier };
    this.#budgetOptions = { ...DEFAULT_RETRY_BUDGET, ...resilience.retryBudget };
  }

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
   * Picks an endpoint of `upstream`, avoiding `exclude` (a failed attempt) when possible and
   * ejected endpoints unless all are (then all are candidates: better a likely failure than none).
   * Power of two choices: two random endpoints, the one with fewer requests in flight.
   * O(1) while nothing is ejected; otherwise O(1) amortised (the usable list of an upstream is
   * rebuilt once per ejection or return).
   */
  // HOT PATH — change with care.
  pick(upstream: Upstream, exclude?: EndpointRoute): EndpointRoute | undefined {
    const eps = this.#ejected === 0 ? upstream.endpoints : this.#usable(upstream);
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

  #usable(upstream: Upstream): readonly EndpointRoute[] {
    const cached = this.#usableCache.get(upstream);
    if (cached !== undefined && cached.generation === this.#generation) return cached.endpoints;
    const all = upstream.endpoints;
    const ok = all.filter((e) => !this.endpoint(e).outlier.ejected);
    const endpoints = ok.length === 0 || ok.length === all.length ? all : Object.freeze(ok);
    if (cached === undefined) this.#usableCache.set(upstream, { generation: this.#generation, endpoints });
    else { cached.generation = this.#generation; cached.endpoints = endpoints; }
    return endpoints;
  }

  /** Records an answer that is not a gateway failure: the failure streak ends. */
  succeeded(state: EndpointState): void { state.outlier.failures = 0; }

  /**
   * Records a failed attempt on `ep` (an endpoint of `upstream`). Returns true when it ejected
   * the endpoint: at once for `connect`, after N `gateway` failures in a row — and only when
   * the upstream's ejection cap allows it.
   */
  failed(ep: EndpointRoute, upstream: Upstream, kind: FailureKind): boolean {
    const s = this.endpoint(ep);
    const o = s.outlier;
    o.failures++;
    if (o.ejected || (kind === 'gateway' && o.failures < this.#outlier.consecutiveFailures)) return false;
    let ejected = 0;
    for (const e of upstream.endpoints) if (e !== ep && this.endpoint(e).outlier.ejected) ejected++;
    if (!mayEject(upstream.endpoints.length, ejected, this.#outlier.maxEjectionPercent)) return false;
    const now = Date.now();
    const ms = nextEjectionMs(o, this.#outlier, now);
    o.ejected = true;
    o.until = now + ms;
    o.timer = setTimeout(() => this.#reinstate(s), ms);
    o.timer.unref();
    this.#ejected++;
    this.#generation++;
    return true;
  }

  #reinstate(s: EndpointState): void {
    const o = s.outlier;
    if (!o.ejected) return;
    o.ejected = false;
    o.failures = 0;
    o.timer = undefined;
    o.returnedAt = Date.now();
    this.#ejected--;
    this.#generation++;
  }

  /** Whether `ep`'s origin is ejected right now. */
  isEjected(ep: EndpointRoute): boolean { return this.endpoint(ep).outlier.ejected; }

  /** Endpoints ejected right now, over all upstreams. */
  get ejectedCount(): number { return this.#ejected; }

  /** Retry budget of one upstream (by its `<env>/<service>` key), created on first use. */
  retryBudget(key: string): RetryBudget {
    let b = this.#budgets.get(key);
    if (b === undefined) { b = new RetryBudget(this.#budgetOptions.windowMs, this.#budgetOptions.minRetries); this.#budgets.set(key, b); }
    return b;
  }

  /** Closes pools of endpoints no longer in `snap` (gracefully: in-flight requests finish); drops idle budgets. */
  sweep(snap: Snapshot): void {
    const live = new Set<string>();
    const add = (u: Upstream | undefined) => { if (u) for (const e of u.endpoints) live.add(`http://${e.host}:${e.port}`); };
    for (const env of snap.environments.values()) for (const u of env.upstreams) add(u);
    for (const [origin, s] of this.#byOrigin) {
      if (!live.has(origin) && s.inflight === 0) {
        this.#byOrigin.delete(origin);
        s.closed = true;
        this.#forget(s);
        s.raw?.close();
      }
    }
    this.h2.sweep(live);
    const now = Date.now();
    for (const [key, b] of this.#budgets) if (b.idle(now)) this.#budgets.delete(key);
  }

  #forget(s: EndpointState): void {
    const o = s.outlier;
    if (o.timer) clearTimeout(o.timer);
    o.timer = undefined;
    if (o.ejected) { o.ejected = false; this.#ejected--; this.#generation++; }
  }

  async close(): Promise<void> {
    clearInterval(this.#deadlines);
    const all = [...this.#byOrigin.values()];
    for (const s of all) s.raw?.close(true);
    this.#byOrigin.clear();
    this.#budgets.clear();
    for (const s of all) { s.closed = true; this.#forget(s); }
    this.h2.close();
  }
}
