/**
 * @module blob/s3
 * {@link BlobStore} on an S3-compatible bucket (AWS S3, MinIO, s3rver…), one object per blob
 * at `<prefix><sha256>`. Uploads are single `PutObject`s with a declared length; the bytes are
 * hashed on the way out and the last chunk is held back until the digest matches, so a
 * mismatching or erroring source aborts the request before the server has the whole body and
 * nothing is stored (S3 never keeps a partial `PutObject`). The expected sha256 is also sent as
 * `x-amz-checksum-sha256`, which AWS S3 verifies server-side.
 *
 * The client sets `requestChecksumCalculation`/`responseChecksumValidation` to `WHEN_REQUIRED`:
 * otherwise SDK 3.7xx+ frames bodies as `aws-chunked`, which some S3 emulators store verbatim.
 */
import {
  CopyObjectCommand, DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command,
  PutObjectCommand, S3Client, type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { swyError, SwitchyardError } from '../errors/index.js';
import { assertBlobHash, assertBlobSize, HashCheck, isBlobHash, type BlobStat, type BlobStore, type ByteRange } from './types.js';

/** Options of {@link S3BlobStore}. */
export interface S3BlobStoreOptions {
  bucket: string;
  /** Key prefix, e.g. `blobs/` (a missing trailing `/` is added); default none. */
  prefix?: string;
  /** Custom endpoint (MinIO, s3rver); default AWS. */
  endpoint?: string;
  /** Default `us-east-1`. */
  region?: string;
  /** Path-style addressing (`endpoint/bucket/key`); needed by most emulators. */
  forcePathStyle?: boolean;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Use this client instead of building one (its checksum settings are then the caller's). */
  client?: S3Client;
}

/** Blob store on an S3 bucket. Call {@link S3BlobStore.close} when done. */
export class S3BlobStore implements BlobStore {
  readonly id: string;
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;

  constructor(opts: S3BlobStoreOptions) {
    this.bucket = opts.bucket;
    this.prefix = opts.prefix ? opts.prefix.replace(/^\/+/, '').replace(/\/*$/, '/') : '';
    this.id = `s3://${opts.bucket}/${this.prefix}`;
    const config: S3ClientConfig = {
      region: opts.region ?? 'us-east-1',
      forcePathStyle: opts.forcePathStyle ?? false,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    };
    if (opts.endpoint) config.endpoint = opts.endpoint;
    if (opts.credentials) config.credentials = opts.credentials;
    this.client = opts.client ?? new S3Client(config);
  }

  private key(hash: string): string {
    assertBlobHash(hash);
    return this.prefix + hash;
  }

  async put(hash: string, data: Buffer | Readable, size: number): Promise<void> {
    const Key = this.key(hash);
    assertBlobSize(size);
    const check = new HashCheck(hash, size);
    const common = { Bucket: this.bucket, Key, ContentLength: size, ContentType: 'application/octet-stream', ChecksumSHA256: Buffer.from(hash, 'hex').toString('base64') };
    if (Buffer.isBuffer(data)) {
      check.update(data);
      check.finish();
      await this.send(() => this.client.send(new PutObjectCommand({ ...common, Body: data })), hash);
      return;
    }
    const abort = new AbortController();
    let failure: unknown;
    const body = new HoldBackVerifier(check);
    const fail = (err: unknown) => { failure ??= err; abort.abort(err); body.destroy(); };
    data.on('error', fail);
    body.on('error', fail);
    data.pipe(body);
    try {
      await this.client.send(new PutObjectCommand({ ...common, Body: body }), { abortSignal: abort.signal });
    } catch (err) {
      if (failure !== undefined) throw failure;
      throw s3Failure(err, hash);
    } finally {
      data.off('error', fail);
      if (!data.readableEnded) data.destroy();
    }
    if (failure !== undefined) throw failure;
  }

  async has(hash: string): Promise<boolean> {
    return (await this.stat(hash)) !== undefined;
  }

  async get(hash: string, range?: ByteRange): Promise<Readable> {
    const Key = this.key(hash);
    if (range && (!Number.isSafeInteger(range.start) || !Number.isSafeInteger(range.end) || range.start < 0 || range.end < range.start)) {
      throw swyError('SWY_BAD_REQUEST', `invalid byte range ${range.start}-${range.end}`, { hash });
    }
    const Range = range ? `bytes=${range.start}-${range.end}` : undefined;
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key, Range }));
      if (!(out.Body instanceof Readable)) throw new Error('GetObject returned no stream body');
      return out.Body;
    } catch (err) {
      const status = httpStatus(err);
      if (status === 404) throw swyError('SWY_BLOB_NOT_FOUND', `blob ${hash} is not in the store`, { hash });
      if (status === 416) throw swyError('SWY_RANGE_NOT_SATISFIABLE', `range ${Range} is past the end of blob ${hash}`, { hash });
      throw s3Failure(err, hash);
    }
  }

  async stat(hash: string): Promise<BlobStat | undefined> {
    const Key = this.key(hash);
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key }));
      return { size: out.ContentLength ?? 0, modifiedAt: out.LastModified ?? new Date(0) };
    } catch (err) {
      if (httpStatus(err) === 404) return undefined;
      throw s3Failure(err, hash);
    }
  }

  /** Copies the object onto itself with replaced metadata, which renews `LastModified`. */
  async touch(hash: string): Promise<boolean> {
    const Key = this.key(hash);
    try {
      await this.client.send(new CopyObjectCommand({
        Bucket: this.bucket, Key, CopySource: `${this.bucket}/${encodeURIComponent(Key).replace(/%2F/g, '/')}`,
        MetadataDirective: 'REPLACE', ContentType: 'application/octet-stream', Metadata: { touched: new Date().toISOString() },
      }));
      return true;
    } catch (err) {
      if (httpStatus(err) === 404) return false;
      throw s3Failure(err, hash);
    }
  }

  async delete(hash: string): Promise<void> {
    const Key = this.key(hash);
    await this.send(() => this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key })), hash);
  }

  async *list(): AsyncIterable<string> {
    let ContinuationToken: string | undefined;
    do {
      const page = await this.send(() => this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.prefix || undefined, ContinuationToken })), '(list)');
      for (const o of page.Contents ?? []) {
        const name = o.Key?.slice(this.prefix.length);
        if (name !== undefined && isBlobHash(name)) yield name;
      }
      ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (ContinuationToken);
  }

  /** Releases the client's sockets. */
  close(): void {
    this.client.destroy();
  }

  private async send<T>(op: () => Promise<T>, hash: string): Promise<T> {
    try {
      return await op();
    } catch (err) {
      throw s3Failure(err, hash);
    }
  }
}

/**
 * Pass-through that hashes every chunk and keeps the latest one back until the source ends and
 * {@link HashCheck.finish} passes: a bad upload never delivers its final bytes.
 */
class HoldBackVerifier extends Transform {
  private held: Buffer | undefined;
  constructor(private readonly check: HashCheck) { super(); }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    try {
      this.check.update(chunk);
    } catch (err) {
      cb(err as Error);
      return;
    }
    const prev = this.held;
    this.held = chunk;
    cb(null, prev);
  }

  override _flush(cb: TransformCallback): void {
    try {
      this.check.finish();
    } catch (err) {
      cb(err as Error);
      return;
    }
    cb(null, this.held);
  }
}

function httpStatus(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}

function s3Failure(err: unknown, hash: string): SwitchyardError {
  if (err instanceof SwitchyardError) return err;
  const e = err as { name?: string; message?: string };
  return swyError('SWY_BLOB_STORE_UNAVAILABLE', `S3 request for ${hash} failed: ${e?.name ?? 'Error'}: ${e?.message ?? String(err)}`, { hash, status: httpStatus(err) }, err);
}
