/**
 * @module routing/compile
 * `compileSnapshot(table) → Snapshot` and `applyDelta(snapshot, delta) → Snapshot`: everything
 * that can be decided before a request arrives is decided here (prefix order, host maps,
 * per-environment upstream arrays), so resolution is a few map lookups. Pure; results are frozen.
 *
 * Full compile:
 * 1. Index services; sort public prefixes longest first.
 * 2. Build each environment's upstream array (indexed by service), ready endpoints only.
 * 3. Index environments by name ({@link EnvIndex}) and by exact custom host.
 *
 * Delta: only the changed environments are compiled; the index and every unchanged environment
 * are shared with the previous snapshot, so a change costs O(changed), not O(environments).
 * Upstream objects are reused when their content is unchanged, so the router keeps its
 * per-upstream state across swaps.
 */
import { EnvIndex } from './env-index.js';
import type {
  CompiledEnvironment, CompiledPrefix, CompiledService, DeployRoute, EndpointRoute, EnvironmentRoute, RouteDelta, RouteTable, Snapshot, Upstream,
} from './types.js';

/** Code of the error thrown when a table has no base environment. */
export const NO_BASE = 'SWY_ROUTE_NO_BASE';

export function compileSnapshot(table: RouteTable, previous?: Snapshot): Snapshot {
  const services: CompiledService[] = table.services.map((s, index) => Object.freeze({
    index, name: s.name, stripPrefix: s.stripPrefix, kind: s.kind ?? 'service', spa: s.spa ?? false, notFound: s.notFound,
    timeouts: s.timeouts ? Object.freeze({ ...s.timeouts }) : undefined, retries: s.retries ? Object.freeze({ ...s.retries }) : undefined,
    protocol: s.protocol === 'h2c' ? 'h2c' as const : undefined,
  }));
  const hostLabels = new Map<string, CompiledService>();
  table.services.forEach((s, i) => { if (s.host) hostLabels.set(s.host, services[i]!); });
  const serviceByName = new Map(services.map((s) => [s.name, s]));
  const prefixes: CompiledPrefix[] = [];
  table.services.forEach((s, i) => {
    for (const p of s.public) prefixes.push(Object.freeze({ prefix: p, service: services[i]! }));
  });
  prefixes.sort((a, b) => b.prefix.length - a.prefix.length || (a.prefix < b.prefix ? -1 : 1));

  const compiled: CompiledEnvironment[] = [];
  let base: CompiledEnvironment | undefined;
  for (const e of table.environments) {
    const env = compileEnvironment(e, services, serviceByName, previous, table.deploys);
    compiled.push(env);
    if (e.kind === 'base') base = env;
  }
  if (!base) throw Object.assign(new Error('route table has no base environment'), { code: NO_BASE });
  return Object.freeze({
    version: table.version,
    domain: table.domain,
    domainSuffix: '.' + table.domain,
    routingHeader: table.routingHeader,
    services: Object.freeze(services),
    serviceByName,
    prefixes: Object.freeze(prefixes),
    base,
    environments: EnvIndex.from(compiled),
    hosts: hostIndex(compiled),
    hostLabels,
  });
}

/**
 * Applies a delta to a snapshot, sharing everything unchanged.
 * @throws Error with code `SWY_ROUTE_NO_BASE` when the delta removes base.
 */
export function applyDelta(prev: Snapshot, delta: RouteDelta): Snapshot {
  if (delta.version <= prev.version) return prev;
  const upserts = delta.upserts.map((e) => compileEnvironment(e, prev.services, prev.serviceByName, prev, delta.deploys));
  if (delta.removals.includes(prev.base.name)) throw Object.assign(new Error('delta removes the base environment'), { code: NO_BASE });
  const base = upserts.find((e) => e.kind === 'base') ?? prev.base;
  const environments = prev.environments.with(upserts, delta.removals);
  // Custom hosts are few: rebuild their map only when a changed environment has or had some.
  const touchesHosts = upserts.some((e) => e.hosts.length > 0 || (prev.environments.get(e.name)?.hosts.length ?? 0) > 0)
    || delta.removals.some((n) => (prev.environments.get(n)?.hosts.length ?? 0) > 0);
  return Object.freeze({
    ...prev,
    version: delta.version,
    base,
    environments,
    hosts: touchesHosts ? hostIndex(environments.values()) : prev.hosts,
  });
}

function compileEnvironment(e: EnvironmentRoute, services: readonly CompiledService[], serviceByName: ReadonlyMap<string, CompiledService>, previous: Snapshot | undefined, deploys: RouteTable['deploys']): CompiledEnvironment {
  const prevEnv = previous?.environments.get(e.name);
  const ownDeploys: (DeployRoute | undefined)[] = new Array(services.length).fill(undefined);
  for (const [site, id] of Object.entries(e.sites ?? {})) {
    const svc = serviceByName.get(site);
    if (!svc || svc.kind !== 'site') continue;
    // Reuse the previous object for the same deploy id (deploys are immutable).
    const prevDeploy = prevEnv?.deploys[svc.index];
    ownDeploys[svc.index] = prevDeploy?.id === id ? prevDeploy : deploys?.[id] ? Object.freeze(deploys[id]) : undefined;
  }
  const upstreams: (Upstream | undefined)[] = new Array(services.length).fill(undefined);
  for (const [svcName, eps] of Object.entries(e.services)) {
    const svc = serviceByName.get(svcName);
    if (!svc) continue; // rows for a service no longer in the spec: ignored
    const prevSvc = previous?.serviceByName.get(svcName);
    const prev = prevEnv && prevSvc ? prevEnv.upstreams[prevSvc.index] : undefined;
    upstreams[svc.index] = reuseOrBuild(prev, e.name, svcName, eps);
  }
  const access = e.access && Object.keys(e.access).length > 0 ? e.access : undefined;
  return Object.freeze({
    name: e.name, kind: e.kind, hosts: Object.freeze(e.hosts.map((h) => h.toLowerCase())), upstreams: Object.freeze(upstreams), deploys: Object.freeze(ownDeploys),
    ...(access ? { access, accessKey: JSON.stringify(access) } : {}),
  });
}

function hostIndex(envs: Iterable<CompiledEnvironment>): Map<string, CompiledEnvironment> {
  const hosts = new Map<string, CompiledEnvironment>();
  for (const env of envs) for (const h of env.hosts) hosts.set(h, env);
  return hosts;
}

function reuseOrBuild(prev: Upstream | undefined, env: string, service: string, eps: readonly EndpointRoute[]): Upstream {
  const ready = eps.filter((e) => e.ready);
  if (prev && prev.total === eps.length && prev.endpoints.length === ready.length && prev.endpoints.every((p, i) => sameEndpoint(p, ready[i]!))) {
    return prev;
  }
  return Object.freeze({ key: `${env}/${service}`, env, service, endpoints: Object.freeze(ready.map((e) => Object.freeze({ ...e }))), total: eps.length });
}

function sameEndpoint(a: EndpointRoute, b: EndpointRoute): boolean {
  return a.id === b.id && a.host === b.host && a.port === b.port && a.ready === b.ready;
}
