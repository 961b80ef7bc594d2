/**
 * @module blob/gc
 * Garbage collection of blobs no deploy references.
 *
 * **The rule.** A blob is deleted only when (1) its hash is not in `referencedHashes` and (2)
 * its `modifiedAt` — the time it was written or last {@link BlobStore.touch}ed — is at least
 * `graceMs` old when the collector looks at it. Condition (2) protects deploys in progress:
 * {@link uploadDeploy} writes or touches every blob of a deploy before it returns the
 * manifest, and the manifest enters the referenced set only when the caller commits it. So a
 * deploy is safe as long as
 *
 *     graceMs > (longest deploy: upload + commit of the manifest) + (longest GC run) + clock skew
 *
 * (S3's `LastModified` is the server's clock). One hour is a sensible default; never use 0
 * while deploys can run. Compute `referencedHashes` from **all** manifests that any
 * environment, rollback history or pending deploy may still point to, right before calling.
 * The collector re-reads each candidate's age just before deleting it; a deploy that touches
 * the blob in the few milliseconds between that read and the delete can still lose it, which
 * the caller can rule out by checking `has()` for every blob after committing a manifest, or
 * by not running GC concurrently with deploys.
 */
import type { BlobStore } from './types.js';

/** Options of {@link collectGarbage}. */
export interface GcOptions {
  /** Minimum age of an unreferenced blob before it is deleted; see the module doc. */
  graceMs: number;
  /** Report what would be deleted without deleting. */
  dryRun?: boolean;
  /** Clock, for tests; default `Date.now`. */
  now?: () => number;
}

/** What a collection did. */
export interface GcResult {
  /** Blobs listed. */
  scanned: number;
  /** Referenced blobs kept. */
  referenced: number;
  /** Unreferenced blobs kept because they are younger than the grace period. */
  young: number;
  /** Hashes deleted (or that would be, with `dryRun`). */
  deleted: string[];
  /** Leftovers of interrupted uploads removed (stores with `sweepIncomplete`). */
  incompleteRemoved: number;
}

/** Deletes unreferenced blobs older than `graceMs` from `store` (see the module doc for the rule). */
export async function collectGarbage(store: BlobStore, referencedHashes: ReadonlySet<string>, opts: GcOptions): Promise<GcResult> {
  if (!Number.isFinite(opts.graceMs) || opts.graceMs < 0) throw new RangeError(`graceMs must be a non-negative number, got ${opts.graceMs}`);
  const now = opts.now ?? Date.now;
  const result: GcResult = { scanned: 0, referenced: 0, young: 0, deleted: [], incompleteRemoved: 0 };
  for await (const hash of store.list()) {
    result.scanned++;
    if (referencedHashes.has(hash)) {
      result.referenced++;
      continue;
    }
    const st = await store.stat(hash);
    if (!st) continue; // deleted meanwhile
    if (now() - st.modifiedAt.getTime() < opts.graceMs) {
      result.young++;
      continue;
    }
    if (!opts.dryRun) await store.delete(hash);
    result.deleted.push(hash);
  }
  if (!opts.dryRun && store.sweepIncomplete) result.incompleteRemoved = await store.sweepIncomplete(opts.graceMs);
  return result;
}
