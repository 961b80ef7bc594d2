// serveStatic with the small-blob cache: same answers as without it, and a repeated request is
// served from memory (the store is read once per blob).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlobCache, FsBlobStore, uploadDeploy, type ByteRange, type DeployManifest } from '../../src/blob/index.js';
import { serveStatic } from '../../src/router/static.js';

const dir = mkdtempSync(join(tmpdir(), 'swy-cache-'));
const big = Buffer.alloc(300 * 1024, 0x62); // over the 256 KiB entry limit: streamed, not cached
let server: Server; let port: number; let manifest: DeployManifest; let reads = 0;

function get(path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: Buffer; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks), headers: res.headers }));
    }).on('error', reject).end();
  });
}

beforeAll(async () => {
  mkdirSync(join(dir, 'site'));
  writeFileSync(join(dir, 'site', 'index.html'), '<h1>cached</h1>');
  writeFileSync(join(dir, 'site', 'big.bin'), big);
  const fs = new FsBlobStore(join(dir, 'blobs'));
  manifest = await uploadDeploy(fs, join(dir, 'site'), { site: 'docs' });
  // Count reads through the real store.
  const store = Object.assign(Object.create(fs) as FsBlobStore, { get: (h: string, r?: ByteRange) => { reads++; return fs.get(h, r); } });
  const cache = new BlobCache(store);
  server = createServer((req, res) => { void serveStatic(req, res, { store, manifest, path: req.url ?? '/', spa: false, cache }); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => { await new Promise<void>((r) => server.close(() => r())); rmSync(dir, { recursive: true, force: true }); });

describe('serveStatic with a BlobCache', () => {
  it('reads a small blob once, then answers from memory with the same bytes and headers', async () => {
    const a = await get('/index.html');
    const b = await get('/index.html');
    expect(a.status).toBe(200);
    expect(a.body.toString()).toBe('<h1>cached</h1>');
    expect(b.body.toString()).toBe('<h1>cached</h1>');
    expect(b.headers.etag).toBe(a.headers.etag);
    expect(b.headers['content-length']).toBe('15');
    expect(reads).toBe(1);
  });

  it('serves ranges and 304s from the cache', async () => {
    const r = await get('/index.html', { range: 'bytes=4-9' });
    expect(r.status).toBe(206);
    expect(r.body.toString()).toBe('cached');
    const etag = (await get('/index.html')).headers.etag as string;
    expect((await get('/index.html', { 'if-none-match': etag })).status).toBe(304);
    expect(reads).toBe(1);
  });

  it('streams blobs over the entry limit from the store every time', async () => {
    const before = reads;
    const a = await get('/big.bin');
    const b = await get('/big.bin');
    expect(a.body.equals(big)).toBe(true);
    expect(b.body.length).toBe(big.length);
    expect(reads - before).toBeGreaterThanOrEqual(2);
  });
});
