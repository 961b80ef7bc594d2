/**
 * The routing conformance table (test/routing/resolve.cases.ts), run against the LIVE proxy:
 * real upstream servers, a real Router on real ports, real HTTP requests over raw sockets.
 *
 * Every endpoint of a fixture gets its own tiny upstream that answers JSON naming itself
 * ({env, service, id, ready}) and echoing what it received: the routing header (the env the
 * router passed on) and `req.url` (so a stripped prefix is observable). The response is turned
 * back into a PlainDecision:
 * - 200 → `upstream`: env = routing header the upstream received, upstreamEnv/service = which
 *   upstream answered, fallback = response header `x-switchyard-fallback`, stripLength = which
 *   public prefix of the service was removed from the path the upstream got;
 * - 404 SWY_ENV_NOT_FOUND → `unknown-env` (env from the problem's `env`);
 * - 404 SWY_ROUTE_NOT_FOUND → `no-route` (env from the problem);
 * - 503 SWY_NO_HEALTHY_UPSTREAM → `no-upstream` when the problem has no `upstreamEnv` (no
 *   environment runs the service), `upstream` when it has one (the resolved upstream exists but
 *   has no ready endpoint; the proxy names `upstreamEnv`). The two are told apart per case by
 *   that member, so a preview whose only endpoint is not ready must NOT fall back to base.
 *
 * Fields the HTTP level cannot observe are matched by an asymmetric matcher instead of a value
 * (the shared runner compares with toStrictEqual, which honours matchers on either side):
 * - `selectedBy` (every upstream / no-route case): host vs header vs baggage vs default leaves no
 *   trace in the response or in what the upstream receives. Any of the four values is accepted.
 * - `stripLength` when no upstream answered (503 with upstreamEnv): no path reached anyone.
 * Everything else is compared exactly.
 *
 * Cases without a Host header are sent as HTTP/1.0 requests without Host over a raw socket
 * (node's server only insists on Host for HTTP/1.1), so no case has to be skipped; see SKIPPED.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Router } from '../../src/router/router.js';
import { compileSnapshot } from '../../src/routing/compile.js';
import type { PlainDecision } from '../../src/routing/reference.js';
import type { EnvironmentRoute, RouteTable } from '../../src/routing/types.js';
import {
  fixtures, isInternal, routingCases, runRoutingCases,
  type CaseRequest, type FixtureName, type RoutingCase,
} from '../routing/resolve.cases.js';
import { problemOf, rawRequest, startUpstream, type RawResponse, type Upstream } from './helpers.js';

/** Cases the live proxy cannot express, with the reason. Currently none. */
const SKIPPED: Record<string, string> = {};

const UNOBSERVED_SELECTION = expect.stringMatching(/^(host|header|baggage|default)$/) as unknown as PlainDecision['selectedBy'];
const UNOBSERVED_STRIP = expect.any(Number) as unknown as number;

interface EndpointServer { id: string; env: string; service: string; ready: boolean; upstream: Upstream }

interface Live {
  table: RouteTable;
  router: Router;
  edgePort: number;
  internalPorts: Record<string, number>;
  endpoints: EndpointServer[];
}

const lives = new Map<FixtureName, Live>();

/** What every fixture upstream answers: who it is, and what it received. */
function identify(table: RouteTable, ep: Omit<EndpointServer, 'upstream'>) {
  return (req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    req.on('end', () => {
      const body = JSON.stringify({
        id: ep.id, env: ep.env, service: ep.service, ready: ep.ready,
        routingEnv: req.headers[table.routingHeader] ?? null,
        url: req.url,
      });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  };
}

async function startLive(name: FixtureName, table: RouteTable): Promise<Live> {
  const endpoints: EndpointServer[] = [];
  const environments: EnvironmentRoute[] = [];
  for (const e of table.environments) {
    const services: Record<string, EnvironmentRoute['services'][string]> = {};
    for (const [service, eps] of Object.entries(e.services)) {
      services[service] = await Promise.all(eps.map(async (ep) => {
        const info = { id: ep.id, env: e.name, service, ready: ep.ready };
        const upstream = await startUpstream(identify(table, info));
        endpoints.push({ ...info, upstream });
        return { ...ep, host: '127.0.0.1', port: upstream.port };
      }));
    }
    environments.push({ ...e, services });
  }
  const router = new Router();
  router.setSnapshot(compileSnapshot({ ...table, environments }));
  const edgePort = await router.listenEdge(0);
  // A listener for every service of the table, plus names the cases use that the table lacks
  // (a listener left over for a service no longer in the spec → no-route).
  const names = new Set(table.services.map((s) => s.name));
  for (const c of routingCases) if ((c.table ?? 'shop') === name && isInternal(c.request)) names.add(c.request.internal);
  const internalPorts = await router.listenInternal([...names]);
  return { table, router, edgePort, internalPorts, endpoints };
}

beforeAll(async () => {
  for (const [name, table] of Object.entries(fixtures) as [FixtureName, RouteTable][]) lives.set(name, await startLive(name, table));
});

afterAll(async () => {
  for (const live of lives.values()) {
    await live.router.close(200);
    await Promise.all(live.endpoints.map((e) => e.upstream.close()));
  }
});

/** Path sent on an internal listener: under the service's first public prefix, if any, to show it is never stripped. */
function internalPath(table: RouteTable, service: string): string {
  const pre = table.services.find((s) => s.name === service)?.public[0];
  return `${pre === undefined || pre === '/' ? '' : pre}/internal-probe?q=1`;
}

/**
 * Which public prefix of `service` the router removed, judged from the path the upstream got:
 * 0 when unchanged, the prefix length when `received` is `sent` without that prefix (with the
 * leading `/` restored), -1 (a certain mismatch) otherwise.
 */
function stripLengthOf(table: RouteTable, service: string, sent: string, received: string): number {
  if (received === sent) return 0;
  for (const p of table.services.find((s) => s.name === service)?.public ?? []) {
    if (p === '/' || !sent.startsWith(p)) continue;
    let rest = sent.slice(p.length);
    if (!rest.startsWith('/')) rest = '/' + rest;
    if (rest === received) return p.length;
  }
  return -1;
}

async function send(live: Live, r: CaseRequest): Promise<{ res: RawResponse; sentPath: string }> {
  const h = live.table.routingHeader;
  const extra: string[] = ['Accept: application/json'];
  if (r.header !== undefined) extra.push(`${h}: ${r.header}`);
  if (r.baggage !== undefined) extra.push(`baggage: ${r.baggage}`);
  if (isInternal(r)) {
    const port = live.internalPorts[r.internal]!;
    const sentPath = internalPath(live.table, r.internal);
    const res = await rawRequest(port, [`GET ${sentPath} HTTP/1.1`, `Host: 127.0.0.1:${port}`, 'Connection: close', ...extra].join('\r\n'));
    return { res, sentPath };
  }
  const head = r.host === undefined
    ? [`GET ${r.path} HTTP/1.0`, ...extra] // no Host at all: only expressible in HTTP/1.0
    : [`GET ${r.path} HTTP/1.1`, `Host: ${r.host}`, 'Connection: close', ...extra];
  return { res: await rawRequest(live.edgePort, head.join('\r\n')), sentPath: r.path };
}

function expectStatus(res: RawResponse, status: number, code: unknown): void {
  if (res.status !== status) throw new Error(`${code} came with status ${res.status}, expected ${status}`);
}

async function liveResolve(table: RouteTable, r: CaseRequest, name: FixtureName): Promise<PlainDecision> {
  const live = lives.get(name)!;
  expect(live.table).toBe(table);
  const { res, sentPath } = await send(live, r);
  const fb = res.headers['x-switchyard-fallback'];
  const fallback = fb === undefined ? {} : { fallback: fb as 'unknown-env' };
  if (res.status === 200) {
    const b = JSON.parse(res.body.toString('utf8')) as { id: string; env: string; service: string; ready: boolean; routingEnv: string | null; url: string };
    if (!b.ready) throw new Error(`endpoint ${b.id} is not ready but received traffic`);
    return {
      kind: 'upstream', env: b.routingEnv ?? '(routing header missing upstream)', service: b.service, upstreamEnv: b.env,
      selectedBy: UNOBSERVED_SELECTION, ...fallback, stripLength: stripLengthOf(table, b.service, sentPath, b.url),
    };
  }
  const p = problemOf(res);
  switch (p.code) {
    case 'SWY_ENV_NOT_FOUND':
      expectStatus(res, 404, p.code);
      return { kind: 'unknown-env', env: p.env as string, ...fallback };
    case 'SWY_ROUTE_NOT_FOUND':
      expectStatus(res, 404, p.code);
      return { kind: 'no-route', env: p.env as string, selectedBy: UNOBSERVED_SELECTION, ...fallback };
    case 'SWY_NO_HEALTHY_UPSTREAM':
      expectStatus(res, 503, p.code);
      if (p.upstreamEnv !== undefined) {
        // Resolved to an upstream that has no ready endpoint (never a silent fallback to base).
        return {
          kind: 'upstream', env: p.env as string, service: p.service as string, upstreamEnv: p.upstreamEnv as string,
          selectedBy: UNOBSERVED_SELECTION, ...fallback, stripLength: UNOBSERVED_STRIP,
        };
      }
      return { kind: 'no-upstream', env: p.env as string, service: p.service as string, ...fallback };
    default:
      throw new Error(`unexpected response ${res.status}: ${res.body.toString('utf8')}`);
  }
}

// Site targets answer from the blob store, not from upstream servers: the `sites` fixture runs
// against the live router in test/e2e/sites.test.ts (real deploys), not here.
const notSkipped = (c: RoutingCase) => !(c.desc in SKIPPED) && c.table !== 'sites';
runRoutingCases('live proxy (real sockets, real upstreams)', liveResolve, { filter: notSkipped });

describe('live proxy conformance bookkeeping', () => {
  test('the skip list names real cases only, and nearly every case runs live', () => {
    const descs = new Set(routingCases.map((c) => c.desc));
    for (const d of Object.keys(SKIPPED)) expect(descs, d).toContain(d);
    const live = routingCases.filter((c) => c.table !== 'sites');
    expect(live.filter(notSkipped).length).toBeGreaterThanOrEqual(live.length - 3);
  });

  test('endpoints that are not ready never received traffic; ready ones did', () => {
    const all = [...lives.values()].flatMap((l) => l.endpoints);
    const notReady = all.filter((e) => !e.ready);
    expect(notReady.map((e) => e.id).sort()).toEqual(['feat2/api/1', 'feat2/payments/0']);
    for (const e of notReady) expect(e.upstream.hits, e.id).toBe(0);
    // the table sends traffic to these (by id) — proof that the cases above went through HTTP
    const hit = new Set(all.filter((e) => e.upstream.hits > 0).map((e) => e.id));
    for (const id of ['base/web/0', 'feat1/api/0', 'feat2/api/0', 'demo/web/0', 'demo/admin/0', 'base/admin/0', 'base/payments/0', 'main/api/0', 'pr7/worker/0']) {
      expect(hit, id).toContain(id);
    }
  });
});
