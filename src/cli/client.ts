/**
 * @module cli/client
 * The CLI's only way to the platform: HTTP calls to the admin API. Problem details come back as
 * {@link SwitchyardError}s with the server's code; an unreachable API is `SWY_ADMIN_UNREACHABLE`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { SwitchyardError, swyError } from '../errors/index.js';

/**
 * Admin URL: `--admin-url`, else `$SWITCHYARD_ADMIN_URL`, else the `admin.json` a running
 * switchyard wrote in `<app>/.switchyard/`, else `http://127.0.0.1:8081`.
 */
export function adminUrl(opt: { adminUrl?: string; app?: string; dataDir?: string }): string {
  if (opt.adminUrl) return opt.adminUrl.replace(/\/$/, '');
  if (process.env.SWITCHYARD_ADMIN_URL) return process.env.SWITCHYARD_ADMIN_URL.replace(/\/$/, '');
  const candidates = [opt.dataDir, opt.app ? join(opt.app, '.switchyard') : undefined, '.switchyard'].filter(Boolean) as string[];
  for (const dir of candidates) {
    const f = join(resolve(dir), 'admin.json');
    if (existsSync(f)) {
      try { return (JSON.parse(readFileSync(f, 'utf8')) as { adminUrl: string }).adminUrl; } catch { /* ignore a torn file */ }
    }
  }
  return 'http://127.0.0.1:8081';
}

export async function call<T>(base: string, method: string, path: string, body?: unknown): Promise<T> {
  let res: Response;
  try {
    const token = process.env.SWITCHYARD_TOKEN;
    res = await fetch(base + path, {
      method,
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    throw swyError('SWY_ADMIN_UNREACHABLE', `cannot reach the switchyard admin API at ${base} (${(err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message}); is \`npm start\` / \`switchyard up\` running? Use --admin-url to point elsewhere`, { adminUrl: base });
  }
  const text = await res.text();
  if (!res.ok) {
    let p: { code?: string; detail?: string; title?: string } = {};
    try { p = JSON.parse(text); } catch { /* not JSON */ }
    throw new SwitchyardError(p.code ?? 'SWY_INTERNAL', res.status, p.detail ?? p.title ?? `${res.status} ${text}`, p as Record<string, unknown>);
  }
  if (res.headers.get('content-type')?.includes('json')) return (text ? JSON.parse(text) : undefined) as T;
  return text as T;
}
