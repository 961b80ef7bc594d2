/**
 * @module router/workers
 * The owner's side of router workers (node:cluster): forks N workers sharing the listeners,
 * sends each the current table before it listens, broadcasts every update, tracks the version
 * each worker ACKed, replaces a worker that dies, and drains them all on stop.
 */
import cluster, { type Worker } from 'node:cluster';
import { fileURLToPath } from 'node:url';
import type { RouteDelta, RouteTable } from '../routing/index.js';
import type { BoundPorts, FromWorker, ListenSpec, ToWorker } from './ipc.js';

export interface WorkerStatus { id: number; pid: number | undefined; version: number; listening: boolean; lastError?: string }

export class RouterWorkers {
  readonly #workers = new Map<number, { worker: Worker; status: WorkerStatus }>();
  readonly #waiters: { version: number; resolve: () => void }[] = [];
  #stopping = false;
  #ports: BoundPorts | undefined;

  /** Ports the workers listen on (known once the first one listens). */
  get ports(): BoundPorts | undefined { return this.#ports; }

  constructor(
    private readonly count: number,
    private readonly listen: ListenSpec,
    private readonly currentTable: () => RouteTable | undefined,
    private readonly log: (msg: string, extra?: object) => void,
    /** Extra environment of the worker processes (e.g. the blob store URL). */
    private readonly env: Record<string, string> = {},
  ) {}

  /** Forks the workers; resolves when every one serves the current table and listens. */
  async start(): Promise<void> {
    // Workers accept on the shared socket themselves (SCHED_NONE): with round-robin the owner
    // hands each connection over and one a dying worker had not taken yet hangs (nodejs/node#21746).
    cluster.schedulingPolicy = cluster.SCHED_NONE;
    cluster.setupPrimary({ exec: fileURLToPath(new URL('./worker.js', import.meta.url)), args: [], serialization: 'advanced', silent: false });
    await Promise.all(Array.from({ length: this.count }, () => this.#fork()));
  }

  #fork(): Promise<void> {
    const worker = cluster.fork(this.env);
    const status: WorkerStatus = { id: worker.id, pid: worker.process.pid, version: 0, listening: false };
    this.#workers.set(worker.id, { worker, status });
    return new Promise((resolve, reject) => {
      worker.on('message', (m: FromWorker) => {
        if (m.type === 'swy:hello') {
          const table = this.currentTable();
          if (table) this.#send(worker, { type: 'swy:table', table });
        } else if (m.type === 'swy:ack') {
          status.version = Math.max(status.version, m.version);
          if (!status.listening && status.version > 0 && !worker.isDead()) this.#send(worker, { type: 'swy:listen', listen: this.listen });
          this.#settleWaiters();
        } else if (m.type === 'swy:nack') {
          status.lastError = m.error;
          this.log('router worker rejected a snapshot; it keeps serving its last one', { worker: worker.id, version: m.version, error: m.error });
        } else if (m.type === 'swy:listening') {
          status.listening = true;
          // Every worker (replacements too) listens with the same spec: node:cluster maps each port-0
          // listen to the one shared handle, so all of them serve the same ports.
          this.#ports ??= m.ports;
          resolve();
        }
        else if (m.type === 'swy:listen-error') reject(new Error(`router worker could not listen: ${m.error}`));
      });
      worker.once('exit', (code, signal) => {
        this.#workers.delete(worker.id);
        this.#settleWaiters();
        if (!status.listening) reject(new Error(`router worker exited (${signal ?? code}) before listening`));
        if (!this.#stopping) {
          this.log('router worker died; starting a new one', { worker: worker.id, code, signal });
          void this.#fork().catch((err) => this.log('could not replace router worker', { err: String(err) }));
        }
      });
    });
  }

  #send(worker: Worker, m: ToWorker): void {
    if (worker.isConnected()) worker.send(m);
  }

  /** Sends an update to every worker. */
  broadcast(update: { kind: 'full'; table: RouteTable } | { kind: 'delta'; delta: RouteDelta }): void {
    const m: ToWorker = update.kind === 'full' ? { type: 'swy:table', table: update.table } : { type: 'swy:delta', delta: update.delta };
    for (const { worker } of this.#workers.values()) this.#send(worker, m);
  }

  /** Resolves when every live worker serves at least `version`. */
  waitForVersion(version: number): Promise<void> {
    if (this.#minVersion() >= version) return Promise.resolve();
    return new Promise((resolve) => { this.#waiters.push({ version, resolve }); });
  }

  #minVersion(): number {
    let min = Infinity;
    for (const { status } of this.#workers.values()) if (status.listening || status.version > 0) min = Math.min(min, status.version);
    return min === Infinity ? 0 : min;
  }

  #settleWaiters(): void {
    const v = this.#minVersion();
    for (let i = this.#waiters.length - 1; i >= 0; i--) {
      if (this.#waiters[i]!.version <= v) { this.#waiters[i]!.resolve(); this.#waiters.splice(i, 1); }
    }
  }

  status(): WorkerStatus[] { return [...this.#workers.values()].map((w) => ({ ...w.status })); }

  /** Drains every worker (stop accepting, finish in-flight up to `drainMs`), then waits for exit. */
  async stop(drainMs: number): Promise<void> {
    this.#stopping = true;
    const exits = [...this.#workers.values()].map(({ worker }) => new Promise<void>((resolve) => {
      if (worker.isDead()) { resolve(); return; }
      worker.once('exit', () => resolve());
      this.#send(worker, { type: 'swy:drain', drainMs });
      setTimeout(() => { if (!worker.isDead()) worker.process.kill('SIGKILL'); }, drainMs + 3_000).unref();
    }));
    await Promise.all(exits);
  }
}
