// S3BlobStore against a real s3rver (started on port 0 with a temp folder, stopped after; a
// failure to start fails this file, it never skips): the shared contract, plus the S3-only
// behaviour (bytes on the server's disk exactly as sent, prefixes, paging, disk spooling).
import { readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import S3rver from 's3rver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3BlobStore, type S3BlobStoreOptions } from '../../src/blob/index.js';
import { describeBlobStore } from './contract.js';
import { chunked, failingStream, listAll, readAll, removeTempDirs, sha, tempDir, tricky } from './helpers.js';

const BUCKET = 'switchyard-blobs';
let server: S3rver | undefined;
let serverDir = '';
let endpoint = '';
const stores: S3BlobStore[] = [];
let n = 0;

beforeAll(async () => {
  serverDir = tempDir('s3rver');
  const s = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: serverDir, configureBuckets: [{ name: BUCKET }] });
  const addr = await s.run(); // rejects (and fails the file) if s3rver cannot start
  server = s;
  endpoint = `http://127.0.0.1:${addr.port}`;
});

afterAll(async () => {
  for (const s of stores) s.close();
  await server?.close();
  removeTempDirs();
});

/** A store on its own prefix, so tests do not see each other's blobs. */
function makeStore(extra: Partial<S3BlobStoreOptions> = {}): S3BlobStore {
  if (!server) throw new Error('s3rver is not running');
  const s = new S3BlobStore({
    bucket: BUCKET, prefix: `t${++n}/blobs`, endpoint, region: 'us-east-1', forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }, ...extra,
  });
  stores.push(s);
  return s;
}

/** The bytes s3rver keeps on disk for a key. */
function onDisk(key: string): Buffer {
  const parts = key.split('/');
  const name = parts.pop()!;
  return readFileSync(join(serverDir, BUCKET, ...parts, `${name}._S3rver_object`));
}

describeBlobStore('S3BlobStore (s3rver)', () => makeStore());

describe('S3BlobStore specifics', () => {
  it('stores exactly the bytes sent, at <prefix><sha256> (no aws-chunked framing)', async () => {
    const store = makeStore();
    const d = tricky(700_000);
    await store.put(sha(d), chunked(d), d.length);
    const prefix = store.id.slice(`s3://${BUCKET}/`.length);
    expect(prefix).toMatch(/^t\d+\/blobs\/$/);
    expect(onDisk(prefix + sha(d)).equals(d)).toBe(true);
    expect((await readAll(await store.get(sha(d)))).equals(d)).toBe(true);
  });

  it('spools uploads larger than memoryLimit to disk, verified, and cleans up', async () => {
    const store = makeStore({ memoryLimit: 64 * 1024 });
    const d = tricky(1_000_000);
    await store.put(sha(d), chunked(d, 10_000), d.length);
    expect((await readAll(await store.get(sha(d)))).equals(d)).toBe(true);
    const e = tricky(500_000);
    await expect(store.put(sha(e), failingStream(e, 300_000), e.length)).rejects.toThrow('disk on fire');
    await expect(store.put(sha(e), chunked(tricky(500_000)), e.length)).rejects.toMatchObject({ code: 'SWY_BLOB_INTEGRITY' });
    expect(await store.has(sha(e))).toBe(false);
    for (const f of readdirSync(tmpdir()).filter((x) => x.startsWith('switchyard-spool-'))) {
      expect(readdirSync(join(tmpdir(), f)).includes(sha(e)), `${f} left behind`).toBe(false);
    }
  });

  it('lists across pages and ignores keys that are not blobs (stub client: s3rver\'s paging needs DES, gone from Node 20\'s OpenSSL)', async () => {
    const hashes = Array.from({ length: 7 }, (_, i) => sha(`blob ${i}`));
    const keys = [...hashes.map((h) => `p/${h}`), 'p/README', `p/${hashes[0]!.toUpperCase()}`, 'p/sub/x'];
    const seen: { Prefix?: string; MaxKeys?: number; ContinuationToken?: string }[] = [];
    const client = {
      send: async (cmd: ListObjectsV2Command) => {
        if (!(cmd instanceof ListObjectsV2Command)) throw new Error('unexpected command');
        seen.push(cmd.input);
        const from = Number(cmd.input.ContinuationToken ?? 0);
        const to = from + (cmd.input.MaxKeys ?? 1000);
        return { Contents: keys.slice(from, to).map((Key) => ({ Key })), IsTruncated: to < keys.length, NextContinuationToken: String(to) };
      },
      destroy: () => undefined,
    } as unknown as S3Client;
    const store = new S3BlobStore({ bucket: BUCKET, prefix: 'p', client, listPageSize: 3 });
    expect(await listAll(store.list())).toEqual([...hashes].sort());
    expect(seen).toHaveLength(4);
    expect(seen.map((x) => x.ContinuationToken)).toEqual([undefined, '3', '6', '9']);
    expect(seen.every((x) => x.Prefix === 'p/' && x.MaxKeys === 3)).toBe(true);
  });

  it('never returns more than the range asked for, whatever the server sends', async () => {
    const store = makeStore();
    const d = tricky(10_000);
    await store.put(sha(d), d, d.length);
    // s3rver answers `bytes=0-0` (and `bytes=N-0`-style ends) with the whole tail.
    expect((await readAll(await store.get(sha(d), { start: 0, end: 0 }))).equals(d.subarray(0, 1))).toBe(true);
    expect((await readAll(await store.get(sha(d), { start: 9_999, end: 9_999 }))).equals(d.subarray(9_999))).toBe(true);
  });

  it('keeps prefixes apart', async () => {
    const a = makeStore();
    const b = makeStore();
    const d = Buffer.from('only in a');
    await a.put(sha(d), d, d.length);
    expect(await b.has(sha(d))).toBe(false);
    expect(await listAll(b.list())).toEqual([]);
  });

  it('reports an unreachable server as SWY_BLOB_STORE_UNAVAILABLE', async () => {
    const store = new S3BlobStore({ bucket: BUCKET, endpoint: 'http://127.0.0.1:1', forcePathStyle: true, credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
    stores.push(store);
    await expect(store.has(sha('x'))).rejects.toMatchObject({ code: 'SWY_BLOB_STORE_UNAVAILABLE', statusCode: 503 });
    await expect(store.put(sha('x'), Buffer.from('x'), 1)).rejects.toMatchObject({ code: 'SWY_BLOB_STORE_UNAVAILABLE' });
  });
});
