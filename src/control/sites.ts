/**
 * @module control/sites
 * Static site deploys from the control plane's side: which blobs an upload still needs,
 * recording a complete deploy and switching an environment to it (one transaction, then wait
 * until routers serve it), rollback, listing, retention and blob garbage collection.
 * Uploads go blob by blob through the admin API; nothing is served until the deploy is recorded.
 */
import { existsSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { collectGarbage, isBlobHash, uploadDeploy, validateManifest, type BlobStore, type DeployManifest } from '../blob/index.js';
import { SwitchyardError, swyError } from '../errors/index.js';
import type { AppSpec } from '../spec/index.js';
import { activateNewDeploy, listDeploys, referencedBlobHashes, rollbackDeploy, type DeployRecord, type Store } from '../store/index.js';

export interface SitesDeps {
  store: Store;
  blobs: BlobStore;
  spec: AppSpec;
  waitRoutable: (version: number) => Promise<void>;
  log: (msg: string, extra?: object) => void;
}

/** Blobs unreferenced for this long may be collected (an upload in progress is younger). */
const GC_GRACE_MS = 60 * 60 * 1000;

export class Sites {
  constructor(private readonly d: SitesDeps) {}

  #site(name: string) {
    const site = this.d.spec.sites[name];
    if (!site) throw swyError('SWY_NOT_FOUND', `site "${name}" is not in the spec (sites: ${Object.keys(this.d.spec.sites).join(', ') || 'none'})`, { site: name });
    return site;
  }

  /** The subset of `hashes` the blob store does not have yet. */
  async missing(hashes: unknown): Promise<string[]> {
    if (!Array.isArray(hashes) || !hashes.every((h) => typeof h === 'string' && isBlobHash(h))) {
      throw swyError('SWY_BAD_REQUEST', 'body.hashes must be an array of sha256 hex strings');
    }
    const out: string[] = [];
    for (const h of new Set(hashes as string[])) if (!(await this.d.blobs.has(h))) out.push(h);
    return out;
  }

  /** Stores one blob; the store verifies the bytes hash to `hash` (else `SWY_BLOB_INTEGRITY`). */
  async putBlob(hash: string, body: Readable, size: number): Promise<void> {
    if (!isBlobHash(hash)) throw swyError('SWY_BAD_REQUEST', `"${hash}" is not a sha256 hex string`);
    if (!Number.isSafeInteger(size) || size < 0) throw swyError('SWY_BAD_REQUEST', 'a blob upload needs a Content-Length');
    await this.d.blobs.put(hash, body, size);
  }

  /**
   * Records `manifest` as a new deploy and switches `env` to it. A refused deploy changes
   * nothing: `env` keeps serving its current deploy.
   * @throws `SWY_MANIFEST_INVALID` (also when the spec's `notFound` page is not in it),
   *   `SWY_BLOB_NOT_FOUND` (a blob was not uploaded), `SWY_ENV_NOT_FOUND`.
   */
  async deploy(siteName: string, env: string, manifest: unknown, keep?: number): Promise<DeployManifest> {
    const site = this.#site(siteName);
    const m = validateManifest(manifest);
    if (m.site !== siteName) throw swyError('SWY_MANIFEST_INVALID', `manifest is for site "${m.site}", not "${siteName}"`);
    // The router sends this page with every 404 of the site; a deploy without it would answer
    // problem details instead, so it is refused (the spec already checked the path is servable).
    if (site.notFound !== undefined && !Object.hasOwn(m.files, site.notFound)) {
      throw swyError('SWY_MANIFEST_INVALID',
        `deploy of site "${siteName}" has no file "${site.notFound}", the page its spec sends with 404s (sites.${siteName}.notFound); nothing was switched: ${env} keeps serving its current deploy`,
        { site: siteName, path: site.notFound });
    }
    for (const [path, f] of Object.entries(m.files)) {
      // touch: a reused blob restarts its grace period, so a concurrent GC cannot take it.
      if (!(await this.d.blobs.touch(f.hash))) throw swyError('SWY_BLOB_NOT_FOUND', `blob ${f.hash} of "${path}" was not uploaded`, { path, hash: f.hash });
    }
    const version = await activateNewDeploy(this.d.store, this.d.spec.app, env, m, keep);
    await this.d.waitRoutable(version);
    return m;
  }

  async rollback(siteName: string, env: string, to?: string): Promise<{ deployId: string | null }> {
    this.#site(siteName);
    const { version, deployId } = await rollbackDeploy(this.d.store, this.d.spec.app, env, siteName, to);
    await this.d.waitRoutable(version);
    return { deployId };
  }

  list(site?: string): Promise<DeployRecord[]> {
    if (site) this.#site(site);
    return listDeploys(this.d.store, this.d.spec.app, site);
  }

  /** Deletes blobs no stored deploy references and older than the grace period. */
  async collectGarbage(graceMs = GC_GRACE_MS) {
    const referenced = await referencedBlobHashes(this.d.store, this.d.spec.app);
    return collectGarbage(this.d.blobs, referenced, { graceMs });
  }

  /** At start: base gets a first deploy of every site whose folder exists and has none yet. */
  async deployMissingBase(): Promise<void> {
    const existing = new Set((await this.list()).filter((d) => d.activeIn.includes('base')).map((d) => d.site));
    for (const [name, site] of Object.entries(this.d.spec.sites)) {
      if (existing.has(name)) continue;
      if (!existsSync(site.dir)) { this.d.log(`site "${name}": folder ${site.dir} does not exist; run \`switchyard site deploy ${name}\` after building it`); continue; }
      const manifest = await uploadDeploy(this.d.blobs, site.dir, { site: name });
      try {
        await this.deploy(name, 'base', manifest);
      } catch (err) {
        // Like a missing folder: the rest of the app runs; `site deploy` after a fix serves the site.
        if (!(err instanceof SwitchyardError && err.code === 'SWY_MANIFEST_INVALID')) throw err;
        this.d.log(`site "${name}": folder ${site.dir} not deployed: ${err.message}`);
        continue;
      }
      this.d.log(`site "${name}": deployed ${Object.keys(manifest.files).length} files to base`, { deploy: manifest.id });
    }
  }
}
