/**
 * The behaviour every BlobStore must have, run against each back end by its own test file
 * (fs.test.ts on a temp folder, s3.test.ts against a real s3rver).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { collectGarbage, uploadDeploy, type BlobStore, type UploadProgress } from '../../src/blob/index.js';
import { chunked, failingStream, listAll, readAll, sha, sleep, tempDir, tricky, writeSite } from './helpers.js';

/** Runs the contract; `make` returns an empty store (called once per test). */
export function describeBlobStore(name: string, make: () => Promise<BlobStore> | BlobStore): void {
  describe(`${name}: BlobStore contract`, () => {
    it('round-trips bytes exactly, from a Buffer, a chunked stream and an empty blob', async () => {
      const store = await make();
      const a = tricky(300_000);
      const b = tricky(1_500_000);
      const empty = Buffer.alloc(0);
      await store.put(sha(a), a, a.length);
      await store.put(sha(b), chunked(b), b.length);
      await store.put(sha(empty), chunked(empty), 0);
      expect((await readAll(await store.get(sha(a)))).equals(a)).toBe(true);
      expect((await readAll(await store.get(sha(b)))).equals(b)).toBe(true);
      expect((await readAll(await store.get(sha(empty)))).length).toBe(0);
      expect((await store.stat(sha(b)))?.size).toBe(b.length);
      expect(await listAll(store.list())).toEqual([sha(a), sha(b), sha(empty)].sort());
    });

    it('answers has/stat/delete, and deleting a missing blob is fine', async () => {
      const store = await make();
      const d = Buffer.from('hello blob');
      expect(await store.has(sha(d))).toBe(false);
      expect(await store.stat(sha(d))).toBeUndefined();
      await store.put(sha(d), d, d.length);
      expect(await store.has(sha(d))).toBe(true);
      const st = await store.stat(sha(d));
      expect(st?.size).toBe(d.length);
      expect(Math.abs(Date.now() - st!.modifiedAt.getTime())).toBeLessThan(60_000);
      await store.delete(sha(d));
      await store.delete(sha(d));
      expect(await store.has(sha(d))).toBe(false);
      await expect(store.get(sha(d))).rejects.toMatchObject({ code: 'SWY_BLOB_NOT_FOUND' });
    });

    it('rejects bytes that do not match the hash or the size, and stores nothing', async () => {
      const store = await make();
      const d = tricky(200_000);
      const other = tricky(200_000);
      await expect(store.put(sha(d), other, other.length)).rejects.toMatchObject({ code: 'SWY_BLOB_INTEGRITY', statusCode: 422 });
      await expect(store.put(sha(d), chunked(other), other.length)).rejects.toMatchObject({ code: 'SWY_BLOB_INTEGRITY' });
      await expect(store.put(sha(d), chunked(d.subarray(0, 150_000)), d.length)).rejects.toMatchObject({ code: 'SWY_BLOB_INTEGRITY' });
      await expect(store.put(sha(d), chunked(d), d.length - 1)).rejects.toMatchObject({ code: 'SWY_BLOB_INTEGRITY' });
      await sleep(100);
      expect(await store.has(sha(d))).toBe(false);
      expect(await listAll(store.list())).toEqual([]);
    });

    it('leaves no blob when the source stream errors midway', async () => {
      const store = await make();
      const d = tricky(400_000);
      await expect(store.put(sha(d), failingStream(d, 250_000), d.length)).rejects.toThrow('disk on fire');
      await sleep(200); // a server still writing the aborted body would show up now
      expect(await store.has(sha(d))).toBe(false);
      expect(await listAll(store.list())).toEqual([]);
      await store.put(sha(d), chunked(d), d.length); // a retry works
      expect((await readAll(await store.get(sha(d)))).equals(d)).toBe(true);
    });

    it('reads inclusive byte ranges, clamps the end, refuses a start past the end', async () => {
      const store = await make();
      const d = tricky(100_000);
      const h = sha(d);
      await store.put(h, d, d.length);
      expect((await readAll(await store.get(h, { start: 0, end: 0 }))).equals(d.subarray(0, 1))).toBe(true);
      expect((await readAll(await store.get(h, { start: 4096, end: 70_000 }))).equals(d.subarray(4096, 70_001))).toBe(true);
      expect((await readAll(await store.get(h, { start: 99_990, end: 10_000_000 }))).equals(d.subarray(99_990))).toBe(true);
      await expect(store.get(h, { start: 100_000, end: 100_010 })).rejects.toMatchObject({ code: 'SWY_RANGE_NOT_SATISFIABLE' });
      await expect(store.get(h, { start: 10, end: 5 })).rejects.toMatchObject({ code: 'SWY_BAD_REQUEST' });
      await expect(store.get(sha('missing'), { start: 0, end: 1 })).rejects.toMatchObject({ code: 'SWY_BLOB_NOT_FOUND' });
    });

    it('touch renews a blob\'s age and reports a missing blob', async () => {
      const store = await make();
      const d = Buffer.from('touch me');
      expect(await store.touch(sha(d))).toBe(false);
      await store.put(sha(d), d, d.length);
      const before = (await store.stat(sha(d)))!.modifiedAt.getTime();
      await sleep(30);
      expect(await store.touch(sha(d))).toBe(true);
      expect((await store.stat(sha(d)))!.modifiedAt.getTime()).toBeGreaterThan(before);
      expect((await readAll(await store.get(sha(d)))).equals(d)).toBe(true);
    });

    it('refuses malformed blob names', async () => {
      const store = await make();
      for (const bad of ['../../etc/passwd', 'ABC', sha('x').toUpperCase(), sha('x') + '0', '']) {
        await expect(store.put(bad, Buffer.alloc(0), 0)).rejects.toMatchObject({ code: 'SWY_BAD_REQUEST' });
        await expect(store.get(bad)).rejects.toMatchObject({ code: 'SWY_BAD_REQUEST' });
        await expect(store.has(bad)).rejects.toMatchObject({ code: 'SWY_BAD_REQUEST' });
      }
    });

    it('stores the same blob twice concurrently without harm', async () => {
      const store = await make();
      const d = tricky(500_000);
      await Promise.all([store.put(sha(d), chunked(d), d.length), store.put(sha(d), chunked(d), d.length)]);
      expect((await readAll(await store.get(sha(d)))).equals(d)).toBe(true);
      expect(await listAll(store.list())).toEqual([sha(d)]);
    });

    it('uploads a deploy once: unchanged files are stored once across two deploys', async () => {
      const store = await make();
      const dir = tempDir('site');
      const js = tricky(40_000);
      writeSite(dir, { 'index.html': '<h1>v1</h1>', 'app.3f9a1c2b.js': js, 'copy/app.js': js, 'img/logo.png': tricky(5_000) });
      const progress: UploadProgress[] = [];
      const m1 = await uploadDeploy(store, dir, { site: 'web', concurrency: 2, onProgress: (p) => progress.push(p) });
      const last = progress.at(-1)!;
      expect(last).toMatchObject({ filesDone: 4, filesTotal: 4, blobsUploaded: 3, blobsReused: 0 });
      expect(last.bytesDone).toBe(last.bytesTotal);
      expect(last.bytesUploaded).toBe(last.bytesTotal - js.length);
      for (let i = 1; i < progress.length; i++) expect(progress[i]!.filesDone).toBeGreaterThanOrEqual(progress[i - 1]!.filesDone);

      writeFileSync(join(dir, 'index.html'), '<h1>v2</h1>');
      const p2: UploadProgress[] = [];
      const m2 = await uploadDeploy(store, dir, { site: 'web', onProgress: (p) => p2.push(p) });
      expect(p2.at(-1)).toMatchObject({ filesDone: 4, blobsUploaded: 1, blobsReused: 2, bytesUploaded: 11 });
      expect(m2.id).not.toBe(m1.id);
      expect(m2.files['app.3f9a1c2b.js']).toEqual(m1.files['app.3f9a1c2b.js']);
      expect(await listAll(store.list())).toHaveLength(4);
      for (const [path, f] of Object.entries(m2.files)) {
        const bytes = await readAll(await store.get(f.hash));
        expect(sha(bytes), path).toBe(f.hash);
        expect(bytes.length).toBe(f.size);
      }
    });

    it('collects only unreferenced blobs older than the grace period', async () => {
      const store = await make();
      const [keep, old, fresh] = ['referenced', 'old unreferenced', 'young unreferenced'].map((s) => Buffer.from(s));
      for (const d of [keep!, old!]) await store.put(sha(d), d, d.length);
      const hour = 3_600_000;
      const now = Date.now();
      // Nothing is old enough yet: everything survives.
      let r = await collectGarbage(store, new Set([sha(keep!)]), { graceMs: hour });
      expect(r).toMatchObject({ scanned: 2, referenced: 1, young: 1, deleted: [] });
      // Two hours later `old` is collectable; `fresh` (written "now" in that future) is not.
      await store.put(sha(fresh!), fresh!, fresh!.length);
      const later = () => now + 2 * hour;
      r = await collectGarbage(store, new Set([sha(keep!)]), { graceMs: hour, dryRun: true, now: later });
      expect(r.deleted.sort()).toEqual([sha(old!), sha(fresh!)].sort()); // both are > 1 h old at now+2h
      expect(await store.has(sha(old!))).toBe(true); // dry run
      r = await collectGarbage(store, new Set([sha(keep!)]), { graceMs: 3 * hour, now: later });
      expect(r.deleted).toEqual([]);
      expect(r.young).toBe(2);
      r = await collectGarbage(store, new Set([sha(keep!), sha(fresh!)]), { graceMs: hour, now: later });
      expect(r.deleted).toEqual([sha(old!)]);
      expect(await listAll(store.list())).toEqual([sha(keep!), sha(fresh!)].sort());
      await expect(collectGarbage(store, new Set(), { graceMs: -1 })).rejects.toThrow(RangeError);
    });
  });
}
