// A site whose spec names a `notFound` page: a deploy without that file is refused with an error
// naming it, and the environment keeps serving its previous deploy. At start-up (first deploy of
// base) such a folder is logged and skipped, like a missing folder, instead of stopping `up`.
import { mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FsBlobStore, uploadDeploy } from '../../src/blob/index.js';
import { Sites } from '../../src/control/sites.js';
import { parseSpec } from '../../src/spec/index.js';
import { listDeploys, openPgliteDriver, Store } from '../../src/store/index.js';

const root = mkdtempSync(join(tmpdir(), 'swy-sites-nf-'));
const spec = parseSpec([
  'app: shop',
  'services:',
  '  web: { run: x, public: ["/"] }',
  'sites:',
  '  docs: { dir: docs, public: ["/docs"], notFound: /errors/404.html }',
  '  blog: { dir: blog, public: ["/blog"], notFound: 404.html }',
].join('\n'), join(root, 'switchyard.yaml'));

function writeSite(dir: string, files: Record<string, string>): void {
  rmSync(dir, { recursive: true, force: true });
  for (const [rel, body] of Object.entries(files)) {
    mkdirSync(join(dir, rel, '..'), { recursive: true });
    writeFileSync(join(dir, rel), body);
  }
}

describe('Sites.deploy and the spec\'s notFound page', () => {
  let store: Store;
  const logs: string[] = [];
  let sites: Sites;
  const blobs = new FsBlobStore(join(root, 'blobs'));

  beforeAll(async () => {
    store = new Store(await openPgliteDriver(join(root, 'store')));
    await store.migrate();
    await store.putApp(spec.app, spec);
    await store.createEnvironment({ app: spec.app, name: 'base', kind: 'base', parent: null, overrides: { services: {} }, hosts: [] });
    sites = new Sites({ store, blobs, spec, waitRoutable: async () => undefined, log: (msg) => logs.push(msg) });
  });
  afterAll(async () => {
    await store?.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('at start-up, a folder without the page is logged and skipped; the other sites deploy', async () => {
    writeSite(join(root, 'docs'), { 'index.html': 'docs v1', 'errors/404.html': 'gone' });
    writeSite(join(root, 'blog'), { 'index.html': 'blog without 404' });
    await sites.deployMissingBase();
    const deploys = await listDeploys(store, spec.app);
    expect(deploys.map((d) => [d.site, d.activeIn])).toEqual([['docs', ['base']]]);
    expect(logs.join('\n')).toMatch(/site "blog": folder .*blog not deployed: deploy of site "blog" has no file "404\.html"/);
  });

  it('refuses a deploy without the page, naming it; base keeps serving its deploy', async () => {
    const [before] = await listDeploys(store, spec.app, 'docs');
    unlinkSync(join(root, 'docs', 'errors', '404.html'));
    writeFileSync(join(root, 'docs', 'index.html'), 'docs v2');
    const manifest = await uploadDeploy(blobs, join(root, 'docs'), { site: 'docs' });
    const version = await store.version();
    await expect(sites.deploy('docs', 'base', manifest)).rejects.toMatchObject({
      code: 'SWY_MANIFEST_INVALID',
      statusCode: 400,
      message: 'deploy of site "docs" has no file "errors/404.html", the page its spec sends with 404s (sites.docs.notFound); nothing was switched: base keeps serving its current deploy',
      extras: { site: 'docs', path: 'errors/404.html' },
    });
    expect(await store.version()).toBe(version);
    expect((await listDeploys(store, spec.app, 'docs')).map((d) => [d.id, d.activeIn])).toEqual([[before!.id, ['base']]]);
  });

  it('accepts the deploy once the page is back', async () => {
    writeSite(join(root, 'docs'), { 'index.html': 'docs v3', 'errors/404.html': 'gone again' });
    const manifest = await uploadDeploy(blobs, join(root, 'docs'), { site: 'docs' });
    await sites.deploy('docs', 'base', manifest);
    const deploys = await listDeploys(store, spec.app, 'docs');
    expect(deploys).toHaveLength(2);
    expect(deploys.find((d) => d.id === manifest.id)?.activeIn).toEqual(['base']);
  });
});
