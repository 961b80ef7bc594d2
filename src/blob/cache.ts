/**
 * @module blob/cache
 * An in-memory LRU of small blobs for the router's static-file hot path. Blobs are content
 * addressed and immutable, so a cached copy is never stale; the cache only bounds memory
 * (`maxEntryBytes` per blob, `maxTotalBytes` in all) and saves the open/read/close round trips
 * through the thread pool that dominate serving a small file from disk.
 */
import type { BlobStore } from './types.js';

export interface BlobCacheOptions {
  /** Largest blob kept (bytes); default 256 KiB. */
  maxEntryBytes?: number;
  /** Memory bound of the whole cache (bytes); default 64 MiB. */
  maxTotalBytes?: number;
}

export class BlobCache {
  readonly maxEntryBytes: number;
  readonly #maxTotal: number;
  #total = 0;
  /** Insertion order = LRU order (a hit re-inserts). */
  readonly #entries = new Map<string, Buffer>();
  readonly #loading = new Map<string, Promise<Buffer>>();

  constructor(private readonly store: BlobStore, o: BlobCacheOptions = {}) {
    this.maxEntryBytes = o.maxEntryBytes ?? 256 * 1024;
    this.#maxTotal = o.maxTotalBytes ?? 64 * 1024 * 1024;
  }

  /** The cached bytes of `hash`, or undefined. A hit marks the entry recently used. O(1). */
  // HOT PATH — change with care.
  peek(hash: string): Buffer | undefined {
    const b = this.#entries.get(hash);
    if (b !== undefined) { this.#entries.delete(hash); this.#entries.set(hash, b); }
    return b;
  }

  /** Reads the whole blob (`size` bytes, ≤ maxEntryBytes) once, caches and returns it. */
  load(hash: string, size: number): Promise<Buffer> {
    const hit = this.peek(hash);
    if (hit) return Promise.resolve(hit);
    let p = this.#loading.get(hash);
    if (p) return p;
    p = (async () => {
      const chunks: Buffer[] = [];
      for await (const c of await this.store.get(hash)) chunks.push(c as Buffer);
      const buf = Buffer.concat(chunks, size);
      if (buf.length <= this.maxEntryBytes) this.#insert(hash, buf);
      return buf;
    })().finally(() => this.#loading.delete(hash));
    this.#loading.set(hash, p);
    return p;
  }

  #insert(hash: string, buf: Buffer): void {
    this.#entries.set(hash, buf);
    this.#total += buf.length;
    for (const [k, v] of this.#entries) {
      if (this.#total <= this.#maxTotal) break;
      this.#entries.delete(k);
      this.#total -= v.length;
    }
  }

  get bytes(): number { return this.#total; }
  get size(): number { return this.#entries.size; }
}
