/**
 * @module edge/access
 * Per-environment access policy at the edge, decided in this order for every request (whichever
 * way the environment was selected: host, header or baggage):
 *  1. IP allowlist — the client address (behind trusted proxies only, see {@link clientIp}) must be
 *     in `allowIps` (CIDR, v4 and v6), else 403 `SWY_ACCESS_DENIED`;
 *  2. rate limit — a token bucket per client address (IPv6 per /64), else 429 `SWY_RATE_LIMITED`
 *     with `Retry-After` in seconds (RFC 9110 §10.2.3);
 *  3. password — a valid signed session cookie or HTTP Basic credentials, else 401
 *     `SWY_AUTH_REQUIRED`: the login page for browsers (`Accept: text/html`), a problem document with
 *     `WWW-Authenticate: Basic realm="switchyard <env>"` (RFC 7617) for API clients.
 * `POST /.switchyard/login` is answered by {@link handleLogin} (steps 1–2, then the password,
 * then a 303 with the session cookie). Re-exports the building blocks.
 */
import { swyError, toProblem, type ErrorCode } from '../errors/index.js';
import { CidrSet, clientIp, rateKey } from './ip.js';
import { LOGIN_PAGE_HEADERS, renderLoginPage, safeReturnPath } from './login-page.js';
import { TokenBucket, type RateLimit } from './rate-limit.js';
import { isPasswordHash, parseBasicAuth, PasswordVerifier, readCookie, sessionCookie, sessionCookieName, sessionSecret, signSession, verifySession } from './session.js';

export * from './ip.js';
export * from './rate-limit.js';
export * from './session.js';
export * from './login-page.js';

/** An environment's access policy as the spec/API holds it. */
export interface AccessPolicy {
  /** The shared password as an scrypt hash from `hashPassword` (never plain text). */
  password?: string;
  /** Allowed client ranges, e.g. `["10.0.0.0/8", "2001:db8::/32"]`. Absent: everyone. */
  allowIps?: string[];
  /** Token bucket per client address. */
  rateLimit?: RateLimit;
}

/** A policy ready for the hot path; build once per policy version with {@link compilePolicy}. */
export interface CompiledPolicy {
  env: string;
  allow?: CidrSet;
  limiter?: TokenBucket;
  passwordHash?: string;
  /** HMAC key of this environment's sessions (server secret + password hash). */
  sessionKey?: string;
}

/**
 * Validates and compiles a policy. The rate-limit state lives in the result, so keep it for as
 * long as the policy is unchanged.
 * @throws SWY_CIDR_INVALID for a bad range; SWY_BAD_REQUEST for a plain-text password or a bad rate.
 */
export function compilePolicy(env: string, policy: AccessPolicy, opts: { serverSecret: string; maxRateKeys?: number; now?: () => number }): CompiledPolicy {
  const c: CompiledPolicy = { env };
  if (policy.allowIps) c.allow = new CidrSet(policy.allowIps);
  if (policy.rateLimit) {
    const { rps, burst } = policy.rateLimit;
    if (!(rps > 0) || !(burst >= 1)) throw swyError('SWY_BAD_REQUEST', `rate limit of "${env}" needs rps > 0 and burst >= 1`, { env });
    c.limiter = new TokenBucket(policy.rateLimit, { maxKeys: opts.maxRateKeys, now: opts.now });
  }
  if (policy.password !== undefined) {
    if (!isPasswordHash(policy.password)) throw swyError('SWY_BAD_REQUEST', `the password of "${env}" must be stored as an scrypt hash`, { env });
    c.passwordHash = policy.password;
    c.sessionKey = sessionSecret(opts.serverSecret, policy.password);
  }
  return c;
}

/** What {@link checkAccess} reads of a request. */
export interface AccessRequest {
  method?: string;
  url?: string;
  headers: Record<string, string | string[] | undefined>;
}

/** Per-listener context. */
export interface AccessContext {
  /** The TCP peer (`socket.remoteAddress`). */
  socketIp: string;
  /** Proxies whose `X-Forwarded-For` is believed (load balancer ranges). */
  trustedProxies: CidrSet;
  /** Whether the request came over TLS (cookies get `Secure`). */
  https: boolean;
  /** Session lifetime (ms, default 24 h). */
  sessionTtlMs?: number;
  /** Shared verifier (caches successful Basic checks); one per process. */
  verifier?: PasswordVerifier;
  now?: () => number;
}

/** Let through (`viaBasic`: the Authorization header was ours — strip it before proxying). */
export interface AccessAllowed { ok: true; clientIp: string; viaBasic: boolean }
/** A complete response to send instead of proxying (a denial, or the login's 303). */
export interface AccessDenied { ok: false; status: 303 | 401 | 403 | 429; code?: ErrorCode; clientIp: string; headers: Record<string, string>; body: string }
export type AccessDecision = AccessAllowed | AccessDenied;

const defaultVerifier = new PasswordVerifier();

function header(req: AccessRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function problem(code: ErrorCode, message: string, env: string, ip: string, extraHeaders: Record<string, string> = {}): AccessDenied {
  const err = swyError(code, message, { env });
  return {
    ok: false, status: err.statusCode as 401 | 403 | 429, code, clientIp: ip,
    headers: { 'content-type': 'application/problem+json', 'cache-control': 'no-store', ...extraHeaders },
    body: JSON.stringify(toProblem(err)),
  };
}

function authRequired(req: AccessRequest, p: CompiledPolicy, ip: string, error?: string): AccessDenied {
  if ((header(req, 'accept') ?? '').includes('text/html')) {
    return { ok: false, status: 401, code: 'SWY_AUTH_REQUIRED', clientIp: ip, headers: { ...LOGIN_PAGE_HEADERS }, body: renderLoginPage(p.env, error, req.url ?? '/') };
  }
  return problem('SWY_AUTH_REQUIRED', error ? `${error} Environment "${p.env}" needs a password.` : `environment "${p.env}" needs a password: send Basic credentials or log in`, p.env, ip,
    { 'www-authenticate': `Basic realm="switchyard ${p.env}", charset="UTF-8"` });
}

/** Steps 1 and 2 (allowlist, rate limit); undefined when both pass. */
function gate(p: CompiledPolicy, ip: string): AccessDenied | undefined {
  if (p.allow && !p.allow.has(ip)) return problem('SWY_ACCESS_DENIED', `${ip} is not allowed to reach environment "${p.env}"`, p.env, ip);
  if (p.limiter) {
    const t = p.limiter.take(rateKey(ip));
    if (!t.ok) {
      const secs = Math.max(1, Math.ceil(t.retryAfterMs / 1000));
      return problem('SWY_RATE_LIMITED', `too many requests to "${p.env}" from ${ip}; retry in ${secs} s`, p.env, ip, { 'retry-after': String(secs) });
    }
  }
  return undefined;
}

/** Decides one request: allowlist (403) → rate limit (429) → password (401). */
export async function checkAccess(req: AccessRequest, policy: CompiledPolicy, ctx: AccessContext): Promise<AccessDecision> {
  const ip = clientIp(ctx.socketIp, req.headers['x-forwarded-for'], ctx.trustedProxies);
  const denied = gate(policy, ip);
  if (denied) return denied;
  if (!policy.passwordHash) return { ok: true, clientIp: ip, viaBasic: false };
  const now = ctx.now?.() ?? Date.now();
  if (verifySession(policy.env, policy.sessionKey!, readCookie(req.headers.cookie, sessionCookieName(policy.env)), now)) return { ok: true, clientIp: ip, viaBasic: false };
  const basic = parseBasicAuth(header(req, 'authorization'));
  if (basic) {
    if (await (ctx.verifier ?? defaultVerifier).verify(basic.password, policy.passwordHash)) return { ok: true, clientIp: ip, viaBasic: true };
    return authRequired(req, policy, ip, 'Wrong password.');
  }
  return authRequired(req, policy, ip);
}

/**
 * Answers `POST /.switchyard/login` with the url-encoded form body (`password`, `return`): 303 to
 * the return path with the session cookie, or 401 with the page and an error. Steps 1–2 apply
 * first, so guesses count against the rate limit.
 */
export async function handleLogin(req: AccessRequest, formBody: string, policy: CompiledPolicy, ctx: AccessContext): Promise<AccessDenied> {
  const ip = clientIp(ctx.socketIp, req.headers['x-forwarded-for'], ctx.trustedProxies);
  const denied = gate(policy, ip);
  if (denied) return denied;
  const form = new URLSearchParams(formBody.length > 16_384 ? '' : formBody);
  const back = safeReturnPath(form.get('return'));
  const html = { ...req, headers: { ...req.headers, accept: 'text/html' }, url: back };
  if (!policy.passwordHash) return { ok: false, status: 303, clientIp: ip, headers: { location: back, 'cache-control': 'no-store' }, body: '' };
  if (!(await (ctx.verifier ?? defaultVerifier).verify(form.get('password') ?? '', policy.passwordHash))) return authRequired(html, policy, ip, 'Wrong password.');
  const ttl = ctx.sessionTtlMs ?? 86_400_000;
  const value = signSession(policy.env, policy.sessionKey!, ttl, ctx.now?.() ?? Date.now());
  return {
    ok: false, status: 303, clientIp: ip, body: '',
    headers: { location: back, 'cache-control': 'no-store', 'set-cookie': sessionCookie(policy.env, value, { maxAgeMs: ttl, secure: ctx.https }) },
  };
}

/** Removes this environment's session cookie from a `Cookie` header before proxying (undefined if nothing is left). */
export function stripSessionCookie(cookieHeader: string | undefined, env: string): string | undefined {
  if (!cookieHeader) return cookieHeader;
  const name = sessionCookieName(env);
  const kept = cookieHeader.split(';').filter((c) => c.split('=')[0]!.trim() !== name).map((c) => c.trim()).filter(Boolean);
  return kept.length ? kept.join('; ') : undefined;
}
