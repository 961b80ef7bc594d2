/**
 * @module store/route-table
 * Reads the routing stage's input from the store, each in one consistent view:
 * - {@link readRouteTable}: the whole table (start-up, resync after reconnect, spec change);
 * - {@link readRouteDelta}: only the environments changed since a version, from the change log.
 */
import type { DeployRoute, EndpointRoute, EnvironmentRoute, RouteDelta, RouteTable, ServiceRoute } from '../routing/index.js';
import type { AppSpec } from '../spec/index.js';
import type { Queryable } from './driver.js';
import type { Store } from './store.js';

/** An instance is routable only when its last health check passed. */
const READY_STATES = new Set(['healthy']);

interface EnvRow { name: string; kind: 'base' | 'preview'; overrides: unknown; hosts: unknown; access: unknown }
interface InstRow { env: string; service: string; replica: number; host: string; port: number; state: string }

const json = (v: unknown) => (typeof v === 'string' ? JSON.parse(v) : v);

interface SiteRow { env: string; site: string; deploy_id: string }

/** Manifests of the deploys the given site rows point at. */
async function deploysOf(q: Queryable, rows: SiteRow[]): Promise<Record<string, DeployRoute>> {
  const ids = [...new Set(rows.map((r) => r.deploy_id))];
  if (ids.length === 0) return {};
  const { rows: d } = await q.query<{ id: string; manifest: unknown }>('SELECT id, manifest FROM deploys WHERE id = ANY($1::text[])', [ids]);
  return Object.fromEntries(d.map((r) => [r.id, json(r.manifest) as DeployRoute]));
}

function toRoutes(envs: EnvRow[], instances: InstRow[], serviceNames: readonly string[], siteRows: SiteRow[] = []): EnvironmentRoute[] {
  const sitesByEnv = new Map<string, Record<string, string>>();
  for (const r of siteRows) {
    let m = sitesByEnv.get(r.env);
    if (!m) sitesByEnv.set(r.env, (m = {}));
    m[r.site] = r.deploy_id;
  }
  const byEnvService = new Map<string, EndpointRoute[]>();
  for (const i of instances) {
    const key = `${i.env}\u0000${i.service}`;
    let list = byEnvService.get(key);
    if (!list) byEnvService.set(key, (list = []));
    list.push({ id: `${i.env}/${i.service}/${i.replica}`, host: i.host, port: Number(i.port), ready: READY_STATES.has(i.state) });
  }
  const known = new Set(serviceNames);
  return envs.map((e) => {
    const overrides = json(e.overrides) as { services?: Record<string, unknown> };
    const runs = e.kind === 'base' ? serviceNames : Object.keys(overrides.services ?? {}).filter((s) => known.has(s));
    return {
      name: e.name, kind: e.kind, hosts: json(e.hosts) as string[],
      services: Object.fromEntries(runs.map((s) => [s, byEnvService.get(`${e.name}\u0000${s}`) ?? []])),
      ...(sitesByEnv.has(e.name) ? { sites: sitesByEnv.get(e.name)! } : {}),
      ...(e.access && Object.keys(json(e.access) as object).length ? { access: json(e.access) as Record<string, unknown> } : {}),
    };
  });
}

async function version(q: Queryable): Promise<{ version: number; prunedThrough: number }> {
  const { rows } = await q.query<{ version: string; pruned_through: string }>('SELECT version, pruned_through FROM store_version WHERE id = 1');
  return { version: Number(rows[0]!.version), prunedThrough: Number(rows[0]!.pruned_through) };
}

/** The whole route table of `app` at one store version. */
export async function readRouteTable(store: Store, app: string): Promise<RouteTable> {
  return store.consistentRead(async (q) => {
    const { version: v } = await version(q);
    const specRows = await q.query<{ spec: unknown }>('SELECT spec FROM apps WHERE name = $1', [app]);
    const spec = json(specRows.rows[0]?.spec) as AppSpec | undefined;
    if (!spec) throw new Error(`app "${app}" is not in the store`);
    const envs = await q.query<EnvRow>('SELECT name, kind, overrides, hosts, access FROM environments WHERE app = $1 ORDER BY name', [app]);
    const inst = await q.query<InstRow>('SELECT env, service, replica, host, port, state FROM instances WHERE app = $1 ORDER BY env, service, replica', [app]);
    const siteRows = await q.query<SiteRow>('SELECT env, site, deploy_id FROM site_deploys WHERE app = $1', [app]);
    const serviceNames = Object.keys(spec.services).sort(); // jsonb does not keep key order: sort for a stable table
    const siteNames = Object.keys(spec.sites ?? {}).sort();
    const targets: ServiceRoute[] = [
      ...serviceNames.map((name) => {
        const svc = spec.services[name]!;
        return { name, public: svc.public, stripPrefix: svc.stripPrefix, ...(svc.timeouts ? { timeouts: svc.timeouts } : {}), ...(svc.retries ? { retries: svc.retries } : {}),
          ...(svc.protocol === 'h2c' ? { protocol: 'h2c' as const } : {}) };
      }),
      ...siteNames.map((name) => {
        const site = spec.sites[name]!;
        return { name, kind: 'site' as const, public: site.public, stripPrefix: site.stripPrefix, spa: site.spa,
          ...(site.host ? { host: site.host } : {}), ...(site.notFound ? { notFound: site.notFound } : {}) };
      }),
    ];
    return {
      version: v,
      domain: spec.domain,
      routingHeader: spec.routingHeader,
      services: targets,
      environments: toRoutes(envs.rows, inst.rows, serviceNames, siteRows.rows),
      deploys: await deploysOf(q, siteRows.rows),
    };
  });
}

/**
 * The environments of `app` changed after version `since`, at one store version; `'full'` when a
 * delta cannot say (the spec changed, or the change log was pruned past `since`).
 */
export async function readRouteDelta(store: Store, app: string, since: number, serviceNames: readonly string[]): Promise<RouteDelta | 'full'> {
  return store.consistentRead(async (q) => {
    const { version: v, prunedThrough } = await version(q);
    if (since < prunedThrough) return 'full';
    const changed = await q.query<{ env: string | null }>('SELECT DISTINCT env FROM changes WHERE app = $1 AND version > $2', [app, since]);
    if (changed.rows.some((r) => r.env === null)) return 'full';
    const names = changed.rows.map((r) => r.env as string);
    if (names.length === 0) return { version: v, upserts: [], removals: [] };
    const envs = await q.query<EnvRow>('SELECT name, kind, overrides, hosts, access FROM environments WHERE app = $1 AND name = ANY($2::text[]) ORDER BY name', [app, names]);
    const inst = await q.query<InstRow>('SELECT env, service, replica, host, port, state FROM instances WHERE app = $1 AND env = ANY($2::text[]) ORDER BY env, service, replica', [app, names]);
    const siteRows = await q.query<SiteRow>('SELECT env, site, deploy_id FROM site_deploys WHERE app = $1 AND env = ANY($2::text[])', [app, names]);
    const present = new Set(envs.rows.map((e) => e.name));
    return {
      version: v, upserts: toRoutes(envs.rows, inst.rows, serviceNames, siteRows.rows), removals: names.filter((n) => !present.has(n)),
      deploys: await deploysOf(q, siteRows.rows),
    };
  });
}
