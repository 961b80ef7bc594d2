/**
 * @module routing/compile
 * `compileSnapshot(table) → Snapshot`: everything that can be decided before a request arrives
 * is decided here (prefix order, host maps, per-environment upstream arrays), so resolution is a
 * few map lookups. Pure; the result is deep-frozen.
 *
 * Steps:
 * 1. Index services; sort public prefixes longest first.
 * 2. Build each environment's upstream array (indexed by service), ready endpoints only.
 * 3. Index environments by name and by exact custom host.
 *
 * Upstream objects are reused from `previous` when their content is unchanged, so a snapshot
 * swap keeps identity (and the router keeps its per-upstream state) for everything that did not change.
 */
import type {
  CompiledEnvironment, CompiledPrefix, CompiledService, EndpointRoute, RouteTable, Snapshot, Upstream,
} from './types.js';

/** Thrown (as a plain Error with `code`) when the table has no base environment. */
export const NO_BASE = 'SWY_ROUTE_NO_BASE';

export function compileSnapshot(table: RouteTable, previous?: Snapshot): Snapshot {
  const services: CompiledService[] = table.services.map((s, index) => Object.freeze({ index, name: s.name, stripPrefix: s.stripPrefix }));
  const serviceByName = new Map(services.map((s) => [s.name, s]));
  const prefixes: CompiledPrefix[] = [];
  table.services.forEach((s, i) => {
    for (const p of s.public) prefixes.push(Object.freeze({ prefix: p, service: services[i]! }));
  });
  prefixes.sort((a, b) => b.prefix.length - a.prefix.length || (a.prefix < b.prefix ? -1 : 1));

  const environments = new Map<string, CompiledEnvironment>();
  const hosts = new Map<string, CompiledEnvironment>();
  let base: CompiledEnvironment | undefined;
  for (const e of table.environments) {
    const prevEnv = previous?.environments.get(e.name);
    const upstreams: (Upstream | undefined)[] = new Array(services.length).fill(undefined);
    for (const [svcName, eps] of Object.entries(e.services)) {
      const svc = serviceByName.get(svcName);
      if (!svc) continue; // rows for a service no longer in the spec: ignored
      const prev = prevEnv && previous!.serviceByName.get(svcName) ? prevEnv.upstreams[previous!.serviceByName.get(svcName)!.index] : undefined;
      upstreams[svc.index] = reuseOrBuild(prev, e.name, svcName, eps);
    }
    const env: CompiledEnvironment = Object.freeze({ name: e.name, kind: e.kind, upstreams: Object.freeze(upstreams) });
    environments.set(e.name, env);
    if (e.kind === 'base') base = env;
    for (const h of e.hosts) hosts.set(h.toLowerCase(), env);
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
    environments,
    hosts,
  });
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
