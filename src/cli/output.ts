/** @module cli/output — human-readable tables for the CLI. */
import type { EnvironmentView } from '../control/index.js';

export function printEnvironments(envs: EnvironmentView[]): void {
  const access = (e: EnvironmentView) => e.access === 'public' || e.access === undefined ? 'public'
    : [e.access.password ? 'password' : '', e.access.allowIps ? `ip:${e.access.allowIps.join(',')}` : '', e.access.rateLimit ? `${e.access.rateLimit.rps}rps` : ''].filter(Boolean).join(' ');
  const rows = [['NAME', 'KIND', 'URL', 'RUNS', 'HEALTH', 'ACCESS'], ...envs.map((e) => [e.name, e.kind, e.url, e.services.join(',') || '-', e.health, access(e)])];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  process.stdout.write(rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c]!)).join('  ').trimEnd()).join('\n') + '\n');
}
