/**
 * @module control/api
 * The admin REST API (JSON; errors as RFC 9457 problem details). The CLI and dashboard speak
 * only to this API, never to the store.
 *
 * - `GET    /status`                                  app, its spec file, store and snapshot versions
 * - `GET    /v1/environments`                         list (URL, own services, health)
 * - `POST   /v1/environments`                         create `{name, services, noWait?}` → 201
 * - `GET    /v1/environments/:name`                   one
 * - `DELETE /v1/environments/:name`                   delete → 204
 * - `GET    /v1/environments/:name/logs/:service`     log text (`?replica=0&tail=200`)
 * - `POST   /v1/blobs/missing`                        `{hashes}` → `{missing}` (what an upload still needs)
 * - `PUT    /v1/blobs/:sha256`                        one blob (the bytes must hash to the name)
 * - `POST   /v1/blobs/gc`                             collect unreferenced blobs
 * - `GET    /v1/sites[/:site]/deploys`                deploys, newest first, with where each is active
 * - `POST   /v1/sites/:site/deploys`                  `{env, manifest, keep?}` → 201, switches env to it
 * - `POST   /v1/sites/:site/rollback`                 `{env, to?}` → the deploy now served
 */
import { readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { SwitchyardError, swyError, toProblem } from '../errors/index.js';
import type { Environments } from './environments.js';
import type { Sites } from './sites.js';
import type { Store } from '../store/index.js';
import { createToken, parseBearer, verifyToken } from '../edge/admin-tokens.js';
import { trustCommands } from '../edge/local-ca.js';

const MAX_BODY = 1 << 20; // 1 MiB

const OverrideSchema = z.strictObject({
  run: z.string().min(1).optional(),
  cwd: z.string().min(1).optional(),
  env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.string()).optional(),
});
export const CreateEnvironmentBody = z.strictObject({
  name: z.string(),
  access: z.strictObject({
    password: z.string().optional(),
    allowIps: z.array(z.string()).optional(),
    rateLimit: z.strictObject({ rps: z.number().positive(), burst: z.number().int().min(1) }).optional(),
    public: z.boolean().optional(),
  }).optional(),
  services: z.record(z.string(), OverrideSchema).default({}),
  noWait: z.boolean().optional(),
});

export interface AdminApiDeps {
  environments: Environments;
  sites: Sites;
  /** Admin tokens live in the store. */
  store?: Store;
  /** Bound to loopback only: local users are trusted. Elsewhere every write needs a bearer token. */
  loopbackOnly?: boolean;
  /** Prometheus exposition of the data plane. */
  metrics?: () => Promise<{ contentType: string; text: string }>;
  /** Local CA certificate file, when HTTPS is on. */
  caPath?: string | undefined;
  status: () => Promise<Record<string, unknown>>;
  logFile: (env: string, service: string, replica: number) => string;
}

export function createAdminServer(deps: AdminApiDeps): Server {
  return createServer((req, res) => {
    handle(deps, req, res).catch((err) => sendError(res, req, err));
  });
}

export function listen(server: Server, port: number, host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => { server.off('error', reject); resolve((server.address() as AddressInfo).port); });
  });
}

async function handle(deps: AdminApiDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://admin');
  const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
  const method = req.method ?? 'GET';
  refuseBrowserAttacks(deps, req, method);
  // Bound beyond loopback: writes need a token — except creating the first one from the host itself.
  const fromHost = /^(127\.|::1$|::ffff:127\.)/.test(req.socket.remoteAddress ?? '');
  if (method !== 'GET' && method !== 'HEAD' && deps.loopbackOnly === false && !(fromHost && url.pathname === '/v1/tokens')) await authorize(deps, req);
  if (url.pathname === '/status' && method === 'GET') return send(res, 200, await deps.status());
  if (url.pathname === '/metrics' && method === 'GET' && deps.metrics) {
    const m = await deps.metrics();
    res.writeHead(200, { 'content-type': m.contentType }).end(m.text);
    return;
  }
  if (url.pathname === '/v1/tls/ca' && method === 'GET') {
    if (!deps.caPath) throw swyError('SWY_NOT_FOUND', 'HTTPS is not enabled (start with --https-port)');
    return send(res, 200, { path: deps.caPath, certPem: readFileSync(deps.caPath, 'utf8'), commands: trustCommands(deps.caPath) });
  }
  if (url.pathname === '/v1/tokens' && method === 'POST' && deps.store) {
    const body = await readJson(req) as { name?: unknown };
    const t = createToken();
    await deps.store.addAdminToken({ id: t.id, hash: t.hash, name: typeof body.name === 'string' ? body.name : '' });
    tokenCache = undefined;
    return send(res, 201, { id: t.id, token: t.secret, note: 'shown once; send it as Authorization: Bearer <token>' });
  }
  if (url.pathname === '/v1/tokens' && method === 'GET' && deps.store) {
    return send(res, 200, { tokens: (await deps.store.listAdminTokens()).map(({ id, name, createdAt }) => ({ id, name, createdAt })) });
  }
  if (parts[0] === 'v1' && parts[1] === 'environments') {
    const envs = deps.environments;
    if (parts.length === 2) {
      if (method === 'GET') return send(res, 200, { environments: await envs.list() });
      if (method === 'POST') {
        const body = CreateEnvironmentBody.safeParse(await readJson(req));
        if (!body.success) throw swyError('SWY_BAD_REQUEST', body.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '), { issues: body.error.issues });
        const view = await envs.create({ name: body.data.name, services: body.data.services, noWait: body.data.noWait ?? false, ...(body.data.access ? { access: body.data.access } : {}) });
        res.setHeader('location', `/v1/environments/${encodeURIComponent(view.name)}`);
        return send(res, 201, view);
      }
      return methodNotAllowed(res, 'GET, POST');
    }
    const name = parts[2]!;
    if (parts.length === 3) {
      if (method === 'GET') return send(res, 200, await envs.view(name));
      if (method === 'DELETE') { await envs.delete(name); res.writeHead(204).end(); return; }
      return methodNotAllowed(res, 'GET, DELETE');
    }
    if (parts.length === 5 && parts[3] === 'logs' && method === 'GET') {
      await envs.view(name); // 404 for an unknown environment
      const replica = Number(url.searchParams.get('replica') ?? 0);
      const tail = Number(url.searchParams.get('tail') ?? 200);
      const file = deps.logFile(name, parts[4]!, replica);
      let text: string;
      try { statSync(file); text = readFileSync(file, 'utf8'); } catch {
        throw swyError('SWY_NOT_FOUND', `no log for service "${parts[4]}" replica ${replica} in environment "${name}"`, { env: name, service: parts[4] });
      }
      const lines = text.split('\n');
      const out = tail > 0 ? lines.slice(-tail - 1).join('\n') : text;
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end(out);
      return;
    }
  }
  if (parts[0] === 'v1' && parts[1] === 'blobs') {
    if (parts[2] === 'missing' && method === 'POST') {
      const body = await readJson(req) as { hashes?: unknown };
      return send(res, 200, { missing: await deps.sites.missing(body.hashes) });
    }
    if (parts[2] === 'gc' && method === 'POST') return send(res, 200, await deps.sites.collectGarbage());
    if (parts.length === 3 && method === 'PUT') {
      await deps.sites.putBlob(parts[2]!, req, Number(req.headers['content-length']));
      res.writeHead(204).end();
      return;
    }
  }
  if (parts[0] === 'v1' && parts[1] === 'sites') {
    if ((parts.length === 3 && parts[2] === 'deploys') || (parts.length === 4 && parts[3] === 'deploys')) {
      const site = parts.length === 4 ? parts[2] : undefined;
      if (method === 'GET') return send(res, 200, { deploys: await deps.sites.list(site) });
      if (method === 'POST' && site) {
        const body = await readJson(req) as { env?: unknown; manifest?: unknown; keep?: unknown };
        const env = typeof body.env === 'string' ? body.env : 'base';
        const keep = body.keep === undefined ? undefined : Number(body.keep);
        if (keep !== undefined && (!Number.isInteger(keep) || keep < 1)) throw swyError('SWY_BAD_REQUEST', `keep must be an integer ≥ 1, got ${JSON.stringify(body.keep)}`);
        const m = await deps.sites.deploy(site, env, body.manifest, keep);
        return send(res, 201, { id: m.id, site: m.site, env, files: Object.keys(m.files).length, createdAt: m.createdAt });
      }
    }
    if (parts.length === 4 && parts[3] === 'rollback' && method === 'POST') {
      const body = await readJson(req) as { env?: unknown; to?: unknown };
      const env = typeof body.env === 'string' ? body.env : 'base';
      return send(res, 200, { site: parts[2], env, ...(await deps.sites.rollback(parts[2]!, env, typeof body.to === 'string' ? body.to : undefined)) });
    }
  }
  throw swyError('SWY_NOT_FOUND', `no such endpoint: ${method} ${url.pathname}`);
}

/**
 * The admin API can start processes, so a web page must not be able to drive it:
 * - a request carrying an `Origin` other than the admin API's own is refused (CSRF);
 * - on loopback, a `Host` that is not a loopback name is refused (DNS rebinding);
 * - JSON writes must say `application/json` (a cross-site form post cannot, without a preflight).
 * @throws `SWY_ACCESS_DENIED` (403), `SWY_BAD_REQUEST` (415-like, wrong content type).
 */
function refuseBrowserAttacks(deps: AdminApiDeps, req: IncomingMessage, method: string): void {
  const host = (req.headers.host ?? '').toLowerCase();
  const origin = req.headers.origin;
  if (origin !== undefined && origin !== 'null') {
    let originHost = '';
    try { originHost = new URL(origin).host.toLowerCase(); } catch { /* unparsable: refused below */ }
    if (originHost !== host) throw swyError('SWY_ACCESS_DENIED', `cross-origin request from ${origin} refused: the admin API takes requests from the CLI and its own origin only`);
  } else if (origin === 'null') throw swyError('SWY_ACCESS_DENIED', 'requests with Origin: null are refused');
  if (deps.loopbackOnly !== false && !/^(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?$/.test(host)) {
    throw swyError('SWY_ACCESS_DENIED', `Host "${host}" refused: the admin API listens on loopback and answers loopback names only (DNS rebinding guard)`);
  }
  if ((method === 'POST' || method === 'PATCH') && (req.headers['content-length'] !== '0' && req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined)) {
    const ct = (req.headers['content-type'] ?? '').toLowerCase();
    if (!ct.startsWith('application/json')) throw swyError('SWY_BAD_REQUEST', `request bodies must be JSON with Content-Type: application/json (got "${ct || 'none'}")`);
  }
}

let tokenCache: { at: number; records: { id: string; hash: string }[] } | undefined;

/** Bearer token check for writes on a non-loopback admin listener. @throws `SWY_TOKEN_INVALID` (401). */
async function authorize(deps: AdminApiDeps, req: IncomingMessage): Promise<void> {
  const presented = parseBearer(req.headers.authorization);
  if (!deps.store) throw swyError('SWY_TOKEN_INVALID', 'this admin API takes no writes without a token store');
  if (!tokenCache || Date.now() - tokenCache.at > 5_000) tokenCache = { at: Date.now(), records: await deps.store.listAdminTokens() };
  if (!presented || !verifyToken(presented, tokenCache.records)) {
    throw swyError('SWY_TOKEN_INVALID', 'the admin API is reachable beyond loopback: writes need Authorization: Bearer <token> (create one with `switchyard token create` on the host)');
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body, null, 2);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
}

function methodNotAllowed(res: ServerResponse, allow: string): void {
  res.setHeader('allow', allow);
  const err = new SwitchyardError('SWY_BAD_REQUEST', 405, `method not allowed; use ${allow}`);
  res.writeHead(405, { 'content-type': 'application/problem+json' }).end(JSON.stringify(toProblem(err)));
}

function sendError(res: ServerResponse, req: IncomingMessage, err: unknown): void {
  const e = err instanceof SwitchyardError ? err : swyError('SWY_INTERNAL', String((err as Error)?.message ?? err), {}, err);
  if (res.headersSent) { res.destroy(); return; }
  const text = JSON.stringify(toProblem(e, req.url));
  res.writeHead(e.statusCode, { 'content-type': 'application/problem+json', 'content-length': Buffer.byteLength(text) }).end(text);
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY) throw new SwitchyardError('SWY_BAD_REQUEST', 413, `request body over ${MAX_BODY} bytes`);
    chunks.push(c as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (!text) return {};
  try { return JSON.parse(text); } catch (e) { throw swyError('SWY_BAD_REQUEST', `body is not valid JSON: ${(e as Error).message}`); }
}
