/**
 * @module runtime/types
 * The contract every runtime (local processes, Kubernetes) fulfils: start instances from plans,
 * report their status as it changes, stop them. Plans are plain data built by the control plane.
 */

/** What to run for one instance: one replica of one service in one environment. */
export interface InstancePlan {
  env: string;
  service: string;
  /** Replica index (the runtime does not interpret it beyond naming). */
  replica: number;
  /** Shell command, run as `/bin/sh -c run`. It must listen on `$PORT`. */
  run: string;
  /** Absolute working directory of the command. */
  cwd: string;
  /** Extra environment variables; the runtime adds `PORT` and `SWITCHYARD_INSTANCE` itself. */
  vars: Record<string, string>;
  /**
   * HTTP health check; without it an instance is ready when its port accepts TCP connections.
   * `path` starts with `/`; `intervalMs`, `timeoutMs` and `startupTimeoutMs` are milliseconds.
   */
  health?: { path: string; intervalMs: number; timeoutMs: number; startupTimeoutMs: number };
}

/** Lifecycle state of an instance. */
export type InstanceState = 'starting' | 'healthy' | 'unhealthy' | 'crashed' | 'stopped';

/** A point-in-time view of one instance (a copy; mutating it changes nothing). */
export interface InstanceStatus {
  /** `${env}/${service}/${replica}` */
  id: string;
  env: string;
  service: string;
  replica: number;
  /** Address the instance listens on, `127.0.0.1` locally. */
  host: string;
  /** Port allocated by the runtime and given to the process as `PORT`; 0 before the first launch. */
  port: number;
  /** PID of the process (leader of its own process group); undefined when none is running. */
  pid: number | undefined;
  state: InstanceState;
  /** How many times the instance was restarted after a crash. */
  restarts: number;
  /** Absolute path of the instance's log file (stdout and stderr). */
  logFile: string;
}

/** A runtime: runs instances somewhere and reports on them. */
export interface Runtime {
  readonly id: string;
  /** Starts the instances; resolves when every one is healthy. On any failure (spawn error, exit before healthy, startup timeout, aborted signal) it stops ALL instances it started in this call and rejects with SWY_INSTANCE_UNHEALTHY whose message names the instance and says why, including the last ~20 lines of its log. */
  start(plans: InstancePlan[], opts?: { signal?: AbortSignal }): Promise<InstanceStatus[]>;
  /** Stops every instance of an environment (SIGTERM to the process group, SIGKILL after the grace period), resolves when they are gone. */
  stopEnvironment(env: string): Promise<void>;
  /** Stops every instance of every environment (used on shutdown); leaves no timers behind. */
  stopAll(): Promise<void>;
  /** Current status of every instance the runtime holds. */
  list(): InstanceStatus[];
  /** Called on every state change (starting→healthy, healthy→unhealthy, crashed, restarted with new pid/port, stopped). */
  onStatus(listener: (s: InstanceStatus) => void): () => void;
  /** Path of the log file of one instance (`replica` defaults to 0). */
  logFile(env: string, service: string, replica?: number): string;
}
