import { describe, expect, test } from 'vitest';
import { compileSnapshot } from '../../src/routing/compile.js';
import { referenceResolveEdge, referenceResolveInternal, type PlainDecision } from '../../src/routing/reference.js';
import { resolveEdge, resolveInternal } from '../../src/routing/resolve.js';
import type { RouteDecision, RouteTable, Snapshot } from '../../src/routing/types.js';
import { fixtures, isInternal, routingCases, runRoutingCases } from './resolve.cases.js';

/** The compiled decision in the comparable form shared by every resolver. */
function toPlain(d: RouteDecision): PlainDecision {
  switch (d.kind) {
    case 'upstream':
      return {
        kind: 'upstream',
        env: d.env.name,
        service: d.service.name,
        upstreamEnv: d.upstream.env,
        selectedBy: d.selectedBy,
        ...(d.fallback !== undefined ? { fallback: d.fallback } : {}),
        stripLength: d.stripLength,
      };
    case 'site':
      return {
        kind: 'site',
        env: d.env.name,
        service: d.service.name,
        upstreamEnv: d.env.deploys[d.service.index] === d.deploy ? d.env.name : 'base',
        selectedBy: d.selectedBy,
        ...(d.fallback !== undefined ? { fallback: d.fallback } : {}),
        stripLength: d.stripLength,
      };
    case 'unknown-env':
      return { kind: 'unknown-env', env: d.name };
    case 'no-route':
      return { kind: 'no-route', env: d.env.name, selectedBy: d.selectedBy };
    case 'no-upstream':
      return { kind: 'no-upstream', env: d.env.name, service: d.service.name };
  }
}

const snapshots = new Map<RouteTable, Snapshot>();
function snapshotOf(t: RouteTable): Snapshot {
  let s = snapshots.get(t);
  if (!s) snapshots.set(t, (s = compileSnapshot(t)));
  return s;
}

test('the conformance table is substantial and its descriptions are unique', () => {
  expect(routingCases.length).toBeGreaterThanOrEqual(40);
  expect(new Set(routingCases.map((c) => c.desc)).size).toBe(routingCases.length);
  // every kind of outcome is exercised
  expect(new Set(routingCases.map((c) => c.expected.kind))).toEqual(new Set(['upstream', 'site', 'unknown-env', 'no-route', 'no-upstream']));
});

runRoutingCases('reference resolver (RouteTable, linear scans)', (table, r) =>
  isInternal(r)
    ? referenceResolveInternal(table, r.internal, r.header, r.baggage)
    : referenceResolveEdge(table, r.host, r.header, r.baggage, r.path));

runRoutingCases('compiled resolver (Snapshot)', (table, r) => {
  const snap = snapshotOf(table);
  return toPlain(
    isInternal(r)
      ? resolveInternal(snap, { service: r.internal, header: r.header, baggage: r.baggage })
      : resolveEdge(snap, { host: r.host, header: r.header, baggage: r.baggage, path: r.path }),
  );
});

describe('compiled decision details not in PlainDecision', () => {
  const snap = compileSnapshot(fixtures.shop);

  test('unknownName carries the name the header gave; fallback is set', () => {
    const d = resolveEdge(snap, { host: 'shop.localhost', header: 'NoPe', baggage: undefined, path: '/' });
    expect(d.kind).toBe('upstream');
    if (d.kind !== 'upstream') return;
    expect(d.fallback).toBe('unknown-env');
    expect(d.unknownName).toBe('nope');
    expect(d.env).toBe(snap.base);
  });

  test('unknownName is unset when the env is known', () => {
    const d = resolveInternal(snap, { service: 'api', header: 'feat1', baggage: undefined });
    expect(d.kind === 'upstream' && d.unknownName).toBe(undefined);
    expect(d.kind === 'upstream' && d.fallback).toBe(undefined);
  });

  test('the decision points at the snapshot\'s own upstream objects', () => {
    const api = snap.serviceByName.get('api')!;
    const web = snap.serviceByName.get('web')!;
    const feat1 = snap.environments.get('feat1')!;
    const own = resolveEdge(snap, { host: 'feat1.shop.localhost', header: undefined, baggage: undefined, path: '/api' });
    const fellBack = resolveEdge(snap, { host: 'feat1.shop.localhost', header: undefined, baggage: undefined, path: '/' });
    expect(own.kind === 'upstream' && own.upstream).toBe(feat1.upstreams[api.index]);
    expect(fellBack.kind === 'upstream' && fellBack.upstream).toBe(snap.base.upstreams[web.index]);
    expect(fellBack.kind === 'upstream' && fellBack.env).toBe(feat1);
  });

  test('the upstream of a preview with no ready endpoint is empty, not base (503, not fallback)', () => {
    const d = resolveInternal(snap, { service: 'payments', header: 'feat2', baggage: undefined });
    expect(d.kind).toBe('upstream');
    if (d.kind !== 'upstream') return;
    expect(d.upstream.key).toBe('feat2/payments');
    expect(d.upstream.endpoints).toEqual([]);
    expect(d.upstream.total).toBe(1);
  });
});
