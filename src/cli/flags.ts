/**
 * @module cli/flags
 * Checks of flag values. A bad value is a usage error (exit code 2): one line naming the flag,
 * the value given and what is expected, thrown before anything starts or any request is sent.
 */
import type { RequestLimits } from '../router/hygiene.js';
import { Command, CommanderError } from 'commander';

const DAY_MS = 86_400_000;

/** A usage error: `main` prints `error: <message>` and exits with code 2. */
export function usage(message: string): CommanderError {
  return new CommanderError(2, 'swy.usage', message);
}

/** A whole number (digits only) from `min` to `max` (no upper bound when absent). */
export function wholeNumber(v: string, flag: string, min: number, max?: number, hint?: string): number {
  const n = /^\d+$/.test(v) ? Number(v) : NaN;
  if (!(n >= min && (max === undefined || n <= max))) {
    throw usage(`${flag} expects a whole number ${max === undefined ? `≥ ${min}` : `from ${min} to ${max}`}${hint ? ` (${hint})` : ''}, got "${v}"`);
  }
  return n;
}

export function port(v: string, flag: string): number {
  const n = /^\d+$/.test(v) ? Number(v) : NaN;
  if (!(n >= 0 && n <= 65535)) throw usage(`${flag} expects a port number 0-65535, got "${v}"`);
  return n;
}

/** `--drain-ms`: how long in-flight requests may finish on stop (0 = not at all, at most a day). */
export function drainMs(v: string): number {
  return wholeNumber(v, '--drain-ms', 0, DAY_MS, 'milliseconds');
}

/** `--data-dir` when given: a non-empty path (an empty one used to mean the default, silently). */
export function dataDir(v: string | undefined): { dataDir?: string } {
  if (v === undefined) return {};
  if (v.trim() === '') throw usage(`--data-dir expects a folder path, got "${v}" (leave the flag out for the default <app>/.switchyard)`);
  return { dataDir: v };
}

/**
 * The admin API URL from `--admin-url` or `$SWITCHYARD_ADMIN_URL` (an empty variable counts as
 * unset): an http:// or https:// URL. Undefined when neither is given.
 */
export function adminUrlFlag(flag: string | undefined, envVar = process.env.SWITCHYARD_ADMIN_URL): string | undefined {
  const [value, source] = flag !== undefined ? [flag, '--admin-url'] : envVar ? [envVar, '$SWITCHYARD_ADMIN_URL'] : [undefined, ''];
  if (value === undefined) return undefined;
  let u: URL | undefined;
  try { u = new URL(value); } catch { /* refused below */ }
  if (u?.protocol !== 'http:' && u?.protocol !== 'https:') {
    throw usage(`${source} expects the http:// or https:// URL of a switchyard admin API, e.g. http://127.0.0.1:8081, got "${value}"`);
  }
  return value;
}

export function mib(v: string): number {
  const n = Number(v);
  if (!(n > 0)) throw usage(`--max-body expects a size in MiB > 0, got "${v}"`);
  return Math.round(n * 1024 * 1024);
}

/** Adds the request limit flags of the HTTP/1.1 engine (`up`, `router`); read them with {@link limitsFrom}. */
export function addLimitOptions(cmd: Command): Command {
  return cmd
    .option('--max-body <MiB>', 'largest request body at the edge before 413 (default 100 MiB)')
    .option('--max-header-size <KiB>', 'largest request line + header fields before 431 (default 32 KiB, at most 1024)')
    .option('--max-header-fields <n>', 'most header fields in a request before 431 (default 100)')
    .option('--head-timeout <ms>', 'a request head must arrive within this time of its first byte, else 408 (default 30000)')
    .option('--body-timeout <ms>', 'a request body that stalls this long gets 408 and the connection closed (default 60000)')
    .option('--keepalive-timeout <ms>', 'idle keep-alive client connections are closed after this long (default 65000)');
}

/** The engine's limit flags shared by `up` and `router`. */
export interface LimitFlags { maxHeaderSize?: string; maxHeaderFields?: string; headTimeout?: string; bodyTimeout?: string; keepaliveTimeout?: string }

/** `{ limits }` from the limit flags given (none: `{}`); exit code 2 on a bad value. */
export function limitsFrom(o: LimitFlags): { limits?: Partial<RequestLimits> } {
  const l: Partial<RequestLimits> = {};
  if (o.maxHeaderSize !== undefined) l.maxHeaderBytes = wholeNumber(o.maxHeaderSize, '--max-header-size', 1, 1024) * 1024;
  if (o.maxHeaderFields !== undefined) l.maxHeaderFields = wholeNumber(o.maxHeaderFields, '--max-header-fields', 1, 10_000);
  if (o.headTimeout !== undefined) l.headTimeoutMs = wholeNumber(o.headTimeout, '--head-timeout', 100, DAY_MS);
  if (o.bodyTimeout !== undefined) l.bodyTimeoutMs = wholeNumber(o.bodyTimeout, '--body-timeout', 100, DAY_MS);
  if (o.keepaliveTimeout !== undefined) l.keepAliveTimeoutMs = wholeNumber(o.keepaliveTimeout, '--keepalive-timeout', 100, DAY_MS);
  return Object.keys(l).length > 0 ? { limits: l } : {};
}
