/**
 * @module store/store
 * The store: apps (their spec), environments (config, written by the control plane) and
 * instances (status, written by the runtime). Every write is one transaction that bumps the
 * store version; listeners hear the new version after commit (the change feed).
 */
import { swyError } from '../errors/index.js';
import type { Queryable, SqlDriver } from './driver.js';
import { MIGRATIONS } from './migrations.js';
import { CHANGE_CHANNEL, type PostgresDriver } from './postgres.js';

/** Per-service overrides a preview runs with. */
export interface ServiceOverride {
  run?: string;
  cwd?: string;
  env?: Record<string, string>;
}

export interface EnvironmentRecord {
  app: string;
  name: string;
  kind: 'base' | 'preview';
  parent: string | null;
  /** Services this environment runs itself, with their overrides (`{}` = same as base). */
  overrides: { services: Record<string, ServiceOverride> };
  hosts: string[];
  /** Access policy (password stored as an scrypt hash); `{}` = public. */
  access?: Record<string, unknown>;
  createdAt: string;
}

export interface InstanceRecord {
  app: string; env: string; service: string; replica: number;
  host: string; port: number; pid: number | null;
  state: string; restarts: number; updatedAt: string;
}

/** Called after a committed change with the new version; `undefined` asks for a full re-read (reconnect). */
/** Marks an environment (or, with `null`, the whole app) as changed by the current write. */
export type Touch = (app: string, env: string | null) => void;

export type ChangeListener = (version: number | undefined) => void;

/** A router replica's report: the snapshot version it serves (like an Envoy ACK). */
export interface RouterRecord { id: string; url: string; version: number; seenAt: string }

export class Store {
  readonly #db: SqlDriver;
  readonly #listeners = new Set<ChangeListener>();

  #stopFeed: (() => Promise<void>) | undefined;

  constructor(db: SqlDriver) { this.#db = db; }

  /**
   * Starts hearing other processes' changes (PostgreSQL `LISTEN`). Local writes are heard
   * without it. Idempotent.
   */
  async startFeed(): Promise<void> {
    const db = this.#db as SqlDriver & { listen?: PostgresDriver['listen'] };
    if (this.#stopFeed || !db.listen) return;
    this.#stopFeed = await db.listen((v) => { for (const l of this.#listeners) l(v); });
  }

  get kind(): SqlDriver['kind'] { return this.#db.kind; }

  /** Applies pending migrations in order, each in its own transaction. */
  async migrate(): Promise<number> {
    const db = this.#db as SqlDriver & { withMigrationLock?: PostgresDriver['withMigrationLock'] };
    return db.withMigrationLock ? db.withMigrationLock(() => this.#migrate()) : this.#migrate();
  }

  async #migrate(): Promise<number> {
    await this.#db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())');
    const { rows } = await this.#db.query<{ version: number }>('SELECT version FROM schema_migrations');
    const done = new Set(rows.map((r) => Number(r.version)));
    let applied = 0;
    for (const m of MIGRATIONS) {
      if (done.has(m.version)) continue;
      await this.#db.transaction(async (tx) => {
        for (const stmt of splitSql(m.sql)) await tx.query(stmt);
        await tx.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
      });
      applied++;
    }
    return applied;
  }

  /** Subscribes to committed changes; returns an unsubscribe function. */
  onChange(listener: ChangeListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async version(): Promise<number> {
    const { rows } = await this.#db.query<{ version: string | number }>('SELECT version FROM store_version WHERE id = 1');
    return Number(rows[0]?.version ?? 0);
  }

  /**
   * Runs `fn` in one transaction that bumps the store version; notifies listeners after commit.
   * @returns `fn`'s result and the new version.
   */
  async write<T>(fn: (tx: Queryable, touch: Touch) => Promise<T>): Promise<{ result: T; version: number }> {
    let out: { result: T; version: number };
    try {
      out = await this.#db.transaction(async (tx) => {
        const touched: { app: string; env: string | null }[] = [];
        const result = await fn(tx, (app, env) => { touched.push({ app, env }); });
        const { rows } = await tx.query<{ version: string | number }>('UPDATE store_version SET version = version + 1 WHERE id = 1 RETURNING version');
        const version = Number(rows[0]!.version);
        // The change log lets routers apply a delta instead of re-reading every environment.
        const seen = new Set<string>();
        for (const t of touched) {
          const key = `${t.app}\u0000${t.env ?? ''}`;
          if (seen.has(key)) continue;
          seen.add(key);
          await tx.query('INSERT INTO changes (version, app, env) VALUES ($1, $2, $3)', [version, t.app, t.env]);
        }
        // Delivered to other processes at commit, never for a rolled-back transaction.
        if (this.#db.kind === 'postgres') await tx.query('SELECT pg_notify($1, $2)', [CHANGE_CHANNEL, String(version)]);
        return { result, version };
      });
    } catch (err) {
      throw mapDbError(err);
    }
    for (const l of this.#listeners) l(out.version);
    return out;
  }

  async read<T>(fn: (q: Queryable) => Promise<T>): Promise<T> {
    try { return await fn(this.#db); } catch (err) { throw mapDbError(err); }
  }

  /** Runs several reads against one consistent view of the store (a repeatable-read transaction). */
  async consistentRead<T>(fn: (q: Queryable) => Promise<T>): Promise<T> {
    return this.#db.transaction(async (tx) => {
      if (this.#db.kind === 'postgres') await tx.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY');
      return fn(tx);
    });
  }

  /** Drops change-log entries at or below `version` (routers older than that re-read everything). */
  async pruneChanges(version: number): Promise<void> {
    await this.read(async (q) => {
      await q.query('DELETE FROM changes WHERE version <= $1', [version]);
      await q.query('UPDATE store_version SET pruned_through = GREATEST(pruned_through, $1) WHERE id = 1', [version]);
    });
  }

  // ---- apps ---------------------------------------------------------------------------------

  async putApp(name: string, spec: unknown): Promise<number> {
    const { version } = await this.write((tx, touch) => {
      touch(name, null);
      return tx.query(
        `INSERT INTO apps (name, spec) VALUES ($1, $2)
         ON CONFLICT (name) DO UPDATE SET spec = EXCLUDED.spec, updated_at = now()`, [name, JSON.stringify(spec)]);
    });
    return version;
  }

  async getAppSpec<T>(name: string): Promise<T | undefined> {
    const { rows } = await this.read((q) => q.query<{ spec: T }>('SELECT spec FROM apps WHERE name = $1', [name]));
    return rows[0]?.spec;
  }

  // ---- environments -------------------------------------------------------------------------

  async listEnvironments(app: string): Promise<EnvironmentRecord[]> {
    const { rows } = await this.read((q) => q.query<Record<string, unknown>>('SELECT * FROM environments WHERE app = $1 ORDER BY kind, name', [app]));
    return rows.map(envRow);
  }

  async getEnvironment(app: string, name: string): Promise<EnvironmentRecord | undefined> {
    const { rows } = await this.read((q) => q.query<Record<string, unknown>>('SELECT * FROM environments WHERE app = $1 AND name = $2', [app, name]));
    return rows[0] ? envRow(rows[0]) : undefined;
  }

  /**
   * Creates an environment and its instance rows in one transaction.
   * @throws `SWY_ENV_EXISTS` (409) when the name is taken (also under a concurrent create).
   */
  async createEnvironment(env: Omit<EnvironmentRecord, 'createdAt'>, instances: Omit<InstanceRecord, 'updatedAt'>[] = []): Promise<number> {
    const { version } = await this.write(async (tx, touch) => {
      touch(env.app, env.name);
      const { rows } = await tx.query(
        `INSERT INTO environments (app, name, kind, parent, overrides, hosts, access) VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (app, name) DO NOTHING RETURNING name`,
        [env.app, env.name, env.kind, env.parent, JSON.stringify(env.overrides), JSON.stringify(env.hosts), JSON.stringify(env.access ?? {})]);
      if (rows.length === 0) throw swyError('SWY_ENV_EXISTS', `environment "${env.name}" already exists`, { env: env.name });
      for (const i of instances) await upsertInstance(tx, i);
    });
    return version;
  }

  /** Deletes an environment and (by cascade) its instance rows. @throws `SWY_ENV_NOT_FOUND`. */
  async deleteEnvironment(app: string, name: string): Promise<number> {
    const { version } = await this.write(async (tx, touch) => {
      touch(app, name);
      const { rows } = await tx.query('DELETE FROM environments WHERE app = $1 AND name = $2 RETURNING name', [app, name]);
      if (rows.length === 0) throw swyError('SWY_ENV_NOT_FOUND', `environment "${name}" does not exist`, { env: name });
    });
    return version;
  }

  // ---- instances (status, written by the runtime) -------------------------------------------

  async listInstances(app: string): Promise<InstanceRecord[]> {
    const { rows } = await this.read((q) => q.query<Record<string, unknown>>('SELECT * FROM instances WHERE app = $1 ORDER BY env, service, replica', [app]));
    return rows.map(instRow);
  }

  /** Records an instance's status if its environment still exists; returns whether it did. */
  async recordInstances(instances: Omit<InstanceRecord, 'updatedAt'>[]): Promise<boolean> {
    if (instances.length === 0) return false; // nothing to record: no write, no version bump
    const { result } = await this.write(async (tx, touch) => {
      let any = false;
      for (const i of instances) {
        const { rows } = await tx.query('SELECT 1 FROM environments WHERE app = $1 AND name = $2', [i.app, i.env]);
        if (rows.length) { await upsertInstance(tx, i); touch(i.app, i.env); any = true; }
      }
      return any;
    });
    return result;
  }

  /** Removes every instance row of the app (start-up: the previous owner's processes are gone). */
  async clearInstances(app: string): Promise<void> {
    await this.write((tx, touch) => { touch(app, null); return tx.query('DELETE FROM instances WHERE app = $1', [app]); });
  }

  /** Sets an environment's access policy. @throws `SWY_ENV_NOT_FOUND`. */
  async setAccess(app: string, name: string, access: Record<string, unknown>): Promise<number> {
    const { version } = await this.write(async (tx, touch) => {
      const { rows } = await tx.query('UPDATE environments SET access = $3 WHERE app = $1 AND name = $2 RETURNING name', [app, name, JSON.stringify(access)]);
      if (rows.length === 0) throw swyError('SWY_ENV_NOT_FOUND', `environment "${name}" does not exist`, { env: name });
      touch(app, name);
    });
    return version;
  }

  /** A named secret, created with `make()` on first use (race-safe: the first writer wins). */
  async secret(name: string, make: () => string): Promise<string> {
    await this.read((q) => q.query('INSERT INTO secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING', [name, make()]));
    const { rows } = await this.read((q) => q.query<{ value: string }>('SELECT value FROM secrets WHERE name = $1', [name]));
    return rows[0]!.value;
  }

  async addAdminToken(t: { id: string; hash: string; name: string }): Promise<void> {
    await this.read((q) => q.query('INSERT INTO admin_tokens (id, hash, name) VALUES ($1, $2, $3)', [t.id, t.hash, t.name]));
  }

  async listAdminTokens(): Promise<{ id: string; hash: string; name: string; createdAt: string }[]> {
    const { rows } = await this.read((q) => q.query<Record<string, unknown>>('SELECT id, hash, name, created_at FROM admin_tokens ORDER BY created_at'));
    return rows.map((r) => ({ id: r.id as string, hash: r.hash as string, name: r.name as string, createdAt: new Date(r.created_at as string).toISOString() }));
  }

  // ---- routers (status: the version each replica serves; never bumps the store version) ----

  async reportRouter(r: { id: string; url: string; version: number }): Promise<void> {
    await this.read((q) => q.query(
      `INSERT INTO routers (id, url, version, seen_at) VALUES ($1, $2, $3, now())
       ON CONFLICT (id) DO UPDATE SET url = EXCLUDED.url, version = EXCLUDED.version, seen_at = now()`, [r.id, r.url, r.version]));
  }

  async removeRouter(id: string): Promise<void> {
    await this.read((q) => q.query('DELETE FROM routers WHERE id = $1', [id]));
  }

  /** Routers seen within `maxAgeMs`. */
  async listRouters(maxAgeMs = 10_000): Promise<RouterRecord[]> {
    const { rows } = await this.read((q) => q.query<Record<string, unknown>>(
      `SELECT id, url, version, seen_at FROM routers WHERE seen_at > now() - ($1::int * interval '1 millisecond') ORDER BY id`, [maxAgeMs]));
    return rows.map((r) => ({ id: r.id as string, url: r.url as string, version: Number(r.version), seenAt: new Date(r.seen_at as string).toISOString() }));
  }

  async close(): Promise<void> {
    await this.#stopFeed?.();
    await this.#db.close();
    this.#listeners.clear();
  }
}

function upsertInstance(tx: Queryable, i: Omit<InstanceRecord, 'updatedAt'>) {
  return tx.query(
    `INSERT INTO instances (app, env, service, replica, host, port, pid, state, restarts) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)
     ON CONFLICT (app, env, service, replica) DO UPDATE SET host = EXCLUDED.host, port = EXCLUDED.port, pid = EXCLUDED.pid,
       state = EXCLUDED.state, restarts = EXCLUDED.restarts, updated_at = now()`,
    [i.app, i.env, i.service, i.replica, i.host, i.port, i.pid, i.state, i.restarts]);
}

function envRow(r: Record<string, unknown>): EnvironmentRecord {
  return {
    app: r.app as string, name: r.name as string, kind: r.kind as 'base' | 'preview', parent: (r.parent as string | null) ?? null,
    overrides: asJson(r.overrides) as EnvironmentRecord['overrides'], hosts: asJson(r.hosts) as string[],
    access: (asJson(r.access) ?? {}) as Record<string, unknown>,
    createdAt: new Date(r.created_at as string).toISOString(),
  };
}

function instRow(r: Record<string, unknown>): InstanceRecord {
  return {
    app: r.app as string, env: r.env as string, service: r.service as string, replica: Number(r.replica),
    host: r.host as string, port: Number(r.port), pid: r.pid == null ? null : Number(r.pid),
    state: r.state as string, restarts: Number(r.restarts), updatedAt: new Date(r.updated_at as string).toISOString(),
  };
}

function asJson(v: unknown): unknown { return typeof v === 'string' ? JSON.parse(v) : v; }

function splitSql(sql: string): string[] {
  return sql.split(/;\s*\n/).map((s) => s.trim()).filter(Boolean);
}

function mapDbError(err: unknown): unknown {
  if (err && typeof err === 'object' && 'code' in err && typeof (err as { code: unknown }).code === 'string' && (err as { code: string }).code.startsWith('SWY_')) return err;
  return err;
}
