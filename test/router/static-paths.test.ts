// serveStatic path safety over a real node:http server and raw requests (exact bytes on the
// wire): traversal in every spelling is refused, and only manifest paths can ever be served;
// plus the pure helpers (path decoding, ranges, codings, fingerprints).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FsBlobStore, uploadDeploy } from '../../src/blob/index.js';
import { serveStatic } from '../../src/router/static.js';
import { acceptedCodings, decodeRequestPath, isFingerprinted, parseRange } from '../../src/router/static-http.js';
import { removeTempDirs, tempDir, writeSite } from '../blob/helpers.js';
import { closeServer, rawRequest, type RawResponse } from './helpers.js';

let server: Server;
let port = 0;

beforeAll(async () => {
  const root = tempDir('static');
  writeFileSync(join(root, 'secret.txt'), 'TOP SECRET');
  const site = join(root, 'site');
  writeSite(site, { 'index.html': '<h1>home</h1>', 'docs/guide.html': 'guide', '%2e%2e': 'literal percent name' });
  const store = new FsBlobStore(join(root, 'blobs'));
  const manifest = await uploadDeploy(store, site, { site: 'web' });
  server = createServer((req, res) => { void serveStatic(req, res, { store, manifest, spa: false, path: req.url ?? '/' }); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  await closeServer(server);
  removeTempDirs();
});

function req(path: string): Promise<RawResponse> {
  return rawRequest(port, `GET ${path} HTTP/1.1\r\nHost: web.app.localhost\r\nAccept: application/json\r\nConnection: close`);
}

const text = (r: RawResponse) => r.body.toString('utf8');

describe('static helpers (pure)', () => {
  it('decodes request paths relative to the site root', () => {
    expect(decodeRequestPath('')).toEqual({ ok: true, rel: '', raw: '/', query: '' });
    expect(decodeRequestPath('docs/a%20b.html?x=1')).toEqual({ ok: true, rel: 'docs/a b.html', raw: '/docs/a%20b.html', query: '?x=1' });
    expect(decodeRequestPath('/docs/?q')).toEqual({ ok: true, rel: 'docs/', raw: '/docs/', query: '?q' });
    expect(decodeRequestPath('/a\\b')).toMatchObject({ ok: false, reason: 'backslash in path' });
    expect(decodeRequestPath('/a/%2e%2e/b')).toMatchObject({ ok: false });
  });

  it('parses ranges, codings and fingerprints', () => {
    expect(parseRange('bytes=0-', 0)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRange('bytes=5-', 10)).toEqual({ kind: 'range', start: 5, end: 9 });
    expect(parseRange(undefined, 10)).toEqual({ kind: 'none' });
    expect(acceptedCodings('gzip;q=0.8, br;q=0.9')).toEqual(['br', 'gzip']);
    expect(acceptedCodings('x-gzip, br;q=0')).toEqual(['gzip']);
    expect(acceptedCodings('*;q=0.1, gzip;q=0')).toEqual(['br']);
    expect(acceptedCodings(undefined)).toEqual([]);
    for (const yes of ['app.3f9a1c2b.js', 'chunk-0a1b2c3d4e5f.css', 'x/y/main_deadbeef01.js', '3f9a1c2bd0.js']) expect(isFingerprinted(yes), yes).toBe(true);
    for (const no of ['app.js', 'report-20240101.pdf', 'facade.deadbeef.js', 'app.3f9a1c2.js', 'app.3f9a1c2bx.js']) expect(isFingerprinted(no), no).toBe(false);
  });
});

describe('serveStatic: path safety', () => {
  it.each([
    '/../secret.txt', '/%2e%2e/secret.txt', '/%2E%2E/secret.txt', '/docs/%2e%2e/%2e%2e/secret.txt', '/docs/../../secret.txt',
    '/%2e%2e%2fsecret.txt', '/..%2fsecret.txt', '/..%2Fsecret.txt', '/..%5csecret.txt', '/..%5Csecret.txt',
    '/%00', '/index.html%00.png', '/%0a', '/%zz', '/%e0%a4%a', '//secret.txt', '//etc/passwd', '/./index.html', '/docs/./guide.html',
    '/docs/.', '/docs/..', 'http://evil.example/secret.txt',
  ])('%s → 400 and nothing outside the deploy', async (path) => {
    const r = await req(path);
    expect(r.status).toBe(400);
    expect(JSON.parse(text(r)).code).toBe('SWY_PATH_INVALID');
    expect(text(r)).not.toContain('TOP SECRET');
  });

  it('serves the file literally named "%2e%2e" for /%252e%252e: one decoding only', async () => {
    expect(text(await req('/%252e%252e'))).toBe('literal percent name');
  });

  it('refuses a raw backslash (400 from node\'s parser or from serveStatic)', async () => {
    const r = await req('/..\\secret.txt');
    expect(r.status).toBe(400);
    expect(text(r)).not.toContain('TOP SECRET');
  });

  it.each(['/secret.txt', '/%252e%252e/secret.txt', '/constructor', '/__proto__', '/hasOwnProperty', '/toString', '/blobs', '/site/index.html'])(
    '%s → 404: only manifest paths exist', async (path) => {
      const r = await req(path);
      expect(r.status).toBe(404);
      expect(text(r)).not.toContain('TOP SECRET');
    },
  );
});
