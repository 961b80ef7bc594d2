// parseBlobUrl: the forms --blob-url accepts, and one clear SWY_BAD_REQUEST naming the flag,
// the value and the accepted forms for anything else (checked before any process starts).
import { describe, expect, it } from 'vitest';
import { BLOB_URL_FORMS, parseBlobUrl } from '../../src/blob/index.js';
import { SwitchyardError } from '../../src/errors/index.js';

describe('parseBlobUrl', () => {
  it('accepts none (the data dir), file:///path and s3://bucket/prefix with its options', () => {
    expect(parseBlobUrl(undefined, '/d')).toEqual({ kind: 'fs', dir: '/d/blobs' });
    expect(parseBlobUrl('', '/d')).toEqual({ kind: 'fs', dir: '/d/blobs' });
    expect(parseBlobUrl('file:///srv/blobs', '/d')).toEqual({ kind: 'fs', dir: '/srv/blobs' });
    expect(parseBlobUrl('s3://bucket', '/d')).toEqual({ kind: 's3', bucket: 'bucket', prefix: '', region: 'us-east-1', forcePathStyle: false });
    expect(parseBlobUrl(`s3://b/p/q?endpoint=${encodeURIComponent('http://127.0.0.1:9000')}&region=eu-west-1&forcePathStyle=true`, '/d'))
      .toEqual({ kind: 's3', bucket: 'b', prefix: 'p/q', endpoint: 'http://127.0.0.1:9000', region: 'eu-west-1', forcePathStyle: true });
  });

  it.each([
    ['foo://x', 'unsupported scheme "foo:"'],
    ['not a url', 'it is not a URL'],
    ['/abs/path', 'it is not a URL'],
    ['s3:///prefix', 'an s3 URL needs a bucket name'],
    ['s3://b/p?endpoint=nope', 'endpoint "nope" is not an http:// or https:// URL'],
    ['s3://b/p?forcePathStyle=yes', 'forcePathStyle is "yes", expected true or false'],
    ['file://otherhost/x', 'a file URL names a local path, with no host'],
  ])('refuses %s: SWY_BAD_REQUEST (400) naming --blob-url, the value, why and the accepted forms', (url, why) => {
    let err: unknown;
    try { parseBlobUrl(url, '/d'); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(SwitchyardError);
    const e = err as SwitchyardError;
    expect(e.code).toBe('SWY_BAD_REQUEST');
    expect(e.statusCode).toBe(400);
    expect(e.message).toContain(`--blob-url "${url}" is not a usable blob store URL: ${why}`);
    expect(e.message).toContain(`expected ${BLOB_URL_FORMS}`);
    expect(e.message).not.toContain('\n');
  });
});
