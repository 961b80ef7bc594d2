// Pins what a site's `notFound` may be. The router looks the page up in the deploy's manifest
// (leading "/" dropped), whose paths are relative, "/"-separated, without empty, "." or ".."
// segments (blob/manifest.ts manifestPathProblem): anything else can never be served.
import { describe, expect, test } from 'vitest';
import { formatSpecIssue, SpecError } from '../../src/errors/index.js';
import { parseSpec } from '../../src/spec/load.js';

const FILE = '/srv/shop/switchyard.yaml';

/** A spec whose only site has `notFound: <value>` on line 7. */
const withNotFound = (value: string) => [
  /* 1 */ 'app: shop',
  /* 2 */ 'services:',
  /* 3 */ '  web: { run: x, public: ["/"] }',
  /* 4 */ 'sites:',
  /* 5 */ '  docs:',
  /* 6 */ '    dir: docs',
  /* 7 */ `    notFound: ${JSON.stringify(value)}`,
  /* 8 */ '    public: ["/docs"]',
].join('\n') + '\n';

function problemsOf(value: string): string[] {
  try {
    parseSpec(withNotFound(value), FILE);
  } catch (e) {
    expect(e).toBeInstanceOf(SpecError);
    return (e as SpecError).issues.map(formatSpecIssue);
  }
  return [];
}

describe('sites.<name>.notFound', () => {
  test.each([
    { desc: 'a file at the site root', value: '404.html', served: '404.html' },
    { desc: 'a file in a folder of the site', value: 'errors/404.html', served: 'errors/404.html' },
    { desc: 'a site-root path with a leading "/" (the router drops it)', value: '/404.html', served: '404.html' },
  ])('accepts $desc', ({ value, served }) => {
    expect(problemsOf(value)).toEqual([]);
    expect(parseSpec(withNotFound(value), FILE).sites['docs']!.notFound).toBe(served);
  });

  test.each([
    { desc: 'a ".." segment (outside the site)', value: '../404.html', reason: 'the path has a ".." segment' },
    { desc: 'a ".." segment inside the path', value: 'errors/../../404.html', reason: 'the path has a ".." segment' },
    { desc: 'a "." segment', value: './404.html', reason: 'the path has a "." segment' },
    { desc: 'an empty segment', value: 'errors//404.html', reason: 'the path has a "" segment' },
    { desc: 'a folder', value: 'errors/', reason: 'it names a folder, not a file' },
    { desc: 'only "/"', value: '/', reason: 'it names a folder, not a file' },
    { desc: 'a backslash', value: 'errors\\404.html', reason: 'the path contains a backslash' },
    { desc: 'a control character', value: '404\u0000.html', reason: 'the path contains a control character' },
  ])('refuses $desc as file:line: path: message', ({ value, reason }) => {
    expect(problemsOf(value)).toEqual([
      `${FILE}:7: sites.docs.notFound: ${JSON.stringify(value)} cannot be a page of a deploy: ${reason}; give a file path relative to the site folder, e.g. "404.html"`,
    ]);
  });

  test('is reported with the other problems of the spec, in line order', () => {
    const src = withNotFound('../404.html').replace('    public: ["/docs"]', '    public: ["/docs"]\n    spa: maybe');
    expect(() => parseSpec(src, FILE)).toThrow(SpecError);
    try { parseSpec(src, FILE); } catch (e) {
      expect((e as SpecError).issues.map((i) => [i.line, i.path])).toEqual([[7, 'sites.docs.notFound'], [9, 'sites.docs.spa']]);
    }
  });

  test('the example app\'s notFound validates', () => {
    const src = 'app: shop\nservices:\n  web: { run: x, public: ["/"] }\nsites:\n  docs: { dir: docs, public: ["/docs"], host: docs, notFound: 404.html }\n';
    expect(parseSpec(src, FILE).sites['docs']!.notFound).toBe('404.html');
  });
});
