/**
 * @module edge/metrics
 * Prometheus metrics of the router in a dedicated `prom-client` Registry (served at
 * `GET /metrics` in the text exposition format 0.0.4):
 *  - `switchyard_requests_total{env,service,status}` counter, `status` as a class (`2xx`…);
 *  - `switchyard_request_duration_seconds{env,service}` histogram;
 *  - `switchyard_upstream_healthy{env,service,endpoint}` gauge (1/0, this router's view);
 *  - `switchyard_snapshot_version` gauge;
 *  - `switchyard_certificate_expiry_seconds{host}` gauge (seconds until notAfter).
 * Label cardinality is bounded: at most `maxEnvs` distinct env values (later ones are counted as
 * `_other`), status classes only, label values truncated to 63 characters.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** One request, as the router observes it when the response ends. */
export interface RequestObservation {
  env: string;
  /** Service or site that answered; `_none` when no route matched. */
  service?: string;
  status: number;
  durationMs: number;
}

/** Seconds: 1 ms … 10 s, the range a proxied preview request lives in. */
export const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** `404` → `4xx`; anything outside 100–599 (e.g. 499 stays `4xx`, 0 → `other`). */
export function statusClass(status: number): string {
  return status >= 100 && status <= 599 ? `${Math.floor(status / 100)}xx` : 'other';
}

function clip(v: string | undefined, dflt: string): string {
  if (!v) return dflt;
  return v.length > 63 ? v.slice(0, 63) : v;
}

/** The router's metrics. */
export class EdgeMetrics {
  readonly registry = new Registry();
  readonly requests: Counter<'env' | 'service' | 'status'>;
  readonly duration: Histogram<'env' | 'service'>;
  readonly upstreamHealthy: Gauge<'env' | 'service' | 'endpoint'>;
  readonly snapshotVersion: Gauge;
  readonly certificateExpiry: Gauge<'host'>;
  readonly #envs = new Set<string>();
  readonly #maxEnvs: number;

  /**
   * @param opts `maxEnvs` distinct env label values (default 500); `defaultMetrics` adds
   * prom-client's process metrics (CPU, memory, event-loop lag) with prefix `switchyard_`.
   */
  constructor(opts: { maxEnvs?: number; defaultMetrics?: boolean } = {}) {
    this.#maxEnvs = opts.maxEnvs ?? 500;
    const registers = [this.registry];
    this.requests = new Counter({ name: 'switchyard_requests_total', help: 'Requests answered at the edge, by environment, service and status class', labelNames: ['env', 'service', 'status'], registers });
    this.duration = new Histogram({ name: 'switchyard_request_duration_seconds', help: 'Time from request to last response byte at the edge', labelNames: ['env', 'service'], buckets: DURATION_BUCKETS, registers });
    this.upstreamHealthy = new Gauge({ name: 'switchyard_upstream_healthy', help: '1 when this router considers the upstream endpoint healthy, else 0', labelNames: ['env', 'service', 'endpoint'], registers });
    this.snapshotVersion = new Gauge({ name: 'switchyard_snapshot_version', help: 'Version of the route-table snapshot this router serves (lowest across workers)', registers, aggregator: 'min' });
    this.certificateExpiry = new Gauge({ name: 'switchyard_certificate_expiry_seconds', help: 'Seconds until the served certificate for the host expires', labelNames: ['host'], registers });
    if (opts.defaultMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'switchyard_' });
  }

  /** The env label for `env`: itself while fewer than `maxEnvs` are known, else `_other`. */
  envLabel(env: string): string {
    const e = clip(env, '_none');
    if (this.#envs.has(e)) return e;
    if (this.#envs.size >= this.#maxEnvs) return '_other';
    this.#envs.add(e);
    return e;
  }

  /**
   * Bound children per (env, service): prom-client hashes a labels object on every `inc()` and
   * `observe()`; the children are looked up once and reused (measured: most of the metrics' cost
   * per request). Bounded like the env label itself (`maxEnvs` envs × their services).
   */
  readonly #children = new Map<string, Map<string, { duration: ReturnType<Histogram<'env' | 'service'>['labels']>; byClass: Map<string, ReturnType<Counter<'env' | 'service' | 'status'>['labels']>> }>>();

  /** Counts a finished request and records its duration. */
  observeRequest(o: RequestObservation): void {
    const env = this.envLabel(o.env);
    const service = clip(o.service, '_none');
    let byService = this.#children.get(env);
    if (byService === undefined) { byService = new Map(); this.#children.set(env, byService); }
    let c = byService.get(service);
    if (c === undefined) { c = { duration: this.duration.labels(env, service), byClass: new Map() }; byService.set(service, c); }
    const cls = statusClass(o.status);
    let counter = c.byClass.get(cls);
    if (counter === undefined) { counter = this.requests.labels(env, service, cls); c.byClass.set(cls, counter); }
    counter.inc();
    c.duration.observe(o.durationMs / 1000);
  }

  /** Sets an endpoint's health (this router's active check). */
  setUpstreamHealth(env: string, service: string, endpoint: string, healthy: boolean): void {
    this.upstreamHealthy.set({ env: this.envLabel(env), service: clip(service, '_none'), endpoint: clip(endpoint, '_none') }, healthy ? 1 : 0);
  }

  /** Drops an endpoint that no longer exists (so dead series do not linger). */
  removeUpstream(env: string, service: string, endpoint: string): void {
    this.upstreamHealthy.remove({ env: this.envLabel(env), service: clip(service, '_none'), endpoint: clip(endpoint, '_none') });
  }

  /**
   * Forgets an environment that was deleted: its series go and its slot under `maxEnvs` frees.
   * O(series); call on environment deletion, not per request.
   */
  async removeEnv(env: string): Promise<void> {
    const e = clip(env, '_none');
    this.#children.delete(e);
    if (!this.#envs.delete(e)) return;
    type Removable = { get(): Promise<{ values: { labels: Record<string, string | number | undefined> }[] }>; remove(labels: Record<string, string>): void };
    for (const m of [this.requests, this.duration, this.upstreamHealthy] as unknown as Removable[]) {
      const seen = new Set<string>();
      for (const v of (await m.get()).values) {
        if (v.labels.env !== e) continue;
        const labels: Record<string, string> = {};
        for (const [k, x] of Object.entries(v.labels)) if (k !== 'le' && x !== undefined) labels[k] = String(x);
        const key = JSON.stringify(labels);
        if (!seen.has(key)) { seen.add(key); m.remove(labels); }
      }
    }
  }

  setSnapshotVersion(v: number): void { this.snapshotVersion.set(v); }

  /** Replaces the certificate expiry series (one per certificate name). `now` in ms. */
  setCertificateExpiries(list: readonly { host: string; notAfter: Date }[], now = Date.now()): void {
    this.certificateExpiry.reset();
    for (const c of list) this.certificateExpiry.set({ host: clip(c.host, '_none') }, Math.round((c.notAfter.getTime() - now) / 1000));
  }

  /** Body of `GET /metrics`. */
  text(): Promise<string> { return this.registry.metrics(); }

  /** `Content-Type` of {@link text}. */
  get contentType(): string { return this.registry.contentType; }
}

/** Creates the edge metrics (see {@link EdgeMetrics}). */
export function createMetrics(opts: { maxEnvs?: number; defaultMetrics?: boolean } = {}): EdgeMetrics {
  return new EdgeMetrics(opts);
}
