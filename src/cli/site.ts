/**
 * @module cli/site
 * `switchyard site deploy|ls|rollback|gc`. A deploy is made client-side and sent through the
 * admin API: build (optional) → manifest (sha256 of every file) → ask which blobs are missing →
 * upload only those, with progress → record the deploy, which switches the environment at once.
 * Nothing is served until the last step succeeds.
 */
import { spawnSync } from 'node:child_process';
import { createReadStream, statSync } from 'node:fs';
import { request } from 'node:http';
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { buildManifestWithSources } from '../blob/manifest.js';
import { resolve } from 'node:path';
import { SwitchyardError, swyError } from '../errors/index.js';
import { loadSpecFile, type AppSpec } from '../spec/index.js';
import { call } from './client.js';

type AdminOf = () => string;

export function registerSiteCommands(program: Command, admin: AdminOf): void {
  const site = program.command('site').description('static sites: immutable deploys, switched atomically per environment');

  site.command('deploy <site>')
    .description('upload a deploy of a site and switch the environment to it (spec: --app, else ./switchyard.yaml, else the running switchyard\'s)')
    .option('--env <name>', 'environment', 'base')
    .option('--dir <dir>', 'folder to upload instead of the spec\'s `dir` (skips `build`)')
    .option('--no-build', 'do not run the spec\'s `build` command first')
    .option('--keep <n>', 'keep only the newest N deploys of this site in this environment')
    .option('--json', 'machine-readable output')
    .action(async (name: string, opts: { env: string; dir?: string; build: boolean; keep?: string; json?: boolean }) => {
      const base = admin();
      const spec = await specToDeploy(program, base);
      const s = spec.sites[name];
      if (!s) throw swyError('SWY_NOT_FOUND', `site "${name}" is not in ${spec.file} (sites: ${Object.keys(spec.sites).join(', ') || 'none'})`);
      const dir = opts.dir ?? s.dir;
      const keep = opts.keep === undefined ? undefined : Number(opts.keep);
      if (keep !== undefined && (!Number.isInteger(keep) || keep < 1)) throw swyError('SWY_BAD_REQUEST', `--keep expects an integer ≥ 1, got "${opts.keep}"`);
      if (!opts.dir && s.build && opts.build) {
        process.stderr.write(`building ${name}: ${s.build}\n`);
        const r = spawnSync(s.build, { shell: true, cwd: spec.root, stdio: ['ignore', 'inherit', 'inherit'] });
        if (r.status !== 0) throw swyError('SWY_BAD_REQUEST', `build of site "${name}" failed (exit ${r.status ?? r.signal}); nothing was uploaded`);
      }
      if (!existsSync(dir)) throw swyError('SWY_NOT_FOUND', `site "${name}": folder ${dir} does not exist${s.build && !opts.dir ? ` (did \`${s.build}\` produce it?)` : ''}; nothing was uploaded`);
      const { manifest, sources } = await buildManifestWithSources(dir, { site: name });
      const byHash = new Map<string, { path: string; size: number }>();
      for (const [p, f] of Object.entries(manifest.files)) if (!byHash.has(f.hash)) byHash.set(f.hash, { path: sources.get(p)!, size: f.size });
      const { missing } = await call<{ missing: string[] }>(base, 'POST', '/v1/blobs/missing', { hashes: [...byHash.keys()] });
      const total = missing.reduce((n, h) => n + byHash.get(h)!.size, 0);
      let done = 0; let bytes = 0;
      const tty = process.stderr.isTTY;
      const progress = () => {
        const line = `uploading ${done}/${missing.length} files, ${fmtBytes(bytes)}/${fmtBytes(total)} (${Object.keys(manifest.files).length - missing.length} unchanged)`;
        process.stderr.write(tty ? `\r${line}` : (done === missing.length || done % 50 === 0 ? `${line}\n` : ''));
      };
      progress();
      const queue = [...missing];
      await Promise.all(Array.from({ length: Math.min(6, queue.length) }, async () => {
        for (let h = queue.shift(); h !== undefined; h = queue.shift()) {
          const src = byHash.get(h)!;
          if (statSync(src.path).size !== src.size) throw swyError('SWY_BLOB_INTEGRITY', `${src.path} changed during the deploy; nothing was switched`);
          await putBlob(base, h, src.path, src.size);
          done++; bytes += src.size; progress();
        }
      }));
      if (tty) process.stderr.write('\n');
      const r = await call<{ id: string; files: number }>(base, 'POST', `/v1/sites/${encodeURIComponent(name)}/deploys`, { env: opts.env, manifest, ...(keep !== undefined ? { keep } : {}) });
      if (opts.json) process.stdout.write(JSON.stringify(r, null, 2) + '\n');
      else process.stdout.write(`deployed ${name} ${r.id} to ${opts.env}: ${r.files} files, ${missing.length} uploaded\n`);
    });

  site.command('ls [site]')
    .description('list deploys, newest first, and where each is served')
    .option('--json', 'machine-readable output')
    .action(async (name: string | undefined, opts: { json?: boolean }) => {
      const r = await call<{ deploys: { id: string; site: string; env: string; files: number; bytes: number; createdAt: string; activeIn: string[] }[] }>(admin(), 'GET', name ? `/v1/sites/${encodeURIComponent(name)}/deploys` : '/v1/sites/deploys');
      if (opts.json) { process.stdout.write(JSON.stringify(r.deploys, null, 2) + '\n'); return; }
      const rows = [['SITE', 'DEPLOY', 'MADE FOR', 'FILES', 'SIZE', 'CREATED', 'SERVED IN'],
        ...r.deploys.map((d) => [d.site, d.id, d.env, String(d.files), fmtBytes(d.bytes), d.createdAt, d.activeIn.join(',') || '-'])];
      const w = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
      process.stdout.write(rows.map((row) => row.map((cell, c) => cell.padEnd(w[c]!)).join('  ').trimEnd()).join('\n') + '\n');
    });

  site.command('rollback <site>')
    .description('serve an earlier deploy: the one before the current, or --to <deploy-id>')
    .option('--env <name>', 'environment', 'base')
    .option('--to <deploy-id>', 'deploy to serve')
    .action(async (name: string, opts: { env: string; to?: string }) => {
      const r = await call<{ deployId: string | null }>(admin(), 'POST', `/v1/sites/${encodeURIComponent(name)}/rollback`, { env: opts.env, ...(opts.to ? { to: opts.to } : {}) });
      process.stdout.write(r.deployId ? `${name} in ${opts.env} now serves ${r.deployId}\n` : `${name} in ${opts.env} has no own deploy any more: it serves base's\n`);
    });

  site.command('gc')
    .description('delete blobs no deploy references (older than one hour)')
    .action(async () => {
      const r = await call<Record<string, number>>(admin(), 'POST', '/v1/blobs/gc');
      process.stdout.write(`${JSON.stringify(r)}\n`);
    });
}

/**
 * The spec a deploy is made from: `--app` when given; else `./switchyard.yaml`; else the spec of
 * the running switchyard the deploy goes to, named by its admin API (`GET /status` → `spec`), so
 * `site deploy` works from any folder, e.g. the repository root while `npm start` runs the shop.
 * @throws `SWY_SPEC_NOT_FOUND` (exit 2) saying why, and to pass `--app`.
 */
async function specToDeploy(program: Command, base: string): Promise<AppSpec> {
  const app = program.opts<{ app: string }>().app;
  if (program.getOptionValueSource('app') !== 'default') return loadSpecFile(app);
  try {
    return loadSpecFile(app);
  } catch (err) {
    if (!(err instanceof SwitchyardError && err.code === 'SWY_SPEC_NOT_FOUND')) throw err;
  }
  const notHere = `no switchyard.yaml in ${resolve(app)}`;
  let running: unknown;
  try {
    running = (await call<{ spec?: unknown }>(base, 'GET', '/status')).spec;
  } catch (err) {
    throw swyError('SWY_SPEC_NOT_FOUND', `${notHere}, and the running switchyard could not be asked for its spec (${(err as Error).message}); pass --app <app folder>`, {}, err);
  }
  if (typeof running !== 'string') throw swyError('SWY_SPEC_NOT_FOUND', `${notHere}, and the switchyard at ${base} does not say where its spec is; pass --app <app folder>`);
  if (!existsSync(running)) throw swyError('SWY_SPEC_NOT_FOUND', `${notHere}, and the spec of the switchyard at ${base} (${running}) is not on this machine; pass --app <app folder>`, { file: running });
  return loadSpecFile(running);
}

function putBlob(base: string, hash: string, path: string, size: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const u = new URL(`${base}/v1/blobs/${hash}`);
    const req = request({ host: u.hostname, port: u.port, path: u.pathname, method: 'PUT', headers: { 'content-type': 'application/octet-stream', 'content-length': size } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { body += c; });
      res.on('end', () => {
        if (res.statusCode === 204) { resolve(); return; }
        let detail = body;
        try { detail = JSON.parse(body).detail ?? body; } catch { /* text */ }
        reject(swyError('SWY_BLOB_INTEGRITY', `upload of ${path} failed: ${res.statusCode} ${detail}`));
      });
    });
    req.on('error', reject);
    createReadStream(path).on('error', reject).pipe(req);
  });
}

function fmtBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}
