/**
 * End-to-end: `switchyard up` on a copy of examples/shop, driven like a user would — the CLI as
 * child processes, HTTP to 127.0.0.1 with explicit Host headers. One switchyard is shared by
 * the tests of this file (they build on each other: feat1 and feat2 are created, then feat1
 * deleted, then switchyard restarted); afterAll stops it and checks no service process is left.
 * Numbers in test names refer to the lines of issue 3's contract.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  alive, describeProcs, killLeftovers, makeWorkspace, processesUnder, runCli, startSwitchyard,
  waitGone, waitNoProcessesUnder, type Switchyard, type Workspace,
  stopAndAssertClean,
} from './harness.js';

const BASE_CHAIN = ['web@base', 'api@base', 'payments@base'];
const FEAT1_CHAIN = ['web@base', 'api@feat1', 'payments@base'];

describe('switchyard up with the shop example', () => {
  let ws: Workspace;
  let sy: Switchyard;
  /** Every service PID switchyard ever reported, for the orphan check at the end. */
  const seenPids = new Set<number>();
  const remember = async () => { for (const p of await sy.servicePids()) seenPids.add(p); };

  beforeAll(async () => {
    ws = makeWorkspace();
    sy = await startSwitchyard({ app: ws.app, dataDir: ws.dataDir });
  }, 90_000);

  afterAll(async () => {
    if (!ws) return;
    if (sy) await remember().catch(() => undefined);
    await stopAndAssertClean(ws, sy, seenPids);
  }, 60_000);

  it('1. up prints the URLs and READY; base routes web → api → payments', async () => {
    const out = sy.stdout();
    const port = sy.edgePort;
    expect(out).toContain('switchyard is serving app "shop"');
    expect(out).toMatch(new RegExp(`^\\s+base\\s+http://shop\\.localhost:${port}/`, 'm'));
    expect(out).toMatch(new RegExp(`^\\s+previews\\s+http://<env>\\.shop\\.localhost:${port}/`, 'm'));
    expect(out).toMatch(new RegExp(`^\\s+admin\\s+${sy.admin.replace(/\./g, '\\.')}$`, 'm'));
    const ready = JSON.parse(out.split('\n').find((l) => l.startsWith('READY '))!.slice(6));
    expect(ready.edge).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(ready.admin).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(ready.edge).not.toBe(ready.admin);
    expect(ready.pid).toBe(sy.child.pid);

    const chain = await sy.get('/chain', { host: 'shop.localhost' });
    expect(chain.status, chain.body).toBe(200);
    expect(chain.json().chain).toEqual(BASE_CHAIN);
    const api = await sy.get('/api/chain', { host: 'shop.localhost' });
    expect(api.status, api.body).toBe(200);
    expect(api.json().chain).toEqual(['api@base', 'payments@base']);

    await remember();
    expect(seenPids.size).toBe(3); // web, api, payments of base
    for (const p of seenPids) expect(alive(p)).toBe(true);
  });

  it('2. env create feat1 --service api: host, header and baggage select it; unknown envs fall back or 404', async () => {
    const c = await sy.cli(['env', 'create', 'feat1', '--service', 'api']);
    const returned = Date.now();
    expect(c.code, c.stderr).toBe(0);
    // the very first request after create returns must already be served by the preview
    const first = await sy.get('/chain', { host: 'feat1.shop.localhost' });
    const ms = Date.now() - returned;
    console.log(`[measure] create→first 200: ${ms} ms (env create itself took ${c.ms} ms: ${c.stdout.trim()})`);
    expect(first.status, first.body).toBe(200);
    expect(first.json().chain).toEqual(FEAT1_CHAIN);
    expect(c.stdout).toContain(`http://feat1.shop.localhost:${sy.edgePort}/`);

    const viaHeader = await sy.get('/chain', { host: 'shop.localhost', headers: { 'x-switchyard-env': 'feat1' } });
    expect(viaHeader.status, viaHeader.body).toBe(200);
    expect(viaHeader.json().chain).toEqual(FEAT1_CHAIN);

    const viaBaggage = await sy.get('/chain', { host: 'shop.localhost', headers: { baggage: 'x-switchyard-env=feat1' } });
    expect(viaBaggage.status, viaBaggage.body).toBe(200);
    expect(viaBaggage.json().chain).toEqual(FEAT1_CHAIN);

    const viaBaggageMembers = await sy.get('/chain', { host: 'shop.localhost', headers: { baggage: 'foo=bar, x-switchyard-env=feat1;prop=1' } });
    expect(viaBaggageMembers.status, viaBaggageMembers.body).toBe(200);
    expect(viaBaggageMembers.json().chain).toEqual(FEAT1_CHAIN);

    const apiOnly = await sy.get('/api/chain', { host: 'feat1.shop.localhost' });
    expect(apiOnly.json().chain).toEqual(['api@feat1', 'payments@base']);

    const plain = await sy.get('/chain', { host: 'shop.localhost' });
    expect(plain.status).toBe(200);
    expect(plain.json().chain).toEqual(BASE_CHAIN);
    expect(plain.headers['x-switchyard-fallback']).toBeUndefined();

    const unknownHeader = await sy.get('/chain', { host: 'shop.localhost', headers: { 'x-switchyard-env': 'no-such-env' } });
    expect(unknownHeader.status, unknownHeader.body).toBe(200);
    expect(unknownHeader.json().chain).toEqual(BASE_CHAIN);
    expect(unknownHeader.headers['x-switchyard-fallback']).toBe('unknown-env');

    const nope = await sy.get('/chain', { host: 'nope.shop.localhost' });
    expect(nope.status).toBe(404);
    expect(nope.body).toContain('nope');
    const nopeJson = await sy.get('/chain', { host: 'nope.shop.localhost', headers: { accept: 'application/json' } });
    expect(nopeJson.status).toBe(404);
    expect(nopeJson.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(nopeJson.json()).toMatchObject({ status: 404, code: 'SWY_ENV_NOT_FOUND', env: 'nope' });
    expect(nopeJson.json().detail).toContain('nope');

    const mixedCase = await sy.get('/chain', { host: 'FEAT1.Shop.localhost:8080' });
    expect(mixedCase.status, mixedCase.body).toBe(200);
    expect(mixedCase.json().chain).toEqual(FEAT1_CHAIN);

    await remember();
  });

  it('3. env ls lists URL, services, health; duplicate, bad name and unknown service are refused and leave nothing', async () => {
    const port = sy.edgePort;
    const ls = await sy.cli(['env', 'ls']);
    expect(ls.code, ls.stderr).toBe(0);
    const rows = ls.stdout.trim().split('\n').map((l) => l.trim().split(/\s+/));
    expect(rows[0]).toEqual(['NAME', 'KIND', 'URL', 'RUNS', 'HEALTH', 'ACCESS']);
    expect(rows.find((r) => r[0] === 'base')).toEqual(['base', 'base', `http://shop.localhost:${port}/`, 'web,api,payments', 'healthy', 'public']);
    expect(rows.find((r) => r[0] === 'feat1')).toEqual(['feat1', 'preview', `http://feat1.shop.localhost:${port}/`, 'api', 'healthy', 'public']);
    expect(rows).toHaveLength(3);

    const envs = await sy.envs();
    expect(envs.map((e) => e.name).sort()).toEqual(['base', 'feat1']);
    const feat1 = envs.find((e) => e.name === 'feat1')!;
    expect(feat1).toMatchObject({ kind: 'preview', services: ['api'], health: 'healthy', url: `http://feat1.shop.localhost:${port}/` });
    expect(feat1.instances).toHaveLength(1);
    expect(feat1.instances[0]).toMatchObject({ id: 'feat1/api/0', service: 'api', state: 'healthy' });
    expect(alive(feat1.instances[0]!.pid!)).toBe(true);
    const base = envs.find((e) => e.name === 'base')!;
    expect([...base.services].sort()).toEqual(['api', 'payments', 'web']);
    expect(base.health).toBe('healthy');

    const dup = await sy.cli(['env', 'create', 'feat1']);
    expect(dup.code).toBe(1);
    expect(dup.stderr).toContain('SWY_ENV_EXISTS');

    const bad = await sy.cli(['env', 'create', 'Bad_Name']);
    expect(bad.code).toBe(2); // input the API refuses (400) is a usage error
    expect(bad.stderr).toContain('SWY_ENV_NAME_INVALID');
    for (const [flags, says] of [[['--allow-ip', 'nope'], 'nope'], [['--rate-limit', '10:0'], 'rateLimit.burst']] as const) {
      const r = await sy.cli(['env', 'create', 'feat7', '--service', 'api', ...flags]);
      expect(r.code, `${flags.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toContain(says);
    }

    const unknown = await sy.cli(['env', 'create', 'feat9', '--service', 'api', '--service', 'nope']);
    expect(unknown.code).toBe(2); // a service the spec does not have is a usage error too
    expect(unknown.stderr).toContain('SWY_SERVICE_NOT_FOUND');
    expect(unknown.stderr).toContain('nope');

    // a preview whose process dies at start is refused too, with the log tail
    const crash = await sy.cli(['env', 'create', 'feat8', '--service', 'api', '--run', 'echo boom-at-start; exit 3']);
    expect(crash.code).not.toBe(0);
    expect(crash.stderr).toContain('SWY_INSTANCE_UNHEALTHY');
    expect(crash.stderr).toContain('boom-at-start');

    // nothing half-made: not listed, not routable, no process running
    const after = await sy.envs();
    expect(after.map((e) => e.name).sort()).toEqual(['base', 'feat1']);
    expect((await sy.cli(['env', 'get', 'feat9'])).stderr).toContain('SWY_ENV_NOT_FOUND');
    for (const name of ['feat8', 'Bad_Name', 'bad_name']) {
      const r = await sy.get(`/v1/environments/${name}`, { base: sy.admin });
      expect(r.status, r.body).toBe(404);
      expect(r.json().code).toBe('SWY_ENV_NOT_FOUND');
    }
    expect((await sy.get('/chain', { host: 'feat9.shop.localhost' })).status).toBe(404);
    expect((await sy.get('/chain', { host: 'feat8.shop.localhost' })).status).toBe(404);
    const stray = await waitNoProcessesUnder(ws.root, 6_000, 'feat8');
    expect(stray, describeProcs(stray)).toEqual([]);
    expect(processesUnder(ws.root).filter((p) => p.environ.SWITCHYARD_ENV === 'feat9')).toEqual([]);
  });

  it('4. --var reaches the preview; the proxy forwards routing/forwarding headers and drops hop-by-hop ones', async () => {
    const c = await sy.cli(['env', 'create', 'feat2', '--service', 'api', '--var', 'GREETING=hello']);
    expect(c.code, c.stderr).toBe(0);

    const r = await sy.get('/api/whoami', {
      host: 'feat2.shop.localhost',
      headers: { connection: 'keep-alive, x-secret', 'x-secret': '1', 'x-forwarded-for': '6.6.6.6', 'x-kept': 'yes' },
    });
    expect(r.status, r.body).toBe(200);
    const w = r.json();
    expect(w.instance).toBe('api@feat2');
    expect(w.greeting).toBe('hello');
    const h = w.headers as Record<string, string>;
    expect(h['x-switchyard-env']).toBe('feat2');
    expect(h.baggage!.split(',').map((m) => m.trim())).toContain('x-switchyard-env=feat2');
    expect(h['x-forwarded-for']).toBe('127.0.0.1'); // the client's own claim is not trusted
    expect(h['x-forwarded-proto']).toBe('http');
    expect(h.forwarded).toMatch(/for=127\.0\.0\.1;proto=http/);
    expect(h['x-request-id']).toMatch(/^\S+$/);
    expect(r.headers['x-request-id']).toBe(h['x-request-id']);
    expect(h['x-kept']).toBe('yes');
    expect(h['x-secret']).toBeUndefined();
    expect(h.connection ?? '').not.toContain('x-secret');

    // a client request id is kept; other baggage members survive next to the routing member
    const r2 = await sy.get('/api/whoami', { host: 'feat2.shop.localhost', headers: { 'x-request-id': 'e2e-req-42', baggage: 'userid=7' } });
    const h2 = r2.json().headers as Record<string, string>;
    expect(h2['x-request-id']).toBe('e2e-req-42');
    expect(h2.baggage!.split(',').map((m) => m.trim()).sort()).toEqual(['userid=7', 'x-switchyard-env=feat2']);

    // the variable is the preview's only: base api has no greeting
    const b = await sy.get('/api/whoami', { host: 'shop.localhost' });
    expect(b.json()).toMatchObject({ instance: 'api@base', greeting: null });
    expect(b.json().headers['x-switchyard-env']).toBe('base');

    await remember();
  });

  it('5. logs <env> <service> and logs <service> --env <env> print the instance log', async () => {
    const a = await sy.cli(['logs', 'feat1', 'api']);
    expect(a.code, a.stderr).toBe(0);
    expect(a.stdout).toContain('start feat1/api/0');
    expect(a.stdout).not.toContain('start base/api/0');

    const b = await sy.cli(['logs', 'api', '--env', 'feat1']);
    expect(b.code, b.stderr).toBe(0);
    expect(b.stdout).toContain('start feat1/api/0');

    const base = await sy.cli(['logs', 'api']);
    expect(base.code, base.stderr).toBe(0);
    expect(base.stdout).toContain('start base/api/0');
    expect(base.stdout).not.toContain('start feat1/api/0');

    const missing = await sy.cli(['logs', 'nope', 'api']);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain('SWY_ENV_NOT_FOUND');
  });

  it('6. env delete feat1: 404 at once, its processes are gone within seconds, the rest keeps working', async () => {
    const before = (await sy.envs()).find((e) => e.name === 'feat1')!;
    const pids = before.instances.map((i) => i.pid!).filter(Boolean);
    expect(pids).toHaveLength(1);
    const procs = processesUnder(ws.root).filter((p) => p.environ.SWITCHYARD_ENV === 'feat1');
    expect(procs.length).toBeGreaterThanOrEqual(1); // the shell and/or the node server
    expect(procs.map((p) => p.pgid)).toContain(pids[0]);

    const d = await sy.cli(['env', 'delete', 'feat1']);
    expect(d.code, d.stderr).toBe(0);
    const first = await sy.get('/chain', { host: 'feat1.shop.localhost' });
    expect(first.status, first.body).toBe(404);
    expect(first.body).toContain('feat1');

    const leftPids = await waitGone([...new Set([...pids, ...procs.map((p) => p.pid)])], 6_000);
    expect(leftPids, `feat1 processes still alive: ${leftPids.join(', ')}`).toEqual([]);
    const leftProcs = await waitNoProcessesUnder(ws.root, 1_000, 'feat1');
    expect(leftProcs, describeProcs(leftProcs)).toEqual([]);

    // the header now names an unknown env: base serves, flagged
    const viaHeader = await sy.get('/chain', { host: 'shop.localhost', headers: { 'x-switchyard-env': 'feat1' } });
    expect(viaHeader.json().chain).toEqual(BASE_CHAIN);
    expect(viaHeader.headers['x-switchyard-fallback']).toBe('unknown-env');
    expect((await sy.envs()).map((e) => e.name).sort()).toEqual(['base', 'feat2']);
    expect((await sy.get('/api/chain', { host: 'feat2.shop.localhost' })).json().chain).toEqual(['api@feat2', 'payments@base']);

    const again = await sy.cli(['env', 'delete', 'feat1']);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toContain('SWY_ENV_NOT_FOUND');
    const baseDel = await sy.cli(['env', 'delete', 'base']);
    expect(baseDel.code).not.toBe(0);
    expect(baseDel.stderr).toContain('SWY_ENV_BASE_PROTECTED');
  });

  it('2/6 via the admin API: routable when POST answers 201, unroutable when DELETE answers 204 (no CLI latency)', async () => {
    for (let round = 0; round < 3; round++) {
      const created = await sy.get('/v1/environments', {
        base: sy.admin, method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'feat3', services: { api: {} } }),
      });
      const first = await sy.get('/api/chain', { host: 'feat3.shop.localhost' });
      expect(created.status, created.body).toBe(201);
      expect(created.json()).toMatchObject({ name: 'feat3', services: ['api'], health: 'healthy' });
      expect(first.status, `round ${round}: ${first.body}`).toBe(200);
      expect(first.json().chain).toEqual(['api@feat3', 'payments@base']);
      const pid = created.json().instances[0].pid as number;
      expect(alive(pid)).toBe(true);

      const deleted = await sy.get('/v1/environments/feat3', { base: sy.admin, method: 'DELETE' });
      const after = await sy.get('/api/chain', { host: 'feat3.shop.localhost' });
      expect(deleted.status, deleted.body).toBe(204);
      expect(after.status, `round ${round}: ${after.body}`).toBe(404);
      expect(await waitGone([pid], 6_000)).toEqual([]);
    }
    const stray = await waitNoProcessesUnder(ws.root, 1_000, 'feat3');
    expect(stray, describeProcs(stray)).toEqual([]);
  });

  it('8. a second up on the same data dir fails fast with SWY_STORE_LOCKED and disturbs nothing', async () => {
    const procsBefore = processesUnder(ws.root).map((p) => p.pid).sort();
    const second = await runCli(['up', '--app', ws.app, '--port', '0', '--admin-port', '0', '--data-dir', ws.dataDir], { timeoutMs: 20_000 });
    expect(second.code).not.toBe(0);
    expect(second.code).not.toBeNull();
    expect(second.stderr).toContain('SWY_STORE_LOCKED');
    expect(second.stdout).not.toContain('READY');
    expect(second.ms).toBeLessThan(10_000);

    expect(processesUnder(ws.root).map((p) => p.pid).sort()).toEqual(procsBefore);
    expect(fs.existsSync(path.join(ws.dataDir, 'admin.json'))).toBe(true);
    const chain = await sy.get('/chain', { host: 'shop.localhost' });
    expect(chain.json().chain).toEqual(BASE_CHAIN);
    expect((await sy.envs()).map((e) => e.name).sort()).toEqual(['base', 'feat2']);
  });

  it('11. the admin API refuses what a web page could send: foreign Origin (CSRF), foreign Host (DNS rebinding), non-JSON bodies', async () => {
    const { request: httpRequest } = await import('node:http');
    const u = new URL(sy.admin);
    const send = (headers: Record<string, string>, body: string) => new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest({ host: u.hostname, port: u.port, path: '/v1/environments', method: 'POST', headers: { 'content-length': String(Buffer.byteLength(body)), ...headers } }, (res) => {
        let b = ''; res.setEncoding('utf8'); res.on('data', (c) => { b += c; }); res.on('end', () => resolve({ status: res.statusCode!, body: b }));
      });
      req.on('error', reject);
      req.end(body);
    });
    const body = JSON.stringify({ name: 'csrf1', services: { api: { run: 'touch /tmp/swy-csrf; exec node server.js' } } });
    const csrf = await send({ origin: 'http://evil.example', 'content-type': 'text/plain;charset=UTF-8' }, body);
    expect(csrf.status).toBe(403);
    expect(JSON.parse(csrf.body).code).toBe('SWY_ACCESS_DENIED');
    const rebinding = await send({ host: 'evil.example', 'content-type': 'application/json' }, body);
    expect(rebinding.status).toBe(403);
    const plain = await send({ 'content-type': 'text/plain' }, body);
    expect(plain.status).toBe(400);
    expect(plain.body).toContain('application/json');
    expect((await sy.envs()).map((e) => e.name)).not.toContain('csrf1');
  });

  it('10. the internal discovery URL routes by header: none → base, feat2 → the preview', async () => {
    const st = await sy.cli(['status', '--json']);
    expect(st.code, st.stderr).toBe(0);
    const status = JSON.parse(st.stdout);
    const api = status.discovery?.api as string;
    expect(api).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(api).not.toBe(sy.edge);

    const plain = await sy.get('/api/chain', { base: api });
    expect(plain.status, plain.body).toBe(200);
    expect(plain.json().chain).toEqual(['api@base', 'payments@base']);

    const feat2 = await sy.get('/api/chain', { base: api, headers: { 'x-switchyard-env': 'feat2' } });
    expect(feat2.status, feat2.body).toBe(200);
    expect(feat2.json().chain).toEqual(['api@feat2', 'payments@base']);

    const viaBaggage = await sy.get('/api/chain', { base: api, headers: { baggage: 'x-switchyard-env=feat2' } });
    expect(viaBaggage.json().chain).toEqual(['api@feat2', 'payments@base']);

    // payments has no preview: feat2 falls back to base on that hop
    const pay = await sy.get('/chain', { base: status.discovery.payments, headers: { 'x-switchyard-env': 'feat2' } });
    expect(pay.json().chain).toEqual(['payments@base']);
  });

  it('7. restart: SIGTERM stops every service process; up again on the same data dir restores feat2', async () => {
    await remember();
    const pids = [...new Set([...(await sy.servicePids()), ...processesUnder(ws.root).map((p) => p.pid)])];
    expect(pids.length).toBeGreaterThanOrEqual(4); // base web/api/payments + feat2 api

    const stopped = await sy.stop();
    expect(stopped.killed, `switchyard did not exit on SIGTERM\n${sy.stderr()}`).toBe(false);
    expect(stopped.code, sy.stderr()).toBe(0);
    const leftPids = await waitGone(pids, 6_000);
    expect(leftPids, `orphans after stop: ${leftPids.join(', ')}`).toEqual([]);
    const leftProcs = await waitNoProcessesUnder(ws.root, 1_000);
    expect(leftProcs, describeProcs(leftProcs)).toEqual([]);
    expect(fs.existsSync(path.join(ws.dataDir, 'admin.json'))).toBe(false);
    // the admin API is really gone
    const down = await runCli(['--admin-url', sy.admin, 'env', 'ls']);
    expect(down.code).not.toBe(0);
    expect(down.stderr).toContain('SWY_ADMIN_UNREACHABLE');

    sy = await startSwitchyard({ app: ws.app, dataDir: ws.dataDir });
    const envs = await sy.envs();
    expect(envs.map((e) => e.name).sort()).toEqual(['base', 'feat2']);
    expect(envs.find((e) => e.name === 'feat2')).toMatchObject({ kind: 'preview', services: ['api'], health: 'healthy' });
    await remember();

    const r = await sy.get('/api/chain', { host: 'feat2.shop.localhost' });
    expect(r.status, r.body).toBe(200);
    expect(r.json().chain).toEqual(['api@feat2', 'payments@base']);
    const w = await sy.get('/api/whoami', { host: 'feat2.shop.localhost' });
    expect(w.json()).toMatchObject({ instance: 'api@feat2', greeting: 'hello' }); // overrides persisted
    expect((await sy.get('/chain', { host: 'shop.localhost' })).json().chain).toEqual(BASE_CHAIN);
    expect((await sy.get('/chain', { host: 'feat1.shop.localhost' })).status).toBe(404);
    // new processes, not the old ones
    for (const p of await sy.servicePids()) expect(pids).not.toContain(p);
  }, 90_000);
});
