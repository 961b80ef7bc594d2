/**
 * End-to-end, issue 3 contract line 9: a broken switchyard.yaml is reported by `validate` and
 * by `up` — exit code 2, every issue at once as `<file>:<line>: <path>: <message>`; `schema`
 * prints the JSON Schema.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killLeftovers, makeWorkspace, processesUnder, runCli, type Workspace } from './harness.js';

// Line numbers matter: the expectations below name them.
const BROKEN = [
  'app: broken',                //  1
  'colour: blue',               //  2  unknown key
  'services:',                  //  3
  '  web:',                     //  4
  '    run: node server.js',    //  5
  '    public:',                //  6
  '      - /',                  //  7
  '    replicas: two',          //  8  wrong type
  '    dependsOn:',             //  9
  '      - api',                // 10
  '      - ghost',              // 11  missing service
  '  api:',                     // 12
  '    run: node server.js',    // 13
  '    public:',                // 14
  '      - /api',               // 15
  '      - /',                  // 16  duplicate public prefix
  '  Bad_Svc:',                 // 17  bad service name
  '    run: node server.js',    // 18
  '',
].join('\n');

/** [line, path, a fragment of the message] of every issue, in line order. */
const EXPECTED: [number, string, RegExp][] = [
  [2, 'colour', /unknown key "colour"/],
  [8, 'services.web.replicas', /number.*"two"/],
  [11, 'services.web.dependsOn.1', /"ghost"/],
  [16, 'services.api.public.1', /"\/".*"web"/],
  [17, 'services.Bad_Svc', /DNS label/],
];

const ISSUE_LINE = /^(.+):(\d+): (\S+): (.+)$/;

describe('spec errors (validate, up, schema)', () => {
  let dir: string;
  let specFile: string;
  let ws: Workspace;

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'swy-e2e-spec-'));
    specFile = path.join(dir, 'switchyard.yaml');
    fs.writeFileSync(specFile, BROKEN);
    ws = makeWorkspace('swy-e2e-spec-ok-');
  });

  afterAll(() => {
    killLeftovers(dir);
    fs.rmSync(dir, { recursive: true, force: true });
    ws?.remove();
  });

  function checkIssues(stderr: string): void {
    const issues = stderr.split('\n').filter((l) => ISSUE_LINE.test(l)).map((l) => {
      const m = ISSUE_LINE.exec(l)!;
      return { file: m[1]!, line: Number(m[2]), path: m[3]!, message: m[4]!, text: l };
    });
    // every issue at once, each with its own line, in line order
    expect(issues.map((i) => [i.line, i.path]), stderr).toEqual(EXPECTED.map(([line, p]) => [line, p]));
    issues.forEach((i, n) => {
      expect(path.resolve(dir, i.file)).toBe(specFile);
      expect(i.message, i.text).toMatch(EXPECTED[n]![2]);
    });
    expect(stderr).toContain('SWY_SPEC_INVALID');
  }

  it('9a. validate: exit 2, every issue as file:line: path: message', async () => {
    const r = await runCli(['--app', dir, 'validate']);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stdout).toBe('');
    checkIssues(r.stderr);
  });

  it('9b. up with the broken spec: the same report, exit 2, nothing started', async () => {
    const r = await runCli(['--app', dir, 'up', '--port', '0', '--admin-port', '0', '--data-dir', path.join(dir, 'data')], { timeoutMs: 20_000 });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stdout).not.toContain('READY');
    checkIssues(r.stderr);
    expect(processesUnder(dir)).toEqual([]);
  });

  it('9c. the spec file can also be named directly; a valid spec validates with exit 0', async () => {
    const r = await runCli(['--app', specFile, 'validate']);
    expect(r.code).toBe(2);
    checkIssues(r.stderr);

    const ok = await runCli(['--app', ws.app, 'validate']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain('ok (app "shop", 3 services)');

    const missing = await runCli(['--app', path.join(dir, 'nowhere'), 'validate']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('SWY_SPEC_NOT_FOUND');
  });

  it('9d. schema prints a JSON Schema with properties.services', async () => {
    const r = await runCli(['schema']);
    expect(r.code, r.stderr).toBe(0);
    const schema = JSON.parse(r.stdout);
    expect(schema.type).toBe('object');
    expect(schema.properties.services).toBeTypeOf('object');
    expect(Object.keys(schema.properties)).toEqual(expect.arrayContaining(['app', 'domain', 'routingHeader', 'services']));
    expect(JSON.stringify(schema.properties.services)).toContain('dependsOn');
  });

  it('9e. validate also reports a bad site notFound and the problems of a badly named service', async () => {
    const file = path.join(dir, 'names.yaml');
    fs.writeFileSync(file, [
      'app: broken',                  // 1
      'services:',                    // 2
      '  Bad_Svc:',                   // 3  bad name
      '    run: node server.js',      // 4
      '    public: ["/"]',            // 5
      '    replicas: two',            // 6  wrong type, hidden by the bad name before
      'sites:',                       // 7
      '  docs:',                      // 8
      '    dir: docs',                // 9
      '    public: ["/docs"]',        // 10
      '    notFound: ../404.html',    // 11 outside the site
      '',
    ].join('\n'));
    const r = await runCli(['--app', file, 'validate']);
    expect(r.code, r.stderr).toBe(2);
    const issues = r.stderr.split('\n').filter((l) => ISSUE_LINE.test(l));
    expect(issues, r.stderr).toEqual([
      expect.stringMatching(/^.+names\.yaml:3: services\.Bad_Svc: invalid name: must be a DNS label/),
      expect.stringMatching(/^.+names\.yaml:6: services\.Bad_Svc\.replicas: expected number, got "two"$/),
      expect.stringMatching(/^.+names\.yaml:11: sites\.docs\.notFound: "\.\.\/404\.html" cannot be a page of a deploy: the path has a "\.\." segment/),
    ]);
    expect(r.stderr).toContain('3 problems in the spec (SWY_SPEC_INVALID)');
  });
});
