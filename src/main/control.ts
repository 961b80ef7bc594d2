/**
 * @module main/control
 * `switchyard control`: control plane and runtime on a shared PostgreSQL; routers run elsewhere.
 */
import { join } from 'node:path';
import { openBlobStore, parseBlobUrl } from '../blob/index.js';
import { AcmeIssuer } from '../edge/acme.js';
import { DbCertStore, DbChallengeStore, listAcmeStatus, recordAcmeStatus } from '../store/index.js';
import { Environments, Sites, createAdminServer, listen } from '../control/index.js';
import { swyError } from '../errors/index.js';
import { createLocalRuntime } from '../runtime/index.js';
import { loadSpecFile } from '../spec/index.js';
import { openStore, type Store } from '../store/index.js';
import { ensureDataDir } from './data-dir.js';
import { Log, CommonOptions, RunningSwitchyard, cleanupStack, discoveryUrls, internalPortsFrom, closeServer } from './common.js';

export interface ControlOptions extends CommonOptions {
  app: string;
  adminPort: number;
  /** Discovery ports the routers listen on (service i in name order gets base+i). */
  internalBasePort: number;
  /** Host routers' discovery ports are reached on. */
  discoveryHost?: string;
  /** Edge port shown in URLs. */
  edgePort: number;
  /** How long `env create`/`delete` wait for every live router to serve the change (ms). */
  propagationTimeoutMs?: number;
  /** ACME: order certificates for `<domain>` and every `<env>.<domain>` (HTTP-01 answered by the routers). */
  acme?: { directoryUrl: string; email: string; caBundle?: string };
}

/** Control plane + local runtime on a shared PostgreSQL; routers run as separate processes. */
export async function startControl(o: ControlOptions): Promise<RunningSwitchyard> {
  if (!(o.databaseUrl ?? process.env.SWITCHYARD_DATABASE_URL)) {
    throw swyError('SWY_BAD_REQUEST', '`switchyard control` needs a shared store: pass --database-url postgres://… (or set SWITCHYARD_DATABASE_URL)');
  }
  parseBlobUrl(o.blobUrl, '.'); // settings are checked before anything starts
  const spec = loadSpecFile(o.app);
  const dataDir = ensureDataDir(o.dataDir ?? join(spec.root, '.switchyard'));
  const cleanup = cleanupStack(o.log);
  try {
    const store = await openStore({ databaseUrl: o.databaseUrl, dataDir });
    cleanup.push(() => store.close());
    const runtime = createLocalRuntime({ logDir: join(dataDir, 'logs') });
    cleanup.push(() => runtime.stopAll());
    const discovery = discoveryUrls(spec, o.discoveryHost ?? '127.0.0.1', internalPortsFrom(spec, o.internalBasePort));
    let issuer: AcmeIssuer | undefined;
    if (o.acme) {
      const certStore = new DbCertStore(store);
      await certStore.start();
      cleanup.push(() => certStore.stop());
      const stored = await store.read((q) => q.query<{ value: string }>("SELECT value FROM secrets WHERE name = 'acme-account-key'"));
      const acmeIssuer = new AcmeIssuer({
        directoryUrl: o.acme.directoryUrl, email: o.acme.email, certStore, challengeStore: new DbChallengeStore(store),
        ...(o.acme.caBundle ? { caBundle: o.acme.caBundle } : {}),
        ...(stored.rows[0] ? { accountKeyPem: stored.rows[0].value } : {}),
        retry: { baseMs: 5_000, maxMs: 10 * 60_000 }, polling: { backoffMin: 250, backoffMax: 2_000, backoffAttempts: 30 }, tickMs: 5_000,
        onStatus: (st) => {
          void recordAcmeStatus(store, st).catch(() => undefined);
          const key = acmeIssuer.accountKeyPem;
          if (key && !stored.rows[0]) void store.secret('acme-account-key', () => key).catch(() => undefined);
        },
      });
      issuer = acmeIssuer;
      issuer.start();
      cleanup.push(() => acmeIssuer.stop());
    }
    const orderCert = (env: string) => { if (issuer) void issuer.ensure(env === 'base' ? spec.domain : `${env}.${spec.domain}`).catch((err) => o.log('certificate order failed', { env, err: String(err) })); };
    const environments = new Environments({
      store, runtime, spec, discovery, edgePort: () => o.edgePort, onCreated: orderCert,
      waitRoutable: (v) => waitForRouters(store, v, o.propagationTimeoutMs ?? 10_000, o.log), log: o.log,
    });
    await environments.prepare();
    await environments.startAll();
    const sites = new Sites({ store, blobs: openBlobStore(o.blobUrl, dataDir), spec, waitRoutable: (v) => waitForRouters(store, v, o.propagationTimeoutMs ?? 10_000, o.log), log: o.log });
    const admin = createAdminServer({
      environments, sites,
      logFile: (env, svc, replica) => runtime.logFile(env, svc, replica),
      status: async () => {
        const storeVersion = await store.version();
        const routers = await store.listRouters();
        return {
          app: spec.app, domain: spec.domain, spec: spec.file, mode: 'control', store: store.kind, storeVersion,
          routers: routers.map((r) => ({ ...r, upToDate: r.version >= storeVersion })),
          allRoutersUpToDate: routers.length > 0 && routers.every((r) => r.version >= storeVersion), discovery,
          ...(o.acme ? { certificates: await listAcmeStatus(store) } : {}),
        };
      },
    });
    const adminPort = await listen(admin, o.adminPort, o.host);
    cleanup.push(() => closeServer(admin));
    const adminUrl = `http://${o.host}:${adminPort}`;
    await sites.deployMissingBase();
    if (issuer) for (const e of await store.listEnvironments(spec.app)) orderCert(e.name);
    return { spec, edgeUrl: '', adminUrl, dataDir, stop: () => cleanup.run() };
  } catch (err) {
    await cleanup.run();
    throw err;
  }
}

/** Resolves when every router seen recently serves `version` (or after `timeoutMs`, logged). */
async function waitForRouters(store: Store, version: number, timeoutMs: number, log: Log): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const routers = await store.listRouters(5_000).catch(() => []);
    if (routers.length > 0 && routers.every((r) => r.version >= version)) return;
    if (Date.now() > deadline) { log('routers did not all reach the version in time', { version, routers }); return; }
    await new Promise((r) => setTimeout(r, 5));
  }
}
