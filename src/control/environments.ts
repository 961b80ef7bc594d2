/**
 * @module control/environments
 * Environment lifecycle: bring up base at start, restore previews, create and delete previews.
 * Writes config to the store; the runtime's status flows back into instance rows.
 *
 * Create (waiting):
 * 1. Validate the name and services; refuse a name being created or already stored (409).
 * 2. Start the preview's own instances and wait until they are healthy.
 * 3. One transaction inserts the environment and its instance rows (a concurrent create of the
 *    same name loses here with 409 and stops what it started).
 * 4. Wait until the router serves a snapshot with that version, so the first request succeeds.
 * A failure at any step stops every process started and leaves no rows.
 */
import { resolve } from 'node:path';
import { swyError } from '../errors/index.js';
import { reapOrphans, type InstancePlan, type InstanceStatus, type Runtime } from '../runtime/index.js';
import { compilePolicy, hashPassword, type AccessPolicy } from '../edge/access.js';
import { DNS_LABEL, type AccessSpec, type AppSpec } from '../spec/index.js';
import type { EnvironmentRecord, InstanceRecord, ServiceOverride, Store } from '../store/index.js';

/** Access overrides given at create time (the spec's `access.previews` is the default). */
export interface AccessInput {
  password?: string;
  allowIps?: string[];
  rateLimit?: { rps: number; burst: number };
  /** Ignore the spec's preview defaults: the preview is public. */
  public?: boolean;
}

export interface CreateEnvironmentInput {
  name: string;
  access?: AccessInput;
  /** Services the preview runs itself, with optional overrides. */
  services: Record<string, ServiceOverride>;
  /** Return at once; instances start in the background. */
  noWait?: boolean;
}

export interface EnvironmentView {
  name: string;
  kind: 'base' | 'preview';
  url: string;
  /** Services the environment runs itself. */
  services: string[];
  /** `healthy` when every own instance is healthy, else `starting` / `degraded`. */
  health: 'healthy' | 'starting' | 'degraded' | 'none';
  /** Access policy in force (the password itself is never shown). */
  access: { password: boolean; allowIps?: string[]; rateLimit?: { rps: number; burst: number } } | 'public';
  instances: { id: string; service: string; replica: number; state: string; port: number; pid: number | null; restarts: number }[];
  createdAt: string;
}

export interface EnvironmentsDeps {
  store: Store;
  runtime: Runtime;
  spec: AppSpec;
  /** Discovery URL of each service (the router's internal listeners). */
  discovery: Record<string, string>;
  /** Edge URL port, for the URLs shown to users. */
  edgePort: () => number;
  /** Resolves when the data plane serves at least this store version. */
  waitRoutable: (version: number) => Promise<void>;
  log: (msg: string, extra?: object) => void;
  /** Called once an environment exists (e.g. to order its certificate). */
  onCreated?: (name: string) => void;
}

export class Environments {
  readonly #creating = new Set<string>();
  readonly #pendingStatus = new Set<string>();
  #flushing = false;

  constructor(private readonly d: EnvironmentsDeps) {
    d.runtime.onStatus((s) => this.#onStatus(s));
  }

  /** Writes the spec and the base environment to the store; forgets the previous owner's instances. */
  async prepare(): Promise<void> {
    const { store, spec } = this.d;
    await store.putApp(spec.app, spec);
    // A previous owner that crashed left its instances running: stop those before starting anew.
    const stale = (await store.listInstances(spec.app)).filter((i) => i.pid !== null).map((i) => ({ id: `${i.env}/${i.service}/${i.replica}`, pid: i.pid! }));
    const reaped = await reapOrphans(stale);
    if (reaped.length) this.d.log('stopped instances a previous run left behind', { instances: reaped });
    await store.clearInstances(spec.app);
    const baseAccess = await storedPolicy('base', spec.access.base, undefined);
    if (!(await store.getEnvironment(spec.app, 'base'))) {
      await store.createEnvironment({ app: spec.app, name: 'base', kind: 'base', parent: null, overrides: { services: {} }, hosts: [], access: baseAccess });
    } else {
      await store.setAccess(spec.app, 'base', baseAccess);
    }
  }

  /** Starts base (every service, waiting for health), then the stored previews. `signal` aborts start-up. */
  async startAll(signal?: AbortSignal): Promise<void> {
    const { store, spec } = this.d;
    const base = await this.d.runtime.start(this.#plans('base', Object.fromEntries(Object.keys(spec.services).map((s) => [s, {}]))), signal ? { signal } : undefined);
    await store.recordInstances(base.map((s) => this.#record(s)));
    for (const env of await store.listEnvironments(spec.app)) {
      if (env.kind === 'base' || Object.keys(env.overrides.services).length === 0) continue;
      signal?.throwIfAborted();
      try {
        const started = await this.d.runtime.start(this.#plans(env.name, env.overrides.services), signal ? { signal } : undefined);
        await store.recordInstances(started.map((s) => this.#record(s)));
      } catch (err) {
        this.d.log(`preview "${env.name}" could not be restored`, { err: String((err as Error).message) });
      }
    }
  }

  async create(input: CreateEnvironmentInput): Promise<EnvironmentView> {
    const { store, spec } = this.d;
    const name = input.name;
    validateName(name);
    const labelOwner = Object.entries(spec.sites ?? {}).find(([, s]) => s.host === name)?.[0];
    if (labelOwner) throw swyError('SWY_ENV_NAME_INVALID', `environment name "${name}" is the host label of site "${labelOwner}" (${name}.${spec.domain}); pick another name`, { name });
    for (const s of Object.keys(input.services)) {
      if (!(s in spec.services)) throw swyError('SWY_SERVICE_NOT_FOUND', `service "${s}" is not in the spec (services: ${Object.keys(spec.services).join(', ')})`, { service: s });
    }
    // Claim the name before the first await: a concurrent create of it in this process gets 409 at
    // once (across control planes, the store's primary key decides).
    if (this.#creating.has(name)) throw swyError('SWY_ENV_EXISTS', `environment "${name}" is being created`, { env: name });
    this.#creating.add(name);
    try {
      if (await store.getEnvironment(spec.app, name)) throw swyError('SWY_ENV_EXISTS', `environment "${name}" already exists`, { env: name });
      const access = await storedPolicy(name, input.access?.public ? undefined : spec.access.previews, input.access);
      const record = { app: spec.app, name, kind: 'preview' as const, parent: 'base', overrides: { services: input.services }, hosts: [], access };
      if (input.noWait) {
        const version = await store.createEnvironment(record);
        await this.d.waitRoutable(version);
        void this.d.runtime.start(this.#plans(name, input.services))
          .then((st) => store.recordInstances(st.map((s) => this.#record(s))))
          .catch((err) => this.d.log(`preview "${name}" failed to start`, { err: String((err as Error).message) }));
        return this.view(name);
      }
      const started = await this.d.runtime.start(this.#plans(name, input.services));
      let version: number;
      try {
        version = await store.createEnvironment(record, started.map((s) => this.#record(s)));
      } catch (err) {
        await this.d.runtime.stopEnvironment(name);
        throw err;
      }
      await this.d.waitRoutable(version);
      this.d.onCreated?.(name);
      return this.view(name);
    } finally {
      this.#creating.delete(name);
    }
  }

  /** Deletes a preview: it stops being routable first, then its processes stop. */
  async delete(name: string): Promise<void> {
    if (name === 'base') throw swyError('SWY_ENV_BASE_PROTECTED', 'the base environment cannot be deleted; stop switchyard instead', { env: name });
    const version = await this.d.store.deleteEnvironment(this.d.spec.app, name);
    await this.d.waitRoutable(version);
    await this.d.runtime.stopEnvironment(name);
  }

  async list(): Promise<EnvironmentView[]> {
    const [envs, instances] = await Promise.all([this.d.store.listEnvironments(this.d.spec.app), this.d.store.listInstances(this.d.spec.app)]);
    return envs.map((e) => this.#toView(e, instances.filter((i) => i.env === e.name)));
  }

  async view(name: string): Promise<EnvironmentView> {
    const e = await this.d.store.getEnvironment(this.d.spec.app, name);
    if (!e) throw swyError('SWY_ENV_NOT_FOUND', `environment "${name}" does not exist`, { env: name });
    const instances = (await this.d.store.listInstances(this.d.spec.app)).filter((i) => i.env === name);
    return this.#toView(e, instances);
  }

  /** URL of an environment at the edge. */
  url(name: string): string {
    const port = this.d.edgePort();
    const host = name === 'base' ? this.d.spec.domain : `${name}.${this.d.spec.domain}`;
    return `http://${host}${port === 80 ? '' : `:${port}`}/`;
  }

  #toView(e: EnvironmentRecord, instances: InstanceRecord[]): EnvironmentView {
    const services = e.kind === 'base' ? Object.keys(this.d.spec.services) : Object.keys(e.overrides.services);
    let health: EnvironmentView['health'] = 'none';
    if (services.length) {
      const expected = services.reduce((n, s) => n + (this.d.spec.services[s]?.replicas ?? 1), 0);
      const healthy = instances.filter((i) => i.state === 'healthy').length;
      health = healthy === expected ? 'healthy' : instances.some((i) => i.state === 'crashed' || i.state === 'unhealthy') ? 'degraded' : 'starting';
    }
    const a = (e.access ?? {}) as { password?: string; allowIps?: string[]; rateLimit?: { rps: number; burst: number } };
    const access: EnvironmentView['access'] = a.password || a.allowIps || a.rateLimit
      ? { password: Boolean(a.password), ...(a.allowIps ? { allowIps: a.allowIps } : {}), ...(a.rateLimit ? { rateLimit: a.rateLimit } : {}) }
      : 'public';
    return {
      name: e.name, kind: e.kind, url: this.url(e.name), services, health, access,
      instances: instances.map((i) => ({ id: `${i.env}/${i.service}/${i.replica}`, service: i.service, replica: i.replica, state: i.state, port: i.port, pid: i.pid, restarts: i.restarts })),
      createdAt: e.createdAt,
    };
  }

  #plans(env: string, services: Record<string, ServiceOverride>): InstancePlan[] {
    const { spec, discovery } = this.d;
    const urls: Record<string, string> = {};
    for (const [s, url] of Object.entries(discovery)) urls[`${s.toUpperCase().replace(/-/g, '_')}_URL`] = url;
    const plans: InstancePlan[] = [];
    for (const [name, o] of Object.entries(services)) {
      const svc = spec.services[name]!;
      const run = o.run ?? svc.run;
      if (!run) throw swyError('SWY_BAD_REQUEST', `service "${name}" has no "run" command to start locally`, { service: name });
      for (let replica = 0; replica < svc.replicas; replica++) {
        plans.push({
          env, service: name, replica, run,
          cwd: o.cwd ? resolve(spec.root, o.cwd) : svc.cwd!,
          vars: {
            ...urls, ...svc.env, ...o.env,
            SWITCHYARD_APP: spec.app, SWITCHYARD_ENV: env, SWITCHYARD_SERVICE: name,
            SWITCHYARD_ROUTING_HEADER: spec.routingHeader,
          },
          ...(svc.health ? { health: svc.health } : {}),
        });
      }
    }
    return plans;
  }

  #record(s: InstanceStatus): Omit<InstanceRecord, 'updatedAt'> {
    return { app: this.d.spec.app, env: s.env, service: s.service, replica: s.replica, host: s.host, port: s.port, pid: s.pid ?? null, state: s.state, restarts: s.restarts };
  }

  // Status flows up: coalesce runtime events and write the latest state of each instance.
  #onStatus(s: InstanceStatus): void {
    this.#pendingStatus.add(s.id);
    if (!this.#flushing) void this.#flushStatus();
  }

  async #flushStatus(): Promise<void> {
    this.#flushing = true;
    try {
      while (this.#pendingStatus.size) {
        const ids = new Set(this.#pendingStatus);
        this.#pendingStatus.clear();
        const latest = this.d.runtime.list().filter((s) => ids.has(s.id) && s.state !== 'stopped');
        if (latest.length) await this.d.store.recordInstances(latest.map((s) => this.#record(s))).catch((err) => this.d.log('could not record instance status', { err: String(err) }));
      }
    } finally {
      this.#flushing = false;
    }
  }
}

/**
 * The policy to store: spec defaults overlaid with create-time overrides; the password hashed
 * (scrypt), ranges validated. `{}` = public.
 * @throws `SWY_CIDR_INVALID`, `SWY_BAD_REQUEST` (password from an unset variable, bad rate).
 */
async function storedPolicy(env: string, spec: AccessSpec | undefined, over: AccessInput | undefined): Promise<Record<string, unknown>> {
  let password = over?.password ?? spec?.password;
  if (password === undefined && spec?.passwordEnv) {
    password = process.env[spec.passwordEnv];
    if (!password) throw swyError('SWY_BAD_REQUEST', `access policy of "${env}": variable ${spec.passwordEnv} (passwordEnv) is not set`, { env });
  }
  if (password !== undefined && password.length < 8) throw swyError('SWY_BAD_REQUEST', `the password of "${env}" must be at least 8 characters`, { env });
  const policy: AccessPolicy = {
    ...(password !== undefined ? { password: await hashPassword(password) } : {}),
    ...((over?.allowIps ?? spec?.allowIps) ? { allowIps: over?.allowIps ?? spec?.allowIps } : {}),
    ...((over?.rateLimit ?? spec?.rateLimit) ? { rateLimit: over?.rateLimit ?? spec?.rateLimit } : {}),
  };
  compilePolicy(env, policy, { serverSecret: 'validation-only' }); // throws on a bad range or rate
  return policy as Record<string, unknown>;
}

/** Environment names are DNS labels without `--` (reserved for `<env>--<label>` hosts). */
export function validateName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || !DNS_LABEL.test(name) || name.includes('--') || name === 'base') {
    throw swyError('SWY_ENV_NAME_INVALID',
      `environment name ${JSON.stringify(name)} is invalid: expected a DNS label (lowercase letters, digits and "-", 1–63 characters, not starting or ending with "-", no "--"), other than "base"`,
      { name });
  }
}
