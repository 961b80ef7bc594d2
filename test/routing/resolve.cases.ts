/**
 * The routing conformance table (DESIGN.md "Routing rules" and "Decisions already settled").
 * Every resolver — the naive reference, the compiled snapshot resolver, and later the live
 * proxy — must give exactly `expected` for every case. Expected values are written by hand from
 * the rules, never generated from an implementation.
 *
 * Reuse from another test file:
 *   runRoutingCases('live proxy', async (table, request) => { ... return plainDecision; });
 */
import { describe, expect, test } from 'vitest';
import type { PlainDecision } from '../../src/routing/reference.js';
import type { EndpointRoute, RouteTable } from '../../src/routing/types.js';

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

let nextPort = 41000;
function ep(env: string, service: string, replica = 0, ready = true): EndpointRoute {
  return { id: `${env}/${service}/${replica}`, host: '127.0.0.1', port: nextPort++, ready };
}

/**
 * `shop`: domain `shop.localhost`, header `x-switchyard-env`.
 * Services: web `/`, api `/api`, payments (internal only), admin `/api/admin` (stripPrefix).
 * - base runs everything;
 * - feat1 runs only api, and owns the custom host `feat1.example.test`;
 * - feat2 runs api (2 endpoints, one not ready) and payments (its only endpoint not ready);
 * - demo runs web and admin, and owns the custom host `promo.shop.localhost` (written in mixed
 *   case in the table) although no environment is named `promo`.
 */
const shop: RouteTable = {
  version: 1,
  domain: 'shop.localhost',
  routingHeader: 'x-switchyard-env',
  services: [
    { name: 'web', public: ['/'], stripPrefix: false },
    { name: 'api', public: ['/api'], stripPrefix: false },
    { name: 'payments', public: [], stripPrefix: false },
    { name: 'admin', public: ['/api/admin'], stripPrefix: true },
  ],
  environments: [
    {
      name: 'base', kind: 'base', hosts: [],
      services: {
        web: [ep('base', 'web')],
        api: [ep('base', 'api'), ep('base', 'api', 1)],
        payments: [ep('base', 'payments')],
        admin: [ep('base', 'admin')],
      },
    },
    { name: 'feat1', kind: 'preview', hosts: ['feat1.example.test'], services: { api: [ep('feat1', 'api')] } },
    {
      name: 'feat2', kind: 'preview', hosts: [],
      services: {
        api: [ep('feat2', 'api'), ep('feat2', 'api', 1, false)],
        payments: [ep('feat2', 'payments', 0, false)],
      },
    },
    { name: 'demo', kind: 'preview', hosts: ['Promo.Shop.localhost'], services: { web: [ep('demo', 'web')], admin: [ep('demo', 'admin')] } },
  ],
};

/**
 * `noRoot`: no `/` prefix, a custom routing header `x-env`, a public service nobody runs
 * (`ghost`) and an internal one only a preview runs (`worker`).
 */
const noRoot: RouteTable = {
  version: 7,
  domain: 'api.test',
  routingHeader: 'x-env',
  services: [
    { name: 'api', public: ['/v1'], stripPrefix: true },
    { name: 'worker', public: [], stripPrefix: false },
    { name: 'ghost', public: ['/ghost'], stripPrefix: false },
  ],
  environments: [
    { name: 'main', kind: 'base', hosts: [], services: { api: [ep('main', 'api')] } },
    { name: 'pr7', kind: 'preview', hosts: [], services: { worker: [ep('pr7', 'worker')] } },
  ],
};

/**
 * `sites`: static sites beside a service. `docs` owns the host label `docs` and the prefix
 * `/docs` (stripped); `www` serves `/`; base has deploys of both; preview `feat1` has its own
 * deploy of `docs` only; preview `feat2` has none; `app` is a service at `/app`.
 */
const deploy = (id: string, site: string) => ({ id, site, createdAt: '2026-12-01T00:00:00.000Z', files: { 'index.html': { hash: 'a'.repeat(64), size: 1, contentType: 'text/html' } } });
const sites: RouteTable = {
  version: 3,
  domain: 'shop.localhost',
  routingHeader: 'x-switchyard-env',
  services: [
    { name: 'app', public: ['/app'], stripPrefix: false },
    { name: 'docs', public: ['/docs'], stripPrefix: true, kind: 'site', host: 'docs' },
    { name: 'www', public: ['/'], stripPrefix: true, kind: 'site', spa: true },
  ],
  environments: [
    { name: 'base', kind: 'base', hosts: [], services: { app: [ep('base', 'app')] }, sites: { docs: 'd1', www: 'w1' } },
    { name: 'feat1', kind: 'preview', hosts: [], services: {}, sites: { docs: 'd2' } },
    { name: 'feat2', kind: 'preview', hosts: [], services: { app: [ep('feat2', 'app')] } },
  ],
  deploys: { d1: deploy('d1', 'docs'), d2: deploy('d2', 'docs'), w1: deploy('w1', 'www') },
};

export const fixtures = { shop, noRoot, sites } as const satisfies Record<string, RouteTable>;
export type FixtureName = keyof typeof fixtures;

// ---------------------------------------------------------------------------------------------
// Cases
// ---------------------------------------------------------------------------------------------

export interface EdgeCaseRequest { host?: string; header?: string; baggage?: string; path: string }
export interface InternalCaseRequest { internal: string; header?: string; baggage?: string }
export type CaseRequest = EdgeCaseRequest | InternalCaseRequest;

export interface RoutingCase {
  desc: string;
  /** Fixture name; default `shop`. */
  table?: FixtureName;
  request: CaseRequest;
  expected: PlainDecision;
}

export function isInternal(r: CaseRequest): r is InternalCaseRequest {
  return 'internal' in r;
}

// Shorthands for the common shapes of `expected` (still plain literals underneath).
type Sel = NonNullable<PlainDecision['selectedBy']>;
const up = (env: string, service: string, upstreamEnv: string, selectedBy: Sel, stripLength = 0, fallback?: 'unknown-env'): PlainDecision =>
  ({ kind: 'upstream', env, service, upstreamEnv, selectedBy, ...(fallback ? { fallback } : {}), stripLength });

const H = 'x-switchyard-env';

export const routingCases: readonly RoutingCase[] = [
  // --- rule 1: host → environment ------------------------------------------------------------
  { desc: 'bare domain is base (default)', request: { host: 'shop.localhost', path: '/' }, expected: up('base', 'web', 'base', 'default') },
  { desc: 'no Host header at all is base (default)', request: { path: '/' }, expected: up('base', 'web', 'base', 'default') },
  { desc: 'empty Host header is base (default)', request: { host: '', path: '/api' }, expected: up('base', 'api', 'base', 'default') },
  { desc: '<env>.<domain> selects the preview', request: { host: 'feat1.shop.localhost', path: '/api/orders' }, expected: up('feat1', 'api', 'feat1', 'host') },
  { desc: 'base.<domain> selects base by host', request: { host: 'base.shop.localhost', path: '/api' }, expected: up('base', 'api', 'base', 'host') },
  { desc: 'exact custom host selects its environment', request: { host: 'feat1.example.test', path: '/api' }, expected: up('feat1', 'api', 'feat1', 'host') },
  { desc: 'custom host: upper case, port and trailing dot', request: { host: 'FEAT1.Example.TEST.:8443', path: '/api' }, expected: up('feat1', 'api', 'feat1', 'host') },
  { desc: 'custom host under the domain wins over the <env>.<domain> rule', request: { host: 'promo.shop.localhost', path: '/' }, expected: up('demo', 'web', 'demo', 'host') },
  { desc: 'custom host written in mixed case in the table still matches', request: { host: 'PROMO.shop.localhost', path: '/x' }, expected: up('demo', 'web', 'demo', 'host') },
  { desc: 'upper-case host', request: { host: 'FEAT2.SHOP.LOCALHOST', path: '/api' }, expected: up('feat2', 'api', 'feat2', 'host') },
  { desc: 'host with port', request: { host: 'feat1.shop.localhost:8080', path: '/api' }, expected: up('feat1', 'api', 'feat1', 'host') },
  { desc: 'host with trailing dot (FQDN)', request: { host: 'feat1.shop.localhost.', path: '/api' }, expected: up('feat1', 'api', 'feat1', 'host') },
  { desc: 'host with trailing dot and port', request: { host: 'feat1.shop.localhost.:80', path: '/api' }, expected: up('feat1', 'api', 'feat1', 'host') },
  { desc: 'bare domain with port and trailing dot is base (default)', request: { host: 'Shop.Localhost.:8080', path: '/api' }, expected: up('base', 'api', 'base', 'default') },
  { desc: 'unknown env label in the host is unknown-env', request: { host: 'nope.shop.localhost', path: '/' }, expected: { kind: 'unknown-env', env: 'nope' } },
  { desc: 'unknown env label is reported lower-cased, without port', request: { host: 'NoPe.shop.localhost:8080', path: '/api' }, expected: { kind: 'unknown-env', env: 'nope' } },
  { desc: 'unknown env label in the host wins over a valid header', request: { host: 'nope.shop.localhost', header: 'feat1', path: '/' }, expected: { kind: 'unknown-env', env: 'nope' } },
  { desc: 'host not under the domain is base (default)', request: { host: 'example.com', path: '/api' }, expected: up('base', 'api', 'base', 'default') },
  { desc: 'host that merely ends with the domain text is not under it', request: { host: 'evilshop.localhost', path: '/api' }, expected: up('base', 'api', 'base', 'default') },
  { desc: 'parent domain is not under the domain', request: { host: 'localhost:3000', path: '/' }, expected: up('base', 'web', 'base', 'default') },
  { desc: 'host ".<domain>" (empty label) is base (default)', request: { host: '.shop.localhost', path: '/' }, expected: up('base', 'web', 'base', 'default') },
  { desc: 'multi-label host under the domain is base (default)', request: { host: 'a.feat1.shop.localhost', path: '/api' }, expected: up('base', 'api', 'base', 'default') },
  { desc: 'IPv6 literal host is base (default)', request: { host: '[::1]:8080', path: '/' }, expected: up('base', 'web', 'base', 'default') },

  // --- rule 2: header / baggage, only when the host named no environment ----------------------
  { desc: 'header selects a preview on the bare domain', request: { host: 'shop.localhost', header: 'feat1', path: '/api' }, expected: up('feat1', 'api', 'feat1', 'header') },
  { desc: 'header selects a preview without a Host header', request: { header: 'feat2', path: '/api' }, expected: up('feat2', 'api', 'feat2', 'header') },
  { desc: 'header selects a preview on a host outside the domain', request: { host: 'example.com', header: 'feat1', path: '/api' }, expected: up('feat1', 'api', 'feat1', 'header') },
  { desc: 'header selects a preview on a multi-label host', request: { host: 'a.b.shop.localhost', header: 'feat1', path: '/api' }, expected: up('feat1', 'api', 'feat1', 'header') },
  { desc: 'header value is case-insensitive and trimmed', request: { host: 'shop.localhost', header: ' FEAT1 ', path: '/api' }, expected: up('feat1', 'api', 'feat1', 'header') },
  { desc: 'header naming base selects base by header', request: { host: 'shop.localhost', header: 'base', path: '/' }, expected: up('base', 'web', 'base', 'header') },
  { desc: 'host beats header', request: { host: 'feat2.shop.localhost', header: 'feat1', path: '/api' }, expected: up('feat2', 'api', 'feat2', 'host') },
  { desc: 'base.<domain> host beats a preview header', request: { host: 'base.shop.localhost', header: 'feat1', path: '/api' }, expected: up('base', 'api', 'base', 'host') },
  { desc: 'custom host beats header', request: { host: 'feat1.example.test', header: 'feat2', path: '/api' }, expected: up('feat1', 'api', 'feat1', 'host') },
  { desc: 'host beats an unknown header: no fallback', request: { host: 'feat1.shop.localhost', header: 'bogus', path: '/api' }, expected: up('feat1', 'api', 'feat1', 'host') },
  { desc: 'host beats baggage', request: { host: 'feat1.shop.localhost', baggage: `${H}=feat2`, path: '/api' }, expected: up('feat1', 'api', 'feat1', 'host') },
  { desc: 'header beats baggage', request: { header: 'feat1', baggage: `${H}=feat2`, path: '/api' }, expected: up('feat1', 'api', 'feat1', 'header') },
  { desc: 'baggage alone selects a preview', request: { host: 'shop.localhost', baggage: `${H}=feat2`, path: '/api' }, expected: up('feat2', 'api', 'feat2', 'baggage') },
  { desc: 'baggage member among others, with properties and OWS', request: { host: 'shop.localhost', baggage: 'userId=alice;p=1 , \tx-switchyard-env = feat1 ;ttl=30;sampled, isProduction=false', path: '/api' }, expected: up('feat1', 'api', 'feat1', 'baggage') },
  { desc: 'baggage member value is case-insensitive', request: { baggage: `${H}=FEAT2`, path: '/api' }, expected: up('feat2', 'api', 'feat2', 'baggage') },
  { desc: 'percent-encoded baggage value is decoded', request: { baggage: `other=a%2Cb,${H}=%66eat1`, path: '/api' }, expected: up('feat1', 'api', 'feat1', 'baggage') },
  { desc: 'baggage member whose key only starts with the header name is ignored', request: { baggage: `${H}-old=feat1,${H}x=feat2`, path: '/api' }, expected: up('base', 'api', 'base', 'default') },
  { desc: 'baggage without the member is base (default)', request: { baggage: 'userId=alice,tenant=acme', path: '/api' }, expected: up('base', 'api', 'base', 'default') },
  { desc: 'baggage member with an empty value is base (default)', request: { baggage: `${H}=;p=1`, path: '/api' }, expected: up('base', 'api', 'base', 'default') },
  { desc: 'first of duplicate baggage members wins', request: { baggage: `${H}=feat2,${H}=feat1`, path: '/api' }, expected: up('feat2', 'api', 'feat2', 'baggage') },
  { desc: 'empty-string header falls through to baggage', request: { header: '', baggage: `${H}=feat1`, path: '/api' }, expected: up('feat1', 'api', 'feat1', 'baggage') },
  { desc: 'empty-string header alone is base (default)', request: { header: '', path: '/api' }, expected: up('base', 'api', 'base', 'default') },
  { desc: 'unknown header env → base with fallback unknown-env', request: { host: 'shop.localhost', header: 'nope', path: '/api' }, expected: up('base', 'api', 'base', 'header', 0, 'unknown-env') },
  { desc: 'unknown baggage env → base with fallback unknown-env', request: { host: 'shop.localhost', baggage: `${H}=nope`, path: '/api' }, expected: up('base', 'api', 'base', 'baggage', 0, 'unknown-env') },
  { desc: 'malformed percent-encoding in baggage is kept as is → unknown-env fallback', request: { baggage: `${H}=feat%E0%A4%A`, path: '/api' }, expected: up('base', 'api', 'base', 'baggage', 0, 'unknown-env') },
  { desc: 'unknown header env with a strip-prefix service keeps stripLength', request: { header: 'nope', path: '/api/admin/users' }, expected: up('base', 'admin', 'base', 'header', 10, 'unknown-env') },

  // --- rule 3: path → service by longest prefix on segment boundaries --------------------------
  { desc: '/ goes to web', request: { host: 'shop.localhost', path: '/' }, expected: up('base', 'web', 'base', 'default') },
  { desc: 'unprefixed deep path goes to web', request: { host: 'shop.localhost', path: '/products/42' }, expected: up('base', 'web', 'base', 'default') },
  { desc: '/api exactly goes to api', request: { host: 'shop.localhost', path: '/api' }, expected: up('base', 'api', 'base', 'default') },
  { desc: '/api/ goes to api', request: { host: 'shop.localhost', path: '/api/' }, expected: up('base', 'api', 'base', 'default') },
  { desc: 'segment boundary: /apix goes to web', request: { host: 'shop.localhost', path: '/apix' }, expected: up('base', 'web', 'base', 'default') },
  { desc: 'paths are case-sensitive: /API goes to web', request: { host: 'shop.localhost', path: '/API' }, expected: up('base', 'web', 'base', 'default') },
  { desc: 'query string boundary: /api?x=1 goes to api', request: { host: 'shop.localhost', path: '/api?x=1' }, expected: up('base', 'api', 'base', 'default') },
  { desc: 'longest prefix: /api/admin goes to admin, stripping 10', request: { host: 'shop.localhost', path: '/api/admin' }, expected: up('base', 'admin', 'base', 'default', 10) },
  { desc: 'longest prefix: /api/admin/users strips 10', request: { host: 'shop.localhost', path: '/api/admin/users' }, expected: up('base', 'admin', 'base', 'default', 10) },
  { desc: 'longest prefix with query: /api/admin?x=1 strips 10', request: { host: 'shop.localhost', path: '/api/admin?x=1' }, expected: up('base', 'admin', 'base', 'default', 10) },
  { desc: 'segment boundary: /api/administrator goes to api', request: { host: 'shop.localhost', path: '/api/administrator' }, expected: up('base', 'api', 'base', 'default') },
  { desc: 'stripPrefix on a preview that runs the service', request: { host: 'demo.shop.localhost', path: '/api/admin/x' }, expected: up('demo', 'admin', 'demo', 'host', 10) },
  { desc: 'no matching prefix → no-route', table: 'noRoot', request: { host: 'api.test', path: '/' }, expected: { kind: 'no-route', env: 'main', selectedBy: 'default' } },
  { desc: 'no-route keeps the selected env', table: 'noRoot', request: { header: 'pr7', path: '/v2' }, expected: { kind: 'no-route', env: 'pr7', selectedBy: 'header' } },
  { desc: 'stripPrefix length on another table', table: 'noRoot', request: { host: 'api.test', path: '/v1/users' }, expected: up('main', 'api', 'main', 'default', 3) },
  { desc: 'public service run by no environment → no-upstream', table: 'noRoot', request: { host: 'pr7.api.test', path: '/ghost/x' }, expected: { kind: 'no-upstream', env: 'pr7', service: 'ghost' } },

  // --- rule 4: per-hop fallback -----------------------------------------------------------------
  { desc: 'preview that does not run web: web from base', request: { host: 'feat1.shop.localhost', path: '/' }, expected: up('feat1', 'web', 'base', 'host') },
  { desc: 'preview that does not run admin: admin from base, still stripped', request: { host: 'feat1.shop.localhost', path: '/api/admin' }, expected: up('feat1', 'admin', 'base', 'host', 10) },
  { desc: 'preview runs a service whose endpoints are partly not ready: still its own', request: { host: 'feat2.shop.localhost', path: '/api/x' }, expected: up('feat2', 'api', 'feat2', 'host') },
  { desc: 'header-selected preview falls back per service', request: { header: 'feat2', path: '/' }, expected: up('feat2', 'web', 'base', 'header') },

  // --- internal requests ------------------------------------------------------------------------
  { desc: 'internal without header → base', request: { internal: 'api' }, expected: up('base', 'api', 'base', 'default') },
  { desc: 'internal with header → preview instance', request: { internal: 'api', header: 'feat1' }, expected: up('feat1', 'api', 'feat1', 'header') },
  { desc: 'internal chain hop: preview does not run payments → base', request: { internal: 'payments', header: 'feat1' }, expected: up('feat1', 'payments', 'base', 'header') },
  { desc: 'internal: preview runs payments (endpoint not ready) → its own', request: { internal: 'payments', header: 'feat2' }, expected: up('feat2', 'payments', 'feat2', 'header') },
  { desc: 'internal with baggage only', request: { internal: 'api', baggage: `tenant=acme, ${H}=feat2;x=y` }, expected: up('feat2', 'api', 'feat2', 'baggage') },
  { desc: 'internal: header beats baggage', request: { internal: 'api', header: 'feat2', baggage: `${H}=feat1` }, expected: up('feat2', 'api', 'feat2', 'header') },
  { desc: 'internal: public prefixes are never stripped', request: { internal: 'admin', header: 'demo' }, expected: up('demo', 'admin', 'demo', 'header', 0) },
  { desc: 'internal with unknown header env → base, fallback', request: { internal: 'payments', header: 'nope' }, expected: up('base', 'payments', 'base', 'header', 0, 'unknown-env') },
  { desc: 'internal with empty header → base (default)', request: { internal: 'payments', header: '' }, expected: up('base', 'payments', 'base', 'default') },
  { desc: 'internal unknown service → no-route', request: { internal: 'nope' }, expected: { kind: 'no-route', env: 'base', selectedBy: 'default' } },
  { desc: 'internal unknown service keeps the header env', request: { internal: 'nope', header: 'feat1' }, expected: { kind: 'no-route', env: 'feat1', selectedBy: 'header' } },
  { desc: 'internal: baggage member named by this table\'s routing header', table: 'noRoot', request: { internal: 'worker', baggage: 'x-env=pr7' }, expected: up('pr7', 'worker', 'pr7', 'baggage') },
  // sites: deploys fall back to base like services; host labels pin a target
  { desc: 'site at / in base', table: 'sites', request: { host: 'shop.localhost', path: '/index.html' }, expected: { kind: 'site', env: 'base', service: 'www', upstreamEnv: 'base', selectedBy: 'default', stripLength: 0 } },
  { desc: 'site prefix is stripped', table: 'sites', request: { host: 'shop.localhost', path: '/docs/a.html' }, expected: { kind: 'site', env: 'base', service: 'docs', upstreamEnv: 'base', selectedBy: 'default', stripLength: 5 } },
  { desc: 'preview with its own deploy serves it', table: 'sites', request: { host: 'feat1.shop.localhost', path: '/docs/' }, expected: { kind: 'site', env: 'feat1', service: 'docs', upstreamEnv: 'feat1', selectedBy: 'host', stripLength: 5 } },
  { desc: 'preview without a deploy falls back to base\'s', table: 'sites', request: { host: 'feat2.shop.localhost', path: '/docs/x' }, expected: { kind: 'site', env: 'feat2', service: 'docs', upstreamEnv: 'base', selectedBy: 'host', stripLength: 5 } },
  { desc: 'header selects the preview deploy of a site', table: 'sites', request: { host: 'shop.localhost', header: 'feat1', path: '/docs' }, expected: { kind: 'site', env: 'feat1', service: 'docs', upstreamEnv: 'feat1', selectedBy: 'header', stripLength: 5 } },
  { desc: 'service beside sites keeps the service rules', table: 'sites', request: { host: 'feat2.shop.localhost', path: '/app/x' }, expected: up('feat2', 'app', 'feat2', 'host') },
  { desc: 'host label pins the site in base', table: 'sites', request: { host: 'docs.shop.localhost', path: '/anything' }, expected: { kind: 'site', env: 'base', service: 'docs', upstreamEnv: 'base', selectedBy: 'default', stripLength: 0 } },
  { desc: 'host label with a header picks the preview deploy', table: 'sites', request: { host: 'docs.shop.localhost', header: 'feat1', path: '/' }, expected: { kind: 'site', env: 'feat1', service: 'docs', upstreamEnv: 'feat1', selectedBy: 'header', stripLength: 0 } },
  { desc: '<env>--<label> pins the site in a preview', table: 'sites', request: { host: 'feat1--docs.shop.localhost', path: '/' }, expected: { kind: 'site', env: 'feat1', service: 'docs', upstreamEnv: 'feat1', selectedBy: 'host', stripLength: 0 } },
  { desc: '<env>--<label> falls back to base\'s deploy', table: 'sites', request: { host: 'feat2--docs.shop.localhost', path: '/' }, expected: { kind: 'site', env: 'feat2', service: 'docs', upstreamEnv: 'base', selectedBy: 'host', stripLength: 0 } },
  { desc: '<env>--<label> with an unknown env → unknown-env', table: 'sites', request: { host: 'nope--docs.shop.localhost', path: '/' }, expected: { kind: 'unknown-env', env: 'nope' } },
  { desc: '<env>--<label> with an unknown label → no-route', table: 'sites', request: { host: 'feat1--nope.shop.localhost', path: '/' }, expected: { kind: 'no-route', env: 'feat1', selectedBy: 'host' } },
  { desc: 'internal: another table\'s header name in baggage is ignored', table: 'noRoot', request: { internal: 'worker', baggage: `${H}=pr7` }, expected: { kind: 'no-upstream', env: 'main', service: 'worker' } },
];

// ---------------------------------------------------------------------------------------------
// Runner
// ---------------------------------------------------------------------------------------------

/** Resolves one case; `table` is the fixture the case names (the live proxy loads it first). */
export type ResolveFn = (table: RouteTable, request: CaseRequest, tableName: FixtureName) => PlainDecision | Promise<PlainDecision>;

/**
 * Registers one vitest test per case under `describe(name)`. `filter` lets a resolver skip
 * cases it cannot express (say, a live proxy without a no-Host request).
 */
export function runRoutingCases(name: string, resolve: ResolveFn, options: { filter?: (c: RoutingCase) => boolean } = {}): void {
  const cases = options.filter ? routingCases.filter(options.filter) : routingCases;
  describe(name, () => {
    test.each(cases.map((c) => [c.desc, c] as const))('%s', async (_desc, c) => {
      const tableName = c.table ?? 'shop';
      const got = await resolve(fixtures[tableName], c.request, tableName);
      expect(got).toStrictEqual(c.expected);
    });
  });
}
