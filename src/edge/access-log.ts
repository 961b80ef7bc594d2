/**
 * @module edge/access-log
 * One JSON line per request, written by pino's asynchronous destination (sonic-boom,
 * `sync: false`, buffered up to `minLength` bytes), so the request path never blocks on I/O.
 * {@link AccessLog.close} flushes what is buffered. Lines look like
 * `{"time":"2026-11-29T10:00:00.000Z","reqId":"…","env":"feat1","service":"api",…}`.
 *
 * The line itself is made by {@link formatAccessLine}, not by `logger.info(object)`: the fields
 * are fixed and mostly validated tokens (names, methods, hosts, numbers), so one template
 * with JSON escaping only where a client chose the bytes (path, request id) costs a fraction of
 * generic serialisation (measured: pino's object path added ~12 µs per proxied request, about
 * half the router's whole cost per request).
 */
import { pino } from 'pino';

/** Fields of one access-log line (`time` is added when the line is written, ISO 8601 UTC). */
export interface AccessLogEntry {
  reqId: string;
  env: string;
  service?: string;
  /** Instance (`<service>@<env>`) that answered, after fallback. */
  instance?: string;
  method: string;
  host: string;
  path: string;
  status: number;
  /** Response bytes written: HTTP/1.1 head and body (socket count); HTTP/2 the body's Content-Length. */
  bytes: number;
  /** Whole request, first byte in to last byte out (ms). */
  durationMs: number;
  /** Upstream connect to response head (ms); absent for static or local answers. */
  upstreamMs?: number;
  retries?: number;
  clientIp: string;
  /** Why the request fell back (e.g. `unknown-env`), absent when it did not. */
  fallback?: string;
  /** Error code when the exchange did not complete normally (`SWY_UPSTREAM_ERROR`, `SWY_CLIENT_ABORTED`, …). */
  error?: string;
  traceId?: string;
}

let isoMs = -1;
let isoStr = '';
/** `new Date().toISOString()`, made once per millisecond. */
function isoNow(): string {
  const now = Date.now();
  if (now !== isoMs) { isoMs = now; isoStr = new Date(now).toISOString(); }
  return isoStr;
}

/**
 * The JSON line (with its newline) for one entry. Fields a client chose (path, request id, host,
 * method) go through `JSON.stringify`; the rest are names and numbers the router made.
 */
export function formatAccessLine(e: AccessLogEntry): string {
  let l = '{"time":"' + isoNow() + '","reqId":' + str(e.reqId) + ',"env":' + str(e.env);
  if (e.service !== undefined) l += ',"service":' + str(e.service);
  if (e.instance !== undefined) l += ',"instance":' + str(e.instance);
  l += ',"method":' + str(e.method) + ',"host":' + str(e.host) + ',"path":' + str(e.path)
    + ',"status":' + e.status + ',"bytes":' + e.bytes + ',"durationMs":' + ms3(e.durationMs);
  if (e.upstreamMs !== undefined) l += ',"upstreamMs":' + ms3(e.upstreamMs);
  if (e.retries !== undefined) l += ',"retries":' + e.retries;
  l += ',"clientIp":' + str(e.clientIp);
  if (e.fallback !== undefined) l += ',"fallback":' + str(e.fallback);
  if (e.traceId !== undefined) l += ',"traceId":' + str(e.traceId);
  if (e.error !== undefined) l += ',"error":' + str(e.error);
  return l + '}\n';
}

/**
 * Milliseconds with three decimals (µs resolution), e.g. `0.253`: made from integers, whose
 * strings V8 caches, not by printing a double (the shortest-round-trip path costs far more).
 */
export function ms3(ms: number): string {
  if (!(ms >= 0 && ms < 2 ** 31 / 1000)) return String(Math.round(ms * 1000) / 1000); // negative, huge or NaN: plain
  const us = Math.round(ms * 1000);
  const whole = (us / 1000) | 0;
  const frac = us - whole * 1000;
  return whole + (frac >= 100 ? '.' : frac >= 10 ? '.0' : '.00') + frac;
}

/** A JSON string literal: quoted as is when no byte needs escaping (the usual case), else JSON.stringify. */
function str(s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x22 || c === 0x5c || c > 0x7e) return JSON.stringify(s);
  }
  return '"' + s + '"';
}

/** Writer of access-log lines. */
export interface AccessLog {
  log(entry: AccessLogEntry): void;
  /** Writes out the buffer (resolves once it is handed to the OS and synced). */
  flush(): Promise<void>;
  /** Hands the lines gathered so far to the writer, without waiting or syncing (the owner's periodic tick, so `tail -f` stays current). */
  writeOut(): void;
  /** Flushes and closes the destination (stdout stays open). */
  close(): Promise<void>;
}

/**
 * Creates the access log. `destination` is `stdout` or a file path (appended to, parent
 * directories created). `minLength` (bytes, default 32 KiB: ~100 lines per write; the owner
 * flushes every second so `tail -f` stays current) is how much is buffered before a write;
 * buffered lines are lost only if the process dies without {@link AccessLog.close}.
 */
export function createAccessLog(opts: { destination: 'stdout' | string; minLength?: number }): AccessLog {
  const minLength = opts.minLength ?? 32 * 1024;
  // (minLength 1, not 0: with 0, sonic-boom's flush() does not wait for the write in flight.)
  // Lines are written into our own Buffer and handed to sonic-boom (in buffer mode) `minLength`
  // at a time: its string mode measures the byte length of the string it appends to on every
  // call, which made one call per line cost O(buffered bytes) (measured: ~8 % of the router's
  // CPU at 32 KiB), and a big string would be encoded again on the way out.
  const dest = pino.destination({
    dest: opts.destination === 'stdout' ? 1 : opts.destination, sync: false, minLength: 1, maxWrite: Math.max(16_384, 4 * minLength), mkdir: true,
    contentMode: 'buffer',
  } as Parameters<typeof pino.destination>[0]);
  let chunk = Buffer.allocUnsafe(minLength + 4096);
  let used = 0;
  let closed = false;
  const ready = new Promise<void>((resolve) => {
    // sonic-boom opens a path asynchronously; flush/end before 'ready' throws.
    if ((dest as unknown as { fd: number }).fd >= 0) resolve();
    else dest.once('ready', () => resolve());
  });
  /** Hands the gathered lines over (sonic-boom keeps the Buffer: a new one is started). */
  const handOver = () => {
    if (used === 0) return;
    (dest as unknown as { write(b: Buffer): boolean }).write(chunk.subarray(0, used));
    chunk = Buffer.allocUnsafe(minLength + 4096);
    used = 0;
  };
  const flush = async (): Promise<void> => {
    await ready;
    handOver();
    await new Promise<void>((resolve, reject) => dest.flush((err?: Error) => (err ? reject(err) : resolve())));
  };
  return {
    log(entry) {
      if (closed) return;
      const line = formatAccessLine(entry);
      if (used + line.length * 3 > chunk.length) {
        handOver();
        if (line.length * 3 > chunk.length) { (dest as unknown as { write(b: Buffer): boolean }).write(Buffer.from(line)); return; }
      }
      used += chunk.write(line, used);
      if (used >= minLength) handOver();
    },
    flush,
    writeOut() { if (!closed && (dest as unknown as { fd: number }).fd >= 0) handOver(); },
    async close() {
      if (closed) return;
      closed = true;
      await ready;
      handOver();
      if (opts.destination === 'stdout') { await flush(); return; }
      await new Promise<void>((resolve, reject) => {
        dest.once('close', () => resolve());
        dest.once('error', reject);
        dest.end();
      });
    },
  };
}
