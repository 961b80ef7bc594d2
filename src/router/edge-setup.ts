/**
 * @module router/edge-setup
 * Builds the edge's optional parts from plain settings, the same way in the owner process and
 * in router workers: access policies, the access log, metrics, and the certificates of the
 * HTTPS listener (SNI certificates from the local CA).
 */
import { createAccessLog, type AccessLog } from '../edge/access-log.js';
import { CertificateManager, MemoryCertStore } from '../edge/cert-store.js';
import { createMetrics, type EdgeMetrics } from '../edge/metrics.js';
import { EdgePolicies } from './edge-policy.js';
import type { RequestLimits } from './hygiene.js';

/** Settings of the edge, serialisable (passed to workers through their environment). */
export interface EdgeSettings {
  serverSecret: string;
  trustedProxies: string[];
  /** `stdout`, a file path, or empty for none. */
  accessLog: string;
  /** Largest request body (bytes) before 413; default 100 MiB. */
  maxBodyBytes?: number;
  /** The HTTP/1.1 engine's other limits and timeouts (head size and fields, head/body/keep-alive timeouts). */
  limits?: Partial<RequestLimits>;
  /** HTTP → HTTPS redirect port and HSTS max-age (s), from the spec's `https` block. */
  redirectToHttpsPort?: number;
  hstsMaxAgeSeconds?: number;
  /** Local CA for HTTPS (PEM), and the domains it issues for; absent = no HTTPS listener. */
  tls?: { caCertPem: string; caKeyPem: string; domains: string[] };
}

export interface EdgeParts {
  policies: EdgePolicies; accessLog: AccessLog | undefined; metrics: EdgeMetrics; certs: CertificateManager | undefined;
  /** Router options derived from the settings. */
  routerOptions: { redirectToHttps?: { port: number }; hstsMaxAgeSeconds?: number; limits?: Partial<RequestLimits> };
}

export function buildEdge(s: EdgeSettings): EdgeParts {
  const accessLog = s.accessLog ? createAccessLog({ destination: s.accessLog }) : undefined;
  if (accessLog) {
    // Lines are buffered (no write per request); a tail -f still sees them within a second.
    // Hand the gathered lines over every second (no fsync: sonic-boom's flush callback would sync the file each time).
    setInterval(() => accessLog.writeOut(), 1_000).unref();
  }
  return {
    policies: new EdgePolicies({ serverSecret: s.serverSecret, trustedProxies: s.trustedProxies }),
    accessLog,
    metrics: createMetrics({ defaultMetrics: false }),
    routerOptions: {
      ...(s.redirectToHttpsPort !== undefined ? { redirectToHttps: { port: s.redirectToHttpsPort } } : {}),
      ...(s.hstsMaxAgeSeconds !== undefined ? { hstsMaxAgeSeconds: s.hstsMaxAgeSeconds } : {}),
      ...(s.maxBodyBytes !== undefined || s.limits !== undefined ? { limits: { ...s.limits, ...(s.maxBodyBytes !== undefined ? { maxBodyBytes: s.maxBodyBytes } : {}) } } : {}),
    },
    certs: s.tls ? new CertificateManager({ store: new MemoryCertStore(), localCa: { ca: { certPem: s.tls.caCertPem, keyPem: s.tls.caKeyPem }, domains: s.tls.domains } }) : undefined,
  };
}

export function edgeSettingsToEnv(s: EdgeSettings): Record<string, string> {
  return { SWITCHYARD_EDGE: JSON.stringify(s) };
}

export function edgeSettingsFromEnv(): EdgeSettings | undefined {
  const v = process.env.SWITCHYARD_EDGE;
  return v ? (JSON.parse(v) as EdgeSettings) : undefined;
}
