/**
 * End-to-end regressions: flag values that cannot work are usage errors — exit code 2, one line
 * naming the flag, the value and what is expected, no stack trace, nothing started — and the
 * start-up banner names a service the app has.
 *
 * Before: `up --access-log <file>/x` started base, then every router worker crashed on
 * sonic-boom's `EEXIST: mkdir` and `up` exited 1 after ~19 s without naming the flag;
 * `--blob-url foo://x` crashed the workers the same way (~10 s); `--drain-ms -3`/`abc`,
 * `--data-dir ''` and `logs --tail -5` were taken as they were; `--admin-url notaurl` was
 * SWY_ADMIN_UNREACHABLE (exit 1); `env create --service nonexist` exited 1; the banner always
 * said `--service api`.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killLeftovers, makeWorkspace, processesUnder, runCli, startSwitchyard, stopAndAssertClean, type Switchyard, type Workspace } from './harness.js';

/** Fails well before the harness's own timeout: a start that should not happen shows up as a rejected runCli. */
const FAST_MS = 15_000;
/** Nothing listens there: a command that sends a request instead of refusing its flags gets SWY_ADMIN_UNREACHABLE (exit 1). */
const DEAD_ADMIN = 'http://127.0.0.1:1';
/** Nothing listens there either: `router` must refuse its flags before it connects to the store. */
const DEAD_DB = 'postgres://127.0.0.1:1/none';

let ws: Workspace;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'swy-e2e-usage-paths-'));
const aFile = path.join(tmp, 'a-file');
fs.writeFileSync(aFile, 'not a folder\n');

beforeAll(() => { ws = makeWorkspace('swy-e2e-usage-'); });

afterAll(() => {
  killLeftovers(ws.root);
  ws.remove();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const up = (...more: string[]) => ['--app', ws.app, 'up', '--port', '0', '--admin-port', '0', '--https-port', 'off', '--data-dir', ws.dataDir, ...more];
const router = (...more: string[]) => ['router', '--database-url', DEAD_DB, '--port', '0', ...more];

const cases: { desc: string; args: () => string[]; line: string; env?: NodeJS.ProcessEnv }[] = [
  // 1. --access-log
  {
    desc: 'up --access-log under a regular file (router workers)', args: () => up('--workers', '2', '--access-log', path.join(aFile, 'x')),
    line: `error SWY_ACCESS_LOG_UNUSABLE: cannot use ${path.join(aFile, 'x')} as the access log (--access-log): ${aFile} is a file, not a folder; pass --access-log a file path switchyard can create and append to, "stdout" or "off"`,
  },
  {
    desc: 'up --access-log naming a folder (routing in the owner)', args: () => up('--workers', '0', '--access-log', tmp),
    line: `error SWY_ACCESS_LOG_UNUSABLE: cannot use ${tmp} as the access log (--access-log): ${tmp} is a folder, not a file;`,
  },
  {
    desc: 'router --access-log under a regular file', args: () => router('--access-log', path.join(aFile, 'x')),
    line: `error SWY_ACCESS_LOG_UNUSABLE: cannot use ${path.join(aFile, 'x')} as the access log (--access-log): ${aFile} is a file, not a folder;`,
  },
  // 2. --blob-url
  {
    desc: 'up --blob-url with an unknown scheme (router workers)', args: () => up('--workers', '2', '--blob-url', 'foo://x'),
    line: 'error SWY_BAD_REQUEST: --blob-url "foo://x" is not a usable blob store URL: unsupported scheme "foo:"; expected file:///absolute/path or s3://bucket[/prefix][?endpoint=http://host:port&region=…&forcePathStyle=true]',
  },
  {
    desc: 'up $SWITCHYARD_BLOB_URL without a bucket', args: () => up('--workers', '0'), env: { SWITCHYARD_BLOB_URL: 's3:///prefix' },
    line: 'error SWY_BAD_REQUEST: --blob-url "s3:///prefix" is not a usable blob store URL: an s3 URL needs a bucket name',
  },
  {
    desc: 'router --blob-url that is not a URL', args: () => router('--blob-url', 'not a url'),
    line: 'error SWY_BAD_REQUEST: --blob-url "not a url" is not a usable blob store URL: it is not a URL; expected file:///absolute/path or s3://',
  },
  // 3. numbers, empty paths, URLs
  ...(['-3', 'abc'] as const).flatMap((v) => [
    { desc: `up --drain-ms ${v}`, args: () => up('--workers', '0', '--drain-ms', v), line: `error: --drain-ms expects a whole number from 0 to 86400000 (milliseconds), got "${v}"` },
    { desc: `router --drain-ms ${v}`, args: () => router('--drain-ms', v), line: `error: --drain-ms expects a whole number from 0 to 86400000 (milliseconds), got "${v}"` },
  ]),
  {
    desc: 'up --data-dir \'\' (used to mean the default, silently)', args: () => ['--app', ws.app, 'up', '--port', '0', '--admin-port', '0', '--https-port', 'off', '--workers', '0', '--data-dir', ''],
    line: 'error: --data-dir expects a folder path, got "" (leave the flag out for the default <app>/.switchyard)',
  },
  { desc: 'migrate --data-dir \'\'', args: () => ['migrate', '--data-dir', ''], line: 'error: --data-dir expects a folder path, got ""' },
  { desc: 'logs --tail -5', args: () => ['--admin-url', DEAD_ADMIN, 'logs', 'base', 'api', '--tail', '-5'], line: 'error: --tail expects a whole number ≥ 0 (lines; 0 = all), got "-5"' },
  { desc: 'logs --replica x', args: () => ['--admin-url', DEAD_ADMIN, 'logs', 'base', 'api', '--replica', 'x'], line: 'error: --replica expects a whole number ≥ 0, got "x"' },
  {
    desc: '--admin-url notaurl', args: () => ['--admin-url', 'notaurl', 'env', 'ls'],
    line: 'error: --admin-url expects the http:// or https:// URL of a switchyard admin API, e.g. http://127.0.0.1:8081, got "notaurl"',
  },
  {
    desc: '$SWITCHYARD_ADMIN_URL notaurl', args: () => ['env', 'ls'], env: { SWITCHYARD_ADMIN_URL: 'notaurl' },
    line: 'error: $SWITCHYARD_ADMIN_URL expects the http:// or https:// URL of a switchyard admin API',
  },
];

describe('flag values that cannot work', () => {
  it.each(cases)('$desc: exit 2, one line naming the flag and the value, nothing started', async ({ args, line, env }) => {
    const r = await runCli(args(), { timeoutMs: FAST_MS, ...(env ? { env } : {}) });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stdout).not.toContain('READY');
    expect(r.stderr.trimEnd().split('\n'), 'exactly one line').toHaveLength(1);
    expect(r.stderr.startsWith(line), r.stderr).toBe(true);
    expect(r.stderr, 'no stack trace').not.toMatch(/^\s+at /m);
    expect(processesUnder(ws.root)).toEqual([]);
  });

  it('the access-log check creates the folders and the file, and lets stdout and none through', async () => {
    const { ensureAccessLog } = await import('../../src/main/access-log-path.js');
    const f = path.join(tmp, 'new', 'deeper', 'access.log');
    expect(ensureAccessLog(f)).toBe(f);
    expect(fs.readFileSync(f, 'utf8')).toBe('');
    fs.writeFileSync(f, 'kept\n');
    expect(ensureAccessLog(path.relative(process.cwd(), f))).toBe(f); // absolute, for the workers
    expect(fs.readFileSync(f, 'utf8')).toBe('kept\n'); // appended to, never truncated
    expect(ensureAccessLog('stdout')).toBe('stdout');
    expect(ensureAccessLog('')).toBe('');
  });
});

describe('an app without an "api" service', () => {
  let root: string;
  let sy: Switchyard | undefined;

  beforeAll(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'swy-e2e-usage-app-'));
    fs.writeFileSync(path.join(root, 'server.cjs'),
      "require('node:http').createServer((q, r) => r.end(process.env.SWITCHYARD_SERVICE + '\\n')).listen(Number(process.env.PORT), '127.0.0.1');\n");
    fs.writeFileSync(path.join(root, 'switchyard.yaml'), [
      'app: tiny', 'domain: tiny.localhost', 'services:',
      '  zeta:', '    run: node server.cjs', '    public: ["/"]',
      '  beta:', '    run: node server.cjs', '',
    ].join('\n'));
    sy = await startSwitchyard({ app: root, dataDir: path.join(root, 'data'), extraArgs: ['--https-port', 'off', '--workers', '0'] });
  });

  afterAll(async () => {
    await stopAndAssertClean({ root, app: root, dataDir: path.join(root, 'data'), remove: () => fs.rmSync(root, { recursive: true, force: true }) }, sy, []);
  });

  it('the banner suggests a preview of a service the app has (the first in name order)', () => {
    expect(sy!.stdout()).toContain('create a preview: npx switchyard env create feat1 --service beta\n');
    expect(sy!.stdout()).not.toContain('--service api');
  });

  it('env create naming a service the spec does not have is a usage error (exit 2) listing the services', async () => {
    const r = await sy!.cli(['env', 'create', 'x1', '--service', 'nonexist']);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/^error SWY_SERVICE_NOT_FOUND: service "nonexist" is not in the spec \(services: (zeta, beta|beta, zeta)\)\n$/);
    expect((await sy!.envs()).map((e) => e.name)).toEqual(['base']); // nothing was created
  });
});
