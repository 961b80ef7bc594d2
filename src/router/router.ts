/**
 * @module router/router
 * The data plane: an edge listener (host/header/baggage → environment, path → service) and one
 * internal listener per service (discovery address; environment from the routing header).
 * It serves from one immutable snapshot held in a single field; {@link Router.setSnapshot}
 * swaps it in one assignment, and a request keeps the snapshot it started with. The router
 * never touches the store.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { swyError, type SwitchyardError } from '../errors/index.js';
import { resolveEdge, resolveInternal, type RouteDecision, type Snapshot } from '../routing/index.js';
import { proxyHttp, type ProxyOutcome, type ProxyRequestInfo } from './proxy.js';
import { sendProblem } from './problem.js';
import { serveStatic } from './static.js';
import type { BlobStore, DeployManifest } from '../blob/index.js';
import { BlobCache } from '../blob/cache.js';
import { UpstreamPools, type UpstreamTimeouts } from './upstreams.js';
import { hasDotSegment, refuseRequest, resolveLimits, type RequestLimits } from './hygiene.js';
import type { ResilienceOptions } from './outlier.js';
import type { EdgePolicies } from './edge-policy.js';
import { tlsServerOptions, type CertificateManager } from '../edge/cert-store.js';
import type { ChallengeStore } from '../edge/acme.js';
import { Http1Listener } from './http1/listener.js';
import type { Http1Exchange } from './http1/server.js';
import { BodyKind } from './http1/fields.js';
import { rawGet } from './http1/parse.js';
import { proxyExchange, sendProblemRaw } from './http1/proxy.js';
import { compat } from './http1/compat.js';
import type { Http1Limits } from './http1/server.js';
import type { AccessLog } from '../edge/access-log.js';
import { RequestRecorder } from './recorder.js';
import type { EdgeMetrics } from '../edge/metrics.js';
import { ensureTrace, ensureTraceRaw, originForm, rawJoined, requestIdOf } from './request-context.js';
import { ACME_PREFIX, answerChallenge } from './acme-http01.js';

export interface RouterOptions {
  /** Upstream connect/headers/body/keep-alive timeouts; default {@link DEFAULT_TIMEOUTS}. */
  timeouts?: UpstreamTimeouts;
  /** Where site deploys' files are read from; without it, site routes answer 503. */
  blobStore?: BlobStore;
  /** Enforces per-environment access policies; without it, policies are not enforced. */
  policies?: EdgePolicies;
  /** Plain-HTTP edge requests get 308 to `https://<host>[:port]`; ACME challenges are still answered. */
  redirectToHttps?: { port: number };
  /** `Strict-Transport-Security: max-age=<s>` on HTTPS edge responses. */
  hstsMaxAgeSeconds?: number;
  /** One JSON line per edge request. */
  accessLog?: AccessLog;
  /** Request counters and durations (Prometheus). */
  metrics?: EdgeMetrics;
  /** Answers ACME HTTP-01 challenges (`/.well-known/acme-challenge/<token>`) from the shared store. */
  acmeChallenges?: ChallengeStore;
  /** Body (413), head (431: bytes, fields), slow head (408) and keep-alive limits; see {@link RequestLimits}. */
  limits?: Partial<RequestLimits>;
  /** Passive outlier ejection and retry budget tuning. */
  resilience?: ResilienceOptions;
}

type Target = { edge: true; https?: boolean } | { edge: false; service: string };

export class Router {
  #snapshot: Snapshot | undefined;
  readonly #pools: UpstreamPools;
  readonly #limits: RequestLimits;
  readonly #listeners: Http1Listener[] = [];
  readonly #http1: Http1Limits;
  readonly #versionWaiters: { version: number; resolve: () => void }[] = [];
  #sweep: ReturnType<typeof setTimeout> | undefined;

  readonly #blobs: BlobStore | undefined;
  readonly #blobCache: BlobCache | undefined;
  readonly #policies: EdgePolicies | undefined;
  readonly #metrics: EdgeMetrics | undefined;
  /** Access log and metrics per edge request; undefined when neither is configured. */
  readonly #rec: RequestRecorder | undefined;

  constructor(options: RouterOptions = {}) {
    this.#pools = new UpstreamPools(options.timeouts, options.resilience);
    this.#limits = resolveLimits(options.limits);
    const l = this.#limits;
    this.#http1 = { maxHeadBytes: l.maxHeaderBytes, maxFields: l.maxHeaderFields, headTimeoutMs: l.headTimeoutMs, keepAliveTimeoutMs: l.keepAliveTimeoutMs, bodyTimeoutMs: l.bodyTimeoutMs, maxPipelineBytes: 64 * 1024 };
    this.#blobs = options.blobStore;
    this.#blobCache = options.blobStore ? new BlobCache(options.blobStore) : undefined;
    this.#policies = options.policies;
    this.#metrics = options.metrics;
    this.#rec = options.accessLog !== undefined || options.metrics !== undefined ? new RequestRecorder(options.accessLog, options.metrics) : undefined;
    this.#acme = options.acmeChallenges;
    this.#redirect = options.redirectToHttps;
    this.#hsts = options.hstsMaxAgeSeconds !== undefined ? `max-age=${options.hstsMaxAgeSeconds}` : undefined;
  }
  readonly #redirect: { port: number } | undefined;
  readonly #hsts: string | undefined;
  readonly #acme: ChallengeStore | undefined;

  /** Starts the HTTPS edge listener (SNI certificates, h2 by ALPN); resolves with the bound port. */
  async listenHttps(certs: CertificateManager, port: number, host = '127.0.0.1'): Promise<number> {
    const { SNICallback, minVersion } = tlsServerOptions(certs);
    const target: Target = { edge: true, https: true };
    const l = new Http1Listener((ex) => this.#onExchange(target, ex), { limits: this.#http1, h2Handler: this.handleEdge(true) as never, tls: { SNICallback, minVersion }, ...this.#refusals() });
    this.#listeners.push(l);
    return l.listen(port, host);
  }

  /** Serves edge requests on a server made elsewhere (the HTTPS/HTTP2 listener). */
  handleEdge(https: boolean): (req: IncomingMessage, res: ServerResponse) => void {
    const target: Target = { edge: true, https };
    return (req, res) => this.#onRequest(target, req, res);
  }

  /** The snapshot being served (undefined before the first one). */
  get snapshot(): Snapshot | undefined { return this.#snapshot; }
  /** Version of the snapshot being served; 0 before the first one. */
  get version(): number { return this.#snapshot?.version ?? 0; }

  /** Swaps the served snapshot (one assignment). Older versions than the current are ignored. */
  setSnapshot(s: Snapshot): void {
    if (this.#snapshot !== undefined && s.version < this.#snapshot.version) return;
    this.#snapshot = s;
    this.#metrics?.setSnapshotVersion(s.version);
    // Closing pools of vanished endpoints scans every environment: do it off the swap, at most every 5 s.
    if (this.#sweep === undefined) {
      this.#sweep = setTimeout(() => { this.#sweep = undefined; if (this.#snapshot) this.#pools.sweep(this.#snapshot); }, 5_000);
      this.#sweep.unref();
    }
    for (let i = this.#versionWaiters.length - 1; i >= 0; i--) {
      const w = this.#versionWaiters[i]!;
      if (w.version <= s.version) { this.#versionWaiters.splice(i, 1); w.resolve(); }
    }
  }

  /** Resolves once a snapshot of at least `version` is served. */
  waitForVersion(version: number): Promise<void> {
    if (this.version >= version) return Promise.resolve();
    return new Promise((resolve) => this.#versionWaiters.push({ version, resolve }));
  }

  /**
   * Starts the edge listener; resolves with the bound port. With `h2c` (default on) the same port
   * also serves HTTP/2 cleartext to clients with prior knowledge (the connection preface).
   */
  listenEdge(port: number, host = '127.0.0.1', options: { h2c?: boolean } = {}): Promise<number> {
    return this.#listen({ edge: true }, port, host, options.h2c ?? true);
  }

  /** Starts one internal listener per service; resolves with `service → port`. */
  async listenInternal(services: readonly string[], host = '127.0.0.1'): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const s of services) out[s] = await this.#listen({ edge: false, service: s }, 0, host);
    return out;
  }

  /** Starts internal listeners on given ports (`service → port`); resolves with the bound ports. */
  async listenInternalOn(ports: Record<string, number>, host = '127.0.0.1'): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const [s, p] of Object.entries(ports)) out[s] = await this.#listen({ edge: false, service: s }, p, host);
    return out;
  }

  #listen(target: Target, port: number, host: string, h2c = false): Promise<number> {
    const l = new Http1Listener((ex) => this.#onExchange(target, ex), { limits: this.#http1, ...(h2c ? { h2Handler: this.handleEdge(false) as never } : {}), ...(target.edge ? this.#refusals() : {}) });
    this.#listeners.push(l);
    return l.listen(port, host);
  }

  /** Listener option: log the engine's own refusals (edge only, when logging or metrics are on). */
  #refusals(): { onRefused?: (ip: string, status: number) => void } {
    const rec = this.#rec;
    return rec !== undefined ? { onRefused: (ip, status) => rec.refused(ip, status) } : {};
  }

  // HOT PATH (HTTP/1.1 engine) — change with care: one resolve, one proxy call, no store access.
  #onExchange(target: Target, ex: Http1Exchange): void {
    const snap = this.#snapshot;
    if (snap === undefined) { this.#answerEarly(target, ex, swyError('SWY_STORE_UNAVAILABLE', 'the router has no routing snapshot yet')); return; }
    const head = ex.head;
    if (head.body === BodyKind.Length && head.contentLength > this.#limits.maxBodyBytes) {
      this.#answerEarly(target, ex, swyError('SWY_BODY_TOO_LARGE', `the request body (${head.contentLength} bytes) exceeds the router's limit of ${this.#limits.maxBodyBytes} bytes`, { limit: this.#limits.maxBodyBytes }));
      return;
    }
    if (head.target === '*') { this.#answerServerOptions(target, ex); return; } // the parser allows `*` with OPTIONS only
    const path = originForm(head.target);
    if (path === undefined) { this.#answerEarly(target, ex, swyError('SWY_BAD_REQUEST', `request target "${head.target}" is not in origin or absolute form`)); return; }
    if (hasDotSegment(path)) { this.#answerEarly(target, ex, swyError('SWY_PATH_INVALID', `request path "${path}" has a "." or ".." segment`, { reason: 'dot-segment' })); return; }
    if (target.edge) {
      if (this.#acme !== undefined && path.startsWith(ACME_PREFIX)) { const c = compat(ex); answerChallenge(this.#acme, c.req, c.res, path); return; }
      if (this.#redirect !== undefined && target.https !== true) {
        const host = (head.host ?? '').replace(/:\d+$/, '');
        ex.respond(308, 'Permanent Redirect', `location: https://${host}${this.#redirect.port === 443 ? '' : `:${this.#redirect.port}`}${path}\r\n`);
        return;
      }
    }
    const raw = head.raw;
    const header = rawGet(raw, snap.routingHeader);
    const baggage = rawJoined(raw, 'baggage');
    const d = target.edge
      ? resolveEdge(snap, { host: head.host, header, baggage, path })
      : resolveInternal(snap, { service: target.service, header, baggage });
    if (!target.edge) { this.#dispatchExchange(target, ex, snap, d, path, undefined); return; }
    ensureTraceRaw(head);
    const clientIp = this.#policies !== undefined ? this.#policies.clientIpOf(ex.conn.remoteAddress, () => rawJoined(raw, 'x-forwarded-for')) : ex.conn.remoteAddress;
    const obs = this.#rec?.http1(ex, d, clientIp);
    const env = d.kind === 'unknown-env' ? undefined : d.env;
    if (env !== undefined && env.access !== undefined && this.#policies !== undefined) {
      // Access policy, whichever way the environment was selected (host, header, baggage), upgrades included.
      const c = compat(ex);
      const reqId = requestIdOf(raw); // for a denial or a login page (a request let through gets its own when proxied)
      c.res.setHeader('x-request-id', reqId);
      void this.#policies.admit(c.req, c.res, env, target.https === true).then((ok) => {
        if (ok) this.#dispatchExchange(target, ex, snap, d, path, obs, clientIp);
        else if (obs) atClose(c.res, () => obs(undefined, reqId));
      }, (err) => sendProblem(c.req, c.res, swyError('SWY_INTERNAL', `access check failed: ${(err as Error).message}`)));
      return;
    }
    this.#dispatchExchange(target, ex, snap, d, path, obs, clientIp);
  }

  /**
   * `OPTIONS *` asks about the server, not a resource (RFC 9110 §9.3.7): the router answers it
   * itself (200, the methods it forwards in `Allow`, no body) instead of routing a path it lacks.
   */
  #answerServerOptions(target: Target, ex: Http1Exchange): void {
    this.#answerEarly(target, ex, (reqId) => ex.respond(200, 'OK', `allow: ${ALLOWED_METHODS}\r\nx-request-id: ${reqId}\r\n`));
  }

  /** An answer made before routing (`answer`: a problem, or a function given the request id), with a request id; logged at the edge (no environment). */
  #answerEarly(target: Target, ex: Http1Exchange, answer: SwitchyardError | ((reqId: string) => void)): void {
    const reqId = requestIdOf(ex.head.raw);
    const start = performance.now();
    if (typeof answer === 'function') answer(reqId); else sendProblemRaw(ex, answer, `x-request-id: ${reqId}\r\n`);
    if (!target.edge || this.#rec === undefined) return;
    this.#rec.record(undefined, start, ex.status, undefined, {
      reqId, method: ex.method, host: ex.head.host ?? '', path: ex.target, bytes: ex.bytesWritten, clientIp: ex.conn.remoteAddress, traceparent: undefined,
    });
  }

  #dispatchExchange(target: Target, ex: Http1Exchange, snap: Snapshot, d: RouteDecision, path: string, obs: ((o?: ProxyOutcome, reqId?: string) => void) | undefined, clientIp?: string): void {
    const hsts = target.edge && target.https === true && this.#hsts !== undefined ? `strict-transport-security: ${this.#hsts}\r\n` : undefined;
    if (d.kind === 'upstream' && d.service.protocol !== 'h2c') {
      const info = this.#infoRaw(target, ex, snap, d, path, clientIp);
      if (hsts !== undefined) info.extraResponseLines = hsts;
      proxyExchange(this.#pools, ex, d, info, obs);
      return;
    }
    if (ex.head.upgrade) {
      ex.closeAfter = true;
      sendProblemRaw(ex, d.kind === 'upstream'
        ? swyError('SWY_BAD_REQUEST', `service "${d.service.name}" speaks h2c: upgrades are not proxied to it`)
        : swyError('SWY_ROUTE_NOT_FOUND', `no service takes upgrades at ${path}`));
      if (obs) obs();
      return;
    }
    const { req, res } = compat(ex);
    if (hsts !== undefined) res.setHeader('strict-transport-security', this.#hsts!);
    // Answers the router makes itself (sites, problems) carry a request id too.
    const reqId = target.edge ? requestIdOf(ex.head.raw) : undefined;
    if (reqId !== undefined && !(d.kind === 'upstream')) res.setHeader('x-request-id', reqId);
    if (obs) atClose(res, () => obs(undefined, reqId));
    this.#dispatch(target, req, res, snap, d, path, undefined);
  }

  #infoRaw(target: Target, ex: Http1Exchange, snap: Snapshot, d: Extract<RouteDecision, { kind: 'upstream' }>, path: string, clientIp: string | undefined): ProxyRequestInfo {
    let upPath = path;
    if (d.stripLength > 0) {
      upPath = path.slice(d.stripLength);
      if (upPath.length === 0 || upPath.charCodeAt(0) !== 47) upPath = '/' + upPath;
    }
    return {
      edge: target.edge, clientIp: clientIp ?? ex.conn.remoteAddress, proto: target.edge && target.https ? 'https' : 'http', path: upPath,
      routingHeader: snap.routingHeader, maxBodyBytes: this.#limits.maxBodyBytes,
      responseHeaders: d.fallback === 'unknown-env' ? FALLBACK_HEADER : undefined,
    };
  }

  #decide(target: Target, req: IncomingMessage, snap: Snapshot, path: string): RouteDecision {
    const header = req.headers[snap.routingHeader] as string | undefined;
    const baggage = req.headers.baggage as string | undefined;
    return target.edge
      ? resolveEdge(snap, { host: req.headers.host, header, baggage, path })
      : resolveInternal(snap, { service: target.service, header, baggage });
  }

  // HOT PATH — change with care: one resolve, one proxy call.
  #onRequest(target: Target, req: IncomingMessage, res: ServerResponse): void {
    if (refuseRequest(req, res, this.#limits)) return; // framing (CL+TE, conflicting CL) → 400, declared body over the limit → 413
    const snap = this.#snapshot;
    if (snap === undefined) { sendProblem(req, res, swyError('SWY_STORE_UNAVAILABLE', 'the router has no routing snapshot yet')); return; }
    const path = originForm(req.url);
    if (path === undefined) { sendProblem(req, res, swyError('SWY_BAD_REQUEST', `request target "${req.url}" is not in origin or absolute form`)); return; }
    if (hasDotSegment(path)) { sendProblem(req, res, swyError('SWY_PATH_INVALID', `request path "${path}" has a "." or ".." segment`, { reason: 'dot-segment' })); return; }
    if (this.#acme !== undefined && target.edge && path.startsWith(ACME_PREFIX)) { answerChallenge(this.#acme, req, res, path); return; }
    if (target.edge && this.#redirect !== undefined && target.https !== true) {
      const host = (req.headers.host ?? '').replace(/:\d+$/, '');
      const location = `https://${host}${this.#redirect.port === 443 ? '' : `:${this.#redirect.port}`}${path}`;
      res.writeHead(308, { location, 'content-length': '0' }).end();
      return;
    }
    if (target.edge && target.https === true && this.#hsts !== undefined) res.setHeader('strict-transport-security', this.#hsts);
    const authority = req.headers[':authority'] as string | undefined; // HTTP/2
    if (authority !== undefined) {
      // RFC 9113 §8.3.1: a Host that names another authority makes the request malformed (routing reads Host).
      if (req.headers.host !== undefined && req.headers.host.toLowerCase() !== authority.toLowerCase()) {
        sendProblem(req, res, swyError('SWY_BAD_REQUEST', `Host "${req.headers.host}" disagrees with :authority "${authority}"`));
        return;
      }
      req.headers.host ??= authority;
    }
    const d = this.#decide(target, req, snap, path);
    if (target.edge) {
      const obs = this.#rec?.node(req, res, d, this.#policies?.clientIp(req) ?? req.socket.remoteAddress ?? '');
      ensureTrace(req);
      // Access policy: whichever way the environment was selected, its policy applies.
      const env = d.kind === 'unknown-env' ? undefined : d.env;
      if (env !== undefined && env.access !== undefined && this.#policies !== undefined) {
        void this.#policies.admit(req, res, env, target.https === true).then((ok) => {
          if (ok) this.#dispatch(target, req, res, snap, d, path, obs);
          else if (obs) atClose(res, obs);
        }, (err) => sendProblem(req, res, swyError('SWY_INTERNAL', `access check failed: ${(err as Error).message}`)));
        return;
      }
      this.#dispatch(target, req, res, snap, d, path, obs);
      return;
    }
    this.#dispatch(target, req, res, snap, d, path, undefined);
  }

  #dispatch(target: Target, req: IncomingMessage, res: ServerResponse, snap: Snapshot, d: RouteDecision, path: string, obs: ((o?: ProxyOutcome) => void) | undefined): void {
    if (d.kind !== 'upstream') {
      if (obs) atClose(res, obs);
      if (d.kind === 'site') this.#serveSite(req, res, d, path); else this.#noUpstream(req, res, d);
      return;
    }
    const p = proxyHttp(this.#pools, req, res, d, this.#info(target, req, snap, d, path));
    if (obs) p.then(obs, () => obs());
  }

  #serveSite(req: IncomingMessage, res: ServerResponse, d: Extract<RouteDecision, { kind: 'site' }>, path: string): void {
    if (d.fallback === 'unknown-env') res.setHeader('x-switchyard-fallback', 'unknown-env');
    if (this.#blobs === undefined) { sendProblem(req, res, swyError('SWY_BLOB_STORE_UNAVAILABLE', `no blob store configured to serve site "${d.service.name}"`, { env: d.env.name, site: d.service.name })); return; }
    if (d.stripLength > 0 && (path.length === d.stripLength || path.charCodeAt(d.stripLength) === 63 /* ? */)) {
      // `/docs` → `/docs/`: relative links in the site's index resolve against the folder.
      res.writeHead(301, { location: path.slice(0, d.stripLength) + '/' + path.slice(d.stripLength), 'content-length': '0', 'cache-control': 'no-cache' }).end();
      return;
    }
    let sitePath = d.stripLength > 0 ? path.slice(d.stripLength) : path;
    if (sitePath.length === 0 || sitePath.charCodeAt(0) !== 47) sitePath = '/' + sitePath;
    const mountPath = d.stripLength > 0 ? path.slice(0, d.stripLength) : '';
    void serveStatic(req, res, {
      store: this.#blobs, manifest: d.deploy as DeployManifest, path: sitePath, spa: d.service.spa, mountPath,
      ...(this.#blobCache ? { cache: this.#blobCache } : {}),
      ...(d.service.notFound ? { notFoundPage: d.service.notFound } : {}),
    });
  }

  #info(target: Target, req: IncomingMessage, snap: Snapshot, d: Extract<RouteDecision, { kind: 'upstream' }>, path: string): ProxyRequestInfo {
    let upPath = path;
    if (d.stripLength > 0) {
      upPath = path.slice(d.stripLength);
      if (upPath.length === 0 || upPath.charCodeAt(0) !== 47) upPath = '/' + upPath;
    }
    return {
      edge: target.edge, clientIp: this.#policies?.clientIp(req) ?? req.socket.remoteAddress ?? '', proto: target.edge && target.https ? 'https' : 'http', path: upPath,
      routingHeader: snap.routingHeader, maxBodyBytes: this.#limits.maxBodyBytes,
      responseHeaders: d.fallback === 'unknown-env' ? { 'x-switchyard-fallback': 'unknown-env' } : undefined,
    };
  }

  #noUpstream(req: IncomingMessage, res: ServerResponse, d: Exclude<RouteDecision, { kind: 'upstream' }>): void {
    switch (d.kind) {
      case 'unknown-env':
        sendProblem(req, res, swyError('SWY_ENV_NOT_FOUND', `environment "${d.name}" does not exist (host ${req.headers.host})`, { env: d.name }));
        return;
      case 'no-route':
        sendProblem(req, res, swyError('SWY_ROUTE_NOT_FOUND', `no public prefix matches ${req.url} in environment "${d.env.name}"`, { env: d.env.name }));
        return;
      case 'no-upstream':
        sendProblem(req, res, swyError('SWY_NO_HEALTHY_UPSTREAM', `service "${d.service.name}" runs neither in "${d.env.name}" nor in base`, { env: d.env.name, service: d.service.name }));
        return;
    }
  }

  /** Stops accepting, lets in-flight requests finish for up to `drainMs`, then closes everything. */
  async close(drainMs = 5_000): Promise<void> {
    if (this.#sweep) clearTimeout(this.#sweep);
    await Promise.all(this.#listeners.map((l) => l.close(drainMs)));
    await this.#pools.close();
  }
}

/** Methods the router forwards (the parser's set minus CONNECT), for `OPTIONS *`. */
const ALLOWED_METHODS = 'GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS, TRACE';

/** Runs `f` once the response is closed (at once if it already is). */
function atClose(res: ServerResponse, f: () => void): void {
  if (res.closed) f(); else res.once('close', () => f());
}

const FALLBACK_HEADER = Object.freeze({ 'x-switchyard-fallback': 'unknown-env' });
