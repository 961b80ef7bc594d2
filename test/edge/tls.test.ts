// Local CA + CertificateManager: real TLS handshakes (tls.connect / https.get / http2) trusting only
// the local CA, SNI to different hosts, the wildcard, refusal of unknown domains, caching by
// certificate identity, renewal of stale local certificates, and key encryption at rest.
import { X509Certificate } from 'node:crypto';
import { get as httpsGet, createServer as createHttpsServer } from 'node:https';
import { connect as http2Connect, createSecureServer } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { connect, createServer, type Server, type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CertificateManager, MemoryCertStore, tlsServerOptions, toStoredCert } from '../../src/edge/cert-store.js';
import { createLocalCa, decryptKey, encryptKey, issueCertificate, trustCommands, type CaMaterial } from '../../src/edge/local-ca.js';
import { certNameMatches, coveredByDomain, normalizeHost, wildcardFor } from '../../src/edge/names.js';

let ca: CaMaterial;
beforeAll(async () => { ca = await createLocalCa({ commonName: 'switchyard test CA' }); });

function handshake(port: number, servername: string, trust = ca.certPem): Promise<{ socket: TLSSocket; peer: X509Certificate }> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, servername, ca: trust }, () => {
      const peer = s.getPeerX509Certificate()!;
      s.end();
      resolve({ socket: s, peer });
    });
    s.on('error', reject);
  });
}

const listen = (srv: Server | ReturnType<typeof createSecureServer> | ReturnType<typeof createHttpsServer>): Promise<number> =>
  new Promise((r) => srv.listen(0, '127.0.0.1', () => r((srv.address() as AddressInfo).port)));

describe('local CA', () => {
  it('issues a leaf for *.shop.localhost + shop.localhost with serverAuth, chaining to the CA', async () => {
    const leaf = await issueCertificate(ca, ['*.Shop.localhost', 'shop.localhost', 'shop.localhost'], { validityDays: 30 });
    const x = new X509Certificate(leaf.certPem);
    const root = new X509Certificate(ca.certPem);
    expect(x.subjectAltName).toBe('DNS:*.shop.localhost, DNS:shop.localhost');
    expect(x.checkIssued(root) && x.verify(root.publicKey)).toBe(true);
    expect(x.ca).toBe(false);
    expect(root.ca).toBe(true);
    expect(x.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']); // Node reports the EKU here: serverAuth
    expect(x.checkHost('feat1.shop.localhost')).toBe('*.shop.localhost');
    expect(x.checkHost('a.b.shop.localhost')).toBeUndefined();
    const days = (leaf.notAfter.getTime() - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(29.9);
    expect(days).toBeLessThanOrEqual(30);
  });

  it('refuses names that cannot be certificate names', async () => {
    for (const bad of ['', 'a..b', 'foo.*.x', '*.localhost', '-a.b.c', 'x_y.test', '1.2.3.4', 'a'.repeat(64) + '.test']) {
      await expect(issueCertificate(ca, [bad]), bad).rejects.toMatchObject({ code: 'SWY_CERT_INVALID' });
    }
    await expect(issueCertificate(ca, [])).rejects.toMatchObject({ code: 'SWY_CERT_INVALID' });
  });

  it('encrypts the CA key at rest (AES-256-GCM, scrypt) and detects a wrong secret or tampering', async () => {
    const enc = await encryptKey(ca.keyPem, 'correct horse');
    expect(enc).not.toContain('PRIVATE KEY');
    expect(enc).not.toBe(await encryptKey(ca.keyPem, 'correct horse')); // fresh salt and IV
    expect(await decryptKey(enc, 'correct horse')).toBe(ca.keyPem);
    await expect(decryptKey(enc, 'wrong')).rejects.toMatchObject({ code: 'SWY_SECRET_DECRYPT' });
    const parts = enc.split('$');
    const ct = Buffer.from(parts[7]!, 'base64url');
    ct[0]! ^= 1;
    parts[7] = ct.toString('base64url');
    await expect(decryptKey(parts.join('$'), 'correct horse')).rejects.toMatchObject({ code: 'SWY_SECRET_DECRYPT' });
    await expect(decryptKey('garbage', 'x')).rejects.toMatchObject({ code: 'SWY_SECRET_DECRYPT' });
    // The header is authenticated: a lowered work factor does not decrypt.
    const weaker = enc.replace('$32768$', '$16384$');
    await expect(decryptKey(weaker, 'correct horse')).rejects.toMatchObject({ code: 'SWY_SECRET_DECRYPT' });
  });

  it('prints trust commands naming the CA path', () => {
    const lines = trustCommands("/home/me/.switchyard/ca's.pem");
    expect(lines.join('\n')).toContain("'/home/me/.switchyard/ca'\\''s.pem'");
    expect(lines.some((l) => l.includes('update-ca-certificates'))).toBe(true);
  });

  it('names: normalisation, wildcard one label up, domain coverage', () => {
    expect(normalizeHost('Feat1.Shop.Localhost.')).toBe('feat1.shop.localhost');
    expect(normalizeHost('*.shop.localhost')).toBeUndefined();
    expect(normalizeHost('*.shop.localhost', true)).toBe('*.shop.localhost');
    expect(wildcardFor('a.shop.localhost')).toBe('*.shop.localhost');
    expect(wildcardFor('shop.localhost')).toBeUndefined();
    expect(coveredByDomain('a.shop.localhost', 'shop.localhost')).toBe(true);
    expect(coveredByDomain('a.b.shop.localhost', 'shop.localhost')).toBe(false);
    expect(coveredByDomain('evilshop.localhost', 'shop.localhost')).toBe(false);
    expect(certNameMatches('*.shop.localhost', 'x.shop.localhost')).toBe(true);
    expect(certNameMatches('*.shop.localhost', 'shop.localhost')).toBe(false);
  });
});

describe('CertificateManager over real TLS', () => {
  const store = new MemoryCertStore();
  let mgr: CertificateManager;
  let srv: Server;
  let port: number;

  beforeAll(async () => {
    const other = await issueCertificate(ca, ['custom.example.test']);
    await store.put(toStoredCert(other.certPem, other.keyPem, 'manual'));
    mgr = new CertificateManager({ store, localCa: { ca, domains: ['shop.localhost'], validityDays: 30 }, maxContexts: 2 });
    srv = createServer({ SNICallback: mgr.sniCallback }, (s) => s.end('hello'));
    port = await listen(srv);
  });
  afterAll(() => new Promise<void>((r) => srv.close(() => r())));

  it('issues the wildcard on first use and serves it to every preview host and the domain', async () => {
    const a = await handshake(port, 'feat1.shop.localhost');
    expect(a.socket.authorized).toBe(true);
    expect(a.peer.subjectAltName).toBe('DNS:*.shop.localhost, DNS:shop.localhost');
    const b = await handshake(port, 'shop.localhost');
    const c = await handshake(port, 'api--feat2.shop.localhost');
    expect(b.peer.fingerprint256).toBe(a.peer.fingerprint256);
    expect(c.peer.fingerprint256).toBe(a.peer.fingerprint256);
    expect((await store.list()).filter((x) => x.source === 'local-ca')).toHaveLength(1);
  });

  it('serves a stored exact certificate for another host (SNI picks per connection)', async () => {
    const r = await handshake(port, 'custom.example.test');
    expect(r.peer.subjectAltName).toBe('DNS:custom.example.test');
    expect(r.socket.authorized).toBe(true);
  });

  it('refuses unknown domains and deeper names under the local domain (no issuance)', async () => {
    for (const name of ['unknown.example.test', 'a.b.shop.localhost', 'evilshop.localhost']) {
      await expect(handshake(port, name), name).rejects.toThrow();
      await expect(mgr.certificateFor(name)).rejects.toMatchObject({ code: 'SWY_TLS_HOST_REFUSED' });
    }
    expect((await store.list())).toHaveLength(2);
  });

  it('a client that does not trust the CA fails the handshake', async () => {
    const stranger = await createLocalCa({ commonName: 'someone else' });
    await expect(handshake(port, 'feat1.shop.localhost', stranger.certPem)).rejects.toThrow(/self[- ]signed|unable to verify|certificate/i);
  });

  it('caches SecureContexts by certificate identity, bounded, not by SNI name', async () => {
    for (let i = 0; i < 20; i++) await mgr.contextFor(`random${i}.shop.localhost`);
    expect(mgr.cachedContexts).toBeLessThanOrEqual(2);
    const x = await mgr.contextFor('a.shop.localhost');
    expect(await mgr.contextFor('b.shop.localhost')).toBe(x);
  });

  it('re-issues a local certificate close to expiry and exposes expiries', async () => {
    // A 30-day certificate issued 25 days ago: within the 7-day renewal window.
    const old = await issueCertificate(ca, ['*.shop.localhost', 'shop.localhost'], { validityDays: 30, now: new Date(Date.now() - 25 * 86_400_000) });
    const before = toStoredCert(old.certPem, old.keyPem, 'local-ca');
    await store.put(before);
    const r = await handshake(port, 'feat1.shop.localhost');
    const after = (await store.get('*.shop.localhost'))!;
    expect(after.id).not.toBe(before.id);
    expect(r.peer.fingerprint256.replace(/:/g, '').toLowerCase()).toBe(after.id);
    const ex = await mgr.expiries();
    expect(ex.map((e) => e.host)).toEqual(['*.shop.localhost', 'custom.example.test', 'shop.localhost']);
    expect(ex[0]!.secondsLeft).toBeGreaterThan(29 * 86_400);
    expect(ex[0]!.secondsLeft).toBeLessThanOrEqual(30 * 86_400);
  });

  it('https.get and HTTP/2 (ALPN h2) work with tlsServerOptions', async () => {
    const h2 = createSecureServer(tlsServerOptions(mgr), (req, res) => res.end(`v${req.httpVersion} ${req.headers[':authority'] ?? req.headers.host}`));
    const p = await listen(h2);
    try {
      const h1 = await new Promise<string>((resolve, reject) => {
        httpsGet({ host: '127.0.0.1', port: p, servername: 'feat1.shop.localhost', headers: { host: 'feat1.shop.localhost' }, ca: ca.certPem, path: '/' }, (res) => {
          let b = '';
          res.on('data', (d) => { b += d; });
          res.on('end', () => resolve(b));
        }).on('error', reject);
      });
      expect(h1).toBe('v1.1 feat1.shop.localhost');
      const client = http2Connect(`https://feat1.shop.localhost:${p}`, { ca: ca.certPem, host: '127.0.0.1', servername: 'feat1.shop.localhost', lookup: (_h, _o, cb) => cb(null, '127.0.0.1', 4) } as Parameters<typeof http2Connect>[1]);
      const body = await new Promise<string>((resolve, reject) => {
        client.on('error', reject);
        const req = client.request({ ':path': '/' });
        let b = '';
        req.setEncoding('utf8');
        req.on('data', (d) => { b += d; });
        req.on('end', () => resolve(b));
        req.on('error', reject);
        req.end();
      });
      client.close();
      expect(body).toBe(`v2.0 feat1.shop.localhost:${p}`);
    } finally {
      await new Promise<void>((r) => h2.close(() => r()));
    }
  });
});
