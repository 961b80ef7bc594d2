/**
 * @module cli/main
 * The `switchyard` command (commander). Server commands run the platform; every other command
 * talks to the admin API. Exit codes: 0 ok, 1 failure, 2 invalid spec or usage.
 */
import { Command, CommanderError } from 'commander';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { formatSpecIssue, SpecError, SwitchyardError } from '../errors/index.js';
import type { Log } from '../main.js';
import { loadSpecFile, specJsonSchema } from '../spec/index.js';
import { adminUrl, call } from './client.js';
import { addLimitOptions, adminUrlFlag, dataDir, drainMs, limitsFrom, mib, port, usage, wholeNumber, type LimitFlags } from './flags.js';
import { registerSiteCommands } from './site.js';
import { printEnvironments } from './output.js';
import type { EnvironmentView } from '../control/index.js';

const collect = (v: string, prev: string[] = []) => [...prev, v];

export function buildProgram(): Command {
  const program = new Command('switchyard')
    .description('Preview environments and a traffic router with per-hop fallback to base')
    .option('--admin-url <url>', 'admin API of a running switchyard (default: from .switchyard/admin.json, else http://127.0.0.1:8081)')
    .option('--app <path>', 'app folder or switchyard.yaml', '.')
    .exitOverride()
    .configureOutput({ outputError: (str, write) => write(str) });

  addLimitOptions(program.command('up'))
    .description('run the app: store, control plane, base environment, previews and router (local mode)')
    .option('--port <port>', 'edge listener port (0 = any free port)', '8080')
    .option('--admin-port <port>', 'admin API port (0 = any free port)', '8081')
    .option('--host <address>', 'listen address', '127.0.0.1')
    .option('--data-dir <dir>', 'state folder (default <app>/.switchyard)')
    .option('--database-url <url>', 'PostgreSQL store instead of the embedded one (or $SWITCHYARD_DATABASE_URL)')
    .option('--blob-url <url>', 'blob store for site deploys: file:///path or s3://bucket/prefix?endpoint=…&forcePathStyle=true (default <data-dir>/blobs)', process.env.SWITCHYARD_BLOB_URL)
    .option('--internal-base-port <port>', 'fixed discovery ports: service i (name order) gets base+i (default: free ports)')
    .option('--https-port <port>', 'HTTPS edge listener with certificates from a local CA (default 8443; a free port when --port is 0; "off" to disable)')
    .option('--access-log <dest>', 'access log: a file path, "stdout", or "off" (default <data-dir>/logs/access.log)')
    .option('--workers <n>', 'router worker processes sharing the listeners (0 = route in the owner process)', String(availableParallelism()))
    .option('--drain-ms <ms>', 'on stop, how long in-flight requests may finish', '5000')
    .action(async (opts: { port: string; adminPort: string; host: string; dataDir?: string; databaseUrl?: string; blobUrl?: string; internalBasePort?: string; workers: string; drainMs: string; httpsPort?: string; accessLog?: string; maxBody?: string } & LimitFlags) => {
      const g = program.opts<{ app: string }>();
      // Every flag is checked before anything starts (exit code 2 on a bad value).
      const settings = {
        app: g.app, port: port(opts.port, '--port'), adminPort: port(opts.adminPort, '--admin-port'), host: opts.host, log: stderrLog,
        workers: wholeNumber(opts.workers, '--workers', 0, 256), drainMs: drainMs(opts.drainMs),
        ...(opts.httpsPort === 'off' ? {} : { httpsPort: opts.httpsPort !== undefined ? port(opts.httpsPort, '--https-port') : opts.port === '0' ? 0 : 8443 }),
        ...(opts.accessLog !== undefined ? { accessLog: opts.accessLog === 'off' ? '' : opts.accessLog } : {}),
        ...(opts.maxBody !== undefined ? { maxBodyBytes: mib(opts.maxBody) } : {}),
        ...limitsFrom(opts),
        ...dataDir(opts.dataDir), ...(opts.databaseUrl ? { databaseUrl: opts.databaseUrl } : {}),
        ...(opts.blobUrl ? { blobUrl: opts.blobUrl } : {}),
        ...(opts.internalBasePort !== undefined ? { internalBasePort: port(opts.internalBasePort, '--internal-base-port') } : {}),
      };
      // A signal during start-up aborts it; startLocal then stops whatever it had started.
      const abort = new AbortController();
      const early = (sig: string) => { process.stderr.write(`switchyard: ${sig} during start-up, stopping…\n`); abort.abort(new Error(`interrupted by ${sig}`)); };
      const onInt = () => early('SIGINT');
      const onTerm = () => early('SIGTERM');
      process.once('SIGINT', onInt);
      process.once('SIGTERM', onTerm);
      // Server code (store, router, runtime) loads only for server commands: client commands start fast.
      const { startLocal } = await import('../main.js');
      const running = await startLocal({ ...settings, signal: abort.signal });
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      const edgePort = new URL(running.edgeUrl).port;
      const url = (h: string) => `http://${h}:${edgePort}/`;
      process.stdout.write(
        `switchyard is serving app "${running.spec.app}"\n` +
        `  base     ${url(running.spec.domain)}   (curl -H 'Host: ${running.spec.domain}' ${running.edgeUrl}/)\n` +
        `  previews ${url(`<env>.${running.spec.domain}`)}   (or header ${running.spec.routingHeader}: <env>)\n` +
        (running.httpsUrl ? `  https    https://${running.spec.domain}:${new URL(running.httpsUrl).port}/   (local CA: ${running.caPath}; see \`switchyard trust\`)\n` : '') +
        `  admin    ${running.adminUrl}\n` +
        `  create a preview: npx switchyard env create feat1 --service ${Object.keys(running.spec.services).sort()[0]}\n` +
        `READY ${JSON.stringify({ edge: running.edgeUrl, admin: running.adminUrl, ...(running.httpsUrl ? { https: running.httpsUrl, ca: running.caPath } : {}), app: running.spec.app, domain: running.spec.domain, pid: process.pid })}\n`);
      await untilSignal(running.stop);
    });

  program.command('control')
    .description('run the control plane and runtime alone on a shared PostgreSQL (routers run as `switchyard router`)')
    .requiredOption('--database-url <url>', 'PostgreSQL store (or $SWITCHYARD_DATABASE_URL)', process.env.SWITCHYARD_DATABASE_URL)
    .option('--admin-port <port>', 'admin API port (0 = any free port)', '8081')
    .option('--host <address>', 'listen address', '127.0.0.1')
    .option('--data-dir <dir>', 'state folder for logs (default <app>/.switchyard)')
    .requiredOption('--internal-base-port <port>', 'discovery ports the routers listen on: service i (name order) gets base+i', '9100')
    .option('--edge-port <port>', 'edge port shown in URLs', '8080')
    .option('--blob-url <url>', 'blob store for site deploys, shared with the routers (file:///path or s3://…)', process.env.SWITCHYARD_BLOB_URL)
    .option('--acme-directory <url>', 'order certificates from this ACME directory (HTTP-01, answered by the routers), e.g. Let\'s Encrypt\'s')
    .option('--acme-email <email>', 'ACME account contact')
    .option('--acme-ca-file <pem>', 'extra CA to trust for the ACME server\'s own TLS (test CAs such as pebble)')
    .action(async (opts: { databaseUrl: string; adminPort: string; host: string; dataDir?: string; internalBasePort: string; edgePort: string; blobUrl?: string; acmeDirectory?: string; acmeEmail?: string; acmeCaFile?: string }) => {
      const g = program.opts<{ app: string }>();
      const settings = {
        app: g.app, databaseUrl: opts.databaseUrl, adminPort: port(opts.adminPort, '--admin-port'), host: opts.host, log: stderrLog,
        internalBasePort: port(opts.internalBasePort, '--internal-base-port'), edgePort: port(opts.edgePort, '--edge-port'),
        ...dataDir(opts.dataDir), ...(opts.blobUrl ? { blobUrl: opts.blobUrl } : {}),
        ...(opts.acmeDirectory ? { acme: { directoryUrl: opts.acmeDirectory, email: opts.acmeEmail ?? 'admin@example.com', ...(opts.acmeCaFile ? { caBundle: readFileSync(opts.acmeCaFile, 'utf8') } : {}) } } : {}),
      };
      const { startControl } = await import('../main.js');
      const running = await startControl(settings);
      process.stdout.write(`switchyard control plane for "${running.spec.app}", admin ${running.adminUrl}\n` +
        `READY ${JSON.stringify({ admin: running.adminUrl, app: running.spec.app, pid: process.pid })}\n`);
      await untilSignal(running.stop);
    });

  addLimitOptions(program.command('router'))
    .description('run one router replica (data plane only), fed by the shared PostgreSQL store')
    .requiredOption('--database-url <url>', 'PostgreSQL store (or $SWITCHYARD_DATABASE_URL)', process.env.SWITCHYARD_DATABASE_URL)
    .option('--app-name <name>', 'app to route (default: the only app in the store)')
    .option('--port <port>', 'edge listener port (0 = any free port)', '8080')
    .option('--admin-port <port>', 'status listener port (0 = any free port)', '0')
    .option('--host <address>', 'listen address', '127.0.0.1')
    .option('--internal-base-port <port>', 'discovery ports: service i (name order) gets base+i', '9100')
    .option('--id <id>', 'router id reported to the control plane (default <hostname>-<pid>)')
    .option('--drain-ms <ms>', 'on SIGTERM, how long in-flight requests may finish', '5000')
    .option('--blob-url <url>', 'blob store for site deploys, shared with the control plane (file:///path or s3://…)', process.env.SWITCHYARD_BLOB_URL)
    .option('--https-port <port>', 'HTTPS edge listener serving the certificates in the store (ACME)')
    .option('--access-log <dest>', 'access log: a file path, "stdout", or "off" (default off)')
    .action(async (opts: { databaseUrl: string; appName?: string; port: string; adminPort: string; host: string; internalBasePort: string; id?: string; drainMs: string; blobUrl?: string; httpsPort?: string; accessLog?: string; maxBody?: string } & LimitFlags) => {
      const settings = {
        databaseUrl: opts.databaseUrl, port: port(opts.port, '--port'), adminPort: port(opts.adminPort, '--admin-port'), host: opts.host, log: stderrLog,
        internalBasePort: port(opts.internalBasePort, '--internal-base-port'), drainMs: drainMs(opts.drainMs),
        ...(opts.appName ? { appName: opts.appName } : {}), ...(opts.id ? { id: opts.id } : {}), ...(opts.blobUrl ? { blobUrl: opts.blobUrl } : {}),
        ...(opts.httpsPort ? { httpsPort: port(opts.httpsPort, '--https-port') } : {}),
        ...(opts.accessLog !== undefined && opts.accessLog !== 'off' ? { accessLog: opts.accessLog } : {}),
        ...(opts.maxBody !== undefined || Object.keys(limitsFrom(opts)).length ? { limits: { ...limitsFrom(opts).limits, ...(opts.maxBody !== undefined ? { maxBodyBytes: mib(opts.maxBody) } : {}) } } : {}),
      };
      const { startRouterNode } = await import('../main.js');
      const running = await startRouterNode(settings);
      process.stdout.write(`switchyard router ${running.id}: edge ${running.edgeUrl}, status ${running.adminUrl}/status\n` +
        `READY ${JSON.stringify({ id: running.id, edge: running.edgeUrl, admin: running.adminUrl, ...(running.httpsUrl ? { https: running.httpsUrl } : {}), pid: process.pid })}\n`);
      await untilSignal(running.stop);
    });

  program.command('migrate')
    .description('apply store migrations (also done at start; safe when several processes start at once)')
    .option('--database-url <url>', 'PostgreSQL store (or $SWITCHYARD_DATABASE_URL)')
    .option('--data-dir <dir>', 'embedded store folder (default <app>/.switchyard)', '.switchyard')
    .action(async (opts: { databaseUrl?: string; dataDir: string }) => {
      dataDir(opts.dataDir);
      const { openStore } = await import('../store/index.js');
      const { ensureDataDir } = await import('../main/data-dir.js');
      const embedded = !(opts.databaseUrl ?? process.env.SWITCHYARD_DATABASE_URL);
      const store = await openStore({ databaseUrl: opts.databaseUrl, dataDir: embedded ? ensureDataDir(opts.dataDir) : opts.dataDir });
      process.stdout.write(`store migrated (${store.kind}, version ${await store.version()})\n`);
      await store.close();
    });

  program.command('validate')
    .description('check switchyard.yaml and report every problem as file:line: path: message')
    .action(() => {
      const spec = loadSpecFile(program.opts<{ app: string }>().app);
      process.stdout.write(`${spec.file}: ok (app "${spec.app}", ${Object.keys(spec.services).length} services)\n`);
    });

  program.command('schema')
    .description('print the JSON Schema of switchyard.yaml (for editors)')
    .action(() => { process.stdout.write(JSON.stringify(specJsonSchema(), null, 2) + '\n'); });

  program.command('status')
    .description('show the running platform: store and snapshot versions, routers')
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }) => {
      const s = await call<Record<string, unknown>>(admin(program), 'GET', '/status');
      process.stdout.write(opts.json ? JSON.stringify(s, null, 2) + '\n' : Object.entries(s).map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : v}`).join('\n') + '\n');
    });

  const env = program.command('env').description('manage environments');
  env.command('create <name>')
    .description('create a preview that runs the given services itself; every other hop falls back to base')
    .option('--service <name>', 'a service the preview runs itself (repeatable)', collect, [])
    .option('--run <command>', 'command for those services instead of the spec\'s')
    .option('--cwd <dir>', 'working directory for those services (relative to the app folder)')
    .option('--var <KEY=VALUE>', 'environment variable for those services (repeatable)', collect, [])
    .option('--no-wait', 'return at once instead of waiting until the preview is healthy and routable')
    .option('--password <password>', 'protect the preview with a shared password (login page; basic auth for API clients)')
    .option('--allow-ip <cidr>', 'only these client ranges may reach the preview (repeatable; IPv4/IPv6 CIDR)', collect, [])
    .option('--rate-limit <rps[:burst]>', 'token bucket per client IP, e.g. 10:20')
    .option('--public', 'ignore the spec\'s default preview policy: anyone may reach it')
    .option('--json', 'machine-readable output')
    .action(async (name: string, opts: { service: string[]; run?: string; cwd?: string; var: string[]; wait: boolean; json?: boolean; password?: string; allowIp: string[]; rateLimit?: string; public?: boolean }) => {
      const vars: Record<string, string> = {};
      for (const kv of opts.var) {
        const eq = kv.indexOf('=');
        if (eq <= 0) throw usage(`--var expects KEY=VALUE, got "${kv}"`);
        vars[kv.slice(0, eq)] = kv.slice(eq + 1);
      }
      const override = { ...(opts.run ? { run: opts.run } : {}), ...(opts.cwd ? { cwd: opts.cwd } : {}), ...(opts.var.length ? { env: vars } : {}) };
      const services = Object.fromEntries(opts.service.map((s) => [s, override]));
      const started = Date.now();
      let rateLimit: { rps: number; burst: number } | undefined;
      if (opts.rateLimit) {
        const [rps, burst] = opts.rateLimit.split(':').map(Number);
        if (!(rps! > 0)) throw usage(`--rate-limit expects <rps>[:<burst>], e.g. 10:20, got "${opts.rateLimit}"`);
        rateLimit = { rps: rps!, burst: burst ?? Math.max(1, Math.ceil(rps! * 2)) };
      }
      const access = { ...(opts.password ? { password: opts.password } : {}), ...(opts.allowIp.length ? { allowIps: opts.allowIp } : {}), ...(rateLimit ? { rateLimit } : {}), ...(opts.public ? { public: true } : {}) };
      const view = await call<EnvironmentView>(admin(program), 'POST', '/v1/environments', { name, services, noWait: !opts.wait, ...(Object.keys(access).length ? { access } : {}) });
      if (opts.json) process.stdout.write(JSON.stringify(view, null, 2) + '\n');
      else process.stdout.write(`created ${view.name} in ${Date.now() - started} ms: ${view.url} (runs ${view.services.join(', ') || 'nothing itself'}; health ${view.health})\n`);
    });
  env.command('ls')
    .description('list environments with URL, the services each runs itself, and health')
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }) => {
      const r = await call<{ environments: EnvironmentView[] }>(admin(program), 'GET', '/v1/environments');
      if (opts.json) process.stdout.write(JSON.stringify(r.environments, null, 2) + '\n');
      else printEnvironments(r.environments);
    });
  env.command('get <name>')
    .description('show one environment')
    .action(async (name: string) => {
      const r = await call<EnvironmentView>(admin(program), 'GET', `/v1/environments/${encodeURIComponent(name)}`);
      process.stdout.write(JSON.stringify(r, null, 2) + '\n');
    });
  env.command('delete <name>')
    .alias('rm')
    .description('delete a preview: it stops being routed at once, then its processes stop')
    .action(async (name: string) => {
      await call(admin(program), 'DELETE', `/v1/environments/${encodeURIComponent(name)}`);
      process.stdout.write(`deleted ${name}\n`);
    });

  program.command('logs <envOrService> [service]')
    .description('print a service\'s log in an environment: `logs <env> <service>` or `logs <service> --env <env>`')
    .option('--env <name>', 'environment (default base)')
    .option('--replica <n>', 'replica index', '0')
    .option('--tail <n>', 'last N lines (0 = all)', '200')
    .action(async (a: string, b: string | undefined, opts: { env?: string; replica: string; tail: string }) => {
      const [envName, service] = b === undefined ? [opts.env ?? 'base', a] : [a, b];
      const replica = wholeNumber(opts.replica, '--replica', 0);
      const tail = wholeNumber(opts.tail, '--tail', 0, undefined, 'lines; 0 = all');
      const text = await call<string>(admin(program), 'GET', `/v1/environments/${encodeURIComponent(envName)}/logs/${encodeURIComponent(service)}?replica=${replica}&tail=${tail}`);
      process.stdout.write(text.endsWith('\n') ? text : text + '\n');
    });

  program.command('trust')
    .description('print the local CA certificate path and the commands that make browsers and curl trust it')
    .action(async () => {
      const r = await call<{ path: string; commands: string[] }>(admin(program), 'GET', '/v1/tls/ca');
      process.stdout.write(`local CA certificate: ${r.path}\n\n${r.commands.join('\n')}\n`);
    });

  const token = program.command('token').description('admin API bearer tokens (needed for writes when the admin API is bound beyond loopback)');
  token.command('create')
    .description('create a token; it is shown once, stored hashed')
    .option('--name <name>', 'what the token is for')
    .action(async (opts: { name?: string }) => {
      const r = await call<{ id: string; token: string }>(admin(program), 'POST', '/v1/tokens', { name: opts.name ?? '' });
      process.stdout.write(`${r.token}\n`);
      process.stderr.write(`token ${r.id} created; it is not shown again. Use it with SWITCHYARD_TOKEN=… or Authorization: Bearer …\n`);
    });
  token.command('ls')
    .description('list tokens (ids and names only)')
    .action(async () => {
      const r = await call<{ tokens: { id: string; name: string; createdAt: string }[] }>(admin(program), 'GET', '/v1/tokens');
      for (const t of r.tokens) process.stdout.write(`${t.id}  ${t.createdAt}  ${t.name}\n`);
    });

  registerSiteCommands(program, () => admin(program));
  return program;
}

const stderrLog: Log = (msg, extra) => process.stderr.write(JSON.stringify({ time: new Date().toISOString(), msg, ...extra }) + '\n');

/** Waits for SIGINT/SIGTERM, then runs `stop` once. */
function untilSignal(stop: () => Promise<void>): Promise<void> {
  return new Promise<void>((resolve) => {
    let stopping = false;
    const onSignal = (sig: string) => {
      if (stopping) return;
      stopping = true;
      process.stderr.write(`switchyard: ${sig}, stopping every process it started…\n`);
      void stop().then(resolve);
    };
    process.once('SIGINT', () => onSignal('SIGINT'));
    process.once('SIGTERM', () => onSignal('SIGTERM'));
  });
}

function admin(program: Command): string {
  const o = program.opts<{ adminUrl?: string; app?: string }>();
  const url = adminUrlFlag(o.adminUrl);
  return adminUrl({ ...o, ...(url !== undefined ? { adminUrl: url } : {}) });
}

/** Runs the CLI; resolves with the exit code. */
export async function main(argv: string[]): Promise<number> {
  // A closed stdout/stderr (e.g. `| head`, a supervisor that went away) must not kill the process
  // with EPIPE: a server would die before stopping the instances it started.
  for (const s of [process.stdout, process.stderr]) s.on('error', () => undefined);
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return 0;
      if (err.code === 'swy.usage') process.stderr.write(`error: ${err.message}\n`);
      return 2;
    }
    if (err instanceof SpecError) {
      process.stderr.write(err.issues.map(formatSpecIssue).join('\n') + '\n');
      process.stderr.write(`${err.issues.length} problem${err.issues.length === 1 ? '' : 's'} in the spec (SWY_SPEC_INVALID)\n`);
      return 2;
    }
    if (err instanceof SwitchyardError) {
      process.stderr.write(`error ${err.code}: ${err.message}\n`);
      // 400: the input was refused (a bad name, CIDR, rate, password…): a usage error, like a bad flag.
      // So is naming a service the spec does not have (the API answers 404: no such service).
      return err.code === 'SWY_SPEC_NOT_FOUND' || err.code === 'SWY_SERVICE_NOT_FOUND' || err.statusCode === 400 ? 2 : 1;
    }
    const msg = String((err as Error)?.message ?? err);
    const inUse = /EADDRINUSE[^\d]*([\d.:\[\]a-f]*:(\d+))?/.exec(msg);
    if (inUse) {
      process.stderr.write(`error: address already in use${inUse[1] ? ` (${inUse[1]})` : ''}: another process listens there. Pick another --port / --admin-port / --https-port (0 = a free port), or stop the other process\n`);
      return 1;
    }
    if (/EADDRNOTAVAIL|ENOTFOUND|getaddrinfo/.test(msg)) {
      process.stderr.write(`error: cannot listen on that address (${msg.split('\n')[0]}): --host must be an IP address of this machine, e.g. 127.0.0.1\n`);
      return 1;
    }
    process.stderr.write(`error: ${(err as Error)?.stack ?? err}\n`);
    return 1;
  }
}

