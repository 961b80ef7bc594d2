#!/usr/bin/env node
/**
 * `npm run bench`: switchyard's data path against nginx, HAProxy, Caddy and a minimal
 * node:http + undici proxy, in one run, on one pinning, with interleaved rounds.
 *
 *   node bench/run.js [--rounds 3] [--duration 5] [--warmup 2] [--quick] [--no-profile] [--profile]
 *                     [--no-body] [--body-mib N] [--no-build] [--commit REV] [--no-docs] [--only id,id]
 *                     [--out FILE] [--keep-tmp] [--report-only [--out FILE]] [--suite proxy|static|obs]
 *
 * Code under test: by default `npm run build`, then a copy of dist/ taken at once (bench/.dist-<pid>/),
 * so a rebuild by someone else mid-run does not change what is measured; with --commit REV the
 * bench builds that commit's src/ by itself in bench/.build-<pid>/ (the work tree is not touched).
 * Both are removed at the end.
 *
 * Layout on a 2-CPU machine: every proxy alone on CPU 1 (`taskset -c 1`), wrk and the fixed
 * upstream (nginx `return 200` with a 100-byte body) on CPU 0 (`taskset -c 0`) — except the
 * all-cores targets (nginx `worker_processes auto`, HAProxy default threads, Caddy default
 * GOMAXPROCS, switchyard `--workers` = cores), which run unpinned: proxy and their wrk on every CPU
 * (`taskset -c 0-<n-1>`, since this orchestrator pins itself to CPU 0 and children inherit that),
 * the upstream still on CPU 0. Each round measures every target in turn (the start of the order
 * rotates per round): 2 s warm-up at 64 connections, then `wrk -t1 -c64 -d5s --latency`, then
 * `-c1`. Reported figures are medians over the rounds. The proxy's CPU per request comes from
 * /proc/<pid>/stat (utime + stime, summed over the proxy's process tree) before and after each wrk
 * run, divided by the requests wrk counted.
 *
 * Rows of the proxy suite (ids for --only): direct (wrk → upstream), nginx-1w, nginx-1w-log (nginx
 * 1 worker with a `log_format … escape=json` access log to a file, buffer=64k flush=1s), nginx-auto,
 * haproxy-1t, haproxy-default, caddy-1, caddy-default, node-floor (node:http + undici), sy-1w
 * (switchyard 1 worker, preview host: routing, header rewriting, X-Request-Id; no access log),
 * sy-1w-log (the same with the JSON access log on: router-server's --access-log, pino to a file in
 * the temp dir), sy-10k and sy-100k (10,000 / 100,000 envs), sy-1w-base (base host, shares sy-1w's
 * process), sy-all (cores workers, JSON access log per worker, unpinned). nginx-1w and the other
 * anchors log nothing. Under the table: the access log's cost on its own ("access log: +X
 * µs/request (Y %)": per round sy-1w-log − sy-1w, median; the same for nginx-1w-log − nginx-1w),
 * and the access-log lines written vs requests wrk completed; then the all-cores table (unpinned
 * rows, ratios to nginx-auto).
 *
 * Targets (from the issue; each line says met / not met and by how much):
 *   (a) CPU/request of sy-1w-log ≤ 1.5× nginx-1w (paired: median over rounds of the in-round ratio);
 *   (b) req/s @64 of sy-1w-log ≥ 0.8× nginx-1w (paired);
 *   (c) req/s @64 of sy-all ≥ 0.85× nginx-auto (paired; both unpinned, wrk unpinned);
 *   and, kept: req/s at 100,000 envs ≥ 95 % of 3 envs; router RSS at 100,000 envs ≤ 250 MB; a new
 *   environment served ≤ 10 ms after the API returns. When a target is missed, the report names the
 *   profile's heaviest groups and frames next to it.
 *
 * Body section (proxy suite, once per bench after the rounds; --no-body skips it): 1 GiB (--quick:
 * 128 MiB; --body-mib N) uploaded (client → proxy → upstream that counts and drops) and downloaded
 * (upstream streams → proxy → client that counts and drops), one request on a fresh connection per
 * transfer, `--rounds` times, through switchyard 1 worker (limits.maxBodyBytes raised above the
 * body) and nginx 1 worker (proxy_request_buffering off, proxy_buffering off, client_max_body_size
 * 0), each alone on CPU 1; the node upstream (bench/body-upstream.js) and client
 * (bench/body-client.js) on CPU 0. Reports MB/s, the proxy's CPU seconds per GiB, its RSS before and
 * at most during a transfer (sampled every 50 ms), and how busy CPU 0 / CPU 1 were. Each transfer is
 * cut after 20 s + 1 s per 10 MB; every process of the section is stopped when it ends.
 *
 * Profile (proxy suite, always unless --no-profile; --quick skips it unless --profile): switchyard 1
 * worker with the JSON access log on (sy-1w-log's configuration) under `node --cpu-prof` and wrk
 * -c64 for max(10, 2 × duration) s (--quick: max(4, 2 × duration)); writes
 * bench/results/router.cpuprofile (router-quick.cpuprofile with --quick) and prints the top 15
 * frames by self time and the self time grouped by where the code lives (bench/cpuprofile-top.js).
 *
 * Installs nothing. A missing anchor (nginx, haproxy, caddy) is skipped with a message; wrk is
 * required. Every process it starts is stopped by PID (then its process group) when it ends, pass
 * or fail. Writes bench/results/latest.json (bench/results/quick.json with --quick) and, unless
 * --quick or --no-docs, the block between `<!-- bench:start -->` and `<!-- bench:end -->` in
 * docs/BENCHMARKS.md.
 *
 * --suite selects what is measured (default `proxy`: everything above):
 *   static  static files on the hot path: switchyard's Router serving a site deploy (an FsBlobStore
 *           in the temp dir, the deploy made by uploadDeploy from a generated folder with a 4 KiB
 *           index.html and a 100 KiB app.js) vs nginx (1 worker, `sendfile on`) serving the same
 *           folder from disk; each file is its own target. Writes bench/results/static.json and the
 *           `bench-static:start`/`bench-static:end` block of docs/BENCHMARKS.md.
 *   obs     cost of the access log + metrics: the proxy bench's switchyard 1 worker (3 envs, preview
 *           host) without, and with buildEdge()'s access log (pino, to a file in the temp dir) and
 *           metrics; the access log's lines are counted around each wrk run (after its 1 s flush).
 *           Writes bench/results/obs.json and the `bench-obs:start`/`bench-obs:end` block.
 *   Both skip the profile, the body section and the environment-creation trials; the rounds and
 *   pinning are the same (every target of these suites is pinned).
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { summarise } from './cpuprofile-top.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const BODY = 'switchyard-bench-upstream-' + 'x'.repeat(73); // 99 bytes + "\n" = 100-byte body
const PREVIEW_HOST = 'e1.bench.localhost';
const BASE_HOST = 'bench.localhost';

// ---------------------------------------------------------------------------------------------
// options

function parseArgs(argv) {
  const o = { out: undefined, commit: undefined, reportOnly: false, rounds: 3, duration: 5, warmup: 2, quick: false, profile: true, build: true, docs: true, only: undefined, keepTmp: false, createTrials: 5, suite: 'proxy', body: true, bodyBytes: 2 ** 30 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = () => { const x = argv[++i]; if (x === undefined) throw new Error(`${a} needs a value`); return x; };
    switch (a) {
      case '--rounds': o.rounds = Number(v()); break;
      case '--duration': o.duration = Number(v()); break;
      case '--warmup': o.warmup = Number(v()); break;
      case '--quick': o.quick = true; break;
      case '--no-profile': o.profile = false; break;
      case '--profile': o.profile = true; break;
      case '--no-body': o.body = false; break;
      case '--body-mib': o.bodyBytes = Number(v()) * 2 ** 20; break;
      case '--no-build': o.build = false; break;
      case '--no-docs': o.docs = false; break;
      case '--only': o.only = v().split(','); break;
      case '--keep-tmp': o.keepTmp = true; break;
      case '--report-only': o.reportOnly = true; break;
      case '--commit': o.commit = v(); break;
      case '--out': o.out = v(); o.docs = false; break;
      case '--suite': o.suite = v(); break;
      case '-h': case '--help':
        console.log(readFileSync(fileURLToPath(import.meta.url), 'utf8').split('*/')[0]);
        process.exit(0);
      // eslint-disable-next-line no-fallthrough
      default: throw new Error(`unknown argument ${a} (try --help)`);
    }
  }
  if (o.quick) {
    const given = (f) => argv.includes(f);
    if (!given('--rounds')) o.rounds = 1;
    if (!given('--duration')) o.duration = 2;
    if (!given('--warmup')) o.warmup = 1;
    o.createTrials = 2;
    if (!given('--profile')) o.profile = false;
    if (!given('--body-mib')) o.bodyBytes = 128 * 2 ** 20;
    o.docs = false;
  }
  if (!(Number.isInteger(o.bodyBytes) && o.bodyBytes > 0)) throw new Error('--body-mib must be a whole number of MiB > 0');
  if (!(o.rounds >= 1 && o.duration >= 1 && o.warmup >= 0)) throw new Error('--rounds >= 1, --duration >= 1, --warmup >= 0');
  if (!['proxy', 'static', 'obs'].includes(o.suite)) throw new Error('--suite is proxy, static or obs');
  if (o.suite !== 'proxy') { o.profile = false; o.body = false; }
  return o;
}

// ---------------------------------------------------------------------------------------------
// process management: every child is tracked and stopped by PID, then its process group

const procs = new Set();
let TMP;
let DIST;
/** Scratch folders inside the project (dist copies, builds), removed at the end. */
const SCRATCH = [];

function which(cmd) {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

let HAVE_TASKSET = false;
let NPROC = 1;
/**
 * `cpu` is a CPU number, or 'all' for every CPU: the orchestrator itself is pinned to CPU 0 and its
 * children inherit that affinity, so "unpinned" has to be asked for (`taskset -c 0-<n-1>`).
 */
function pinned(cpu, cmd, args) {
  if (!HAVE_TASKSET) return [cmd, args];
  return ['taskset', ['-c', cpu === 'all' ? `0-${NPROC - 1}` : String(cpu), cmd, ...args]];
}

/** Spawns a tracked child in its own process group; stdout/stderr go to TMP/<name>.log. */
function start(name, cpu, cmd, args, { env, cwd, readyLine = false } = {}) {
  const [c, a] = pinned(cpu, cmd, args);
  const logPath = join(TMP, `${name}.log`);
  const log = createWriteStream(logPath, { flags: 'a' });
  const child = spawn(c, a, { cwd: cwd ?? ROOT, env: { ...process.env, ...env }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const p = { name, pid: child.pid, child, exited: false, logPath, ready: undefined };
  p.exit = new Promise((resolve) => {
    child.once('exit', (code, signal) => { p.exited = true; p.code = code; p.signal = signal; procs.delete(p); resolve(); });
    child.once('error', (err) => { p.exited = true; p.error = err; p.code = -1; procs.delete(p); log.write(`spawn failed: ${err.message}\n`); resolve(); });
  });
  procs.add(p);
  child.stderr.pipe(log);
  let buf = '';
  p.ready = new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => {
      log.write(d);
      if (!readyLine) return;
      buf += d.toString();
      const m = /^READY (.*)$/m.exec(buf);
      if (m) { resolve(JSON.parse(m[1])); buf = ''; }
    });
    p.exit.then(() => reject(new Error(`${name} exited (${p.code ?? p.signal}) before it was ready; see ${logPath}:\n${tail(logPath)}`)));
  });
  p.ready.catch(() => undefined);
  return p;
}

function tail(path, n = 15) {
  try { return readFileSync(path, 'utf8').trim().split('\n').slice(-n).join('\n'); } catch { return ''; }
}

function killQuiet(pid, sig) { try { process.kill(pid, sig); return true; } catch { return false; } }

async function stop(p, graceMs = 4_000) {
  if (!p.exited) {
    killQuiet(p.pid, 'SIGTERM');
    await Promise.race([p.exit, sleep(graceMs)]);
    if (!p.exited) { killQuiet(p.pid, 'SIGKILL'); await Promise.race([p.exit, sleep(1_000)]); }
  }
  killQuiet(-p.pid, 'SIGKILL'); // leftovers of its group (nginx workers, cluster workers)
}

async function stopAll() {
  const list = [...procs].reverse();
  await Promise.all(list.map((p) => stop(p)));
}

function cleanupSync() {
  for (const p of procs) { killQuiet(p.pid, 'SIGKILL'); killQuiet(-p.pid, 'SIGKILL'); }
}

// ---------------------------------------------------------------------------------------------
// small helpers

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

function httpGet(port, host, path = '/') {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host }, agent: false, timeout: 2_000 }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', () => resolve({ status: 0, body: '' }));
    req.on('timeout', () => { req.destroy(); });
    req.end();
  });
}

async function waitHttp200(p, port, host, timeoutMs = 20_000, file = undefined) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (p.exited) throw new Error(`${p.name} exited (${p.code ?? p.signal}); see ${p.logPath}:\n${tail(p.logPath)}`);
    const r = await httpGet(port, host, file?.path);
    if (r.status === 200) {
      if (file) {
        if (r.body !== file.body) throw new Error(`${p.name}: ${file.path} is not the file (${r.body.length} bytes)`);
        return;
      }
      if (r.body !== BODY + '\n') throw new Error(`${p.name}: unexpected body ${JSON.stringify(r.body.slice(0, 120))}`);
      return;
    }
    if (Date.now() > deadline) throw new Error(`${p.name} did not answer 200 on :${port} within ${timeoutMs} ms (last ${r.status}); see ${p.logPath}:\n${tail(p.logPath)}`);
    await sleep(50);
  }
}

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

function readStat(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = s.slice(s.lastIndexOf(')') + 2).split(' ');
    // fields after "(comm)": state(3) ppid(4) ... utime(14) stime(15) → rest index = field - 3
    return { ppid: Number(rest[1]), utime: Number(rest[11]), stime: Number(rest[12]) };
  } catch { return undefined; }
}

/** pid and all its descendants (by ppid, from /proc). */
function tree(pid) {
  const children = new Map();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const st = readStat(Number(d));
    if (!st) continue;
    if (!children.has(st.ppid)) children.set(st.ppid, []);
    children.get(st.ppid).push(Number(d));
  }
  const out = [];
  const walk = (p) => { out.push(p); for (const c of children.get(p) ?? []) walk(c); };
  walk(pid);
  return out;
}

/** CPU ticks (utime + stime) per pid of the tree. */
function cpuTicks(pids) {
  const m = new Map();
  for (const pid of pids) { const st = readStat(pid); if (st) m.set(pid, st.utime + st.stime); }
  return m;
}

function cpuDeltaSeconds(before, after) {
  let ticks = 0;
  for (const [pid, t] of after) if (before.has(pid)) ticks += t - before.get(pid);
  return ticks / CLK_TCK;
}

/** Busy ticks of each CPU (everything but idle and iowait) from /proc/stat. */
function cpuBusy() {
  const out = {};
  for (const line of readFileSync('/proc/stat', 'utf8').split('\n')) {
    const m = /^cpu(\d+) (.*)$/.exec(line);
    if (!m) continue;
    const f = m[2].trim().split(/\s+/).map(Number);
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
    out[m[1]] = { busy: total - f[3] - f[4], total };
  }
  return out;
}

function rssKB(pids) {
  let kb = 0;
  for (const pid of pids) {
    try { const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8')); if (m) kb += Number(m[1]); } catch { /* gone */ }
  }
  return kb;
}

function threadsOf(pid) {
  try { return Number(/Threads:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]); } catch { return undefined; }
}

const median = (xs) => {
  const v = xs.filter((x) => x !== undefined && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return undefined;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
};
const min = (xs) => { const v = xs.filter(Number.isFinite); return v.length ? Math.min(...v) : undefined; };
const max = (xs) => { const v = xs.filter(Number.isFinite); return v.length ? Math.max(...v) : undefined; };

// ---------------------------------------------------------------------------------------------
// wrk

function toMicros(s) {
  const m = /^([\d.]+)(us|ms|s|m|h)$/.exec(s.trim());
  if (!m) return undefined;
  const f = { us: 1, ms: 1e3, s: 1e6, m: 6e7, h: 3.6e9 }[m[2]];
  return Number(m[1]) * f;
}

export function parseWrk(out) {
  const r = {};
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
  r.rps = rps ? Number(rps[1]) : undefined;
  const reqs = /(\d+) requests in ([\d.]+)(us|ms|s|m)/.exec(out);
  r.requests = reqs ? Number(reqs[1]) : undefined;
  r.seconds = reqs ? toMicros(reqs[2] + reqs[3]) / 1e6 : undefined;
  for (const p of ['50', '75', '90', '99']) {
    const m = new RegExp(`^\\s+${p}%\\s+(\\S+)`, 'm').exec(out);
    r[`p${p}us`] = m ? toMicros(m[1]) : undefined;
  }
  const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(out);
  r.non2xx = non2xx ? Number(non2xx[1]) : 0;
  const se = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  r.socketErrors = se ? se.slice(1).reduce((a, b) => a + Number(b), 0) : 0;
  return r;
}

async function wrk(port, host, connections, seconds, path = '/', cpu = 0) {
  const args = ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', '-H', `Host: ${host}`, `http://127.0.0.1:${port}${path}`];
  const p = start(`wrk`, cpu, 'wrk', args);
  let out = '';
  p.child.stdout.on('data', (d) => { out += d; });
  await p.exit;
  if (p.code !== 0) throw new Error(`wrk exited ${p.code ?? p.signal}: ${tail(p.logPath)}`);
  const r = parseWrk(out);
  if (r.rps === undefined || r.requests === undefined) throw new Error(`could not parse wrk output:\n${out}`);
  return r;
}

/**
 * Waits (at most `maxMs`) until the proxy CPU has been quiet (< `pct` % busy over 500 ms) —
 * other work on a shared machine comes in bursts; this keeps the runs out of the worst of it.
 * Returns the time waited, and whether it got quiet.
 */
async function settle(maxMs = 8_000, pct = 20) {
  if (!HAVE_TASKSET) return { waitedMs: 0, quiet: undefined };
  const t0 = Date.now();
  for (;;) {
    const a = cpuBusy()['1'];
    await sleep(500);
    const b = cpuBusy()['1'];
    const busyPct = b.total > a.total ? (100 * (b.busy - a.busy)) / (b.total - a.total) : 0;
    if (busyPct < pct) return { waitedMs: Date.now() - t0, quiet: true };
    if (Date.now() - t0 > maxMs) return { waitedMs: Date.now() - t0, quiet: false, busyPct };
  }
}

/** One measurement: wrk at `connections`, with the proxy tree's CPU and per-CPU busy time around it. */
async function measure(t, connections, seconds) {
  const pids = tree(t.proc.pid);
  const busy0 = cpuBusy();
  const c0 = cpuTicks(pids);
  const r = await wrk(t.port, t.host, connections, seconds, t.file?.path, t.unpinned ? 'all' : 0);
  const c1 = cpuTicks(pids);
  const busy1 = cpuBusy();
  const cpuS = cpuDeltaSeconds(c0, c1);
  r.proxyCpuS = cpuS;
  r.cpuUsPerReq = r.requests > 0 ? (cpuS * 1e6) / r.requests : undefined;
  // What else ran on the proxy's CPU meanwhile (other work on the machine shows up here); only
  // meaningful when the proxy is alone on CPU 1.
  if (busy0['1'] && busy1['1']) {
    const busyS = (busy1['1'].busy - busy0['1'].busy) / CLK_TCK;
    const totalS = (busy1['1'].total - busy0['1'].total) / CLK_TCK;
    r.cpu1BusyPct = totalS > 0 ? (100 * busyS) / totalS : undefined;
    if (HAVE_TASKSET && !t.unpinned) r.cpu1OtherS = Math.max(0, busyS - (t.id === 'direct' ? 0 : cpuS));
  }
  if (busy0['0'] && busy1['0']) {
    const b = (busy1['0'].busy - busy0['0'].busy), tot = (busy1['0'].total - busy0['0'].total);
    r.cpu0BusyPct = tot > 0 ? (100 * b) / tot : undefined;
  }
  return r;
}

// ---------------------------------------------------------------------------------------------
// configs

function nginxUpstreamConf(dir, port) {
  return `worker_processes 1;
daemon off;
pid ${dir}/upstream.pid;
error_log stderr warn;
events { worker_connections 8192; }
http {
  access_log off;
  ${tempPaths(dir, 'upstream')}
  keepalive_requests 10000000;
  keepalive_timeout 300s;
  server {
    listen 127.0.0.1:${port} backlog=4096;
    location / { default_type text/plain; return 200 "${BODY}\\n"; }
  }
}
`;
}

function tempPaths(dir, name) {
  return ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((k) => `${k}_temp_path ${dir}/${name}-${k};`).join(' ');
}

/**
 * nginx as the proxy. `accessLog`: a JSON line per request (escape=json; the fields of switchyard's
 * access log that nginx has) to that file, buffered like switchyard's (64 KiB, flushed every 1 s).
 * `body`: streaming both ways (proxy_request_buffering off, proxy_buffering off, no body size limit)
 * for the 1 GiB body section.
 */
function nginxProxyConf(dir, name, workers, port, upPort, { accessLog, body } = {}) {
  const log = accessLog
    ? `log_format benchjson escape=json '{"time":"$time_iso8601","reqId":"$request_id","method":"$request_method","host":"$host","path":"$request_uri","status":$status,"bytes":$bytes_sent,"durationS":$request_time,"upstreamS":"$upstream_response_time","clientIp":"$remote_addr"}';
  access_log ${accessLog} benchjson buffer=64k flush=1s;`
    : 'access_log off;';
  const streaming = body
    ? `client_max_body_size 0;
  proxy_request_buffering off;
  proxy_buffering off;
  proxy_read_timeout 300s;
  proxy_send_timeout 300s;
  client_body_timeout 300s;
  send_timeout 300s;`
    : '';
  return `worker_processes ${workers};
daemon off;
pid ${dir}/${name}.pid;
error_log stderr warn;
events { worker_connections 8192; }
http {
  ${log}
  ${streaming}
  ${tempPaths(dir, name)}
  keepalive_requests 10000000;
  keepalive_timeout 300s;
  upstream up {
    server 127.0.0.1:${upPort};
    keepalive 128;
    keepalive_requests 10000000;
    keepalive_timeout 300s;
  }
  server {
    listen 127.0.0.1:${port} backlog=4096;
    location / {
      proxy_pass http://up;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Request-Id $request_id;
    }
  }
}
`;
}

function nginxStaticConf(dir, name, port, root) {
  return `worker_processes 1;
daemon off;
pid ${dir}/${name}.pid;
error_log stderr warn;
events { worker_connections 8192; }
http {
  access_log off;
  ${tempPaths(dir, name)}
  types { text/html html; text/javascript js; }
  default_type application/octet-stream;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 10000000;
  keepalive_timeout 300s;
  server {
    listen 127.0.0.1:${port} backlog=4096;
    root ${root};
    location / { }
  }
}
`;
}

/** The site of the static suite: a ~4 KiB HTML page and a ~100 KiB script (deterministic bytes). */
const SITE_FILES = [
  { id: 'html', label: '4 KiB index.html', path: '/index.html', size: 4096 },
  { id: 'js', label: '100 KiB app.js', path: '/app.js', size: 102_400 },
];
function writeSite(dir) {
  mkdirSync(dir, { recursive: true });
  const filler = (n) => { let x = ''; for (let i = 0; x.length < n; i++) x += `${(i * 2654435761 >>> 0).toString(36)} `; return x.slice(0, n); };
  for (const f of SITE_FILES) {
    const head = f.id === 'html' ? '<!doctype html><html><head><title>bench</title></head><body><p>' : '/* switchyard bench */\nconst s = `';
    const foot = f.id === 'html' ? '</p></body></html>\n' : '`;\n';
    f.body = head + filler(f.size - head.length - foot.length) + foot;
    writeFileSync(join(dir, f.path.slice(1)), f.body);
  }
}

function haproxyConf(threads, port, upPort) {
  return `global
  ${threads ? `nbthread ${threads}` : '# nbthread: default'}
  maxconn 4000
defaults
  mode http
  timeout connect 5s
  timeout client 300s
  timeout server 300s
  timeout http-keep-alive 300s
  option http-keep-alive
  option forwardfor
frontend fe
  bind 127.0.0.1:${port}
  http-request set-header X-Forwarded-Proto http
  default_backend be
backend be
  http-reuse always
  server up 127.0.0.1:${upPort} maxconn 1000
`;
}

function caddyfile(port, upPort) {
  return `{
  admin off
  auto_https off
}
http://:${port} {
  bind 127.0.0.1
  reverse_proxy 127.0.0.1:${upPort}
}
`;
}

// ---------------------------------------------------------------------------------------------
// targets

function targetDefs(tools, nproc, suite = 'proxy') {
  const defs = [];
  if (suite === 'static') {
    for (const f of SITE_FILES) {
      if (tools.nginx) defs.push({ id: `nginx-static-${f.id}`, label: `nginx, 1 worker, sendfile on — ${f.label}`, kind: 'nginx-static', file: f, host: BASE_HOST, ...(f !== SITE_FILES[0] ? { shares: `nginx-static-${SITE_FILES[0].id}` } : {}) });
      defs.push({ id: `sy-static-${f.id}`, label: `switchyard, 1 worker, site deploy — ${f.label}`, kind: 'switchyard', workers: 1, site: true, file: f, host: BASE_HOST, ...(f !== SITE_FILES[0] ? { shares: `sy-static-${SITE_FILES[0].id}` } : {}) });
    }
    return defs;
  }
  if (suite === 'obs') {
    defs.push({ id: 'sy-obs-off', label: 'switchyard, 1 worker (preview host), no access log, no metrics', kind: 'switchyard', workers: 1, envs: 3, host: PREVIEW_HOST });
    defs.push({ id: 'sy-obs-on', label: 'switchyard, 1 worker (preview host), access log to a file + metrics', kind: 'switchyard', workers: 1, envs: 3, host: PREVIEW_HOST, accessLog: true, metrics: true });
    return defs;
  }
  defs.push({ id: 'direct', label: 'upstream direct (no proxy; reference)', kind: 'reference', needs: [] });
  // `unpinned`: the all-cores configurations run with the proxy and its wrk free on every CPU (the
  // upstream stays on CPU 0); everything else is pinned (proxy on CPU 1, wrk on CPU 0).
  const free = HAVE_TASKSET ? ', unpinned' : '';
  if (tools.nginx) {
    defs.push({ id: 'nginx-1w', label: 'nginx, 1 worker', kind: 'nginx', workers: 1 });
    defs.push({ id: 'nginx-1w-log', label: 'nginx, 1 worker, JSON access log to a file', kind: 'nginx', workers: 1, accessLog: true });
    defs.push({ id: 'nginx-auto', label: `nginx, worker_processes auto${free}`, kind: 'nginx', workers: 'auto', unpinned: true });
  }
  if (tools.haproxy) {
    defs.push({ id: 'haproxy-1t', label: 'HAProxy, nbthread 1', kind: 'haproxy', threads: 1 });
    defs.push({ id: 'haproxy-default', label: `HAProxy, default threads${free}`, kind: 'haproxy', threads: undefined, unpinned: true });
  }
  if (tools.caddy) {
    defs.push({ id: 'caddy-1', label: 'Caddy, GOMAXPROCS=1', kind: 'caddy', gomaxprocs: '1' });
    defs.push({ id: 'caddy-default', label: `Caddy, default GOMAXPROCS${free}`, kind: 'caddy', gomaxprocs: undefined, unpinned: true });
  }
  defs.push({ id: 'node-floor', label: 'node:http + undici floor', kind: 'node-floor' });
  defs.push({ id: 'sy-1w', label: 'switchyard, 1 worker (preview host)', kind: 'switchyard', workers: 1, envs: 3, host: PREVIEW_HOST });
  defs.push({ id: 'sy-1w-log', label: 'switchyard, 1 worker (preview host), JSON access log to a file', kind: 'switchyard', workers: 1, envs: 3, host: PREVIEW_HOST, accessLog: true });
  defs.push({ id: 'sy-10k', label: 'switchyard, 1 worker, 10,000 envs', kind: 'switchyard', workers: 1, envs: 10_000, host: PREVIEW_HOST });
  defs.push({ id: 'sy-100k', label: 'switchyard, 1 worker, 100,000 envs', kind: 'switchyard', workers: 1, envs: 100_000, host: PREVIEW_HOST, control: true });
  defs.push({ id: 'sy-1w-base', label: 'switchyard, 1 worker (base host)', kind: 'switchyard', shares: 'sy-1w', host: BASE_HOST });
  defs.push({ id: 'sy-all', label: `switchyard, ${nproc} workers (preview host), JSON access log per worker${free}`, kind: 'switchyard', workers: nproc, envs: 3, host: PREVIEW_HOST, accessLog: true, unpinned: true });
  return defs;
}

async function startTarget(d, upPort, byId) {
  const t = { ...d, host: d.host ?? PREVIEW_HOST };
  if (d.shares) {
    const o = byId.get(d.shares);
    if (!o?.proc) throw new Error(`${d.id} needs ${d.shares}, which did not start`);
    Object.assign(t, { proc: o.proc, port: o.port, ready: o.ready, shared: true });
  } else if (d.kind === 'reference') {
    Object.assign(t, { proc: byId.get('upstream').proc, port: upPort, shared: true });
  } else {
    await launch(t, d, upPort);
  }
  await waitHttp200(t.proc, t.port, t.host, 20_000, d.file);
  const pids = tree(t.proc.pid);
  t.processes = pids.length;
  t.threads = pids.reduce((a, p) => a + (threadsOf(p) ?? 0), 0);
  t.rssStartKB = rssKB(pids);
  return t;
}

async function launch(t, d, upPort) {
  t.port = await freePort();
  const cpu = d.unpinned ? 'all' : 1;
  switch (d.kind) {
    case 'nginx': {
      const conf = join(TMP, `${d.id}.conf`);
      if (d.accessLog) t.accessLogPaths = [join(TMP, `${d.id}-access.log`)];
      writeFileSync(conf, nginxProxyConf(TMP, d.id, d.workers, t.port, upPort, { accessLog: t.accessLogPaths?.[0] }));
      t.proc = start(d.id, cpu, 'nginx', ['-p', TMP, '-c', conf, '-e', 'stderr']);
      break;
    }
    case 'haproxy': {
      const conf = join(TMP, `${d.id}.cfg`);
      writeFileSync(conf, haproxyConf(d.threads, t.port, upPort));
      t.proc = start(d.id, cpu, 'haproxy', ['-db', '-f', conf]);
      break;
    }
    case 'caddy': {
      const conf = join(TMP, `${d.id}.Caddyfile`);
      writeFileSync(conf, caddyfile(t.port, upPort));
      const home = join(TMP, `${d.id}-home`);
      mkdirSync(home, { recursive: true });
      const env = { HOME: home, XDG_DATA_HOME: home, XDG_CONFIG_HOME: home };
      if (d.gomaxprocs) env.GOMAXPROCS = d.gomaxprocs;
      else env.GOMAXPROCS = '';
      t.proc = start(d.id, cpu, 'caddy', ['run', '--config', conf, '--adapter', 'caddyfile'], { env });
      break;
    }
    case 'node-floor':
      t.proc = start(d.id, 1, process.execPath, [join(ROOT, 'bench', 'node-floor-proxy.js'), '--upstream-port', String(upPort), '--port', String(t.port)], { readyLine: true });
      t.ready = await t.proc.ready;
      break;
    case 'nginx-static': {
      const conf = join(TMP, `${d.id}.conf`);
      writeFileSync(conf, nginxStaticConf(TMP, d.id, t.port, join(TMP, 'site')));
      t.proc = start(d.id, 1, 'nginx', ['-p', TMP, '-c', conf, '-e', 'stderr']);
      break;
    }
    case 'switchyard': {
      const args = [join(ROOT, 'bench', 'router-server.js'), '--dist', DIST, '--envs', String(d.envs ?? 0), '--upstream-port', String(upPort), '--port', String(t.port), '--workers', String(d.workers)];
      if (d.site) args.push('--site-dir', join(TMP, 'site'), '--blob-dir', join(TMP, `${d.id}-blobs`));
      if (d.accessLog) { t.accessLogPath = join(TMP, `${d.id}-access.log`); args.push('--access-log', t.accessLogPath); }
      if (d.metrics) args.push('--metrics');
      if (d.control) { t.controlPort = await freePort(); args.push('--control-port', String(t.controlPort)); }
      t.proc = start(d.id, cpu, process.execPath, args, { readyLine: true });
      t.ready = await t.proc.ready;
      if (d.accessLog) t.accessLogPaths = Array.isArray(t.ready.accessLog) ? t.ready.accessLog : [t.accessLogPath];
      break;
    }
    default: throw new Error(`unknown kind ${d.kind}`);
  }
}

// ---------------------------------------------------------------------------------------------
// machine facts

function machine() {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const model = /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1] ?? 'unknown';
  const pkg = (name) => {
    const r = spawnSync('dpkg-query', ['-W', '-f', '${Version}', name], { encoding: 'utf8' });
    return r.status === 0 && r.stdout ? r.stdout : undefined;
  };
  let undici;
  try { undici = JSON.parse(readFileSync(join(ROOT, 'node_modules', 'undici', 'package.json'), 'utf8')).version; } catch { /* absent */ }
  return {
    nproc: Number(spawnSync('nproc', { encoding: 'utf8' }).stdout.trim()) || cpus().length,
    cpuModel: model,
    kernel: readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim(),
    node: process.version,
    memGB: +(totalmem() / 2 ** 30).toFixed(1),
    packages: { nginx: pkg('nginx-light') ?? pkg('nginx-core') ?? pkg('nginx'), haproxy: pkg('haproxy'), caddy: pkg('caddy'), wrk: pkg('wrk'), undici },
    loadavg: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '),
  };
}

// ---------------------------------------------------------------------------------------------
// report

const fmtInt = (x) => (x === undefined ? '—' : Math.round(x).toLocaleString('en-US'));
const fmtLat = (us) => (us === undefined ? '—' : us < 1000 ? `${us.toFixed(0)} µs` : `${(us / 1000).toFixed(2)} ms`);
const fmt1 = (x) => (x === undefined ? '—' : x.toFixed(1));
const fmtX = (x) => (x === undefined ? '—' : `${x.toFixed(2)}×`);
const fmtMs = (x) => (x === undefined ? '—' : x < 10 ? `${x.toFixed(2)} ms` : `${x.toFixed(0)} ms`);
const fmtS = (x) => (x === undefined ? '—' : x.toFixed(2));
const fmtPct = (x) => (x === undefined ? '—' : `${x.toFixed(1)} %`);

function summariseTarget(t, rounds) {
  const pick = (conn, k) => rounds.map((r) => r[conn]?.[k]);
  const s = { id: t.id, label: t.label, processes: t.processes, threads: t.threads, rounds: rounds.length, unpinned: !!t.unpinned };
  for (const conn of ['c64', 'c1']) {
    s[conn] = {
      rps: median(pick(conn, 'rps')), rpsMin: min(pick(conn, 'rps')), rpsMax: max(pick(conn, 'rps')),
      p50us: median(pick(conn, 'p50us')), p99us: median(pick(conn, 'p99us')),
      cpuUsPerReq: median(pick(conn, 'cpuUsPerReq')), cpuMin: min(pick(conn, 'cpuUsPerReq')), cpuMax: max(pick(conn, 'cpuUsPerReq')),
      errors: pick(conn, 'non2xx').reduce((a, b) => a + (b ?? 0), 0) + pick(conn, 'socketErrors').reduce((a, b) => a + (b ?? 0), 0),
      cpu1OtherS: max(pick(conn, 'cpu1OtherS')),
      cpu1BusyPct: median(pick(conn, 'cpu1BusyPct')), cpu0BusyPct: median(pick(conn, 'cpu0BusyPct')),
    };
  }
  s.failures = rounds.filter((r) => r.error).map((r) => r.error);
  return s;
}

/** Median over rounds of (target / nginx 1 worker) measured in the same round. */
function pairedVsNginx(res, id, conn, key) {
  const xs = [];
  for (let r = 1; r <= (res.options?.rounds ?? 0); r++) {
    const a = res.rounds.find((x) => x.target === id && x.round === r && !x.error), b = res.rounds.find((x) => x.target === 'nginx-1w' && x.round === r && !x.error);
    if (a?.[conn]?.[key] !== undefined && b?.[conn]?.[key]) xs.push(a[conn][key] / b[conn][key]);
  }
  return median(xs);
}

function buildReport(res) {
  const S = new Map(res.summary.map((s) => [s.id, s]));
  const ng = S.get('nginx-1w');
  const ratio = (a, b) => (a !== undefined && b ? a / b : undefined);
  const L = [];
  const m = res.machine;
  L.push(`Run ${res.startedAt} → ${res.finishedAt} (${res.options.rounds} round(s), ${res.options.duration} s per wrk run, ${res.options.warmup} s warm-up${res.options.quick ? ', **--quick smoke run, not a measurement**' : ''}).`);
  L.push('');
  L.push(`Machine: ${m.nproc} CPUs (${m.cpuModel}), ${m.memGB} GB RAM, Linux ${m.kernel}, Node ${m.node}; nginx ${m.packages.nginx ?? 'absent'}, HAProxy ${m.packages.haproxy ?? 'absent'}, Caddy ${m.packages.caddy ?? 'absent'}, wrk ${m.packages.wrk ?? 'absent'}, undici ${m.packages.undici}. Load average at start ${m.loadavg}, at end ${res.loadavgEnd}. Pinning: ${res.pinned ? `proxy on CPU 1, wrk + upstream on CPU 0; the all-cores targets (${res.summary.filter((s) => s.unpinned).map((s) => s.id).join(', ') || 'none in this run'}) run unpinned, proxy and wrk free on all ${m.nproc} CPUs (the upstream stays on CPU 0)` : '**none (taskset missing)**'}.`);
  const code = res.code ?? res.git;
  if (code) L.push('', `Code measured: ${code.what === 'commit' ? `commit ${code.head} ("${code.subject}"), built by the bench on its own` : `\`dist/\` of the work tree at ${code.head} ("${code.subject}")${code.dirty?.length ? ` plus uncommitted changes in ${code.dirty.length} file(s) under src/` : ''}, copied at the start`}; every switchyard process of the run (and the profile) loads that one copy.`);
  if (res.skipped.length) { L.push(''); for (const s of res.skipped) L.push(`- skipped: ${s}`); }
  const settles = res.rounds.map((r) => r.settle).filter(Boolean);
  if (settles.length && res.pinned) L.push('', `Before each target's warm-up the bench waited for CPU 1 to be quiet (< 20 % busy over 500 ms, at most 8 s): ${settles.filter((x) => x.quiet).length} of ${settles.length} times it was, after ${fmtS(median(settles.map((x) => x.waitedMs / 1000)))} s (median) / ${fmtS(max(settles.map((x) => x.waitedMs / 1000)))} s (max).`);
  const other = max(res.summary.filter((s) => s.id !== 'direct').flatMap((s) => [s.c64.cpu1OtherS, s.c1.cpu1OtherS]));
  if (other !== undefined) L.push('', `Other work seen on the proxy's CPU during a measurement (CPU 1 busy time not spent by the proxy): at most ${other.toFixed(2)} s in one ${res.options.duration} s run.`);
  if (res.summary.length) {
    L.push('');
    L.push('### Proxies (64 and 1 connections; medians over rounds; ratios to nginx 1 worker)');
    L.push('');
    L.push('| target | procs/threads | req/s @64 | p50 @64 | p99 @64 | req/s @1 | p50 @1 | p99 @1 | proxy CPU µs/req @64 (min–max) | CPU/req ×nginx (paired) | req/s @64 ×nginx | p50 @1 ×nginx (paired) | other work on CPU 1 (max s/run) |');
    L.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const s of res.summary) {
      if (['sy-10k', 'sy-100k'].includes(s.id)) continue;
      const ref = s.id === 'direct';
      L.push(`| ${s.label}${s.c64.errors + s.c1.errors ? ` ⚠ ${s.c64.errors + s.c1.errors} errors` : ''} | ${s.processes}/${s.threads} | ${fmtInt(s.c64.rps)} | ${fmtLat(s.c64.p50us)} | ${fmtLat(s.c64.p99us)} | ${fmtInt(s.c1.rps)} | ${fmtLat(s.c1.p50us)} | ${fmtLat(s.c1.p99us)} | ${ref ? `(upstream) ${fmt1(s.c64.cpuUsPerReq)}` : `${fmt1(s.c64.cpuUsPerReq)} (${fmt1(s.c64.cpuMin)}–${fmt1(s.c64.cpuMax)})`} | ${ref ? '—' : `${fmtX(ratio(s.c64.cpuUsPerReq, ng?.c64.cpuUsPerReq))} (${fmtX(pairedVsNginx(res, s.id, 'c64', 'cpuUsPerReq'))})`} | ${fmtX(ratio(s.c64.rps, ng?.c64.rps))} | ${ref ? '—' : `${fmtX(ratio(s.c1.p50us, ng?.c1.p50us))} (${fmtX(pairedVsNginx(res, s.id, 'c1', 'p50us'))})`} | ${fmtS(max([s.c64.cpu1OtherS, s.c1.cpu1OtherS]))} |`);
    }
    L.push('');
    L.push('Ratios are of the medians; in parentheses, the median over rounds of the ratio measured within the same round (less sensitive to load that comes and goes between rounds). procs/threads: processes in the proxy\'s tree and their threads, counted after start. CPU µs/req sums utime+stime of every process of the proxy (nginx master + workers, the cluster primary + workers, …) over the wrk run, divided by the requests wrk completed. "direct" is wrk straight to the upstream; its CPU column is the upstream nginx\'s own cost. Every switchyard row routes (preview host → environment), rewrites the forwarding headers (hop-by-hop removed, X-Forwarded-*/Forwarded set) and sets X-Request-Id; "JSON access log" rows also write one pino JSON line per request (buffered, to a file in the temp dir). nginx-1w and the other anchors log nothing; "nginx, 1 worker, JSON access log" writes a `log_format … escape=json` line per request (`buffer=64k flush=1s`). Unpinned rows are compared with nginx auto in the all-cores table below; their ×nginx columns here are to the pinned nginx 1 worker.');
  }
  const logCost = (on, off) => {
    if (!S.has(on) || !S.has(off)) return undefined;
    const d = pairedDiff(res, on, off, 'c64', 'cpuUsPerReq');
    const r = pairedRatio(res, on, off, 'c64', 'cpuUsPerReq');
    const rr = pairedRatio(res, on, off, 'c64', 'rps');
    const dm = median(d);
    const head = `${dm === undefined ? '—' : `${dm >= 0 ? '+' : '−'}${fmt1(Math.abs(dm))}`} µs/request (${r.median === undefined ? '—' : `${r.median >= 1 ? '+' : '−'}${fmtPct(Math.abs(r.median - 1) * 100)}`})`;
    return { head, rest: `CPU @64; req/s @64 ${fmtX(rr.median)} (paired medians over ${d.length} round(s) of ${on} vs ${off} measured in the same round; per round ${d.map((x) => fmt1(x)).join(', ')} µs; unpaired: ${fmt1(S.get(on).c64.cpuUsPerReq)} vs ${fmt1(S.get(off).c64.cpuUsPerReq)} µs)` };
  };
  const syLog = logCost('sy-1w-log', 'sy-1w'), ngLog = logCost('nginx-1w-log', 'nginx-1w');
  if (syLog || ngLog) L.push('');
  if (syLog) L.push(`- access log: **${syLog.head}** ${syLog.rest} — switchyard, 1 worker, pino JSON lines to a file.`);
  if (ngLog) L.push(`- nginx access log, for comparison: ${ngLog.head} ${ngLog.rest}.`);
  const checks = (res.targets ?? []).filter((t) => t.accessLog);
  if (checks.length) L.push(`- access-log lines written / requests wrk completed (warm-ups included; wrk does not count the ≤ 64 requests in flight when it stops): ${checks.map((t) => `${t.id} ${fmtInt(t.accessLog.lines)} / ${fmtInt(t.accessLog.requests)}${t.accessLog.files > 1 ? ` (${t.accessLog.files} files)` : ''}`).join('; ')}.`);
  const freeRows = res.summary.filter((s) => s.unpinned);
  if (freeRows.length) {
    const na = S.get('nginx-auto');
    L.push('');
    L.push(`### All cores, unpinned (proxy and wrk free on all ${m.nproc} CPUs, upstream on CPU 0; ratios to nginx worker_processes auto)`);
    L.push('');
    L.push('| target | procs/threads | req/s @64 (min–max) | ×nginx auto (paired) | p99 @64 | proxy CPU µs/req @64 | ×nginx auto (paired) | CPU 0 / CPU 1 busy @64 |');
    L.push('|---|---:|---:|---:|---:|---:|---:|---:|');
    for (const s of freeRows) {
      const isNa = s.id === 'nginx-auto';
      L.push(`| ${s.label}${s.c64.errors + s.c1.errors ? ` ⚠ ${s.c64.errors + s.c1.errors} errors` : ''} | ${s.processes}/${s.threads} | ${fmtInt(s.c64.rps)} (${fmtInt(s.c64.rpsMin)}–${fmtInt(s.c64.rpsMax)}) | ${isNa ? '1.00×' : `${fmtX(ratio(s.c64.rps, na?.c64.rps))} (${fmtX(pairedRatio(res, s.id, 'nginx-auto', 'c64', 'rps').median)})`} | ${fmtLat(s.c64.p99us)} | ${fmt1(s.c64.cpuUsPerReq)} | ${isNa ? '1.00×' : `${fmtX(ratio(s.c64.cpuUsPerReq, na?.c64.cpuUsPerReq))} (${fmtX(pairedRatio(res, s.id, 'nginx-auto', 'c64', 'cpuUsPerReq').median)})`} | ${fmtPct(s.c64.cpu0BusyPct)} / ${fmtPct(s.c64.cpu1BusyPct)} |`);
    }
    L.push('');
    L.push('On a machine this small, wrk (one thread) and the upstream share the CPUs with the proxy here, so these rows measure the whole box at saturation; the pinned rows above are the per-core figures.');
  }
  if (S.has('sy-1w')) {
    L.push('');
    L.push('### Environments in the table (switchyard, 1 worker, Host e1.bench.localhost)');
    L.push('');
    L.push('| envs | table compile at start | req/s @64 | ×3 envs | CPU µs/req @64 | p50 @1 | p99 @64 | router RSS after warm-up |');
    L.push('|---:|---:|---:|---:|---:|---:|---:|---:|');
    const base3 = S.get('sy-1w');
    for (const [id, n] of [['sy-1w', 3], ['sy-10k', 10_000], ['sy-100k', 100_000]]) {
      const s = S.get(id);
      if (!s) continue;
      const info = res.targets.find((t) => t.id === id);
      L.push(`| ${n.toLocaleString('en-US')} | ${info?.compileMs !== undefined ? `${info.compileMs.toFixed(1)} ms` : '—'} | ${fmtInt(s.c64.rps)} | ${fmtPct(ratio(s.c64.rps, base3?.c64.rps) * 100)} | ${fmt1(s.c64.cpuUsPerReq)} | ${fmtLat(s.c1.p50us)} | ${fmtLat(s.c64.p99us)} | ${info?.rssKB ? `${(info.rssKB / 1024).toFixed(0)} MB` : '—'} |`);
  }
    const perRound = (id) => {
      const rs = [];
      for (let r = 1; r <= res.options.rounds; r++) {
        const a = res.rounds.find((x) => x.target === id && x.round === r && !x.error), b = res.rounds.find((x) => x.target === 'sy-1w' && x.round === r && !x.error);
        if (a && b) rs.push({ rps: a.c64.rps / b.c64.rps, cpu: a.c64.cpuUsPerReq / b.c64.cpuUsPerReq });
      }
      return rs;
    };
    L.push('');
    for (const [id, n] of [['sy-10k', '10,000'], ['sy-100k', '100,000']]) {
      const rs = perRound(id);
      if (rs.length) L.push(`- ${n} envs vs 3, paired within each round: req/s ratio median ${fmtPct(median(rs.map((x) => x.rps)) * 100)} (rounds: ${rs.map((x) => fmtPct(x.rps * 100)).join(', ')}); CPU/req ratio median ${fmtX(median(rs.map((x) => x.cpu)))} (rounds: ${rs.map((x) => fmtX(x.cpu)).join(', ')}).`);
    }
    const all = res.targets.find((t) => t.id === 'sy-all');
    if (all?.rssKB) L.push('', `RSS of the ${all.processes}-process cluster (primary + workers, 3 envs): ${(all.rssKB / 1024).toFixed(0)} MB in total.`);
  }
  if (res.envCreate) {
    const modes = Object.values(res.envCreate);
    L.push('');
    L.push(`### Create an environment → its first 200, at 100,000 environments (${modes[0]?.trials.length ?? 0} trials per way, medians)`);
    L.push('');
    L.push('| how the router gets the change | API call | of which: compile / apply | setSnapshot | first 200 after the API returned (median / max) | first 200 from the call | a poll\'s round trip before the call |');
    L.push('|---|---:|---:|---:|---:|---:|---:|');
    for (const ec of modes) {
      const what = ec.mode === 'delta' ? '`applyDelta(snapshot, {upserts: [env]})`' : 'full rebuild, `compileSnapshot(table, previous)`';
      if (ec.error) { L.push(`| ${what} | failed: ${ec.error} | | | | | |`); continue; }
      L.push(`| ${what} | ${fmtMs(ec.apiMs)} | ${fmtMs(ec.compileMs)} | ${fmtMs(ec.setSnapshotMs)} | ${fmtMs(ec.firstOkAfterApiMs)} / ${fmtMs(ec.firstOkAfterApiMaxMs)} | ${fmtMs(ec.firstOkFromCallMs)} | ${fmtMs(ec.pollRttMs)} |`);
    }
    L.push('');
    L.push('The driver\'s control endpoint changes the snapshot inside the router process (the event loop is blocked meanwhile) and answers after `setSnapshot`. The poller sends `GET /` with the new host on one keep-alive connection, 1 ms after each answer, so "after the API returned" is mostly the poller\'s own granularity (its request in flight, the 1 ms timer) plus scheduling on a shared CPU. In switchyard proper the control plane compiles and the router workers receive the change over IPC or the store\'s feed; this isolates the router-side cost.');
  }
  if (res.body?.summary) {
    const b = res.body;
    const size = b.bytes >= 2 ** 30 ? `${b.bytes / 2 ** 30} GiB` : `${b.bytes / 2 ** 20} MiB`;
    L.push('');
    L.push(`### ${size} request and response bodies (${b.rounds} round(s) per direction and proxy; medians)`);
    L.push('');
    L.push('| proxy | direction | MB/s (min–max) | proxy CPU s per GiB | proxy CPU, % of a core | proxy RSS before → max during (growth) | CPU 0 busy (client + upstream) | CPU 1 busy (proxy + other work) |');
    L.push('|---|---|---:|---:|---:|---:|---:|---:|');
    const label = (id) => b.proxies.find((x) => x.id === id)?.label ?? id;
    for (const x of b.summary) {
      const fail = x.failed.length ? ` ⚠ ${x.failed.length} failed: ${x.failed[0]}` : '';
      L.push(`| ${label(x.proxy)}${fail} | ${x.mode === 'upload' ? 'upload (client → proxy → upstream)' : 'download (upstream → proxy → client)'} | ${fmtInt(x.mbPerS)} (${fmtInt(x.mbPerSMin)}–${fmtInt(x.mbPerSMax)}) | ${fmtS(x.cpuSPerGiB)} | ${fmtPct(x.proxyPct)} | ${x.rssBeforeKB !== undefined ? `${(x.rssBeforeKB / 1024).toFixed(0)} → ${(x.rssPeakKB / 1024).toFixed(0)} MB (+${(x.rssGrowthKB / 1024).toFixed(1)} MB)` : '—'} | ${fmtPct(x.cpu0BusyPct)} | ${fmtPct(x.cpu1BusyPct)} |`);
    }
    const get = (p, mode) => b.summary.find((x) => x.proxy === p && x.mode === mode);
    const cmp = ['upload', 'download'].map((mode) => {
      const a = get('sy-1w', mode), n = get('nginx-1w', mode);
      return a && n && a.mbPerS && n.mbPerS ? `${mode}: switchyard ${fmtX(a.mbPerS / n.mbPerS)} nginx's MB/s, ${fmtX(a.cpuSPerGiB / n.cpuSPerGiB)} its CPU per GiB` : undefined;
    }).filter(Boolean);
    if (cmp.length) L.push('', `- ${cmp.join('; ')}.`);
    L.push('');
    L.push(`One request per transfer on a fresh connection, the body generated and discarded on the fly (nothing on disk): upload is \`POST\` with \`Content-Length: ${b.bytes}\` written in 1 MiB slices by bench/body-client.js, which bench/body-upstream.js (node:http) counts, drops and acknowledges with the count; download is \`GET /bytes/${b.bytes}\` streamed by the upstream from a 256 KiB buffer and counted by the client. Both proxies run alone on CPU 1 with 1 worker; the client and the upstream (two node processes) share CPU 0, so a CPU 0 near 100 % means they, not the proxy, set the pace; the proxy's CPU seconds per GiB are the comparable figure then. nginx streams both ways: \`proxy_request_buffering off\`, \`proxy_buffering off\`, \`client_max_body_size 0\`; switchyard streams by design and runs with \`limits.maxBodyBytes\` raised above the body (its default is 100 MiB), no access log. MB/s is 10^6 bytes per second on the client's clock (request start to last response byte); RSS is sampled every 50 ms. A transfer is cut after ${(b.timeoutMs / 1000).toFixed(0)} s.`);
  } else if (res.bodyError) {
    L.push('', `Body section: failed (${res.bodyError}).`);
  }
  L.push('');
  L.push('### Targets');
  L.push('');
  for (const g of res.targets_met) L.push(`- ${g.met === undefined ? '❔ not measured' : g.met ? '✅ met' : '❌ not met'} — ${g.what}: ${g.value}`);
  const missed = res.targets_met.filter((g) => g.met === false);
  if (missed.length && res.profile) {
    const groups = res.profile.summary.groups.slice(0, 5).map((r) => `${r.frame} ${r.pctBusy.toFixed(1)} %`).join(', ');
    const top = res.profile.summary.top.slice(0, 3).map((r) => `\`${r.frame.replace(/\|/g, '\\|')}\` ${r.pctBusy.toFixed(1)} %`).join(', ');
    L.push('', `${missed.length} target(s) missed. Where the router's CPU goes (profile below, access log on; shares of busy time): ${groups}; heaviest frames ${top}.`);
  }
  if (res.profile) {
    L.push('');
    L.push(`### CPU profile of switchyard (\`node --cpu-prof\`, 1 worker, 3 envs, ${res.profile.accessLog ? 'JSON access log on, ' : ''}wrk -c64 for ${res.profile.seconds} s; ${res.profile.summary.busyMs.toFixed(0)} ms busy of ${res.profile.summary.totalMs.toFixed(0)} ms sampled${res.profile.underProfiler ? `; ${fmtInt(res.profile.underProfiler.rps)} req/s, ${fmt1(res.profile.underProfiler.cpuUsPerReq)} µs CPU/req under the profiler` : ''})`);
    L.push('');
    L.push('| # | self ms | % of busy | frame |');
    L.push('|---:|---:|---:|---|');
    res.profile.summary.top.forEach((r, k) => L.push(`| ${k + 1} | ${r.selfMs.toFixed(1)} | ${r.pctBusy.toFixed(1)} | \`${r.frame.replace(/\|/g, '\\|')}\` |`));
    L.push('');
    L.push('| where the self time is | % of busy |');
    L.push('|---|---:|');
    for (const r of res.profile.summary.groups) L.push(`| ${r.frame} | ${r.pctBusy.toFixed(1)} |`);
  } else if (res.profileError) {
    L.push('', `CPU profile: failed (${res.profileError}).`);
  }
  return L.join('\n');
}

/** "how far from the limit": for `≤ limit` targets over/under, for `≥ limit` targets short/above. */
function margin(value, limit, atMost) {
  if (value === undefined || !limit) return '';
  const pct = (value / limit - 1) * 100;
  if (atMost) return pct > 0 ? `, ${fmtPct(pct)} over the ${fmtX(limit)} limit` : `, ${fmtPct(-pct)} under the ${fmtX(limit)} limit`;
  return pct < 0 ? `, ${fmtPct(-pct)} short of the ${fmtX(limit)} floor` : `, ${fmtPct(pct)} above the ${fmtX(limit)} floor`;
}

function evaluateTargets(res) {
  const S = new Map(res.summary.map((s) => [s.id, s]));
  const sy = S.get('sy-1w'), syl = S.get('sy-1w-log'), ng = S.get('nginx-1w'), na = S.get('nginx-auto'), all = S.get('sy-all'), k100 = S.get('sy-100k');
  const t100 = res.targets.find((t) => t.id === 'sy-100k');
  const out = [];
  const ratio = (a, b) => (a !== undefined && b ? a / b : undefined);
  // Paired (same round) ratio when both ran in at least one round, else the ratio of the medians.
  const pr = (a, b, key) => {
    const p = pairedRatio(res, a, b, 'c64', key).median;
    return p ?? ratio(S.get(a)?.c64[key], S.get(b)?.c64[key]);
  };
  // (a) CPU per request, access log on, ≤ 1.5× nginx 1 worker
  {
    const v = syl && ng ? pr('sy-1w-log', 'nginx-1w', 'cpuUsPerReq') : undefined;
    const excess = syl && ng ? syl.c64.cpuUsPerReq - 1.5 * ng.c64.cpuUsPerReq : undefined;
    out.push({
      id: 'cpu', what: 'proxy CPU/request of switchyard 1 worker with the JSON access log on (sy-1w-log, pinned, 64 conns) ≤ 1.5× nginx 1 worker (paired ratio)',
      met: v === undefined ? undefined : v <= 1.5,
      value: v === undefined ? '—' : `${fmtX(v)}${margin(v, 1.5, true)} (${fmt1(syl.c64.cpuUsPerReq)} vs nginx ${fmt1(ng.c64.cpuUsPerReq)} µs, ratio of medians ${fmtX(ratio(syl.c64.cpuUsPerReq, ng.c64.cpuUsPerReq))}; ${excess > 0 ? `${fmt1(excess)} µs/request above` : `${fmt1(-excess)} µs/request below`} 1.5 × nginx's)`,
    });
  }
  // (b) throughput, access log on, ≥ 0.8× nginx 1 worker
  {
    const v = syl && ng ? pr('sy-1w-log', 'nginx-1w', 'rps') : undefined;
    out.push({
      id: 'rps', what: 'req/s @64 of switchyard 1 worker with the JSON access log on (sy-1w-log, pinned) ≥ 0.8× nginx 1 worker (paired ratio)',
      met: v === undefined ? undefined : v >= 0.8,
      value: v === undefined ? '—' : `${fmtX(v)}${margin(v, 0.8, false)} (${fmtInt(syl.c64.rps)} vs nginx ${fmtInt(ng.c64.rps)} req/s, ratio of medians ${fmtX(ratio(syl.c64.rps, ng.c64.rps))})`,
    });
  }
  // (c) all cores, unpinned, ≥ 0.85× nginx auto
  {
    // Results of an older bench had both pinned to CPU 1: not the comparison the target asks for.
    const placedRight = !res.pinned || (all?.unpinned && na?.unpinned);
    const v = all && na && placedRight ? pr('sy-all', 'nginx-auto', 'rps') : undefined;
    out.push({
      id: 'rps-all', what: `req/s @64 of switchyard with --workers = cores (${all?.label ?? 'sy-all'}) ≥ 0.85× nginx worker_processes auto, both unpinned with wrk unpinned (paired ratio)`,
      met: v === undefined ? undefined : v >= 0.85,
      value: v === undefined ? (all && na ? 'both ran pinned to CPU 1 in these results (older bench), not comparable' : '—') : `${fmtX(v)}${margin(v, 0.85, false)} (${fmtInt(all.c64.rps)} vs nginx auto ${fmtInt(na.c64.rps)} req/s, ratio of medians ${fmtX(ratio(all.c64.rps, na.c64.rps))}; CPU/req ${fmt1(all.c64.cpuUsPerReq)} vs ${fmt1(na.c64.cpuUsPerReq)} µs)`,
    });
  }
  const cpu = sy?.c64.cpuUsPerReq;
  const tr = k100 && sy ? k100.c64.rps / sy.c64.rps : undefined;
  const paired = [];
  for (let r = 1; r <= (res.options?.rounds ?? 0); r++) {
    const a = res.rounds.find((x) => x.target === 'sy-100k' && x.round === r && !x.error), b = res.rounds.find((x) => x.target === 'sy-1w' && x.round === r && !x.error);
    if (a && b) paired.push({ rps: a.c64.rps / b.c64.rps, cpu: a.c64.cpuUsPerReq / b.c64.cpuUsPerReq });
  }
  const pairedNote = paired.length ? `; paired per round: req/s median ${fmtPct(median(paired.map((x) => x.rps)) * 100)} (range ${fmtPct(min(paired.map((x) => x.rps)) * 100)}–${fmtPct(max(paired.map((x) => x.rps)) * 100)}), CPU/req ${fmtX(median(paired.map((x) => x.cpu)))}` : '';
  out.push({ what: 'throughput at 100,000 envs ≥ 95 % of 3 envs (ratio of the req/s medians)', met: tr === undefined ? undefined : tr >= 0.95, value: `${fmtPct(tr === undefined ? undefined : tr * 100)}${tr === undefined ? '' : tr >= 0.95 ? `, ${fmt1((tr - 0.95) * 100)} points above 95 %` : `, ${fmt1((0.95 - tr) * 100)} points short of 95 %`} (CPU/req ${fmt1(k100?.c64.cpuUsPerReq)} vs ${fmt1(cpu)} µs${pairedNote})` });
  const rss = t100?.rssKB ? t100.rssKB / 1024 : undefined;
  out.push({ what: 'router RSS at 100,000 envs ≤ 250 MB', met: rss === undefined ? undefined : rss <= 250, value: rss === undefined ? '—' : `${rss.toFixed(0)} MB (${rss <= 250 ? `${(250 - rss).toFixed(0)} MB under` : `${(rss - 250).toFixed(0)} MB over`} the limit)` });
  const ec = res.envCreate?.delta ?? res.envCreate?.full;
  if (ec && !ec.error) {
    out.push({ what: `new environment served ≤ 10 ms after the API returns (DESIGN.md), at 100,000 envs, ${ec.mode === 'delta' ? 'applyDelta' : 'full rebuild'}`, met: ec.firstOkAfterApiMs <= 10, value: `${fmtMs(ec.firstOkAfterApiMs)} after it returned (max ${fmtMs(ec.firstOkAfterApiMaxMs)}); the call itself ${fmtMs(ec.apiMs)}${res.envCreate.full && !res.envCreate.full.error && ec.mode === 'delta' ? `; a full rebuild call takes ${fmtMs(res.envCreate.full.apiMs)}` : ''}` });
  }
  return out;
}

function countLines(path) {
  try { const b = readFileSync(path); let n = 0; for (let i = b.indexOf(10); i !== -1; i = b.indexOf(10, i + 1)) n++; return n; } catch { return 0; }
}

/** The run's header lines shared by the suite reports (when, machine, code, quiet CPU, other work). */
function runHeader(res) {
  const L = [];
  const m = res.machine;
  L.push(`Run ${res.startedAt} → ${res.finishedAt} (\`--suite ${res.options.suite}\`, ${res.options.rounds} round(s), ${res.options.duration} s per wrk run, ${res.options.warmup} s warm-up${res.options.quick ? ', **--quick smoke run, not a measurement**' : ''}).`);
  L.push('');
  L.push(`Machine: ${m.nproc} CPUs (${m.cpuModel}), ${m.memGB} GB RAM, Linux ${m.kernel}, Node ${m.node}; nginx ${m.packages.nginx ?? 'absent'}, wrk ${m.packages.wrk ?? 'absent'}. Load average at start ${m.loadavg}, at end ${res.loadavgEnd}. Pinning: ${res.pinned ? 'server under test on CPU 1, wrk on CPU 0' : '**none (taskset missing)**'}.`);
  const code = res.code ?? res.git;
  if (code) L.push('', `Code measured: ${code.what === 'commit' ? `commit ${code.head} ("${code.subject}"), built by the bench on its own` : `\`dist/\` of the work tree at ${code.head}${code.dirty?.length ? ` plus uncommitted changes in ${code.dirty.length} file(s) under src/` : ''}, copied at the start`}.`);
  if (res.skipped.length) { L.push(''); for (const x of res.skipped) L.push(`- skipped: ${x}`); }
  const settles = res.rounds.map((r) => r.settle).filter(Boolean);
  if (settles.length && res.pinned) L.push('', `Quiet CPU 1 before a warm-up (< 20 % busy over 500 ms, waited at most 8 s): ${settles.filter((x) => x.quiet).length} of ${settles.length} times.`);
  const other = max(res.summary.flatMap((x) => [x.c64.cpu1OtherS, x.c1.cpu1OtherS]));
  if (other !== undefined) L.push('', `Other work seen on CPU 1 during a measurement (busy time not spent by the server under test): at most ${other.toFixed(2)} s in one ${res.options.duration} s run.`);
  return L;
}

/** Median over rounds of a/b measured in the same round. */
function pairedRatio(res, idA, idB, conn, key) {
  const xs = [];
  for (let r = 1; r <= (res.options?.rounds ?? 0); r++) {
    const a = res.rounds.find((x) => x.target === idA && x.round === r && !x.error), b = res.rounds.find((x) => x.target === idB && x.round === r && !x.error);
    if (a?.[conn]?.[key] !== undefined && b?.[conn]?.[key]) xs.push(a[conn][key] / b[conn][key]);
  }
  return { median: median(xs), all: xs };
}

/** Per round, a − b measured in the same round. */
function pairedDiff(res, idA, idB, conn, key) {
  const xs = [];
  for (let r = 1; r <= (res.options?.rounds ?? 0); r++) {
    const a = res.rounds.find((x) => x.target === idA && x.round === r && !x.error), b = res.rounds.find((x) => x.target === idB && x.round === r && !x.error);
    if (a?.[conn]?.[key] !== undefined && b?.[conn]?.[key] !== undefined) xs.push(a[conn][key] - b[conn][key]);
  }
  return xs;
}

function buildStaticReport(res) {
  const S = new Map(res.summary.map((x) => [x.id, x]));
  const ratio = (a, b) => (a !== undefined && b ? a / b : undefined);
  const L = runHeader(res);
  L.push('');
  L.push('| file | server | req/s @64 | p50 @64 | p99 @64 | req/s @1 | p50 @1 | p99 @1 | CPU µs/req @64 (min–max) | CPU µs/req @1 | CPU/req ×nginx @64 (paired) | req/s @64 ×nginx (paired) | p50 @1 ×nginx (paired) |');
  L.push('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const f of SITE_FILES) {
    const ng = S.get(`nginx-static-${f.id}`);
    for (const id of [`nginx-static-${f.id}`, `sy-static-${f.id}`]) {
      const x = S.get(id);
      if (!x) continue;
      const isNg = id.startsWith('nginx');
      const pr = (conn, key) => fmtX(pairedRatio(res, id, `nginx-static-${f.id}`, conn, key).median);
      const errs = x.c64.errors + x.c1.errors;
      L.push(`| ${f.label} | ${isNg ? 'nginx, 1 worker, sendfile on' : 'switchyard Router, FsBlobStore'}${errs ? ` ⚠ ${errs} errors` : ''} | ${fmtInt(x.c64.rps)} | ${fmtLat(x.c64.p50us)} | ${fmtLat(x.c64.p99us)} | ${fmtInt(x.c1.rps)} | ${fmtLat(x.c1.p50us)} | ${fmtLat(x.c1.p99us)} | ${fmt1(x.c64.cpuUsPerReq)} (${fmt1(x.c64.cpuMin)}–${fmt1(x.c64.cpuMax)}) | ${fmt1(x.c1.cpuUsPerReq)} | ${isNg ? '1.00×' : `${fmtX(ratio(x.c64.cpuUsPerReq, ng?.c64.cpuUsPerReq))} (${pr('c64', 'cpuUsPerReq')})`} | ${isNg ? '1.00×' : `${fmtX(ratio(x.c64.rps, ng?.c64.rps))} (${pr('c64', 'rps')})`} | ${isNg ? '1.00×' : `${fmtX(ratio(x.c1.p50us, ng?.c1.p50us))} (${pr('c1', 'p50us')})`} |`);
    }
  }
  L.push('');
  L.push('Medians over rounds; ratios are of the medians, in parentheses the median of the ratios measured within the same round. CPU µs/req: utime+stime of the server\'s process tree (nginx master + worker; the one router process) over the wrk run, divided by the requests wrk completed. Requests carry no `Accept-Encoding`, so both send the identity bytes (no compression on either side).');
  return L.join('\n');
}

function buildObsReport(res) {
  const S = new Map(res.summary.map((x) => [x.id, x]));
  const off = S.get('sy-obs-off'), on = S.get('sy-obs-on');
  const L = runHeader(res);
  L.push('');
  L.push('| switchyard 1 worker, Host e1.bench.localhost | req/s @64 | p50 @64 | p99 @64 | CPU µs/req @64 (min–max) | req/s @1 | p50 @1 | CPU µs/req @1 |');
  L.push('|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const x of [off, on]) {
    if (!x) continue;
    const errs = x.c64.errors + x.c1.errors;
    L.push(`| ${x.id === 'sy-obs-on' ? 'access log (pino → file) + metrics ON' : 'access log + metrics OFF'}${errs ? ` ⚠ ${errs} errors` : ''} | ${fmtInt(x.c64.rps)} | ${fmtLat(x.c64.p50us)} | ${fmtLat(x.c64.p99us)} | ${fmt1(x.c64.cpuUsPerReq)} (${fmt1(x.c64.cpuMin)}–${fmt1(x.c64.cpuMax)}) | ${fmtInt(x.c1.rps)} | ${fmtLat(x.c1.p50us)} | ${fmt1(x.c1.cpuUsPerReq)} |`);
  }
  if (off && on) {
    const diffs = (conn) => {
      const xs = [];
      for (let r = 1; r <= res.options.rounds; r++) {
        const a = res.rounds.find((x) => x.target === 'sy-obs-on' && x.round === r && !x.error), b = res.rounds.find((x) => x.target === 'sy-obs-off' && x.round === r && !x.error);
        if (a && b) xs.push(a[conn].cpuUsPerReq - b[conn].cpuUsPerReq);
      }
      return xs;
    };
    const d64 = diffs('c64'), d1 = diffs('c1');
    const r64 = pairedRatio(res, 'sy-obs-on', 'sy-obs-off', 'c64', 'cpuUsPerReq'), rr = pairedRatio(res, 'sy-obs-on', 'sy-obs-off', 'c64', 'rps');
    L.push('');
    L.push(`- CPU per request, ON − OFF @64: **${fmt1(on.c64.cpuUsPerReq - off.c64.cpuUsPerReq)} µs** (difference of the medians; ${fmtX(on.c64.cpuUsPerReq / off.c64.cpuUsPerReq)}); paired within each round: median ${fmt1(median(d64))} µs (rounds: ${d64.map((x) => fmt1(x)).join(', ')} µs), ratio median ${fmtX(r64.median)}.`);
    L.push(`- CPU per request, ON − OFF @1: ${fmt1(on.c1.cpuUsPerReq - off.c1.cpuUsPerReq)} µs (difference of the medians); paired median ${fmt1(median(d1))} µs (rounds: ${d1.map((x) => fmt1(x)).join(', ')} µs).`);
    L.push(`- req/s @64, ON / OFF: ${fmtX(on.c64.rps / off.c64.rps)} (paired median ${fmtX(rr.median)}).`);
    const runs = res.rounds.filter((x) => x.target === 'sy-obs-on' && !x.error).flatMap((x) => [x.c64, x.c1]).filter((m) => m.logLines !== undefined);
    if (runs.length) {
      const extra = runs.map((m) => m.logLines - m.requests);
      L.push(`- Access-log lines vs wrk's completed requests, per wrk run (${runs.length} runs): ${runs.map((m) => `${fmtInt(m.logLines)}/${fmtInt(m.requests)}`).join(', ')} — lines − requests: ${extra.join(', ')} (min ${min(extra)}, max ${max(extra)}). wrk does not count the requests still in flight when it stops (at most one per connection: ≤ 64 @64, ≤ 1 @1); the router logs those too when it answers them.`);
    }
  }
  L.push('');
  L.push('Same driver as the proxy table (`bench/router-server.js`, 3 envs, nginx upstream on CPU 0), started twice: without edge options, and with `--access-log FILE --metrics` (`buildEdge({ serverSecret: \'x\', trustedProxies: [], accessLog: FILE })`, its `accessLog` and `metrics` passed to the Router). Rounds interleave the two; each wrk run is preceded and followed by a 1.5 s pause for both (the log flushes every 1 s), and the log\'s lines are counted in those pauses.');
  return L.join('\n');
}

function updateDocs(block, marker = 'bench') {
  const path = join(ROOT, 'docs', 'BENCHMARKS.md');
  const START = `<!-- ${marker}:start -->`, END = `<!-- ${marker}:end -->`;
  const cmd = marker === 'bench' ? 'npm run bench' : `npm run bench -- --suite ${marker.slice('bench-'.length)}`;
  const gen = `${START}\n<!-- generated by \`${cmd}\`; edits between these markers are overwritten -->\n\n${block}\n\n${END}`;
  let doc = existsSync(path) ? readFileSync(path, 'utf8') : '# Benchmarks\n\n';
  const a = doc.indexOf(START), b = doc.indexOf(END);
  if (a !== -1 && b > a) doc = doc.slice(0, a) + gen + doc.slice(b + END.length);
  else doc = doc.trimEnd() + '\n\n' + gen + '\n';
  writeFileSync(path, doc);
  return path;
}

// ---------------------------------------------------------------------------------------------
// main

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const log = (...a) => console.log(`[bench ${new Date().toISOString().slice(11, 19)}]`, ...a);
  if (o.reportOnly) {
    // Re-renders the report from bench/results/latest.json (no measurement).
    const saved = JSON.parse(readFileSync(o.out ?? join(ROOT, 'bench', 'results', o.suite === 'proxy' ? 'latest.json' : `${o.suite}.json`), 'utf8'));
    const report = o.suite === 'static' ? buildStaticReport(saved) : o.suite === 'obs' ? buildObsReport(saved) : (saved.targets_met = evaluateTargets(saved), buildReport(saved));
    console.log(report);
    if (o.docs) log(`updated ${updateDocs(report, o.suite === 'proxy' ? 'bench' : `bench-${o.suite}`)}`);
    return;
  }
  const res = { startedAt: new Date().toISOString(), options: o, skipped: [], targets: [], rounds: [] };

  // tools
  const tools = Object.fromEntries(['nginx', 'haproxy', 'caddy', 'wrk', 'taskset'].map((t) => [t, which(t)]));
  if (!tools.wrk) {
    console.error('bench: wrk is not installed; nothing can be measured. Install the anchors first (Debian):\n  apt-get update && apt-get install -y nginx-light haproxy caddy wrk');
    process.exitCode = 1;
    return;
  }
  HAVE_TASKSET = !!tools.taskset;
  res.pinned = HAVE_TASKSET;
  for (const [t, why] of [['nginx', 'nginx anchors (1 worker / auto); the fixed upstream falls back to a node:http server, so ratios to nginx are not available'], ['haproxy', 'HAProxy anchors'], ['caddy', 'Caddy anchors'], ['taskset', 'CPU pinning (results are unpinned)']]) {
    if (!tools[t]) { const msg = `${t} not found: skipping ${why}. Install: apt-get install -y ${t === 'nginx' ? 'nginx-light' : t === 'taskset' ? 'util-linux' : t}`; console.warn(`bench: ${msg}`); res.skipped.push(msg); }
  }
  const nproc = Number(spawnSync('nproc', { encoding: 'utf8' }).stdout.trim()) || cpus().length;
  if (HAVE_TASKSET && nproc < 2) { console.warn('bench: fewer than 2 CPUs: running unpinned'); HAVE_TASKSET = false; res.pinned = false; }
  NPROC = nproc;
  res.machine = machine();
  const git = (...a) => spawnSync('git', a, { cwd: ROOT, encoding: 'utf8' }).stdout?.trim();
  res.git = { head: git('rev-parse', '--short', 'HEAD'), subject: git('log', '-1', '--format=%s'), dirty: (git('status', '--porcelain', '--', 'src') || '').split('\n').filter(Boolean) };
  if (HAVE_TASKSET) spawnSync('taskset', ['-a', '-p', '-c', '0', String(process.pid)], { stdio: 'ignore' }); // this orchestrator stays off the proxy's CPU

  // the code under test, fixed for the whole run
  if (o.commit) {
    const rev = git('rev-parse', '--verify', `${o.commit}^{commit}`);
    if (!rev) throw new Error(`--commit ${o.commit}: no such commit`);
    const dir = join(ROOT, 'bench', `.build-${process.pid}`);
    SCRATCH.push(dir);
    mkdirSync(dir, { recursive: true });
    log(`building ${rev.slice(0, 7)} in ${dir}`);
    const x = spawnSync('sh', ['-c', `git archive ${rev} src tsconfig.json tsconfig.build.json | tar -x -C '${dir}'`], { cwd: ROOT, stdio: 'inherit' });
    if (x.status !== 0) throw new Error('git archive failed');
    const b = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(dir, 'tsconfig.build.json')], { cwd: dir, stdio: 'inherit' });
    if (b.status !== 0) throw new Error(`tsc failed for ${rev}`);
    DIST = join(dir, 'dist');
    res.code = { what: 'commit', head: rev.slice(0, 7), subject: git('log', '-1', '--format=%s', rev), dirty: [] };
  } else {
    if (o.build) {
      log('building dist/ (npm run build)');
      const b = spawnSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' });
      if (b.status !== 0) throw new Error('npm run build failed');
    }
    if (!existsSync(join(ROOT, 'dist', 'router', 'index.js'))) throw new Error('dist/ is missing: run npm run build');
    const dir = join(ROOT, 'bench', `.dist-${process.pid}`);
    SCRATCH.push(dir);
    cpSync(join(ROOT, 'dist'), dir, { recursive: true });
    DIST = dir;
    res.code = { what: 'work tree', ...res.git };
  }

  TMP = mkdtempSync(join(tmpdir(), 'switchyard-bench-'));
  log(`temp dir ${TMP}`);
  const byId = new Map();

  // the fixed upstream, on CPU 0 with wrk
  const upPort = await freePort();
  let upstream;
  if (tools.nginx) {
    const conf = join(TMP, 'upstream.conf');
    writeFileSync(conf, nginxUpstreamConf(TMP, upPort));
    upstream = start('upstream', 0, 'nginx', ['-p', TMP, '-c', conf, '-e', 'stderr']);
  } else {
    const code = `require('http').createServer({keepAliveTimeout:300000},(q,s)=>{s.writeHead(200,{'content-type':'text/plain','content-length':${BODY.length + 1}});s.end(${JSON.stringify(BODY + '\n')})}).listen(${upPort},'127.0.0.1')`;
    upstream = start('upstream', 0, process.execPath, ['-e', code]);
  }
  await waitHttp200(upstream, upPort, BASE_HOST);
  byId.set('upstream', { proc: upstream, port: upPort });
  log(`upstream on 127.0.0.1:${upPort} (${tools.nginx ? 'nginx return 200' : 'node:http fallback'}, ${BODY.length + 1}-byte body)`);

  // targets
  if (o.suite === 'static') {
    // nginx started as root serves as `nobody`: the site (and the path to it) must be world-readable.
    chmodSync(TMP, 0o755);
    writeSite(join(TMP, 'site')); log(`site folder ${join(TMP, 'site')}: ${SITE_FILES.map((f) => `${f.path} ${f.body.length} B`).join(', ')}`); }
  let defs = targetDefs(tools, nproc, o.suite);
  if (o.only) defs = defs.filter((d) => o.only.includes(d.id) || defs.some((x) => o.only.includes(x.id) && x.shares === d.id));
  const targets = [];
  for (const d of defs) {
    try {
      const t = await startTarget(d, upPort, byId);
      byId.set(d.id, t);
      targets.push(t);
      log(`started ${d.id} on :${t.port} (${t.processes} process(es), ${t.threads} threads${t.ready?.compileMs !== undefined ? `, table compile ${t.ready.compileMs.toFixed(1)} ms` : ''})`);
    } catch (err) {
      const msg = `${d.id} could not start: ${err.message}`;
      console.warn(`bench: ${msg}`);
      res.skipped.push(msg);
    }
  }

  // interleaved rounds
  const perTarget = new Map(targets.map((t) => [t.id, []]));
  const rssMax = new Map();
  for (let r = 0; r < (targets.length ? o.rounds : 0); r++) {
    const order = targets.map((_, i) => targets[(i + r) % targets.length]);
    log(`round ${r + 1}/${o.rounds}: ${order.map((t) => t.id).join(' → ')}`);
    for (const t of order) {
      const out = { round: r + 1 };
      try {
        if (t.proc.exited) throw new Error(`${t.id} is no longer running (${t.proc.code ?? t.proc.signal}); see ${t.proc.logPath}`);
        out.settle = await settle();
        if (o.warmup > 0) out.warmupRequests = (await wrk(t.port, t.host, 64, o.warmup, t.file?.path, t.unpinned ? 'all' : 0)).requests;
        const rss = rssKB(tree(t.proc.pid));
        rssMax.set(t.id, Math.max(rssMax.get(t.id) ?? 0, rss));
        out.rssKB = rss;
        if (o.suite === 'obs') {
          // The access log is flushed every second: wait past a flush before counting its lines,
          // around each wrk run (the same pause for both targets, so the runs stay comparable).
          const lines = () => (t.accessLogPath ? countLines(t.accessLogPath) : undefined);
          await sleep(1_500);
          const l0 = lines();
          out.c64 = await measure(t, 64, o.duration);
          await sleep(1_500);
          const l1 = lines();
          out.c1 = await measure(t, 1, o.duration);
          await sleep(1_500);
          const l2 = lines();
          if (l0 !== undefined) { out.c64.logLines = l1 - l0; out.c1.logLines = l2 - l1; }
        } else {
          out.c64 = await measure(t, 64, o.duration);
          out.c1 = await measure(t, 1, o.duration);
        }
        log(`  ${t.id.padEnd(16)} ${fmtInt(out.c64.rps).padStart(7)} req/s @64  p99 ${fmtLat(out.c64.p99us).padStart(9)}  ${fmt1(out.c64.cpuUsPerReq).padStart(6)} µs CPU/req   @1: ${fmtInt(out.c1.rps).padStart(6)} req/s p50 ${fmtLat(out.c1.p50us)}${out.c64.non2xx + out.c1.non2xx ? `  ⚠ non-2xx ${out.c64.non2xx + out.c1.non2xx}` : ''}${out.c64.logLines !== undefined ? `  log lines ${out.c64.logLines}/${out.c64.requests} @64, ${out.c1.logLines}/${out.c1.requests} @1` : ''}`);
      } catch (err) {
        out.error = err.message;
        log(`  ${t.id}: FAILED ${err.message}`);
      }
      perTarget.get(t.id).push(out);
      res.rounds.push({ target: t.id, ...out });
    }
  }
  // Access logs: lines written vs requests wrk completed (warm-ups included), after a flush (≤ 1 s).
  if (targets.some((t) => t.accessLogPaths)) await sleep(1_500);
  for (const t of targets) {
    if (!t.accessLogPaths) continue;
    const runs = perTarget.get(t.id);
    t.accessLogCheck = { lines: t.accessLogPaths.reduce((a, f) => a + countLines(f), 0), requests: runs.reduce((a, x) => a + (x.warmupRequests ?? 0) + (x.c64?.requests ?? 0) + (x.c1?.requests ?? 0), 0), files: t.accessLogPaths.length };
  }
  res.targets = targets.map((t) => ({
    id: t.id, label: t.label, port: t.port, processes: t.processes, threads: t.threads, host: t.host, unpinned: !!t.unpinned,
    rssStartKB: t.rssStartKB, rssKB: rssMax.get(t.id), compileMs: t.ready?.compileMs, buildMs: t.ready?.buildMs, accessLog: t.accessLogCheck,
  }));
  res.summary = targets.map((t) => summariseTarget(t, perTarget.get(t.id).filter((x) => !x.error)));

  // create an environment → first 200, at 100k envs
  const t100 = byId.get('sy-100k');
  if (t100?.controlPort && !t100.proc.exited) {
    res.envCreate = {};
    for (const mode of t100.ready?.hasDelta ? ['delta', 'full'] : ['full']) res.envCreate[mode] = await envCreate(t100, mode, o.createTrials, log);
  }

  res.targets_met = o.suite === 'proxy' ? evaluateTargets(res) : [];

  // 1 GiB request and response bodies through switchyard and nginx (once per bench, after the rounds)
  if (o.body) {
    try { res.body = await bodySection(o, tools, log); } catch (err) { res.bodyError = err.message; log(`  body section FAILED ${err.message}`); }
  }

  // profile: always in the proxy suite, on the configuration of the targets (1 worker, access log on)
  if (o.profile) {
    const seconds = o.quick ? Math.max(4, o.duration * 2) : Math.max(10, o.duration * 2);
    log(`profiling switchyard 1 worker with the access log on (node --cpu-prof) under wrk -c64 for ${seconds} s`);
    try {
      const profDir = join(TMP, 'prof');
      mkdirSync(profDir);
      const port = await freePort();
      const p = start('sy-profile', 1, process.execPath, ['--cpu-prof', '--cpu-prof-dir', profDir, join(ROOT, 'bench', 'router-server.js'), '--dist', DIST, '--envs', '3', '--upstream-port', String(upPort), '--port', String(port), '--workers', '1', '--access-log', join(TMP, 'sy-profile-access.log')], { readyLine: true });
      await p.ready;
      const t = { id: 'sy-profile', proc: p, port, host: PREVIEW_HOST };
      await waitHttp200(p, port, PREVIEW_HOST);
      await settle();
      await wrk(port, PREVIEW_HOST, 64, o.warmup || 2);
      const m = await measure(t, 64, seconds);
      if (m.non2xx || m.socketErrors) log(`  profile run: ${m.non2xx} non-2xx, ${m.socketErrors} socket errors`);
      await stop(p, 10_000);
      const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
      if (!file) throw new Error('no .cpuprofile written');
      mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
      const dest = join(ROOT, 'bench', 'results', o.quick ? 'router-quick.cpuprofile' : 'router.cpuprofile');
      writeFileSync(dest, readFileSync(join(profDir, file)));
      res.profile = { seconds, accessLog: true, file: dest.slice(ROOT.length + 1), underProfiler: { rps: m.rps, cpuUsPerReq: m.cpuUsPerReq, non2xx: m.non2xx, socketErrors: m.socketErrors, cpu1OtherS: m.cpu1OtherS }, summary: summarise(JSON.parse(readFileSync(dest, 'utf8')), 15) };
      log(`  profile: ${res.profile.file} (${fmtInt(m.rps)} req/s, ${fmt1(m.cpuUsPerReq)} µs CPU/req under the profiler)`);
    } catch (err) {
      res.profileError = err.message;
      log(`  profile FAILED ${err.message}`);
    }
  }

  res.finishedAt = new Date().toISOString();
  res.loadavgEnd = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  const report = o.suite === 'static' ? buildStaticReport(res) : o.suite === 'obs' ? buildObsReport(res) : buildReport(res);
  console.log('\n' + report + '\n');
  mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
  const jsonPath = o.out ?? join(ROOT, 'bench', 'results', o.quick ? (o.suite === 'proxy' ? 'quick.json' : `quick-${o.suite}.json`) : o.suite === 'proxy' ? 'latest.json' : `${o.suite}.json`);
  writeFileSync(jsonPath, JSON.stringify(res, null, 2) + '\n');
  log(`wrote ${jsonPath}`);
  if (o.docs) log(`updated ${updateDocs(report, o.suite === 'proxy' ? 'bench' : `bench-${o.suite}`)}`);
}

/** "Create an environment → first 200" trials against the 100k-env driver, in one mode. */
async function envCreate(t100, mode, n, log) {
  log(`env create → first 200 at ${t100.ready.envs.toLocaleString('en-US')} envs, ${mode === 'delta' ? 'applyDelta' : 'full rebuild (compileSnapshot)'} (${n} trials)`);
  const trials = [];
  try {
    for (let i = 0; i < n; i++) {
      const p = start(`env-create`, 0, process.execPath, [join(ROOT, 'bench', 'env-create-client.js'), '--control-port', String(t100.controlPort), '--edge-port', String(t100.port), '--name', `${mode}${i}`, '--mode', mode]);
      let out = '';
      p.child.stdout.on('data', (d) => { out += d; });
      await p.exit;
      if (p.code !== 0) throw new Error(`env-create-client exited ${p.code ?? p.signal}: ${tail(p.logPath)}`);
      const j = JSON.parse(out.trim().split('\n').pop());
      trials.push(j);
      log(`  trial ${i + 1}: API ${j.apiMs.toFixed(2)} ms (compile ${j.server.compileMs.toFixed(2)} ms, setSnapshot ${j.server.setSnapshotMs.toFixed(2)} ms), first 200 ${j.firstOkAfterApiMs.toFixed(2)} ms after it returned`);
      await sleep(300);
    }
    return {
      mode, trials,
      apiMs: median(trials.map((x) => x.apiMs)), firstOkAfterApiMs: median(trials.map((x) => x.firstOkAfterApiMs)), firstOkAfterApiMaxMs: max(trials.map((x) => x.firstOkAfterApiMs)),
      firstOkFromCallMs: median(trials.map((x) => x.firstOkFromCallMs)),
      pollRttMs: median(trials.map((x) => x.pollRttMedianMs)),
      tableMs: median(trials.map((x) => x.server.tableMs)), compileMs: median(trials.map((x) => x.server.compileMs)), setSnapshotMs: median(trials.map((x) => x.server.setSnapshotMs)),
    };
  } catch (err) {
    log(`  FAILED ${err.message}`);
    return { mode, trials, error: err.message };
  }
}

/** GET /bytes/16 through `port` until it answers 200 with 16 bytes (the body section's readiness). */
async function waitBytes(p, port, host, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (p.exited) throw new Error(`${p.name} exited (${p.code ?? p.signal}); see ${p.logPath}:\n${tail(p.logPath)}`);
    const r = await httpGet(port, host, '/bytes/16');
    if (r.status === 200 && r.body.length === 16) return;
    if (Date.now() > deadline) throw new Error(`${p.name} did not answer GET /bytes/16 on :${port} within ${timeoutMs} ms (last ${r.status}); see ${p.logPath}:\n${tail(p.logPath)}`);
    await sleep(50);
  }
}

/**
 * The body section: `o.bodyBytes` (1 GiB; 128 MiB with --quick) uploaded (client → proxy → upstream
 * that counts and drops) and downloaded (upstream streams → proxy → client that counts and drops),
 * one request on its own connection per transfer, through switchyard (1 worker) and nginx (1 worker,
 * proxy_request_buffering off, proxy_buffering off), both alone on CPU 1; the node upstream
 * (bench/body-upstream.js) and client (bench/body-client.js) on CPU 0. `o.rounds` rounds, the
 * proxies' order rotating; medians. Per transfer: MB/s (10^6 bytes/s) from the client's clock, the
 * proxy tree's CPU seconds (utime + stime) per GiB moved, its RSS before and at most during (sampled
 * every 50 ms), and how busy CPU 0 was (client + upstream, to see when they and not the proxy
 * were the limit). Every process is stopped afterwards.
 */
async function bodySection(o, tools, log) {
  const bytes = o.bodyBytes;
  const mib = bytes / 2 ** 20;
  const timeoutMs = Math.round(20_000 + (bytes / 10e6) * 1000); // ≥ 10 MB/s, or the transfer is cut
  log(`body section: ${mib >= 1024 ? `${mib / 1024} GiB` : `${mib} MiB`} up and down through ${tools.nginx ? 'nginx 1 worker and ' : ''}switchyard 1 worker, ${o.rounds} round(s)`);
  const started = [];
  const out = { bytes, rounds: o.rounds, timeoutMs, proxies: [], runs: [] };
  try {
    const upPort = await freePort();
    const up = start('body-upstream', 0, process.execPath, [join(ROOT, 'bench', 'body-upstream.js'), '--port', String(upPort)], { readyLine: true });
    started.push(up);
    await up.ready;
    const proxies = [];
    if (tools.nginx) {
      const port = await freePort();
      const conf = join(TMP, 'nginx-body.conf');
      writeFileSync(conf, nginxProxyConf(TMP, 'nginx-body', 1, port, upPort, { body: true }));
      const p = start('nginx-body', 1, 'nginx', ['-p', TMP, '-c', conf, '-e', 'stderr']);
      started.push(p);
      proxies.push({ id: 'nginx-1w', label: 'nginx, 1 worker (proxy_request_buffering off, proxy_buffering off)', proc: p, port, host: BASE_HOST });
    }
    {
      const port = await freePort();
      const p = start('sy-body', 1, process.execPath, [join(ROOT, 'bench', 'router-server.js'), '--dist', DIST, '--envs', '3', '--upstream-port', String(upPort), '--port', String(port), '--workers', '1', '--max-body-bytes', String(2 * bytes)], { readyLine: true });
      started.push(p);
      await p.ready;
      proxies.push({ id: 'sy-1w', label: `switchyard, 1 worker (preview host; limits.maxBodyBytes ${2 * mib} MiB)`, proc: p, port, host: PREVIEW_HOST });
    }
    for (const x of proxies) await waitBytes(x.proc, x.port, x.host);
    out.proxies = proxies.map((x) => ({ id: x.id, label: x.label }));
    for (let r = 0; r < o.rounds; r++) {
      const order = proxies.map((_, i) => proxies[(i + r) % proxies.length]);
      for (const x of order) {
        for (const mode of ['upload', 'download']) {
          const run = { round: r + 1, proxy: x.id, mode };
          try {
            await settle();
            const pids = tree(x.proc.pid);
            const rss0 = rssKB(pids);
            let rssPeak = rss0;
            const sampler = setInterval(() => { rssPeak = Math.max(rssPeak, rssKB(pids)); }, 50);
            const busy0 = cpuBusy(), c0 = cpuTicks(pids);
            const c = start('body-client', 0, process.execPath, [join(ROOT, 'bench', 'body-client.js'), '--port', String(x.port), '--host', x.host, '--mode', mode, '--bytes', String(bytes), '--timeout-ms', String(timeoutMs)]);
            let text = '';
            c.child.stdout.on('data', (d) => { text += d; });
            await Promise.race([c.exit, sleep(timeoutMs + 5_000)]);
            clearInterval(sampler);
            const c1 = cpuTicks(pids), busy1 = cpuBusy();
            if (!c.exited) { await stop(c); throw new Error(`body-client did not exit within ${timeoutMs + 5_000} ms`); }
            let j;
            try { j = JSON.parse(text.trim().split('\n').pop()); } catch { throw new Error(`body-client: no result (exit ${c.code ?? c.signal}): ${tail(c.logPath)}`); }
            if (!j.ok) throw new Error(`${mode} failed: ${j.error ?? `status ${j.status}`} after ${j.seconds?.toFixed(1)} s`);
            const busyPct = (cpu) => (busy0[cpu] && busy1[cpu] && busy1[cpu].total > busy0[cpu].total ? (100 * (busy1[cpu].busy - busy0[cpu].busy)) / (busy1[cpu].total - busy0[cpu].total) : undefined);
            Object.assign(run, {
              seconds: j.seconds, mbPerS: j.mbPerS, proxyCpuS: cpuDeltaSeconds(c0, c1),
              rssBeforeKB: rss0, rssPeakKB: Math.max(rssPeak, rssKB(pids)), cpu0BusyPct: busyPct('0'), cpu1BusyPct: busyPct('1'),
            });
            run.cpuSPerGiB = run.proxyCpuS / (bytes / 2 ** 30);
            run.proxyPct = (100 * run.proxyCpuS) / run.seconds; // of one core: near 100 % = the proxy sets the pace
            log(`  ${x.id.padEnd(9)} ${mode.padEnd(8)} ${fmtInt(run.mbPerS).padStart(6)} MB/s  ${run.seconds.toFixed(2)} s  proxy CPU ${fmtS(run.cpuSPerGiB)} s/GiB (${fmtPct(run.proxyPct)} of a core)  RSS ${(rss0 / 1024).toFixed(0)} → max ${(run.rssPeakKB / 1024).toFixed(0)} MB  CPU 0 ${fmtPct(run.cpu0BusyPct)}, CPU 1 ${fmtPct(run.cpu1BusyPct)}`);
          } catch (err) {
            run.error = err.message;
            log(`  ${x.id} ${mode}: FAILED ${err.message}`);
          }
          out.runs.push(run);
        }
      }
    }
    out.summary = [];
    for (const x of proxies) {
      for (const mode of ['upload', 'download']) {
        const rs = out.runs.filter((y) => y.proxy === x.id && y.mode === mode && !y.error);
        out.summary.push({
          proxy: x.id, mode, ok: rs.length, failed: out.runs.filter((y) => y.proxy === x.id && y.mode === mode && y.error).map((y) => y.error),
          mbPerS: median(rs.map((y) => y.mbPerS)), mbPerSMin: min(rs.map((y) => y.mbPerS)), mbPerSMax: max(rs.map((y) => y.mbPerS)),
          cpuSPerGiB: median(rs.map((y) => y.cpuSPerGiB)), proxyPct: median(rs.map((y) => y.proxyPct)), rssBeforeKB: median(rs.map((y) => y.rssBeforeKB)),
          rssGrowthKB: max(rs.map((y) => y.rssPeakKB - y.rssBeforeKB)), rssPeakKB: max(rs.map((y) => y.rssPeakKB)),
          cpu0BusyPct: median(rs.map((y) => y.cpu0BusyPct)), cpu1BusyPct: median(rs.map((y) => y.cpu1BusyPct)),
        });
      }
    }
  } finally {
    for (const p of started.reverse()) await stop(p);
  }
  return out;
}

let exiting = false;
async function shutdown(code) {
  if (exiting) return;
  exiting = true;
  await stopAll().catch(() => undefined);
  cleanupSync();
  if (TMP && !parseArgsSafe().keepTmp) rmSync(TMP, { recursive: true, force: true });
  for (const d of SCRATCH) rmSync(d, { recursive: true, force: true });
  process.exit(code);
}
function parseArgsSafe() { try { return parseArgs(process.argv.slice(2)); } catch { return {}; } }

process.on('SIGINT', () => { console.error('\nbench: interrupted; stopping everything it started'); void shutdown(130); });
process.on('SIGTERM', () => { void shutdown(143); });
process.on('exit', cleanupSync);

main().then(
  () => shutdown(process.exitCode ?? 0),
  (err) => { console.error(`bench: ${err.stack ?? err}`); void shutdown(1); },
);
