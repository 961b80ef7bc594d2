/**
 * @module blob/s3
 * {@link BlobStore} on an S3-compatible bucket (AWS S3, MinIO, s3rver…), one object per blob
 * at `<prefix><sha256>`. An upload is read and verified completely first ({@link spool}: memory
 * up to `memoryLimit`, else a temp file) and only then sent as one `PutObject`: a mismatching
 * or erroring source never reaches the server. That matters beyond AWS (which never keeps a
 * partial `PutObject`): s3rver stores the received part of an aborted upload as the object.
 * A spooled body is also retryable by the SDK. The sha256 goes along as `x-amz-checksum-sha256`,
 * which AWS S3 verifies server-side.
 *
 * {@link S3BlobStore.touch} rewrites the object's metadata in place (`CopyObject` onto itself,
 * `x-amz-meta-swy-touched: <ISO time>`); `modifiedAt` is the later of `LastModified` and that
 * stamp, because some emulators (s3rver) keep `LastModified` across a self-copy.
 *
 * The client sets `requestChecksumCalculation`/`responseChecksumValidation` to `WHEN_REQUIRED`:
 * otherwise SDK 3.7xx+ frames bodies as `aws-chunked`, which some S3 emulators store verbatim.
 */
import {
  CopyObjectCommand, DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command,
  PutObjectCommand, S3Client, type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Readable } from 'node:stream';
import { swyError, SwitchyardError } from '../errors/index.js';
import { DEFAULT_MEMORY_LIMIT, spool } from './spool.js';
import { assertBlobHash, assertBlobSize, isBlobHash, type BlobStat, type BlobStore, type ByteRange } from './types.js';

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
  /** Bytes of one upload buffered in memory before spooling to a temp file; default 8 MiB. */
  memoryLimit?: number;
  /** Keys per `ListObjectsV2` page; default the server's (1000 on AWS). */
  listPageSize?: number;
}

const TOUCHED = 'swy-touched';

/** Blob store on an S3 bucket. Call {@link S3BlobStore.close} when done. */
export class S3BlobStore implements BlobStore {
  readonly id: string;
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly memoryLimit: number;
  private readonly listPageSize: number | undefined;

  constructor(opts: S3BlobStoreOptions) {
    this.bucket = opts.bucket;
    this.memoryLimit = opts.memoryLimit ?? DEFAULT_MEMORY_LIMIT;
    this.listPageSize = opts.listPageSize;
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
    const spooled = await spool(hash, data, size, this.memoryLimit);
    try {
      await this.send(() => this.client.send(new PutObjectCommand({
        Bucket: this.bucket, Key, ContentLength: size, ContentType: 'application/octet-stream',
        ChecksumSHA256: Buffer.from(hash, 'hex').toString('base64'),
        Body: Buffer.isBuffer(spooled.body) ? spooled.body : spooled.body(),
      })), hash);
    } finally {
      await spooled.cleanup();
    }
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
    let out;
    try {
      out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key, Range }));
    } catch (err) {
      const status = httpStatus(err);
      if (status === 404) throw swyError('SWY_BLOB_NOT_FOUND', `blob ${hash} is not in the store`, { hash });
      if (status === 416) throw swyError('SWY_RANGE_NOT_SATISFIABLE', `range ${Range} is past the end of blob ${hash}`, { hash });
      throw s3Failure(err, hash);
    }
    const body = out.Body;
    if (!(body instanceof Readable)) throw s3Failure(new Error('GetObject returned no stream body'), hash);
    if (!range) return body;
    // Never hand out more than was asked: a server may ignore `Range` (200 + whole object) or,
    // like s3rver for `bytes=0-0`, answer a wider range than requested.
    const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(out.ContentRange ?? '');
    const from = m ? Number(m[1]) : 0;
    const total = m && m[3] !== '*' ? Number(m[3]) : m ? Number(m[2]) + 1 : out.ContentLength ?? 0;
    if (range.start >= total) {
      body.destroy();
      throw swyError('SWY_RANGE_NOT_SATISFIABLE', `range ${Range} is past the end of blob ${hash}`, { hash, size: total });
    }
    if (from > range.start) {
      body.destroy();
      throw s3Failure(new Error(`asked for ${Range}, got ${out.ContentRange}`), hash);
    }
    const want = Math.min(range.end, total - 1) - range.start + 1;
    if (from === range.start && out.ContentLength === want) return body;
    return sliceStream(body, range.start - from, want);
  }

  async stat(hash: string): Promise<BlobStat | undefined> {
    const Key = this.key(hash);
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key }));
      const last = out.LastModified?.getTime() ?? 0;
      const touched = Date.parse(out.Metadata?.[TOUCHED] ?? '');
      return { size: out.ContentLength ?? 0, modifiedAt: new Date(Number.isNaN(touched) ? last : Math.max(last, touched)) };
    } catch (err) {
      if (httpStatus(err) === 404) return undefined;
      throw s3Failure(err, hash);
    }
  }

  /** Copies the object onto itself with a fresh `swy-touched` stamp (and, on AWS, a new `LastModified`). */
  async touch(hash: string): Promise<boolean> {
    const Key = this.key(hash);
    try {
      await this.client.send(new CopyObjectCommand({
        Bucket: this.bucket, Key, CopySource: `${this.bucket}/${encodeURIComponent(Key).replace(/%2F/g, '/')}`,
        MetadataDirective: 'REPLACE', ContentType: 'application/octet-stream', Metadata: { [TOUCHED]: new Date().toISOString() },
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
      const page = await this.send(() => this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.prefix || undefined, ContinuationToken, MaxKeys: this.listPageSize })), '(list)');
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

/** The `take` bytes of `src` after skipping `skip`; the source is destroyed once they are read. */
function sliceStream(src: Readable, skip: number, take: number): Readable {
  return Readable.from((async function* () {
    let toSkip = skip;
    let left = take;
    try {
      for await (const chunk of src) {
        let c = chunk as Buffer;
        if (toSkip >= c.length) { toSkip -= c.length; continue; }
        c = c.subarray(toSkip, toSkip + left);
        toSkip = 0;
        left -= c.length;
        yield c;
        if (left === 0) break;
      }
    } finally {
      src.destroy();
    }
  })(), { objectMode: false });
}

function httpStatus(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}

function s3Failure(err: unknown, hash: string): SwitchyardError {
  if (err instanceof SwitchyardError) return err;
  const e = err as { name?: string; message?: string };
  const status = httpStatus(err);
  // The SDK's error drags the whole HTTP response along; keep only what explains the failure.
  const cause = Object.assign(new Error(`${e?.name ?? 'Error'}: ${e?.message ?? String(err)}`), { name: e?.name ?? 'Error', status });
  return swyError('SWY_BLOB_STORE_UNAVAILABLE', `S3 request for ${hash} failed: ${cause.message}`, { hash, status }, cause);
}
