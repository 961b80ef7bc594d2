/**
 * @module store/open
 * Chooses the backend: `--database-url postgres://…` (or `$SWITCHYARD_DATABASE_URL`) selects
 * PostgreSQL; otherwise the embedded PGlite store in `<dataDir>/store` (one owner, locked).
 */
import { join } from 'node:path';
import { openPgliteDriver } from './pglite.js';
import { openPostgresDriver } from './postgres.js';
import { Store } from './store.js';

export async function openStore(opts: { databaseUrl?: string | undefined; dataDir: string }): Promise<Store> {
  const url = opts.databaseUrl ?? process.env.SWITCHYARD_DATABASE_URL;
  const store = new Store(url ? openPostgresDriver(url) : await openPgliteDriver(join(opts.dataDir, 'store')));
  try {
    await store.migrate();
    await store.startFeed();
  } catch (err) {
    await store.close().catch(() => undefined);
    throw err;
  }
  return store;
}
