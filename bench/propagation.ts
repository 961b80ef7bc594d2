/**
 * Propagation at scale (issue: production store): one PostgreSQL holding N environments
 * (default 100,000), one control plane and two router replicas as separate processes. Measures
 * the time from an API call that creates an environment to its first 200 on BOTH routers, and
 * the API call's own latency (which already waits for both routers' ACK).
 *
 *   npx tsx bench/propagation.ts [--envs 100000] [--samples 20]
 *
 * Prints a markdown table; stops every process it started.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startPostgres } from '../test/helpers/postgres.js';
import { http, startServer, type Server } from '../test/helpers/proc.js';
import { loadSpecFile } from '../src/spec/index.js';
import { openStore } from '../src/store/index.js';

const arg = (name: string, def: number) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? Number(process.argv[i + 1]) : def; };
const N = arg('envs', 100_000);
const SAMPLES = arg('samples', 20);
const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]!; };
const pct = (xs: number[], p: number) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(s.length * p))]!; };

const pgServer = await startPostgres();
const dir = mkdtempSync(join(tmpdir(), 'swy-prop-'));
const procs: Server[] = [];
try {
  cpSync(new URL('../examples/shop', import.meta.url).pathname, join(dir, 'shop'), { recursive: true, filter: (s) => !s.includes('.switchyard') });
  const spec = loadSpecFile(join(dir, 'shop'));
  // Seed N previews straight into the store (one SQL statement), as if created over time.
  const store = await openStore({ databaseUrl: pgServer.url, dataDir: dir });
  await store.putApp(spec.app, spec);
  await store.close();
  const client = new pg.Client({ connectionString: pgServer.url });
  await client.connect();
  let t = performance.now();
  await client.query(`INSERT INTO environments (app, name, kind, parent, overrides, hosts)
    SELECT $1, 'seed' || g, 'preview', 'base', '{"services":{}}'::jsonb, '[]'::jsonb FROM generate_series(1, $2::int) g`, [spec.app, N]);
  await client.query('UPDATE store_version SET version = version + 1');
  await client.end();
  console.error(`seeded ${N} environments in ${Math.round(performance.now() - t)} ms`);

  t = performance.now();
  const control = await startServer<{ admin: string }>(['--app', join(dir, 'shop'), 'control', '--database-url', pgServer.url, '--admin-port', '0', '--internal-base-port', '29100', '--data-dir', join(dir, 'data')], { timeoutMs: 180_000 });
  procs.push(control);
  const routers: Server<{ edge: string; admin: string; pid: number }>[] = [];
  for (const [i, base] of [[1, 29100], [2, 29200]] as const) {
    routers.push(await startServer(['router', '--database-url', pgServer.url, '--port', '0', '--admin-port', '0', '--internal-base-port', String(base), '--id', `r${i}`], { timeoutMs: 180_000 }));
    procs.push(routers[routers.length - 1]!);
  }
  console.error(`control + 2 routers up with ${N} environments in ${Math.round(performance.now() - t)} ms`);

  const api: number[] = []; const afterReturn: number[] = []; const total: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const name = `prop${i}`;
    const t0 = performance.now();
    const res = await http(`${control.ready.admin}/v1/environments`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name, services: {} }) });
    const t1 = performance.now();
    if (res.status !== 201) throw new Error(`create ${name}: ${res.status} ${res.body}`);
    const served = await Promise.all(routers.map(async (r) => {
      for (;;) {
        const got = await http(`${r.ready.edge}/api/whoami`, { host: `${name}.shop.localhost` });
        if (got.status === 200) return performance.now();
        await new Promise((res) => setTimeout(res, 1));
      }
    }));
    const t2 = Math.max(...served);
    api.push(t1 - t0); afterReturn.push(t2 - t1); total.push(t2 - t0);
  }
  const rss = routers.map((r) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${r.ready.pid}/status`, 'utf8'))![1]) / 1024);
  const f = (xs: number[]) => `${median(xs).toFixed(1)} / ${pct(xs, 0.95).toFixed(1)}`;
  console.log(`| environments | API call (ms, median / p95) | API returned → first 200 on both routers (ms) | API call → both routers serve (ms) | router RSS (MB) |`);
  console.log(`|---:|---:|---:|---:|---:|`);
  console.log(`| ${N.toLocaleString('en')} | ${f(api)} | ${f(afterReturn)} | ${f(total)} | ${rss.map((m) => m.toFixed(0)).join(' / ')} |`);
} finally {
  for (const p of procs.reverse()) await p.stop();
  await pgServer.destroy();
  rmSync(dir, { recursive: true, force: true });
}
