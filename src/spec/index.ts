/** @module spec — parse, validate and default `switchyard.yaml` (the only reader of raw YAML). */
export { loadSpecFile, parseSpec, findSpecFile, normalisePrefix } from './load.js';
export { SpecSchema, specJsonSchema, DNS_LABEL, type AppSpec, type ServiceSpec, type HealthCheckSpec, type AccessSpec, type SiteSpec } from './schema.js';
