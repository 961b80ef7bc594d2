/**
 * @module blob/fs
 * {@link BlobStore} on a local folder. Layout: `objects/<first 2 hex>/<sha256>` for blobs and
 * `tmp/` for uploads in flight. A blob is written to a temp file in `tmp/`, hashed while it is
 * written, fsynced, then renamed into `objects/` (same filesystem, so the rename is atomic) and
 * the directory is fsynced: a crash or an erroring source never leaves a partial blob under its
 * hash, only a temp file that {@link FsBlobStore.sweepIncomplete} removes.
 */
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, rename, stat, unlink, utimes, type FileHandle } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Readable } from 'node:stream';
import { swyError } from '../errors/index.js';
import { assertBlobHash, assertBlobSize, clampRange, HashCheck, isBlobHash, type BlobStat, type BlobStore, type ByteRange } from './types.js';

/** Blob store on a local folder (created on first write). */
export class FsBlobStore implements BlobStore {
  readonly id: string;
  private readonly root: string;

  /** @param rootDir folder of the store; `objects/` and `tmp/` are created inside it. */
  constructor(rootDir: string) {
    this.root = resolve(rootDir);
    this.id = pathToFileURL(this.root).href;
  }

  private pathOf(hash: string): string {
    assertBlobHash(hash);
    return join(this.root, 'objects', hash.slice(0, 2), hash);
  }

  async put(hash: string, data: Buffer | Readable, size: number): Promise<void> {
    const final = this.pathOf(hash);
    assertBlobSize(size);
    const tmpDir = join(this.root, 'tmp');
    await mkdir(tmpDir, { recursive: true });
    const tmp = join(tmpDir, `${hash}.${randomBytes(6).toString('hex')}.part`);
    const check = new HashCheck(hash, size);
    let fh: FileHandle | undefined = await open(tmp, 'wx', 0o644);
    try {
      if (Buffer.isBuffer(data)) {
        check.update(data);
        await fh.writeFile(data);
      } else {
        for await (const chunk of data) {
          const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
          check.update(buf);
          await fh.write(buf);
        }
      }
      check.finish();
      await fh.sync();
      await fh.close();
      fh = undefined;
      const dir = join(this.root, 'objects', hash.slice(0, 2));
      await mkdir(dir, { recursive: true });
      await rename(tmp, final);
      await syncDir(dir);
    } catch (err) {
      await fh?.close().catch(() => undefined);
      await unlink(tmp).catch(() => undefined);
      throw err;
    }
  }

  async has(hash: string): Promise<boolean> {
    return (await this.stat(hash)) !== undefined;
  }

  async get(hash: string, range?: ByteRange): Promise<Readable> {
    const path = this.pathOf(hash);
    let fh: FileHandle;
    try {
      fh = await open(path, 'r');
    } catch (err) {
      throw notFoundOr(err, hash);
    }
    try {
      const { size } = await fh.stat();
      if (!range) return createReadStream('', { fd: fh, autoClose: true });
      const r = clampRange(hash, range, size);
      return createReadStream('', { fd: fh, start: r.start, end: r.end, autoClose: true });
    } catch (err) {
      await fh.close().catch(() => undefined);
      throw err;
    }
  }

  async stat(hash: string): Promise<BlobStat | undefined> {
    const path = this.pathOf(hash);
    try {
      const s = await stat(path);
      return { size: s.size, modifiedAt: s.mtime };
    } catch (err) {
      if (isNoEnt(err)) return undefined;
      throw unavailable(err, hash);
    }
  }

  async touch(hash: string): Promise<boolean> {
    const path = this.pathOf(hash);
    const now = new Date();
    try {
      await utimes(path, now, now);
      return true;
    } catch (err) {
      if (isNoEnt(err)) return false;
      throw unavailable(err, hash);
    }
  }

  async delete(hash: string): Promise<void> {
    const path = this.pathOf(hash);
    try {
      await unlink(path);
    } catch (err) {
      if (!isNoEnt(err)) throw unavailable(err, hash);
    }
  }

  async *list(): AsyncIterable<string> {
    const objects = join(this.root, 'objects');
    for (const shard of await readdirOrEmpty(objects)) {
      if (!/^[0-9a-f]{2}$/.test(shard)) continue;
      for (const name of await readdirOrEmpty(join(objects, shard))) {
        if (isBlobHash(name) && name.startsWith(shard)) yield name;
      }
    }
  }

  /** Deletes temp files of uploads that started more than `olderThanMs` ago (crashed writers). */
  async sweepIncomplete(olderThanMs: number): Promise<number> {
    const tmpDir = join(this.root, 'tmp');
    const cutoff = Date.now() - olderThanMs;
    let removed = 0;
    for (const name of await readdirOrEmpty(tmpDir)) {
      const p = join(tmpDir, name);
      const s = await stat(p).catch(() => undefined);
      if (s && s.isFile() && s.mtimeMs < cutoff) {
        await unlink(p).then(() => removed++, () => undefined);
      }
    }
    return removed;
  }
}

async function syncDir(dir: string): Promise<void> {
  const d = await open(dir, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}

async function readdirOrEmpty(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    if (isNoEnt(err)) return [];
    throw err;
  }
}

function isNoEnt(err: unknown): boolean {
  return (err as NodeJS.ErrnoException)?.code === 'ENOENT';
}

function notFoundOr(err: unknown, hash: string) {
  if (isNoEnt(err)) return swyError('SWY_BLOB_NOT_FOUND', `blob ${hash} is not in the store`, { hash });
  return unavailable(err, hash);
}

function unavailable(err: unknown, hash: string) {
  return swyError('SWY_BLOB_STORE_UNAVAILABLE', `blob store I/O failed for ${hash}: ${(err as Error).message}`, { hash }, err);
}
