/**
 * End-to-end regression: `up` (and `migrate`) with a `--data-dir` that cannot be created or
 * written fails fast — exit code 2, `error SWY_DATA_DIR_UNUSABLE: …` naming the path, no stack
 * trace, nothing started. A path on /proc used to hang `up` for good: Node 20's recursive mkdir
 * retries ENOENT under an existing parent forever, in a busy loop deaf to SIGTERM.
 *
 * We run as root, so "not writable" is made with a path under a regular file, a path on /proc
 * and, where `chattr` works, an immutable folder.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killLeftovers, makeWorkspace, processesUnder, runCli, type Workspace } from './harness.js';

/** Fails well before the harness's own timeout: a hang shows up as a rejected runCli. */
const FAST_MS = 15_000;

let ws: Workspace;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'swy-e2e-datadir-paths-'));
fs.writeFileSync(path.join(tmp, 'a-file'), 'not a folder\n');
// An immutable folder where the file system lets `chattr +i` make one (decided before the cases are
// listed: where it cannot, its two cases are not part of the run rather than passing empty).
const immutable: string | undefined = (() => {
  const dir = path.join(tmp, 'immutable');
  fs.mkdirSync(dir);
  return spawnSync('chattr', ['+i', dir]).status === 0 ? dir : undefined;
})();

beforeAll(() => { ws = makeWorkspace('swy-e2e-datadir-'); });

afterAll(() => {
  if (immutable) spawnSync('chattr', ['-i', immutable]);
  killLeftovers(ws.root);
  ws.remove();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const cases: { desc: string; dir: string; reason: RegExp }[] = [
  { desc: 'a folder under a regular file', dir: path.join(tmp, 'a-file', 'state'), reason: /a-file is a file, so no folder can be made under it/ },
  { desc: 'a regular file', dir: path.join(tmp, 'a-file'), reason: /a-file is a file, not a folder/ },
  { desc: 'a path on /proc (used to hang)', dir: `/proc/swy-e2e-${process.pid}/state`, reason: /cannot create \/proc\/swy-e2e-\d+ \(ENOENT/ },
  ...(immutable === undefined ? [] : [
    { desc: 'a new folder in an immutable folder', dir: path.join(immutable, 'state'), reason: /cannot create .*immutable\/state \(EPERM/ },
    { desc: 'an existing immutable folder', dir: immutable, reason: /cannot write in it \(EPERM/ },
  ]),
];

describe('--data-dir that cannot be created or written', () => {
  it.each(cases)('up fails fast on $desc: exit 2, SWY_DATA_DIR_UNUSABLE naming the path', async ({ dir: d, reason }) => {
    const r = await runCli(['--app', ws.app, 'up', '--port', '0', '--admin-port', '0', '--https-port', 'off', '--workers', '0', '--data-dir', d], { timeoutMs: FAST_MS });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stdout).not.toContain('READY');
    const line = r.stderr.split('\n').find((l) => l.startsWith('error SWY_DATA_DIR_UNUSABLE: '));
    expect(line, r.stderr).toBeDefined();
    expect(line).toContain(`cannot use ${d} as the state folder: `);
    expect(line).toMatch(reason);
    expect(line).toContain('pass --data-dir a folder switchyard can create and write');
    expect(r.stderr, 'no stack trace').not.toMatch(/^\s+at /m);
    expect(processesUnder(ws.root)).toEqual([]);
  });

  it('migrate fails the same way on a path on /proc', async () => {
    const d = `/proc/swy-e2e-${process.pid}/migrate`;
    const r = await runCli(['migrate', '--data-dir', d], { timeoutMs: FAST_MS });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain(`error SWY_DATA_DIR_UNUSABLE: cannot use ${d} as the state folder`);
  });

  it('a writable --data-dir that does not exist yet is still created, parents included', async () => {
    const { ensureDataDir } = await import('../../src/main/data-dir.js');
    const d = path.join(tmp, 'new', 'deeper', 'state');
    expect(ensureDataDir(d)).toBe(d);
    expect(fs.statSync(d).isDirectory()).toBe(true);
    expect(fs.readdirSync(d)).toEqual([]); // the write probe is gone
    expect(ensureDataDir(d)).toBe(d); // idempotent
  });
});
