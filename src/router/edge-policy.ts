/**
 * @module router/edge-policy
 * Enforces each environment's access policy at the edge, whichever way the environment was
 * selected (host, header, baggage): IP allowlist (403), rate limit (429 + Retry-After), shared
 * password (login page + signed cookie, or Basic auth for API clients → 401). Compiled policies
 * (with their rate-limit state) are cached per environment and kept while the policy is unchanged.
 * Public environments cost one property read.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  CidrSet, LOGIN_PATH, PasswordVerifier, checkAccess, clientIp, compilePolicy, handleLogin, stripSessionCookie,
  type AccessContext, type AccessDenied, type AccessPolicy, type CompiledPolicy,
} from '../edge/access.js';
import type { CompiledEnvironment } from '../routing/index.js';

const MAX_LOGIN_BODY = 8 * 1024; // bytes

export interface EdgePolicyOptions {
  /** Shared by every router replica (sessions signed by one are accepted by all). */
  serverSecret: string;
  /** CIDRs of proxies whose X-Forwarded-For is believed. */
  trustedProxies?: readonly string[];
}

export class EdgePolicies {
  readonly #cache = new Map<string, { key: string; policy: CompiledPolicy }>();
  readonly #trusted: CidrSet;
  readonly #verifier = new PasswordVerifier();
  constructor(private readonly o: EdgePolicyOptions) { this.#trusted = new CidrSet(o.trustedProxies ?? []); }

  /** The client address, honouring only trusted proxies' X-Forwarded-For. */
  clientIp(req: IncomingMessage): string {
    return this.clientIpOf(req.socket.remoteAddress ?? '', () => req.headers['x-forwarded-for'] as string | undefined);
  }

  /** {@link clientIp} from the socket's address and a lookup of X-Forwarded-For (read only behind trusted proxies). */
  clientIpOf(socketIp: string, forwardedFor: () => string | undefined): string {
    return this.#trusted.size === 0 ? socketIp : clientIp(socketIp, forwardedFor(), this.#trusted);
  }

  #compiled(env: CompiledEnvironment): CompiledPolicy | undefined {
    if (env.access === undefined) return undefined;
    const hit = this.#cache.get(env.name);
    if (hit !== undefined && hit.key === env.accessKey) return hit.policy;
    const policy = compilePolicy(env.name, env.access as AccessPolicy, { serverSecret: this.o.serverSecret });
    this.#cache.set(env.name, { key: env.accessKey!, policy });
    if (this.#cache.size > 10_000) this.#cache.delete(this.#cache.keys().next().value!); // bounded
    return policy;
  }

  /**
   * Resolves `true` when the request may proceed (credentials the policy consumed are removed
   * from it), `false` when a response (denial, login page, login redirect) was sent.
   */
  async admit(req: IncomingMessage, res: ServerResponse, env: CompiledEnvironment, https: boolean): Promise<boolean> {
    const policy = this.#compiled(env);
    if (policy === undefined) return true;
    const ctx: AccessContext = { socketIp: req.socket.remoteAddress ?? '', trustedProxies: this.#trusted, https, verifier: this.#verifier };
    const url = req.url ?? '/';
    if (req.method === 'POST' && (url === LOGIN_PATH || url.startsWith(`${LOGIN_PATH}?`))) {
      const body = await readForm(req);
      send(res, body === undefined ? tooLarge(ctx.socketIp) : await handleLogin(req, body, policy, ctx));
      return false;
    }
    const d = await checkAccess(req, policy, ctx);
    if (!d.ok) { send(res, d); return false; }
    // Our credentials are not the service's business.
    if (d.viaBasic) removeRawHeader(req, 'authorization');
    if (policy.passwordHash !== undefined && req.headers.cookie !== undefined) {
      const rest = stripSessionCookie(req.headers.cookie, env.name);
      removeRawHeader(req, 'cookie');
      if (rest) req.rawHeaders.push('cookie', rest);
    }
    return true;
  }
}

function send(res: ServerResponse, d: AccessDenied): void {
  if (res.headersSent) { res.destroy(); return; }
  res.writeHead(d.status, { ...d.headers, 'content-length': String(Buffer.byteLength(d.body)) });
  res.end(d.body);
}

function tooLarge(ip: string): AccessDenied {
  return { ok: false, status: 403, clientIp: ip, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: 'login form too large\n' };
}

function readForm(req: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => { body += c; if (body.length > MAX_LOGIN_BODY) { resolve(undefined); req.destroy(); } });
    req.on('end', () => resolve(body));
    req.on('error', () => resolve(undefined));
  });
}

function removeRawHeader(req: IncomingMessage, name: string): void {
  const raw = req.rawHeaders;
  for (let i = raw.length - 2; i >= 0; i -= 2) if (raw[i]!.toLowerCase() === name) raw.splice(i, 2);
  delete req.headers[name];
}
