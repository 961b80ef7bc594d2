/**
 * @module store/lock
 * An exclusive lock file holding the owner's PID. A lock whose PID is no longer alive is stale
 * and taken over; a live one is refused with `SWY_STORE_LOCKED`.
 */
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { swyError } from '../errors/index.js';

export interface Lock { release(): void }

export function acquireLock(path: string): Lock {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      let released = false;
      return { release() { if (!released) { released = true; try { unlinkSync(path); } catch { /* already gone */ } } } };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number(readFileSync(path, 'utf8').trim());
      if (pid > 0 && (pid === process.pid || isAlive(pid))) {
        throw swyError('SWY_STORE_LOCKED', `the store at ${path.replace(/\/store\.lock$/, '')} is owned by process ${pid}; stop it first or use another --data-dir`, { pid, lockFile: path });
      }
      unlinkSync(path); // stale: its owner is gone
    }
  }
  throw swyError('SWY_STORE_LOCKED', `could not take the store lock ${path}`, { lockFile: path });
}

function isAlive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; }
}
