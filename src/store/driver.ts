/**
 * @module store/driver
 * The SQL driver seam: the store speaks portable SQL (PostgreSQL dialect, `$n` parameters)
 * to a {@link SqlDriver}. PGlite is the embedded default; a `pg` driver serves PostgreSQL.
 */
export interface SqlRows<T> { rows: T[] }

export interface Queryable {
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<SqlRows<T>>;
}

export interface SqlDriver extends Queryable {
  readonly kind: 'pglite' | 'postgres';
  /** Runs `fn` in one transaction: commits when it resolves, rolls back when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /** Runs a multi-statement script without parameters (migrations). */
  exec(sql: string): Promise<void>;
  close(): Promise<void>;
}
