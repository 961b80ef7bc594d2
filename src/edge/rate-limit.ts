/**
 * @module edge/rate-limit
 * Token-bucket rate limiting per key (client IP): each key holds up to `burst` tokens, refilled
 * at `rps` tokens per second; a request takes one. O(1) per request; memory bounded by `maxKeys`
 * (least recently used key evicted — a full bucket carries no information, and a key idle for
 * `burst / rps` seconds is full again, so eviction only forgives the oldest client).
 */

/** Token-bucket parameters: sustained requests per second and the burst allowed at once. */
export interface RateLimit { rps: number; burst: number }

/** Outcome of {@link TokenBucket.take}. `retryAfterMs` is when one token will be available. */
export type TakeResult = { ok: true; remaining: number } | { ok: false; retryAfterMs: number };

interface Bucket { tokens: number; at: number }

/** Token buckets keyed by client. */
export class TokenBucket {
  readonly rps: number;
  readonly burst: number;
  readonly #maxKeys: number;
  readonly #now: () => number;
  /** Map iteration order = recency (delete + set on use) → O(1) LRU. */
  readonly #buckets = new Map<string, Bucket>();

  /**
   * @param limit `rps` > 0 (tokens per second), `burst` ≥ 1 (bucket size).
   * @param opts `maxKeys` (default 100 000 ≈ 10 MB), `now` clock in ms (tests inject one).
   */
  constructor(limit: RateLimit, opts: { maxKeys?: number; now?: () => number } = {}) {
    if (!(limit.rps > 0) || !(limit.burst >= 1)) throw new RangeError('rate limit needs rps > 0 and burst >= 1');
    this.rps = limit.rps;
    this.burst = limit.burst;
    this.#maxKeys = opts.maxKeys ?? 100_000;
    this.#now = opts.now ?? Date.now;
  }

  /** Number of keys held. */
  get size(): number { return this.#buckets.size; }

  /** Takes `cost` tokens (default 1) for `key`, or says how long to wait. */
  take(key: string, cost = 1): TakeResult {
    const now = this.#now();
    const b = this.#buckets.get(key);
    let tokens = this.burst;
    if (b) {
      this.#buckets.delete(key);
      tokens = Math.min(this.burst, b.tokens + (Math.max(0, now - b.at) * this.rps) / 1000);
    }
    let result: TakeResult;
    if (tokens >= cost) {
      tokens -= cost;
      result = { ok: true, remaining: Math.floor(tokens) };
    } else {
      result = { ok: false, retryAfterMs: Math.ceil(((cost - tokens) * 1000) / this.rps) };
    }
    this.#buckets.set(key, { tokens, at: now });
    if (this.#buckets.size > this.#maxKeys) this.#buckets.delete(this.#buckets.keys().next().value!);
    return result;
  }

  /** Drops keys whose buckets are full again (optional housekeeping; O(n)). */
  sweep(): number {
    const now = this.#now();
    let n = 0;
    for (const [k, b] of this.#buckets) {
      if (b.tokens + ((now - b.at) * this.rps) / 1000 >= this.burst) { this.#buckets.delete(k); n++; }
    }
    return n;
  }
}
