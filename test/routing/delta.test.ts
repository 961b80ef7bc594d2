// applyDelta must be indistinguishable from a full compile of the same final table, while
// sharing unchanged structure with its predecessor.
import { describe, expect, it } from 'vitest';
import { applyDelta, compileSnapshot, EnvIndex, resolveEdge, type EnvironmentRoute, type RouteTable, type Snapshot } from '../../src/routing/index.js';

const services = [{ name: 'web', public: ['/'], stripPrefix: false }, { name: 'api', public: ['/api'], stripPrefix: false }];
const ep = (env: string, svc: string, port: number, ready = true) => ({ id: `${env}/${svc}/0`, host: '127.0.0.1', port, ready });
const base: EnvironmentRoute = { name: 'base', kind: 'base', hosts: [], services: { web: [ep('base', 'web', 1)], api: [ep('base', 'api', 2)] } };
const preview = (name: string, port: number, hosts: string[] = []): EnvironmentRoute => ({ name, kind: 'preview', hosts, services: { api: [ep(name, 'api', port)] } });
const table = (version: number, envs: EnvironmentRoute[]): RouteTable => ({ version, domain: 'shop.localhost', routingHeader: 'x-switchyard-env', services, environments: envs });

function observe(s: Snapshot, names: string[]) {
  return names.flatMap((n) => [`${n}.shop.localhost`, 'custom.example.test'].map((host) => {
    const d = resolveEdge(s, { host, header: undefined, baggage: undefined, path: '/api/x' });
    return d.kind === 'upstream' ? `${host}→${d.env.name}:${d.upstream.env}:${d.upstream.endpoints.map((e) => e.port).join(',')}` : `${host}→${d.kind}`;
  }));
}

describe('applyDelta', () => {
  it('matches a full compile after a random sequence of changes', () => {
    let rnd = 42;
    const rand = (n: number) => { rnd = (rnd * 1103515245 + 12345) & 0x7fffffff; return rnd % n; };
    const envs = new Map<string, EnvironmentRoute>([['base', base]]);
    let snap = compileSnapshot(table(1, [...envs.values()]));
    for (let v = 2; v < 400; v++) {
      const upserts: EnvironmentRoute[] = [];
      const removals: string[] = [];
      for (let k = rand(4); k >= 0; k--) {
        const name = `p${rand(60)}`;
        if (rand(3) === 0 && envs.has(name)) { envs.delete(name); removals.push(name); }
        else { const e = preview(name, 1000 + rand(50), rand(10) === 0 ? ['custom.example.test'] : []); envs.set(name, e); upserts.push(e); }
      }
      // one change per name per delta, as the store produces
      const last = new Map(upserts.map((e) => [e.name, e]));
      const dedupUpserts = [...last.values()].filter((e) => envs.get(e.name) === e);
      const dedupRemovals = [...new Set(removals)].filter((n) => !envs.has(n));
      snap = applyDelta(snap, { version: v, upserts: dedupUpserts, removals: dedupRemovals });
      const full = compileSnapshot(table(v, [...envs.values()]));
      const names = Array.from({ length: 60 }, (_, i) => `p${i}`);
      expect(observe(snap, names)).toEqual(observe(full, names));
      expect(snap.environments.size).toBe(full.environments.size);
    }
  });

  it('shares unchanged environments and upstreams with the previous snapshot', () => {
    const a = compileSnapshot(table(1, [base, preview('feat1', 10), preview('feat2', 11)]));
    const b = applyDelta(a, { version: 2, upserts: [preview('feat3', 12)], removals: [] });
    expect(b.environments.get('feat1')).toBe(a.environments.get('feat1'));
    expect(b.base).toBe(a.base);
    expect(b.hosts).toBe(a.hosts);
    expect(a.environments.get('feat3')).toBeUndefined();
    expect(b.environments.get('feat3')?.name).toBe('feat3');
    const c = applyDelta(b, { version: 3, upserts: [], removals: ['feat1'] });
    expect(c.environments.get('feat1')).toBeUndefined();
    expect(b.environments.get('feat1')).toBeDefined();
  });

  it('ignores stale deltas and refuses to remove base', () => {
    const a = compileSnapshot(table(5, [base]));
    expect(applyDelta(a, { version: 5, upserts: [preview('x', 1)], removals: [] })).toBe(a);
    expect(() => applyDelta(a, { version: 6, upserts: [], removals: ['base'] })).toThrow(expect.objectContaining({ code: 'SWY_ROUTE_NO_BASE' }));
  });
});

describe('EnvIndex', () => {
  const env = (name: string) => Object.freeze({ name, kind: 'preview' as const, hosts: [], upstreams: [], deploys: [] });
  it('folds the overlay into a new base past its bound, keeping contents', () => {
    let idx = EnvIndex.from([env('base')]);
    for (let i = 0; i < 3000; i++) idx = idx.with([env(`e${i}`)], i % 3 === 0 && i > 0 ? [`e${i - 1}`] : []);
    expect(idx.overlaySize).toBeLessThanOrEqual(1024);
    expect(idx.size).toBe([...idx.values()].length);
    expect(idx.get('e2999')?.name).toBe('e2999');
    expect(idx.get('e2')).toBeUndefined();
    expect(idx.has('e3')).toBe(true);
  });
});
