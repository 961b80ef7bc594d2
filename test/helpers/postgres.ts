/**
 * Starts a real PostgreSQL (Debian's postgresql-15 binaries) on a free port in a temp folder
 * for one test file, and stops it by PID after. As root, the server runs as user `postgres`.
 * Under CI=true a missing PostgreSQL is an error, never a skip.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestPostgres {
  url: string;
  port: number;
  /** Stops the server (fast shutdown) — for outage tests; `start()` brings it back on the same port. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops for good and removes the data folder. */
  destroy(): Promise<void>;
}

export function findPostgresBin(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'postgres'))).sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(root, versions[0], 'bin') : undefined;
}

export function postgresAvailable(): boolean {
  const bin = findPostgresBin();
  if (!bin && process.env.CI === 'true') throw new Error('PostgreSQL binaries not found under /usr/lib/postgresql (apt-get install postgresql); required under CI=true');
  return bin !== undefined;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => { const p = (s.address() as { port: number }).port; s.close(() => resolve(p)); });
  });
}

const asRoot = process.getuid?.() === 0;
// As root, PostgreSQL refuses to run: run it as user postgres (the child's own PID, no wrapper).
const ids = (): { uid?: number; gid?: number } => asRoot
  ? { uid: Number(execFileSync('id', ['-u', 'postgres']).toString().trim()), gid: Number(execFileSync('id', ['-g', 'postgres']).toString().trim()) }
  : {};
function run(bin: string, args: string[]): void {
  execFileSync(bin, args, { stdio: 'pipe', ...ids(), cwd: '/' });
}

export async function startPostgres(): Promise<TestPostgres> {
  const bin = findPostgresBin();
  if (!bin) throw new Error('PostgreSQL binaries not found under /usr/lib/postgresql');
  const dir = mkdtempSync(join(tmpdir(), 'swy-pg-'));
  chmodSync(dir, 0o755);
  const data = join(dir, 'data');
  if (asRoot) { const { uid, gid } = ids(); chownSync(dir, uid!, gid!); }
  run(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
  const port = await freePort();
  let child: ChildProcess | undefined;
  const start = async () => {
    const args = ['-D', data, '-p', String(port), '-k', dir, '-h', '127.0.0.1', '-F', '-c', 'fsync=off', '-c', 'max_connections=200'];
    child = spawn(join(bin, 'postgres'), args, { stdio: 'ignore', ...ids(), cwd: '/' });
    const deadline = Date.now() + 20_000;
    for (;;) {
      try { execFileSync(join(bin, 'pg_isready'), ['-h', '127.0.0.1', '-p', String(port)], { stdio: 'pipe' }); return; } catch { /* not yet */ }
      if (Date.now() > deadline) throw new Error('PostgreSQL did not become ready in 20 s');
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const stop = async () => {
    const c = child; child = undefined;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise<void>((r) => c.once('exit', () => r()));
    c.kill('SIGINT'); // fast shutdown
    const t = setTimeout(() => c.kill('SIGKILL'), 10_000);
    await exited; clearTimeout(t);
    for (let i = 0; i < 200 && existsSync(join(data, 'postmaster.pid')); i++) await new Promise((r) => setTimeout(r, 50));
  };
  await start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`, port, stop, start,
    async destroy() { await stop(); rmSync(dir, { recursive: true, force: true }); },
  };
}
