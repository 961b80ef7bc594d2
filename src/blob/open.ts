/**
 * @module blob/open
 * Chooses the blob backend from one URL, so every process (control plane, router workers,
 * router replicas) opens the same store from the same setting:
 * - none: the local filesystem under `<dataDir>/blobs`;
 * - `file:///abs/path`: the local filesystem there;
 * - `s3://bucket/prefix?endpoint=http://host:port&region=us-east-1&forcePathStyle=true`: S3 or
 *   a compatible server; credentials from `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`.
 *
 * {@link parseBlobUrl} checks a URL without opening anything: the composition roots call it
 * before they start any part, so a bad `--blob-url` fails at once (not in a router worker).
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { swyError } from '../errors/index.js';
import { FsBlobStore } from './fs.js';
import { S3BlobStore } from './s3.js';
import type { BlobStore } from './types.js';

/** The forms `--blob-url` accepts, as error messages name them. */
export const BLOB_URL_FORMS = 'file:///absolute/path or s3://bucket[/prefix][?endpoint=http://host:port&region=…&forcePathStyle=true]';

/** Where a blob URL points. */
export type BlobLocation =
  | { kind: 'fs'; dir: string }
  | { kind: 's3'; bucket: string; prefix: string; endpoint?: string; region: string; forcePathStyle: boolean };

/**
 * Parses a blob store URL (undefined or '' = the default folder `<dataDir>/blobs`).
 * @throws `SWY_BAD_REQUEST` naming `--blob-url`, the value, what is wrong and the accepted forms.
 */
export function parseBlobUrl(url: string | undefined, dataDir: string): BlobLocation {
  if (!url) return { kind: 'fs', dir: join(dataDir, 'blobs') };
  const bad = (why: string) => swyError('SWY_BAD_REQUEST',
    `--blob-url "${url}" is not a usable blob store URL: ${why}; expected ${BLOB_URL_FORMS} (the default is <data-dir>/blobs; also read from $SWITCHYARD_BLOB_URL)`, { blobUrl: url });
  let u: URL;
  try { u = new URL(url); } catch { throw bad('it is not a URL'); }
  if (u.protocol === 'file:') {
    try {
      return { kind: 'fs', dir: fileURLToPath(u) };
    } catch (err) {
      throw bad(`a file URL names a local path, with no host (${(err as Error).message})`);
    }
  }
  if (u.protocol === 's3:') {
    if (!u.hostname) throw bad('an s3 URL needs a bucket name (s3://bucket/…)');
    const endpoint = u.searchParams.get('endpoint');
    if (endpoint !== null) {
      let e: URL | undefined;
      try { e = new URL(endpoint); } catch { /* refused below */ }
      if (e?.protocol !== 'http:' && e?.protocol !== 'https:') throw bad(`endpoint "${endpoint}" is not an http:// or https:// URL`);
    }
    const pathStyle = u.searchParams.get('forcePathStyle');
    if (pathStyle !== null && pathStyle !== 'true' && pathStyle !== 'false') throw bad(`forcePathStyle is "${pathStyle}", expected true or false`);
    return {
      kind: 's3', bucket: u.hostname, prefix: u.pathname.replace(/^\//, ''),
      ...(endpoint ? { endpoint } : {}),
      region: u.searchParams.get('region') || 'us-east-1',
      forcePathStyle: pathStyle === 'true',
    };
  }
  throw bad(`unsupported scheme "${u.protocol}"`);
}

export function openBlobStore(url: string | undefined, dataDir: string): BlobStore {
  const loc = parseBlobUrl(url, dataDir);
  if (loc.kind === 'fs') return new FsBlobStore(loc.dir);
  const key = process.env.AWS_ACCESS_KEY_ID;
  const secret = process.env.AWS_SECRET_ACCESS_KEY;
  const { kind: _kind, ...s3 } = loc;
  return new S3BlobStore({ ...s3, ...(key && secret ? { credentials: { accessKeyId: key, secretAccessKey: secret } } : {}) });
}
