/**
 * @module control/tls
 * The local CA of a laptop install: created once, its certificate kept in the store and its key
 * encrypted at rest (AES-256-GCM) with a master key that lives only in the data folder
 * (`master.key`, mode 0600). `ca.pem` is written beside it for `switchyard trust`.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLocalCa, decryptKey, encryptKey } from '../edge/local-ca.js';
import type { Store } from '../store/index.js';

export interface LocalCa { certPem: string; keyPem: string; certPath: string }

function masterKey(dataDir: string): string {
  const path = join(dataDir, 'master.key');
  if (!existsSync(path)) writeFileSync(path, randomBytes(32).toString('base64url') + '\n', { mode: 0o600, flag: 'wx' });
  return readFileSync(path, 'utf8').trim();
}

export async function loadOrCreateLocalCa(store: Store, dataDir: string, app: string): Promise<LocalCa> {
  const key = masterKey(dataDir);
  let created: { certPem: string; keyPem: string } | undefined;
  const existing = await store.read((q) => q.query<{ name: string; value: string }>("SELECT name, value FROM secrets WHERE name IN ('local-ca-cert', 'local-ca-key')"));
  let certPem = existing.rows.find((r) => r.name === 'local-ca-cert')?.value;
  let encKey = existing.rows.find((r) => r.name === 'local-ca-key')?.value;
  if (!certPem || !encKey) {
    created = await createLocalCa({ commonName: `switchyard local CA (${app})` });
    const enc = await encryptKey(created.keyPem, key);
    certPem = await store.secret('local-ca-cert', () => created!.certPem);
    encKey = await store.secret('local-ca-key', () => enc);
  }
  const keyPem = await decryptKey(encKey, key);
  const certPath = join(dataDir, 'ca.pem');
  writeFileSync(certPath, certPem);
  return { certPem, keyPem, certPath };
}
