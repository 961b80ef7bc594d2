/**
 * @module runtime/local/reap
 * Stops instances a previous owner left running (it crashed or was SIGKILLed, so its detached
 * process groups survived). Recorded PIDs may have been reused by now, so a group is signalled
 * only when its leader's environment still carries `SWITCHYARD_INSTANCE=<the recorded id>`.
 */
import fs from 'node:fs';
import { signalGroup, waitGroupGone } from './process-group.js';

export interface OrphanCandidate { id: string; pid: number }

/** Whether `pid` is a process this runtime started for instance `id` (Linux `/proc`). */
export function isOurInstance(pid: number, id: string): boolean {
  try {
    const env = fs.readFileSync(`/proc/${pid}/environ`, 'latin1');
    return env.split('\0').includes(`SWITCHYARD_INSTANCE=${id}`);
  } catch {
    return false; // gone, or not ours to read
  }
}

/** SIGTERM, then SIGKILL after `graceMs`, every verified orphan group; returns the ids reaped. */
export async function reapOrphans(candidates: readonly OrphanCandidate[], graceMs = 3_000): Promise<string[]> {
  const ours = candidates.filter((c) => c.pid > 1 && isOurInstance(c.pid, c.id));
  for (const c of ours) signalGroup(c.pid, 'SIGTERM');
  await Promise.all(ours.map(async (c) => {
    if (!(await waitGroupGone(c.pid, graceMs))) { signalGroup(c.pid, 'SIGKILL'); await waitGroupGone(c.pid, 2_000); }
  }));
  return ours.map((c) => c.id);
}
