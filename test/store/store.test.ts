// Store suite: migrations, transactional writes, the change feed and the lock file.
// Written against the Store API so the same suite can run on every backend.
import { mkdtempSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIGRATIONS, openPgliteDriver, openPostgresDriver, readRouteTable, Store } from '../../src/store/index.js';
import { postgresAvailable, startPostgres, type TestPostgres } from '../helpers/postgres.js';

const dir = mkdtempSync(join(tmpdir(), 'swy-store-'));
let store: Store;
let pgServer: TestPostgres | undefined;
const app = 'shop';
const spec = {
  app, domain: 'shop.localhost', routingHeader: 'x-switchyard-env', root: '/tmp', file: '/tmp/switchyard.yaml',
  services: {
    web: { public: ['/'], stripPrefix: false, replicas: 1, env: {}, dependsOn: [], port: 8080, run: 'x', cwd: '/tmp' },
    api: { public: ['/api'], stripPrefix: true, replicas: 1, env: {}, dependsOn: [], port: 8080, run: 'x', cwd: '/tmp' },
  },
};

const backends = [{ name: 'pglite' }, ...(postgresAvailable() ? [{ name: 'postgres' }] : [])];

describe.each(backends)('store ($name)', ({ name }) => {
  beforeAll(async () => {
    if (name === 'pglite') store = new Store(await openPgliteDriver(join(dir, 'store')));
    else { pgServer = await startPostgres(); store = new Store(openPostgresDriver(pgServer.url)); }
    expect(await store.migrate()).toBe(MIGRATIONS.length);
  });
  afterAll(async () => { await store.close(); await pgServer?.destroy(); });

  it('migrations are idempotent', async () => {
    expect(await store.migrate()).toBe(0);
  });

  it('bumps the version once per write and notifies after commit', async () => {
    const seen: number[] = [];
    const off = store.onChange((v) => { if (v !== undefined) seen.push(v); });
    const before = await store.version();
    await store.putApp(app, spec);
    await store.createEnvironment({ app, name: 'base', kind: 'base', parent: null, overrides: { services: {} }, hosts: [] });
    off();
    expect(seen).toEqual([before + 1, before + 2]);
    expect(await store.version()).toBe(before + 2);
  });

  it('refuses a duplicate environment with SWY_ENV_EXISTS and changes nothing', async () => {
    const v = await store.version();
    await expect(store.createEnvironment({ app, name: 'base', kind: 'base', parent: null, overrides: { services: {} }, hosts: [] }))
      .rejects.toMatchObject({ code: 'SWY_ENV_EXISTS', statusCode: 409 });
    expect(await store.version()).toBe(v);
  });

  it('rolls back a failed transaction completely (no half-written rows)', async () => {
    const v = await store.version();
    await expect(store.write(async (tx) => {
      await tx.query(`INSERT INTO environments (app, name, kind, parent) VALUES ($1, 'half', 'preview', 'base')`, [app]);
      throw new Error('boom');
    })).rejects.toThrow('boom');
    expect(await store.getEnvironment(app, 'half')).toBeUndefined();
    expect(await store.version()).toBe(v);
  });

  it('creates a preview with its instances in one transaction and reads the route table', async () => {
    await store.createEnvironment(
      { app, name: 'feat1', kind: 'preview', parent: 'base', overrides: { services: { api: {} } }, hosts: ['feat1.example.test'] },
      [{ app, env: 'feat1', service: 'api', replica: 0, host: '127.0.0.1', port: 4001, pid: 1, state: 'healthy', restarts: 0 }]);
    await store.recordInstances([{ app, env: 'base', service: 'web', replica: 0, host: '127.0.0.1', port: 4000, pid: 2, state: 'starting', restarts: 0 }]);
    const t = await readRouteTable(store, app);
    expect(t.version).toBe(await store.version());
    expect(t.domain).toBe('shop.localhost');
    expect(t.services).toEqual([{ name: 'api', public: ['/api'], stripPrefix: true }, { name: 'web', public: ['/'], stripPrefix: false }]);
    const feat1 = t.environments.find((e) => e.name === 'feat1')!;
    expect(feat1.hosts).toEqual(['feat1.example.test']);
    expect(feat1.services).toEqual({ api: [{ id: 'feat1/api/0', host: '127.0.0.1', port: 4001, ready: true }] });
    const base = t.environments.find((e) => e.name === 'base')!;
    expect(base.services.web).toEqual([{ id: 'base/web/0', host: '127.0.0.1', port: 4000, ready: false }]);
    expect(base.services.api).toEqual([]);
  });

  it('does not record instances of an environment that no longer exists', async () => {
    expect(await store.recordInstances([{ app, env: 'gone', service: 'api', replica: 0, host: '127.0.0.1', port: 1, pid: 1, state: 'healthy', restarts: 0 }])).toBe(false);
  });

  it('deleting an environment removes its instance rows (cascade); unknown → SWY_ENV_NOT_FOUND', async () => {
    await store.deleteEnvironment(app, 'feat1');
    expect((await store.listInstances(app)).filter((i) => i.env === 'feat1')).toEqual([]);
    await expect(store.deleteEnvironment(app, 'feat1')).rejects.toMatchObject({ code: 'SWY_ENV_NOT_FOUND' });
  });

  // The lock file guards the embedded store only; PostgreSQL has no single owner (runIf is by backend, not by a missing dependency).
  it.runIf(name === 'pglite')('refuses a second owner of the data folder (same process)', async () => {
    await expect(openPgliteDriver(join(dir, 'store'))).rejects.toMatchObject({ code: 'SWY_STORE_LOCKED' });
  });

  // Same reason: a backend property, not a missing dependency.
  it.runIf(name === 'pglite')('refuses a second owner of the data folder (another process)', () => {
    const script = `import('${new URL('../../src/store/pglite.ts', import.meta.url).pathname}').then(m => m.openPgliteDriver(${JSON.stringify(join(dir, 'store'))})).then(() => { console.log('OPENED'); process.exit(0) }, e => { console.log(e.code); process.exit(3) })`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
    expect(r.stdout.trim()).toBe('SWY_STORE_LOCKED');
    expect(r.status).toBe(3);
  });
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));
