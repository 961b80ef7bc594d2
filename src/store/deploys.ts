/**
 * @module store/deploys
 * Site deploys: immutable manifests (rows in `deploys`) and the one each environment serves
 * (`site_deploys`). Activating a deploy is one transaction, so an environment switches from one
 * complete deploy to the next; a failed or interrupted upload never reaches these tables.
 */
import { swyError } from '../errors/index.js';
import type { DeployRoute } from '../routing/index.js';
import type { Store } from './store.js';

export interface DeployRecord {
  id: string; app: string; site: string; env: string; files: number; bytes: number; createdAt: string;
  /** Environments serving it now. */
  activeIn: string[];
}

const json = (v: unknown) => (typeof v === 'string' ? JSON.parse(v) : v);

/**
 * Records `manifest` as a deploy of `site` made for `env` and makes `env` serve it, in one
 * transaction. With `keep`, older deploys of the same site and env beyond the newest `keep`
 * that no environment serves are deleted (their blobs become garbage for {@link referencedBlobHashes}).
 * @throws `SWY_ENV_NOT_FOUND` when `env` does not exist.
 */
export async function activateNewDeploy(store: Store, app: string, env: string, manifest: DeployRoute, keep?: number): Promise<number> {
  const files = Object.values(manifest.files);
  const { version } = await store.write(async (tx, touch) => {
    const e = await tx.query('SELECT 1 FROM environments WHERE app = $1 AND name = $2', [app, env]);
    if (e.rows.length === 0) throw swyError('SWY_ENV_NOT_FOUND', `environment "${env}" does not exist`, { env });
    await tx.query('INSERT INTO deploys (id, app, site, env, manifest, files, bytes, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)',
      [manifest.id, app, manifest.site, env, JSON.stringify(manifest), files.length, files.reduce((n, f) => n + f.size, 0), manifest.createdAt]);
    await setActive(tx, app, env, manifest.site, manifest.id);
    touch(app, env);
    if (keep !== undefined) await prune(tx, app, manifest.site, env, keep);
  });
  return version;
}

/**
 * Makes `env` serve an earlier deploy of `site`: `to`, or the one before the current; a preview
 * rolled back past its first own deploy serves base's again (`deployId: null`).
 * @throws `SWY_NOT_FOUND` when there is nothing to roll back to.
 */
export async function rollbackDeploy(store: Store, app: string, env: string, site: string, to?: string): Promise<{ version: number; deployId: string | null }> {
  const { result, version } = await store.write(async (tx, touch) => {
    let target = to;
    if (!target) {
      const cur = await tx.query<{ deploy_id: string }>('SELECT deploy_id FROM site_deploys WHERE app = $1 AND env = $2 AND site = $3', [app, env, site]);
      const current = cur.rows[0]?.deploy_id;
      if (!current) throw swyError('SWY_NOT_FOUND', `site "${site}" has no own deploy in environment "${env}" to roll back from${env === 'base' ? '' : ' (it serves base\'s)'}`, { site, env });
      const prev = await tx.query<{ id: string }>(
        `SELECT id FROM deploys WHERE app = $1 AND site = $2 AND env = $3 AND ($4::text IS NULL OR created_at < (SELECT created_at FROM deploys WHERE id = $4))
         ORDER BY created_at DESC, id DESC LIMIT 1`, [app, site, env, current ?? null]);
      target = prev.rows[0]?.id;
      if (!target && current && env !== 'base') {
        // A preview's first own deploy rolls back to no own deploy: it serves base's again.
        await tx.query('DELETE FROM site_deploys WHERE app = $1 AND env = $2 AND site = $3', [app, env, site]);
        touch(app, env);
        return null;
      }
      if (!target) throw swyError('SWY_NOT_FOUND', `site "${site}" in environment "${env}" has no earlier deploy to roll back to`, { site, env });
    } else {
      const d = await tx.query('SELECT 1 FROM deploys WHERE id = $1 AND app = $2 AND site = $3', [target, app, site]);
      if (d.rows.length === 0) throw swyError('SWY_NOT_FOUND', `deploy "${target}" of site "${site}" does not exist`, { site, deploy: target });
    }
    await setActive(tx, app, env, site, target);
    touch(app, env);
    return target as string | null;
  });
  return { version, deployId: result };
}

async function setActive(tx: { query: (sql: string, p?: unknown[]) => Promise<unknown> }, app: string, env: string, site: string, id: string) {
  await tx.query(
    `INSERT INTO site_deploys (app, env, site, deploy_id) VALUES ($1, $2, $3, $4)
     ON CONFLICT (app, env, site) DO UPDATE SET deploy_id = EXCLUDED.deploy_id, activated_at = now()`, [app, env, site, id]);
}

async function prune(tx: { query: (sql: string, p?: unknown[]) => Promise<unknown> }, app: string, site: string, env: string, keep: number) {
  await tx.query(
    `DELETE FROM deploys d WHERE d.app = $1 AND d.site = $2 AND d.env = $3
       AND d.id NOT IN (SELECT id FROM deploys WHERE app = $1 AND site = $2 AND env = $3 ORDER BY created_at DESC, id DESC LIMIT $4)
       AND NOT EXISTS (SELECT 1 FROM site_deploys s WHERE s.deploy_id = d.id)`, [app, site, env, keep]);
}

export async function listDeploys(store: Store, app: string, site?: string): Promise<DeployRecord[]> {
  return store.read(async (q) => {
    const { rows } = await q.query<Record<string, unknown>>(
      `SELECT d.id, d.app, d.site, d.env, d.files, d.bytes, d.created_at,
              COALESCE((SELECT json_agg(s.env ORDER BY s.env) FROM site_deploys s WHERE s.deploy_id = d.id), '[]'::json) AS active_in
       FROM deploys d WHERE d.app = $1 AND ($2::text IS NULL OR d.site = $2) ORDER BY d.site, d.created_at DESC, d.id DESC`, [app, site ?? null]);
    return rows.map((r) => ({
      id: r.id as string, app: r.app as string, site: r.site as string, env: r.env as string, files: Number(r.files), bytes: Number(r.bytes),
      createdAt: new Date(r.created_at as string).toISOString(), activeIn: json(r.active_in) as string[],
    }));
  });
}

/** Every blob hash some stored deploy references (what blob garbage collection must keep). */
export async function referencedBlobHashes(store: Store, app: string): Promise<Set<string>> {
  return store.read(async (q) => {
    const { rows } = await q.query<{ manifest: unknown }>('SELECT manifest FROM deploys WHERE app = $1', [app]);
    const out = new Set<string>();
    for (const r of rows) for (const f of Object.values((json(r.manifest) as DeployRoute).files)) out.add(f.hash);
    return out;
  });
}
