import { resolve } from 'node:path';
import { describe, expect, test } from 'vitest';
import { formatSpecIssue, SpecError, SwitchyardError, type SpecIssue } from '../../src/errors/index.js';
import { normalisePrefix, parseSpec } from '../../src/spec/load.js';
import { specJsonSchema } from '../../src/spec/schema.js';

const FILE = '/srv/shop/switchyard.yaml';

/** Lines joined with `\n`, so the line numbers in a test are the array positions + 1. */
const yaml = (...lines: string[]) => lines.join('\n') + '\n';

function issuesOf(source: string, file = FILE): SpecIssue[] {
  try {
    parseSpec(source, file);
  } catch (e) {
    expect(e).toBeInstanceOf(SpecError);
    expect(e).toBeInstanceOf(SwitchyardError);
    expect((e as SpecError).code).toBe('SWY_SPEC_INVALID');
    return (e as SpecError).issues;
  }
  throw new Error('expected parseSpec to throw');
}

/** `[line, path, message fragment]` triples, for compact assertions. */
function brief(issues: SpecIssue[]): [number, string, string][] {
  return issues.map((i) => [i.line, i.path, i.message]);
}

describe('parseSpec: valid specs and defaults', () => {
  const src = yaml(
    'app: shop',
    'services:',
    '  web:',
    '    run: node web.js',
    '    public: ["/"]',
    '  api:',
    '    run: node server.js',
    '    cwd: ./api',
    '    public: ["/api/", "/v2/"]',
    '    dependsOn: [payments]',
    '    env:',
    '      LOG_LEVEL: debug',
    '  payments:',
    '    image: ghcr.io/acme/payments:1',
    '    cwd: ../shared/payments',
    '    health: {}',
  );
  const spec = parseSpec(src, FILE);

  test('domain defaults to <app>.localhost, routing header to x-switchyard-env', () => {
    expect(spec.app).toBe('shop');
    expect(spec.domain).toBe('shop.localhost');
    expect(spec.routingHeader).toBe('x-switchyard-env');
    expect(spec.file).toBe(FILE);
    expect(spec.root).toBe('/srv/shop');
  });

  test('service defaults are applied', () => {
    expect(spec.services['web']).toEqual({
      run: 'node web.js',
      cwd: '/srv/shop',
      port: 8080,
      public: ['/'],
      stripPrefix: false,
      replicas: 1,
      env: {},
      dependsOn: [],
      protocol: 'http1',
    });
    expect(Object.keys(spec.services)).toEqual(['web', 'api', 'payments']);
  });

  test('cwd is resolved relative to the spec file; absent cwd is the spec folder', () => {
    expect(spec.services['web']!.cwd).toBe('/srv/shop');
    expect(spec.services['api']!.cwd).toBe('/srv/shop/api');
    expect(spec.services['payments']!.cwd).toBe('/srv/shared/payments');
  });

  test('public prefixes are normalised (trailing slash dropped)', () => {
    expect(spec.services['api']!.public).toEqual(['/api', '/v2']);
    expect(spec.services['api']!.dependsOn).toEqual(['payments']);
    expect(spec.services['api']!.env).toEqual({ LOG_LEVEL: 'debug' });
  });

  test('an image-only service is valid; an empty health block gets its defaults', () => {
    const p = spec.services['payments']!;
    expect(p.image).toBe('ghcr.io/acme/payments:1');
    expect(p.run).toBeUndefined();
    expect(p.health).toEqual({ path: '/healthz', intervalMs: 2000, timeoutMs: 1000, startupTimeoutMs: 60000 });
  });

  test('explicit domain and routing header are kept', () => {
    const s = parseSpec(yaml('app: shop', 'domain: shop.example.test', 'routingHeader: x-env', 'services:', '  web:', '    run: a'), FILE);
    expect(s.domain).toBe('shop.example.test');
    expect(s.routingHeader).toBe('x-env');
  });

  test('a relative spec path still gives absolute root and cwd', () => {
    const s = parseSpec(yaml('app: shop', 'services:', '  web:', '    run: a', '  api:', '    run: b', '    cwd: api'), 'examples/shop/switchyard.yaml');
    expect(s.file).toBe('examples/shop/switchyard.yaml');
    expect(s.root).toBe(resolve('examples/shop'));
    expect(s.services['web']!.cwd).toBe(resolve('examples/shop'));
    expect(s.services['api']!.cwd).toBe(resolve('examples/shop/api'));
  });

  test('an absolute cwd stays as written', () => {
    const s = parseSpec(yaml('app: shop', 'services:', '  web:', '    run: a', '    cwd: /opt/web'), FILE);
    expect(s.services['web']!.cwd).toBe('/opt/web');
  });
});

describe('parseSpec: every issue at once, with line and dotted path', () => {
  const src = yaml(
    /*  1 */ 'app: Shop',
    /*  2 */ 'colour: blue',
    /*  3 */ 'services:',
    /*  4 */ '  web:',
    /*  5 */ '    run: node web.js',
    /*  6 */ '    public: ["/"]',
    /*  7 */ '    colour: red',
    /*  8 */ '  api:',
    /*  9 */ '    run: node api.js',
    /* 10 */ '    port: "8080"',
    /* 11 */ '    public: ["/api"]',
    /* 12 */ '    dependsOn: [web, nope]',
    /* 13 */ '  admin:',
    /* 14 */ '    run: node admin.js',
    /* 15 */ '    public: ["/api/"]',
    /* 16 */ '  Bad:',
    /* 17 */ '    run: x',
    /* 18 */ '  a--b:',
    /* 19 */ '    run: y',
    /* 20 */ '  idle:',
    /* 21 */ '    port: 81',
  );
  const issues = issuesOf(src);

  test('all problems are reported, sorted by line', () => {
    expect(brief(issues)).toEqual([
      [1, 'app', expect.stringContaining('must be a DNS label')],
      [2, 'colour', 'unknown key "colour"'],
      [7, 'services.web.colour', 'unknown key "colour"'],
      [10, 'services.api.port', 'expected number, got "8080"'],
      [12, 'services.api.dependsOn.1', expect.stringContaining('depends on "nope", which is not a service of this spec')],
      [15, 'services.admin.public.0', 'public prefix "/api/" is already routed to service "api"'],
      [16, 'services.Bad', expect.stringMatching(/^invalid name: must be a DNS label/)],
      [18, 'services.a--b', expect.stringMatching(/^invalid name: must not contain "--"/)],
      [20, 'services.idle', 'needs "run" (local command) or "image" (Kubernetes)'],
    ]);
  });

  test('every issue carries the file', () => {
    expect(issues.every((i) => i.file === FILE)).toBe(true);
  });

  test('the error message lists them all in file:line: path: message form', () => {
    let err: SpecError | undefined;
    try { parseSpec(src, FILE); } catch (e) { err = e as SpecError; }
    expect(err!.statusCode).toBe(400);
    const lines = err!.message.split('\n');
    expect(lines[0]).toBe('9 problems in the spec:');
    expect(lines.slice(1)).toEqual(issues.map(formatSpecIssue));
    expect(lines[2]).toBe(`${FILE}:2: colour: unknown key "colour"`);
    expect(err!.extras['issues']).toBe(err!.issues);
  });
});

describe('parseSpec: single issues', () => {
  test('unknown key in a service', () => {
    expect(brief(issuesOf(yaml('app: shop', 'services:', '  web:', '    run: a', '    stripprefix: true')))).toEqual([
      [5, 'services.web.stripprefix', 'unknown key "stripprefix"'],
    ]);
  });

  test('unknown key in a nested health block', () => {
    expect(brief(issuesOf(yaml('app: shop', 'services:', '  web:', '    run: a', '    health:', '      path: /hz', '      every: 5')))).toEqual([
      [7, 'services.web.health.every', 'unknown key "every"'],
    ]);
  });

  test('wrong types', () => {
    expect(brief(issuesOf(yaml('app: shop', 'services:', '  web:', '    run: a', '    stripPrefix: "yes"', '    replicas: 2.5', '    public: /api')))).toEqual([
      [5, 'services.web.stripPrefix', 'expected boolean, got "yes"'],
      [6, 'services.web.replicas', expect.stringContaining('expected int')],
      [7, 'services.web.public', 'expected array, got "/api"'],
    ]);
  });

  test('services given as a scalar', () => {
    expect(brief(issuesOf(yaml('app: shop', 'services: 3')))).toEqual([[2, 'services', 'expected record, got 3']]);
  });

  test('missing required keys are reported on line 1', () => {
    expect(brief(issuesOf(yaml('domain: shop.localhost')))).toEqual([
      [1, 'app', expect.stringMatching(/^is required/)],
      [1, 'services', expect.stringMatching(/^is required/)],
    ]);
  });

  test('dependsOn a missing service, and on itself', () => {
    expect(brief(issuesOf(yaml('app: shop', 'services:', '  web:', '    run: a', '    dependsOn:', '      - web', '      - cart')))).toEqual([
      [6, 'services.web.dependsOn.0', 'a service cannot depend on itself'],
      [7, 'services.web.dependsOn.1', 'depends on "cart", which is not a service of this spec (services: web)'],
    ]);
  });

  test('duplicate public prefix across services, after normalisation', () => {
    expect(brief(issuesOf(yaml('app: shop', 'services:', '  web:', '    run: a', '    public: ["/", "/api"]', '  api:', '    run: b', '    public:', '      - /v1', '      - /api/')))).toEqual([
      [10, 'services.api.public.1', 'public prefix "/api/" is already routed to service "web"'],
    ]);
  });

  test('bad public prefix', () => {
    expect(brief(issuesOf(yaml('app: shop', 'services:', '  web:', '    run: a', '    public: [api]')))).toEqual([
      [5, 'services.web.public.0', expect.stringContaining('must be a path prefix starting with "/"')],
    ]);
  });

  test.each([
    ['Web', /^invalid name: must be a DNS label/],
    ['pay--ments', /^invalid name: must not contain "--"/],
    ['-web', /^invalid name: must be a DNS label/],
    ['web_1', /^invalid name: must be a DNS label/],
  ])('bad service name %j', (name, message) => {
    expect(brief(issuesOf(yaml('app: shop', 'services:', '  ok:', '    run: a', `  ${name}:`, '    run: b')))).toEqual([
      [5, `services.${name}`, expect.stringMatching(message)],
    ]);
  });

  test.each([
    ['Shop', ['must be a DNS label']],
    ['my--shop', ['must not contain "--"']],
    ['shop.app', ['must be a DNS label']],
    ['x'.repeat(64), ['must be a DNS label']],
  ])('bad app name %j', (app, fragments) => {
    const got = issuesOf(yaml('services:', '  web:', '    run: a', `app: ${app}`));
    expect(got.map((i) => [i.line, i.path])).toEqual(fragments.map(() => [4, 'app']));
    fragments.forEach((f, i) => expect(got[i]!.message).toContain(f));
  });

  test('missing run and image', () => {
    expect(brief(issuesOf(yaml('app: shop', 'services:', '  web:', '    run: a', '  api:', '    public: ["/api"]')))).toEqual([
      [5, 'services.api', 'needs "run" (local command) or "image" (Kubernetes)'],
    ]);
  });

  test('missing run/image is reported alongside schema errors (not only when the rest parses)', () => {
    expect(brief(issuesOf(yaml('app: shop', 'services:', '  web:', '    port: zero')))).toEqual([
      [3, 'services.web', 'needs "run" (local command) or "image" (Kubernetes)'],
      [4, 'services.web.port', 'expected number, got "zero"'],
    ]);
  });

  test('empty run is a type problem, not also a missing-run one', () => {
    expect(brief(issuesOf(yaml('app: shop', 'services:', '  web:', '    run: ""')))).toEqual([
      [4, 'services.web.run', expect.stringContaining('>=1 characters')],
    ]);
  });

  test('no services', () => {
    expect(brief(issuesOf(yaml('app: shop', 'services: {}')))).toEqual([[2, 'services', 'declares no service']]);
  });

  test('no services is reported alongside other problems', () => {
    expect(brief(issuesOf(yaml('app: Shop', 'services: {}')))).toEqual([
      [1, 'app', expect.stringContaining('must be a DNS label')],
      [2, 'services', 'declares no service'],
    ]);
  });

  test('bad domain and routing header', () => {
    expect(brief(issuesOf(yaml('app: shop', 'domain: Shop.Local', 'routingHeader: X-Env', 'services:', '  web:', '    run: a')))).toEqual([
      [2, 'domain', expect.stringContaining('lowercase DNS name')],
      [3, 'routingHeader', expect.stringContaining('lowercase HTTP header name')],
    ]);
  });

  test('a document that is not a map', () => {
    expect(brief(issuesOf(yaml('- a', '- b')))).toEqual([[1, '', 'expected object, got ["a","b"]']]);
  });

  test('an empty document', () => {
    expect(issuesOf('').map((i) => i.path)).toEqual(['app', 'services']);
  });
});

describe('parseSpec: YAML syntax errors', () => {
  test('tab indentation: reported with its 1-based line', () => {
    const got = issuesOf(yaml('app: shop', 'services:', '  web:', '\trun: a'));
    expect(got).toHaveLength(1);
    expect(got[0]).toEqual({ file: FILE, line: 4, path: '', message: expect.stringMatching(/^YAML: .*[Tt]ab/) });
  });

  test('duplicate key: reported on the duplicate', () => {
    const got = issuesOf(yaml('app: shop', 'services:', '  web:', '    run: a', '  web:', '    run: b'));
    expect(brief(got)).toEqual([[5, '', expect.stringMatching(/^YAML: .*unique/)]]);
  });

  test('a syntax error never reports line 0', () => {
    const got = issuesOf(yaml('app: shop', 'services:', '  web:', '    run: a', '   bad: 1'));
    expect(got[0]!.line).toBe(5);
    expect(got[0]!.message).toMatch(/^YAML: /);
  });

  test('formatted with (root) as the path', () => {
    const got = issuesOf(yaml('app: shop', 'services:', '  web:', '\trun: a'));
    expect(formatSpecIssue(got[0]!)).toMatch(new RegExp(`^${FILE.replace(/[.]/g, '\\.')}:4: \\(root\\): YAML: `));
  });
});

describe('formatSpecIssue', () => {
  test('file:line: path: message', () => {
    expect(formatSpecIssue({ file: 'a/switchyard.yaml', line: 12, path: 'services.api.port', message: 'expected number, got "x"' }))
      .toBe('a/switchyard.yaml:12: services.api.port: expected number, got "x"');
  });
  test('empty path shows (root)', () => {
    expect(formatSpecIssue({ file: 'f.yaml', line: 1, path: '', message: 'm' })).toBe('f.yaml:1: (root): m');
  });
});

describe('normalisePrefix', () => {
  test.each([['/', '/'], ['/api', '/api'], ['/api/', '/api'], ['/api//', '/api'], ['//', '/']])('%j → %j', (input, expected) => {
    expect(normalisePrefix(input)).toBe(expected);
  });
});

describe('specJsonSchema', () => {
  test('describes the spec, with services and the service shape', () => {
    const s = specJsonSchema() as {
      type?: string;
      properties: Record<string, { additionalProperties?: { properties?: Record<string, unknown> } } & Record<string, unknown>>;
      required?: string[];
    };
    expect(s.type).toBe('object');
    expect(s.properties).toHaveProperty('services');
    expect(s.properties).toHaveProperty('app');
    expect(s.required).toEqual(expect.arrayContaining(['app', 'services']));
    const service = s.properties['services']!.additionalProperties!;
    expect(Object.keys(service.properties!)).toEqual(expect.arrayContaining(['run', 'image', 'public', 'stripPrefix', 'dependsOn', 'health']));
  });

  test('is plain JSON', () => {
    const s = specJsonSchema();
    expect(JSON.parse(JSON.stringify(s))).toEqual(s);
  });
});

describe('semantic checks beyond the schema', () => {
  const issuesOf = (src: string): SpecIssue[] => {
    try { parseSpec(src, '/app/switchyard.yaml'); } catch (e) { return (e as SpecError).issues; }
    return [];
  };

  test('trustedProxies entries must be CIDR ranges, each reported with its line', () => {
    const issues = issuesOf('app: shop\ntrustedProxies:\n  - 10.0.0.0/8\n  - notacidr\nservices:\n  web: { run: x }\n');
    expect(issues).toEqual([expect.objectContaining({ line: 4, path: 'trustedProxies.1', message: expect.stringContaining('"notacidr" is not a CIDR range') })]);
  });

  test('a dependsOn cycle is reported once, with its path', () => {
    const issues = issuesOf('app: shop\nservices:\n  web: { run: x, dependsOn: [api] }\n  api: { run: x, dependsOn: [web] }\n  ok: { run: x }\n');
    expect(issues).toHaveLength(1);
    expect(issues[0]!.message).toBe('dependsOn forms a cycle: web → api → web');
    expect(issues[0]!.path).toBe('services.web.dependsOn');
  });
});
