import { describe, expect, test } from 'vitest';
import { compileSnapshot, NO_BASE } from '../../src/routing/compile.js';
import type { EndpointRoute, EnvironmentRoute, RouteTable, Snapshot, Upstream } from '../../src/routing/types.js';

const ep = (id: string, port: number, ready = true): EndpointRoute => ({ id, host: '127.0.0.1', port, ready });

function table(overrides: Partial<RouteTable> = {}, envs?: EnvironmentRoute[]): RouteTable {
  return {
    version: 1,
    domain: 'shop.localhost',
    routingHeader: 'x-switchyard-env',
    services: [
      { name: 'web', public: ['/'], stripPrefix: false },
      { name: 'api', public: ['/api', '/v2/api'], stripPrefix: false },
      { name: 'payments', public: [], stripPrefix: false },
      { name: 'admin', public: ['/api/admin'], stripPrefix: true },
    ],
    environments: envs ?? [
      {
        name: 'base', kind: 'base', hosts: [],
        services: {
          web: [ep('base/web/0', 5000)],
          api: [ep('base/api/0', 5001), ep('base/api/1', 5002, false), ep('base/api/2', 5003)],
          payments: [ep('base/payments/0', 5004)],
          admin: [ep('base/admin/0', 5005)],
        },
      },
      { name: 'feat1', kind: 'preview', hosts: ['Feat1.Example.Test'], services: { api: [ep('feat1/api/0', 6000)] } },
      { name: 'feat2', kind: 'preview', hosts: [], services: { api: [ep('feat2/api/0', 6100, false)], payments: [ep('feat2/payments/0', 6101)] } },
    ],
    ...overrides,
  };
}

function upstream(s: Snapshot, env: string, service: string): Upstream | undefined {
  return s.environments.get(env)!.upstreams[s.serviceByName.get(service)!.index];
}

describe('compileSnapshot: shape', () => {
  const snap = compileSnapshot(table());

  test('copies version, domain, header; precomputes the domain suffix', () => {
    expect(snap.version).toBe(1);
    expect(snap.domain).toBe('shop.localhost');
    expect(snap.domainSuffix).toBe('.shop.localhost');
    expect(snap.routingHeader).toBe('x-switchyard-env');
  });

  test('services are indexed in table order', () => {
    expect(snap.services.map((s) => [s.index, s.name, s.stripPrefix])).toEqual([
      [0, 'web', false], [1, 'api', false], [2, 'payments', false], [3, 'admin', true],
    ]);
    expect(snap.serviceByName.get('admin')).toBe(snap.services[3]);
  });

  test('prefixes are sorted longest first; internal-only services have none', () => {
    expect(snap.prefixes.map((p) => [p.prefix, p.service.name])).toEqual([
      ['/api/admin', 'admin'], ['/v2/api', 'api'], ['/api', 'api'], ['/', 'web'],
    ]);
    expect(snap.prefixes.every((p) => p.service === snap.serviceByName.get(p.service.name))).toBe(true);
  });

  test('base and environments; custom hosts are indexed lower-cased', () => {
    expect(snap.base.name).toBe('base');
    expect(snap.base.kind).toBe('base');
    expect(snap.environments.get('base')).toBe(snap.base);
    expect([...snap.environments.values()].map((e) => e.name)).toEqual(['base', 'feat1', 'feat2']);
    expect([...snap.hosts.keys()]).toEqual(['feat1.example.test']);
    expect(snap.hosts.get('feat1.example.test')).toBe(snap.environments.get('feat1'));
  });

  test('an environment has an upstream only for the services it runs', () => {
    const feat1 = snap.environments.get('feat1')!;
    expect(feat1.upstreams).toHaveLength(4);
    expect(feat1.upstreams.map((u) => u?.key)).toEqual([undefined, 'feat1/api', undefined, undefined]);
    expect(snap.base.upstreams.map((u) => u?.key)).toEqual(['base/web', 'base/api', 'base/payments', 'base/admin']);
  });

  test('rows for a service that is no longer in the table are ignored', () => {
    const s = compileSnapshot(table({}, [
      { name: 'base', kind: 'base', hosts: [], services: { web: [ep('base/web/0', 1)], gone: [ep('base/gone/0', 2)] } },
    ]));
    expect(s.base.upstreams.map((u) => u?.key)).toEqual(['base/web', undefined, undefined, undefined]);
  });
});

describe('compileSnapshot: ready filtering', () => {
  const snap = compileSnapshot(table());

  test('only ready endpoints are routed; total counts all', () => {
    const api = upstream(snap, 'base', 'api')!;
    expect(api.endpoints.map((e) => e.id)).toEqual(['base/api/0', 'base/api/2']);
    expect(api.total).toBe(3);
    expect(api.env).toBe('base');
    expect(api.service).toBe('api');
  });

  test('a service whose endpoints are all not ready still has an (empty) upstream', () => {
    const api = upstream(snap, 'feat2', 'api')!;
    expect(api).toBeDefined();
    expect(api.endpoints).toEqual([]);
    expect(api.total).toBe(1);
  });

  test('endpoints are copies: mutating the table later does not leak in', () => {
    const t = table();
    const s = compileSnapshot(t);
    (t.environments[0]!.services['web']![0] as { port: number }).port = 1;
    expect(upstream(s, 'base', 'web')!.endpoints[0]!.port).toBe(5000);
  });
});

describe('compileSnapshot: immutability', () => {
  const snap = compileSnapshot(table());

  test('the snapshot and its nested arrays and objects are frozen', () => {
    expect(Object.isFrozen(snap)).toBe(true);
    expect(Object.isFrozen(snap.services)).toBe(true);
    expect(snap.services.every(Object.isFrozen)).toBe(true);
    expect(Object.isFrozen(snap.prefixes)).toBe(true);
    expect(snap.prefixes.every(Object.isFrozen)).toBe(true);
    for (const env of snap.environments.values()) {
      expect(Object.isFrozen(env)).toBe(true);
      expect(Object.isFrozen(env.upstreams)).toBe(true);
      for (const u of env.upstreams) {
        if (!u) continue;
        expect(Object.isFrozen(u)).toBe(true);
        expect(Object.isFrozen(u.endpoints)).toBe(true);
        expect(u.endpoints.every(Object.isFrozen)).toBe(true);
      }
    }
  });

  test('writes throw in strict mode (ESM)', () => {
    expect(() => { (snap as { version: number }).version = 2; }).toThrow(TypeError);
    expect(() => { (snap.prefixes as unknown[]).push({}); }).toThrow(TypeError);
    const u = upstream(snap, 'base', 'api')!;
    expect(() => { (u.endpoints as unknown[]).pop(); }).toThrow(TypeError);
    expect(() => { (u.endpoints[0] as { ready: boolean }).ready = false; }).toThrow(TypeError);
  });
});

describe('compileSnapshot: identity reuse with `previous`', () => {
  test('recompiling the same table keeps every upstream object', () => {
    const a = compileSnapshot(table());
    const b = compileSnapshot(table({ version: 2 }), a);
    expect(b).not.toBe(a);
    expect(b.version).toBe(2);
    for (const env of b.environments.values()) {
      env.upstreams.forEach((u, i) => expect(u).toBe(a.environments.get(env.name)!.upstreams[i]));
    }
  });

  test('without previous, nothing is shared', () => {
    const a = compileSnapshot(table());
    const b = compileSnapshot(table());
    expect(upstream(b, 'base', 'web')).not.toBe(upstream(a, 'base', 'web'));
    expect(upstream(b, 'base', 'web')).toEqual(upstream(a, 'base', 'web'));
  });

  test('a changed upstream is rebuilt; unchanged ones keep identity', () => {
    const a = compileSnapshot(table());
    const t = table({ version: 2 });
    const envs = t.environments as EnvironmentRoute[];
    // feat2/api becomes ready; base/payments moves port; feat1/api gains a replica
    envs[2] = { ...envs[2]!, services: { ...envs[2]!.services, api: [ep('feat2/api/0', 6100, true)] } };
    envs[0] = { ...envs[0]!, services: { ...envs[0]!.services, payments: [ep('base/payments/0', 5999)] } };
    envs[1] = { ...envs[1]!, services: { api: [ep('feat1/api/0', 6000), ep('feat1/api/1', 6001)] } };
    const b = compileSnapshot(t, a);

    for (const [env, svc] of [['feat2', 'api'], ['base', 'payments'], ['feat1', 'api']] as const) {
      expect(upstream(b, env, svc), `${env}/${svc}`).not.toBe(upstream(a, env, svc));
    }
    expect(upstream(b, 'feat2', 'api')!.endpoints.map((e) => e.id)).toEqual(['feat2/api/0']);
    expect(upstream(b, 'base', 'payments')!.endpoints[0]!.port).toBe(5999);
    expect(upstream(b, 'feat1', 'api')!.endpoints).toHaveLength(2);

    for (const [env, svc] of [['base', 'web'], ['base', 'api'], ['base', 'admin'], ['feat2', 'payments']] as const) {
      expect(upstream(b, env, svc), `${env}/${svc}`).toBe(upstream(a, env, svc));
    }
  });

  test('a not-ready endpoint that becomes ready, or a ready one that stops being ready, rebuilds', () => {
    const a = compileSnapshot(table());
    const t = table();
    const envs = t.environments as EnvironmentRoute[];
    envs[0] = {
      ...envs[0]!,
      services: {
        ...envs[0]!.services,
        api: [ep('base/api/0', 5001), ep('base/api/1', 5002, true), ep('base/api/2', 5003)],
        web: [ep('base/web/0', 5000, false)],
      },
    };
    const b = compileSnapshot(t, a);
    expect(upstream(b, 'base', 'api')).not.toBe(upstream(a, 'base', 'api'));
    expect(upstream(b, 'base', 'api')!.endpoints).toHaveLength(3);
    expect(upstream(b, 'base', 'web')).not.toBe(upstream(a, 'base', 'web'));
    expect(upstream(b, 'base', 'web')!.endpoints).toHaveLength(0);
  });

  test('identity follows the service name, not its index', () => {
    const a = compileSnapshot(table());
    const t = table();
    const b = compileSnapshot({ ...t, services: [...t.services].reverse() }, a);
    expect(b.serviceByName.get('web')!.index).toBe(3);
    expect(upstream(b, 'base', 'web')).toBe(upstream(a, 'base', 'web'));
    expect(upstream(b, 'feat1', 'api')).toBe(upstream(a, 'feat1', 'api'));
  });

  test('a new environment gets new upstreams; a removed one is gone', () => {
    const a = compileSnapshot(table());
    const t = table();
    const envs = (t.environments as EnvironmentRoute[]).filter((e) => e.name !== 'feat2');
    envs.push({ name: 'feat3', kind: 'preview', hosts: [], services: { api: [ep('feat3/api/0', 7000)] } });
    const b = compileSnapshot({ ...t, environments: envs }, a);
    expect(b.environments.has('feat2')).toBe(false);
    expect(upstream(b, 'feat3', 'api')!.key).toBe('feat3/api');
  });
});

describe('compileSnapshot: errors', () => {
  test('a table without a base environment throws SWY_ROUTE_NO_BASE', () => {
    const t = table({}, [{ name: 'feat1', kind: 'preview', hosts: [], services: {} }]);
    expect(NO_BASE).toBe('SWY_ROUTE_NO_BASE');
    expect(() => compileSnapshot(t)).toThrow(expect.objectContaining({ code: 'SWY_ROUTE_NO_BASE' }));
  });

  test('an empty table throws SWY_ROUTE_NO_BASE', () => {
    let err: unknown;
    try { compileSnapshot(table({}, [])); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(Error);
    expect((err as { code?: string }).code).toBe('SWY_ROUTE_NO_BASE');
  });
});
