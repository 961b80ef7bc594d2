/**
 * @module store/pglite
 * Embedded store on PGlite (Postgres compiled to WASM), data in a folder. PGlite does not lock
 * its folder (a second opener silently loses rows), so {@link openPgliteDriver} takes an
 * exclusive lock file first and refuses a second owner with `SWY_STORE_LOCKED`.
 */
import { PGlite } from '@electric-sql/pglite';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Queryable, SqlDriver, SqlRows } from './driver.js';
import { acquireLock } from './lock.js';

export async function openPgliteDriver(dataDir: string): Promise<SqlDriver> {
  mkdirSync(dataDir, { recursive: true });
  const lock = acquireLock(join(dataDir, 'store.lock'));
  let db: PGlite;
  try {
    db = await PGlite.create(join(dataDir, 'pgdata'));
  } catch (err) {
    lock.release();
    throw err;
  }
  // PGlite runs one query at a time; serialise transactions ourselves so a transaction never
  // interleaves with a query from elsewhere.
  let chain: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const p = chain.then(fn, fn);
    chain = p.catch(() => undefined);
    return p;
  };
  const q = (runner: { query: PGlite['query'] }): Queryable => ({
    async query<T>(sql: string, params?: unknown[]): Promise<SqlRows<T>> {
      const r = await runner.query<T>(sql, params as unknown[] | undefined);
      return { rows: r.rows };
    },
  });
  return {
    kind: 'pglite',
    query: (sql, params) => serial(() => q(db).query(sql, params)),
    transaction: (fn) => serial(() => db.transaction((tx) => fn(q(tx as unknown as { query: PGlite['query'] })))),
    exec: (sql) => serial(async () => { await db.exec(sql); }),
    async close() {
      await chain;
      await db.close();
      lock.release();
    },
  };
}
