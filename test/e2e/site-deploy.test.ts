/**
 * End-to-end: `switchyard site deploy` outside the app folder, and a deploy missing the site's
 * `notFound` page, on a real `switchyard up` of a copy of the shop.
 *
 * 1. Run from a folder without switchyard.yaml (like the repository root while `npm start` runs
 *    examples/shop) and without `--app`, the deploy uses the spec of the running switchyard,
 *    which its admin API names (`GET /status` → `spec`).
 * 2. When the running switchyard cannot be asked, the CLI says so: SWY_SPEC_NOT_FOUND, exit 2,
 *    "pass --app". An explicit `--app` never falls back to the running app.
 * 3. A deploy whose folder lacks the spec's `notFound` page is refused naming the file, and the
 *    edge keeps serving the previous deploy (404 page included).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killLeftovers, makeWorkspace, runCli, startSwitchyard, type Switchyard, type Workspace } from './harness.js';

const DOCS = { host: 'shop.localhost' };

describe('site deploy: the running app\'s spec, and the notFound page', () => {
  let ws: Workspace;
  let sy: Switchyard;
  /** A folder without a switchyard.yaml, next to the app (the "repository root"). */
  let elsewhere: string;
  const deployFrom = (cwd: string, args: string[], adminUrl = sy.admin) =>
    runCli(['site', 'deploy', 'docs', '--no-build', ...args], { cwd, env: { SWITCHYARD_ADMIN_URL: adminUrl } });
  const editIndex = (text: string) => {
    const f = path.join(ws.app, 'docs', 'index.html');
    fs.writeFileSync(f, fs.readFileSync(f, 'utf8').replace(/<h1>[^<]*<\/h1>/, `<h1>${text}</h1>`));
  };

  beforeAll(async () => {
    ws = makeWorkspace('swy-e2e-sitedeploy-');
    elsewhere = path.join(ws.root, 'elsewhere');
    fs.mkdirSync(elsewhere);
    sy = await startSwitchyard({ app: ws.app, dataDir: ws.dataDir, extraArgs: ['--workers', '0', '--https-port', 'off'] });
  }, 90_000);

  afterAll(async () => {
    await sy?.stop();
    killLeftovers(ws.root);
    ws.remove();
  });

  it('the admin API names the spec the app runs', async () => {
    const r = await sy.get('/status', { base: sy.admin });
    expect(r.status).toBe(200);
    expect(r.json().spec).toBe(path.join(ws.app, 'switchyard.yaml'));
  });

  it('1. without --app, from a folder without a spec: deploys with the running app\'s spec', async () => {
    editIndex('docs from elsewhere');
    const r = await deployFrom(elsewhere, []);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^deployed docs d-[0-9a-z]+-[0-9a-f]+ to base: \d+ files, 1 uploaded$/m);
    const page = await sy.get('/docs/', DOCS);
    expect(page.status).toBe(200);
    expect(page.body).toContain('<h1>docs from elsewhere</h1>');
  });

  it('2. a running switchyard that cannot be asked, or an explicit --app without a spec: SWY_SPEC_NOT_FOUND, exit 2', async () => {
    const unreachable = await deployFrom(elsewhere, [], 'http://127.0.0.1:1');
    expect(unreachable.code, unreachable.stderr).toBe(2);
    expect(unreachable.stderr).toContain(`error SWY_SPEC_NOT_FOUND: no switchyard.yaml in ${elsewhere}, and the running switchyard could not be asked for its spec (`);
    expect(unreachable.stderr).toContain('pass --app <app folder>');
    expect(unreachable.stdout).toBe('');

    const explicit = await deployFrom(ws.root, ['--app', elsewhere]);
    expect(explicit.code, explicit.stderr).toBe(2);
    expect(explicit.stderr).toContain(`error SWY_SPEC_NOT_FOUND: no spec at ${path.join(elsewhere, 'switchyard.yaml')}`);
  });

  it('3. a deploy without the notFound page is refused naming it; the previous deploy keeps serving', async () => {
    const before = await sy.cli(['site', 'ls', 'docs', '--json']);
    const served = JSON.parse(before.stdout).find((d: { activeIn: string[] }) => d.activeIn.includes('base'));
    fs.rmSync(path.join(ws.app, 'docs', '404.html'));
    editIndex('docs without a 404 page');

    const r = await deployFrom(ws.app, []);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain('error SWY_MANIFEST_INVALID: deploy of site "docs" has no file "404.html", the page its spec sends with 404s (sites.docs.notFound); nothing was switched: base keeps serving its current deploy');

    const after = JSON.parse((await sy.cli(['site', 'ls', 'docs', '--json'])).stdout) as { id: string; activeIn: string[] }[];
    expect(after.find((d) => d.activeIn.includes('base'))?.id).toBe(served.id);
    expect(after).toHaveLength(JSON.parse(before.stdout).length);
    const page = await sy.get('/docs/', DOCS);
    expect(page.body).toContain('<h1>docs from elsewhere</h1>');
    const missing = await sy.get('/docs/no-such-page', DOCS);
    expect(missing.status).toBe(404);
    expect(missing.body).toContain('<title>not found · shop docs</title>');
  });
});
