// ACME against Debian's pebble with REAL HTTP-01 validation: pebble resolves `*.test` names through
// pebble-challtestsrv (→ 127.0.0.1) and fetches /.well-known/acme-challenge/<token> from a test
// HTTP server that answers with AcmeIssuer.http01Handler. Then: chain verification against pebble's
// intermediate and root, a TLS handshake serving the issued certificate, renewal/backoff bookkeeping.
import { createServer, type Server } from 'node:http';
import { connect } from 'node:tls';
import { createServer as createTlsServer } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AcmeIssuer, MemoryChallengeStore, type AcmeHostStatus } from '../../src/edge/acme.js';
import { CertificateManager, MemoryCertStore } from '../../src/edge/cert-store.js';
import { pebbleAvailable, startPebble, type Pebble } from './pebble.js';

const HAVE_PEBBLE = pebbleAvailable();

describe('AcmeIssuer.http01Handler', () => {
  it('answers known tokens from the shared store, 404s unknown ones, ignores other paths', async () => {
    const store = new MemoryChallengeStore();
    await store.set('tok_en-1', 'tok_en-1.thumbprint');
    const issuer = new AcmeIssuer({ directoryUrl: 'https://127.0.0.1:1/dir', email: 'x@example.test', certStore: new MemoryCertStore(), challengeStore: store });
    const srv = createServer((req, res) => { if (!issuer.http01Handler(req, res)) res.writeHead(418).end('app'); });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
    try {
      const ok = await fetch(`${base}/.well-known/acme-challenge/tok_en-1`);
      expect([ok.status, await ok.text(), ok.headers.get('content-type')]).toEqual([200, 'tok_en-1.thumbprint', 'application/octet-stream']);
      expect((await fetch(`${base}/.well-known/acme-challenge/nope`)).status).toBe(404);
      expect((await fetch(`${base}/.well-known/acme-challenge/../../etc`)).status).toBe(418); // normalised by fetch to /etc
      expect((await fetch(`${base}/.well-known/acme-challenge/a%2Fb`)).status).toBe(404);
      expect((await fetch(`${base}/.well-known/acme-challenge/tok_en-1`, { method: 'POST' })).status).toBe(404);
      expect((await fetch(`${base}/other`)).status).toBe(418);
    } finally {
      await new Promise<void>((r) => srv.close(() => r()));
    }
  });
});

function splitPem(pem: string): string[] {
  return pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

// pebbleAvailable() throws under CI=true when pebble is missing: CI fails, never skips.
describe.skipIf(!HAVE_PEBBLE)('AcmeIssuer against pebble (real HTTP-01)', () => {
  let pebble: Pebble;
  let http: Server;
  let challengeHits = 0;
  const challenges = new MemoryChallengeStore();
  const certStore = new MemoryCertStore();
  const statuses: AcmeHostStatus[] = [];
  let issuer: AcmeIssuer;

  beforeAll(async () => {
    http = createServer((req, res) => {
      if (issuer.http01Handler(req, res)) { challengeHits++; return; }
      res.writeHead(404).end();
    });
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    pebble = await startPebble({ httpPort: (http.address() as AddressInfo).port, validitySeconds: 90 * 86_400 });
    issuer = new AcmeIssuer({ directoryUrl: pebble.directoryUrl, email: 'ops@example.test', certStore, challengeStore: challenges, caBundle: pebble.listenerCa, polling: { backoffMin: 100, backoffMax: 1000 }, onStatus: (s) => statuses.push(s) });
  });

  afterAll(async () => {
    await pebble?.stop();
    await new Promise<void>((r) => (http ? http.close(() => r()) : r()));
  });

  it('issues a certificate for app.test through a real HTTP-01 validation and stores it', async () => {
    const t0 = Date.now();
    expect((await issuer.ensure('App.Test')).state).toBe('pending');
    await issuer.tick();
    const [st] = issuer.status();
    expect(st, pebble.logs()).toMatchObject({ host: 'app.test', state: 'valid', failures: 0 });
    expect(challengeHits).toBeGreaterThanOrEqual(1); // pebble's VA really fetched the token
    expect(await challenges.get('anything')).toBeUndefined();
    const cert = await certStore.get('app.test');
    expect(cert?.source).toBe('acme');
    expect(cert?.hostnames).toEqual(['app.test']);
    // Renewal at two thirds of the lifetime.
    const life = cert!.notAfter.getTime() - cert!.notBefore.getTime();
    expect(st!.nextAttemptAt).toBeCloseTo(cert!.notBefore.getTime() + (2 / 3) * life, -3);
    expect(statuses.map((s) => s.state)).toEqual(['pending', 'valid']);
    expect(Date.now() - t0).toBeLessThan(30_000);
    expect(issuer.accountKeyPem).toMatch(/PRIVATE KEY/);
  });

  it('the chain verifies against the intermediate and root from pebble\'s management API', async () => {
    const cert = (await certStore.get('app.test'))!;
    const root = new X509Certificate(await pebble.management('/roots/0'));
    const chain = splitPem(cert.certPem).map((p) => new X509Certificate(p));
    const intermediate = new X509Certificate(await pebble.management('/intermediates/0'));
    expect(chain.length).toBeGreaterThanOrEqual(2);
    const [leaf, inChain] = chain;
    expect(inChain!.fingerprint256).toBe(intermediate.fingerprint256);
    expect(leaf!.checkIssued(intermediate)).toBe(true);
    expect(leaf!.verify(intermediate.publicKey)).toBe(true);
    expect(intermediate.checkIssued(root)).toBe(true);
    expect(intermediate.verify(root.publicKey)).toBe(true);
    expect(leaf!.checkHost('app.test')).toBe('app.test');
    expect(leaf!.checkPrivateKey((await import('node:crypto')).createPrivateKey(cert.keyPem))).toBe(true);

    // And a real TLS handshake: the CertificateManager serves it, the client trusts only pebble's root.
    const mgr = new CertificateManager({ store: certStore });
    const srv = createTlsServer({ SNICallback: mgr.sniCallback }, (s) => s.end('ok'));
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    try {
      const body = await new Promise<string>((resolve, reject) => {
        const s = connect({ host: '127.0.0.1', port: (srv.address() as AddressInfo).port, servername: 'app.test', ca: root.toString() }, () => {
          expect(s.authorized).toBe(true);
        });
        let b = '';
        s.on('data', (d) => { b += d; });
        s.on('end', () => resolve(b));
        s.on('error', reject);
      });
      expect(body).toBe('ok');
    } finally {
      await new Promise<void>((r) => srv.close(() => r()));
    }
  });

  it('issues several names concurrently, once each', async () => {
    await Promise.all(['a.app.test', 'b.app.test'].map((h) => issuer.ensure(h)));
    const [x, y] = await Promise.all([issuer.order('a.app.test'), issuer.order('a.app.test'), issuer.tick()]);
    expect(x.id).toBe(y.id);
    expect((await certStore.get('b.app.test'))?.source).toBe('acme');
    expect(issuer.status().map((s) => `${s.host}:${s.state}`)).toEqual(['a.app.test:valid', 'app.test:valid', 'b.app.test:valid']);
  });

  it('records a failure with backoff when validation fails, and retries', async () => {
    let now = Date.now();
    const broken = new AcmeIssuer({
      directoryUrl: pebble.directoryUrl, email: 'ops@example.test', certStore, caBundle: pebble.listenerCa,
      // A challenge store the shared http01Handler never sees: pebble's VA gets 404 → invalid.
      challengeStore: new MemoryChallengeStore(),
      retry: { baseMs: 1000, maxMs: 4000 }, now: () => now, random: () => 1 - 1e-9,
    });
    await broken.ensure('fail.test');
    await broken.tick();
    let [s] = broken.status();
    expect(s).toMatchObject({ host: 'fail.test', state: 'failed', failures: 1 });
    expect(s!.lastError).toMatch(/404|invalid|unauthorized/i);
    expect(s!.nextAttemptAt - now).toBeGreaterThan(990);
    expect(s!.nextAttemptAt - now).toBeLessThanOrEqual(1000);
    await broken.tick(); // not due yet: nothing happens
    expect(broken.status()[0]!.failures).toBe(1);
    now += 1000;
    await expect(broken.order('fail.test')).rejects.toMatchObject({ code: 'SWY_ACME_FAILED' });
    now += 10_000;
    await broken.tick();
    [s] = broken.status();
    expect(s!.failures).toBe(3);
    expect(s!.nextAttemptAt - now).toBeLessThanOrEqual(4000); // capped at maxMs
    expect(s!.nextAttemptAt - now).toBeGreaterThan(3900);
    expect(await certStore.get('fail.test')).toBeUndefined();
  });

  it('issues a wildcard through the Dns01Solver hook (TXT records in pebble-challtestsrv)', async () => {
    const calls: string[] = [];
    const dns = new AcmeIssuer({
      directoryUrl: pebble.directoryUrl, email: 'ops@example.test', certStore, challengeStore: challenges, caBundle: pebble.listenerCa, polling: { backoffMin: 100, backoffMax: 1000 },
      dns01: {
        present: async (domain, record, value) => { calls.push(`present ${domain} ${record}`); await pebble.challtestsrv('/set-txt', { host: `${record}.`, value }); },
        cleanup: async (domain, record) => { calls.push(`cleanup ${domain} ${record}`); await pebble.challtestsrv('/clear-txt', { host: `${record}.` }); },
      },
    });
    const cert = await dns.order('*.wild.test');
    expect(cert.hostnames).toEqual(['*.wild.test']);
    expect(calls).toEqual(['present wild.test _acme-challenge.wild.test', 'cleanup wild.test _acme-challenge.wild.test']);
    expect((await certStore.get('*.wild.test'))?.id).toBe(cert.id);
    const mgr = new CertificateManager({ store: certStore });
    expect((await mgr.certificateFor('feat1.wild.test')).id).toBe(cert.id);
  });

  it('refuses a wildcard without a DNS-01 solver, without contacting the CA', async () => {
    const i = new AcmeIssuer({ directoryUrl: 'https://127.0.0.1:1/dir', email: 'x@example.test', certStore, challengeStore: challenges });
    await expect(i.order('*.app.test')).rejects.toMatchObject({ code: 'SWY_ACME_FAILED', message: expect.stringMatching(/DNS-01/) });
    expect(i.status()[0]).toMatchObject({ state: 'failed', failures: 1 });
  });
});
