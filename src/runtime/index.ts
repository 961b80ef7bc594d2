/**
 * @module runtime — runs service instances and reports their status: `local` spawns processes
 * on this machine; a Kubernetes runtime implements the same {@link Runtime} contract.
 */
export type * from './types.js';
export { createLocalRuntime, reapOrphans, type LocalRuntimeOptions } from './local/index.js';
