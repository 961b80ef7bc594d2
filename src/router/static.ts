/**
 * @module router/static
 * Serves a static-site deploy over `node:http`: every path is looked up in the deploy's
 * manifest only (so nothing outside it can ever be read) and its bytes come from the blob store.
 *
 * Resolution of a request path (already relative to the site root):
 * 1. Only `GET`/`HEAD` (else 405 with `Allow`); a malformed or unsafe path is 400.
 * 2. `/dir/` and `/` serve `dir/index.html`; `/dir` with `dir/index.html` redirects 301 to
 *    `/dir/` (query kept, `mountPath` prefixed).
 * 3. SPA mode: an unknown path whose last segment has no extension serves `/index.html` (200).
 * 4. Otherwise 404: the `notFoundPage` file with status 404 if it is in the deploy, else problem details.
 *
 * A file is sent with its manifest content type, `ETag: "<sha256>"` (304 on `If-None-Match`),
 * single byte ranges (206/416, `If-Range`), and a cache policy (`immutable` for fingerprinted
 * names, `no-cache` for HTML and the rest). With `Accept-Encoding`, a precompressed sibling in
 * the deploy (`x.js.br`, `x.js.gz`) is preferred; otherwise compressible types of at least
 * `compressMinBytes` are compressed on the fly (weak ETag, no ranges: a `Range` request gets the
 * identity bytes). Compressible resources always carry `Vary: Accept-Encoding`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { constants as zc, createBrotliCompress, createGzip } from 'node:zlib';
import type { Readable, Transform } from 'node:stream';
import { isCompressible } from '../blob/content-type.js';
import type { DeployManifest, ManifestFile } from '../blob/manifest.js';
import type { BlobCache } from '../blob/cache.js';
import type { BlobStore, ByteRange } from '../blob/types.js';
import { swyError, SwitchyardError } from '../errors/index.js';
import { sendProblem } from './problem.js';
import {
  acceptedCodings, cacheControlFor, decodeRequestPath, hasExtension, ifRangeMatches, noneMatch, parseRange, type Coding,
} from './static-http.js';

/** Options of {@link serveStatic}. */
export interface ServeStaticOptions {
  store: BlobStore;
  manifest: DeployManifest;
  /** Request path relative to the site root (`/docs/a.html?x=1`), still percent-encoded; may carry a query. */
  path: string;
  /** Single-page app: unknown extension-less paths serve `index.html`. */
  spa: boolean;
  /** Site-relative path of the page sent with 404 (e.g. `404.html`). */
  notFoundPage?: string;
  /** Public prefix the site is mounted under (`/blog`), prepended to redirect `Location`s; default none. */
  mountPath?: string;
  /** In-memory cache of small blobs (immutable, so never stale); without it every request reads the store. */
  cache?: BlobCache;
  /** Smallest file compressed on the fly; default 1024 bytes. */
  compressMinBytes?: number;
}

const ALLOW = 'GET, HEAD';

/**
 * Answers `req` from the deploy. Never rejects: store failures before the head is sent become
 * a 503 problem; a failure mid-body (or a client going away) destroys the response.
 */
export async function serveStatic(req: IncomingMessage, res: ServerResponse, opts: ServeStaticOptions): Promise<void> {
  const method = req.method ?? 'GET';
  if (method !== 'GET' && method !== 'HEAD') {
    sendProblem(req, res, swyError('SWY_METHOD_NOT_ALLOWED', `${method} is not allowed on a static site; use GET or HEAD`, { method }), { allow: ALLOW });
    return;
  }
  const p = decodeRequestPath(opts.path);
  if (!p.ok) {
    sendProblem(req, res, swyError('SWY_PATH_INVALID', `bad request path: ${p.reason}`, { reason: p.reason }));
    return;
  }
  const files = opts.manifest.files;
  const lookup = (rel: string): ManifestFile | undefined => (Object.hasOwn(files, rel) ? files[rel] : undefined);
  const isDirPath = p.rel === '' || p.rel.endsWith('/');
  let rel = isDirPath ? `${p.rel}index.html` : p.rel;
  let file = lookup(rel);
  if (!file && !isDirPath && lookup(`${p.rel}/index.html`)) {
    const location = `${(opts.mountPath ?? '').replace(/\/+$/, '')}${p.raw}/${p.query}`;
    res.writeHead(301, { location, 'content-length': '0', 'cache-control': 'no-cache' });
    res.end();
    return;
  }
  if (!file && opts.spa && !hasExtension(p.rel)) {
    rel = 'index.html';
    file = lookup(rel);
  }
  if (file) {
    await sendFile(req, res, opts, lookup, rel, file, 200);
    return;
  }
  const nf = opts.notFoundPage?.replace(/^\/+/, '');
  const nfFile = nf ? lookup(nf) : undefined;
  if (nf && nfFile) {
    await sendFile(req, res, opts, lookup, nf, nfFile, 404);
    return;
  }
  sendProblem(req, res, swyError('SWY_FILE_NOT_FOUND', `no file ${JSON.stringify('/' + p.rel)} in deploy ${opts.manifest.id} of site ${opts.manifest.site}`, { site: opts.manifest.site, deploy: opts.manifest.id }));
}

/** The bytes chosen for a response. */
interface Representation {
  hash: string;
  size: number;
  etag: string;
  coding?: Coding;
  /** Compressed while sending (unknown length, no ranges). */
  onTheFly: boolean;
}

async function sendFile(
  req: IncomingMessage, res: ServerResponse, opts: ServeStaticOptions,
  lookup: (rel: string) => ManifestFile | undefined, rel: string, file: ManifestFile, status: 200 | 404,
): Promise<void> {
  const accepted = acceptedCodings(req.headers['accept-encoding']);
  const siblings: Record<Coding, ManifestFile | undefined> = { br: lookup(`${rel}.br`), gzip: lookup(`${rel}.gz`) };
  const compressible = isCompressible(file.contentType) && file.size >= (opts.compressMinBytes ?? 1024);
  const rangeHeader = status === 200 ? req.headers.range : undefined;
  let rep: Representation = { hash: file.hash, size: file.size, etag: `"${file.hash}"`, onTheFly: false };
  const pre = accepted.find((c) => siblings[c]);
  if (pre) {
    const s = siblings[pre]!;
    rep = { hash: s.hash, size: s.size, etag: `"${s.hash}"`, coding: pre, onTheFly: false };
  } else if (compressible && accepted.length > 0 && rangeHeader === undefined) {
    rep = { ...rep, etag: `W/"${file.hash}-${accepted[0]}"`, coding: accepted[0], onTheFly: true };
  }
  const headers: Record<string, string> = {
    'content-type': file.contentType,
    etag: rep.etag,
    'cache-control': status === 200 ? cacheControlFor(rel, file.contentType) : 'no-cache',
    'x-content-type-options': 'nosniff',
  };
  if (compressible || siblings.br || siblings.gzip) headers.vary = 'Accept-Encoding';
  if (rep.coding) headers['content-encoding'] = rep.coding;
  if (!rep.onTheFly) headers['accept-ranges'] = 'bytes';

  if (status === 200 && noneMatch(req.headers['if-none-match'], rep.etag)) {
    const h: Record<string, string> = { etag: rep.etag, 'cache-control': headers['cache-control']! };
    if (headers.vary) h.vary = headers.vary;
    res.writeHead(304, h);
    res.end();
    return;
  }

  let range: ByteRange | undefined;
  let code: number = status;
  if (!rep.onTheFly && rangeHeader !== undefined && ifRangeMatches(req.headers['if-range'] as string | undefined, rep.etag)) {
    const r = parseRange(rangeHeader, rep.size);
    if (r.kind === 'unsatisfiable') {
      sendProblem(req, res, swyError('SWY_RANGE_NOT_SATISFIABLE', `range ${JSON.stringify(rangeHeader)} is outside the ${rep.size} bytes of /${rel}`, { size: rep.size }), { 'content-range': `bytes */${rep.size}`, 'accept-ranges': 'bytes' });
      return;
    }
    if (r.kind === 'range') {
      range = { start: r.start, end: r.end };
      code = 206;
      headers['content-range'] = `bytes ${r.start}-${r.end}/${rep.size}`;
    }
  }
  if (!rep.onTheFly) headers['content-length'] = String(range ? range.end - range.start + 1 : rep.size);

  if (req.method === 'HEAD') {
    res.writeHead(code, headers);
    res.end();
    return;
  }
  let body: Readable;
  const cache = opts.cache;
  if (cache !== undefined && rep.size <= cache.maxEntryBytes) {
    // Small blob: answer from memory in one write (no file open/read/close per request).
    let buf = cache.peek(rep.hash);
    if (buf === undefined) {
      try { buf = await cache.load(rep.hash, rep.size); } catch { buf = undefined; }
    }
    if (buf !== undefined) {
      if (!rep.onTheFly) {
        res.writeHead(code, headers);
        res.end(range ? buf.subarray(range.start, Math.min(range.end, buf.length - 1) + 1) : buf);
        return;
      }
    }
  }
  try {
    body = await opts.store.get(rep.hash, range);
  } catch (err) {
    const e = err instanceof SwitchyardError && err.code === 'SWY_RANGE_NOT_SATISFIABLE'
      ? err
      : swyError('SWY_BLOB_STORE_UNAVAILABLE', `cannot read /${rel} of deploy ${opts.manifest.id}: ${(err as Error).message}`, { deploy: opts.manifest.id, path: rel }, err);
    sendProblem(req, res, e);
    return;
  }
  res.writeHead(code, headers);
  const stages: (Readable | Transform | ServerResponse)[] = [body];
  if (rep.onTheFly) stages.push(compressor(rep.coding!, rep.size));
  stages.push(res);
  try {
    await (pipeline as (...s: unknown[]) => Promise<void>)(...stages);
  } catch {
    // Client went away or the store failed mid-body: pipeline has destroyed the response.
  }
}

function compressor(coding: Coding, size: number): Transform {
  if (coding === 'gzip') return createGzip({ level: 6 });
  return createBrotliCompress({
    params: { [zc.BROTLI_PARAM_QUALITY]: 4, [zc.BROTLI_PARAM_MODE]: zc.BROTLI_MODE_TEXT, [zc.BROTLI_PARAM_SIZE_HINT]: size },
  });
}
