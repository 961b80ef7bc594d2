// reapOrphans stops only process groups whose leader carries the recorded instance id.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { isOurInstance, reapOrphans } from '../../src/runtime/local/index.js';

const started: number[] = [];
function sleeper(id: string): number {
  const c = spawn('/bin/sh', ['-c', 'sleep 30 & wait'], { detached: true, stdio: 'ignore', env: { ...process.env, SWITCHYARD_INSTANCE: id } });
  c.unref();
  started.push(c.pid!);
  return c.pid!;
}
const alive = (pid: number) => { try { process.kill(pid, 0); return !/State:\s+Z/.test(readFileSync(`/proc/${pid}/status`, 'utf8')); } catch { return false; } };

afterEach(() => { for (const p of started.splice(0)) { try { process.kill(-p, 'SIGKILL'); } catch { /* gone */ } } });

describe('reapOrphans', () => {
  it('stops a verified orphan group and leaves a PID whose environment does not match', async () => {
    const ours = sleeper('base/api/0');
    const other = sleeper('something-else');
    expect(isOurInstance(ours, 'base/api/0')).toBe(true);
    expect(isOurInstance(other, 'base/api/0')).toBe(false);
    const reaped = await reapOrphans([{ id: 'base/api/0', pid: ours }, { id: 'base/web/0', pid: other }], 2_000);
    expect(reaped).toEqual(['base/api/0']);
    expect(alive(ours)).toBe(false);
    expect(alive(other)).toBe(true);
  });

  it('ignores PIDs that no longer exist', async () => {
    expect(await reapOrphans([{ id: 'x', pid: 2 ** 22 - 1 }])).toEqual([]);
  });
});
