// Deploy manifests: building from a folder, content types, validation and (de)serialization.
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  buildManifest, contentTypeFor, isCompressible, parseManifest, serializeManifest, validateManifest, type DeployManifest,
} from '../../src/blob/index.js';
import { removeTempDirs, sha, tempDir, writeSite } from './helpers.js';

afterAll(removeTempDirs);

describe('buildManifest', () => {
  it('hashes every file, types it by extension and keys it by its site-relative path', async () => {
    const dir = tempDir('site');
    writeSite(dir, {
      'index.html': '<!doctype html>', 'docs/guide/index.html': 'guide', 'app.3f9a1c2b.js': 'js', 'style.CSS': 'css',
      'img/logo.png': Buffer.from([0x89, 0x50]), 'data.json': '{}', 'noext': 'x', 'a b/café.txt': 'unicode',
      '.well-known/security.txt': 'contact', '.git/config': 'secret', '.DS_Store': 'junk',
    });
    const m = await buildManifest(dir, { site: 'docs', id: 'd-1', createdAt: new Date('2026-01-02T03:04:05Z') });
    expect(m).toMatchObject({ id: 'd-1', site: 'docs', createdAt: '2026-01-02T03:04:05.000Z' });
    expect(Object.keys(m.files)).toEqual([
      '.well-known/security.txt', 'a b/café.txt', 'app.3f9a1c2b.js', 'data.json', 'docs/guide/index.html',
      'img/logo.png', 'index.html', 'noext', 'style.CSS',
    ]);
    expect(m.files['index.html']).toEqual({ hash: sha('<!doctype html>'), size: 15, contentType: 'text/html; charset=utf-8' });
    expect(m.files['app.3f9a1c2b.js']!.contentType).toBe('text/javascript; charset=utf-8');
    expect(m.files['style.CSS']!.contentType).toBe('text/css; charset=utf-8');
    expect(m.files['img/logo.png']!.contentType).toBe('image/png');
    expect(m.files['noext']!.contentType).toBe('application/octet-stream');
  });

  it('defaults the site to the folder name and makes time-sortable ids', async () => {
    const dir = tempDir('site');
    writeSite(dir, { 'a.txt': 'a' });
    const a = await buildManifest(dir, { createdAt: new Date(1_000_000) });
    const b = await buildManifest(dir, { createdAt: new Date(2_000_000) });
    expect(a.site).toBe(dir.split('/').pop());
    expect(a.id < b.id).toBe(true);
  });

  it('follows symlinks that stay inside the folder and refuses ones that leave it', async () => {
    const outside = tempDir('outside');
    writeFileSync(join(outside, 'secret.txt'), 'secret');
    const dir = tempDir('site');
    writeSite(dir, { 'real.txt': 'real' });
    symlinkSync(join(dir, 'real.txt'), join(dir, 'alias.txt'));
    expect((await buildManifest(dir)).files['alias.txt']!.hash).toBe(sha('real'));
    symlinkSync(join(outside, 'secret.txt'), join(dir, 'leak.txt'));
    await expect(buildManifest(dir)).rejects.toMatchObject({ code: 'SWY_MANIFEST_INVALID', message: expect.stringContaining('outside the site folder') });
  });

  it('refuses file names the router could never serve', async () => {
    const dir = tempDir('site');
    mkdirSync(join(dir, 'x'));
    writeFileSync(join(dir, 'x', 'a\\b.txt'), 'x');
    await expect(buildManifest(dir)).rejects.toMatchObject({ code: 'SWY_MANIFEST_INVALID', message: expect.stringContaining('backslash') });
  });
});

describe('manifest validation and serialization', () => {
  const good: DeployManifest = {
    id: 'd-1', site: 'web', createdAt: '2026-01-02T03:04:05.000Z',
    files: { 'b.js': { hash: sha('b'), size: 1, contentType: 'text/javascript' }, 'a/index.html': { hash: sha('a'), size: 1, contentType: 'text/html' } },
  };

  it('round-trips through JSON, with paths sorted', () => {
    const text = serializeManifest(good);
    expect(Object.keys(JSON.parse(text).files)).toEqual(['a/index.html', 'b.js']);
    expect(parseManifest(text)).toEqual(good);
  });

  it('lists every problem at once', () => {
    const bad = { ...good, site: '', createdAt: 'yesterday', files: { '../etc/passwd': { hash: 'nothex', size: -1, contentType: 'x' } } };
    try {
      validateManifest(bad);
      expect.unreachable();
    } catch (e) {
      const err = e as { code: string; statusCode: number; extras: { issues: string[] } };
      expect(err.code).toBe('SWY_MANIFEST_INVALID');
      expect(err.statusCode).toBe(400);
      expect(err.extras.issues.join('\n')).toMatch(/site/);
      expect(err.extras.issues.join('\n')).toMatch(/createdAt/);
      expect(err.extras.issues.join('\n')).toMatch(/"\.\." segment/);
      expect(err.extras.issues.join('\n')).toMatch(/hash/);
      expect(err.extras.issues.join('\n')).toMatch(/size/);
    }
  });

  it.each([
    ['/abs.html'], ['a//b.html'], ['./a.html'], ['a/../b.html'], ['a\\b.html'], ['nul\u0000.html'], [''],
  ])('refuses the unsafe path %j', (p) => {
    const m = { ...good, files: { [p]: good.files['b.js']! } };
    expect(() => validateManifest(m)).toThrow(expect.objectContaining({ code: 'SWY_MANIFEST_INVALID' }));
  });

  it('refuses text that is not JSON, and unknown fields', () => {
    expect(() => parseManifest('{nope')).toThrow(expect.objectContaining({ code: 'SWY_MANIFEST_INVALID' }));
    expect(() => validateManifest({ ...good, extra: 1 })).toThrow(expect.objectContaining({ code: 'SWY_MANIFEST_INVALID' }));
  });

  it('gives files a null prototype, so "constructor" is no file', () => {
    const m = parseManifest(serializeManifest(good));
    expect(m.files['constructor']).toBeUndefined();
    expect(Object.getPrototypeOf(m.files)).toBeNull();
    const withProto = parseManifest(`{"id":"d","site":"s","createdAt":"2026-01-01T00:00:00Z","files":{"__proto__":{"hash":"${sha('p')}","size":1,"contentType":"text/plain"}}}`);
    expect(Object.keys(withProto.files)).toEqual(['__proto__']);
  });
});

describe('content types', () => {
  it('types by the last extension, case-insensitively, and knows what compresses', () => {
    expect(contentTypeFor('a/b/app.min.JS')).toBe('text/javascript; charset=utf-8');
    expect(contentTypeFor('font.woff2')).toBe('font/woff2');
    expect(contentTypeFor('.htaccess')).toBe('application/octet-stream');
    expect(contentTypeFor('x.unknown')).toBe('application/octet-stream');
    expect(isCompressible('text/html; charset=utf-8')).toBe(true);
    expect(isCompressible('application/manifest+json; charset=utf-8')).toBe(true);
    expect(isCompressible('image/svg+xml; charset=utf-8')).toBe(true);
    expect(isCompressible('image/png')).toBe(false);
    expect(isCompressible('font/woff2')).toBe(false);
  });
});
