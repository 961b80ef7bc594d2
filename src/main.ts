/**
 * @module main
 * Composition roots. Every part is wired here by constructor injection; nothing registers
 * itself on import.
 * - {@link startLocal}: one owner process with the store (embedded PGlite by default), the control
 *   plane, the local runtime and a router — `switchyard up`.
 * - {@link startControl}: control plane and runtime only, on a shared PostgreSQL — `switchyard control`.
 * - {@link startRouterNode}: the data plane only, fed by the store's change feed — `switchyard router`.
 */
export { type Log, type CommonOptions, type LocalOptions, type RunningSwitchyard, internalPortsFrom } from './main/common.js';
export { startLocal } from './main/local.js';
export { startControl, type ControlOptions } from './main/control.js';
export { startRouterNode, type RouterNodeOptions, type RunningRouter } from './main/router-node.js';
