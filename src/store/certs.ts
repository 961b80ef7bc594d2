/**
 * @module store/certs
 * Certificates and ACME state in the store, so every router replica serves what the control
 * plane obtained, and a restarted router serves it at once. Handshakes read from memory: the
 * names are loaded at start and reloaded every few seconds (certificates change rarely).
 */
import type { CertStore, StoredCert } from '../edge/cert-store.js';
import type { AcmeHostStatus, ChallengeStore } from '../edge/acme.js';
import type { Store } from './store.js';

export class DbCertStore implements CertStore {
  #byName = new Map<string, StoredCert>();
  #timer: ReturnType<typeof setInterval> | undefined;
  constructor(private readonly store: Store) {}

  /** Loads every certificate, then reloads every `everyMs` (ms). */
  async start(everyMs = 3_000): Promise<void> {
    await this.reload();
    this.#timer = setInterval(() => { void this.reload().catch(() => undefined); }, everyMs);
    this.#timer.unref();
  }

  stop(): void { if (this.#timer) clearInterval(this.#timer); }

  async reload(): Promise<void> {
    const { rows } = await this.store.read((q) => q.query<Record<string, unknown>>(
      'SELECT n.name, c.id, c.hostnames, c.cert_pem, c.key_pem, c.not_before, c.not_after, c.source FROM certificate_names n JOIN certificates c ON c.id = n.certificate_id'));
    const next = new Map<string, StoredCert>();
    for (const r of rows) {
      next.set(r.name as string, {
        id: r.id as string, hostnames: (typeof r.hostnames === 'string' ? JSON.parse(r.hostnames) : r.hostnames) as string[],
        certPem: r.cert_pem as string, keyPem: r.key_pem as string, notBefore: new Date(r.not_before as string), notAfter: new Date(r.not_after as string),
        source: r.source as StoredCert['source'],
      });
    }
    this.#byName = next;
  }

  async get(host: string): Promise<StoredCert | undefined> { return this.#byName.get(host.toLowerCase()); }

  async put(cert: StoredCert): Promise<void> {
    await this.store.read(async (q) => {
      await q.query(
        `INSERT INTO certificates (id, hostnames, cert_pem, key_pem, not_before, not_after, source) VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (id) DO NOTHING`,
        [cert.id, JSON.stringify(cert.hostnames), cert.certPem, cert.keyPem, cert.notBefore.toISOString(), cert.notAfter.toISOString(), cert.source]);
      for (const h of cert.hostnames) {
        await q.query('INSERT INTO certificate_names (name, certificate_id) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET certificate_id = EXCLUDED.certificate_id', [h.toLowerCase(), cert.id]);
      }
    });
    for (const h of cert.hostnames) this.#byName.set(h.toLowerCase(), cert);
  }

  async list(): Promise<StoredCert[]> { return [...new Set(this.#byName.values())]; }
}

/** HTTP-01 key authorizations, readable by every router replica. */
export class DbChallengeStore implements ChallengeStore {
  constructor(private readonly store: Store) {}
  async set(token: string, keyAuthorization: string): Promise<void> {
    await this.store.read((q) => q.query('INSERT INTO acme_challenges (token, key_authorization) VALUES ($1, $2) ON CONFLICT (token) DO UPDATE SET key_authorization = EXCLUDED.key_authorization', [token, keyAuthorization]));
  }
  async get(token: string): Promise<string | undefined> {
    const { rows } = await this.store.read((q) => q.query<{ key_authorization: string }>('SELECT key_authorization FROM acme_challenges WHERE token = $1', [token]));
    return rows[0]?.key_authorization;
  }
  async delete(token: string): Promise<void> {
    await this.store.read((q) => q.query('DELETE FROM acme_challenges WHERE token = $1', [token]));
  }
}

export async function recordAcmeStatus(store: Store, s: AcmeHostStatus): Promise<void> {
  await store.read((q) => q.query('INSERT INTO acme_status (host, status) VALUES ($1, $2) ON CONFLICT (host) DO UPDATE SET status = EXCLUDED.status, updated_at = now()', [s.host, JSON.stringify(s)]));
}

export async function listAcmeStatus(store: Store): Promise<AcmeHostStatus[]> {
  const { rows } = await store.read((q) => q.query<{ status: unknown }>('SELECT status FROM acme_status ORDER BY host'));
  return rows.map((r) => (typeof r.status === 'string' ? JSON.parse(r.status) : r.status) as AcmeHostStatus);
}
