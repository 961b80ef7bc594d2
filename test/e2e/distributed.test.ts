// Production topology on one machine: one PostgreSQL, one control plane, two router replicas.
// A preview created through the API is served by both routers; a 60 s PostgreSQL outage under
// load fails no request; writes during it get a clear 503; everything catches up afterwards.
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresAvailable, startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { freePortBlock } from '../helpers/ports.js';
import { http, startServer, type Server } from '../helpers/proc.js';

const OUTAGE_MS = Number(process.env.SWY_OUTAGE_MS ?? 60_000);

describe.runIf(postgresAvailable())('control plane + two routers on PostgreSQL', () => {
  let pg: TestPostgres;
  let dir: string;
  let control: Server<{ admin: string }>;
  const routers: Server<{ edge: string; admin: string; id: string }>[] = [];

  beforeAll(async () => {
    pg = await startPostgres();
    dir = mkdtempSync(join(tmpdir(), 'swy-dist-'));
    cpSync(new URL('../../examples/shop', import.meta.url).pathname, join(dir, 'shop'), { recursive: true, filter: (s) => !s.includes('.switchyard') });
    const base = await freePortBlock(200); // r1 uses base…, r2 base+100…
    control = await startServer(['--app', join(dir, 'shop'), 'control', '--database-url', pg.url, '--admin-port', '0', '--internal-base-port', String(base), '--data-dir', join(dir, 'data')]);
    routers.push(await startServer(['router', '--database-url', pg.url, '--port', '0', '--admin-port', '0', '--internal-base-port', String(base), '--id', 'r1']));
    routers.push(await startServer(['router', '--database-url', pg.url, '--port', '0', '--admin-port', '0', '--internal-base-port', String(base + 100), '--id', 'r2']));
  }, 120_000);

  afterAll(async () => {
    for (const r of routers) await r.stop();
    await control?.stop();
    await pg?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  const create = (name: string) => http(`${control.ready.admin}/v1/environments`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name, services: { api: {} } }), timeoutMs: 60_000,
  });

  it('reports both routers and their versions at the control plane /status', async () => {
    const s = JSON.parse((await http(`${control.ready.admin}/status`)).body);
    expect(s.routers.map((r: { id: string }) => r.id).sort()).toEqual(['r1', 'r2']);
    expect(s.allRoutersUpToDate).toBe(true);
    for (const r of routers) expect(JSON.parse((await http(`${r.ready.admin}/status`)).body).snapshotVersion).toBe(s.storeVersion);
  });

  it('a preview created through the API is served by both routers', async () => {
    const t0 = performance.now();
    const res = await create('feat1');
    const returned = performance.now();
    expect(res.status).toBe(201);
    // Both routers already serve it when the API returns (it waits for their reported versions).
    const firsts = await Promise.all(routers.map(async (r) => {
      const got = await http(`${r.ready.edge}/api/whoami`, { host: 'feat1.shop.localhost' });
      return { status: got.status, instance: JSON.parse(got.body).instance, at: performance.now() };
    }));
    for (const f of firsts) expect(f).toMatchObject({ status: 200, instance: 'api@feat1' });
    console.log(`[measure] API create (incl. instance start) ${Math.round(returned - t0)} ms; first 200 from both routers ${Math.round(Math.max(...firsts.map((f) => f.at)) - returned)} ms after the API returned`);
    for (const r of routers) {
      const got = await http(`${r.ready.edge}/chain`, { host: 'feat1.shop.localhost' });
      expect(JSON.parse(got.body).chain).toEqual(['web@base', 'api@feat1', 'payments@base']);
    }
  });

  it('concurrent creates of the same name: exactly one wins, the others get 409', async () => {
    const results = await Promise.all([create('race'), create('race'), create('race')]);
    expect(results.map((r) => r.status).sort()).toEqual([201, 409, 409]);
    const list = JSON.parse((await http(`${control.ready.admin}/v1/environments`)).body).environments;
    expect(list.filter((e: { name: string }) => e.name === 'race')).toHaveLength(1);
  });

  it(`survives a ${OUTAGE_MS / 1000} s PostgreSQL outage under load with zero failed requests`, async () => {
    const agent = new Agent({ connections: 8 });
    let ok = 0; const failures: string[] = [];
    let running = true;
    const targets = routers.flatMap((r) => [
      { url: `${r.ready.edge}/api/chain`, host: 'feat1.shop.localhost', expect: 'api@feat1' },
      { url: `${r.ready.edge}/chain`, host: 'shop.localhost', expect: 'web@base' },
    ]);
    const loop = async (i: number) => {
      while (running) {
        const t = targets[i % targets.length]!;
        try {
          const res = await request(t.url, { headers: { host: t.host }, dispatcher: agent });
          const body = await res.body.text();
          if (res.statusCode === 200 && body.includes(t.expect)) ok++; else failures.push(`${res.statusCode} ${body.slice(0, 200)}`);
        } catch (err) { failures.push(String(err)); }
      }
    };
    const loops = Array.from({ length: 8 }, (_, i) => loop(i));
    await new Promise((r) => setTimeout(r, 1_000));
    await pg.stop();
    const outageStart = Date.now();
    // During the outage: writes get a clear 503.
    await new Promise((r) => setTimeout(r, 2_000));
    const write = await create('during');
    expect(write.status).toBe(503);
    expect(JSON.parse(write.body)).toMatchObject({ code: 'SWY_STORE_UNAVAILABLE' });
    expect(JSON.parse(write.body).detail).toMatch(/PostgreSQL/);
    await new Promise((r) => setTimeout(r, Math.max(0, OUTAGE_MS - (Date.now() - outageStart))));
    await pg.start();
    // Catch up without a restart: a change made during recovery reaches every router.
    let created = await create('after');
    for (let i = 0; i < 50 && created.status === 503; i++) { await new Promise((r) => setTimeout(r, 200)); created = await create('after'); }
    expect(created.status).toBe(201);
    for (const r of routers) {
      let got = await http(`${r.ready.edge}/api/chain`, { host: 'after.shop.localhost' });
      for (let i = 0; i < 100 && got.status !== 200; i++) { await new Promise((res) => setTimeout(res, 50)); got = await http(`${r.ready.edge}/api/chain`, { host: 'after.shop.localhost' }); }
      expect(JSON.parse(got.body).chain).toEqual(['api@after', 'payments@base']);
    }
    running = false;
    await Promise.all(loops);
    await agent.close();
    console.log(`[measure] outage ${OUTAGE_MS} ms: ${ok} requests ok, ${failures.length} failed`);
    expect(failures).toEqual([]);
    expect(ok).toBeGreaterThan(OUTAGE_MS / 50); // the load kept running through the whole outage
    const s = JSON.parse((await http(`${control.ready.admin}/status`)).body);
    for (let i = 0; i < 50 && !s.allRoutersUpToDate; i++) await new Promise((r) => setTimeout(r, 100));
    expect(s.routers).toHaveLength(2);
  }, OUTAGE_MS + 90_000);
});
