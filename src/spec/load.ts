/**
 * @module spec/load
 * Reads `switchyard.yaml`, validates it and applies defaults. Every problem is collected with
 * its line (from the YAML source positions) and thrown once as a {@link SpecError}
 * (`SWY_SPEC_INVALID`), so a user fixes them all in one pass.
 */
import { readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { isMap, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import { SpecError, swyError, type SpecIssue } from '../errors/index.js';
import { z, type ZodType, type core } from 'zod';
import { ServiceSchema, SiteSchema, SpecSchema, type AppSpec } from './schema.js';
import { parseCidr } from '../edge/ip.js';
import { manifestPathProblem } from '../blob/manifest.js';

type ZodIssue = core.$ZodIssue;

/** Schema of the body of a named entry, by the record holding it (see `addZodIssues`). */
const ENTRY_SCHEMAS = new Map<string, ZodType>([['services', ServiceSchema], ['sites', SiteSchema]]);
/** Schema of a value in an `env:` record (a bad variable name must not hide a value that is not a string). */
const ENV_VALUE: ZodType = z.string();

/** Locates the spec: a file path, or a folder holding `switchyard.yaml`. Throws `SWY_SPEC_NOT_FOUND`. */
export function findSpecFile(pathOrDir: string): string {
  let p = resolve(pathOrDir);
  try {
    if (statSync(p).isDirectory()) p = join(p, 'switchyard.yaml');
    statSync(p);
    return p;
  } catch {
    throw swyError('SWY_SPEC_NOT_FOUND', `no spec at ${p} (expected a switchyard.yaml file or a folder holding one)`, { file: p });
  }
}

/** Loads and validates a spec file. Throws `SWY_SPEC_NOT_FOUND` or `SWY_SPEC_INVALID` (all issues). */
export function loadSpecFile(pathOrDir: string): AppSpec {
  const file = findSpecFile(pathOrDir);
  return parseSpec(readFileSync(file, 'utf8'), file);
}

/**
 * Validates spec source text. `file` is used for messages and to resolve relative `cwd`s.
 * @throws SpecError `SWY_SPEC_INVALID` with every issue found, each `file:line: path: message`.
 */
export function parseSpec(source: string, file: string): AppSpec {
  const lineCounter = new LineCounter();
  const doc = parseDocument(source, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const issues: SpecIssue[] = [];
  for (const e of doc.errors) {
    // `linePos` is only filled in with prettyErrors; derive the line from the offset instead.
    const line = e.linePos?.[0]?.line ?? (e.pos[0] >= 0 ? lineCounter.linePos(e.pos[0]).line : 0);
    issues.push({ file, line, path: '', message: `YAML: ${e.message.split('\n')[0]}` });
  }
  if (issues.length) throw new SpecError(issues);

  const lineOf = (path: (string | number)[]): number => lineOfPath(doc, lineCounter, path);
  const raw = doc.toJS() ?? {};
  const addZodIssues = (zIssues: readonly ZodIssue[], base: (string | number)[]): void => {
    for (const i of zIssues) {
      const path = [...base, ...i.path.map((p) => (typeof p === 'symbol' ? String(p) : p))];
      if (i.code === 'unrecognized_keys') {
        for (const k of i.keys) {
          issues.push({ file, line: lineOf([...path, k]), path: [...path, k].join('.'), message: `unknown key "${k}"` });
        }
        continue;
      }
      issues.push({ file, line: lineOf(path), path: path.join('.'), message: describeIssue(i, valueAt(raw, path)) });
      // A record skips the value of a key it refuses: check a named entry's body on its own, so
      // a bad name does not hide the entry's other problems.
      const entrySchema = i.code !== 'invalid_key' ? undefined
        : path.length === 2 ? ENTRY_SCHEMAS.get(String(path[0]))
        : path.length >= 2 && path[path.length - 2] === 'env' ? ENV_VALUE : undefined;
      if (entrySchema) {
        const entry = entrySchema.safeParse(valueAt(raw, path));
        if (!entry.success) addZodIssues(entry.error.issues, path);
      }
    }
  };
  const parsed = SpecSchema.safeParse(raw);
  // Semantic checks still run on what parsed, so a single pass reports everything.
  if (!parsed.success) addZodIssues(parsed.error.issues, []);
  const spec = parsed.success ? parsed.data : undefined;
  const services: Record<string, unknown> = (raw && typeof raw === 'object' && (raw as { services?: unknown }).services && typeof (raw as { services?: unknown }).services === 'object') ? (raw as { services: Record<string, unknown> }).services : {};
  const names = new Set(Object.keys(services));
  const prefixOwner = new Map<string, string>();
  for (const [name, svc] of Object.entries(services)) {
    if (!svc || typeof svc !== 'object') continue;
    const s = svc as { dependsOn?: unknown; public?: unknown; run?: unknown; image?: unknown };
    if (s.run === undefined && s.image === undefined) {
      issues.push({ file, line: lineOf(['services', name]), path: `services.${name}`, message: 'needs "run" (local command) or "image" (Kubernetes)' });
    }
    if (Array.isArray(s.dependsOn)) {
      s.dependsOn.forEach((dep, idx) => {
        if (typeof dep === 'string' && !names.has(dep)) {
          issues.push({ file, line: lineOf(['services', name, 'dependsOn', idx]), path: `services.${name}.dependsOn.${idx}`, message: `depends on "${dep}", which is not a service of this spec (services: ${[...names].join(', ')})` });
        } else if (dep === name) {
          issues.push({ file, line: lineOf(['services', name, 'dependsOn', idx]), path: `services.${name}.dependsOn.${idx}`, message: 'a service cannot depend on itself' });
        }
      });
    }
    if (Array.isArray(s.public)) {
      s.public.forEach((p, idx) => {
        if (typeof p !== 'string') return;
        const norm = normalisePrefix(p);
        const owner = prefixOwner.get(norm);
        if (owner !== undefined) {
          issues.push({ file, line: lineOf(['services', name, 'public', idx]), path: `services.${name}.public.${idx}`, message: `public prefix "${p}" is already routed to service "${owner}"` });
        } else prefixOwner.set(norm, name);
      });
    }
  }
  // Sites share the edge's prefix space and the target namespace with services.
  const rawSites = (raw as { sites?: unknown } | null)?.sites;
  const hostOwner = new Map<string, string>();
  if (rawSites && typeof rawSites === 'object' && !Array.isArray(rawSites)) {
    for (const [name, site] of Object.entries(rawSites as Record<string, unknown>)) {
      if (!site || typeof site !== 'object') continue;
      if (names.has(name)) issues.push({ file, line: lineOf(['sites', name]), path: `sites.${name}`, message: `"${name}" is already a service name; sites and services need distinct names` });
      const st = site as { public?: unknown; host?: unknown; notFound?: unknown };
      const nf = typeof st.notFound === 'string' && st.notFound !== '' ? notFoundProblem(st.notFound) : undefined;
      if (nf) issues.push({ file, line: lineOf(['sites', name, 'notFound']), path: `sites.${name}.notFound`, message: `${JSON.stringify(st.notFound)} cannot be a page of a deploy: ${nf}; give a file path relative to the site folder, e.g. "404.html"` });
      if (Array.isArray(st.public)) {
        st.public.forEach((p, idx) => {
          if (typeof p !== 'string') return;
          const norm = normalisePrefix(p);
          const owner = prefixOwner.get(norm);
          if (owner !== undefined) issues.push({ file, line: lineOf(['sites', name, 'public', idx]), path: `sites.${name}.public.${idx}`, message: `public prefix "${p}" is already routed to "${owner}"` });
          else prefixOwner.set(norm, name);
        });
      }
      if (typeof st.host === 'string') {
        const owner = hostOwner.get(st.host);
        if (owner !== undefined) issues.push({ file, line: lineOf(['sites', name, 'host']), path: `sites.${name}.host`, message: `host label "${st.host}" is already owned by site "${owner}"` });
        else hostOwner.set(st.host, name);
        if (st.host === 'base') issues.push({ file, line: lineOf(['sites', name, 'host']), path: `sites.${name}.host`, message: 'host label "base" is the base environment\'s name' });
      }
      if (st.public === undefined && st.host === undefined) issues.push({ file, line: lineOf(['sites', name]), path: `sites.${name}`, message: 'needs "public" prefixes or a "host" label to be reachable' });
    }
  }
  // Proxies whose X-Forwarded-For is believed: each must be a CIDR.
  const rawProxies = (raw as { trustedProxies?: unknown } | null)?.trustedProxies;
  if (Array.isArray(rawProxies)) {
    rawProxies.forEach((c, idx) => {
      if (typeof c !== 'string') return;
      try { parseCidr(c); } catch {
        issues.push({ file, line: lineOf(['trustedProxies', idx]), path: `trustedProxies.${idx}`, message: `"${c}" is not a CIDR range (e.g. "10.0.0.0/8" or "2001:db8::/32")` });
      }
    });
  }
  // dependsOn must not loop (start order and health waits would deadlock).
  const deps = new Map<string, string[]>();
  for (const [name, svc] of Object.entries(services)) {
    const d = (svc as { dependsOn?: unknown } | null)?.dependsOn;
    deps.set(name, Array.isArray(d) ? d.filter((x): x is string => typeof x === 'string' && names.has(x) && x !== name) : []);
  }
  const state = new Map<string, 'visiting' | 'done'>();
  const reported = new Set<string>();
  const visit = (n: string, stack: string[]): void => {
    if (state.get(n) === 'done') return;
    if (state.get(n) === 'visiting') {
      const cycle = [...stack.slice(stack.indexOf(n)), n];
      const key = [...cycle].sort().join(',');
      if (!reported.has(key)) {
        reported.add(key);
        issues.push({ file, line: lineOf(['services', n, 'dependsOn']), path: `services.${n}.dependsOn`, message: `dependsOn forms a cycle: ${cycle.join(' → ')}` });
      }
      return;
    }
    state.set(n, 'visiting');
    for (const m of deps.get(n) ?? []) visit(m, [...stack, n]);
    state.set(n, 'done');
  };
  for (const n of deps.keys()) visit(n, []);
  const rawServices = (raw as { services?: unknown } | null)?.services;
  if (rawServices && typeof rawServices === 'object' && !Array.isArray(rawServices) && names.size === 0) {
    issues.push({ file, line: lineOf(['services']), path: 'services', message: 'declares no service' });
  }
  if (issues.length) throw new SpecError(issues.sort((a, b) => a.line - b.line));
  const s = spec!;
  const root = resolve(dirname(file));
  return {
    app: s.app,
    domain: s.domain ?? `${s.app}.localhost`,
    routingHeader: s.routingHeader,
    services: Object.fromEntries(
      Object.entries(s.services).map(([n, svc]) => [n, { ...svc, cwd: svc.cwd ? resolve(root, svc.cwd) : root, public: svc.public.map(normalisePrefix) }]),
    ),
    sites: Object.fromEntries(Object.entries(s.sites).map(([n, site]) => [n, {
      ...site, dir: resolve(root, site.dir), public: site.public.map(normalisePrefix),
      ...(site.notFound !== undefined ? { notFound: notFoundPath(site.notFound) } : {}),
    }])),
    access: s.access,
    trustedProxies: s.trustedProxies,
    https: s.https,
    root,
    file,
  };
}

/**
 * The deploy path of a site's `notFound` page: the router looks it up in the deploy's manifest
 * with leading `/`s dropped (`/404.html` is the site root's `404.html`).
 */
function notFoundPath(notFound: string): string {
  return notFound.replace(/^\/+/, '');
}

/**
 * Why a `notFound` value can never name a file of a deploy, or `undefined`. Manifest paths are
 * relative, `/`-separated, without empty, `.` or `..` segments ({@link manifestPathProblem}).
 */
function notFoundProblem(notFound: string): string | undefined {
  const rel = notFoundPath(notFound);
  if (rel === '' || rel.endsWith('/')) return 'it names a folder, not a file';
  const problem = manifestPathProblem(rel);
  return problem === undefined ? undefined : `the path ${problem}`;
}

/** `/api/` → `/api`; `/` stays `/`. Prefixes match on path-segment boundaries. */
export function normalisePrefix(p: string): string {
  return p.length > 1 && p.endsWith('/') ? p.replace(/\/+$/, '') || '/' : p;
}

function lineOfPath(doc: Document, lc: LineCounter, path: (string | number)[]): number {
  // Walk down as far as the path exists; report the deepest node found (a missing key reports its parent).
  let node: unknown = doc.contents;
  type Ranged = { range?: [number, number, number] | null };
  let best = node as Ranged | undefined;
  for (const key of path) {
    if (isMap(node)) {
      const pair = node.items.find((it) => (it.key as { value?: unknown } | null)?.value === key || String((it.key as { value?: unknown } | null)?.value) === String(key));
      if (!pair) break;
      best = (pair.key as Ranged | null) ?? best;
      node = pair.value;
      if (node && (node as Ranged).range && !(isMap(node) || isSeq(node))) best = node as Ranged;
    } else if (isSeq(node) && typeof key === 'number') {
      node = node.items[key];
      if (!node) break;
      best = node as Ranged;
    } else break;
  }
  const offset = best?.range?.[0];
  return offset === undefined ? 1 : lc.linePos(offset).line;
}

function valueAt(raw: unknown, path: (string | number)[]): unknown {
  let v: unknown = raw;
  for (const k of path) {
    if (v && typeof v === 'object') v = (v as Record<string | number, unknown>)[k];
    else return undefined;
  }
  return v;
}

function describeIssue(i: { code: string; message: string; expected?: unknown }, value: unknown): string {
  const shown = value === undefined ? 'nothing' : JSON.stringify(value);
  if (i.code === 'invalid_type') {
    if (value === undefined) return `is required (${i.message.replace(/^Invalid input: /, '')})`;
    return `${i.message.replace(/^Invalid input: /, '').replace(/, received \w+$/, '')}, got ${shown}`;
  }
  if (i.code === 'invalid_key') {
    const inner = (i as { issues?: { message: string }[] }).issues?.map((x) => x.message).join('; ');
    return `invalid name: ${inner ?? i.message}`;
  }
  return `${i.message} (got ${shown})`;
}
