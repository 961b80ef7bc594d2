// serveStatic over a real node:http server and real requests (raw sockets, exact bytes): types,
// ETag/304, ranges, HEAD, precompressed and on-the-fly encodings, cache policy, directory
// index, trailing-slash redirect, SPA fallback, custom 404, methods (path safety: static-paths.test.ts).
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { brotliCompressSync, brotliDecompressSync, gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FsBlobStore, uploadDeploy, type DeployManifest } from '../../src/blob/index.js';
import { serveStatic, type ServeStaticOptions } from '../../src/router/static.js';
import { failingStream, removeTempDirs, sha, tempDir, tricky, writeSite } from '../blob/helpers.js';
import { closeServer, rawRequest, type RawResponse } from './helpers.js';

const js = 'export const answer = 42;\n'.repeat(200);
const css = 'body { color: #123456; margin: 0 auto; }\n'.repeat(500);
const bin = tricky(100_000);
const SITE: Record<string, string | Buffer> = {
  'index.html': '<h1>home</h1>',
  'docs/index.html': '<h1>docs</h1>',
  'docs/guide.html': '<h1>guide</h1>',
  'app.3f9a1c2b.js': js,
  'app.3f9a1c2b.js.br': brotliCompressSync(js),
  'app.3f9a1c2b.js.gz': gzipSync(js),
  'styles/big.css': css,
  'small.txt': 'tiny',
  'logo.png': tricky(3_000),
  'report-20240101.pdf': 'pdf',
  'page.0123abcd.html': '<p>fingerprinted html</p>',
  '404.html': '<h1>custom not found</h1>',
  'empty.txt': '',
  'data.bin': bin,
  'a b.txt': 'space',
  'café.txt': 'unicode',
  '%2e%2e': 'literal percent name',
};

let server: Server;
let port = 0;
let manifest: DeployManifest;
let store: FsBlobStore;
let opts: Omit<ServeStaticOptions, 'path'>;

beforeAll(async () => {
  const root = tempDir('static');
  writeFileSync(join(root, 'secret.txt'), 'TOP SECRET');
  const site = join(root, 'site');
  writeSite(site, SITE);
  store = new FsBlobStore(join(root, 'blobs'));
  manifest = await uploadDeploy(store, site, { site: 'web' });
  opts = { store, manifest, spa: false };
  server = createServer((req, res) => { void serveStatic(req, res, { ...opts, path: req.url ?? '/' }); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  await closeServer(server);
  removeTempDirs();
});

/** One request over a fresh connection; `opts` for this request only. */
async function req(path: string, headers: Record<string, string> = {}, method = 'GET', o: Partial<ServeStaticOptions> = {}): Promise<RawResponse> {
  const saved = opts;
  opts = { ...opts, ...o };
  try {
    const lines = [`${method} ${path} HTTP/1.1`, 'Host: web.app.localhost', 'Connection: close', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
    return await rawRequest(port, lines.join('\r\n'));
  } finally {
    opts = saved;
  }
}

/** Every byte the server sent, for checking that a response has no body at all. */
function rawBytes(head: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1', () => sock.write(head + '\r\n\r\n'));
    const chunks: Buffer[] = [];
    sock.on('data', (c: Buffer) => chunks.push(c));
    sock.on('error', reject);
    sock.on('close', () => resolve(Buffer.concat(chunks)));
  });
}

const text = (r: RawResponse) => r.body.toString('utf8');
const problem = (r: RawResponse) => JSON.parse(text(r)) as Record<string, unknown>;

describe('serveStatic: files', () => {
  it('serves a file with its type, length, strong ETag and nosniff', async () => {
    const r = await req('/docs/guide.html');
    expect(r.status).toBe(200);
    expect(text(r)).toBe('<h1>guide</h1>');
    expect(r.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(r.headers['content-length']).toBe('14');
    expect(r.headers.etag).toBe(`"${sha('<h1>guide</h1>')}"`);
    expect(r.headers['x-content-type-options']).toBe('nosniff');
    expect(r.headers['accept-ranges']).toBe('bytes');
    const png = await req('/logo.png');
    expect(png.headers['content-type']).toBe('image/png');
    expect(png.body.equals(SITE['logo.png'] as Buffer)).toBe(true);
    const big = await req('/data.bin');
    expect(big.body.equals(bin)).toBe(true);
    expect((await req('/empty.txt')).body.length).toBe(0);
  });

  it('ignores the query and decodes percent-escapes once', async () => {
    expect(text(await req('/docs/guide.html?v=3&x=%2e%2e'))).toBe('<h1>guide</h1>');
    expect(text(await req('/a%20b.txt'))).toBe('space');
    expect(text(await req('/caf%C3%A9.txt'))).toBe('unicode');
    expect(text(await req('/%252e%252e'))).toBe('literal percent name'); // decoded once: the file named "%2e%2e"
  });

  it('answers If-None-Match with 304 and no body', async () => {
    const etag = `"${sha('<h1>guide</h1>')}"`;
    for (const inm of [etag, `W/${etag}`, `"nope", ${etag}`, '*']) {
      const r = await req('/docs/guide.html', { 'If-None-Match': inm });
      expect(r.status, inm).toBe(304);
      expect(r.body.length).toBe(0);
      expect(r.headers.etag).toBe(etag);
      expect(r.headers['cache-control']).toBe('no-cache');
    }
    expect((await req('/docs/guide.html', { 'If-None-Match': '"other"' })).status).toBe(200);
  });

  it('sends HEAD with the GET headers and not one byte of body', async () => {
    const raw = await rawBytes(`HEAD /data.bin HTTP/1.1\r\nHost: x\r\nConnection: close`);
    const head = raw.toString('latin1');
    expect(head).toMatch(/^HTTP\/1\.1 200 /);
    expect(head).toContain(`content-length: ${bin.length}`);
    expect(head).toContain(`etag: "${sha(bin)}"`);
    expect(head.endsWith('\r\n\r\n')).toBe(true);
    const range = await rawBytes(`HEAD /data.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=0-9\r\nConnection: close`);
    expect(range.toString('latin1')).toMatch(/^HTTP\/1\.1 206 [^]*content-range: bytes 0-9\/100000[^]*\r\n\r\n$/);
  });
});

describe('serveStatic: ranges', () => {
  it.each([
    ['bytes=0-99', 0, 99],
    ['bytes=99990-', 99_990, 99_999],
    ['bytes=-10', 99_990, 99_999],
    ['bytes=500-10000000', 500, 99_999],
    ['bytes=-500000', 0, 99_999],
    ['bytes=7-7', 7, 7],
  ])('%s → 206 with Content-Range', async (range, start, end) => {
    const r = await req('/data.bin', { Range: range });
    expect(r.status).toBe(206);
    expect(r.headers['content-range']).toBe(`bytes ${start}-${end}/100000`);
    expect(r.headers['content-length']).toBe(String(end - start + 1));
    expect(r.body.equals(bin.subarray(start, end + 1))).toBe(true);
  });

  it.each([['bytes=100000-'], ['bytes=200000-200100'], ['bytes=-0']])('%s → 416 with Content-Range: bytes */size', async (range) => {
    const r = await req('/data.bin', { Range: range, Accept: 'application/json' });
    expect(r.status).toBe(416);
    expect(r.headers['content-range']).toBe('bytes */100000');
    expect(problem(r).code).toBe('SWY_RANGE_NOT_SATISFIABLE');
    expect((await req('/empty.txt', { Range: 'bytes=0-' })).status).toBe(416);
  });

  it.each([['bytes=0-1,5-6'], ['items=0-1'], ['bytes=9-2'], ['bytes=abc']])('ignores unsupported or invalid %s: 200 with the whole file', async (range) => {
    const r = await req('/data.bin', { Range: range });
    expect(r.status).toBe(200);
    expect(r.body.equals(bin)).toBe(true);
  });

  it('honours If-Range only when it is the current strong ETag', async () => {
    expect((await req('/data.bin', { Range: 'bytes=0-9', 'If-Range': `"${sha(bin)}"` })).status).toBe(206);
    expect((await req('/data.bin', { Range: 'bytes=0-9', 'If-Range': '"stale"' })).status).toBe(200);
    expect((await req('/data.bin', { Range: 'bytes=0-9', 'If-Range': 'Wed, 21 Oct 2015 07:28:00 GMT' })).status).toBe(200);
  });
});

describe('serveStatic: content encoding', () => {
  it('prefers a precompressed sibling, by the client\'s q-values', async () => {
    const br = await req('/app.3f9a1c2b.js', { 'Accept-Encoding': 'gzip, deflate, br' });
    expect(br.headers['content-encoding']).toBe('br');
    expect(br.headers.vary).toBe('Accept-Encoding');
    expect(br.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(br.headers.etag).toBe(`"${sha(SITE['app.3f9a1c2b.js.br']!)}"`);
    expect(br.body.equals(SITE['app.3f9a1c2b.js.br'] as Buffer)).toBe(true);
    expect(brotliDecompressSync(br.body).toString()).toBe(js);
    const gz = await req('/app.3f9a1c2b.js', { 'Accept-Encoding': 'br;q=0.5, gzip' });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(gz.body).toString()).toBe(js);
    const none = await req('/app.3f9a1c2b.js', { 'Accept-Encoding': 'identity' });
    expect(none.headers['content-encoding']).toBeUndefined();
    expect(none.headers.vary).toBe('Accept-Encoding');
    expect(text(none)).toBe(js);
    const ranged = await req('/app.3f9a1c2b.js', { 'Accept-Encoding': 'br', Range: 'bytes=0-9' });
    expect(ranged.status).toBe(206);
    expect(ranged.headers['content-encoding']).toBe('br');
    expect(ranged.body.equals((SITE['app.3f9a1c2b.js.br'] as Buffer).subarray(0, 10))).toBe(true);
  });

  it('compresses text on the fly when there is no sibling: weak ETag, no length, no ranges', async () => {
    const gz = await req('/styles/big.css', { 'Accept-Encoding': 'gzip' });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gz.headers['content-length']).toBeUndefined();
    expect(gz.headers['accept-ranges']).toBeUndefined();
    expect(gz.headers.etag).toBe(`W/"${sha(css)}-gzip"`);
    expect(gz.headers.vary).toBe('Accept-Encoding');
    expect(gunzipSync(gz.body).toString()).toBe(css);
    expect(gz.body.length).toBeLessThan(css.length / 10);
    const br = await req('/styles/big.css', { 'Accept-Encoding': '*' });
    expect(br.headers['content-encoding']).toBe('br');
    expect(brotliDecompressSync(br.body).toString()).toBe(css);
    const again = await req('/styles/big.css', { 'Accept-Encoding': 'gzip', 'If-None-Match': gz.headers.etag! });
    expect(again.status).toBe(304);
    const ranged = await req('/styles/big.css', { 'Accept-Encoding': 'gzip', Range: 'bytes=0-3' });
    expect(ranged.status).toBe(206);
    expect(ranged.headers['content-encoding']).toBeUndefined();
    expect(text(ranged)).toBe('body');
  });

  it('leaves binary types, tiny files and identity-only clients alone', async () => {
    for (const [path, ae] of [['/logo.png', 'gzip, br'], ['/small.txt', 'gzip, br'], ['/styles/big.css', 'gzip;q=0, br;q=0']] as const) {
      const r = await req(path, { 'Accept-Encoding': ae });
      expect(r.headers['content-encoding'], path).toBeUndefined();
      expect(r.headers['content-length'], path).toBeDefined();
    }
    expect((await req('/logo.png')).headers.vary).toBeUndefined();
  });
});

describe('serveStatic: cache policy', () => {
  it.each([
    ['/app.3f9a1c2b.js', 'public, max-age=31536000, immutable'],
    ['/index.html', 'no-cache'],
    ['/page.0123abcd.html', 'no-cache'],
    ['/report-20240101.pdf', 'no-cache'],
    ['/logo.png', 'no-cache'],
  ])('%s → %s', async (path, cc) => {
    expect((await req(path)).headers['cache-control']).toBe(cc);
  });
});

describe('serveStatic: resolution', () => {
  it('serves index.html for the root and for folders', async () => {
    expect(text(await req('/'))).toBe('<h1>home</h1>');
    expect(text(await req('/docs/'))).toBe('<h1>docs</h1>');
  });

  it('redirects a folder without its slash, keeping the query and the mount path', async () => {
    const r = await req('/docs');
    expect(r.status).toBe(301);
    expect(r.headers.location).toBe('/docs/');
    expect((await req('/docs?tab=api&x=1')).headers.location).toBe('/docs/?tab=api&x=1');
    expect((await req('/docs', {}, 'GET', { mountPath: '/handbook/' })).headers.location).toBe('/handbook/docs/');
  });

  it('falls back to /index.html in SPA mode for extension-less unknown paths only', async () => {
    const r = await req('/app/settings/profile', {}, 'GET', { spa: true });
    expect(r.status).toBe(200);
    expect(text(r)).toBe('<h1>home</h1>');
    expect(r.headers['cache-control']).toBe('no-cache');
    expect(text(await req('/app/settings/', {}, 'GET', { spa: true }))).toBe('<h1>home</h1>');
    expect((await req('/missing.js', {}, 'GET', { spa: true })).status).toBe(404);
    expect(text(await req('/docs/guide.html', {}, 'GET', { spa: true }))).toBe('<h1>guide</h1>');
    expect((await req('/app/settings', {})).status).toBe(404);
  });

  it('sends the custom 404 page with status 404, or problem details without one', async () => {
    const r = await req('/nope.html', { Range: 'bytes=0-1', 'If-None-Match': '*' }, 'GET', { notFoundPage: '404.html' });
    expect(r.status).toBe(404);
    expect(text(r)).toBe('<h1>custom not found</h1>');
    expect(r.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(r.headers['cache-control']).toBe('no-cache');
    const head = await rawBytes('HEAD /nope HTTP/1.1\r\nHost: x\r\nConnection: close');
    expect(head.toString('latin1').endsWith('\r\n\r\n')).toBe(true);
    const plain = await req('/nope.html', { Accept: 'application/json' }, 'GET', { notFoundPage: '/missing-404.html' });
    expect(plain.status).toBe(404);
    expect(problem(plain)).toMatchObject({ code: 'SWY_FILE_NOT_FOUND', status: 404 });
  });

  it('answers other methods with 405 and Allow', async () => {
    for (const m of ['POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH']) {
      const r = await req('/index.html', { Accept: 'application/json', 'Content-Length': '0' }, m);
      expect(r.status, m).toBe(405);
      expect(r.headers.allow).toBe('GET, HEAD');
      expect(problem(r).code).toBe('SWY_METHOD_NOT_ALLOWED');
    }
  });

  it('cuts the connection when the store fails mid-body (never a silently short 200)', async () => {
    const failing = Object.assign(Object.create(store) as FsBlobStore, {
      get: async () => failingStream(bin, 40_000),
    });
    const raw = await rawBytes('GET /data.bin HTTP/1.1\r\nHost: x\r\nConnection: close');
    expect(raw.length).toBeGreaterThan(bin.length);
    opts = { ...opts, store: failing };
    try {
      const cut = await rawBytes('GET /data.bin HTTP/1.1\r\nHost: x\r\nConnection: close');
      expect(cut.toString('latin1')).toContain(`content-length: ${bin.length}`);
      expect(cut.length).toBeLessThan(bin.length);
    } finally {
      opts = { ...opts, store };
    }
  });

  it('answers 503 when the manifest names a blob the store lacks', async () => {
    const broken: DeployManifest = { ...manifest, files: { ...manifest.files, 'gone.txt': { hash: sha('never stored'), size: 12, contentType: 'text/plain' } } };
    const r = await req('/gone.txt', { Accept: 'application/json' }, 'GET', { manifest: broken });
    expect(r.status).toBe(503);
    expect(problem(r)).toMatchObject({ code: 'SWY_BLOB_STORE_UNAVAILABLE', path: 'gone.txt' });
  });
});
