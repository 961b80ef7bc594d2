/**
 * @module blob/upload
 * Uploads a site folder as a deploy: builds its manifest, then sends only the blobs the store
 * lacks. Blobs are content-addressed, so a file unchanged between deploys (or repeated within
 * one) is stored once. A blob the store already has is {@link BlobStore.touch}ed instead, which
 * restarts its garbage-collection grace period (see {@link collectGarbage}).
 */
import { createReadStream } from 'node:fs';
import { swyError, SwitchyardError } from '../errors/index.js';
import { buildManifestWithSources, mapLimit, type BuildManifestOptions, type DeployManifest } from './manifest.js';
import type { BlobStore } from './types.js';

/** Progress of {@link uploadDeploy}, reported after each distinct blob is settled. */
export interface UploadProgress {
  /** Files (manifest entries) whose blob is in the store, uploaded or already there. */
  filesDone: number;
  filesTotal: number;
  bytesDone: number;
  bytesTotal: number;
  /** Blobs actually sent by this deploy, and their bytes. */
  blobsUploaded: number;
  bytesUploaded: number;
  /** Blobs the store already had. */
  blobsReused: number;
}

/** Options of {@link uploadDeploy}. */
export interface UploadOptions extends BuildManifestOptions {
  /** Blobs checked or uploaded at once; default 8. */
  concurrency?: number;
  onProgress?: (p: UploadProgress) => void;
  /** Stops starting new uploads; in-flight ones finish, then the call rejects. */
  signal?: AbortSignal;
}

/**
 * Builds the manifest of `dir` and makes sure every blob it names is in `store`. Resolves with
 * the manifest once all blobs are stored; the caller records it (e.g. in the database). A file
 * that changes between hashing and upload fails with `SWY_BLOB_INTEGRITY` naming the path.
 */
export async function uploadDeploy(store: BlobStore, dir: string, opts: UploadOptions = {}): Promise<DeployManifest> {
  const { manifest, sources } = await buildManifestWithSources(dir, opts);
  const blobs = new Map<string, { path: string; size: number; files: number }>();
  let bytesTotal = 0;
  const entries = Object.entries(manifest.files);
  for (const [path, f] of entries) {
    bytesTotal += f.size;
    const b = blobs.get(f.hash);
    if (b) b.files++;
    else blobs.set(f.hash, { path, size: f.size, files: 1 });
  }
  const p: UploadProgress = { filesDone: 0, filesTotal: entries.length, bytesDone: 0, bytesTotal, blobsUploaded: 0, bytesUploaded: 0, blobsReused: 0 };
  opts.onProgress?.({ ...p });
  await mapLimit([...blobs], opts.concurrency ?? 8, async ([hash, b]) => {
    if (opts.signal?.aborted) throw swyError('SWY_CLIENT_ABORTED', 'deploy upload was cancelled', { site: manifest.site });
    if (await store.touch(hash)) {
      p.blobsReused++;
    } else {
      try {
        await store.put(hash, createReadStream(sources.get(b.path)!), b.size);
      } catch (err) {
        if (err instanceof SwitchyardError && err.code === 'SWY_BLOB_INTEGRITY') {
          throw swyError('SWY_BLOB_INTEGRITY', `${b.path} changed while it was being deployed: ${err.message}`, { ...err.extras, path: b.path }, err);
        }
        throw err;
      }
      p.blobsUploaded++;
      p.bytesUploaded += b.size;
    }
    p.filesDone += b.files;
    p.bytesDone += b.size * b.files;
    opts.onProgress?.({ ...p });
  });
  return manifest;
}
