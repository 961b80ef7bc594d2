#!/usr/bin/env node
/**
 * Bench-only driver: starts switchyard's real Router (from dist/) on a synthetic route table.
 *
 *   node bench/router-server.js --envs N --upstream-port P --port P [--workers W] [--control-port P] [--dist DIR]
 *                               [--access-log FILE] [--metrics] [--site-dir DIR --blob-dir DIR] [--max-body-bytes N]
 *
 * Table: domain `bench.localhost`, one service `web` public at `/`; base runs `web` on the fixed
 * upstream (127.0.0.1:<upstream-port>), and N preview environments `e0..e{N-1}` each run `web`
 * themselves on the same upstream (so a request to `e1.bench.localhost` resolves a preview).
 *
 * Prints one line `READY {json}` on stdout when every worker listens (json: pid, workers, worker
 * pids, compile time of the table). With --control-port, a tiny HTTP control endpoint
 * (`POST /envs?name=NAME&mode=full|delta`) adds one preview environment and swaps it in with
 * setSnapshot:
 *   mode=full   the table is rebuilt with N+1 environments and compiled with
 *               compileSnapshot(table, previous) — the full-rebuild cost (start-up, resync);
 *   mode=delta  applyDelta(snapshot, { upserts: [env] }) — the change path, when dist/ has it
 *               (the default then; otherwise full).
 * The response (JSON) says how long each step took. With W > 1 the primary forwards the change
 * to every worker over IPC and answers when all have swapped.
 *
 * Edge options:
 *   --access-log FILE  the access log (pino, buffered, to FILE) built by `buildEdge({ serverSecret,
 *                      trustedProxies: [], accessLog: FILE })` from dist/router/edge-setup.js,
 *                      passed to the Router as `accessLog`; closed (flushed) on SIGTERM. With W > 1
 *                      each worker writes its own file, FILE.w<worker id> (as each switchyard router
 *                      worker has its own access-log destination);
 *   --metrics          `buildEdge(...).metrics` passed to the Router as `metrics` (1 worker only);
 *   --max-body-bytes N the Router's `limits.maxBodyBytes` (default: the Router's, 100 MiB), for the
 *                      bench's 1 GiB upload.
 *   --site-dir DIR     static-site mode: DIR is uploaded as a deploy of site `docs` with
 *                      `uploadDeploy` into an `FsBlobStore` at --blob-dir DIR (both from dist/blob);
 *                      the table then has one target `docs` (kind `site`, public at `/`), and base
 *                      has `sites: { docs: <deploy id> }`. --upstream-port is not needed.
 *
 * SIGTERM/SIGINT: closes the router(s) and exits 0 (so `node --cpu-prof` writes its profile).
 */
import cluster from 'node:cluster';
import { createServer } from 'node:http';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const here = dirname(fileURLToPath(import.meta.url));

function parseArgs(argv) {
  const o = { envs: 3, upstreamPort: 0, port: 0, workers: 1, controlPort: 0, host: '127.0.0.1', dist: join(here, '..', 'dist'), accessLog: '', metrics: false, siteDir: '', blobDir: '', maxBodyBytes: 0 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = () => { const x = argv[++i]; if (x === undefined) throw new Error(`${a} needs a value`); return x; };
    if (a === '--envs') o.envs = Number(v());
    else if (a === '--upstream-port') o.upstreamPort = Number(v());
    else if (a === '--port') o.port = Number(v());
    else if (a === '--workers') o.workers = Number(v());
    else if (a === '--control-port') o.controlPort = Number(v());
    else if (a === '--host') o.host = v();
    else if (a === '--dist') o.dist = v();
    else if (a === '--access-log') o.accessLog = v();
    else if (a === '--metrics') o.metrics = true;
    else if (a === '--site-dir') o.siteDir = v();
    else if (a === '--blob-dir') o.blobDir = v();
    else if (a === '--max-body-bytes') o.maxBodyBytes = Number(v());
    else throw new Error(`unknown argument ${a}`);
  }
  if (!Number.isInteger(o.envs) || o.envs < 0) throw new Error('--envs must be an integer >= 0');
  if (!o.upstreamPort && !o.siteDir) throw new Error('--upstream-port is required');
  if (o.siteDir && !o.blobDir) throw new Error('--site-dir needs --blob-dir');
  if ((o.metrics || o.siteDir) && o.workers !== 1) throw new Error('--metrics and --site-dir need --workers 1');
  if (!Number.isInteger(o.maxBodyBytes) || o.maxBodyBytes < 0) throw new Error('--max-body-bytes must be an integer >= 0');
  if (!Number.isInteger(o.workers) || o.workers < 1) throw new Error('--workers must be >= 1');
  return o;
}

const opts = parseArgs(process.argv.slice(2));
const dist = opts.dist;

function endpoint(env) {
  return Object.freeze({ id: `${env}/web/0`, host: '127.0.0.1', port: opts.upstreamPort, ready: true });
}
function previewEnv(name) {
  return Object.freeze({ name, kind: 'preview', hosts: Object.freeze([]), services: Object.freeze({ web: Object.freeze([endpoint(name)]) }) });
}
function buildTable(n) {
  const environments = new Array(n + 1);
  environments[0] = Object.freeze({ name: 'base', kind: 'base', hosts: Object.freeze([]), services: Object.freeze({ web: Object.freeze([endpoint('base')]) }) });
  for (let i = 0; i < n; i++) environments[i + 1] = previewEnv(`e${i}`);
  return {
    version: 1,
    domain: 'bench.localhost',
    routingHeader: 'x-switchyard-env',
    services: Object.freeze([Object.freeze({ name: 'web', public: Object.freeze(['/']), stripPrefix: false })]),
    environments,
  };
}

/** Static-site mode: uploads --site-dir as a deploy of `docs` and returns a table that serves it at `/`. */
async function buildSiteTable() {
  const { FsBlobStore, uploadDeploy } = await import(join(dist, 'blob', 'index.js'));
  const store = new FsBlobStore(opts.blobDir);
  const manifest = await uploadDeploy(store, opts.siteDir, { site: 'docs' });
  const table = {
    version: 1,
    domain: 'bench.localhost',
    routingHeader: 'x-switchyard-env',
    services: Object.freeze([Object.freeze({ name: 'docs', kind: 'site', public: Object.freeze(['/']), stripPrefix: false })]),
    environments: [Object.freeze({ name: 'base', kind: 'base', hosts: Object.freeze([]), services: Object.freeze({}), sites: Object.freeze({ docs: manifest.id }) })],
    deploys: Object.freeze({ [manifest.id]: manifest }),
  };
  return { table, store, deploy: { id: manifest.id, files: Object.keys(manifest.files).length } };
}

/** Worker side (or the only process when W = 1): router + table + snapshot. */
async function startRouter() {
  const { Router } = await import(join(dist, 'router', 'index.js'));
  const { compileSnapshot, applyDelta } = await import(join(dist, 'routing', 'index.js'));
  const site = opts.siteDir ? await buildSiteTable() : undefined;
  const tBuild = performance.now();
  let table = site ? site.table : buildTable(opts.envs);
  const buildMs = performance.now() - tBuild;
  const t0 = performance.now();
  let snap = compileSnapshot(table);
  const compileMs = performance.now() - t0;
  const routerOptions = {};
  if (site) routerOptions.blobStore = site.store;
  if (opts.maxBodyBytes) routerOptions.limits = { maxBodyBytes: opts.maxBodyBytes };
  let edge;
  if (opts.accessLog || opts.metrics) {
    const { buildEdge } = await import(join(dist, 'router', 'edge-setup.js'));
    const accessLog = opts.accessLog && cluster.isWorker ? `${opts.accessLog}.w${cluster.worker.id}` : opts.accessLog;
    edge = buildEdge({ serverSecret: 'x', trustedProxies: [], accessLog });
    if (opts.accessLog) routerOptions.accessLog = edge.accessLog;
    if (opts.metrics) routerOptions.metrics = edge.metrics;
  }
  const router = new Router(routerOptions);
  router.setSnapshot(snap);
  await router.listenEdge(opts.port, opts.host);
  let added = 0;
  /** Adds one preview environment: a full rebuild of the table, or a delta when dist/ has applyDelta. */
  function addEnv(name, mode) {
    name ??= `new${added}`;
    added++;
    if (mode !== 'full' && mode !== 'delta') mode = applyDelta ? 'delta' : 'full';
    if (mode === 'delta' && !applyDelta) throw new Error('dist/ has no applyDelta');
    const env = previewEnv(name);
    const t1 = performance.now();
    table.environments.push(env); // the driver's own array: O(1), outside what the control plane would pay
    table = { ...table, version: table.version + 1 };
    const t2 = performance.now();
    snap = mode === 'full' ? compileSnapshot(table, snap) : applyDelta(snap, { version: table.version, upserts: [env], removals: [] });
    const t3 = performance.now();
    router.setSnapshot(snap);
    const t4 = performance.now();
    return { name, mode, envs: table.environments.length - 1, tableMs: t2 - t1, compileMs: t3 - t2, setSnapshotMs: t4 - t3 };
  }
  return { router, addEnv, buildMs, compileMs, hasDelta: typeof applyDelta === 'function', edge, deploy: site?.deploy };
}

function startControl(port, handle) {
  const server = createServer((req, res) => {
    if (req.method === 'POST' && req.url.startsWith('/envs')) {
      const q = new URL(req.url, 'http://x').searchParams;
      Promise.resolve().then(() => handle(q.get('name') ?? undefined, q.get('mode') ?? undefined)).then((r) => {
        const body = JSON.stringify(r);
        res.writeHead(201, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      }, (err) => { res.writeHead(500); res.end(String(err?.stack ?? err)); });
      return;
    }
    res.writeHead(404); res.end();
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, opts.host, () => resolve(server));
  });
}

function onStop(fn) {
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    Promise.resolve().then(fn).catch(() => undefined).finally(() => process.exit(0));
    setTimeout(() => process.exit(0), 3_000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

if (opts.workers === 1) {
  const r = await startRouter();
  const control = opts.controlPort ? await startControl(opts.controlPort, (name, mode) => r.addEnv(name, mode)) : undefined;
  onStop(async () => { control?.close(); await r.router.close(0); await r.edge?.accessLog?.close(); });
  process.stdout.write(`READY ${JSON.stringify({ pid: process.pid, workers: 1, workerPids: [process.pid], envs: opts.envs, buildMs: r.buildMs, compileMs: r.compileMs, hasDelta: r.hasDelta, port: opts.port, accessLog: opts.accessLog || undefined, metrics: opts.metrics, deploy: r.deploy })}\n`);
} else if (cluster.isPrimary) {
  const workers = [];
  const infos = new Map();
  let pending = new Map(); // request id -> {left, results, resolve}
  let seq = 0;
  for (let i = 0; i < opts.workers; i++) {
    const w = cluster.fork();
    workers.push(w);
    w.on('message', (m) => {
      if (m?.type === 'ready') {
        infos.set(w.id, m);
        if (infos.size === opts.workers) {
          const list = [...infos.values()];
          process.stdout.write(`READY ${JSON.stringify({ pid: process.pid, workers: opts.workers, workerPids: list.map((x) => x.pid), envs: opts.envs, buildMs: Math.max(...list.map((x) => x.buildMs)), compileMs: Math.max(...list.map((x) => x.compileMs)), port: opts.port, accessLog: opts.accessLog ? list.map((x) => x.accessLog) : undefined })}\n`);
        }
      } else if (m?.type === 'added') {
        const p = pending.get(m.id);
        if (p) { p.results.push(m.result); if (--p.left === 0) { pending.delete(m.id); p.resolve(p.results); } }
      }
    });
    w.on('exit', (code, signal) => { if (!stopping) { process.stderr.write(`worker ${w.process.pid} exited (${code ?? signal})\n`); process.exit(1); } });
  }
  let stopping = false;
  const control = opts.controlPort ? await startControl(opts.controlPort, (name, mode) => new Promise((resolve) => {
    const id = ++seq;
    name ??= `new${id - 1}`;
    pending.set(id, { left: workers.length, results: [], resolve: (results) => resolve({ name, mode: results[0].mode, envs: results[0].envs, tableMs: Math.max(...results.map((x) => x.tableMs)), compileMs: Math.max(...results.map((x) => x.compileMs)), setSnapshotMs: Math.max(...results.map((x) => x.setSnapshotMs)) }) });
    for (const w of workers) w.send({ type: 'add', id, name, mode });
  })) : undefined;
  onStop(async () => {
    stopping = true;
    control?.close();
    await Promise.all(workers.map((w) => new Promise((r) => {
      if (w.isDead()) { r(); return; }
      w.once('exit', r);
      w.process.kill('SIGTERM');
    })));
  });
} else {
  const r = await startRouter();
  onStop(async () => { await r.router.close(0); await r.edge?.accessLog?.close(); });
  process.on('disconnect', () => process.exit(0)); // the primary is gone
  process.on('message', (m) => {
    if (m?.type === 'add') process.send({ type: 'added', id: m.id, result: r.addEnv(m.name, m.mode) });
  });
  process.send({ type: 'ready', pid: process.pid, buildMs: r.buildMs, compileMs: r.compileMs, accessLog: opts.accessLog ? `${opts.accessLog}.w${cluster.worker.id}` : undefined });
}
