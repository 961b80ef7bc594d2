/**
 * @module control/publisher
 * Turns store changes into router snapshots: on each change notification it reads the route
 * table, compiles it and hands it to the subscribers. Bursts coalesce (latest wins): while one
 * compile runs, further notifications only mark the state dirty, and one more pass follows.
 * A table whose compile fails leaves the last good snapshot in place.
 */
import { applyDelta, compileSnapshot, type RouteDelta, type RouteTable, type Snapshot } from '../routing/index.js';
import { readRouteDelta, readRouteTable, type Store } from '../store/index.js';

/**
 * What changed, as plain data (for routers in other processes): the whole table, or a delta.
 * `snapshot` is the compiled result in this process.
 */
export type SnapshotUpdate = { kind: 'full'; table: RouteTable } | { kind: 'delta'; delta: RouteDelta };
export type SnapshotListener = (s: Snapshot, update: SnapshotUpdate) => void;

export class SnapshotPublisher {
  #current: Snapshot | undefined;
  #lastTable: RouteTable | undefined;
  #running = false;
  #dirty = false;
  #lastError: unknown;
  readonly #listeners = new Set<SnapshotListener>();
  readonly #waiters: { version: number; resolve: () => void }[] = [];
  #unsubscribe: (() => void) | undefined;
  #needFull = true;
  #retry: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly store: Store, private readonly app: string, private readonly log: (msg: string, extra?: object) => void = () => {}) {}

  get current(): Snapshot | undefined { return this.#current; }
  get lastError(): unknown { return this.#lastError; }

  /** Subscribes to the store feed and publishes the first snapshot. */
  async start(): Promise<Snapshot> {
    this.#unsubscribe = this.store.onChange((v) => this.refresh(v));
    await this.#rebuild();
    if (!this.#current) throw this.#lastError ?? new Error('no snapshot');
    return this.#current;
  }

  stop(): void { this.#unsubscribe?.(); if (this.#retry) clearTimeout(this.#retry); }

  onSnapshot(l: SnapshotListener): () => void {
    this.#listeners.add(l);
    if (this.#current) l(this.#current, { kind: 'full', table: this.#fullTable() });
    return () => this.#listeners.delete(l);
  }

  /**
   * Requests a rebuild; coalesces with one in progress (latest wins). A known `version` not newer
   * than the served one is skipped without reading (our own writes echo back through NOTIFY);
   * `undefined` (a resync after reconnect) always re-reads.
   */
  refresh(version?: number): void {
    if (version !== undefined && this.#current && version <= this.#current.version) return;
    if (version === undefined) this.#needFull = true; // resync: a notification may have been missed
    if (this.#running) { this.#dirty = true; return; }
    void this.#rebuild();
  }

  /** Resolves when a snapshot of at least `version` has been published. */
  waitForVersion(version: number): Promise<void> {
    if ((this.#current?.version ?? -1) >= version) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ version, resolve }));
  }

  /**
   * The current state as a whole table, for a subscriber that joins late (a new or restarted
   * router worker): the last full table with every later delta folded in.
   */
  #fullTable(): RouteTable {
    const snap = this.#current!;
    const t = this.#lastTable!;
    if (t.version === snap.version) return t;
    const envs = [...snap.environments.values()];
    const deploys: Record<string, import('../routing/index.js').DeployRoute> = {};
    for (const e of envs) for (const d of e.deploys) if (d) deploys[d.id] = d;
    return { ...t, version: snap.version, environments: envs.map(toEnvironmentRoute), deploys };
  }

  /** Current state as a full table (for a late subscriber). */
  currentTable(): RouteTable | undefined { return this.#current ? this.#fullTable() : undefined; }

  async #rebuild(): Promise<void> {
    this.#running = true;
    try {
      do {
        this.#dirty = false;
        try {
          const prev = this.#current;
          let snap: Snapshot;
          let update: SnapshotUpdate;
          const full = this.#needFull || !prev;
          this.#needFull = false;
          let delta: RouteDelta | 'full' = 'full';
          if (!full) delta = await readRouteDelta(this.store, this.app, prev.version, prev.services.filter((s) => s.kind === 'service').map((s) => s.name));
          if (delta === 'full') {
            const table = await readRouteTable(this.store, this.app);
            if (prev && table.version <= prev.version) { this.log('skipping unchanged route table', { version: table.version }); continue; }
            snap = compileSnapshot(table, prev);
            this.#lastTable = table;
            update = { kind: 'full', table };
          } else {
            if (delta.version <= prev!.version) continue;
            snap = applyDelta(prev!, delta);
            update = { kind: 'delta', delta };
          }
          this.#current = snap;
          this.#lastError = undefined;
          for (const l of this.#listeners) l(snap, update);
          for (let i = this.#waiters.length - 1; i >= 0; i--) {
            const w = this.#waiters[i]!;
            if (w.version <= snap.version) { this.#waiters.splice(i, 1); w.resolve(); }
          }
        } catch (err) {
          this.#lastError = err;
          this.#needFull = true;
          this.log('snapshot rebuild failed; keeping the last good snapshot', { err: String(err) });
          // Retry: the failure may be a store outage whose recovery brings no notification.
          if (!this.#retry) this.#retry = setTimeout(() => { this.#retry = undefined; this.refresh(); }, 1_000);
          this.#retry.unref?.();
        }
      } while (this.#dirty);
    } finally {
      this.#running = false;
    }
  }
}

/** Back from the compiled form to plain data (ready endpoints only: that is all routing uses). */
function toEnvironmentRoute(e: import('../routing/index.js').CompiledEnvironment): import('../routing/index.js').EnvironmentRoute {
  const services: Record<string, import('../routing/index.js').EndpointRoute[]> = {};
  for (const u of e.upstreams) if (u) services[u.service] = [...u.endpoints];
  const sites: Record<string, string> = {};
  for (const d of e.deploys) if (d) sites[d.site] = d.id;
  return { name: e.name, kind: e.kind, hosts: [...e.hosts], services, sites, ...(e.access ? { access: e.access } : {}) };
}
