/**
 * src/routing is pure: no `node:` modules, nothing outside src/routing, no timers, no clock,
 * no process. Checked on the syntax tree (comments and strings are not code).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, test } from 'vitest';

const ROUTING_DIR = join(dirname(fileURLToPath(import.meta.url)), '../../src/routing');

const FORBIDDEN_GLOBALS = new Set(['process', 'setTimeout', 'setInterval', 'setImmediate', 'require']);
const FORBIDDEN_MEMBERS = new Set(['Date.now', 'performance.now']);

/** Every purity violation in one source file, as readable strings. */
function purityViolations(fileName: string, source: string): string[] {
  const sf = ts.createSourceFile(fileName, source, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const out: string[] = [];
  const at = (n: ts.Node) => `${fileName}:${sf.getLineAndCharacterOfPosition(n.getStart(sf)).line + 1}`;
  const checkSpecifier = (spec: ts.Expression | undefined, node: ts.Node) => {
    if (!spec || !ts.isStringLiteralLike(spec)) {
      if (spec) out.push(`${at(node)}: non-literal module specifier`);
      return;
    }
    const m = spec.text;
    if (m.startsWith('node:')) out.push(`${at(node)}: imports "${m}" (node: module)`);
    else if (!m.startsWith('./')) out.push(`${at(node)}: imports "${m}" (outside src/routing)`);
    else if (m.includes('/../') || m.slice(2).includes('..')) out.push(`${at(node)}: imports "${m}" (goes up out of src/routing)`);
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) checkSpecifier(node.moduleSpecifier, node);
    else if (ts.isImportEqualsDeclaration(node)) out.push(`${at(node)}: import = require(...)`);
    else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) checkSpecifier(node.arguments[0], node);
    else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) checkSpecifier(node.argument.literal as ts.Expression, node);
    else if (ts.isIdentifier(node) && FORBIDDEN_GLOBALS.has(node.text)) {
      const p = node.parent;
      // `x.process` / `{ process: 1 }` are property names, not the global
      const isPropertyName = (ts.isPropertyAccessExpression(p) && p.name === node) || (ts.isPropertyAssignment(p) && p.name === node);
      if (!isPropertyName) out.push(`${at(node)}: uses ${node.text}`);
    } else if (ts.isPropertyAccessExpression(node) && ts.isIdentifier(node.expression) && FORBIDDEN_MEMBERS.has(`${node.expression.text}.${node.name.text}`)) {
      out.push(`${at(node)}: uses ${node.expression.text}.${node.name.text}`);
    } else if (ts.isNewExpression(node) && ts.isIdentifier(node.expression) && node.expression.text === 'Date' && !node.arguments?.length) {
      out.push(`${at(node)}: uses new Date() (clock)`);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

describe('the checker itself', () => {
  test.each([
    [`import { readFileSync } from 'node:fs';`, 'node: module'],
    [`import type { X } from 'node:http';`, 'node: module'],
    [`export * from 'node:events';`, 'node: module'],
    [`const m = await import('node:os');`, 'node: module'],
    [`import { z } from 'zod';`, 'outside src/routing'],
    [`import { swyError } from '../errors/index.js';`, 'outside src/routing'],
    [`import { x } from './../spec/index.js';`, 'goes up'],
    [`type T = import('../store/index.js').Store;`, 'outside src/routing'],
    [`setTimeout(() => {}, 1);`, 'uses setTimeout'],
    [`const t = Date.now();`, 'uses Date.now'],
    [`const e = process.env.X;`, 'uses process'],
    [`const d = new Date();`, 'new Date()'],
  ])('flags %j', (src, needle) => {
    const v = purityViolations('sample.ts', src);
    expect(v.join('\n')).toContain(needle);
  });

  test.each([
    `import { a } from './host.js';`,
    `export { b } from './compile.js';`,
    `// setTimeout, Date.now, process and 'node:fs' in a comment are fine`,
    `/** no \`node:\` imports */ const s = 'process setTimeout';`,
    `const o = { process: 1 }; o.process; const d = new Date(0);`,
  ])('accepts %j', (src) => {
    expect(purityViolations('sample.ts', src)).toEqual([]);
  });
});

describe('src/routing is pure', () => {
  const files = readdirSync(ROUTING_DIR).filter((f) => /\.(ts|js|mts|cts)$/.test(f)).sort();

  test('the folder holds the routing modules', () => {
    expect(files).toEqual(expect.arrayContaining(['compile.ts', 'host.ts', 'index.ts', 'reference.ts', 'resolve.ts', 'types.ts']));
  });

  test.each(files)('%s has no node:/outside imports, timers, clock or process', (f) => {
    expect(purityViolations(`src/routing/${f}`, readFileSync(join(ROUTING_DIR, f), 'utf8'))).toEqual([]);
  });
});
