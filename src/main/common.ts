/**
 * @module main/common
 * Options and helpers shared by the composition roots (cleanup stack, discovery URLs, ports).
 */
import type { RequestLimits } from '../router/hygiene.js';
import { type Server } from 'node:http';
import { listen } from '../control/index.js';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer } from 'node:net';
import { Router } from '../router/index.js';
import { type AppSpec } from '../spec/index.js';

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
  /** The router's other HTTP/1.1 limits and timeouts (see `RequestLimits`). */
  limits?: Partial<RequestLimits>;
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
export function cleanupStack(log: Log) {
  const steps: (() => Promise<void> | void)[] = [];
  return {
    push: (f: () => Promise<void> | void) => steps.push(f),
    async run() { for (const f of steps.splice(0).reverse()) { try { await f(); } catch (err) { log('stop step failed', { err: String(err) }); } } },
  };
}

/** Discovery URL of each service: fixed ports from a base port, or the router's own. */
export function discoveryUrls(spec: AppSpec, host: string, ports: Record<string, number>): Record<string, string> {
  const h = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return Object.fromEntries(Object.entries(ports).map(([s, p]) => [s, `http://${h}:${p}`]));
}

export function internalPortsFrom(spec: AppSpec, base: number): Record<string, number> {
  return Object.fromEntries(Object.keys(spec.services).sort().map((s, i) => [s, base + i]));
}

/** Starts switchyard for one app in local mode. Resolves when base is healthy and every listener is up. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

/** Free loopback ports for listeners that worker processes will bind (bind 0, read, release). */
export async function freePorts(names: string[], host: string): Promise<Record<string, number>> {
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

export function closeServer(s: Server): Promise<void> {
  return new Promise<void>((r) => { s.close(() => r()); s.closeAllConnections(); });
}
