/**
 * @module runtime/local/spawn
 * Launches one instance process: `/bin/sh -c run` in its own process group (detached), in the
 * plan's cwd, with the plan's variables plus `PORT` and `SWITCHYARD_INSTANCE`, stdout and stderr
 * appended to the instance's log file. Preparing (port, log) is async; spawning is synchronous,
 * so a caller can check for a stop right before it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import type { InstancePlan } from '../types.js';
import { freePort } from './port.js';
import { openLog, appendLine, closeFd } from './logs.js';
import { describeExit, type ExitInfo } from './probe.js';

/** Everything needed to spawn, gathered asynchronously. */
export interface Prepared {
  plan: InstancePlan;
  id: string;
  port: number;
  logFile: string;
  /** Open log file descriptor; {@link spawnPrepared} or {@link discardPrepared} closes it. */
  fd: number;
}

/** A spawned instance process; `pid` is also its process group id. */
export interface Launched {
  child: ChildProcess;
  /** Undefined when the spawn failed (then `exited` resolves with `error`). */
  pid: number | undefined;
  port: number;
  /** Resolves once, when the process exits or fails to spawn. */
  exited: Promise<ExitInfo>;
}

/** Allocates a port, checks the cwd and opens the log with a start marker line. */
export async function prepareLaunch(plan: InstancePlan, id: string, host: string, logFile: string, attempt: number): Promise<Prepared> {
  const port = await freePort(host);
  const fd = await openLog(logFile, `=== switchyard ${new Date().toISOString()} start ${id} port=${port} attempt=${attempt} ===`);
  const cwdOk = await fs.promises.stat(plan.cwd).then((s) => s.isDirectory(), () => false);
  if (!cwdOk) {
    appendLine(logFile, `=== switchyard: working directory ${plan.cwd} does not exist ===`);
    closeFd(fd);
    throw new Error(`working directory ${plan.cwd} does not exist`);
  }
  return { plan, id, port, logFile, fd };
}

/** Closes what {@link prepareLaunch} opened without spawning. */
export function discardPrepared(p: Prepared): void {
  closeFd(p.fd);
}

/** Spawns the prepared instance (synchronously) and closes the parent's copy of the log fd. */
export function spawnPrepared(p: Prepared): Launched {
  const env: NodeJS.ProcessEnv = { ...process.env, ...p.plan.vars, PORT: String(p.port), SWITCHYARD_INSTANCE: p.id };
  let child: ChildProcess;
  try {
    child = spawn(p.plan.run, { shell: true, detached: true, cwd: p.plan.cwd, env, stdio: ['ignore', p.fd, p.fd] });
  } finally {
    closeFd(p.fd);
  }
  const exited = new Promise<ExitInfo>((resolve) => {
    let settled = false;
    const settle = (info: ExitInfo): void => {
      if (settled) return;
      settled = true;
      appendLine(p.logFile, `=== switchyard ${new Date().toISOString()} ${p.id} pid=${child.pid ?? '-'} ${describeExit(info)} ===`);
      resolve(info);
    };
    child.once('exit', (code, signal) => settle({ code, signal }));
    child.once('error', (error) => settle({ code: null, signal: null, error }));
  });
  return { child, pid: child.pid, port: p.port, exited };
}
