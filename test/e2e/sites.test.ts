/**
 * End-to-end: static sites (examples/shop's `docs`) on a real `switchyard up`, once per blob
 * backend — the local filesystem (default) and S3 through a real s3rver started here on port 0.
 * Driven like a user would: the CLI as child processes, HTTP to 127.0.0.1 with explicit Host
 * headers, raw request lines over a socket where a client would normalise the path.
 *
 * The tests of one backend share one switchyard and build on each other (numbers follow the
 * issue: 1 base serves the site, 2 preview deploy, 3 ls/rollback, 4 failed deploys change
 * nothing, 5 traversal, 6 retention and GC). afterAll stops it and checks nothing is left.
 *
 * s3rver that cannot start fails the S3 suite under CI (CI=true); elsewhere the suite is skipped
 * with a warning.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import zlib from 'node:zlib';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  describeProcs, killLeftovers, makeWorkspace, request, startSwitchyard, waitGone, waitNoProcessesUnder,
  type CliResult, type HttpResult, type Switchyard, type Workspace,
} from './harness.js';

const IN_CI = !!process.env.CI && process.env.CI !== 'false' && process.env.CI !== '0';
const BUCKET = 'switchyard-e2e';
const S3_PREFIX = 'sites/blobs';
const DEPLOY_ID = /d-[0-9a-z]+-[0-9a-f]+/;
const JS = 'assets/app.3f9a1c2b.js';
/** The extra (fingerprinted, compressible, over the 1 KiB threshold) file of the v2 deploy. */
const EXTRA_CSS = 'assets/extra.5e6f7a8b.css';

// ---------------------------------------------------------------------------------------------
// Blob backends

interface Backend {
  name: string;
  /** Starts what the backend needs (inside `ws`); returns `up` arguments and environment. */
  prepare(ws: Workspace): Promise<{ extraArgs: string[]; env: NodeJS.ProcessEnv }>;
  /** Number of blobs stored, counted on disk (the fs store's objects/, s3rver's files). */
  countBlobs(ws: Workspace): number;
  close(): Promise<void>;
  /** Set when the backend could not start outside CI: its tests are skipped. */
  skipReason?: string;
}

function countFiles(dir: string, suffix = ''): number {
  if (!fs.existsSync(dir)) return 0;
  let n = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) n += countFiles(path.join(dir, e.name), suffix);
    else if (e.name.endsWith(suffix)) n++;
  }
  return n;
}

const fsBackend: Backend = {
  name: 'filesystem',
  prepare: async () => ({ extraArgs: [], env: {} }),
  countBlobs: (ws) => countFiles(path.join(ws.dataDir, 'blobs', 'objects')),
  close: async () => undefined,
};

function s3Backend(): Backend {
  let server: { close(): Promise<void> } | undefined;
  let dir = '';
  const b: Backend = {
    name: 's3 (s3rver)',
    async prepare(ws) {
      dir = path.join(ws.root, 's3rver');
      fs.mkdirSync(dir);
      let endpoint: string;
      try {
        const { default: S3rver } = await import('s3rver');
        const s = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: dir, configureBuckets: [{ name: BUCKET }] });
        const addr = await s.run();
        server = s;
        endpoint = `http://127.0.0.1:${addr.port}`;
      } catch (e) {
        if (IN_CI) throw new Error(`s3rver could not start (CI: failing, not skipping): ${String((e as Error)?.stack ?? e)}`);
        b.skipReason = `s3rver could not start: ${String((e as Error)?.message ?? e)}`;
        console.warn(`[sites e2e] skipping the S3 backend: ${b.skipReason}`);
        return { extraArgs: [], env: {} };
      }
      return {
        extraArgs: ['--blob-url', `s3://${BUCKET}/${S3_PREFIX}?endpoint=${encodeURIComponent(endpoint)}&forcePathStyle=true`],
        env: { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' },
      };
    },
    countBlobs: () => countFiles(path.join(dir, BUCKET, ...S3_PREFIX.split('/')), '._S3rver_object'),
    close: async () => { await server?.close(); server = undefined; },
  };
  return b;
}

// ---------------------------------------------------------------------------------------------
// HTTP with byte bodies, and raw request lines

interface RawResult { status: number; headers: http.IncomingHttpHeaders; body: Buffer }

/** Like the harness's request, but keeps the body as bytes (for gzip/br and ranges). */
function fetchBytes(base: string, p: string, host: string, headers: Record<string, string> = {}, method = 'GET'): Promise<RawResult> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: Number(u.port), path: p, method, headers: { ...headers, host }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.setTimeout(15_000, () => req.destroy(new Error(`${method} ${p} (Host ${host}) timed out`)));
    req.on('error', reject);
    req.end();
  });
}

/** Sends `GET <target> HTTP/1.1` verbatim over a socket (no client-side path normalisation). */
function rawGet(base: string, target: string, host: string): Promise<{ status: number; head: string; body: string }> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const sock = net.connect(Number(u.port), '127.0.0.1');
    const chunks: Buffer[] = [];
    sock.setTimeout(15_000, () => sock.destroy(new Error(`raw GET ${target} timed out`)));
    sock.on('data', (c) => chunks.push(c));
    sock.on('error', reject);
    sock.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const split = text.indexOf('\r\n\r\n');
      const head = split === -1 ? text : text.slice(0, split);
      const m = /^HTTP\/1\.1 (\d{3})/.exec(head);
      resolve({ status: m ? Number(m[1]) : 0, head, body: split === -1 ? '' : text.slice(split + 4) });
    });
    sock.write(`GET ${target} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`, 'latin1');
  });
}

function versionOf(r: HttpResult): string | undefined {
  return /<p class="version">version (\d+)<\/p>/.exec(r.body)?.[1];
}

function expectOk(r: CliResult, what: string): void {
  expect(r.code, `${what} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`).toBe(0);
}

/** A step of one backend's story: runs after the previous one (the suites themselves run concurrently). */
const step = it.sequential;
/** CLI runs cost about a second each on a quiet machine, several on a loaded one. */
const STEP_TIMEOUT_MS = 120_000;

interface DeployRow { id: string; site: string; env: string; files: number; bytes: number; createdAt: string; activeIn: string[] }

// ---------------------------------------------------------------------------------------------

// The two backends run side by side (each its own switchyard); the steps within one run in order.
describe.each([fsBackend, s3Backend()])('sites on the $name blob store', { concurrent: true }, (backend) => {
  let ws: Workspace;
  let sy: Switchyard;
  const docs = () => path.join(ws.app, 'docs');
  /** Folders of later deploys, made from the example's docs. */
  let v2 = ''; let v3 = ''; let v4 = ''; let v5 = '';
  /** Deploy ids by name. */
  const ids: Record<string, string> = {};
  const canary = `CANARY-${randomBytes(8).toString('hex')}`;

  const site = (args: string[]) => sy.cli(['--app', ws.app, 'site', ...args]);
  const get = (host: string, p: string, headers?: Record<string, string>) => sy.get(p, { host, ...(headers ? { headers } : {}) });
  /** The version number each of these (host, path) serves. */
  const versions = async (targets: [host: string, p: string][]) => Promise.all(targets.map(async ([h, p]) => {
    const r = await get(h, p);
    expect(r.status, `${h}${p}: ${r.body}`).toBe(200);
    return versionOf(r);
  }));
  /** `site ls --json` through the CLI. */
  const ls = async (): Promise<DeployRow[]> => {
    const r = await site(['ls', '--json']);
    expectOk(r, 'site ls --json');
    return JSON.parse(r.stdout) as DeployRow[];
  };
  /** The same list from the admin API: for checks in between (a CLI run costs about a second). */
  const deploys = async (): Promise<DeployRow[]> => {
    const r = await request(sy.admin, '/v1/sites/deploys');
    expect(r.status, r.body).toBe(200);
    return r.json<{ deploys: DeployRow[] }>().deploys;
  };
  /** `site deploy docs --dir <dir>`: checks the report (files, uploaded, unchanged) and that exactly `uploaded` blobs were added; returns the deploy id. */
  const deploy = async (dir: string, opts: { env?: string; keep?: number; files: number; uploaded: number }) => {
    const before = backend.countBlobs(ws);
    const r = await site(['deploy', 'docs', '--dir', dir, ...(opts.env ? ['--env', opts.env] : []), ...(opts.keep ? ['--keep', String(opts.keep)] : [])]);
    expectOk(r, `site deploy ${dir}`);
    const m = new RegExp(`^deployed docs (${DEPLOY_ID.source}) to ${opts.env ?? 'base'}: (\\d+) files, (\\d+) uploaded$`, 'm').exec(r.stdout);
    expect(m, r.stdout).not.toBeNull();
    expect(Number(m![2]), r.stdout).toBe(opts.files);
    expect(Number(m![3]), r.stdout).toBe(opts.uploaded);
    expect(r.stderr).toContain(`uploading ${opts.uploaded}/${opts.uploaded} files`);
    expect(r.stderr).toContain(`(${opts.files - opts.uploaded} unchanged)`);
    // only changed files reach the blob store
    expect(backend.countBlobs(ws) - before, 'blobs added by this deploy').toBe(opts.uploaded);
    return m![1]!;
  };

  beforeAll(async () => {
    ws = makeWorkspace('swy-e2e-sites-');
    const { extraArgs, env } = await backend.prepare(ws);
    if (backend.skipReason) return;
    // canaries outside the deploy: no request may ever return them
    fs.writeFileSync(path.join(ws.app, 'secret.txt'), canary);
    fs.writeFileSync(path.join(ws.root, 'secret.txt'), canary);
    fs.writeFileSync(path.join(ws.app, 'docs-secret.txt'), canary); // next to docs/
    // v2: a different (bigger) index and one extra file; v3, v4, v5: only the index differs from v2
    const make = (name: string, from: string, edit: (d: string) => void) => {
      const d = path.join(ws.root, name);
      fs.cpSync(from, d, { recursive: true });
      edit(d);
      return d;
    };
    const filler = Array.from({ length: 60 }, (_, i) => `<!-- filler line ${i}: switchyard static sites compress text over one KiB on the fly -->`).join('\n');
    v2 = make('docs-v2', path.join(ws.app, 'docs'), (d) => {
      const f = path.join(d, 'index.html');
      fs.writeFileSync(f, fs.readFileSync(f, 'utf8').replace('version 1', 'version 2').replace('</body>', `${filler}\n</body>`));
      fs.writeFileSync(path.join(d, EXTRA_CSS), Array.from({ length: 80 }, (_, i) => `.rule-${i} { margin: ${i}px; padding: ${i % 7}px; }`).join('\n') + '\n');
    });
    v3 = make('docs-v3', v2, (d) => {
      const f = path.join(d, 'index.html');
      fs.writeFileSync(f, fs.readFileSync(f, 'utf8').replace('version 2', 'version 3'));
    });
    v4 = make('docs-v4', v2, (d) => {
      const f = path.join(d, 'index.html');
      fs.writeFileSync(f, fs.readFileSync(f, 'utf8').replace('version 2', 'version 4'));
    });
    v5 = make('docs-v5', v2, (d) => {
      const f = path.join(d, 'index.html');
      fs.writeFileSync(f, fs.readFileSync(f, 'utf8').replace('version 2', 'version 5'));
    });
    sy = await startSwitchyard({ app: ws.app, dataDir: ws.dataDir, extraArgs, env });
  }, 90_000);

  beforeEach((ctx) => {
    if (backend.skipReason) ctx.skip(backend.skipReason);
  });

  afterAll(async () => {
    try {
      if (!ws || !sy) return;
      let pids: number[] = [];
      try { pids = await sy.servicePids(); } catch { /* reported below */ }
      const stopped = await sy.stop();
      const leftPids = await waitGone(pids, 6_000);
      const leftProcs = await waitNoProcessesUnder(ws.root, 6_000);
      expect(stopped.killed, 'switchyard needed SIGKILL to stop').toBe(false);
      expect(stopped.code, `switchyard exited ${stopped.code}\n${sy.stderr()}`).toBe(0);
      expect(leftPids, `service pids still alive after stop: ${leftPids.join(', ')}`).toEqual([]);
      expect(leftProcs, `processes left in the workspace:\n${describeProcs(leftProcs)}`).toEqual([]);
    } finally {
      await backend.close();
      if (ws) {
        killLeftovers(ws.root);
        ws.remove();
      }
    }
  }, 60_000);

  step('1. at start base serves the docs site: redirects, site host, caching, ETag, ranges, HEAD, compression threshold, 404 page', async () => {
    // deployed automatically at start, into the configured backend
    const rows = await deploys();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ site: 'docs', env: 'base', files: 5, activeIn: ['base'] });
    expect(rows[0]!.id).toMatch(DEPLOY_ID);
    ids.v1 = rows[0]!.id;
    expect(backend.countBlobs(ws)).toBe(5);
    if (backend !== fsBackend) expect(countFiles(path.join(ws.dataDir, 'blobs')), 'an S3 deploy must not write local blobs').toBe(0);

    const indexBytes = fs.readFileSync(path.join(docs(), 'index.html'));
    const index = await get('shop.localhost', '/docs/');
    expect(index.status, index.body).toBe(200);
    expect(index.headers['content-type']).toMatch(/^text\/html/);
    expect(index.headers['cache-control']).toBe('no-cache');
    expect(index.body).toContain('version 1');
    expect(index.body).toBe(indexBytes.toString('utf8'));

    const bare = await get('shop.localhost', '/docs');
    expect(bare.status).toBe(301);
    expect(bare.headers.location).toBe('/docs/');
    const bareQuery = await get('shop.localhost', '/docs?x=1');
    expect(bareQuery.status).toBe(301);
    expect(bareQuery.headers.location).toBe('/docs/?x=1');
    const guide = await get('shop.localhost', '/docs/guide');
    expect(guide.status).toBe(301);
    expect(guide.headers.location).toBe('/docs/guide/');
    const guideQuery = await get('shop.localhost', '/docs/guide?a=b');
    expect(guideQuery.headers.location).toBe('/docs/guide/?a=b');
    const guidePage = await get('shop.localhost', '/docs/guide/');
    expect(guidePage.status).toBe(200);
    expect(guidePage.body).toContain('<h1>Guide</h1>');

    // the site's own host, and its redirects without a mount prefix
    const viaHost = await get('docs.shop.localhost', '/');
    expect(viaHost.status, viaHost.body).toBe(200);
    expect(viaHost.body).toBe(index.body);
    expect(viaHost.headers.etag).toBe(index.headers.etag);
    const hostGuide = await get('docs.shop.localhost', '/guide');
    expect(hostGuide.status).toBe(301);
    expect(hostGuide.headers.location).toBe('/guide/');
    // the rest of the domain still goes to the services
    const web = await get('shop.localhost', '/chain');
    expect(web.status, web.body).toBe(200);

    // fingerprinted asset: immutable, JS type, strong ETag → 304 without a body
    const jsBytes = fs.readFileSync(path.join(docs(), JS));
    const js = await fetchBytes(sy.edge, `/docs/${JS}`, 'shop.localhost');
    expect(js.status).toBe(200);
    expect(js.headers['cache-control']).toMatch(/\bimmutable\b/);
    expect(js.headers['cache-control']).toMatch(/max-age=\d{6,}/);
    expect(js.headers['content-type']).toMatch(/^(text|application)\/javascript\b/);
    expect(js.body.equals(jsBytes)).toBe(true);
    const etag = js.headers.etag!;
    expect(etag).toMatch(/^"[0-9a-f]{64}"$/);
    const notModified = await fetchBytes(sy.edge, `/docs/${JS}`, 'shop.localhost', { 'if-none-match': etag });
    expect(notModified.status).toBe(304);
    expect(notModified.body.length).toBe(0);
    expect(notModified.headers.etag).toBe(etag);
    const otherTag = await fetchBytes(sy.edge, `/docs/${JS}`, 'shop.localhost', { 'if-none-match': '"0000"' });
    expect(otherTag.status).toBe(200);
    const htmlNotModified = await get('shop.localhost', '/docs/', { 'if-none-match': index.headers.etag! });
    expect(htmlNotModified.status).toBe(304);
    expect(htmlNotModified.body).toBe('');

    // single byte range
    const range = await fetchBytes(sy.edge, `/docs/${JS}`, 'shop.localhost', { range: 'bytes=0-9' });
    expect(range.status).toBe(206);
    expect(range.headers['content-range']).toBe(`bytes 0-9/${jsBytes.length}`);
    expect(range.headers['content-length']).toBe('10');
    expect(range.body.equals(jsBytes.subarray(0, 10))).toBe(true);
    const suffix = await fetchBytes(sy.edge, `/docs/${JS}`, 'shop.localhost', { range: 'bytes=-5' });
    expect(suffix.status).toBe(206);
    expect(suffix.body.equals(jsBytes.subarray(-5))).toBe(true);
    const outside = await fetchBytes(sy.edge, `/docs/${JS}`, 'shop.localhost', { range: `bytes=${jsBytes.length}-` });
    expect(outside.status).toBe(416);
    expect(outside.headers['content-range']).toBe(`bytes */${jsBytes.length}`);

    // HEAD: the headers of GET, no body
    const head = await fetchBytes(sy.edge, `/docs/${JS}`, 'shop.localhost', {}, 'HEAD');
    expect(head.status).toBe(200);
    expect(head.body.length).toBe(0);
    expect(head.headers['content-length']).toBe(String(jsBytes.length));
    expect(head.headers.etag).toBe(etag);
    expect(head.headers['cache-control']).toBe(js.headers['cache-control']);

    // v1's HTML and CSS are under the 1 KiB compression threshold: identity, whatever is accepted
    for (const p of ['/docs/', '/docs/assets/site.7c1e9a4b.css']) {
      const r = await fetchBytes(sy.edge, p, 'shop.localhost', { 'accept-encoding': 'gzip, br' });
      expect(r.status).toBe(200);
      expect(r.headers['content-encoding'], p).toBeUndefined();
      const file = p.endsWith('/') ? indexBytes : fs.readFileSync(path.join(docs(), p.slice('/docs/'.length)));
      expect(file.length).toBeLessThan(1024);
      expect(r.body.equals(file), p).toBe(true);
    }
    const css = await get('shop.localhost', '/docs/assets/site.7c1e9a4b.css');
    expect(css.headers['content-type']).toMatch(/^text\/css\b/);
    expect(css.headers['cache-control']).toMatch(/\bimmutable\b/);

    // a missing page: 404 with the site's own 404.html, never cached as immutable
    const notFound404 = fs.readFileSync(path.join(docs(), '404.html'), 'utf8');
    for (const [h, p] of [['shop.localhost', '/docs/no-such-page.html'], ['shop.localhost', '/docs/nope/'], ['docs.shop.localhost', '/assets/gone.0a1b2c3d.js']] as const) {
      const r = await get(h, p);
      expect(r.status, `${h}${p}`).toBe(404);
      expect(r.headers['content-type']).toMatch(/^text\/html/);
      expect(r.headers['cache-control']).toBe('no-cache');
      expect(r.body).toBe(notFound404);
    }
    // only GET and HEAD
    const post = await sy.get('/docs/', { host: 'shop.localhost', method: 'POST', body: 'x' });
    expect(post.status).toBe(405);
    expect(post.headers.allow).toMatch(/GET/);
  }, STEP_TIMEOUT_MS);

  step('2. a second version deployed to a preview only: changed files uploaded, base unchanged, previews without a deploy fall back', async () => {
    const create = await sy.cli(['env', 'create', 'feat1']);
    expectOk(create, 'env create feat1');

    // index.html changed, EXTRA_CSS is new; the other 4 files are already in the blob store
    ids.v2feat1 = await deploy(v2, { env: 'feat1', files: 6, uploaded: 2 });

    expect(await versions([
      ['feat1.shop.localhost', '/docs/'], ['feat1--docs.shop.localhost', '/'],
      ['shop.localhost', '/docs/'], ['docs.shop.localhost', '/'],
    ])).toEqual(['2', '2', '1', '1']);
    // the routing header selects the preview too
    const viaHeader = await get('shop.localhost', '/docs/', { 'x-switchyard-env': 'feat1' });
    expect(versionOf(viaHeader)).toBe('2');
    const siteHostViaHeader = await get('docs.shop.localhost', '/', { 'x-switchyard-env': 'feat1' });
    expect(versionOf(siteHostViaHeader)).toBe('2');

    // the new file exists in feat1 only
    const extraBytes = fs.readFileSync(path.join(v2, EXTRA_CSS));
    const extra = await fetchBytes(sy.edge, `/docs/${EXTRA_CSS}`, 'feat1.shop.localhost');
    expect(extra.status).toBe(200);
    expect(extra.body.equals(extraBytes)).toBe(true);
    expect(extra.headers['cache-control']).toMatch(/\bimmutable\b/);
    const notInBase = await get('shop.localhost', `/docs/${EXTRA_CSS}`);
    expect(notInBase.status).toBe(404);

    // over the threshold: compressed on the fly (HTML and CSS), Vary set, decompresses to the file
    const v2Index = fs.readFileSync(path.join(v2, 'index.html'));
    expect(v2Index.length).toBeGreaterThanOrEqual(1024);
    for (const [p, bytes] of [['/docs/', v2Index], [`/docs/${EXTRA_CSS}`, extraBytes]] as const) {
      const gz = await fetchBytes(sy.edge, p, 'feat1.shop.localhost', { 'accept-encoding': 'gzip' });
      expect(gz.status, p).toBe(200);
      expect(gz.headers['content-encoding'], p).toBe('gzip');
      expect(gz.headers.vary).toMatch(/accept-encoding/i);
      expect(gz.body.length).toBeLessThan(bytes.length);
      expect(zlib.gunzipSync(gz.body).equals(bytes), p).toBe(true);
      const br = await fetchBytes(sy.edge, p, 'feat1.shop.localhost', { 'accept-encoding': 'br;q=1, gzip;q=0.5' });
      expect(br.headers['content-encoding'], p).toBe('br');
      expect(zlib.brotliDecompressSync(br.body).equals(bytes), p).toBe(true);
      const plain = await fetchBytes(sy.edge, p, 'feat1.shop.localhost');
      expect(plain.headers['content-encoding']).toBeUndefined();
      expect(plain.headers.vary).toMatch(/accept-encoding/i);
      expect(plain.body.equals(bytes)).toBe(true);
      // a range gets identity bytes even when compression is accepted
      const ranged = await fetchBytes(sy.edge, p, 'feat1.shop.localhost', { 'accept-encoding': 'gzip', range: 'bytes=0-9' });
      expect(ranged.status).toBe(206);
      expect(ranged.headers['content-encoding']).toBeUndefined();
      expect(ranged.body.equals(bytes.subarray(0, 10))).toBe(true);
      // the compressed variant revalidates with its (weak) tag
      const again = await fetchBytes(sy.edge, p, 'feat1.shop.localhost', { 'accept-encoding': 'gzip', 'if-none-match': gz.headers.etag! });
      expect(again.status).toBe(304);
      expect(again.body.length).toBe(0);
    }

    // a preview without its own deploy serves base's
    const feat2 = await request(sy.admin, '/v1/environments', { method: 'POST', body: JSON.stringify({ name: 'feat2' }), headers: { 'content-type': 'application/json' } });
    expect(feat2.status, feat2.body).toBe(201);
    expect(await versions([['feat2.shop.localhost', '/docs/'], ['feat2--docs.shop.localhost', '/']])).toEqual(['1', '1']);
    const feat2Extra = await get('feat2.shop.localhost', `/docs/${EXTRA_CSS}`);
    expect(feat2Extra.status).toBe(404);
  }, STEP_TIMEOUT_MS);

  step('3. site ls shows where each deploy is served; rollback in a preview and in base (previous, --to)', async () => {
    let rows = await ls();
    expect(rows.map((d) => [d.id, d.env, d.activeIn])).toEqual([[ids.v2feat1, 'feat1', ['feat1']], [ids.v1, 'base', ['base']]]);
    expect(rows[0]).toMatchObject({ site: 'docs', files: 6 });
    const perSite = await request(sy.admin, '/v1/sites/docs/deploys');
    expect(perSite.json<{ deploys: DeployRow[] }>().deploys.map((d) => d.id)).toEqual([ids.v2feat1, ids.v1]);
    const table = await site(['ls']);
    expectOk(table, 'site ls');
    expect(table.stdout).toMatch(new RegExp(`^docs\\s+${ids.v2feat1}\\s+feat1\\s+6\\s+.*\\sfeat1$`, 'm'));
    expect(table.stdout).toMatch(new RegExp(`^docs\\s+${ids.v1}\\s+base\\s+5\\s+.*\\sbase$`, 'm'));

    // feat1's first deploy rolled back: it serves base's again
    const back = await site(['rollback', 'docs', '--env', 'feat1']);
    expectOk(back, 'site rollback docs --env feat1');
    expect(back.stdout).toContain("docs in feat1 has no own deploy any more: it serves base's");
    expect(await versions([['feat1.shop.localhost', '/docs/'], ['feat1--docs.shop.localhost', '/'], ['shop.localhost', '/docs/']])).toEqual(['1', '1', '1']);
    rows = await deploys();
    expect(rows.find((d) => d.id === ids.v2feat1)?.activeIn).toEqual([]);

    // base: v2 (all its blobs are stored already), then v3 (only the index is new)
    ids.v2base = await deploy(v2, { files: 6, uploaded: 0 });
    ids.v3base = await deploy(v3, { files: 6, uploaded: 1 });
    // previews without an own deploy follow base
    expect(await versions([['shop.localhost', '/docs/'], ['feat1.shop.localhost', '/docs/'], ['feat2--docs.shop.localhost', '/']])).toEqual(['3', '3', '3']);

    const prev = await site(['rollback', 'docs']);
    expectOk(prev, 'site rollback docs');
    expect(prev.stdout.trim()).toBe(`docs in base now serves ${ids.v2base}`);
    expect(await versions([['shop.localhost', '/docs/'], ['docs.shop.localhost', '/'], ['feat1.shop.localhost', '/docs/']])).toEqual(['2', '2', '2']);

    const first = await site(['rollback', 'docs', '--to', ids.v1!]);
    expectOk(first, `site rollback docs --to ${ids.v1}`);
    expect(first.stdout.trim()).toBe(`docs in base now serves ${ids.v1}`);
    expect(await versions([['shop.localhost', '/docs/'], ['docs.shop.localhost', '/'], ['feat2.shop.localhost', '/docs/']])).toEqual(['1', '1', '1']);
    rows = await deploys();
    expect(Object.fromEntries(rows.map((d) => [d.id, d.activeIn]))).toEqual({
      [ids.v3base!]: [], [ids.v2base!]: [], [ids.v2feat1!]: [], [ids.v1!]: ['base'],
    });

    // --to an unknown deploy: refused, nothing switched
    const unknown = await request(sy.admin, '/v1/sites/docs/rollback', { method: 'POST', body: JSON.stringify({ env: 'base', to: 'd-000000000-000000000000' }), headers: { 'content-type': 'application/json' } });
    expect(unknown.status, unknown.body).toBe(404);
    expect(unknown.json()).toMatchObject({ code: 'SWY_NOT_FOUND' });
    expect(await versions([['shop.localhost', '/docs/']])).toEqual(['1']);
  }, STEP_TIMEOUT_MS);

  step('4. failed or interrupted deploys change nothing served', async () => {
    const served = async () => versions([['shop.localhost', '/docs/'], ['feat1.shop.localhost', '/docs/'], ['feat2--docs.shop.localhost', '/']]);
    const before = { served: await served(), deploys: (await deploys()).map((d) => [d.id, d.activeIn]), blobs: backend.countBlobs(ws) };
    expect(before.served).toEqual(['1', '1', '1']);
    const unchanged = async (what: string) => {
      expect(await served(), what).toEqual(before.served);
      expect((await deploys()).map((d) => [d.id, d.activeIn]), what).toEqual(before.deploys);
    };

    // a folder that does not exist
    const noDir = await site(['deploy', 'docs', '--dir', path.join(ws.root, 'does-not-exist')]);
    expect(noDir.code).not.toBe(0);
    expect(noDir.stderr).toContain('does-not-exist');
    await unchanged('after --dir <missing>');

    // an environment that does not exist: its new blob is uploaded (garbage for gc later), nothing is switched
    const noEnv = await site(['deploy', 'docs', '--env', 'nope', '--dir', v5]);
    expect(noEnv.code).not.toBe(0);
    expect(noEnv.stderr).toContain('uploading 1/1 files');
    expect(noEnv.stderr).toContain('SWY_ENV_NOT_FOUND');
    expect(backend.countBlobs(ws)).toBe(before.blobs + 1);
    await unchanged('after --env nope');
    const afterNoEnv = backend.countBlobs(ws);

    // a manifest naming a blob that was never uploaded (admin API directly)
    const json = (body: unknown) => ({ method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
    const files = {
      'index.html': { hash: 'a'.repeat(64), size: 42, contentType: 'text/html; charset=utf-8' },
      '404.html': { hash: 'b'.repeat(64), size: 7, contentType: 'text/html; charset=utf-8' },
    };
    const manifest = { id: 'd-e2e-unknown-blob', site: 'docs', createdAt: new Date().toISOString(), files };
    const missingBlob = await request(sy.admin, '/v1/sites/docs/deploys', json({ env: 'base', manifest }));
    expect(missingBlob.status, missingBlob.body).toBeGreaterThanOrEqual(400);
    expect(missingBlob.status, missingBlob.body).toBeLessThan(500);
    expect(missingBlob.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(missingBlob.json()).toMatchObject({ code: 'SWY_BLOB_NOT_FOUND' });
    await unchanged('after a manifest with an unknown blob');

    // a manifest with a path escaping the site
    const escaping = await request(sy.admin, '/v1/sites/docs/deploys', json({
      env: 'base', manifest: { ...manifest, id: 'd-e2e-escape', files: { '../switchyard.yaml': { hash: 'c'.repeat(64), size: 1, contentType: 'text/plain' } } },
    }));
    expect(escaping.status, escaping.body).toBe(400);
    expect(escaping.json()).toMatchObject({ code: 'SWY_MANIFEST_INVALID' });

    // an upload whose bytes do not match its name is refused and not stored
    const badPut = await request(sy.admin, `/v1/blobs/${'d'.repeat(64)}`, { method: 'PUT', body: 'not the right bytes', headers: { 'content-type': 'application/octet-stream' } });
    expect(badPut.status, badPut.body).toBeGreaterThanOrEqual(400);
    expect(badPut.status, badPut.body).toBeLessThan(500);
    expect(badPut.json()).toMatchObject({ code: 'SWY_BLOB_INTEGRITY' });
    const stillMissing = await request(sy.admin, '/v1/blobs/missing', json({ hashes: ['d'.repeat(64)] }));
    expect(stillMissing.json()).toEqual({ missing: ['d'.repeat(64)] });
    expect(backend.countBlobs(ws)).toBe(afterNoEnv);
    await unchanged('after a bad blob upload');
  }, STEP_TIMEOUT_MS);

  step('5. traversal never escapes the deploy (raw request lines)', async () => {
    const outside = [canary, 'routingHeader', 'root:x:0:0', 'services:'];
    const probes: [host: string, target: string][] = [
      ['shop.localhost', '/docs/../switchyard.yaml'],
      ['shop.localhost', '/docs/../secret.txt'],
      ['shop.localhost', '/docs/../../secret.txt'],
      ['shop.localhost', '/docs/../docs-secret.txt'],
      ['shop.localhost', '/docs/%2e%2e/%2e%2e/etc/passwd'],
      ['shop.localhost', '/docs/%2e%2e/switchyard.yaml'],
      ['shop.localhost', '/docs/%2E%2E/secret.txt'],
      ['shop.localhost', '/docs/.%2e/secret.txt'],
      ['shop.localhost', '/docs/..%2fswitchyard.yaml'],
      ['shop.localhost', '/docs/..%2Fsecret.txt'],
      ['shop.localhost', '/docs/assets/..%2f..%2fswitchyard.yaml'],
      ['shop.localhost', '/docs/a%5c..%5cb'],
      ['shop.localhost', '/docs/..%5c..%5csecret.txt'],
      ['shop.localhost', '/docs/..\\switchyard.yaml'],
      ['shop.localhost', '/docs/\\..\\..\\secret.txt'],
      ['shop.localhost', '/docs/assets\\..\\..\\secret.txt'],
      ['shop.localhost', '/docs/%00'],
      ['shop.localhost', '/docs/index.html%00.js'],
      ['shop.localhost', '/docs/%c0%ae%c0%ae/secret.txt'],
      ['shop.localhost', '/docs/%252e%252e/secret.txt'],
      ['shop.localhost', '/docs//etc/passwd'],
      ['shop.localhost', '/docs/./index.html/../../secret.txt'],
      ['shop.localhost', '/docs/%'],
      ['docs.shop.localhost', '/../switchyard.yaml'],
      ['docs.shop.localhost', '/%2e%2e/secret.txt'],
      ['docs.shop.localhost', '/..%2f..%2fsecret.txt'],
      ['docs.shop.localhost', '/..\\secret.txt'],
      ['docs.shop.localhost', '/%5c..%5csecret.txt'],
      ['docs.shop.localhost', '/%00'],
      ['docs.shop.localhost', '//etc/passwd'],
      ['feat1--docs.shop.localhost', '/../switchyard.yaml'],
      ['feat1--docs.shop.localhost', '/%2e%2e/%2e%2e/etc/passwd'],
      ['docs.shop.localhost', 'http://docs.shop.localhost/../secret.txt'],
      ['shop.localhost', 'http://shop.localhost/docs/%2e%2e/switchyard.yaml'],
    ];
    const notFoundPage = fs.readFileSync(path.join(docs(), '404.html'), 'utf8');
    for (const [host, target] of probes) {
      const r = await rawGet(sy.edge, target, host);
      const what = `${host} ${target} → ${r.status}\n${r.head}\n${r.body.slice(0, 300)}`;
      expect([400, 404], what).toContain(r.status);
      for (const s of outside) expect(r.body, what).not.toContain(s);
      // a refused path is a problem document, a 404 is the site's page: never anything else
      if (r.status === 404) expect(r.body, what).toBe(notFoundPage);
      else expect(r.body, what).toContain('SWY_PATH_INVALID');
    }
    // the real files still work over the same raw path
    const ok = await rawGet(sy.edge, '/docs/index.html', 'shop.localhost');
    expect(ok.status).toBe(200);
    expect(ok.body).toContain('version 1');
  }, STEP_TIMEOUT_MS);

  step('6. --keep prunes older deploys nobody serves; site gc answers with counts and keeps young blobs', async () => {
    // feat1 made v2feat1 (no longer served); a new feat1 deploy with --keep 1 prunes it
    ids.v4feat1 = await deploy(v4, { env: 'feat1', keep: 1, files: 6, uploaded: 1 });
    expect(await versions([['feat1.shop.localhost', '/docs/'], ['shop.localhost', '/docs/']])).toEqual(['4', '1']);
    let rows = await deploys();
    expect(rows.map((d) => d.id)).not.toContain(ids.v2feat1);
    expect(rows.filter((d) => d.env === 'feat1').map((d) => [d.id, d.activeIn])).toEqual([[ids.v4feat1, ['feat1']]]);
    expect(rows.filter((d) => d.env === 'base').map((d) => d.id), 'base deploys are not pruned by a feat1 deploy')
      .toEqual([ids.v3base, ids.v2base, ids.v1]);

    // feat2 serves an older base deploy; base --keep 1 must keep that one (it is served) and prune the rest
    const pin = await request(sy.admin, '/v1/sites/docs/rollback', { method: 'POST', body: JSON.stringify({ env: 'feat2', to: ids.v2base }), headers: { 'content-type': 'application/json' } });
    expect(pin.status, pin.body).toBe(200);
    expect(pin.json()).toMatchObject({ env: 'feat2', deployId: ids.v2base });
    expect(await versions([['feat2.shop.localhost', '/docs/']])).toEqual(['2']);
    ids.v3again = await deploy(v3, { keep: 1, files: 6, uploaded: 0 });
    rows = await deploys();
    expect(rows.map((d) => [d.id, d.env, d.activeIn])).toEqual([
      [ids.v3again, 'base', ['base']],
      [ids.v4feat1, 'feat1', ['feat1']],
      [ids.v2base, 'base', ['feat2']],
    ]);
    expect(await versions([['shop.localhost', '/docs/'], ['feat1.shop.localhost', '/docs/'], ['feat2.shop.localhost', '/docs/']])).toEqual(['3', '4', '2']);

    // gc: v1's index (pruned) and v5's (failed deploy) are referenced by no deploy, but younger than the grace period
    const blobs = backend.countBlobs(ws);
    const gc = await site(['gc']);
    expectOk(gc, 'site gc');
    const counts = JSON.parse(gc.stdout) as { scanned: number; referenced: number; young: number; deleted: string[]; incompleteRemoved: number };
    expect(counts.scanned).toBe(blobs);
    expect(counts.referenced).toBeGreaterThan(0);
    expect(counts.young).toBeGreaterThanOrEqual(2);
    expect(counts.deleted).toEqual([]);
    expect(counts.referenced + counts.young).toBe(counts.scanned);
    expect(backend.countBlobs(ws)).toBe(blobs);
    // everything still serves after gc
    expect(await versions([['shop.localhost', '/docs/'], ['feat1--docs.shop.localhost', '/'], ['feat2--docs.shop.localhost', '/']])).toEqual(['3', '4', '2']);
    const asset = await get('feat1.shop.localhost', `/docs/${EXTRA_CSS}`);
    expect(asset.status).toBe(200);
  }, STEP_TIMEOUT_MS);
});
