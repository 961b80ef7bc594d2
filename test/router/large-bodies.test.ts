// 1 GiB through the router both ways with flat memory: bodies are streamed with backpressure,
// never buffered (router issue: "a 1 GiB upload and download pass with flat memory").
import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Router } from '../../src/router/index.js';
import { oneServiceSnapshot, startUpstream, type Upstream } from './helpers.js';

const GiB = 1024 * 1024 * 1024;
const CHUNK = Buffer.alloc(256 * 1024, 0x61);

/** A readable of `total` bytes made of one reused chunk (the source allocates nothing per chunk). */
function bytes(total: number): Readable {
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= total) { this.push(null); return; }
      const n = Math.min(CHUNK.length, total - sent);
      sent += n;
      this.push(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n));
    },
  });
}

/** Samples RSS while `work` runs; resolves with its result and the peak growth (bytes). */
async function rssGrowth<T>(work: () => Promise<T>): Promise<{ result: T; growth: number }> {
  global.gc?.();
  const base = process.memoryUsage().rss;
  let peak = base;
  const t = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 20);
  try {
    const result = await work();
    return { result, growth: peak - base };
  } finally { clearInterval(t); }
}

describe('1 GiB bodies through the router', () => {
  let upstream: Upstream;
  let router: Router;
  let port: number;
  beforeAll(async () => {
    upstream = await startUpstream((req, res) => {
      if (req.method === 'POST') {
        const h = createHash('sha256'); let n = 0;
        req.on('data', (c: Buffer) => { n += c.length; h.update(c); });
        req.on('end', () => res.end(JSON.stringify({ n, sha: h.digest('hex') })));
      } else {
        res.writeHead(200, { 'content-length': String(GiB) });
        bytes(GiB).pipe(res);
      }
    });
    router = new Router({ limits: { maxBodyBytes: 2 * GiB } });
    router.setSnapshot(oneServiceSnapshot(1, [upstream.port]));
    port = await router.listenEdge(0);
  });
  afterAll(async () => { await router.close(100); await upstream.close(); });

  it('uploads 1 GiB (chunked) with RSS growth under 100 MB and every byte delivered', async () => {
    const expected = createHash('sha256');
    for (let s = 0; s < GiB; s += CHUNK.length) expected.update(CHUNK);
    const { result, growth } = await rssGrowth(() => new Promise<{ n: number; sha: string }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/upload', headers: { host: 'app.localhost' } }, (res) => {
        let body = ''; res.setEncoding('utf8'); res.on('data', (c) => { body += c; }); res.on('end', () => resolve(JSON.parse(body)));
      });
      req.on('error', reject);
      bytes(GiB).pipe(req);
    }));
    expect(result.n).toBe(GiB);
    expect(result.sha).toBe(expected.digest('hex'));
    expect(growth).toBeLessThan(100 * 1024 * 1024);
  }, 180_000);

  it('downloads 1 GiB with RSS growth under 100 MB', async () => {
    const { result, growth } = await rssGrowth(() => new Promise<number>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/download', headers: { host: 'app.localhost' } }, (res) => {
        let n = 0; res.on('data', (c: Buffer) => { n += c.length; }); res.on('end', () => resolve(n)); res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    }));
    expect(result).toBe(GiB);
    expect(growth).toBeLessThan(100 * 1024 * 1024);
  }, 180_000);
});
