/**
 * @module router/ipc
 * Messages between the owner process and its router workers (node:cluster IPC). The owner
 * sends plain data (a whole route table, or a delta); each worker compiles it and answers with
 * the version it now serves (like an Envoy ACK), or the error that made it keep the old one (NACK).
 */
import type { RouteDelta, RouteTable } from '../routing/index.js';

export interface ListenSpec {
  host: string;
  edgePort: number;
  /** service → discovery port */
  internal: Record<string, number>;
  /** HTTPS edge port (local CA certificates; settings come through the worker's environment). */
  httpsPort?: number;
}

/** Ports a worker bound; with port 0, node:cluster gives every worker the same ports (same listen order). */
export interface BoundPorts { edge: number; internal: Record<string, number>; https?: number }

export type ToWorker =
  | { type: 'swy:table'; table: RouteTable }
  | { type: 'swy:delta'; delta: RouteDelta }
  | { type: 'swy:listen'; listen: ListenSpec }
  | { type: 'swy:drain'; drainMs: number };

export type FromWorker =
  | { type: 'swy:hello' }
  | { type: 'swy:ack'; version: number }
  | { type: 'swy:nack'; version: number; error: string }
  | { type: 'swy:listening'; ports: BoundPorts }
  | { type: 'swy:listen-error'; error: string };
