// Regression: an invalid service (or site) name hid every other problem of that service,
// because the schema's record skips a value whose key fails. All of them are reported at once.
import { describe, expect, test } from 'vitest';
import { SpecError, type SpecIssue } from '../../src/errors/index.js';
import { parseSpec } from '../../src/spec/load.js';

const FILE = '/srv/shop/switchyard.yaml';
const yaml = (...lines: string[]) => lines.join('\n') + '\n';

function issuesOf(source: string): [number, string, string][] {
  try {
    parseSpec(source, FILE);
  } catch (e) {
    expect(e).toBeInstanceOf(SpecError);
    return (e as SpecError).issues.map((i: SpecIssue) => [i.line, i.path, i.message]);
  }
  throw new Error('expected parseSpec to throw');
}

describe('an invalid name does not hide the other problems of its entry', () => {
  test('a service with a bad name still has its schema problems reported', () => {
    expect(issuesOf(yaml(
      /*  1 */ 'app: shop',
      /*  2 */ 'services:',
      /*  3 */ '  web:',
      /*  4 */ '    run: node web.js',
      /*  5 */ '    public: ["/"]',
      /*  6 */ '  Bad_Svc:',
      /*  7 */ '    run: node bad.js',
      /*  8 */ '    replicas: two',
      /*  9 */ '    public: ["nope"]',
      /* 10 */ '    colour: blue',
      /* 11 */ '    health: { path: healthz }',
    ))).toEqual([
      [6, 'services.Bad_Svc', expect.stringMatching(/^invalid name: must be a DNS label/)],
      [8, 'services.Bad_Svc.replicas', 'expected number, got "two"'],
      [9, 'services.Bad_Svc.public.0', expect.stringContaining('must be a path prefix starting with "/"')],
      [10, 'services.Bad_Svc.colour', 'unknown key "colour"'],
      [11, 'services.Bad_Svc.health.path', expect.stringContaining('must start with "/"')],
    ]);
  });

  test('the semantic checks of a badly named service still run alongside its schema problems', () => {
    expect(issuesOf(yaml(
      /* 1 */ 'app: shop',
      /* 2 */ 'services:',
      /* 3 */ '  web: { run: x, public: ["/"] }',
      /* 4 */ '  a--b:',
      /* 5 */ '    replicas: 0',
      /* 6 */ '    dependsOn: [ghost]',
    ))).toEqual([
      [4, 'services.a--b', expect.stringMatching(/^invalid name: must not contain "--"/)],
      [4, 'services.a--b', 'needs "run" (local command) or "image" (Kubernetes)'],
      [5, 'services.a--b.replicas', expect.stringContaining('(got 0)')],
      [6, 'services.a--b.dependsOn.0', expect.stringContaining('depends on "ghost"')],
    ]);
  });

  test('a site with a bad name still has its schema problems reported', () => {
    expect(issuesOf(yaml(
      /* 1 */ 'app: shop',
      /* 2 */ 'services:',
      /* 3 */ '  web: { run: x, public: ["/"] }',
      /* 4 */ 'sites:',
      /* 5 */ '  My.Docs:',
      /* 6 */ '    dir: docs',
      /* 7 */ '    public: ["/docs"]',
      /* 8 */ '    spa: maybe',
      /* 9 */ '    host: Docs_Host',
      /* 10 */ '    notFound: ../404.html',
    ))).toEqual([
      [5, 'sites.My.Docs', expect.stringMatching(/^invalid name: must be a DNS label/)],
      [8, 'sites.My.Docs.spa', 'expected boolean, got "maybe"'],
      [9, 'sites.My.Docs.host', expect.stringContaining('must be a DNS label')],
      [10, 'sites.My.Docs.notFound', expect.stringContaining('the path has a ".." segment')],
    ]);
  });

  test('a valid name with a broken entry is reported once, not twice', () => {
    expect(issuesOf(yaml('app: shop', 'services:', '  web:', '    run: x', '    replicas: two'))).toEqual([
      [5, 'services.web.replicas', 'expected number, got "two"'],
    ]);
  });
  test('an env variable with a bad name still has a non-string value reported', () => {
    expect(issuesOf(yaml(
      /*  1 */ 'app: shop',
      /*  2 */ 'services:',
      /*  3 */ '  web:',
      /*  4 */ '    run: node web.js',
      /*  5 */ '    env:',
      /*  6 */ '      GOOD: "1"',
      /*  7 */ '      bad-name: [1, 2]',
      /*  8 */ '      ALSO_BAD: { a: 1 }',
    ))).toEqual([
      [7, 'services.web.env.bad-name', expect.stringMatching(/^invalid name: must be an environment variable name/)],
      [7, 'services.web.env.bad-name', expect.stringMatching(/^expected string/)],
      [8, 'services.web.env.ALSO_BAD', expect.stringMatching(/^expected string/)],
    ]);
  });
});
