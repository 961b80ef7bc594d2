/**
 * Child-process helpers for tests that drive the built CLI: start a server command and wait for
 * its `READY {json}` line, stop it by PID (SIGTERM, then SIGKILL), and plain HTTP requests with
 * an explicit Host (Node does not resolve *.localhost here).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';

export const BIN = fileURLToPath(new URL('../../bin/switchyard.js', import.meta.url));

export interface Server<T = Record<string, unknown>> {
  child: ChildProcess;
  ready: T;
  output: () => string;
  stop(): Promise<number | null>;
}

/** Spawns `node bin/switchyard.js ...args` and resolves on its READY line. */
export function startServer<T = Record<string, unknown>>(args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<Server<T>> {
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d) => { err += d; });
  const stop = async (): Promise<number | null> => {
    if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
    const code = await exited;
    clearTimeout(t);
    return code;
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { void stop(); reject(new Error(`no READY line within ${opts.timeoutMs ?? 60_000} ms from ${args.join(' ')}\nstdout: ${out}\nstderr: ${err}`)); }, opts.timeoutMs ?? 60_000);
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /^READY (.*)$/m.exec(out);
      if (m) { clearTimeout(timer); resolve({ child, ready: JSON.parse(m[1]!) as T, output: () => out + err, stop }); }
    });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`${args.join(' ')} exited with ${code} before READY\nstdout: ${out}\nstderr: ${err}`)); });
  });
}

export interface HttpResult { status: number; headers: Record<string, string | string[] | undefined>; body: string }

/** GET (or other method) `url` with headers; `host` sets the Host header. */
export function http(url: string, opts: { host?: string; headers?: Record<string, string>; method?: string; body?: string; timeoutMs?: number; agent?: false } = {}): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = request({
      host: u.hostname, port: u.port, path: u.pathname + u.search, method: opts.method ?? 'GET', agent: opts.agent,
      headers: { ...(opts.host ? { host: opts.host } : {}), ...opts.headers },
      timeout: opts.timeoutMs ?? 10_000,
    }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`timeout ${url}`)));
    req.on('error', reject);
    req.end(opts.body);
  });
}
