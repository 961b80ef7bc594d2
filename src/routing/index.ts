/**
 * @module routing — the routing rules, pure: a route table is compiled into an immutable
 * snapshot; a request (host, header, baggage, path) is resolved against it. No I/O, no timers,
 * no `node:` imports (a test enforces this).
 */
export { compileSnapshot, applyDelta, NO_BASE } from './compile.js';
export { EnvIndex } from './env-index.js';
export { resolveEdge, resolveInternal } from './resolve.js';
export { normaliseHost, baggageMember, setBaggageMember } from './host.js';
export { referenceResolveEdge, referenceResolveInternal, type PlainDecision } from './reference.js';
export type * from './types.js';
