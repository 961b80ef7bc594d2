/**
 * The bounded (CI) fuzz run: `node bench/fuzz.js --seconds 60` against the Router from dist/
 * (npm test builds before vitest runs). bench/fuzz.js does the checking — no crash, no hang, no
 * connection left open, RSS flat, well-formed status lines — and exits 0 only when all hold; here
 * we assert that, and that it printed its summary line.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO } from './harness.js';

const FUZZ = path.join(REPO, 'bench', 'fuzz.js');
const SECONDS = 60;

function run(args: string[], timeoutMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [FUZZ, ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    // The driver stops its own router child; this only guards against the driver itself hanging.
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code, signal) => { clearTimeout(t); resolve({ code, signal, stdout, stderr }); });
  });
}

describe('fuzzing the live router (bounded CI run)', () => {
  it(`${SECONDS} s of mutated requests: no crash, no hang, sockets and RSS back to normal`, async () => {
    expect(existsSync(path.join(REPO, 'dist', 'router', 'router.js')), 'dist/ is missing: run `npm run build` (npm test does)').toBe(true);
    const r = await run(['--seconds', String(SECONDS)], 110_000);
    const summary = /^FUZZ SUMMARY (\{.*\})$/m.exec(r.stdout);
    expect(summary, `no summary line; exit ${r.code ?? r.signal}\nstdout:\n${r.stdout.slice(-4_000)}\nstderr:\n${r.stderr.slice(-4_000)}`).not.toBeNull();
    const s = JSON.parse(summary![1]!) as { ok: boolean; connections: number; hangs: number; malformed: number; statuses: Record<string, number> };
    expect(r.code, `fuzz failed: ${summary![0]}\nstderr:\n${r.stderr.slice(-6_000)}`).toBe(0);
    expect(s).toMatchObject({ ok: true, hangs: 0, malformed: 0 });
    expect(s.connections).toBeGreaterThan(100);
    expect(Object.keys(s.statuses).length).toBeGreaterThan(1); // the mutator reached past the happy path
  }, 120_000);
});
