/**
 * @module routing/reference
 * A deliberately naive resolver that reads the {@link RouteTable} directly with linear scans.
 * It is the executable statement of the routing rules: the conformance table
 * (`test/routing/resolve.cases.ts`) runs against it and against the compiled resolver, and
 * both must agree. Not for production use: O(environments × services) per request.
 */
import type { EnvironmentRoute, RouteTable } from './types.js';

/** Comparable outcome shared by every resolver under test. */
export interface PlainDecision {
  kind: 'upstream' | 'site' | 'unknown-env' | 'no-route' | 'no-upstream';
  /** Environment the request belongs to (or the unknown name for `unknown-env`). */
  env: string;
  service?: string;
  /** Whose instances serve it: the env itself, or `base` on fallback. */
  upstreamEnv?: string;
  selectedBy?: 'host' | 'header' | 'baggage' | 'default';
  fallback?: 'unknown-env';
  stripLength?: number;
}

export function referenceResolveEdge(t: RouteTable, host: string | undefined, header: string | undefined, baggage: string | undefined, path: string): PlainDecision {
  const base = t.environments.find((e) => e.kind === 'base')!;
  let env: EnvironmentRoute | undefined;
  let selectedBy: PlainDecision['selectedBy'] = 'default';
  let fallback: PlainDecision['fallback'];
  let pinned: string | undefined;
  if (host) {
    let h = host.toLowerCase();
    if (!h.startsWith('[')) h = h.split(':')[0]!;
    if (h.endsWith('.')) h = h.slice(0, -1);
    env = t.environments.find((e) => e.hosts.some((x) => x.toLowerCase() === h));
    if (env) selectedBy = 'host';
    else if (h.endsWith('.' + t.domain) && h !== '.' + t.domain) {
      const label = h.slice(0, -(t.domain.length + 1));
      if (!label.includes('.')) {
        const labelOwner = (l: string) => t.services.find((s) => s.host === l)?.name;
        if (label.includes('--')) {
          const [envName, rest] = [label.slice(0, label.indexOf('--')), label.slice(label.indexOf('--') + 2)];
          env = t.environments.find((e) => e.name === envName);
          if (!env) return { kind: 'unknown-env', env: envName };
          pinned = labelOwner(rest);
          if (!pinned) return { kind: 'no-route', env: env.name, selectedBy: 'host' };
          selectedBy = 'host';
        } else if (labelOwner(label)) {
          pinned = labelOwner(label);
        } else {
          env = t.environments.find((e) => e.name === label);
          if (!env) return { kind: 'unknown-env', env: label };
          selectedBy = 'host';
        }
      }
    }
  }
  if (!env) {
    const sel = referenceSelect(t, base, header, baggage);
    env = sel.env; selectedBy = sel.by; fallback = sel.fallback;
  }
  if (pinned) return finish(t, env, base, pinned, selectedBy, fallback, 0);
  let best: { prefix: string; service: string; strip: boolean } | undefined;
  for (const s of t.services) {
    for (const p of s.public) {
      const matches = p === '/' || path === p || path.startsWith(p + '/') || path.startsWith(p + '?');
      if (matches && (!best || p.length > best.prefix.length)) best = { prefix: p, service: s.name, strip: s.stripPrefix };
    }
  }
  if (!best) return { kind: 'no-route', env: env.name, selectedBy };
  return finish(t, env, base, best.service, selectedBy, fallback, best.strip && best.prefix !== '/' ? best.prefix.length : 0);
}

export function referenceResolveInternal(t: RouteTable, service: string, header: string | undefined, baggage: string | undefined): PlainDecision {
  const base = t.environments.find((e) => e.kind === 'base')!;
  const sel = referenceSelect(t, base, header, baggage);
  if (!t.services.some((s) => s.name === service)) return { kind: 'no-route', env: sel.env.name, selectedBy: sel.by };
  return finish(t, sel.env, base, service, sel.by, sel.fallback, 0);
}

function finish(t: RouteTable, env: EnvironmentRoute, base: EnvironmentRoute, service: string, selectedBy: PlainDecision['selectedBy'], fallback: PlainDecision['fallback'], stripLength: number): PlainDecision {
  if (t.services.find((s) => s.name === service)?.kind === 'site') {
    const has = (e: EnvironmentRoute) => e.sites?.[service] !== undefined && t.deploys?.[e.sites[service]!] !== undefined;
    const siteOwner = has(env) ? env : has(base) ? base : undefined;
    if (!siteOwner) return { kind: 'no-upstream', env: env.name, service };
    return { kind: 'site', env: env.name, service, upstreamEnv: siteOwner.name, selectedBy, ...(fallback ? { fallback } : {}), stripLength };
  }
  const owner = env.services[service] ? env : base.services[service] ? base : undefined;
  if (!owner) return { kind: 'no-upstream', env: env.name, service };
  return { kind: 'upstream', env: env.name, service, upstreamEnv: owner.name, selectedBy, ...(fallback ? { fallback } : {}), stripLength };
}

function referenceSelect(t: RouteTable, base: EnvironmentRoute, header: string | undefined, baggage: string | undefined) {
  let name: string | undefined;
  let by: PlainDecision['selectedBy'] = 'header';
  if (header) name = header.trim().toLowerCase();
  else if (baggage) {
    by = 'baggage';
    for (const member of baggage.split(',')) {
      const [kv] = member.split(';');
      const eq = kv!.indexOf('=');
      if (eq > 0 && kv!.slice(0, eq).trim() === t.routingHeader) { name = safeDecode(kv!.slice(eq + 1).trim()).toLowerCase(); break; }
    }
  }
  if (!name) return { env: base, by: 'default' as const, fallback: undefined };
  const env = t.environments.find((e) => e.name === name);
  if (!env) return { env: base, by, fallback: 'unknown-env' as const };
  return { env, by, fallback: undefined };
}

/** Malformed percent-encoding is kept as received (never throws). */
function safeDecode(v: string): string {
  try { return decodeURIComponent(v); } catch { return v; }
}
