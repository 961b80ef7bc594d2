/**
 * @module runtime/local — the local process runtime: each instance is a shell command in its own
 * process group, on a free loopback port, health-checked, restarted with backoff after a crash,
 * logging to a file, and stopped with SIGTERM then SIGKILL.
 */
export { createLocalRuntime, type LocalRuntimeOptions } from './runtime.js';
export { freePort } from './port.js';
export { terminateGroup, groupAlive } from './process-group.js';
export { probeHttp, probeTcp, type ProbeResult } from './probe.js';
export { backoffDelay, BACKOFF_INITIAL_MS, BACKOFF_MAX_MS, BACKOFF_RESET_AFTER_MS } from './timing.js';
export { tailLines } from './logs.js';
export { reapOrphans, isOurInstance, type OrphanCandidate } from './reap.js';
