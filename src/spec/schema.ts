/**
 * @module spec/schema
 * The shape of `switchyard.yaml`, as zod schemas. This is the single source of truth for the
 * spec: validation, defaults, TypeScript types and the JSON Schema (`switchyard schema`) all
 * come from here.
 */
import { z } from 'zod';

/** RFC 1123 label: lowercase letters, digits and `-`, 1–63 chars, not starting/ending with `-`. */
export const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

const dnsLabel = z
  .string()
  .regex(DNS_LABEL, 'must be a DNS label: lowercase letters, digits and "-", at most 63 characters, not starting or ending with "-"')
  .refine((s) => !s.includes('--'), 'must not contain "--" (reserved for <env>--<label> hosts)');

const prefix = z
  .string()
  .regex(/^\/[^\s?#]*$/, 'must be a path prefix starting with "/" (no spaces, "?" or "#")');

export const HealthCheckSchema = z
  .strictObject({
    path: z.string().regex(/^\//, 'must start with "/"').default('/healthz').describe('HTTP path probed; any 2xx or 3xx is healthy'),
    intervalMs: z.number().int().min(100).max(600_000).default(2_000).describe('Probe interval (ms)'),
    timeoutMs: z.number().int().min(10).max(60_000).default(1_000).describe('Probe timeout (ms)'),
    startupTimeoutMs: z.number().int().min(100).max(3_600_000).default(60_000).describe('How long a new instance may take to become healthy (ms)'),
  })
  .describe('Active health check of each instance');

export const ServiceTimeoutsSchema = z
  .strictObject({
    connectMs: z.number().int().min(1).max(600_000).default(5_000).describe('TCP connect timeout to an instance (ms); past it: 502 SWY_UPSTREAM_CONNECT'),
    headersMs: z.number().int().min(1).max(3_600_000).default(60_000).describe('Time for the response head once the request is sent (ms); past it: 504 SWY_UPSTREAM_TIMEOUT'),
    idleMs: z.number().int().min(0).max(3_600_000).default(0).describe('Longest gap between response body chunks (ms); 0 = none (SSE, long polls)'),
  })
  .describe('Upstream timeouts of the service at the router; without this block the router\'s defaults apply (5 s, 60 s, none)');

export const RetryPolicySchema = z
  .strictObject({
    attempts: z.number().int().min(0).max(5).default(1).describe('Extra attempts after a failed first one; 0 disables retries'),
    budgetPercent: z.number().min(0).max(100).default(20).describe('Retries may add at most this share (%) of recent requests (retry budget)'),
  })
  .describe('Retries at the router: idempotent requests only, on connect errors and resets before the response head, on another instance when there is one');

export const ServiceSchema = z
  .strictObject({
    run: z.string().min(1).optional().describe('Shell command that starts one instance locally; it must listen on $PORT'),
    cwd: z.string().min(1).optional().describe('Working directory of `run`, relative to the spec file'),
    image: z.string().min(1).optional().describe('Container image (Kubernetes runtime)'),
    port: z.number().int().min(1).max(65_535).default(8080).describe('Container port (Kubernetes); locally switchyard allocates $PORT'),
    public: z.array(prefix).default([]).describe('Path prefixes routed to this service at the edge, e.g. ["/api"]; empty = internal only'),
    stripPrefix: z.boolean().default(false).describe('Remove the matched public prefix before forwarding'),
    health: HealthCheckSchema.optional().describe('Health check; without one an instance is ready when its port accepts connections'),
    replicas: z.number().int().min(1).max(64).default(1),
    env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name'), z.string()).default({}).describe('Environment variables of every instance'),
    dependsOn: z.array(z.string()).default([]).describe('Services this one calls; each gets <NAME>_URL'),
    timeouts: ServiceTimeoutsSchema.optional(),
    retries: RetryPolicySchema.optional(),
    protocol: z.enum(['http1', 'h2c']).default('http1').describe('Protocol the router speaks to instances: "http1" (HTTP/1.1) or "h2c" (HTTP/2 cleartext with prior knowledge, e.g. gRPC)'),
  })
  .describe('A service: a long-running process that serves HTTP');

export const SiteSchema = z
  .strictObject({
    dir: z.string().min(1).describe('Folder uploaded as a deploy, relative to the spec file (after `build`)'),
    build: z.string().min(1).optional().describe('Shell command run in the spec folder before a deploy is uploaded'),
    public: z.array(prefix).default([]).describe('Path prefixes served by this site at the edge, e.g. ["/docs"]'),
    host: dnsLabel.optional().describe('Host label the site owns: <label>.<domain> in base, <env>--<label>.<domain> in a preview'),
    stripPrefix: z.boolean().default(true).describe('Serve `<prefix>/x` from the deploy\'s `x` (default true for sites)'),
    spa: z.boolean().default(false).describe('Single-page app: unknown extension-less paths serve index.html'),
    notFound: z.string().min(1).optional().describe('Page sent with 404s: a file of the deploy, relative to the site folder, e.g. "404.html" (no "..", "." or empty segments; a leading "/" is the site root). A deploy without it is refused'),
  })
  .describe('A static site: each upload is an immutable deploy; an environment points at one');

export const AccessSpecSchema = z
  .strictObject({
    password: z.string().min(8, 'must be at least 8 characters').optional().describe('Shared password (stored hashed). Prefer passwordEnv, to keep it out of git'),
    passwordEnv: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/).optional().describe('Environment variable holding the shared password'),
    allowIps: z.array(z.string()).optional().describe('Allowed client ranges (CIDR, IPv4 and IPv6)'),
    rateLimit: z.strictObject({ rps: z.number().positive(), burst: z.number().int().min(1) }).optional().describe('Token bucket per client IP; over it: 429 with Retry-After'),
  })
  .describe('Access policy of an environment');

export const SpecSchema = z
  .strictObject({
    app: dnsLabel.describe('Application name'),
    domain: z
      .string()
      .regex(/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]*[a-z0-9])?$/, 'must be a lowercase DNS name such as "shop.localhost"')
      .optional()
      .describe('Base domain; default "<app>.localhost"'),
    routingHeader: z
      .string()
      .regex(/^[a-z0-9!#$%&'*+.^_`|~-]+$/, 'must be a lowercase HTTP header name')
      .default('x-switchyard-env')
      .describe('Header (and W3C baggage member) that selects an environment'),
    services: z.record(dnsLabel, ServiceSchema).describe('Services by name'),
    sites: z.record(dnsLabel, SiteSchema).default({}).describe('Static sites by name'),
    access: z.strictObject({
      base: AccessSpecSchema.optional().describe('Policy of base (default public)'),
      previews: AccessSpecSchema.optional().describe('Default policy of every preview (overridable at env create)'),
    }).default({}).describe('Access policies'),
    trustedProxies: z.array(z.string()).default([]).describe('CIDRs of proxies in front of switchyard whose X-Forwarded-For is believed'),
    https: z.strictObject({
      redirect: z.boolean().default(false).describe('Answer plain-HTTP edge requests with 308 to the HTTPS URL (ACME challenges excepted)'),
      redirectPort: z.number().int().min(1).max(65_535).optional().describe('Port in redirect URLs (default: the HTTPS listener\'s; 443 behind a load balancer)'),
      hstsMaxAgeSeconds: z.number().int().min(0).optional().describe('Send Strict-Transport-Security with this max-age on HTTPS responses'),
    }).default({ redirect: false }).describe('HTTPS behaviour of the edge'),
  })
  .describe('switchyard.yaml: an application declared once, run as base and previews');

export type SpecInput = z.input<typeof SpecSchema>;
export type ServiceSpec = z.output<typeof ServiceSchema>;
export type HealthCheckSpec = z.output<typeof HealthCheckSchema>;
export type SiteSpec = z.output<typeof SiteSchema>;
export type AccessSpec = z.output<typeof AccessSpecSchema>;

/** A validated spec with defaults applied and paths resolved. */
export interface AppSpec {
  app: string;
  domain: string;
  routingHeader: string;
  services: Record<string, ServiceSpec>;
  /** Static sites; `dir` resolved to an absolute path. */
  sites: Record<string, SiteSpec>;
  access: { base?: AccessSpec; previews?: AccessSpec };
  trustedProxies: string[];
  https: { redirect: boolean; redirectPort?: number | undefined; hstsMaxAgeSeconds?: number | undefined };
  /** Absolute folder of the spec file; `cwd`s are resolved against it. */
  root: string;
  /** Spec file path as given (for messages). */
  file: string;
}

/** JSON Schema (draft 2020-12) of the spec, for editors. */
export function specJsonSchema(): unknown {
  return z.toJSONSchema(SpecSchema, { io: 'input' });
}
