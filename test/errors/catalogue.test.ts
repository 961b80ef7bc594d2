// Pins the error catalogue to docs/errors.md (both ways) and to RFC 9457 problem details.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, swyError, toProblem } from '../../src/errors/index.js';

const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
const documented = new Map([...doc.matchAll(/^\| `(SWY_[A-Z_]+)` \| (\d+) \|/gm)].map((m) => [m[1]!, Number(m[2])]));

describe('error catalogue', () => {
  it('documents every code with its status, and nothing else', () => {
    const codes = Object.keys(ERROR_CODES);
    expect(codes.length).toBeGreaterThan(10);
    for (const c of codes) expect(documented.get(c), `${c} in docs/errors.md`).toBe(ERROR_CODES[c as keyof typeof ERROR_CODES][0]);
    expect([...documented.keys()].sort()).toEqual([...codes].sort());
  });

  it('builds errors whose code and status come from the catalogue', () => {
    const e = swyError('SWY_ENV_NOT_FOUND', 'environment "x" does not exist', { env: 'x' });
    expect(e.code).toBe('SWY_ENV_NOT_FOUND');
    expect(e.statusCode).toBe(404);
    expect(e).toBeInstanceOf(Error);
  });

  it('renders RFC 9457 problem details', () => {
    const p = toProblem(swyError('SWY_ENV_EXISTS', 'environment "a" already exists', { env: 'a' }), '/v1/environments');
    expect(p).toMatchObject({ type: 'https://switchyard.dev/errors/SWY_ENV_EXISTS', title: 'The environment already exists', status: 409, code: 'SWY_ENV_EXISTS', detail: 'environment "a" already exists', instance: '/v1/environments', env: 'a' });
  });
});
