/**
 * @module main
 * The composition root of local mode: one owner process holds the embedded store (with its
 * lock), the control plane, the local runtime and the router. Every part is wired here by
 * constructor injection; nothing registers itself on import.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Environments, SnapshotPublisher, createAdminServer, listen } from './control/index.js';
import { Router } from './router/index.js';
import { createLocalRuntime } from './runtime/index.js';
import { loadSpecFile, type AppSpec } from './spec/index.js';
import { Store, openPgliteDriver } from './store/index.js';

export interface LocalOptions {
  /** Spec file or folder holding `switchyard.yaml`. */
  app: string;
  /** State folder; default `<app folder>/.switchyard`. */
  dataDir?: string;
  /** Edge port (0 = any free port). */
  port: number;
  /** Admin API port (0 = any free port). */
  adminPort: number;
  /** Listen address of edge and admin API. */
  host: string;
  log: (msg: string, extra?: object) => void;
}

export interface RunningSwitchyard {
  spec: AppSpec;
  edgeUrl: string;
  adminUrl: string;
  dataDir: string;
  stop(): Promise<void>;
}

/** Starts switchyard for one app in local mode. Resolves when base is healthy and every listener is up. */
export async function startLocal(o: LocalOptions): Promise<RunningSwitchyard> {
  const spec = loadSpecFile(o.app);
  const dataDir = o.dataDir ?? join(spec.root, '.switchyard');
  mkdirSync(dataDir, { recursive: true });
  const cleanups: (() => Promise<void> | void)[] = [];
  const stop = async () => { for (const c of cleanups.splice(0).reverse()) { try { await c(); } catch (err) { o.log('stop step failed', { err: String(err) }); } } };
  try {
    const store = new Store(await openPgliteDriver(join(dataDir, 'store')));
    cleanups.push(() => store.close());
    await store.migrate();

    const router = new Router();
    cleanups.push(() => router.close(2_000));
    const internalPorts = await router.listenInternal(Object.keys(spec.services));
    const discovery = Object.fromEntries(Object.entries(internalPorts).map(([s, p]) => [s, `http://127.0.0.1:${p}`]));

    const runtime = createLocalRuntime({ logDir: join(dataDir, 'logs') });
    cleanups.push(() => runtime.stopAll());

    const publisher = new SnapshotPublisher(store, spec.app, o.log);
    let edgePort = o.port;
    const environments = new Environments({
      store, runtime, spec, discovery, edgePort: () => edgePort,
      waitRoutable: (v) => router.waitForVersion(v), log: o.log,
    });
    await environments.prepare();
    publisher.onSnapshot((s) => router.setSnapshot(s));
    await publisher.start();
    cleanups.push(() => publisher.stop());
    await environments.startAll();

    const admin = createAdminServer({
      environments,
      logFile: (env, svc, replica) => runtime.logFile(env, svc, replica),
      status: async () => ({
        app: spec.app, domain: spec.domain, mode: 'local', store: store.kind,
        storeVersion: await store.version(), snapshotVersion: router.version,
        routers: [{ id: `local-${process.pid}`, version: router.version }],
        edge: `http://${o.host}:${edgePort}`, discovery,
      }),
    });
    const adminPort = await listen(admin, o.adminPort, o.host);
    cleanups.push(() => new Promise<void>((r) => { admin.close(() => r()); admin.closeAllConnections(); }));
    edgePort = await router.listenEdge(o.port, o.host);
    const edgeUrl = `http://${o.host}:${edgePort}`;
    const adminUrl = `http://${o.host}:${adminPort}`;
    const infoFile = join(dataDir, 'admin.json');
    writeFileSync(infoFile, JSON.stringify({ adminUrl, edgeUrl, pid: process.pid }) + '\n');
    cleanups.splice(1, 0, () => rmSync(infoFile, { force: true }));
    return { spec, edgeUrl, adminUrl, dataDir, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
