import type { EnvIndex } from './env-index.js';
/**
 * @module routing/types
 * The route table (plain data read from the store) and the compiled snapshot the router serves
 * from. Both are immutable values; nothing here does I/O.
 */

/** One endpoint of an instance: where a copy of a service listens. */
export interface EndpointRoute {
  /** Stable id, `<env>/<service>/<replica>`. */
  readonly id: string;
  readonly host: string;
  readonly port: number;
  /** Passed its health check (written by the runtime). Only ready endpoints receive traffic. */
  readonly ready: boolean;
}

/** A target's routing facts (a service, or a static site), shared by every environment. */
export interface ServiceRoute {
  readonly name: string;
  /** Normalised public path prefixes at the edge (`/`, `/api`); empty = internal only. */
  readonly public: readonly string[];
  readonly stripPrefix: boolean;
  /** `site`: served from a deploy in the blob store; default `service`. */
  readonly kind?: 'service' | 'site';
  /** Host label the target owns: `<label>.<domain>` (base), `<env>--<label>.<domain>` (preview). */
  readonly host?: string;
  /** Sites: unknown extension-less paths serve index.html. */
  readonly spa?: boolean;
  /** Sites: deploy-relative page sent with 404. */
  readonly notFound?: string;
  /** Services: upstream timeouts (spec `timeouts`); absent = the router's defaults. */
  readonly timeouts?: ServiceTimeouts;
  /** Services: retry policy (spec `retries`); absent = 1 retry, 20 % budget. */
  readonly retries?: RetryPolicy;
  /** Services: upstream protocol (spec `protocol`); absent = HTTP/1.1. `h2c`: HTTP/2 cleartext (gRPC). */
  readonly protocol?: 'http1' | 'h2c';
}

/** Upstream timeouts of a service (ms); an unset member uses the router's default. */
export interface ServiceTimeouts {
  /** TCP connect to an instance. */
  readonly connectMs?: number;
  /** Request sent → response head; past it: 504. */
  readonly headersMs?: number;
  /** Longest gap between response body chunks; 0 = none (SSE, long polls). */
  readonly idleMs?: number;
}

/** Retry policy of a service (connect errors and resets before the response head, idempotent requests only). */
export interface RetryPolicy {
  /** Extra attempts after the first (default 1; 0 disables). */
  readonly attempts?: number;
  /** Retries may add at most this share (%) of the upstream's recent requests (default 20). */
  readonly budgetPercent?: number;
}

/** One file of a site deploy. */
export interface DeployFileRoute { readonly hash: string; readonly size: number; readonly contentType: string }

/** An immutable site deploy: path (site-relative, no leading `/`) → file. */
export interface DeployRoute {
  readonly id: string;
  readonly site: string;
  readonly createdAt: string;
  readonly files: Readonly<Record<string, DeployFileRoute>>;
}

/** An environment: base, or a preview that runs some services itself. */
export interface EnvironmentRoute {
  readonly name: string;
  readonly kind: 'base' | 'preview';
  /** Exact custom hostnames that select this environment. */
  readonly hosts: readonly string[];
  /** Services this environment runs itself → their endpoints. Base runs every service. */
  readonly services: Readonly<Record<string, readonly EndpointRoute[]>>;
  /** Sites this environment has its own deploy of → deploy id. */
  readonly sites?: Readonly<Record<string, string>>;
  /** Access policy (opaque to routing; the router enforces it). Absent = public. */
  readonly access?: Readonly<Record<string, unknown>>;
}

/** Input of {@link compileSnapshot}: everything routing needs, as read from the store. */
export interface RouteTable {
  /** Store version this table was read at; monotonically increasing. */
  readonly version: number;
  /** App domain, lowercase, e.g. `shop.localhost`. */
  readonly domain: string;
  /** Routing header name, lowercase; also the W3C baggage member name. */
  readonly routingHeader: string;
  readonly services: readonly ServiceRoute[];
  readonly environments: readonly EnvironmentRoute[];
  /** Every deploy some environment points at, by id. */
  readonly deploys?: Readonly<Record<string, DeployRoute>>;
}

/** Compiled service: index into per-environment upstream arrays. */
export interface CompiledService {
  readonly index: number;
  readonly name: string;
  readonly stripPrefix: boolean;
  readonly kind: 'service' | 'site';
  readonly spa: boolean;
  readonly notFound: string | undefined;
  /** Upstream timeouts; undefined = the router's defaults. */
  readonly timeouts?: ServiceTimeouts | undefined;
  /** Retry policy; undefined = the defaults. */
  readonly retries?: RetryPolicy | undefined;
  /** Upstream protocol; undefined = HTTP/1.1. */
  readonly protocol?: 'h2c' | undefined;
}

/** The endpoints of one service in one environment. Identity is stable per `key`. */
export interface Upstream {
  /** `<env>/<service>` */
  readonly key: string;
  readonly env: string;
  readonly service: string;
  /** Ready endpoints only; may be empty (then the request gets 503). */
  readonly endpoints: readonly EndpointRoute[];
  /** Endpoints in total, ready or not (for messages). */
  readonly total: number;
}

export interface CompiledEnvironment {
  readonly name: string;
  readonly kind: 'base' | 'preview';
  /** Exact custom hosts of this environment (as in the table). */
  readonly hosts: readonly string[];
  /** Indexed by {@link CompiledService.index}; `undefined` where the env does not run the service. */
  readonly upstreams: readonly (Upstream | undefined)[];
  /** Indexed like `upstreams`; the env's own deploy of a site, if any. */
  readonly deploys: readonly (DeployRoute | undefined)[];
  /** Access policy as data, and its canonical JSON (a cheap identity for the router's cache). */
  readonly access?: Readonly<Record<string, unknown>>;
  readonly accessKey?: string;
}

/** One public prefix at the edge. */
export interface CompiledPrefix {
  readonly prefix: string;
  readonly service: CompiledService;
}

/**
 * The immutable compiled form of a {@link RouteTable}: maps for O(1) lookups, prefixes sorted
 * longest first. Deep-frozen; a change produces a new snapshot.
 */
export interface Snapshot {
  readonly version: number;
  readonly domain: string;
  /** `.` + domain, precomputed for suffix checks. */
  readonly domainSuffix: string;
  readonly routingHeader: string;
  readonly services: readonly CompiledService[];
  readonly serviceByName: ReadonlyMap<string, CompiledService>;
  /** Longest prefix first. */
  readonly prefixes: readonly CompiledPrefix[];
  readonly base: CompiledEnvironment;
  /** Name → environment; changes by delta, shared between snapshot versions. */
  readonly environments: EnvIndex;
  /** Exact custom host → environment. */
  readonly hosts: ReadonlyMap<string, CompiledEnvironment>;
  /** Host label → the target that owns it. */
  readonly hostLabels: ReadonlyMap<string, CompiledService>;
}

/**
 * A change to the route table since some version: the current state of every environment that
 * changed, and the names of those removed. Services and domain do not change by delta (a spec
 * change recompiles the whole table).
 */
export interface RouteDelta {
  readonly version: number;
  readonly upserts: readonly EnvironmentRoute[];
  readonly removals: readonly string[];
  /** Deploys the upserted environments point at. */
  readonly deploys?: Readonly<Record<string, DeployRoute>>;
}

/** How the environment of a request was chosen. */
export type Selection = 'host' | 'header' | 'baggage' | 'default';

/** Outcome of resolving one request. One object per request; nothing else is allocated. */
export type RouteDecision =
  | {
      readonly kind: 'upstream';
      /** The environment the request belongs to (passed on in the routing header). */
      readonly env: CompiledEnvironment;
      readonly selectedBy: Selection;
      /** Set when a header or baggage named an unknown environment and base was used. */
      readonly fallback: 'unknown-env' | undefined;
      /** The name the header/baggage gave, when it was unknown. */
      readonly unknownName: string | undefined;
      readonly service: CompiledService;
      /** The env's own upstream, or base's when the env does not run the service. */
      readonly upstream: Upstream;
      /** Length of the matched public prefix to strip (0 when not stripping). */
      readonly stripLength: number;
    }
  | {
      readonly kind: 'site';
      readonly env: CompiledEnvironment;
      readonly selectedBy: Selection;
      readonly fallback: 'unknown-env' | undefined;
      readonly unknownName: string | undefined;
      readonly service: CompiledService;
      /** The env's own deploy, or base's. */
      readonly deploy: DeployRoute;
      readonly stripLength: number;
    }
  | { readonly kind: 'unknown-env'; readonly name: string }
  | { readonly kind: 'no-route'; readonly env: CompiledEnvironment; readonly selectedBy: Selection }
  | { readonly kind: 'no-upstream'; readonly env: CompiledEnvironment; readonly service: CompiledService };

/** What a resolver needs from an edge request; all strings as received (no normalisation). */
export interface EdgeRequest {
  /** `Host` header (or `:authority`), possibly with port and upper case. */
  readonly host: string | undefined;
  /** Value of the routing header, if present. */
  readonly header: string | undefined;
  /** Value of the `baggage` header, if present. */
  readonly baggage: string | undefined;
  /** Request target in origin form (`/api/x?y=1`). */
  readonly path: string;
}

/** A request arriving on a service's internal (discovery) listener. */
export interface InternalRequest {
  readonly service: string;
  readonly header: string | undefined;
  readonly baggage: string | undefined;
}
