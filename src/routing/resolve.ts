/**
 * @module routing/resolve
 * The routing rules (DESIGN.md "Routing rules"), evaluated against a compiled snapshot:
 * 1. Host → environment: exact custom host; else `<env>.<domain>`; else `<domain>` (or any
 *    other host) is base. An unknown `<env>` label in the host is `unknown-env` (404).
 * 2. If the host named no preview: the routing header, else its `baggage` member, may select
 *    one; an unknown name routes to base with `fallback: 'unknown-env'`.
 * 3. Path → service by longest public prefix, on segment boundaries.
 * 4. Upstream: the environment's own instances if it runs the service, else base's.
 * O(1) in the number of environments; allocates only the decision object.
 */
import { baggageMember, normaliseHost } from './host.js';
import type { CompiledEnvironment, CompiledService, EdgeRequest, InternalRequest, RouteDecision, Selection, Snapshot } from './types.js';

/** Resolves an edge request. Called per request; must not allocate beyond the result. */
// HOT PATH — change with care.
export function resolveEdge(snap: Snapshot, req: EdgeRequest): RouteDecision {
  let env: CompiledEnvironment | undefined;
  let selectedBy: Selection = 'default';
  let fallback: 'unknown-env' | undefined;
  let unknownName: string | undefined;
  let pinned: CompiledService | undefined;

  if (req.host !== undefined && req.host.length > 0) {
    const host = normaliseHost(req.host);
    env = snap.hosts.get(host);
    if (env !== undefined) selectedBy = 'host';
    else if (host.length > snap.domainSuffix.length && host.endsWith(snap.domainSuffix)) {
      const label = host.slice(0, host.length - snap.domainSuffix.length);
      if (label.indexOf('.') === -1) {
        const dashes = label.indexOf('--');
        if (dashes !== -1) {
          // <env>--<label>: a host-owning target in a preview.
          env = snap.environments.get(label.slice(0, dashes));
          if (env === undefined) return { kind: 'unknown-env', name: label.slice(0, dashes) };
          pinned = snap.hostLabels.get(label.slice(dashes + 2));
          if (pinned === undefined) return { kind: 'no-route', env, selectedBy: 'host' };
          selectedBy = 'host';
        } else if ((pinned = snap.hostLabels.get(label)) !== undefined) {
          // <label>: a host-owning target; the environment may still come from header/baggage.
        } else {
          env = snap.environments.get(label);
          if (env === undefined) return { kind: 'unknown-env', name: label };
          selectedBy = 'host';
        }
      }
    }
  }
  if (env === undefined) {
    // The host named no environment: header, then baggage.
    const r = selectByHeader(snap, req.header, req.baggage);
    env = r.env; selectedBy = r.by; fallback = r.fallback; unknownName = r.unknown;
  }

  if (pinned !== undefined) return target(snap, env, selectedBy, fallback, unknownName, pinned, 0);
  const prefixes = snap.prefixes;
  const path = req.path;
  for (let i = 0; i < prefixes.length; i++) {
    const p = prefixes[i]!;
    const pre = p.prefix;
    if (pre === '/' || (path.startsWith(pre) && (path.length === pre.length || path.charCodeAt(pre.length) === 47 /* / */ || path.charCodeAt(pre.length) === 63 /* ? */))) {
      const svc = p.service;
      return target(snap, env, selectedBy, fallback, unknownName, svc, svc.stripPrefix && pre !== '/' ? pre.length : 0);
    }
  }
  return { kind: 'no-route', env, selectedBy };
}

/** Rule 4 for services and sites: the environment's own, else base's. */
function target(snap: Snapshot, env: CompiledEnvironment, selectedBy: Selection, fallback: 'unknown-env' | undefined, unknownName: string | undefined, svc: CompiledService, stripLength: number): RouteDecision {
  if (svc.kind === 'site') {
    const deploy = env.deploys[svc.index] ?? snap.base.deploys[svc.index];
    if (deploy === undefined) return { kind: 'no-upstream', env, service: svc };
    return { kind: 'site', env, selectedBy, fallback, unknownName, service: svc, deploy, stripLength };
  }
  const upstream = env.upstreams[svc.index] ?? snap.base.upstreams[svc.index];
  if (upstream === undefined) return { kind: 'no-upstream', env, service: svc };
  return { kind: 'upstream', env, selectedBy, fallback, unknownName, service: svc, upstream, stripLength };
}

/** Resolves a request on a service's internal listener: env from header/baggage, then rule 4. */
// HOT PATH — change with care.
export function resolveInternal(snap: Snapshot, req: InternalRequest): RouteDecision {
  const svc = snap.serviceByName.get(req.service);
  const r = selectByHeader(snap, req.header, req.baggage);
  if (svc === undefined) return { kind: 'no-route', env: r.env, selectedBy: r.by };
  const upstream = r.env.upstreams[svc.index] ?? snap.base.upstreams[svc.index];
  if (upstream === undefined) return { kind: 'no-upstream', env: r.env, service: svc };
  return { kind: 'upstream', env: r.env, selectedBy: r.by, fallback: r.fallback, unknownName: r.unknown, service: svc, upstream, stripLength: 0 };
}

interface HeaderSelection { env: CompiledEnvironment; by: Selection; fallback: 'unknown-env' | undefined; unknown: string | undefined }
const BASE_DEFAULT = new WeakMap<Snapshot, HeaderSelection>();

function selectByHeader(snap: Snapshot, header: string | undefined, baggage: string | undefined): HeaderSelection {
  let name: string | undefined;
  let by: Selection = 'header';
  if (header !== undefined && header.length > 0) name = header.trim().toLowerCase();
  else if (baggage !== undefined && baggage.length > 0) {
    name = baggageMember(baggage, snap.routingHeader);
    if (name !== undefined) name = name.toLowerCase();
    by = 'baggage';
  }
  if (name === undefined || name.length === 0) return baseDefault(snap);
  const env = snap.environments.get(name);
  if (env === undefined) return { env: snap.base, by, fallback: 'unknown-env', unknown: name };
  return { env, by, fallback: undefined, unknown: undefined };
}

// The no-header case is the most common one: reuse a frozen selection per snapshot.
function baseDefault(snap: Snapshot): HeaderSelection {
  let s = BASE_DEFAULT.get(snap);
  if (s === undefined) {
    s = Object.freeze({ env: snap.base, by: 'default' as Selection, fallback: undefined, unknown: undefined });
    BASE_DEFAULT.set(snap, s);
  }
  return s;
}
