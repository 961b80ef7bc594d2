/**
 * @module runtime/local/probe
 * Health probes: an HTTP GET (2xx/3xx is healthy) or a TCP connect, each bounded by a timeout,
 * and the start-up loop that probes every ~100 ms until healthy, exit, timeout or abort.
 */
import http from 'node:http';
import net from 'node:net';
import { sleep, reasonText } from './timing.js';

/** Result of one probe; `detail` says what was seen (`HTTP 500`, `ECONNREFUSED`…). */
export interface ProbeResult {
  ok: boolean;
  detail: string;
}

/** How a process ended. `error` is set when it could not be spawned at all. */
export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  error?: Error;
}

/** GET `http://host:port{path}` once with a fresh connection; healthy on 2xx or 3xx within `timeoutMs` (ms). */
export function probeHttp(host: string, port: number, path: string, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (r: ProbeResult): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      req.destroy();
      resolve(r);
    };
    const timeout = (): void => finish({ ok: false, detail: `no answer within ${timeoutMs} ms` });
    const req = http.get({ host, port, path, agent: false, timeout: timeoutMs, headers: { 'user-agent': 'switchyard-health' } }, (res) => {
      res.on('error', () => {});
      res.resume();
      const s = res.statusCode ?? 0;
      finish({ ok: s >= 200 && s < 400, detail: `HTTP ${s}` });
    });
    req.on('timeout', timeout);
    req.on('error', (e: NodeJS.ErrnoException) => finish({ ok: false, detail: e.code ?? e.message }));
    const timer = setTimeout(timeout, timeoutMs);
    timer.unref();
  });
}

/** Opens and closes a TCP connection to `host:port`; healthy if it connects within `timeoutMs` (ms). */
export function probeTcp(host: string, port: number, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (r: ProbeResult): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(r);
    };
    const sock = net.connect({ host, port });
    sock.once('connect', () => finish({ ok: true, detail: 'connected' }));
    sock.once('error', (e: NodeJS.ErrnoException) => finish({ ok: false, detail: e.code ?? e.message }));
    const timer = setTimeout(() => finish({ ok: false, detail: `no connection within ${timeoutMs} ms` }), timeoutMs);
    timer.unref();
  });
}

/** `exited with code 3`, `killed by SIGKILL`, `could not be spawned: …`. */
export function describeExit(e: ExitInfo): string {
  if (e.error) return `could not be spawned: ${e.error.message}`;
  return e.signal ? `was killed by ${e.signal}` : `exited with code ${e.code}`;
}

/** Options of {@link waitUntilReady}; all durations in milliseconds. */
export interface ReadyOptions {
  probe: (timeoutMs: number) => Promise<ProbeResult>;
  /** Resolves when the process exits. */
  exited: Promise<ExitInfo>;
  signal: AbortSignal;
  /** Give up after this long. */
  startupTimeoutMs: number;
  /** Upper bound of one probe. */
  probeTimeoutMs: number;
  /** Pause between probes (default 100). */
  pollMs?: number;
}

/** Probes until one succeeds; rejects with an Error whose message says why it never did. */
export async function waitUntilReady(o: ReadyOptions): Promise<void> {
  const deadline = Date.now() + o.startupTimeoutMs;
  let exit: ExitInfo | undefined;
  void o.exited.then((e) => (exit = e));
  let last = 'no probe answered';
  for (;;) {
    if (o.signal.aborted) throw new Error(`aborted: ${reasonText(o.signal.reason)}`);
    if (exit) throw new Error(`process ${describeExit(exit)} before becoming healthy`);
    const r = await o.probe(Math.max(10, Math.min(o.probeTimeoutMs, deadline - Date.now())));
    await Promise.resolve(); // let a pending exit notification land first
    if (exit) throw new Error(`process ${describeExit(exit)} before becoming healthy`);
    if (r.ok && !o.signal.aborted) return;
    last = r.detail;
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`not healthy after ${o.startupTimeoutMs} ms (last probe: ${last})`);
    await Promise.race([sleep(Math.min(o.pollMs ?? 100, left), o.signal), o.exited]);
  }
}
