/**
 * @module blob/open
 * Chooses the blob backend from one URL, so every process (control plane, router workers,
 * router replicas) opens the same store from the same setting:
 * - none: the local filesystem under `<dataDir>/blobs`;
 * - `file:///abs/path`: the local filesystem there;
 * - `s3://bucket/prefix?endpoint=http://host:port&region=us-east-1&forcePathStyle=true`: S3 or
 *   a compatible server; credentials from `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { swyError } from '../errors/index.js';
import { FsBlobStore } from './fs.js';
import { S3BlobStore } from './s3.js';
import type { BlobStore } from './types.js';

export function openBlobStore(url: string | undefined, dataDir: string): BlobStore {
  if (!url) return new FsBlobStore(join(dataDir, 'blobs'));
  let u: URL;
  try { u = new URL(url); } catch { throw swyError('SWY_BAD_REQUEST', `--blob-url "${url}" is not a URL (expected file:///path or s3://bucket/prefix?endpoint=…)`); }
  if (u.protocol === 'file:') return new FsBlobStore(fileURLToPath(u));
  if (u.protocol === 's3:') {
    const key = process.env.AWS_ACCESS_KEY_ID;
    const secret = process.env.AWS_SECRET_ACCESS_KEY;
    return new S3BlobStore({
      bucket: u.hostname,
      prefix: u.pathname.replace(/^\//, ''),
      ...(u.searchParams.get('endpoint') ? { endpoint: u.searchParams.get('endpoint')! } : {}),
      region: u.searchParams.get('region') ?? 'us-east-1',
      forcePathStyle: u.searchParams.get('forcePathStyle') === 'true',
      ...(key && secret ? { credentials: { accessKeyId: key, secretAccessKey: secret } } : {}),
    });
  }
  throw swyError('SWY_BAD_REQUEST', `--blob-url "${url}": unsupported scheme ${u.protocol} (use file:// or s3://)`);
}
