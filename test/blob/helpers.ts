/**
 * Shared helpers of the blob tests: temp folders, site folders, streams that fail midway, and
 * byte-exact reads.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';

const made: string[] = [];

/** A fresh temp folder, removed by {@link removeTempDirs}. */
export function tempDir(tag = 'blob'): string {
  const d = mkdtempSync(join(tmpdir(), `swy-${tag}-`));
  made.push(d);
  return d;
}

export function removeTempDirs(): void {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
}

/** Writes `files` (site-relative path → content) under `dir`. */
export function writeSite(dir: string, files: Record<string, string | Buffer>): void {
  for (const [rel, content] of Object.entries(files)) {
    const p = join(dir, rel);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, content);
  }
}

export function sha(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Random bytes salted with HTTP chunk-framing look-alikes, so framing stored as data would show. */
export function tricky(size: number): Buffer {
  const b = randomBytes(size);
  const marker = Buffer.from('\r\n0\r\n\r\n;chunk-signature=');
  for (let at = 0; at + marker.length < size; at += 4099) marker.copy(b, at);
  return b;
}

/** A stream of `data` in `chunk`-byte pieces with a pause between them. */
export function chunked(data: Buffer, chunk = 64 * 1024): Readable {
  return Readable.from((async function* () {
    for (let i = 0; i < data.length; i += chunk) {
      yield data.subarray(i, i + chunk);
      await new Promise((r) => setImmediate(r));
    }
  })());
}

/** A stream that sends the first `failAfter` bytes of `data`, then errors with "disk on fire". */
export function failingStream(data: Buffer, failAfter: number): Readable {
  return Readable.from((async function* () {
    for (let i = 0; i < failAfter; i += 16 * 1024) {
      yield data.subarray(i, Math.min(i + 16 * 1024, failAfter));
      await new Promise((r) => setTimeout(r, 2));
    }
    throw new Error('disk on fire');
  })());
}

export async function readAll(r: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export async function listAll(it: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const h of it) out.push(h);
  return out.sort();
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
