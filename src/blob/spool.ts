/**
 * @module blob/spool
 * Reads an upload completely and verifies it before any byte leaves the process: into memory
 * up to a limit, else into a temp file. Back ends whose servers may keep a partial body (some
 * S3 emulators store an aborted `PutObject`) send only spooled, verified bytes, and a spooled
 * body can be retried by the client.
 */
import { createReadStream } from 'node:fs';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { HashCheck } from './types.js';

/** A verified upload: the bytes in memory, or a factory of streams over a temp file. */
export interface Spooled {
  body: Buffer | (() => Readable);
  /** Removes the temp file, if any. */
  cleanup(): Promise<void>;
}

/** Default bytes kept in memory per upload before spooling to disk. */
export const DEFAULT_MEMORY_LIMIT = 8 * 1024 * 1024;

/**
 * Reads `data` fully, checking it hashes to `hash` and has `size` bytes; rejects with
 * `SWY_BLOB_INTEGRITY`, or with the source's own error, and leaves no temp file behind then.
 */
export async function spool(hash: string, data: Buffer | Readable, size: number, memoryLimit = DEFAULT_MEMORY_LIMIT): Promise<Spooled> {
  const check = new HashCheck(hash, size);
  const none = async () => undefined;
  if (Buffer.isBuffer(data)) {
    check.update(data);
    check.finish();
    return { body: data, cleanup: none };
  }
  if (size <= memoryLimit) {
    const chunks: Buffer[] = [];
    for await (const chunk of data) {
      const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
      check.update(buf);
      chunks.push(buf);
    }
    check.finish();
    return { body: Buffer.concat(chunks, size), cleanup: none };
  }
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-spool-'));
  const cleanup = () => rm(dir, { recursive: true, force: true });
  const file = join(dir, hash);
  try {
    const fh = await open(file, 'wx', 0o600);
    try {
      for await (const chunk of data) {
        const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
        check.update(buf);
        await fh.write(buf);
      }
    } finally {
      await fh.close();
    }
    check.finish();
  } catch (err) {
    await cleanup();
    throw err;
  }
  return { body: () => createReadStream(file), cleanup };
}
