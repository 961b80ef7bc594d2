// Admin API bearer tokens: format, stored hash only, verification against records.
import { describe, expect, it } from 'vitest';
import { createToken, parseBearer, tokenId, verifyToken, type TokenRecord } from '../../src/edge/admin-tokens.js';

describe('admin tokens', () => {
  it('creates swy_<base64url> secrets that embed the id; only a salted hash is kept', () => {
    const t = createToken();
    expect(t.secret).toMatch(/^swy_[A-Za-z0-9_-]{54}$/);
    expect(t.id).toMatch(/^[0-9a-f]{16}$/);
    expect(tokenId(t.secret)).toBe(t.id);
    expect(t.hash).toMatch(/^sha256\$[A-Za-z0-9_-]+\$[A-Za-z0-9_-]{43}$/);
    expect(t.hash).not.toContain(t.secret.slice(4));
    const u = createToken();
    expect(u.secret).not.toBe(t.secret);
  });

  it('verifies the right secret against the stored records and nothing else', () => {
    const a = createToken();
    const b = createToken();
    const records: TokenRecord[] = [{ id: a.id, hash: a.hash, name: 'ci' }, { id: b.id, hash: b.hash }];
    expect(verifyToken(a.secret, records)?.name).toBe('ci');
    expect(verifyToken(b.secret, new Map(records.map((r) => [r.id, r])))?.id).toBe(b.id);
    // Same id, different random part.
    const forged = `swy_${Buffer.concat([Buffer.from(a.id, 'hex'), Buffer.alloc(32)]).toString('base64url')}`;
    expect(tokenId(forged)).toBe(a.id);
    expect(verifyToken(forged, records)).toBeUndefined();
    // One character changed.
    const last = a.secret.at(-1) === 'A' ? 'B' : 'A';
    expect(verifyToken(a.secret.slice(0, -1) + last, records)).toBeUndefined();
    expect(verifyToken(createToken().secret, records)).toBeUndefined(); // unknown id
    for (const junk of [undefined, '', 'swy_', 'Bearer x', a.hash]) expect(verifyToken(junk, records)).toBeUndefined();
    expect(verifyToken(a.secret, [{ id: a.id, hash: 'corrupt' }])).toBeUndefined();
  });

  it('parses Authorization: Bearer', () => {
    const t = createToken();
    expect(parseBearer(`Bearer ${t.secret}`)).toBe(t.secret);
    expect(parseBearer(`bearer  ${t.secret} `)).toBe(t.secret);
    expect(parseBearer('Basic abc')).toBeUndefined();
    expect(parseBearer(undefined)).toBeUndefined();
  });
});
