/**
 * @module main/router-node
 * `switchyard router`: one router replica fed by the store's change feed.
 */
import { createServer, type Server } from 'node:http';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { openBlobStore, parseBlobUrl } from '../blob/index.js';
import { CertificateManager } from '../edge/cert-store.js';
import { DbCertStore, DbChallengeStore } from '../store/index.js';
import { buildEdge } from '../router/edge-setup.js';
import type { RequestLimits } from '../router/hygiene.js';
import { SnapshotPublisher, listen } from '../control/index.js';
import { swyError } from '../errors/index.js';
import { Router } from '../router/index.js';
import { type AppSpec } from '../spec/index.js';
import { openStore, type Store } from '../store/index.js';
import { ensureAccessLog } from './access-log-path.js';
import { CommonOptions, cleanupStack, internalPortsFrom, closeServer } from './common.js';

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
  /** Request limits and timeouts of the HTTP/1.1 engine (body, head, timeouts). */
  limits?: Partial<RequestLimits>;
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
  // Settings are checked before anything starts.
  parseBlobUrl(o.blobUrl, '.');
  const accessLog = ensureAccessLog(o.accessLog ?? '');
  const cleanup = cleanupStack(o.log);
  try {
    const store = await openStore({ databaseUrl: o.databaseUrl, dataDir: o.dataDir ?? '.switchyard' });
    cleanup.push(() => store.close());
    const app = o.appName ?? await onlyApp(store);
    const spec = await store.getAppSpec<AppSpec>(app);
    if (!spec) throw swyError('SWY_NOT_FOUND', `app "${app}" is not in the store; start \`switchyard control\` first`);
    const edgeParts = buildEdge({
      serverSecret: await store.secret('session-secret', () => randomBytes(32).toString('base64url')),
      trustedProxies: spec.trustedProxies ?? [], accessLog,
      ...(spec.https?.redirect && (spec.https.redirectPort ?? o.httpsPort) ? { redirectToHttpsPort: spec.https.redirectPort ?? o.httpsPort! } : {}),
      ...(spec.https?.hstsMaxAgeSeconds !== undefined ? { hstsMaxAgeSeconds: spec.https.hstsMaxAgeSeconds } : {}),
      ...(o.limits !== undefined ? { limits: o.limits } : {}),
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
