/** @module control — the control plane: admin API, environment lifecycle, snapshot publishing. */
export { Environments, validateName, type EnvironmentView, type CreateEnvironmentInput } from './environments.js';
export { SnapshotPublisher } from './publisher.js';
export { createAdminServer, listen, CreateEnvironmentBody } from './api.js';
export { Sites } from './sites.js';
