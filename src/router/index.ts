/** @module router — listeners, proxying and policies of the data plane; serves from a snapshot, never the store. */
export { Router, type RouterOptions } from './router.js';
export { UpstreamPools, DEFAULT_TIMEOUTS, type UpstreamTimeouts } from './upstreams.js';
export { RouterWorkers, type WorkerStatus } from './workers.js';
