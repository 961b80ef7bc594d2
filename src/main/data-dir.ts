/**
 * @module main/data-dir
 * Makes sure the state folder (`--data-dir`) exists and is writable before anything opens it,
 * failing fast with `SWY_DATA_DIR_UNUSABLE` naming the path.
 *
 * Why not `mkdirSync(dir, { recursive: true })`: on Node 20 it never returns when `mkdir`
 * answers ENOENT under a parent that exists (e.g. any path on /proc): it retries forever in a
 * busy loop, and `up` hangs, deaf to SIGTERM. So the folders are made one level at a time.
 */
import { mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { swyError } from '../errors/index.js';

/**
 * Creates `dir` (and its missing parents) and checks a file can be written in it.
 * @returns the absolute path.
 * @throws `SWY_DATA_DIR_UNUSABLE` with the path and the reason (a file in the way, a read-only
 *   file system, no permission…).
 */
export function ensureDataDir(dir: string, flag = '--data-dir'): string {
  const abs = resolve(dir);
  const fail = (why: string, cause?: unknown) => swyError('SWY_DATA_DIR_UNUSABLE',
    `cannot use ${abs} as the state folder: ${why}; pass ${flag} a folder switchyard can create and write`, { path: abs }, cause);
  makeFolders(abs, fail);
  const probe = resolve(abs, `.write-test-${process.pid}`);
  try {
    writeFileSync(probe, '');
  } catch (err) {
    throw fail(`cannot write in it (${describe(err)})`, err);
  } finally {
    try { rmSync(probe, { force: true }); } catch { /* nothing was written */ }
  }
  return abs;
}

/**
 * Creates the absolute folder `abs` and its missing parents, one level at a time.
 * @throws `fail(why)`: a file in the way, or a level that cannot be created (with the reason).
 */
export function makeFolders(abs: string, fail: (why: string, cause?: unknown) => Error): void {
  // Walk up to the nearest existing ancestor, then create the missing levels top-down.
  const missing: string[] = [];
  let p = abs;
  for (;;) {
    const st = statOrUndefined(p);
    if (st?.isDirectory()) break;
    if (st) throw fail(`${p} is ${p === abs ? 'a file, not a folder' : 'a file, so no folder can be made under it'}`);
    const parent = dirname(p);
    if (parent === p) throw fail('no folder of the path exists');
    missing.unshift(p);
    p = parent;
  }
  for (const m of missing) {
    try {
      mkdirSync(m);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST' && statOrUndefined(m)?.isDirectory()) continue; // made concurrently
      throw fail(`cannot create ${m} (${describe(err)})`, err);
    }
  }
}

export function statOrUndefined(p: string) {
  try {
    return statSync(p);
  } catch {
    return undefined;
  }
}

/** `CODE: what it means` for a file system error. */
export function describe(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const what: Record<string, string> = {
    EACCES: 'permission denied', EPERM: 'operation not permitted', EROFS: 'read-only file system',
    ENOENT: 'the file system does not allow it', ENOTDIR: 'a part of the path is not a folder', ENOSPC: 'no space left',
  };
  return e.code ? `${e.code}: ${what[e.code] ?? e.message}` : String(e?.message ?? err);
}
