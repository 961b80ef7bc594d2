#!/usr/bin/env node
/**
 * Summarises a V8 .cpuprofile (from `node --cpu-prof`): top frames by self time, and self time
 * grouped by where the code lives (switchyard's HTTP/1.1 engine dist/router/http1/, its edge code
 * dist/edge/ (access log, metrics), the rest of dist/, pino + sonic-boom (the access log's writer),
 * undici, node:http internals, node streams/net, other node internals, GC, native/program, idle).
 *
 *   node bench/cpuprofile-top.js FILE.cpuprofile [--top 15] [--json]
 */
import { readFileSync } from 'node:fs';

export function summarise(profile, top = 15) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map(); // node id -> µs
  const { samples, timeDeltas } = profile;
  for (let i = 0; i < samples.length; i++) {
    // timeDeltas[i] is the gap before sample i; the time until the next sample belongs to sample i.
    const dt = i + 1 < timeDeltas.length ? timeDeltas[i + 1] : 0;
    self.set(samples[i], (self.get(samples[i]) ?? 0) + Math.max(0, dt));
  }
  const frames = new Map();
  const groups = new Map();
  let total = 0, idle = 0;
  for (const [id, us] of self) {
    const n = byId.get(id);
    const cf = n.callFrame;
    const fn = cf.functionName || '(anonymous)';
    // bench/run.js loads a copy of dist/ (bench/.dist-<pid>/, or bench/.build-<pid>/dist/ with --commit): count it as dist/.
    const url = (cf.url || '').replace(/\/bench\/(?:\.dist-\d+|\.build-\d+\/dist)\//, '/dist/');
    const short = url.replace(/^file:\/\//, '').replace(/^.*\/node_modules\//, '').replace(/^.*\/(dist\/)/, '$1');
    const key = url ? `${fn} ${short}:${cf.lineNumber + 1}` : fn;
    frames.set(key, (frames.get(key) ?? 0) + us);
    const g = group(fn, url);
    groups.set(g, (groups.get(g) ?? 0) + us);
    total += us;
    if (fn === '(idle)') idle += us;
  }
  const busy = total - idle;
  const rows = (m) => [...m].sort((a, b) => b[1] - a[1]).map(([k, us]) => ({ frame: k, selfMs: us / 1000, pctBusy: busy ? (100 * us) / busy : 0 }));
  return { totalMs: total / 1000, idleMs: idle / 1000, busyMs: busy / 1000, top: rows(frames).filter((r) => r.frame !== '(idle)').slice(0, top), groups: rows(groups).filter((r) => r.frame !== 'idle') };
}

function group(fn, url) {
  if (fn === '(idle)') return 'idle';
  if (fn === '(garbage collector)') return 'GC';
  if (fn === '(program)') return 'V8/native (program)';
  if (url.includes('/dist/router/http1/')) return 'switchyard HTTP/1.1 engine (dist/router/http1/)';
  if (url.includes('/dist/edge/')) return 'switchyard edge: access log, metrics (dist/edge/)';
  if (url.includes('/dist/')) return 'switchyard, the rest (dist/)';
  if (/\/node_modules\/(pino|pino-std-serializers|sonic-boom|quick-format-unescaped|fast-redact|safe-stable-stringify|on-exit-leak-free|atomic-sleep|thread-stream)\//.test(url)) return 'pino + sonic-boom (access log)';
  if (url.includes('/node_modules/undici/')) return 'undici';
  if (url.includes('/bench/')) return 'bench driver';
  if (/^node:(_http|http)/.test(url)) return 'node:http internals';
  if (/^node:(net|stream|internal\/stream|internal\/streams)/.test(url) || url.startsWith('node:internal/streams')) return 'node streams/net';
  if (url.startsWith('node:')) return 'other node internals';
  if (!url) return 'native (C++ bindings, builtins; syscalls inside them)';
  return 'other JS';
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const file = process.argv[2];
  if (!file) { console.error('usage: cpuprofile-top.js FILE.cpuprofile [--top N] [--json]'); process.exit(2); }
  const i = process.argv.indexOf('--top');
  const top = i === -1 ? 15 : Number(process.argv[i + 1]);
  const s = summarise(JSON.parse(readFileSync(file, 'utf8')), top);
  if (process.argv.includes('--json')) { console.log(JSON.stringify(s, null, 2)); process.exit(0); }
  console.log(`profile: ${s.totalMs.toFixed(0)} ms sampled, ${s.idleMs.toFixed(0)} ms idle, ${s.busyMs.toFixed(0)} ms busy\n`);
  console.log('| # | self ms | % of busy | frame |\n|---:|---:|---:|---|');
  s.top.forEach((r, k) => console.log(`| ${k + 1} | ${r.selfMs.toFixed(1)} | ${r.pctBusy.toFixed(1)} | \`${r.frame}\` |`));
  console.log('\n| where | self ms | % of busy |\n|---|---:|---:|');
  for (const r of s.groups) console.log(`| ${r.frame} | ${r.selfMs.toFixed(1)} | ${r.pctBusy.toFixed(1)} |`);
}
