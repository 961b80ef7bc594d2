/**
 * @module store/postgres
 * The PostgreSQL driver (`pg`): a pool for queries and transactions, and one dedicated
 * connection that `LISTEN`s on the change channel. When that connection drops (the database
 * restarts, the network breaks) it reconnects with backoff and reports a resync, so a listener
 * re-reads the full table once and misses nothing.
 */
import pg from 'pg';
import { swyError } from '../errors/index.js';
import type { Queryable, SqlDriver, SqlRows } from './driver.js';

/** Channel of the change feed; the payload is the new store version. */
export const CHANGE_CHANNEL = 'switchyard_changes';
/** Advisory lock key held while migrating, so two processes starting at once do not race. */
const MIGRATION_LOCK = 727_274_001;

export interface PostgresDriver extends SqlDriver {
  /** Subscribes to the change feed; `version` is undefined on a resync after reconnect. */
  listen(onChange: (version: number | undefined) => void): Promise<() => Promise<void>>;
  /** Runs `fn` while holding the migration advisory lock. */
  withMigrationLock<T>(fn: () => Promise<T>): Promise<T>;
}

/** Errors that mean "the database is not reachable right now". */
export function isUnavailable(err: unknown): boolean {
  const code = (err as { code?: string })?.code ?? '';
  return ['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'ETIMEDOUT', 'EPIPE', '57P01', '57P02', '57P03', '08000', '08001', '08003', '08006'].includes(code)
    || /Connection terminated|connection timeout|Client has encountered a connection error/i.test(String((err as Error)?.message));
}

function unavailable(err: unknown): unknown {
  if (!isUnavailable(err)) return err;
  return swyError('SWY_STORE_UNAVAILABLE', `the store (PostgreSQL) is unavailable: ${(err as Error).message || (err as { code?: string }).code}`, {}, err);
}

export function openPostgresDriver(url: string): PostgresDriver {
  const pool = new pg.Pool({ connectionString: url, max: 10, connectionTimeoutMillis: 3_000, idleTimeoutMillis: 30_000 });
  pool.on('error', () => { /* idle client lost: the next query reconnects */ });
  const listeners: { stop: () => Promise<void> }[] = [];
  const wrap = (c: { query: pg.Pool['query'] }): Queryable => ({
    async query<T>(sql: string, params?: unknown[]): Promise<SqlRows<T>> {
      try {
        const r = await c.query(sql, params as unknown[]);
        return { rows: r.rows as T[] };
      } catch (err) { throw unavailable(err); }
    },
  });
  return {
    kind: 'postgres',
    query: (sql, params) => wrap(pool).query(sql, params),
    async transaction(fn) {
      let client: pg.PoolClient;
      try { client = await pool.connect(); } catch (err) { throw unavailable(err); }
      let broken = false;
      try {
        await client.query('BEGIN');
        const out = await fn(wrap(client as unknown as { query: pg.Pool['query'] }));
        await client.query('COMMIT');
        return out;
      } catch (err) {
        try { await client.query('ROLLBACK'); } catch { broken = true; }
        throw unavailable(err);
      } finally {
        client.release(broken);
      }
    },
    async exec(sql) { try { await pool.query(sql); } catch (err) { throw unavailable(err); } },
    async withMigrationLock(fn) {
      const client = await pool.connect().catch((err) => { throw unavailable(err); });
      try {
        await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
        try { return await fn(); } finally { await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined); }
      } finally { client.release(); }
    },
    async listen(onChange) {
      let stopped = false;
      let client: pg.Client | undefined;
      let delay = 100;
      let timer: NodeJS.Timeout | undefined;
      const connect = async (resync: boolean): Promise<void> => {
        if (stopped) return;
        const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3_000 });
        const retry = () => {
          if (stopped) return;
          if (client === c) client = undefined;
          c.removeAllListeners();
          c.on('error', () => undefined);
          void c.end().catch(() => undefined);
          timer = setTimeout(() => void connect(true), delay);
          delay = Math.min(delay * 2, 2_000);
        };
        c.on('error', retry);
        c.on('end', retry);
        c.on('notification', (m) => { if (m.channel === CHANGE_CHANNEL) onChange(Number(m.payload)); });
        try {
          await c.connect();
          await c.query(`LISTEN ${CHANGE_CHANNEL}`);
          client = c;
          delay = 100;
          if (resync) onChange(undefined);
        } catch {
          retry();
        }
      };
      await connect(false);
      const handle = {
        async stop() {
          stopped = true;
          if (timer) clearTimeout(timer);
          const c = client; client = undefined;
          if (c) { c.removeAllListeners(); c.on('error', () => undefined); await c.end().catch(() => undefined); }
        },
      };
      listeners.push(handle);
      return () => handle.stop();
    },
    async close() {
      for (const l of listeners.splice(0)) await l.stop();
      await pool.end();
    },
  };
}
