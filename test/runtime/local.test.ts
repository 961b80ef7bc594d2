/**
 * Local process runtime against real child processes: tiny node servers written to a temp dir.
 * Every test stops what it started (stopAll in afterEach) and checks PIDs are really gone.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import { createLocalRuntime, type InstancePlan, type InstanceStatus, type Runtime } from '../../src/runtime/index.js';
import { SwitchyardError } from '../../src/errors/index.js';
import { backoffDelay } from '../../src/runtime/local/index.js';

const SERVER = `
import http from 'node:http';
import fs from 'node:fs';
if (process.env.CRASH_IF && fs.existsSync(process.env.CRASH_IF)) { console.log('refusing to start'); process.exit(2); }
const port = Number(process.env.PORT);
let health = Number(process.env.HEALTH_STATUS ?? 200);
if (process.env.IGNORE_TERM) process.on('SIGTERM', () => console.log('ignoring SIGTERM'));
const srv = http.createServer((req, res) => {
  if (req.url === '/healthz') { res.statusCode = health; return res.end('h'); }
  if (req.url === '/toggle') { health = health === 200 ? 503 : 200; return res.end(String(health)); }
  if (req.url === '/crash') { res.end('bye'); setTimeout(() => process.exit(7), 10); return; }
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ pid: process.pid, port, instance: process.env.SWITCHYARD_INSTANCE, greeting: process.env.GREETING ?? null }));
});
srv.listen(port, '127.0.0.1', () => console.log('listening on ' + port));
`;

const NODE = JSON.stringify(process.execPath);
const HEALTH = { path: '/healthz', intervalMs: 100, timeoutMs: 500, startupTimeoutMs: 10_000 };
let dir: string;
let rt: Runtime | undefined;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'swy-runtime-'));
  fs.writeFileSync(path.join(dir, 'server.mjs'), SERVER);
});

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

afterEach(async () => {
  await rt?.stopAll();
  rt = undefined;
});

function runtime(graceMs = 2_000): Runtime {
  rt = createLocalRuntime({ logDir: path.join(dir, 'logs', String(Math.random()).slice(2)), graceMs });
  return rt;
}

function plan(over: Partial<InstancePlan> = {}): InstancePlan {
  return { env: 'base', service: 'api', replica: 0, run: `${NODE} server.mjs`, cwd: dir, vars: {}, health: HEALTH, ...over };
}

function get(port: number, p = '/'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: p, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c) => (body += c)).on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    expect((e as NodeJS.ErrnoException).code).toBe('ESRCH');
    return false;
  }
}

/** Waits until kill(pid, 0) throws ESRCH; orphaned zombies are reaped by PID 1, slowly on some machines. */
async function expectGone(pid: number, withinMs = 6_000): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  expect(alive(pid), `pid ${pid} still exists`).toBe(false);
}

async function waitFor(events: InstanceStatus[], pred: (s: InstanceStatus) => boolean, withinMs = 10_000): Promise<InstanceStatus> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const hit = events.find(pred);
    if (hit) return hit;
    if (Date.now() > deadline) throw new Error(`no matching status event in ${JSON.stringify(events.map((e) => [e.state, e.pid, e.port]))}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function rejection(p: Promise<unknown>): Promise<SwitchyardError> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  expect(e).toBeInstanceOf(SwitchyardError);
  return e as SwitchyardError;
}

describe('local runtime', () => {
  it('starts two healthy replicas that answer on their PORT, with vars and SWITCHYARD_INSTANCE', async () => {
    const r = runtime();
    const vars = { GREETING: 'hello-vars' };
    const st = await r.start([plan({ replica: 0, vars }), plan({ replica: 1, vars })]);
    expect(st.map((s) => [s.id, s.state, s.host])).toEqual([
      ['base/api/0', 'healthy', '127.0.0.1'],
      ['base/api/1', 'healthy', '127.0.0.1'],
    ]);
    expect(st[0]!.port).not.toBe(st[1]!.port);
    for (const s of st) {
      const body = JSON.parse((await get(s.port)).body) as { port: number; instance: string; greeting: string };
      expect(body).toMatchObject({ port: s.port, instance: s.id, greeting: 'hello-vars' });
    }
    expect(r.list().map((s) => s.state)).toEqual(['healthy', 'healthy']);
    const pids = st.map((s) => s.pid!);
    await r.stopEnvironment('base');
    expect(r.list()).toEqual([]);
    for (const pid of pids) await expectGone(pid);
  });

  it('writes output and a start marker to the log file', async () => {
    const r = runtime();
    const [s] = await r.start([plan({ service: 'web', replica: 2 })]);
    expect(s!.logFile).toBe(r.logFile('base', 'web', 2));
    expect(s!.logFile.endsWith(path.join('base', 'web-2.log'))).toBe(true);
    const log = fs.readFileSync(s!.logFile, 'utf8');
    expect(log).toMatch(/=== switchyard .* start base\/web\/2 port=\d+ attempt=1 ===/);
    expect(log).toContain(`listening on ${s!.port}`);
  });

  it('becomes ready on a TCP connect when there is no health check', async () => {
    const r = runtime();
    const [s] = await r.start([plan({ health: undefined })]);
    expect(s!.state).toBe('healthy');
    expect((await get(s!.port)).status).toBe(200);
  });

  it('rejects a command that exits at once, quoting the log tail, and leaves nothing running', async () => {
    const r = runtime();
    const events: InstanceStatus[] = [];
    r.onStatus((s) => events.push(s));
    const e = await rejection(r.start([plan({ replica: 0 }), plan({ replica: 1, run: 'echo boom-output-1; echo boom-output-2 >&2; exit 3' })]));
    expect(e.code).toBe('SWY_INSTANCE_UNHEALTHY');
    expect(e.message).toContain('base/api/1');
    expect(e.message).toContain('exited with code 3');
    expect(e.message).toContain('boom-output-1');
    expect(e.message).toContain('boom-output-2');
    expect(e.extras).toMatchObject({ env: 'base', service: 'api', replica: 1 });
    expect(r.list()).toEqual([]);
    const pids = [...new Set(events.map((s) => s.pid).filter((p): p is number => p !== undefined))];
    expect(pids.length).toBeGreaterThanOrEqual(1);
    for (const pid of pids) await expectGone(pid);
    expect(events.filter((s) => s.state === 'stopped').map((s) => s.id).sort()).toEqual(['base/api/0', 'base/api/1']);
  });

  it('rejects within bound when the health check never passes (HTTP 500)', async () => {
    const r = runtime();
    const t0 = Date.now();
    const e = await rejection(r.start([plan({ vars: { HEALTH_STATUS: '500' }, health: { ...HEALTH, startupTimeoutMs: 1_000 } })]));
    const took = Date.now() - t0;
    expect(e.code).toBe('SWY_INSTANCE_UNHEALTHY');
    expect(e.message).toMatch(/not healthy after 1000 ms \(last probe: HTTP 500\)/);
    expect(took).toBeGreaterThanOrEqual(1_000);
    expect(took).toBeLessThan(4_000);
    expect(r.list()).toEqual([]);
  });

  it('rejects and stops everything when the signal aborts', async () => {
    const r = runtime();
    const pids: number[] = [];
    r.onStatus((s) => s.pid && pids.push(s.pid));
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 300);
    const e = await rejection(r.start([plan({ run: 'sleep 30' })], { signal: ac.signal }));
    expect(e.message).toContain('aborted');
    expect(r.list()).toEqual([]);
    for (const pid of pids) await expectGone(pid);
  });

  it('restarts a crashed instance on a new port with a new pid', async () => {
    const r = runtime();
    const events: InstanceStatus[] = [];
    r.onStatus((s) => events.push(s));
    const [s] = await r.start([plan()]);
    events.length = 0;
    await get(s!.port, '/crash');
    await waitFor(events, (e) => e.state === 'crashed');
    const again = await waitFor(events, (e) => e.state === 'healthy');
    expect(again.pid).not.toBe(s!.pid);
    expect(again.port).not.toBe(s!.port);
    expect(again.restarts).toBe(1);
    expect(events.map((e) => e.state)).toEqual(['crashed', 'starting', 'healthy']);
    expect(JSON.parse((await get(again.port)).body)).toMatchObject({ port: again.port });
    await expectGone(s!.pid!);
    expect(fs.readFileSync(s!.logFile, 'utf8')).toMatch(/exited with code 7[\s\S]*attempt=2/);
  });

  it('keeps restarting with growing backoff while restarts fail, then recovers', async () => {
    const r = runtime();
    const flag = path.join(dir, `crash-${Math.random()}`);
    const events: (InstanceStatus & { at: number })[] = [];
    r.onStatus((s) => events.push({ ...s, at: Date.now() }));
    const [s] = await r.start([plan({ vars: { CRASH_IF: flag } })]);
    fs.writeFileSync(flag, '');
    await get(s!.port, '/crash');
    await waitFor(events, (e) => e.state === 'crashed' && e.restarts === 3);
    fs.rmSync(flag);
    const back = await waitFor(events, (e) => e.state === 'healthy' && e.pid !== s!.pid);
    expect(back.restarts).toBe(4);
    // each attempt starts (state 'starting') one backoff step later than the previous crash
    const crashes = events.filter((e) => e.state === 'crashed').map((e) => e.at);
    const starts = events.filter((e) => e.state === 'starting' && e.pid !== s!.pid).map((e) => e.at);
    expect(starts).toHaveLength(4);
    starts.forEach((at, i) => expect(at - crashes[i]!).toBeGreaterThanOrEqual(backoffDelay(i) - 20));
    expect(fs.readFileSync(s!.logFile, 'utf8')).toContain('refusing to start');
  });

  it('computes backoff 200 ms doubling up to 10 s', () => {
    expect([0, 1, 2, 3, 5, 6, 20].map(backoffDelay)).toEqual([200, 400, 800, 1600, 6400, 10_000, 10_000]);
  });

  it('reports unhealthy after 3 failed probes and healthy again after a success', async () => {
    const r = runtime();
    const events: InstanceStatus[] = [];
    r.onStatus((s) => events.push(s));
    const [s] = await r.start([plan()]);
    events.length = 0;
    await get(s!.port, '/toggle');
    await waitFor(events, (e) => e.state === 'unhealthy', 3_000);
    await get(s!.port, '/toggle');
    await waitFor(events, (e) => e.state === 'healthy', 3_000);
    expect(events.map((e) => e.state)).toEqual(['unhealthy', 'healthy']);
  });

  it('SIGKILLs a process that ignores SIGTERM after graceMs, including a grandchild', async () => {
    const r = runtime(500);
    const [s] = await r.start([plan({ env: 'pr-1', run: `${NODE} server.mjs & wait`, vars: { IGNORE_TERM: '1' } })]);
    const grandchild = (JSON.parse((await get(s!.port)).body) as { pid: number }).pid;
    expect(grandchild).not.toBe(s!.pid);
    const t0 = Date.now();
    await r.stopEnvironment('pr-1');
    const took = Date.now() - t0;
    expect(took).toBeGreaterThanOrEqual(500);
    expect(took).toBeLessThan(3_000);
    await expectGone(s!.pid!);
    await expectGone(grandchild);
    expect(fs.readFileSync(s!.logFile, 'utf8')).toContain('ignoring SIGTERM');
  });

  it('stopAll stops a shell with a grandchild via SIGTERM to the group, and only that environment on stopEnvironment', async () => {
    const r = runtime();
    const [a] = await r.start([plan({ env: 'feat-a', run: `${NODE} server.mjs & wait` })]);
    const [b] = await r.start([plan({ env: 'feat-b' })]);
    const grandchild = (JSON.parse((await get(a!.port)).body) as { pid: number }).pid;
    await r.stopEnvironment('feat-b');
    expect(r.list().map((s) => s.id)).toEqual(['feat-a/api/0']);
    await expectGone(b!.pid!);
    expect(alive(grandchild)).toBe(true);
    const t0 = Date.now();
    await r.stopAll();
    expect(Date.now() - t0).toBeLessThan(1_500);
    expect(r.list()).toEqual([]);
    await expectGone(a!.pid!);
    await expectGone(grandchild);
  });

  it('refuses to start an instance id that is already running', async () => {
    const r = runtime();
    await r.start([plan()]);
    const e = await rejection(r.start([plan()]));
    expect(e.code).toBe('SWY_BAD_REQUEST');
    expect(r.list()).toHaveLength(1);
  });

  it('has no side effects on creation', () => {
    const logDir = path.join(dir, 'never-created');
    createLocalRuntime({ logDir });
    expect(fs.existsSync(logDir)).toBe(false);
  });
});
