/**
 * @module edge/session
 * Credentials for an environment's shared password: the password stored as an scrypt hash
 * (RFC 7914), signed session cookies (HMAC-SHA256, RFC 2104; cookie attributes per RFC 6265
 * §4.1 and SameSite per RFC 6265bis) and HTTP Basic credentials (RFC 7617) for API clients.
 */
import { createHash, createHmac, randomBytes, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';

const SCRYPT = { N: 1 << 14, r: 8, p: 1 };

function scrypt(pw: string, salt: Buffer, o: { N: number; r: number; p: number }): Promise<Buffer> {
  return new Promise((resolve, reject) => scryptCb(pw, salt, 32, { ...o, maxmem: 128 * 1024 * 1024 }, (e, k) => (e ? reject(e) : resolve(k))));
}

/** Hashes a password: `scrypt$N$r$p$<salt b64url>$<hash b64url>` (~30 ms). */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const h = await scrypt(password, salt, SCRYPT);
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64url')}$${h.toString('base64url')}`;
}

/** True when `hash` is in the form {@link hashPassword} writes. */
export function isPasswordHash(hash: string): boolean {
  return /^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9_-]+\$[A-Za-z0-9_-]+$/.test(hash);
}

/** Checks a password against a stored hash in constant time. False for a malformed hash. */
export async function verifyPassword(password: string, hash: string): Promise<boolean> {
  if (!isPasswordHash(hash)) return false;
  const [, n, r, p, salt, want] = hash.split('$') as [string, string, string, string, string, string];
  const N = Number(n), R = Number(r), P = Number(p);
  if (!Number.isInteger(Math.log2(N)) || N > 1 << 20 || R > 32 || P > 16) return false;
  const got = await scrypt(password, Buffer.from(salt, 'base64url'), { N, r: R, p: P });
  const w = Buffer.from(want, 'base64url');
  return w.length === got.length && timingSafeEqual(w, got);
}

/**
 * Password checks with a small cache of successes, so an API client sending Basic credentials on
 * every request costs one scrypt, not one per request. Keys are SHA-256(hash ‖ password): the
 * cache never holds a password. Failures are not cached (the rate limit bounds them).
 */
export class PasswordVerifier {
  readonly #ok = new Map<string, true>();
  constructor(readonly maxEntries = 1024) {}
  async verify(password: string, hash: string): Promise<boolean> {
    const k = createHash('sha256').update(hash).update('\0').update(password).digest('base64url');
    if (this.#ok.has(k)) return true;
    const ok = await verifyPassword(password, hash);
    if (ok) {
      this.#ok.set(k, true);
      if (this.#ok.size > this.maxEntries) this.#ok.delete(this.#ok.keys().next().value!);
    }
    return ok;
  }
}

/**
 * The HMAC key for an environment's sessions: derived from the server secret and the password
 * hash, so changing the password ends every session signed under the old one.
 */
export function sessionSecret(serverSecret: string, passwordHash: string): string {
  return createHmac('sha256', serverSecret).update('switchyard session\0').update(passwordHash).digest('base64url');
}

function mac(secret: string, payload: string): Buffer {
  return createHmac('sha256', secret).update(payload).digest();
}

/** A session value for `env`: `v1.<env>.<expiry ms, base 36>.<HMAC-SHA256 b64url>`. */
export function signSession(env: string, secret: string, ttlMs: number, now = Date.now()): string {
  const payload = `v1.${env}.${(now + ttlMs).toString(36)}`;
  return `${payload}.${mac(secret, payload).toString('base64url')}`;
}

/** True when `value` is an unexpired session for `env` signed with `secret` (constant-time MAC check). */
export function verifySession(env: string, secret: string, value: string | undefined, now = Date.now()): boolean {
  if (!value || value.length > 512) return false;
  const parts = value.split('.');
  if (parts.length !== 4 || parts[0] !== 'v1' || parts[1] !== env || !/^[0-9a-z]{1,12}$/.test(parts[2]!)) return false;
  const want = mac(secret, parts.slice(0, 3).join('.'));
  const got = Buffer.from(parts[3]!, 'base64url');
  if (got.length !== want.length || !timingSafeEqual(got, want)) return false;
  return parseInt(parts[2]!, 36) > now;
}

/** Cookie name of an environment's session (env names are DNS labels, so cookie-safe). */
export function sessionCookieName(env: string): string { return `swy_session_${env.replace(/[^a-z0-9-]/gi, '_')}`; }

/**
 * `Set-Cookie` value: host-only (no Domain), Path=/, HttpOnly, SameSite=Lax, Max-Age in
 * seconds, and Secure when the request came over HTTPS.
 */
export function sessionCookie(env: string, value: string, opts: { maxAgeMs: number; secure: boolean }): string {
  return `${sessionCookieName(env)}=${value}; Path=/; Max-Age=${Math.max(0, Math.floor(opts.maxAgeMs / 1000))}; HttpOnly; SameSite=Lax${opts.secure ? '; Secure' : ''}`;
}

/** The value of cookie `name` in a `Cookie` header (first occurrence), or undefined. */
export function readCookie(header: string | string[] | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of (Array.isArray(header) ? header.join('; ') : header).split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1');
  }
  return undefined;
}

/** Parses `Authorization: Basic base64(user:password)` (RFC 7617 §2, UTF-8). */
export function parseBasicAuth(header: string | undefined): { user: string; password: string } | undefined {
  const m = header ? /^Basic[ \t]+([A-Za-z0-9+/]+={0,2})[ \t]*$/i.exec(header) : null;
  if (!m) return undefined;
  const text = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = text.indexOf(':');
  if (colon < 0) return undefined;
  return { user: text.slice(0, colon), password: text.slice(colon + 1) };
}
