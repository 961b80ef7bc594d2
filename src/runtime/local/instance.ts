/**
 * @module runtime/local/instance
 * One supervised instance: its first start (failures are reported to the caller, no restart),
 * periodic health probes once healthy (3 failures in a row → unhealthy, a success → healthy),
 * restart with exponential backoff and a new port after a crash, and stop.
 */
import type { InstancePlan, InstanceState, InstanceStatus } from '../types.js';
import { prepareLaunch, spawnPrepared, discardPrepared, type Launched } from './spawn.js';
import { probeHttp, probeTcp, waitUntilReady, type ExitInfo, type ProbeResult } from './probe.js';
import { terminateGroup } from './process-group.js';
import { backoffDelay, sleep, BACKOFF_RESET_AFTER_MS } from './timing.js';

/** Consecutive failed probes that make a healthy instance unhealthy. */
export const UNHEALTHY_AFTER_FAILURES = 3;
/** Probe interval (ms) and start-up timeout (ms) used when a plan has no health check. */
const TCP_DEFAULTS = { intervalMs: 2_000, timeoutMs: 1_000, startupTimeoutMs: 60_000 };

/** Settings shared by the instances of one runtime. */
export interface InstanceOptions {
  host: string;
  /** Time (ms) between SIGTERM and SIGKILL. */
  graceMs: number;
  logFile: string;
  /** Receives a copy of the status on every change. */
  emit: (s: InstanceStatus) => void;
}

type Phase = 'idle' | 'starting' | 'running' | 'restarting' | 'stopped';

/** A supervised instance process; see the module comment. */
export class LocalInstance {
  private readonly status: InstanceStatus;
  private proc: Launched | undefined;
  private phase: Phase = 'idle';
  private readonly life = new AbortController();
  private probeTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  private healthySince = 0;
  private backoffStep = 0;
  private attempts = 0;
  private stopping: Promise<void> | undefined;

  constructor(private readonly plan: InstancePlan, private readonly opts: InstanceOptions) {
    const { env, service, replica } = plan;
    this.status = { id: `${env}/${service}/${replica}`, env, service, replica, host: opts.host, port: 0, pid: undefined, state: 'starting', restarts: 0, logFile: opts.logFile };
  }

  /** A copy of the current status. */
  snapshot(): InstanceStatus {
    return { ...this.status };
  }

  /** First start: resolves when healthy; rejects with an Error saying why not (no restart). */
  async start(signal: AbortSignal): Promise<void> {
    this.phase = 'starting';
    await this.launchAndWait(AbortSignal.any([signal, this.life.signal]));
    if (this.phase !== 'starting') throw new Error('stopped while starting');
    this.becomeHealthy();
  }

  /** Stops the process group (SIGTERM, SIGKILL after the grace period); idempotent. */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    this.phase = 'stopped';
    this.life.abort(new Error('instance stopped'));
    clearTimeout(this.probeTimer);
    const p = this.proc;
    if (p?.pid !== undefined) {
      await terminateGroup(p.pid, this.opts.graceMs);
      await Promise.race([p.exited, sleep(1_000)]);
    }
    this.status.pid = undefined;
    this.setState('stopped');
  }

  private get health(): NonNullable<InstancePlan['health']> | typeof TCP_DEFAULTS {
    return this.plan.health ?? TCP_DEFAULTS;
  }

  private probe(timeoutMs: number): Promise<ProbeResult> {
    const { host } = this.opts;
    const port = this.status.port;
    return this.plan.health ? probeHttp(host, port, this.plan.health.path, timeoutMs) : probeTcp(host, port, timeoutMs);
  }

  private async launchAndWait(signal: AbortSignal): Promise<void> {
    this.attempts += 1;
    const prepared = await prepareLaunch(this.plan, this.status.id, this.opts.host, this.opts.logFile, this.attempts);
    if (signal.aborted || this.phase === 'stopped') {
      discardPrepared(prepared);
      throw new Error('stopped while starting');
    }
    const proc = spawnPrepared(prepared);
    this.proc = proc;
    void proc.exited.then((info) => this.onExit(proc, info));
    this.status.pid = proc.pid;
    this.status.port = proc.port;
    this.setState('starting', true);
    const h = this.health;
    await waitUntilReady({ probe: (t) => this.probe(t), exited: proc.exited, signal, startupTimeoutMs: h.startupTimeoutMs, probeTimeoutMs: h.timeoutMs });
  }

  private becomeHealthy(): void {
    this.phase = 'running';
    this.failures = 0;
    this.healthySince = Date.now();
    this.setState('healthy');
    this.scheduleProbe(this.proc);
  }

  private scheduleProbe(proc: Launched | undefined): void {
    clearTimeout(this.probeTimer);
    this.probeTimer = setTimeout(() => void this.runProbe(proc), this.health.intervalMs);
    this.probeTimer.unref();
  }

  private async runProbe(proc: Launched | undefined): Promise<void> {
    const r = await this.probe(this.health.timeoutMs);
    if (this.phase !== 'running' || proc !== this.proc) return;
    if (r.ok) {
      this.failures = 0;
      if (this.status.state === 'unhealthy') this.setState('healthy');
    } else {
      this.failures += 1;
      if (this.failures >= UNHEALTHY_AFTER_FAILURES && this.status.state === 'healthy') this.setState('unhealthy');
    }
    this.scheduleProbe(proc);
  }

  private onExit(proc: Launched, _info: ExitInfo): void {
    if (proc !== this.proc) return;
    if (this.phase === 'stopped') return; // stop() reports 'stopped'
    this.status.pid = undefined;
    if (this.phase !== 'running') return; // a failed (re)start is handled by its caller
    clearTimeout(this.probeTimer);
    if (Date.now() - this.healthySince >= BACKOFF_RESET_AFTER_MS) this.backoffStep = 0;
    this.phase = 'restarting';
    this.setState('crashed');
    void this.restartLoop(proc);
  }

  private async restartLoop(dead: Launched): Promise<void> {
    let last = dead;
    while (this.phase === 'restarting') {
      if (last.pid !== undefined) await terminateGroup(last.pid, this.opts.graceMs); // leftovers of the dead group
      await sleep(backoffDelay(this.backoffStep++), this.life.signal);
      if (this.phase !== 'restarting') return;
      this.status.restarts += 1;
      try {
        await this.launchAndWait(this.life.signal);
      } catch {
        if (this.phase !== 'restarting') return;
        if (this.proc) last = this.proc;
        this.status.pid = undefined;
        this.setState('crashed', true);
        continue;
      }
      if (this.phase === 'restarting') this.becomeHealthy();
    }
  }

  private setState(state: InstanceState, force = false): void {
    if (this.status.state === state && !force) return;
    this.status.state = state;
    this.opts.emit(this.snapshot());
  }
}
