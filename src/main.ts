/**
 * @module main
 * Composition roots. Every part is wired here by constructor injection; nothing registers
 * itself on import.
 * - {@link startLocal}: one owner process with the store (embedded PGlite by default), the control
 *   plane, the local runtime and a router — `switchyard up`.
 * - {@link startControl}: control plane and runtime only, on a shared PostgreSQL — `switchyard control`.
 * - {@link startRouterNode}: the data plane only, fed by the store's change feed — `switchyard router`.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { AggregatorRegistry } from 'prom-client';
import { openBlobStore } from './blob/index.js';
import { loadOrCreateLocalCa } from './control/tls.js';
import { AcmeIssuer } from './edge/acme.js';
import { CertificateManager } from './edge/cert-store.js';
import { DbCertStore, DbChallengeStore, listAcmeStatus, recordAcmeStatus } from './store/index.js';
import { buildEdge, edgeSettingsToEnv, type EdgeParts, type EdgeSettings } from './router/edge-setup.js';
import { Environments, Sites, SnapshotPublisher, createAdminServer, listen } from './control/index.js';
import { swyError } from './errors/index.js';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer } from 'node:net';
import { Router, RouterWorkers } from './router/index.js';
import { createLocalRuntime } from './runtime/index.js';
import { loadSpecFile, type AppSpec } from './spec/index.js';
import { openStore, type Store } from './store/index.js';

export type Log = (msg: string, extra?: object) => void;

export interface CommonOptions {
  /** State folder (embedded store, logs); default `<app folder>/.switchyard`. */
  dataDir?: string;
  /** `postgres://…` selects PostgreSQL; absent = embedded PGlite. */
  databaseUrl?: string;
  /** Blob store for site deploys (`file:///…`, `s3://bucket/prefix?endpoint=…`); default `<dataDir>/blobs`. */
  blobUrl?: string;
  /** Listen address of every listener. */
  host: string;
  log: Log;
}

export interface LocalOptions extends CommonOptions {
  /** Spec file or folder holding `switchyard.yaml`. */
  app: string;
  /** Edge port (0 = any free port). */
  port: number;
  /** Admin API port (0 = any free port). */
  adminPort: number;
  /** First discovery port (service i in name order gets base+i); 0 = free ports. */
  internalBasePort?: number;
  /** Router worker processes (node:cluster); 0 = route inside the owner process. */
  workers?: number;
  /** Drain deadline on stop (ms). */
  drainMs?: number;
  /** Aborts start-up (Ctrl-C before ready): everything started so far is stopped. */
  signal?: AbortSignal;
  /** HTTPS edge port (0 = any free port; undefined = no HTTPS listener). */
  httpsPort?: number;
  /** Access log: `stdout`, a file path, or '' for none; default `<dataDir>/logs/access.log`. */
  accessLog?: string;
  /** Largest request body at the edge (bytes); default 100 MiB. */
  maxBodyBytes?: number;
}

export interface RunningSwitchyard {
  spec: AppSpec;
  edgeUrl: string;
  /** HTTPS edge, when enabled. */
  httpsUrl?: string;
  /** Local CA certificate (trust it to use the HTTPS edge). */
  caPath?: string;
  adminUrl: string;
  dataDir: string;
  stop(): Promise<void>;
}

/** Runs cleanup steps in reverse order, logging failures; used by every composition. */
function cleanupStack(log: Log) {
  const steps: (() => Promise<void> | void)[] = [];
  return {
    push: (f: () => Promise<void> | void) => steps.push(f),
    async run() { for (const f of steps.splice(0).reverse()) { try { await f(); } catch (err) { log('stop step failed', { err: String(err) }); } } },
  };
}

/** Discovery URL of each service: fixed ports from a base port, or the router's own. */
function discoveryUrls(spec: AppSpec, host: string, ports: Record<string, number>): Record<string, string> {
  const h = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return Object.fromEntries(Object.entries(ports).map(([s, p]) => [s, `http://${h}:${p}`]));
}

export function internalPortsFrom(spec: AppSpec, base: number): Record<string, number> {
  return Object.fromEntries(Object.keys(spec.services).sort().map((s, i) => [s, base + i]));
}

/** Starts switchyard for one app in local mode. Resolves when base is healthy and every listener is up. */
export async function startLocal(o: LocalOptions): Promise<RunningSwitchyard> {
  const spec = loadSpecFile(o.app);
  const dataDir = o.dataDir ?? join(spec.root, '.switchyard');
  mkdirSync(dataDir, { recursive: true });
  const cleanup = cleanupStack(o.log);
  const workerCount = o.workers ?? 0;
  try {
    const store = await openStore({ databaseUrl: o.databaseUrl, dataDir });
    cleanup.push(() => store.close());

    // Edge settings shared by the owner and every router worker.
    const ca = o.httpsPort !== undefined ? await loadOrCreateLocalCa(store, dataDir, spec.app) : undefined;
    const edgeSettings: EdgeSettings = {
      serverSecret: await store.secret('session-secret', () => randomBytes(32).toString('base64url')),
      trustedProxies: spec.trustedProxies,
      accessLog: o.accessLog ?? join(dataDir, 'logs', 'access.log'),
      ...(ca ? { tls: { caCertPem: ca.certPem, caKeyPem: ca.keyPem, domains: [spec.domain] } } : {}),
      ...(spec.https.hstsMaxAgeSeconds !== undefined ? { hstsMaxAgeSeconds: spec.https.hstsMaxAgeSeconds } : {}),
      ...(o.maxBodyBytes !== undefined ? { maxBodyBytes: o.maxBodyBytes } : {}),
    };
    if (o.httpsPort === 0 && spec.https.redirect && !spec.https.redirectPort) o = { ...o, httpsPort: (await freePorts(['https'], o.host)).https! };
    if (spec.https.redirect && o.httpsPort !== undefined) edgeSettings.redirectToHttpsPort = spec.https.redirectPort ?? o.httpsPort;
    // The data plane: router workers (separate processes), or a router in this process.
    let router: Router | undefined;
    let edge: EdgeParts | undefined;
    let internalPorts: Record<string, number> = {};
    if (workerCount > 0) {
      // Workers bind these (0 = a port node:cluster picks once and shares among the workers).
      internalPorts = o.internalBasePort ? internalPortsFrom(spec, o.internalBasePort) : Object.fromEntries(Object.keys(spec.services).sort().map((s) => [s, 0]));
    } else {
      edge = buildEdge(edgeSettings);
      const e = edge;
      cleanup.push(() => e.accessLog?.close());
      router = new Router({ blobStore: openBlobStore(o.blobUrl, dataDir), policies: edge.policies, accessLog: edge.accessLog, metrics: edge.metrics, ...edge.routerOptions });
      const r = router;
      cleanup.push(() => r.close(o.drainMs ?? 2_000));
      internalPorts = o.internalBasePort
        ? await router.listenInternalOn(internalPortsFrom(spec, o.internalBasePort), o.host)
        : await router.listenInternal(Object.keys(spec.services), o.host);
    }
    // Filled in once the data plane listens (the runtime reads it when it starts instances).
    const discovery: Record<string, string> = router ? discoveryUrls(spec, o.host, internalPorts) : {};

    const runtime = createLocalRuntime({ logDir: join(dataDir, 'logs') });
    cleanup.push(() => runtime.stopAll());

    const publisher = new SnapshotPublisher(store, spec.app, o.log);
    let edgePort = o.port;
    let workers: RouterWorkers | undefined;
    const environments = new Environments({
      store, runtime, spec, discovery, edgePort: () => edgePort,
      waitRoutable: (v) => (workers ? workers.waitForVersion(v) : router!.waitForVersion(v)), log: o.log,
    });
    await environments.prepare();
    publisher.onSnapshot((s, update) => { router?.setSnapshot(s); workers?.broadcast(update); });
    await publisher.start();
    cleanup.push(() => publisher.stop());
    let httpsPort = o.httpsPort;
    if (workerCount > 0) {
      // Workers start before the instances: the discovery ports instances are given must be bound.
      const w = new RouterWorkers(workerCount, { host: o.host, edgePort, internal: internalPorts, ...(httpsPort !== undefined ? { httpsPort } : {}) }, () => publisher.currentTable(), o.log,
        { SWITCHYARD_BLOB_URL: o.blobUrl ?? '', SWITCHYARD_DATA_DIR: dataDir, ...edgeSettingsToEnv(edgeSettings) });
      workers = w;
      cleanup.push(() => w.stop(o.drainMs ?? 2_000));
      o.signal?.throwIfAborted();
      await w.start();
      const bound = w.ports!;
      edgePort = bound.edge;
      if (bound.https !== undefined) httpsPort = bound.https;
      Object.assign(discovery, discoveryUrls(spec, o.host, bound.internal));
    }
    await environments.startAll(o.signal);
    o.signal?.throwIfAborted();
    const sites = new Sites({ store, blobs: openBlobStore(o.blobUrl, dataDir), spec, waitRoutable: (v) => (workers ? workers.waitForVersion(v) : router!.waitForVersion(v)), log: o.log });

    const aggregator = new AggregatorRegistry();
    const admin = createAdminServer({
      environments, sites, store, loopbackOnly: isLoopback(o.host),
      caPath: ca?.certPath,
      metrics: async () => (workers ? { contentType: aggregator.contentType, text: await aggregator.clusterMetrics() } : { contentType: edge!.metrics.contentType, text: await edge!.metrics.text() }),
      logFile: (env, svc, replica) => runtime.logFile(env, svc, replica),
      status: async () => ({
        app: spec.app, domain: spec.domain, mode: 'local', store: store.kind,
        storeVersion: await store.version(), snapshotVersion: publisher.current?.version ?? 0,
        routers: workers
          ? workers.status().map((w) => ({ id: `worker-${w.id}`, pid: w.pid, version: w.version, listening: w.listening, ...(w.lastError ? { lastError: w.lastError } : {}) }))
          : [{ id: `local-${process.pid}`, pid: process.pid, version: router!.version, listening: true }],
        edge: `http://${o.host}:${edgePort}`, discovery,
      }),
    });
    const adminPort = await listen(admin, o.adminPort, o.host);
    cleanup.push(() => closeServer(admin));
    if (workerCount === 0) {
      edgePort = await router!.listenEdge(o.port, o.host);
      if (httpsPort !== undefined && edge?.certs) httpsPort = await router!.listenHttps(edge.certs, httpsPort, o.host);
    }
    await sites.deployMissingBase();
    const edgeUrl = `http://${o.host}:${edgePort}`;
    const adminUrl = `http://${o.host}:${adminPort}`;
    const infoFile = join(dataDir, 'admin.json');
    writeFileSync(infoFile, JSON.stringify({ adminUrl, edgeUrl, pid: process.pid }) + '\n');
    cleanup.push(() => rmSync(infoFile, { force: true }));
    o.signal?.throwIfAborted();
    return {
      spec, edgeUrl, adminUrl, dataDir, stop: () => cleanup.run(),
      ...(httpsPort !== undefined ? { httpsUrl: `https://${o.host}:${httpsPort}` } : {}), ...(ca ? { caPath: ca.certPath } : {}),
    };
  } catch (err) {
    await cleanup.run();
    throw err;
  }
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

/** Free loopback ports for listeners that worker processes will bind (bind 0, read, release). */
async function freePorts(names: string[], host: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  const held: NetServer[] = [];
  for (const n of names) {
    const srv = createNetServer();
    await new Promise<void>((resolve, reject) => { srv.once('error', reject); srv.listen(0, host, () => resolve()); });
    held.push(srv);
    out[n] = (srv.address() as AddressInfo).port;
  }
  await Promise.all(held.map((srv) => new Promise<void>((r) => srv.close(() => r()))));
  return out;
}

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
  const spec = loadSpecFile(o.app);
  const dataDir = o.dataDir ?? join(spec.root, '.switchyard');
  mkdirSync(dataDir, { recursive: true });
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
          app: spec.app, domain: spec.domain, mode: 'control', store: store.kind, storeVersion,
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

export interface RouterNodeOptions extends CommonOptions {
  /** App name in the store; default: the only app there. */
  appName?: string;
  port: number;
  adminPort: number;
  internalBasePort: number;
  /** Router id reported to the control plane; default `<hostname>-<pid>`. */
  id?: string;
  /** Drain deadline on stop (ms). */
  drainMs?: number;
  /** HTTPS edge port, serving certificates from the store (ACME); undefined = none. */
  httpsPort?: number;
  /** Access log: `stdout`, a file path, or '' (default) for none. */
  accessLog?: string;
}

export interface RunningRouter { id: string; edgeUrl: string; adminUrl: string; httpsUrl?: string; stop(): Promise<void> }

/**
 * A router replica: serves from the snapshot the store's feed keeps current, reports the version
 * it serves, and keeps serving its last snapshot while the store is away.
 */
export async function startRouterNode(o: RouterNodeOptions): Promise<RunningRouter> {
  if (!(o.databaseUrl ?? process.env.SWITCHYARD_DATABASE_URL)) {
    throw swyError('SWY_BAD_REQUEST', '`switchyard router` needs a shared store: pass --database-url postgres://… (or set SWITCHYARD_DATABASE_URL)');
  }
  const cleanup = cleanupStack(o.log);
  try {
    const store = await openStore({ databaseUrl: o.databaseUrl, dataDir: o.dataDir ?? '.switchyard' });
    cleanup.push(() => store.close());
    const app = o.appName ?? await onlyApp(store);
    const spec = await store.getAppSpec<AppSpec>(app);
    if (!spec) throw swyError('SWY_NOT_FOUND', `app "${app}" is not in the store; start \`switchyard control\` first`);
    const edgeParts = buildEdge({
      serverSecret: await store.secret('session-secret', () => randomBytes(32).toString('base64url')),
      trustedProxies: spec.trustedProxies ?? [], accessLog: o.accessLog ?? '',
      ...(spec.https?.redirect && (spec.https.redirectPort ?? o.httpsPort) ? { redirectToHttpsPort: spec.https.redirectPort ?? o.httpsPort! } : {}),
      ...(spec.https?.hstsMaxAgeSeconds !== undefined ? { hstsMaxAgeSeconds: spec.https.hstsMaxAgeSeconds } : {}),
    });
    cleanup.push(() => edgeParts.accessLog?.close());
    const router = new Router({
      blobStore: openBlobStore(o.blobUrl, o.dataDir ?? '.switchyard'), policies: edgeParts.policies, accessLog: edgeParts.accessLog,
      metrics: edgeParts.metrics, acmeChallenges: new DbChallengeStore(store), ...edgeParts.routerOptions,
    });
    const id = o.id ?? `${hostname()}-${process.pid}`;
    let edgeUrl = '';
    // Reports the served version once listening (like an Envoy ACK); failures are retried by the heartbeat.
    const report = async () => { if (edgeUrl) await store.reportRouter({ id, url: edgeUrl, version: router.version }).catch(() => undefined); };
    const publisher = new SnapshotPublisher(store, app, o.log);
    publisher.onSnapshot((s) => { router.setSnapshot(s); void report(); });
    await publisher.start(); // the current snapshot before listening
    cleanup.push(() => publisher.stop());
    const internal = await router.listenInternalOn(internalPortsFrom(spec, o.internalBasePort), o.host);
    const edgePort = await router.listenEdge(o.port, o.host);
    cleanup.push(() => router.close(o.drainMs ?? 5_000));
    let httpsUrl: string | undefined;
    if (o.httpsPort !== undefined) {
      const certStore = new DbCertStore(store);
      await certStore.start();
      cleanup.push(() => certStore.stop());
      const p = await router.listenHttps(new CertificateManager({ store: certStore }), o.httpsPort, o.host);
      httpsUrl = `https://${o.host}:${p}`;
    }
    edgeUrl = `http://${o.host}:${edgePort}`;
    const status: Server = createServer((req, res) => {
      if (req.url === '/metrics') { void edgeParts.metrics.text().then((t) => res.writeHead(200, { 'content-type': edgeParts.metrics.contentType }).end(t)); return; }
      const body = JSON.stringify({ id, app, mode: 'router', snapshotVersion: router.version, edge: edgeUrl, https: httpsUrl ?? null, internal, storeError: publisher.lastError ? String(publisher.lastError) : null });
      res.writeHead(req.url === '/status' || req.url === '/healthz' ? 200 : 404, { 'content-type': 'application/json' }).end(body);
    });
    const adminPort = await listen(status, o.adminPort, o.host);
    cleanup.push(() => closeServer(status));
    const adminUrl = `http://${o.host}:${adminPort}`;
    await report();
    const heartbeat = setInterval(() => void report(), 1_000);
    cleanup.push(() => { clearInterval(heartbeat); return store.removeRouter(id).catch(() => undefined); });
    return { id, edgeUrl, adminUrl, ...(httpsUrl ? { httpsUrl } : {}), stop: () => cleanup.run() };
  } catch (err) {
    await cleanup.run();
    throw err;
  }
}

async function onlyApp(store: Store): Promise<string> {
  const { rows } = await store.read((q) => q.query<{ name: string }>('SELECT name FROM apps ORDER BY name'));
  if (rows.length === 1) return rows[0]!.name;
  throw swyError('SWY_BAD_REQUEST', rows.length === 0 ? 'the store holds no app yet; start `switchyard control` first' : `the store holds several apps (${rows.map((r) => r.name).join(', ')}); pass --app-name`);
}

function closeServer(s: Server): Promise<void> {
  return new Promise<void>((r) => { s.close(() => r()); s.closeAllConnections(); });
}
