/**
 * @module runtime/local/process-group
 * Signals whole process groups (an instance's shell and everything it started) and waits until
 * they are gone. Only groups led by processes this runtime spawned are ever signalled.
 * A zombie counts as gone: on Linux `/proc` tells zombies apart (orphans are reaped by PID 1,
 * which on some machines takes a second or more).
 */
import fs from 'node:fs';
import { sleep } from './timing.js';

/** Sends `sig` to process group `pgid`; false if the group no longer exists. */
export function signalGroup(pgid: number, sig: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, sig);
    return true;
  } catch {
    return false;
  }
}

/** Whether any live (non-zombie) process is still in group `pgid`. */
export async function groupAlive(pgid: number): Promise<boolean> {
  try {
    process.kill(-pgid, 0);
  } catch {
    return false;
  }
  if (process.platform !== 'linux') return true;
  let entries: string[];
  try {
    entries = await fs.promises.readdir('/proc');
  } catch {
    return true;
  }
  const states = await Promise.all(
    entries.filter((e) => /^\d+$/.test(e)).map(async (pid) => {
      try {
        const stat = await fs.promises.readFile(`/proc/${pid}/stat`, 'utf8');
        // pid (comm) state ppid pgrp …; comm may hold spaces and parentheses
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        return Number(f[2]) === pgid && f[0] !== 'Z' && f[0] !== 'X';
      } catch {
        return false;
      }
    }),
  );
  return states.some(Boolean);
}

/** Polls every `pollMs` (ms) until group `pgid` is gone or `timeoutMs` (ms) passed; true if gone. */
export async function waitGroupGone(pgid: number, timeoutMs: number, pollMs = 50): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!(await groupAlive(pgid))) return true;
    const left = deadline - Date.now();
    if (left <= 0) return false;
    await sleep(Math.min(pollMs, left));
  }
}

/**
 * Stops process group `pgid`: SIGTERM, wait up to `graceMs` (ms), then SIGKILL and wait until
 * the group is gone (at most 5 s more). Resolves with how it ended.
 */
export async function terminateGroup(pgid: number, graceMs: number): Promise<'gone' | 'terminated' | 'killed'> {
  if (!(await groupAlive(pgid))) return 'gone';
  signalGroup(pgid, 'SIGTERM');
  if (await waitGroupGone(pgid, graceMs)) return 'terminated';
  signalGroup(pgid, 'SIGKILL');
  await waitGroupGone(pgid, 5_000);
  return 'killed';
}
