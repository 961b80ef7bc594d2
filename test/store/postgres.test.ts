// PostgreSQL-only store behaviour: concurrent migrations, the LISTEN/NOTIFY change feed across
// processes' connections, the create race, and an outage with recovery.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIGRATIONS, openPostgresDriver, Store } from '../../src/store/index.js';
import { postgresAvailable, startPostgres, type TestPostgres } from '../helpers/postgres.js';

const app = 'shop';
const env = (name: string) => ({ app, name, kind: 'preview' as const, parent: 'base', overrides: { services: {} }, hosts: [] });

// postgresAvailable() throws under CI=true when PostgreSQL is missing: CI fails, never skips.
describe.runIf(postgresAvailable())('store on PostgreSQL', () => {
  let pg: TestPostgres;
  beforeAll(async () => { pg = await startPostgres(); });
  afterAll(async () => { await pg?.destroy(); });

  it('two processes migrating at once apply each migration exactly once', async () => {
    const a = new Store(openPostgresDriver(pg.url));
    const b = new Store(openPostgresDriver(pg.url));
    const [na, nb] = await Promise.all([a.migrate(), b.migrate()]);
    expect(na + nb).toBe(MIGRATIONS.length);
    await a.putApp(app, { app });
    await a.close(); await b.close();
  });

  it('a change committed by one store is heard by another (NOTIFY carries the version)', async () => {
    const writer = new Store(openPostgresDriver(pg.url));
    const reader = new Store(openPostgresDriver(pg.url));
    await reader.startFeed();
    const heard: (number | undefined)[] = [];
    reader.onChange((v) => heard.push(v));
    const v = await writer.createEnvironment(env('heard'));
    for (let i = 0; i < 100 && !heard.includes(v); i++) await new Promise((r) => setTimeout(r, 20));
    expect(heard).toContain(v);
    // a rolled-back write notifies nobody
    const before = heard.length;
    await expect(writer.createEnvironment(env('heard'))).rejects.toMatchObject({ code: 'SWY_ENV_EXISTS' });
    await new Promise((r) => setTimeout(r, 200));
    expect(heard.length).toBe(before);
    await writer.close(); await reader.close();
  });

  it('concurrent creates of one name: exactly one wins, the others get SWY_ENV_EXISTS', async () => {
    const stores = Array.from({ length: 5 }, () => new Store(openPostgresDriver(pg.url)));
    const results = await Promise.allSettled(stores.map((s) => s.createEnvironment(env('race'))));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results.filter((r) => r.status === 'rejected')) expect((r as PromiseRejectedResult).reason.code).toBe('SWY_ENV_EXISTS');
    await Promise.all(stores.map((s) => s.close()));
  });

  it('an outage: writes fail with SWY_STORE_UNAVAILABLE, the feed resyncs when the database is back', async () => {
    const s = new Store(openPostgresDriver(pg.url));
    await s.startFeed();
    const heard: (number | undefined)[] = [];
    s.onChange((v) => heard.push(v));
    await pg.stop();
    await expect(s.createEnvironment(env('during'))).rejects.toMatchObject({ code: 'SWY_STORE_UNAVAILABLE', statusCode: 503 });
    await pg.start();
    for (let i = 0; i < 200 && !heard.includes(undefined); i++) await new Promise((r) => setTimeout(r, 25));
    expect(heard).toContain(undefined); // resync request after reconnect
    const v = await s.createEnvironment(env('after'));
    expect(v).toBeGreaterThan(0);
    await s.close();
  }, 60_000);
});
