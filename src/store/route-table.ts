/**
 * @module store/route-table
 * Reads the route table (the routing stage's input) from the store in one consistent read:
 * the app's spec, its environments and their instances' endpoints and readiness.
 */
import type { EndpointRoute, EnvironmentRoute, RouteTable } from '../routing/index.js';
import type { AppSpec } from '../spec/index.js';
import type { Store } from './store.js';

/** An instance is routable only when its last health check passed. */
const READY_STATES = new Set(['healthy']);

export async function readRouteTable(store: Store, app: string): Promise<RouteTable> {
  const [version, spec, envs, instances] = await Promise.all([
    store.version(), store.getAppSpec<AppSpec>(app), store.listEnvironments(app), store.listInstances(app),
  ]);
  if (!spec) throw new Error(`app "${app}" is not in the store`);
  const byEnvService = new Map<string, EndpointRoute[]>();
  for (const i of instances) {
    const key = `${i.env}\u0000${i.service}`;
    let list = byEnvService.get(key);
    if (!list) byEnvService.set(key, (list = []));
    list.push({ id: `${i.env}/${i.service}/${i.replica}`, host: i.host, port: i.port, ready: READY_STATES.has(i.state) });
  }
  const serviceNames = Object.keys(spec.services).sort(); // jsonb does not keep key order: sort for a stable table
  const environments: EnvironmentRoute[] = envs.map((e) => {
    const runs = e.kind === 'base' ? serviceNames : Object.keys(e.overrides.services ?? {}).filter((s) => s in spec.services);
    return {
      name: e.name, kind: e.kind, hosts: e.hosts,
      services: Object.fromEntries(runs.map((s) => [s, byEnvService.get(`${e.name}\u0000${s}`) ?? []])),
    };
  });
  return {
    version,
    domain: spec.domain,
    routingHeader: spec.routingHeader,
    services: serviceNames.map((name) => ({ name, public: spec.services[name]!.public, stripPrefix: spec.services[name]!.stripPrefix })),
    environments,
  };
}
