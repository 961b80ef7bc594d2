/**
 * @module main/local
 * `switchyard up`: one owner process with the store, control plane, runtime and router workers.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { AggregatorRegistry } from 'prom-client';
import { openBlobStore, parseBlobUrl } from '../blob/index.js';
import { loadOrCreateLocalCa } from '../control/tls.js';
import { buildEdge, edgeSettingsToEnv, type EdgeParts, type EdgeSettings } from '../router/edge-setup.js';
import { Environments, Sites, SnapshotPublisher, createAdminServer, listen } from '../control/index.js';
import { Router, RouterWorkers } from '../router/index.js';
import { createLocalRuntime } from '../runtime/index.js';
import { loadSpecFile } from '../spec/index.js';
import { openStore } from '../store/index.js';
import { ensureAccessLog } from './access-log-path.js';
import { ensureDataDir } from './data-dir.js';
import { LocalOptions, RunningSwitchyard, cleanupStack, discoveryUrls, internalPortsFrom, isLoopback, freePorts, closeServer } from './common.js';

export async function startLocal(o: LocalOptions): Promise<RunningSwitchyard> {
  parseBlobUrl(o.blobUrl, '.'); // settings are checked before anything starts
  const spec = loadSpecFile(o.app);
  const dataDir = ensureDataDir(o.dataDir ?? join(spec.root, '.switchyard'));
  const accessLog = ensureAccessLog(o.accessLog ?? join(dataDir, 'logs', 'access.log'));
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
      accessLog,
      ...(ca ? { tls: { caCertPem: ca.certPem, caKeyPem: ca.keyPem, domains: [spec.domain] } } : {}),
      ...(spec.https.hstsMaxAgeSeconds !== undefined ? { hstsMaxAgeSeconds: spec.https.hstsMaxAgeSeconds } : {}),
      ...(o.maxBodyBytes !== undefined ? { maxBodyBytes: o.maxBodyBytes } : {}),
      ...(o.limits !== undefined ? { limits: o.limits } : {}),
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
        app: spec.app, domain: spec.domain, spec: spec.file, mode: 'local', store: store.kind,
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
