/**
 * @module edge/access-log
 * One JSON line per request through `pino`, written by pino's asynchronous destination
 * (sonic-boom, `sync: false`, buffered up to `minLength` bytes), so the request path only
 * serialises into a buffer and never blocks on I/O. {@link AccessLog.close} flushes what is
 * buffered. Lines look like
 * `{"time":"2026-11-29T10:00:00.000Z","reqId":"…","env":"feat1","service":"api",…}`.
 */
import { pino, type Logger } from 'pino';

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
  traceId?: string;
}

/** Writer of access-log lines. */
export interface AccessLog {
  log(entry: AccessLogEntry): void;
  /** Writes out the buffer (resolves once it is handed to the OS). */
  flush(): Promise<void>;
  /** Flushes and closes the destination (stdout stays open). */
  close(): Promise<void>;
}

/**
 * Creates the access log. `destination` is `stdout` or a file path (appended to, parent
 * directories created). `minLength` (bytes, default 4096) is how much is buffered before a write;
 * buffered lines are lost only if the process dies without {@link AccessLog.close}.
 */
export function createAccessLog(opts: { destination: 'stdout' | string; minLength?: number }): AccessLog {
  const minLength = opts.minLength ?? 4096;
  // sonic-boom requires minLength < maxWrite (16 KiB by default).
  const dest = pino.destination({ dest: opts.destination === 'stdout' ? 1 : opts.destination, sync: false, minLength, maxWrite: Math.max(16_384, 2 * minLength), mkdir: true });
  const logger: Logger = pino({
    base: null,
    messageKey: 'msg',
    // No level field: the line opens with the time (pino's own isoTime starts with a comma that
    // the level would have preceded).
    formatters: { level: () => ({}) },
    timestamp: () => `"time":"${new Date().toISOString()}"`,
  }, dest);
  let closed = false;
  const ready = new Promise<void>((resolve) => {
    // sonic-boom opens a path asynchronously; flush/end before 'ready' throws.
    if ((dest as unknown as { fd: number }).fd >= 0) resolve();
    else dest.once('ready', () => resolve());
  });
  const flush = async (): Promise<void> => {
    await ready;
    await new Promise<void>((resolve, reject) => dest.flush((err?: Error) => (err ? reject(err) : resolve())));
  };
  return {
    log(entry) { if (!closed) logger.info(entry); },
    flush,
    async close() {
      if (closed) return;
      closed = true;
      await ready;
      if (opts.destination === 'stdout') { await flush(); return; }
      await new Promise<void>((resolve, reject) => {
        dest.once('close', () => resolve());
        dest.once('error', reject);
        dest.end();
      });
    },
  };
}
