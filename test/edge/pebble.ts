/**
 * Starts Debian's `pebble` ACME test CA and `pebble-challtestsrv` (its mock DNS, answering every A
 * query with 127.0.0.1) on free loopback ports, with an absolute `-config` in a temp dir and an
 * openssl-made certificate for pebble's own HTTPS listener. HTTP-01 is validated for real: pebble
 * connects to `<name>:httpPort`, which the caller's HTTP server listens on. Stopped by PID.
 * Under CI=true a missing pebble is an error, never a skip (`apt-get install -y pebble`).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'node:https';

export const PEBBLE = '/usr/bin/pebble';
export const CHALLTESTSRV = '/usr/bin/pebble-challtestsrv';

/** True when pebble is installed; under CI=true its absence throws. */
export function pebbleAvailable(): boolean {
  const ok = existsSync(PEBBLE) && existsSync(CHALLTESTSRV);
  if (!ok && process.env.CI === 'true') throw new Error('pebble is not installed (apt-get install -y pebble); required under CI=true');
  return ok;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => { const p = (s.address() as { port: number }).port; s.close(() => resolve(p)); });
  });
}

async function waitForTcp(port: number, proc: ChildProcess, log: () => string, timeoutMs = 15_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`process exited (${proc.exitCode}) before listening on ${port}:\n${log()}`);
    const ok = await new Promise<boolean>((r) => { const c = connect(port, '127.0.0.1', () => { c.destroy(); r(true); }); c.on('error', () => r(false)); });
    if (ok) return;
    if (Date.now() > until) throw new Error(`nothing listening on ${port} after ${timeoutMs} ms:\n${log()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function stopProc(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null || p.pid === undefined) return;
  const exited = new Promise<void>((r) => p.once('exit', () => r()));
  process.kill(p.pid, 'SIGTERM');
  const t = setTimeout(() => { if (p.exitCode === null && p.signalCode === null) process.kill(p.pid!, 'SIGKILL'); }, 5_000);
  await exited;
  clearTimeout(t);
}

export interface Pebble {
  directoryUrl: string;
  /** PEM of pebble's own listener certificate (trust it for the ACME API). */
  listenerCa: string;
  /** GET from the management API (`/roots/0`, `/intermediates/0`). */
  management(path: string): Promise<string>;
  /** POST JSON to pebble-challtestsrv's management API (`/set-txt`, `/clear-txt`). */
  challtestsrv(path: string, body: unknown): Promise<void>;
  logs(): string;
  stop(): Promise<void>;
}

function withoutAlwaysValid(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { PEBBLE_VA_ALWAYS_VALID: _, ...rest } = env;
  return rest;
}

/** Starts challtestsrv + pebble; `httpPort` is where pebble sends HTTP-01 validation requests. */
export async function startPebble(opts: { httpPort: number; validitySeconds?: number }): Promise<Pebble> {
  const dir = mkdtempSync(join(tmpdir(), 'swy-pebble-'));
  const certPath = join(dir, 'cert.pem');
  const keyPath = join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyPath, '-out', certPath,
    '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' });
  const [acmePort, mgmtPort, dnsPort, chMgmtPort, tlsPort] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
  const configPath = join(dir, 'pebble-config.json');
  writeFileSync(configPath, JSON.stringify({
    pebble: {
      listenAddress: `127.0.0.1:${acmePort}`, managementListenAddress: `127.0.0.1:${mgmtPort}`,
      certificate: certPath, privateKey: keyPath, httpPort: opts.httpPort, tlsPort,
      ocspResponderURL: '', externalAccountBindingRequired: false,
      ...(opts.validitySeconds ? { certificateValidityPeriod: opts.validitySeconds } : {}),
    },
  }));
  let out = '';
  const procs: ChildProcess[] = [];
  const logs = (): string => out;
  const stop = async (): Promise<void> => { for (const p of procs.reverse()) await stopProc(p); rmSync(dir, { recursive: true, force: true }); };
  try {
    const dns = spawn(CHALLTESTSRV, ['-defaultIPv4', '127.0.0.1', '-defaultIPv6', '', '-dns01', `127.0.0.1:${dnsPort}`, '-http01', '', '-https01', '', '-tlsalpn01', '', '-management', `127.0.0.1:${chMgmtPort}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    procs.push(dns);
    dns.stdout!.on('data', (d) => { out += `[dns] ${d}`; });
    dns.stderr!.on('data', (d) => { out += `[dns] ${d}`; });
    await waitForTcp(chMgmtPort, dns, logs);
    await waitForTcp(dnsPort, dns, logs);
    const pebble = spawn(PEBBLE, ['-config', configPath, '-dnsserver', `127.0.0.1:${dnsPort}`], {
      stdio: ['ignore', 'pipe', 'pipe'],
      // Real validation: PEBBLE_VA_ALWAYS_VALID stays unset.
      env: { ...withoutAlwaysValid(process.env), PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0' },
    });
    procs.push(pebble);
    pebble.stdout!.on('data', (d) => { out += `[pebble] ${d}`; });
    pebble.stderr!.on('data', (d) => { out += `[pebble] ${d}`; });
    await waitForTcp(acmePort, pebble, logs);
    await waitForTcp(mgmtPort, pebble, logs);
  } catch (e) {
    await stop();
    throw e;
  }
  const listenerCa = readFileSync(certPath, 'utf8');
  const management = (path: string): Promise<string> => new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port: mgmtPort, path, ca: listenerCa, servername: 'localhost' }, (res) => {
      let b = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { b += c; });
      res.on('end', () => (res.statusCode === 200 ? resolve(b) : reject(new Error(`${path}: HTTP ${res.statusCode} ${b}`))));
    }).on('error', reject).end();
  });
  const challtestsrv = async (path: string, body: unknown): Promise<void> => {
    const r = await fetch(`http://127.0.0.1:${chMgmtPort}${path}`, { method: 'POST', body: JSON.stringify(body) });
    if (!r.ok) throw new Error(`challtestsrv ${path}: HTTP ${r.status} ${await r.text()}`);
  };
  return { directoryUrl: `https://127.0.0.1:${acmePort}/dir`, listenerCa, management, challtestsrv, logs, stop };
}
