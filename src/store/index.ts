/** @module store — schema, migrations, queries and the change feed (PGlite embedded; PostgreSQL later). */
export { Store, type EnvironmentRecord, type InstanceRecord, type ServiceOverride, type ChangeListener, type RouterRecord } from './store.js';
export { openPostgresDriver, isUnavailable, CHANGE_CHANNEL } from './postgres.js';
export { openStore } from './open.js';
export { openPgliteDriver } from './pglite.js';
export type { SqlDriver, Queryable } from './driver.js';
export { MIGRATIONS } from './migrations.js';
export { readRouteTable, readRouteDelta } from './route-table.js';
export { activateNewDeploy, rollbackDeploy, listDeploys, referencedBlobHashes, type DeployRecord } from './deploys.js';
export { DbCertStore, DbChallengeStore, recordAcmeStatus, listAcmeStatus } from './certs.js';
