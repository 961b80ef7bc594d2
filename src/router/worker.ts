/**
 * @module router/worker
 * Entry point of a router worker process (node:cluster). It holds only the routing snapshot —
 * no store, no control plane — so its memory is the router's own. It compiles what the owner
 * sends, serves from it, ACKs each version, and on `drain` stops accepting, lets in-flight
 * requests finish up to the deadline, then exits.
 */
import { AggregatorRegistry } from 'prom-client';
import { openBlobStore } from '../blob/index.js';
import { buildEdge, edgeSettingsFromEnv } from './edge-setup.js';
import { applyDelta, compileSnapshot, type Snapshot } from '../routing/index.js';
import type { FromWorker, ToWorker } from './ipc.js';
import { Router } from './router.js';

// The blob store (for site deploys) is opened from the same setting as the owner's.
const settings = edgeSettingsFromEnv();
const edge = settings ? buildEdge(settings) : undefined;
if (edge) {
  // The owner's /metrics aggregates every worker: the constructor installs prom-client's IPC listener.
  new AggregatorRegistry();
  AggregatorRegistry.setRegistries([edge.metrics.registry]);
}
const router = new Router({
  blobStore: openBlobStore(process.env.SWITCHYARD_BLOB_URL || undefined, process.env.SWITCHYARD_DATA_DIR ?? '.switchyard'),
  ...(edge ? { policies: edge.policies, accessLog: edge.accessLog, metrics: edge.metrics, ...edge.routerOptions } : {}),
});
let snap: Snapshot | undefined;
const send = (m: FromWorker) => { if (process.connected) process.send!(m); };

process.on('message', (m: ToWorker) => {
  switch (m.type) {
    case 'swy:table':
      try {
        snap = compileSnapshot(m.table, snap);
        router.setSnapshot(snap);
        send({ type: 'swy:ack', version: snap.version });
      } catch (err) { send({ type: 'swy:nack', version: m.table.version, error: String(err) }); }
      return;
    case 'swy:delta':
      if (!snap) { send({ type: 'swy:nack', version: m.delta.version, error: 'delta before any table' }); return; }
      try {
        snap = applyDelta(snap, m.delta);
        router.setSnapshot(snap);
        send({ type: 'swy:ack', version: snap.version });
      } catch (err) { send({ type: 'swy:nack', version: m.delta.version, error: String(err) }); }
      return;
    case 'swy:listen': {
      // Listening comes after the first table: a (re)started worker never serves without a snapshot.
      // The listen calls run in the same order in every worker, so port 0 maps to the same shared port.
      const l = m.listen;
      const names = Object.keys(l.internal).sort();
      void (async () => {
        const edgePort = await router.listenEdge(l.edgePort, l.host);
        const internal: Record<string, number> = {};
        for (const n of names) Object.assign(internal, await router.listenInternalOn({ [n]: l.internal[n]! }, l.host));
        const https = l.httpsPort !== undefined && edge?.certs ? await router.listenHttps(edge.certs, l.httpsPort, l.host) : undefined;
        send({ type: 'swy:listening', ports: { edge: edgePort, internal, ...(https !== undefined ? { https } : {}) } });
      })().catch((err) => send({ type: 'swy:listen-error', error: String(err) }));
      return;
    }
    case 'swy:drain':
      void router.close(m.drainMs).then(() => edge?.accessLog?.close()).then(() => process.exit(0));
      return;
  }
});
// Messages sent before this module's listener exists would be lost: say when we can hear.
send({ type: 'swy:hello' });
// The owner going away (crash) must not leave a worker serving alone.
process.on('disconnect', () => { void router.close(1_000).then(() => process.exit(0)); });
process.on('SIGTERM', () => { /* the owner drives shutdown through `drain` */ });
process.on('SIGINT', () => { /* Ctrl-C reaches the whole process group: the owner drives shutdown */ });
