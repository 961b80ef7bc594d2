/**
 * @module main/access-log-path
 * Checks the access-log destination (`--access-log`) before anything starts, failing fast with
 * `SWY_ACCESS_LOG_UNUSABLE` naming the flag, the path and why. Without it a path that cannot be
 * opened surfaced only when the writer (pino's sonic-boom, in every router worker) opened it
 * asynchronously: an unhandled `EEXIST: mkdir` crash of the worker after the base instances were
 * up, and `router worker exited (1) before listening`.
 */
import { closeSync, openSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { swyError } from '../errors/index.js';
import { describe, makeFolders, statOrUndefined } from './data-dir.js';

/**
 * Makes sure the access log can be appended to: `stdout` and '' (none) pass as they are; a path
 * gets its missing parent folders (one level at a time, see `makeFolders`) and is opened for
 * append once (so it exists afterwards, empty if it was new).
 * @returns the destination, a path made absolute (router workers open the same file).
 * @throws `SWY_ACCESS_LOG_UNUSABLE` with the path and the reason (a file in the way, a folder at
 *   the path, a read-only file system, no permission…).
 */
export function ensureAccessLog(dest: string, flag = '--access-log'): string {
  if (dest === '' || dest === 'stdout') return dest;
  const abs = resolve(dest);
  const fail = (why: string, cause?: unknown) => swyError('SWY_ACCESS_LOG_UNUSABLE',
    `cannot use ${abs} as the access log (${flag}): ${why}; pass ${flag} a file path switchyard can create and append to, "stdout" or "off"`,
    { path: abs }, cause);
  if (statOrUndefined(abs)?.isDirectory()) throw fail(`${abs} is a folder, not a file`);
  makeFolders(dirname(abs), fail);
  try {
    closeSync(openSync(abs, 'a'));
  } catch (err) {
    throw fail(`cannot open it for append (${describe(err)})`, err);
  }
  return abs;
}
