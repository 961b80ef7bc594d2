// Access log (pino, async sonic-boom destination, flushed on close), Prometheus exposition of the
// edge metrics with bounded labels, and W3C traceparent keep-or-create.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createAccessLog, formatAccessLine, ms3, type AccessLogEntry } from '../../src/edge/access-log.js';
import { createMetrics, statusClass } from '../../src/edge/metrics.js';
import { ensureTraceparent, newTraceparent, parseTraceparent } from '../../src/edge/traceparent.js';

const dir = mkdtempSync(join(tmpdir(), 'swy-edge-log-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const entry = (i: number): AccessLogEntry => ({
  reqId: `r${i}`, env: 'feat1', service: 'api', instance: 'api@feat1', method: 'GET', host: 'feat1.shop.localhost', path: `/api/items/${i}`,
  status: 200, bytes: 123, durationMs: 4.2, upstreamMs: 3.1, retries: 0, clientIp: '127.0.0.1', traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
});

describe('access log', () => {
  it('buffers lines (no write per request) and writes them all on close, one JSON object per line', async () => {
    const path = join(dir, 'nested', 'access.log');
    const log = createAccessLog({ destination: path, minLength: 64 * 1024 });
    for (let i = 0; i < 100; i++) log.log(entry(i));
    log.log({ ...entry(100), status: 404, fallback: 'unknown-env', service: undefined });
    await new Promise((r) => setTimeout(r, 50));
    // Under minLength nothing has been written yet: the request path did no I/O.
    expect(readFileSync(path, 'utf8')).toBe('');
    await log.close();
    const lines = readFileSync(path, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toHaveLength(101);
    expect(Object.keys(lines[0]!)).toEqual(['time', 'reqId', 'env', 'service', 'instance', 'method', 'host', 'path', 'status', 'bytes', 'durationMs', 'upstreamMs', 'retries', 'clientIp', 'traceId']);
    expect(lines[0]).toMatchObject({ reqId: 'r0', env: 'feat1', status: 200, clientIp: '127.0.0.1' });
    expect(new Date(lines[0]!.time as string).toISOString()).toBe(lines[0]!.time);
    expect(lines[100]).toMatchObject({ status: 404, fallback: 'unknown-env' });
    expect(lines[100]).not.toHaveProperty('service');
    log.log(entry(999)); // after close: ignored, no throw
  });

  it('writes durations in ms with µs resolution, as JSON numbers', () => {
    expect([0, 0.0004, 0.0005, 0.25, 0.253, 1, 4.2, 12.3456, 1234.5678, 59_999.9999].map(ms3))
      .toEqual(['0.000', '0.000', '0.001', '0.250', '0.253', '1.000', '4.200', '12.346', '1234.568', '60000.000']);
    expect(ms3(-1)).toBe('-1');
    expect(ms3(3e6)).toBe('3000000');
    const line = JSON.parse(formatAccessLine({ ...entry(1), durationMs: 0.0123, upstreamMs: 7 })) as { durationMs: number; upstreamMs: number };
    expect(line).toMatchObject({ durationMs: 0.012, upstreamMs: 7 });
  });

  it('writeOut() hands buffered lines to the file without closing (the periodic tick)', async () => {
    const path = join(dir, 'writeout.log');
    const log = createAccessLog({ destination: path });
    log.writeOut(); // before the file is open: nothing to do, no throw
    await new Promise((r) => setTimeout(r, 50));
    log.log(entry(7));
    expect(readFileSync(path, 'utf8')).toBe('');
    log.writeOut();
    const deadline = Date.now() + 2_000;
    while (!readFileSync(path, 'utf8').includes('"reqId":"r7"') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(readFileSync(path, 'utf8')).toContain('"reqId":"r7"');
    await log.close();
    expect(readFileSync(path, 'utf8').trimEnd().split('\n')).toHaveLength(1);
  });

  it('flush() writes buffered lines without closing', async () => {
    const path = join(dir, 'flush.log');
    const log = createAccessLog({ destination: path });
    log.log(entry(1));
    await log.flush();
    expect(readFileSync(path, 'utf8')).toContain('"reqId":"r1"');
    log.log(entry(2));
    await log.close();
    expect(readFileSync(path, 'utf8').trimEnd().split('\n')).toHaveLength(2);
  });
});

describe('metrics', () => {
  it('exposes the expected series in the text format', async () => {
    const m = createMetrics();
    m.observeRequest({ env: 'feat1', service: 'api', status: 200, durationMs: 12 });
    m.observeRequest({ env: 'feat1', service: 'api', status: 204, durationMs: 3 });
    m.observeRequest({ env: 'base', status: 404, durationMs: 1 });
    m.setUpstreamHealth('feat1', 'api', '127.0.0.1:4001', true);
    m.setUpstreamHealth('base', 'api', '127.0.0.1:4000', false);
    m.setSnapshotVersion(42);
    m.setCertificateExpiries([{ host: '*.shop.localhost', notAfter: new Date(1_000_000 + 86_400_000) }], 1_000_000);
    const text = await m.text();
    expect(m.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(text).toContain('# TYPE switchyard_requests_total counter');
    expect(text).toContain('switchyard_requests_total{env="feat1",service="api",status="2xx"} 2');
    expect(text).toContain('switchyard_requests_total{env="base",service="_none",status="4xx"} 1');
    expect(text).toContain('# TYPE switchyard_request_duration_seconds histogram');
    expect(text).toContain('switchyard_request_duration_seconds_bucket{le="0.005",env="feat1",service="api"} 1');
    expect(text).toContain('switchyard_request_duration_seconds_count{env="feat1",service="api"} 2');
    expect(text).toContain('switchyard_upstream_healthy{env="feat1",service="api",endpoint="127.0.0.1:4001"} 1');
    expect(text).toContain('switchyard_upstream_healthy{env="base",service="api",endpoint="127.0.0.1:4000"} 0');
    expect(text).toContain('switchyard_snapshot_version 42');
    expect(text).toContain('switchyard_certificate_expiry_seconds{host="*.shop.localhost"} 86400');
    expect(text).not.toContain('process_cpu'); // a dedicated registry, no globals
  });

  it('bounds label cardinality: status classes, env cap, removal of deleted environments', async () => {
    expect([200, 301, 404, 499, 503, 0, 700].map(statusClass)).toEqual(['2xx', '3xx', '4xx', '4xx', '5xx', 'other', 'other']);
    const m = createMetrics({ maxEnvs: 3 });
    for (let i = 0; i < 50; i++) m.observeRequest({ env: `pr-${i}`, service: 'web', status: 200 + i, durationMs: 1 });
    let text = await m.text();
    const envs = new Set([...text.matchAll(/switchyard_requests_total\{env="([^"]+)"/g)].map((x) => x[1]));
    expect(envs).toEqual(new Set(['pr-0', 'pr-1', 'pr-2', '_other']));
    expect(text).toContain('switchyard_requests_total{env="_other",service="web",status="2xx"} 47');
    await m.removeEnv('pr-1');
    text = await m.text();
    expect(text).not.toContain('env="pr-1"');
    m.observeRequest({ env: 'pr-99', service: 'web', status: 500, durationMs: 1 });
    expect(await m.text()).toContain('switchyard_requests_total{env="pr-99",service="web",status="5xx"} 1');
  });
});

describe('traceparent', () => {
  const valid = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

  it('keeps a valid header unchanged', () => {
    expect(ensureTraceparent(valid)).toBe(valid);
    expect(ensureTraceparent([valid])).toBe(valid);
    expect(parseTraceparent(valid)).toEqual({ version: '00', traceId: '4bf92f3577b34da6a3ce929d0e0e4736', parentId: '00f067aa0ba902b7', flags: '01' });
    // A future version is read by its first four fields and passed on as is (§3.2.4).
    const future = '01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-whatever';
    expect(ensureTraceparent(future)).toBe(future);
  });

  it('replaces invalid or missing ones with a new sampled version-00 value', () => {
    for (const bad of [undefined, '', 'garbage', valid.toUpperCase(), `${valid}-extra`, '00-00000000000000000000000000000000-00f067aa0ba902b7-01',
      '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01', 'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', [valid, valid]]) {
      const out = ensureTraceparent(bad);
      expect(out, String(bad)).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
      expect(out).not.toBe(valid);
      expect(parseTraceparent(out)).toBeDefined();
    }
    expect(newTraceparent(false)).toMatch(/-00$/);
    expect(ensureTraceparent(undefined)).not.toBe(ensureTraceparent(undefined));
  });
});
