/**
 * @module edge/admin-tokens
 * Bearer tokens for the admin API (`Authorization: Bearer swy_…`, RFC 6750 §2.1), created by
 * `switchyard token create`. The secret is shown once; only a salted SHA-256 of it is stored.
 * A token is 32 random bytes, so a fast hash suffices (no password-style stretching needed, and
 * every API request can afford the check). The secret embeds the token id, so verification looks
 * up one record and compares in constant time.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** What the store keeps for a token. */
export interface TokenRecord {
  /** Public identifier (16 hex digits), safe to list and log. */
  id: string;
  /** `sha256$<salt b64url>$<digest b64url>` of the secret. */
  hash: string;
  name?: string;
  createdAt?: string;
}

/** A new token: `secret` is shown to the user once and never stored. */
export interface NewToken { id: string; secret: string; hash: string }

const ID_BYTES = 8;
const RANDOM_BYTES = 32;
const SECRET_RE = /^swy_([A-Za-z0-9_-]{54})$/; // base64url of 8 + 32 bytes, unpadded

function digest(salt: Buffer, secret: string): Buffer {
  return createHash('sha256').update(salt).update(secret, 'utf8').digest();
}

function hashSecret(secret: string): string {
  const salt = randomBytes(16);
  return `sha256$${salt.toString('base64url')}$${digest(salt, secret).toString('base64url')}`;
}

/** Creates a token: `secret` = `swy_` + base64url(id ‖ 256 random bits). */
export function createToken(): NewToken {
  const idBytes = randomBytes(ID_BYTES);
  const secret = `swy_${Buffer.concat([idBytes, randomBytes(RANDOM_BYTES)]).toString('base64url')}`;
  return { id: idBytes.toString('hex'), secret, hash: hashSecret(secret) };
}

/** The token id a presented secret claims, or undefined when it is not a `swy_` token. */
export function tokenId(presented: string): string | undefined {
  const m = SECRET_RE.exec(presented);
  return m ? Buffer.from(m[1]!, 'base64url').subarray(0, ID_BYTES).toString('hex') : undefined;
}

// Compared against when no record matches, so a miss costs what a hit costs.
const DUMMY_SALT = randomBytes(16);
const DUMMY = digest(DUMMY_SALT, 'swy_dummy');

/**
 * The record `presented` matches, or undefined. The digest comparison is constant-time; the
 * lookup by id reveals only whether an id exists, and ids are not secret.
 */
export function verifyToken(presented: string | undefined, records: Iterable<TokenRecord> | ReadonlyMap<string, TokenRecord>): TokenRecord | undefined {
  const id = presented ? tokenId(presented) : undefined;
  let record: TokenRecord | undefined;
  if (id) {
    if (records instanceof Map) record = records.get(id);
    else for (const r of records as Iterable<TokenRecord>) if (r.id === id) { record = r; break; }
  }
  const parts = record?.hash.split('$');
  const ok = parts?.length === 3 && parts[0] === 'sha256';
  const salt = ok ? Buffer.from(parts[1]!, 'base64url') : DUMMY_SALT;
  const want = ok ? Buffer.from(parts[2]!, 'base64url') : DUMMY;
  const got = digest(salt, presented ?? '');
  const same = want.length === got.length && timingSafeEqual(want, got);
  return ok && same ? record : undefined;
}

/** The token of `Authorization: Bearer <token>` (RFC 6750 §2.1), or undefined. */
export function parseBearer(authorization: string | undefined): string | undefined {
  const m = authorization ? /^Bearer[ \t]+([A-Za-z0-9._~+/-]+=*)[ \t]*$/i.exec(authorization) : null;
  return m?.[1];
}
