/**
 * @module blob/types
 * The blob store contract shared by the filesystem and S3 back ends, and the integrity check
 * both run while writing: a blob is named by the sha256 of its bytes (64 lower-case hex
 * digits), and a store refuses to keep bytes that do not hash to their name.
 */
import { createHash, type Hash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { swyError } from '../errors/index.js';

/** Inclusive byte range, as in HTTP: `{start: 0, end: 0}` is the first byte. */
export interface ByteRange {
  start: number;
  end: number;
}

/** What a store knows about one blob. */
export interface BlobStat {
  size: number;
  /** Last write or {@link BlobStore.touch}; garbage collection measures a blob's age from it. */
  modifiedAt: Date;
}

/**
 * A content-addressed blob store. Every method takes the blob's sha256 (lower-case hex);
 * a malformed hash is rejected with `SWY_BAD_REQUEST`.
 */
export interface BlobStore {
  /** Stable description of where the blobs live, e.g. `file:///var/lib/sw/blobs`, `s3://bucket/prefix/`. */
  readonly id: string;
  /**
   * Stores `size` bytes under `hash`. The bytes are hashed while they are written; a mismatch
   * of hash or size rejects with `SWY_BLOB_INTEGRITY` and nothing is stored under `hash`, nor is
   * anything stored when `data` errors midway. Writing an existing blob again is harmless.
   */
  put(hash: string, data: Buffer | Readable, size: number): Promise<void>;
  /** Whether the blob exists. */
  has(hash: string): Promise<boolean>;
  /**
   * Reads the blob, or the inclusive `range` of it (`end` past the last byte is clamped).
   * Rejects with `SWY_BLOB_NOT_FOUND`, or `SWY_RANGE_NOT_SATISFIABLE` when `start` is past the end.
   */
  get(hash: string, range?: ByteRange): Promise<Readable>;
  /** Size and age of the blob, `undefined` when it does not exist. */
  stat(hash: string): Promise<BlobStat | undefined>;
  /**
   * Marks an existing blob as freshly used (its `modifiedAt` becomes now), so a garbage
   * collection running during a deploy that reuses it keeps it for the grace period.
   * Resolves `false` when the blob does not exist (the caller then uploads it).
   */
  touch(hash: string): Promise<boolean>;
  /** Deletes the blob; deleting a missing blob is not an error. */
  delete(hash: string): Promise<void>;
  /** Every stored blob's hash, in no particular order. Incomplete uploads are never listed. */
  list(): AsyncIterable<string>;
  /** Removes leftovers of interrupted uploads older than `olderThanMs`; returns how many. */
  sweepIncomplete?(olderThanMs: number): Promise<number>;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

/** True for a well-formed blob name. */
export function isBlobHash(hash: string): boolean {
  return SHA256_HEX.test(hash);
}

/** Throws `SWY_BAD_REQUEST` unless `hash` is 64 lower-case hex digits. */
export function assertBlobHash(hash: string): void {
  if (!SHA256_HEX.test(hash)) throw swyError('SWY_BAD_REQUEST', `not a sha256 blob name: ${JSON.stringify(hash)}`, { hash });
}

/** Throws `SWY_BAD_REQUEST` unless `size` is a non-negative safe integer. */
export function assertBlobSize(size: number): void {
  if (!Number.isSafeInteger(size) || size < 0) throw swyError('SWY_BAD_REQUEST', `not a blob size: ${size}`, { size });
}

/** Validates a range against a blob's size; returns it with `end` clamped to the last byte. */
export function clampRange(hash: string, range: ByteRange, size: number): ByteRange {
  if (!Number.isSafeInteger(range.start) || !Number.isSafeInteger(range.end) || range.start < 0 || range.end < range.start) {
    throw swyError('SWY_BAD_REQUEST', `invalid byte range ${range.start}-${range.end}`, { hash });
  }
  if (range.start >= size) {
    throw swyError('SWY_RANGE_NOT_SATISFIABLE', `range starts at ${range.start}, blob ${hash} has ${size} bytes`, { hash, size });
  }
  return { start: range.start, end: Math.min(range.end, size - 1) };
}

/**
 * Incremental check that a byte stream hashes to `hash` and has exactly `size` bytes.
 * {@link HashCheck.update} throws as soon as the stream is longer than `size`;
 * {@link HashCheck.finish} throws on a short stream or a wrong digest.
 */
export class HashCheck {
  private readonly h: Hash = createHash('sha256');
  private bytes = 0;

  constructor(readonly hash: string, readonly size: number) {}

  update(chunk: Buffer): void {
    this.bytes += chunk.length;
    if (this.bytes > this.size) throw this.mismatch(`more than the declared ${this.size} bytes`);
    this.h.update(chunk);
  }

  finish(): void {
    if (this.bytes !== this.size) throw this.mismatch(`${this.bytes} bytes, expected ${this.size}`);
    const actual = this.h.digest('hex');
    if (actual !== this.hash) throw this.mismatch(`content hashes to ${actual}`);
  }

  private mismatch(what: string) {
    return swyError('SWY_BLOB_INTEGRITY', `blob ${this.hash}: ${what}; nothing was stored`, { hash: this.hash, size: this.size });
  }
}

/** sha256 of a buffer, lower-case hex. */
export function sha256Hex(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}
