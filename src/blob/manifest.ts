/**
 * @module blob/manifest
 * Immutable deploy manifests: which blob serves which path of a site deploy. A manifest maps
 * site-relative paths (`index.html`, `docs/app.3f9a1c2b.js`: `/`-separated, no leading `/`,
 * no empty, `.` or `..` segment) to `{hash, size, contentType}`. {@link buildManifest} makes one
 * from a folder; {@link serializeManifest}/{@link parseManifest} move it through the database
 * with validation. The manifest is never written to the blob store by this module.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, realpath, stat } from 'node:fs/promises';
import { basename, join, relative, resolve, sep } from 'node:path';
import { z } from 'zod';
import { swyError } from '../errors/index.js';
import { contentTypeFor } from './content-type.js';

/** One file of a deploy. */
export interface ManifestFile {
  /** sha256 of the bytes, lower-case hex: the blob's name. */
  hash: string;
  size: number;
  contentType: string;
}

/** An immutable site deploy. */
export interface DeployManifest {
  id: string;
  site: string;
  /** ISO 8601 timestamp. */
  createdAt: string;
  /** Site-relative path → file. */
  files: Record<string, ManifestFile>;
}

/** Why a site-relative path is unsafe, or `undefined` when it is fine. */
export function manifestPathProblem(p: string): string | undefined {
  if (p === '') return 'empty path';
  if (p.length > 1024) return 'longer than 1024 characters';
  if (p.startsWith('/')) return 'starts with "/"';
  if (p.includes('\\')) return 'contains a backslash';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(p)) return 'contains a control character';
  for (const seg of p.split('/')) {
    if (seg === '' || seg === '.' || seg === '..') return `has a ${JSON.stringify(seg)} segment`;
  }
  return undefined;
}

const fileSchema = z.object({
  hash: z.string().regex(/^[0-9a-f]{64}$/, 'a sha256 in lower-case hex'),
  size: z.number().int().nonnegative(),
  contentType: z.string().min(1).max(200),
}).strict();

const manifestSchema = z.object({
  id: z.string().min(1).max(200),
  site: z.string().min(1).max(200),
  createdAt: z.iso.datetime({ offset: true }),
  files: z.record(z.string(), z.unknown()),
}).strict();

/**
 * Validates a manifest object; throws `SWY_MANIFEST_INVALID` listing every problem. Files are
 * checked one by one from the input's own keys (so even a `__proto__` key is seen, not
 * swallowed) into a null-prototype object: `files["constructor"]` never reaches Object.prototype.
 */
export function validateManifest(value: unknown): DeployManifest {
  const issues: string[] = [];
  const r = manifestSchema.safeParse(value);
  if (!r.success) issues.push(...r.error.issues.map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`));
  const rawFiles = (value as { files?: unknown } | null)?.files;
  const files: Record<string, ManifestFile> = Object.create(null) as Record<string, ManifestFile>;
  if (rawFiles !== null && typeof rawFiles === 'object' && !Array.isArray(rawFiles)) {
    for (const k of Object.keys(rawFiles).sort()) {
      const problem = manifestPathProblem(k);
      if (problem) issues.push(`files: path ${JSON.stringify(k)} ${problem}`);
      const f = fileSchema.safeParse((rawFiles as Record<string, unknown>)[k]);
      if (f.success) files[k] = f.data;
      else issues.push(...f.error.issues.map((i) => `files.${JSON.stringify(k)}.${i.path.map(String).join('.')}: ${i.message}`));
    }
  }
  if (issues.length > 0 || !r.success) {
    throw swyError('SWY_MANIFEST_INVALID', `invalid deploy manifest:\n${issues.join('\n')}`, { issues });
  }
  return { id: r.data.id, site: r.data.site, createdAt: r.data.createdAt, files };
}

/** JSON text of a manifest, files sorted by path (validates first). */
export function serializeManifest(m: DeployManifest): string {
  const v = validateManifest(m);
  return JSON.stringify({ id: v.id, site: v.site, createdAt: v.createdAt, files: v.files });
}

/** Parses and validates manifest JSON; throws `SWY_MANIFEST_INVALID`. */
export function parseManifest(text: string): DeployManifest {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw swyError('SWY_MANIFEST_INVALID', `deploy manifest is not JSON: ${(err as Error).message}`, {}, err);
  }
  return validateManifest(value);
}

/** A new deploy id: time-sortable, e.g. `d-m3x8k2a1-5f2c9e01ab34`. */
export function newDeployId(now = new Date()): string {
  return `d-${now.getTime().toString(36).padStart(9, '0')}-${randomBytes(6).toString('hex')}`;
}

/** Names skipped by {@link buildManifest} unless `ignore` is given. */
export const DEFAULT_IGNORED = ['.git', '.hg', '.svn', '.DS_Store', 'Thumbs.db'];

/** Options of {@link buildManifest}. */
export interface BuildManifestOptions {
  /** Site name; default the folder's name. */
  site?: string;
  /** Deploy id; default {@link newDeployId}. */
  id?: string;
  createdAt?: Date;
  /** Skip a file or folder by its site-relative path; default skips {@link DEFAULT_IGNORED} names. */
  ignore?: (relPath: string, name: string) => boolean;
  /** Files hashed at once; default 8. */
  concurrency?: number;
}

/** A manifest plus where each file lives on disk (for the upload). */
export interface BuiltManifest {
  manifest: DeployManifest;
  /** Site-relative path → absolute file path. */
  sources: Map<string, string>;
}

/**
 * Walks `dir`, hashes every regular file (sha256, streamed) and types it by extension.
 * Symlinks are followed only when they resolve to a file inside `dir`; one that leaves the
 * folder, or a name that cannot be served safely, throws `SWY_MANIFEST_INVALID`.
 */
export async function buildManifest(dir: string, opts: BuildManifestOptions = {}): Promise<DeployManifest> {
  return (await buildManifestWithSources(dir, opts)).manifest;
}

/** {@link buildManifest}, also returning the on-disk source of each path. */
export async function buildManifestWithSources(dir: string, opts: BuildManifestOptions = {}): Promise<BuiltManifest> {
  const root = await realpath(resolve(dir));
  if (!(await stat(root)).isDirectory()) throw swyError('SWY_MANIFEST_INVALID', `${dir} is not a folder`, { dir });
  const ignore = opts.ignore ?? ((_rel: string, name: string) => DEFAULT_IGNORED.includes(name));
  const sources = new Map<string, string>();
  await walk(root, root, ignore, sources);
  const files: Record<string, ManifestFile> = {};
  const paths = [...sources.keys()].sort();
  await mapLimit(paths, opts.concurrency ?? 8, async (rel) => {
    const { hash, size } = await hashFile(sources.get(rel)!);
    files[rel] = { hash, size, contentType: contentTypeFor(rel) };
  });
  const createdAt = opts.createdAt ?? new Date();
  const manifest = validateManifest({ id: opts.id ?? newDeployId(createdAt), site: opts.site ?? basename(root), createdAt: createdAt.toISOString(), files });
  return { manifest, sources };
}

async function walk(root: string, dir: string, ignore: (rel: string, name: string) => boolean, out: Map<string, string>): Promise<void> {
  for (const ent of await readdir(dir, { withFileTypes: true })) {
    const abs = join(dir, ent.name);
    const rel = relative(root, abs).split(sep).join('/');
    if (ignore(rel, ent.name)) continue;
    const problem = manifestPathProblem(rel);
    if (problem) throw swyError('SWY_MANIFEST_INVALID', `cannot deploy ${JSON.stringify(rel)}: the path ${problem}`, { path: rel });
    let target = abs;
    let isDir = ent.isDirectory();
    if (ent.isSymbolicLink()) {
      target = await realpath(abs).catch(() => '');
      if (!target || (target !== root && !target.startsWith(root + sep))) {
        throw swyError('SWY_MANIFEST_INVALID', `cannot deploy ${JSON.stringify(rel)}: symlink points outside the site folder`, { path: rel });
      }
      const s = await stat(target);
      if (s.isDirectory()) throw swyError('SWY_MANIFEST_INVALID', `cannot deploy ${JSON.stringify(rel)}: symlinks to folders are not followed`, { path: rel });
      isDir = false;
      if (!s.isFile()) continue;
    } else if (!isDir && !ent.isFile()) {
      continue; // sockets, FIFOs, devices
    }
    if (isDir) await walk(root, abs, ignore, out);
    else out.set(rel, target);
  }
}

/** sha256 and size of a file, streamed. */
export async function hashFile(path: string): Promise<{ hash: string; size: number }> {
  const h = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(path)) {
    h.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { hash: h.digest('hex'), size };
}

/** Runs `fn` over `items` with at most `limit` in flight; rejects with the first failure after in-flight work settles. */
export async function mapLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed: { err: unknown } | undefined;
  const worker = async () => {
    while (!failed && next < items.length) {
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (err) {
        failed ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failed) throw failed.err;
}
