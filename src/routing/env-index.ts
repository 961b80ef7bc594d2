/**
 * @module routing/env-index
 * An immutable name → environment index that changes by delta. A snapshot's index is a large
 * shared base map plus a small overlay of recent changes (upserts and removals), so a change
 * to one environment costs O(changes), not O(environments), and every snapshot shares the
 * base with its predecessor. When the overlay outgrows its bound it is folded into a new base
 * (an O(n) copy, amortised over many changes). Lookups stay O(1): at most two map reads.
 */
import type { CompiledEnvironment } from './types.js';

/** Removal marker in the overlay. */
const REMOVED = null;

export class EnvIndex {
  readonly #base: ReadonlyMap<string, CompiledEnvironment>;
  readonly #overlay: ReadonlyMap<string, CompiledEnvironment | null>;
  /** Number of live environments. */
  readonly size: number;

  private constructor(base: ReadonlyMap<string, CompiledEnvironment>, overlay: ReadonlyMap<string, CompiledEnvironment | null>, size: number) {
    this.#base = base;
    this.#overlay = overlay;
    this.size = size;
    Object.freeze(this);
  }

  static from(entries: Iterable<CompiledEnvironment>): EnvIndex {
    const m = new Map<string, CompiledEnvironment>();
    for (const e of entries) m.set(e.name, e);
    return new EnvIndex(m, new Map(), m.size);
  }

  // HOT PATH — change with care: one or two Map reads, no allocation.
  get(name: string): CompiledEnvironment | undefined {
    if (this.#overlay.size !== 0) {
      const o = this.#overlay.get(name);
      if (o !== undefined) return o === REMOVED ? undefined : o;
    }
    return this.#base.get(name);
  }

  has(name: string): boolean { return this.get(name) !== undefined; }

  *values(): IterableIterator<CompiledEnvironment> {
    for (const [name, e] of this.#base) if (!this.#overlay.has(name)) yield e;
    for (const e of this.#overlay.values()) if (e !== REMOVED) yield e;
  }

  /** Overlay entries (for tests and diagnostics). */
  get overlaySize(): number { return this.#overlay.size; }

  /**
   * A new index with `upserts` set and `removals` gone; `this` is unchanged.
   * @param maxOverlay fold the overlay into a new base beyond this many entries
   */
  with(upserts: readonly CompiledEnvironment[], removals: readonly string[], maxOverlay = Math.max(1024, this.#base.size >> 4)): EnvIndex {
    const overlay = new Map(this.#overlay);
    let size = this.size;
    for (const name of removals) {
      if (this.get(name) === undefined) continue;
      size--;
      if (this.#base.has(name)) overlay.set(name, REMOVED); else overlay.delete(name);
    }
    for (const e of upserts) {
      if (this.get(e.name) === undefined) size++;
      overlay.set(e.name, e);
    }
    if (overlay.size <= maxOverlay) return new EnvIndex(this.#base, overlay, size);
    const base = new Map(this.#base);
    for (const [name, e] of overlay) { if (e === REMOVED) base.delete(name); else base.set(name, e); }
    return new EnvIndex(base, new Map(), size);
  }
}
