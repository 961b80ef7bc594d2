/**
 * @module runtime/local/runtime
 * `createLocalRuntime`: the {@link Runtime} that runs instances as local processes. It keeps the
 * instances by id, fans status changes out to listeners, and turns a failed start into one
 * SWY_INSTANCE_UNHEALTHY error after stopping everything that call started.
 */
import path from 'node:path';
import { swyError } from '../../errors/index.js';
import type { InstancePlan, InstanceStatus, Runtime } from '../types.js';
import { LocalInstance } from './instance.js';
import { tailLines } from './logs.js';

/** Options of {@link createLocalRuntime}. */
export interface LocalRuntimeOptions {
  /** Folder of the log files: `${logDir}/${env}/${service}-${replica}.log`. */
  logDir: string;
  /** Time (ms) between SIGTERM and SIGKILL when stopping; default 5000. */
  graceMs?: number;
  /** Loopback address instances listen on; only `127.0.0.1` is supported. */
  host?: '127.0.0.1';
}

/** Lines of an instance's log quoted in a start failure. */
const TAIL_LINES = 20;

/**
 * Creates the local process runtime. Creating it has no side effects: folders are made and
 * processes spawned only by {@link Runtime.start}.
 */
export function createLocalRuntime(options: LocalRuntimeOptions): Runtime {
  const host = options.host ?? '127.0.0.1';
  const graceMs = options.graceMs ?? 5_000;
  const instances = new Map<string, LocalInstance>();
  const listeners = new Set<(s: InstanceStatus) => void>();

  const emit = (s: InstanceStatus): void => {
    for (const l of [...listeners]) {
      try {
        l({ ...s });
      } catch {
        /* a listener's failure must not break supervision */
      }
    }
  };
  const logFile = (env: string, service: string, replica = 0): string => path.resolve(options.logDir, env, `${service}-${replica}.log`);

  async function stopMatching(pred: (s: InstanceStatus) => boolean): Promise<void> {
    const victims = [...instances.entries()].filter(([, i]) => pred(i.snapshot()));
    await Promise.all(
      victims.map(async ([id, inst]) => {
        await inst.stop();
        if (instances.get(id) === inst) instances.delete(id);
      }),
    );
  }

  async function start(plans: InstancePlan[], opts: { signal?: AbortSignal } = {}): Promise<InstanceStatus[]> {
    const ids = plans.map((p) => `${p.env}/${p.service}/${p.replica}`);
    const dup = ids.find((id, i) => ids.indexOf(id) !== i || instances.has(id));
    if (dup) throw swyError('SWY_BAD_REQUEST', `instance ${dup} is already running (or listed twice); stop it first`, { instance: dup });

    const failed = new AbortController();
    const signal = opts.signal ? AbortSignal.any([opts.signal, failed.signal]) : failed.signal;
    const started = plans.map((p) => new LocalInstance(p, { host, graceMs, logFile: logFile(p.env, p.service, p.replica), emit }));
    started.forEach((inst, i) => instances.set(ids[i]!, inst));

    let first: { inst: LocalInstance; reason: string } | undefined;
    await Promise.all(
      started.map(async (inst) => {
        try {
          await inst.start(signal);
        } catch (e) {
          first ??= { inst, reason: e instanceof Error ? e.message : String(e) };
          failed.abort(new Error('another instance of the same start failed'));
        }
      }),
    );
    if (!first) return started.map((i) => i.snapshot());

    await Promise.all(started.map((i) => i.stop()));
    started.forEach((inst, i) => {
      if (instances.get(ids[i]!) === inst) instances.delete(ids[i]!);
    });
    const s = first.inst.snapshot();
    const tail = await tailLines(s.logFile, TAIL_LINES);
    const shown = tail ? `\n--- last lines of ${s.logFile} ---\n${tail}` : `\n(log ${s.logFile} is empty)`;
    throw swyError('SWY_INSTANCE_UNHEALTHY', `instance ${s.id} did not become healthy: ${first.reason}${shown}`, {
      env: s.env,
      service: s.service,
      replica: s.replica,
      reason: first.reason,
      logFile: s.logFile,
      logTail: tail,
    });
  }

  return {
    id: 'local',
    start,
    stopEnvironment: (env: string) => stopMatching((s) => s.env === env),
    stopAll: () => stopMatching(() => true),
    list: () => [...instances.values()].map((i) => i.snapshot()),
    onStatus(listener) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
    logFile,
  } satisfies Runtime;
}
