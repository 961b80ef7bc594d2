// FsBlobStore: the shared contract on a temp folder, plus what only the filesystem layout shows
// (temp files, atomic rename, sweeping), and uploadDeploy's concurrency and changed-file errors.
import { existsSync, readdirSync, readFileSync, utimesSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { collectGarbage, FsBlobStore, uploadDeploy, type BlobStore } from '../../src/blob/index.js';
import { describeBlobStore } from './contract.js';
import { chunked, failingStream, listAll, removeTempDirs, sha, tempDir, tricky, writeSite } from './helpers.js';

afterAll(removeTempDirs);

describeBlobStore('FsBlobStore', () => new FsBlobStore(tempDir('fs')));

describe('FsBlobStore layout', () => {
  it('keeps blobs at objects/<2 hex>/<sha256> and names itself by file URL', async () => {
    const root = tempDir('fs');
    const store = new FsBlobStore(root);
    const d = tricky(10_000);
    await store.put(sha(d), d, d.length);
    expect(readFileSync(join(root, 'objects', sha(d).slice(0, 2), sha(d))).equals(d)).toBe(true);
    expect(store.id).toBe(`file://${root}`);
    expect(readdirSync(join(root, 'tmp'))).toEqual([]);
  });

  it('removes its temp file when an upload fails, and never shows a partial blob', async () => {
    const root = tempDir('fs');
    const store = new FsBlobStore(root);
    const d = tricky(300_000);
    const put = store.put(sha(d), failingStream(d, 200_000), d.length);
    // While the upload runs, the bytes are only in tmp/.
    await new Promise((r) => setTimeout(r, 10));
    expect(await store.has(sha(d))).toBe(false);
    await expect(put).rejects.toThrow('disk on fire');
    expect(readdirSync(join(root, 'tmp'))).toEqual([]);
    expect(existsSync(join(root, 'objects', sha(d).slice(0, 2), sha(d)))).toBe(false);
    await expect(store.put(sha(d), chunked(tricky(300_000)), d.length)).rejects.toMatchObject({ code: 'SWY_BLOB_INTEGRITY' });
    expect(readdirSync(join(root, 'tmp'))).toEqual([]);
  });

  it('sweeps temp files a crashed writer left behind, only when old; list ignores strays', async () => {
    const root = tempDir('fs');
    const store = new FsBlobStore(root);
    mkdirSync(join(root, 'tmp'), { recursive: true });
    mkdirSync(join(root, 'objects', 'zz'), { recursive: true });
    writeFileSync(join(root, 'objects', 'zz', 'not-a-blob'), 'x');
    const old = join(root, 'tmp', `${sha('a')}.0001.part`);
    const young = join(root, 'tmp', `${sha('b')}.0002.part`);
    writeFileSync(old, 'partial');
    writeFileSync(young, 'partial');
    const past = new Date(Date.now() - 7_200_000);
    utimesSync(old, past, past);
    expect(await listAll(store.list())).toEqual([]);
    const r = await collectGarbage(store, new Set(), { graceMs: 3_600_000 });
    expect(r.incompleteRemoved).toBe(1);
    expect(readdirSync(join(root, 'tmp'))).toEqual([`${sha('b')}.0002.part`]);
  });

  it('lists nothing and stats nothing for a folder that does not exist yet', async () => {
    const store = new FsBlobStore(join(tempDir('fs'), 'later'));
    expect(await listAll(store.list())).toEqual([]);
    expect(await store.stat(sha('x'))).toBeUndefined();
    expect(await collectGarbage(store, new Set(), { graceMs: 0 })).toMatchObject({ scanned: 0, deleted: [] });
  });
});

describe('uploadDeploy on the filesystem store', () => {
  it('keeps at most `concurrency` blob operations in flight', async () => {
    const inner = new FsBlobStore(tempDir('fs'));
    let inFlight = 0;
    let peak = 0;
    const track = async <T>(p: () => Promise<T>): Promise<T> => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      try {
        await new Promise((r) => setTimeout(r, 5));
        return await p();
      } finally {
        inFlight--;
      }
    };
    const store: BlobStore = Object.assign(Object.create(inner) as BlobStore, {
      put: (h: string, d: Buffer | NodeJS.ReadableStream, s: number) => track(() => inner.put(h, d as Buffer, s)),
      touch: (h: string) => track(() => inner.touch(h)),
    });
    const dir = tempDir('site');
    writeSite(dir, Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`f${i}.txt`, `file ${i}`])));
    const m = await uploadDeploy(store, dir, { concurrency: 3 });
    expect(Object.keys(m.files)).toHaveLength(20);
    expect(peak).toBeGreaterThan(1);
    expect(peak).toBeLessThanOrEqual(3);
    expect(await listAll(inner.list())).toHaveLength(20);
  });

  it('fails with SWY_BLOB_INTEGRITY naming the file when it changes during the deploy', async () => {
    const inner = new FsBlobStore(tempDir('fs'));
    const dir = tempDir('site');
    writeSite(dir, { 'index.html': 'original', 'b.txt': 'stable' });
    const store: BlobStore = Object.assign(Object.create(inner) as BlobStore, {
      touch: async (h: string) => {
        if (h === sha('original')) writeFileSync(join(dir, 'index.html'), 'edited!!'); // same size, other bytes
        return inner.touch(h);
      },
    });
    await expect(uploadDeploy(store, dir)).rejects.toMatchObject({ code: 'SWY_BLOB_INTEGRITY', message: expect.stringContaining('index.html changed while it was being deployed') });
    expect(await inner.has(sha('original'))).toBe(false);
    expect(await inner.has(sha('edited!!'))).toBe(false);
  });

  it('stops starting uploads when its signal is aborted', async () => {
    const store = new FsBlobStore(tempDir('fs'));
    const dir = tempDir('site');
    writeSite(dir, { 'a.txt': 'a', 'b.txt': 'b' });
    const ac = new AbortController();
    ac.abort();
    await expect(uploadDeploy(store, dir, { signal: ac.signal })).rejects.toMatchObject({ code: 'SWY_CLIENT_ABORTED' });
    expect(await listAll(store.list())).toEqual([]);
  });
});
