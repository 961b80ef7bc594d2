// ACME end to end: a control plane orders a certificate from Debian's pebble (real HTTP-01,
// answered by a router replica), stores it, and a router serves it over HTTPS — also right
// after a restart, from the store.
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type PeerCertificate } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, pebbleAvailable, startPebble, type Pebble } from '../edge/pebble.js';
import { freePortBlock } from '../helpers/ports.js';
import { postgresAvailable, startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { http, startServer, type Server } from '../helpers/proc.js';

function handshake(port: number, servername: string, ca: string): Promise<{ authorized: boolean; error?: string; cert: PeerCertificate }> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, servername, ca, rejectUnauthorized: false }, () => {
      const cert = s.getPeerCertificate();
      resolve({ authorized: s.authorized, ...(s.authorizationError ? { error: String(s.authorizationError) } : {}), cert });
      s.end();
    });
    s.on('error', reject);
  });
}

// Both checks throw under CI=true when the binary is missing: CI fails, never skips.
describe.runIf(postgresAvailable() && pebbleAvailable())('ACME certificates through pebble, served by a router from the store', () => {
  let pg: TestPostgres; let pebble: Pebble; let dir: string; let httpPort: number;
  let control: Server<{ admin: string }>; let router: Server<{ edge: string; https: string }>;
  let base: number;
  // The router's HTTP edge listens where pebble sends HTTP-01 validations.
  const routerArgs = () => ['router', '--database-url', pg.url, '--port', String(httpPort), '--https-port', '0', '--admin-port', '0', '--internal-base-port', String(base), '--id', 'r1'];

  beforeAll(async () => {
    pg = await startPostgres();
    base = await freePortBlock(20);
    httpPort = await freePort();
    pebble = await startPebble({ httpPort });
    dir = mkdtempSync(join(tmpdir(), 'swy-acme-'));
    cpSync(new URL('../../examples/shop', import.meta.url).pathname, join(dir, 'shop'), { recursive: true, filter: (s) => !s.includes('.switchyard') });
    writeFileSync(join(dir, 'pebble-listener.pem'), pebble.listenerCa);
    control = await startServer(['--app', join(dir, 'shop'), 'control', '--database-url', pg.url, '--admin-port', '0', '--internal-base-port', String(base),
      '--data-dir', join(dir, 'data'), '--acme-directory', pebble.directoryUrl, '--acme-email', 'ops@shop.test', '--acme-ca-file', join(dir, 'pebble-listener.pem')]);
    router = await startServer(routerArgs());
  }, 120_000);

  afterAll(async () => {
    await router?.stop(); await control?.stop(); await pebble?.stop(); await pg?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function certState(host: string, timeoutMs = 60_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = JSON.parse((await http(`${control.ready.admin}/status`)).body) as { certificates?: { host: string; state: string; lastError?: string }[] };
      const c = s.certificates?.find((x) => x.host === host);
      if (c?.state === 'valid' || Date.now() > deadline) return c;
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  it('orders a certificate when a preview appears and serves it over HTTPS', async () => {
    const created = await http(`${control.ready.admin}/v1/environments`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'feat1', services: { api: {} } }), timeoutMs: 60_000 });
    expect(created.status).toBe(201);
    const state = await certState('feat1.shop.localhost');
    expect(state, JSON.stringify(state) + pebble.logs().slice(-2000)).toMatchObject({ state: 'valid' });
    const root = await pebble.management('/roots/0');
    const httpsPort = Number(new URL(router.ready.https).port);
    // A running router picks up new certificates from the store within a few seconds.
    const attempt = () => handshake(httpsPort, 'feat1.shop.localhost', root).catch((err: Error) => ({ authorized: false, error: err.message, cert: {} as PeerCertificate }));
    let hs = await attempt();
    for (let i = 0; i < 60 && !hs.authorized; i++) { await new Promise((r) => setTimeout(r, 250)); hs = await attempt(); }
    expect(hs.authorized, hs.error).toBe(true);
    expect(hs.cert.subjectaltname).toContain('DNS:feat1.shop.localhost');
  });

  it('a restarted router serves the certificate from the store at once', async () => {
    await router.stop();
    router = await startServer(routerArgs());
    const root = await pebble.management('/roots/0');
    const hs = await handshake(Number(new URL(router.ready.https).port), 'feat1.shop.localhost', root);
    expect(hs.authorized, hs.error).toBe(true);
    expect(hs.cert.subjectaltname).toContain('DNS:feat1.shop.localhost');
    const chain = await http(`${router.ready.edge}/api/chain`, { host: 'feat1.shop.localhost' });
    expect(JSON.parse(chain.body).chain).toEqual(['api@feat1', 'payments@base']);
  });
});
