/**
 * End-to-end harness: drives switchyard from the outside, the way a user does — the real
 * `bin/switchyard.js` as a child process, real sockets, HTTP with an explicit `Host` header
 * (Node's resolver does not resolve `*.localhost` here, so we always connect to 127.0.0.1).
 *
 * Needs a build (`npm run build`): bin/switchyard.js imports dist/cli/main.js.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = path.join(REPO, 'bin', 'switchyard.js');
export const SHOP = path.join(REPO, 'examples', 'shop');

const READY_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 15_000;

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Wall time of the command (ms). */
  ms: number;
}

export interface HttpResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  json<T = any>(): T;
}

export interface GetOptions {
  /** Host header to send (the request still goes to 127.0.0.1). */
  host?: string;
  headers?: Record<string, string>;
  method?: string;
  /** Connect elsewhere than the edge, e.g. an internal discovery URL. */
  base?: string;
  /** Request body (sent with a content-length). */
  body?: string;
  /** Socket inactivity timeout (ms, default 15 000); the error then has code `ETIMEDOUT`. */
  timeoutMs?: number;
}

/** A temp folder holding a copy of the shop example and a data dir. */
export interface Workspace {
  root: string;
  app: string;
  dataDir: string;
  remove(): void;
}

/** Copies examples/shop (without any .switchyard state) to a fresh temp folder. */
export function makeWorkspace(prefix = 'swy-e2e-'): Workspace {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const app = path.join(root, 'shop');
  fs.cpSync(SHOP, app, {
    recursive: true,
    filter: (src) => !src.split(path.sep).includes('.switchyard') && !src.split(path.sep).includes('node_modules'),
  });
  return { root, app, dataDir: path.join(root, 'data'), remove: () => fs.rmSync(root, { recursive: true, force: true }) };
}

/**
 * Environment of every child: local mode with the embedded store and the default blob store,
 * whatever the calling shell has set (`$SWITCHYARD_DATABASE_URL` would switch to PostgreSQL,
 * `$SWITCHYARD_BLOB_URL` to another blob store, `$SWITCHYARD_ADMIN_URL` would redirect the CLI,
 * `$SWITCHYARD_TOKEN` would authenticate every CLI call; pass it in `env` where a test wants it).
 */
function childEnv(extra?: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { ...process.env, SWITCHYARD_ADMIN_URL: '', SWITCHYARD_DATABASE_URL: '', SWITCHYARD_BLOB_URL: '', SWITCHYARD_TOKEN: '', ...extra };
}

// Every switchyard we start, so a crashed test run cannot leave one behind.
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of live) {
    try { c.kill('SIGKILL'); } catch { /* gone */ }
  }
});

/** Runs `node bin/switchyard.js ...args`; never rejects on a non-zero exit. */
export function runCli(args: string[], opts: { cwd?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: opts.cwd ?? REPO,
      env: childEnv(opts.env),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    live.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    const timer = setTimeout(() => {
      // SIGTERM first: a command that wrongly started services gets to stop them
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
      reject(new Error(`switchyard ${args.join(' ')} did not finish within ${opts.timeoutMs ?? 30_000} ms\nstdout:\n${stdout}\nstderr:\n${stderr}`));
    }, opts.timeoutMs ?? 30_000);
    child.once('error', (e) => { clearTimeout(timer); live.delete(child); reject(e); });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      live.delete(child);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - started });
    });
  });
}

/** GET (or `method`) against 127.0.0.1 with an explicit Host header. */
export function request(base: string, p: string, o: GetOptions = {}): Promise<HttpResult> {
  const u = new URL(base);
  const headers: Record<string, string> = { ...o.headers };
  if (o.host !== undefined) headers.host = o.host;
  if (o.body !== undefined) headers['content-length'] = String(Buffer.byteLength(o.body));
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: Number(u.port), path: p, method: o.method ?? 'GET', headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { body += d; });
      res.on('end', () => {
        req.destroy();
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body,
          json: () => {
            try { return JSON.parse(body); } catch { throw new Error(`not JSON (status ${res.statusCode}): ${body}`); }
          },
        });
      });
      res.on('error', reject);
    });
    req.setTimeout(o.timeoutMs ?? 15_000, () => req.destroy(Object.assign(new Error(`${o.method ?? 'GET'} ${base}${p} (Host ${o.host}) timed out`), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
    req.end(o.body);
  });
}

export interface EnvView {
  name: string;
  kind: 'base' | 'preview';
  url: string;
  services: string[];
  health: string;
  instances: { id: string; service: string; replica: number; state: string; port: number; pid: number | null; restarts: number }[];
}

export interface Switchyard {
  edge: string;
  admin: string;
  /** PID announced on the READY line. */
  pid: number;
  edgePort: number;
  /** HTTPS edge (`https://<host>:<port>`) and local CA certificate path, when HTTPS is on. */
  https?: string;
  ca?: string;
  /** The whole READY JSON. */
  ready: Record<string, unknown>;
  /** Everything printed so far. */
  stdout(): string;
  stderr(): string;
  child: ChildProcess;
  cli(args: string[], opts?: { timeoutMs?: number }): Promise<CliResult>;
  get(p: string, o?: GetOptions): Promise<HttpResult>;
  /** `env ls --json`, parsed (throws with the output if the command failed). */
  envs(): Promise<EnvView[]>;
  /** PIDs of every service instance switchyard reports (instances[].pid over all environments). */
  servicePids(): Promise<number[]>;
  /** SIGTERM, wait for exit (SIGKILL after 15 s). Idempotent. */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number; killed: boolean }>;
}

export interface StartOptions {
  app: string;
  dataDir: string;
  /** More `up` arguments, e.g. `['--blob-url', 's3://…']`. */
  extraArgs?: string[];
  /** More environment variables for the `up` process (and so its router workers), e.g. AWS credentials. */
  env?: NodeJS.ProcessEnv;
}

/** Starts `switchyard up` and resolves once it printed its `READY {json}` line. */
export async function startSwitchyard(o: StartOptions): Promise<Switchyard> {
  const args = [BIN, 'up', '--app', o.app, '--port', '0', '--admin-port', '0', '--data-dir', o.dataDir, ...(o.extraArgs ?? [])];
  const child = spawn(process.execPath, args, { cwd: REPO, detached: false, stdio: ['ignore', 'pipe', 'pipe'], env: childEnv(o.env) });
  live.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => { exit = { code, signal }; live.delete(child); resolve(exit); });
  });

  const ready = await new Promise<{ edge: string; admin: string; pid: number; https?: string; ca?: string }>((resolve, reject) => {
    const fail = (why: string) => {
      cleanup();
      if (exit === undefined) child.kill('SIGKILL');
      reject(new Error(`switchyard up ${why}\n--- stdout ---\n${stdout}\n--- stderr ---\n${stderr}`));
    };
    const onData = () => {
      const line = stdout.split('\n').find((l) => l.startsWith('READY '));
      if (line === undefined) return;
      cleanup();
      try { resolve(JSON.parse(line.slice('READY '.length))); } catch (e) { fail(`printed an unparsable READY line: ${line} (${String(e)})`); }
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null) => fail(`exited (code ${code}, signal ${signal}) before READY`);
    const timer = setTimeout(() => fail(`printed no READY line within ${READY_TIMEOUT_MS} ms`), READY_TIMEOUT_MS);
    const cleanup = () => { clearTimeout(timer); child.stdout!.off('data', onData); child.off('exit', onExit); };
    child.stdout!.on('data', onData);
    child.once('exit', onExit);
    child.once('error', (e) => fail(`could not be spawned: ${e.message}`));
  });

  const edge = ready.edge;
  const admin = ready.admin;
  const cli = (a: string[], opts?: { timeoutMs?: number }) => runCli(['--admin-url', admin, ...a], opts);
  const envs = async (): Promise<EnvView[]> => {
    const r = await cli(['env', 'ls', '--json']);
    if (r.code !== 0) throw new Error(`env ls --json exited ${r.code}: ${r.stderr}`);
    return JSON.parse(r.stdout) as EnvView[];
  };
  let stopping: ReturnType<Switchyard['stop']> | undefined;
  const stop: Switchyard['stop'] = () => {
    stopping ??= (async () => {
      const t0 = Date.now();
      if (exit !== undefined) return { ...exit, ms: 0, killed: false };
      child.kill('SIGTERM');
      let killed = false;
      const timer = setTimeout(() => { killed = true; child.kill('SIGKILL'); }, STOP_GRACE_MS);
      const e = await exited;
      clearTimeout(timer);
      return { ...e, ms: Date.now() - t0, killed };
    })();
    return stopping;
  };
  return {
    edge, admin, pid: ready.pid, edgePort: Number(new URL(edge).port), child,
    ...(ready.https !== undefined ? { https: ready.https } : {}), ...(ready.ca !== undefined ? { ca: ready.ca } : {}),
    ready: ready as unknown as Record<string, unknown>,
    stdout: () => stdout, stderr: () => stderr,
    cli,
    get: (p, go = {}) => request(go.base ?? edge, p, go),
    envs,
    servicePids: async () => (await envs()).flatMap((e) => e.instances.map((i) => i.pid)).filter((p): p is number => typeof p === 'number'),
    stop,
  };
}

// ---------------------------------------------------------------------------------------------
// Processes

/** Linux process state letter (R, S, Z…) or undefined when the process does not exist. */
export function procState(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return undefined;
  }
}

/** Whether `pid` is a live (non-zombie) process. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw e;
  }
  const s = procState(pid);
  return s !== undefined && s !== 'Z' && s !== 'X';
}

/** Polls until none of `pids` is alive or `timeoutMs` passed; returns the PIDs still alive. */
export async function waitGone(pids: number[], timeoutMs = 6_000): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = pids.filter(alive);
    if (left.length === 0 || Date.now() >= deadline) return left;
    await sleep(100);
  }
}

export interface ProcInfo { pid: number; pgid: number; state: string; cwd: string; cmd: string; environ: Record<string, string> }

/**
 * Every live process whose working directory is inside `dir` — with a fresh temp workspace
 * these are exactly the service processes (shells and node servers) of that switchyard,
 * whatever switchyard itself reports. Zombies are left out.
 */
export function processesUnder(dir: string): ProcInfo[] {
  const out: ProcInfo[] = [];
  const real = fs.realpathSync(dir);
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const pid = Number(e);
    if (pid === process.pid) continue;
    try {
      const cwd = fs.readlinkSync(`/proc/${pid}/cwd`);
      if (cwd !== real && !cwd.startsWith(real + path.sep)) continue;
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const state = f[0] ?? '?';
      if (state === 'Z' || state === 'X') continue;
      const environ: Record<string, string> = {};
      for (const kv of fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')) {
        const eq = kv.indexOf('=');
        if (eq > 0) environ[kv.slice(0, eq)] = kv.slice(eq + 1);
      }
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
      out.push({ pid, pgid: Number(f[2]), state, cwd, cmd, environ });
    } catch {
      /* exited meanwhile, or not ours to read */
    }
  }
  return out;
}

/** Polls until no live process runs inside `dir` (optionally: with SWITCHYARD_ENV=`env`); returns leftovers. */
export async function waitNoProcessesUnder(dir: string, timeoutMs = 6_000, env?: string): Promise<ProcInfo[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = processesUnder(dir).filter((p) => env === undefined || p.environ.SWITCHYARD_ENV === env);
    if (left.length === 0 || Date.now() >= deadline) return left;
    await sleep(100);
  }
}

/** Last resort after a failed test: SIGKILL the process groups of leftover service processes in `dir`. */
export function killLeftovers(dir: string): ProcInfo[] {
  const left = processesUnder(dir);
  for (const p of left) {
    // only groups the process leads itself (switchyard starts each instance as a group leader)
    if (p.pgid === p.pid) { try { process.kill(-p.pgid, 'SIGKILL'); } catch { /* gone */ } }
    try { process.kill(p.pid, 'SIGKILL'); } catch { /* gone */ }
  }
  return left;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Describes processes for an assertion message. */
export function describeProcs(ps: ProcInfo[]): string {
  return ps.map((p) => `pid ${p.pid} pgid ${p.pgid} ${p.state} ${p.environ.SWITCHYARD_INSTANCE ?? '?'}: ${p.cmd} (cwd ${p.cwd})`).join('\n');
}

/**
 * Stops `sy` (if running) and asserts that it stopped without SIGKILL and that neither the
 * given service PIDs nor any process under the workspace survived; always removes the workspace.
 */
export async function stopAndAssertClean(ws: Workspace, sy: Switchyard | undefined, pids: Iterable<number>, waitMs = 6_000): Promise<void> {
  const { expect } = await import('vitest');
  try {
    const stopped = sy ? await sy.stop() : undefined;
    const leftPids = await waitGone([...pids], waitMs);
    const leftProcs = await waitNoProcessesUnder(ws.root, waitMs);
    expect(stopped?.killed, 'switchyard needed SIGKILL to stop').not.toBe(true);
    expect(leftPids, `service pids still alive after stop: ${leftPids.join(', ')}`).toEqual([]);
    expect(leftProcs, `processes left in the workspace:\n${describeProcs(leftProcs)}`).toEqual([]);
  } finally {
    killLeftovers(ws.root);
    ws.remove();
  }
}
