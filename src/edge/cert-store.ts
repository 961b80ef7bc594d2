/**
 * @module edge/cert-store
 * Where certificates live and how a TLS listener picks one. {@link CertStore} is the interface the
 * store backs (one row per certificate, indexed by each of its names, so every router replica
 * serves what any one issued); {@link MemoryCertStore} is the in-memory version for tests and the
 * laptop. {@link CertificateManager} is the `SNICallback` of `tls.createServer` /
 * `http2.createSecureServer`: exact name first, then the wildcard one label up (RFC 6125 §6.4.3),
 * else — for hosts under a configured local domain — a certificate issued on demand by the local
 * CA; any other name fails the handshake (SWY_TLS_HOST_REFUSED).
 */
import { createSecureContext, type SecureContext } from 'node:tls';
import { swyError } from '../errors/index.js';
import { certificateFacts, issueCertificate, type CaMaterial } from './local-ca.js';
import { coveredByDomain, normalizeHost, wildcardFor } from './names.js';

/** One certificate with its key, as stored. */
export interface StoredCert {
  /** SHA-256 fingerprint of the leaf (hex): the certificate's identity. */
  id: string;
  /** Names it covers (its dNSName SANs, maybe `*.domain`), lower case. */
  hostnames: string[];
  /** Leaf first, then intermediates. */
  certPem: string;
  /** PKCS #8 private key PEM (a DB-backed store may encrypt it at rest). */
  keyPem: string;
  notBefore: Date;
  notAfter: Date;
  source: 'local-ca' | 'acme' | 'manual';
}

/**
 * Certificate storage. `get(name)` is an exact lookup of a certificate name (`a.b.c` or the
 * literal `*.b.c`) and is called on TLS handshakes, so an implementation must answer from memory
 * (the DB-backed store keeps a map refreshed by the change feed). `put` replaces whatever served
 * those names before.
 */
export interface CertStore {
  get(host: string): Promise<StoredCert | undefined>;
  put(cert: StoredCert): Promise<void>;
  list(): Promise<StoredCert[]>;
}

/**
 * Builds a {@link StoredCert} from PEMs, reading names and dates from the leaf.
 * @throws SWY_CERT_INVALID when the certificate does not parse.
 */
export function toStoredCert(certPem: string, keyPem: string, source: StoredCert['source']): StoredCert {
  const f = certificateFacts(certPem);
  return { id: f.fingerprint, hostnames: f.hostnames, certPem, keyPem, notBefore: f.notBefore, notAfter: f.notAfter, source };
}

/** In-memory {@link CertStore}. */
export class MemoryCertStore implements CertStore {
  readonly #byName = new Map<string, StoredCert>();
  async get(host: string): Promise<StoredCert | undefined> { return this.#byName.get(host.toLowerCase()); }
  async put(cert: StoredCert): Promise<void> { for (const h of cert.hostnames) this.#byName.set(h.toLowerCase(), cert); }
  async list(): Promise<StoredCert[]> { return [...new Set(this.#byName.values())]; }
}

/** Options of {@link CertificateManager}. */
export interface CertificateManagerOptions {
  store: CertStore;
  /** The local CA and the domains it issues for (`shop.localhost` covers it and `*.shop.localhost`). */
  localCa?: { ca: CaMaterial; domains: string[]; validityDays?: number };
  /** Local certificates are re-issued this long before notAfter (ms; default 7 days). */
  renewBeforeMs?: number;
  /** Bound on cached SecureContexts (default 512). */
  maxContexts?: number;
  /** Clock (ms since epoch), for tests. */
  now?: () => number;
}

/** Expiry of one served certificate, for `switchyard_certificate_expiry_seconds{host}`. */
export interface CertExpiry { host: string; notAfter: Date; secondsLeft: number; source: StoredCert['source'] }

/** Picks, issues and caches certificates for TLS handshakes. */
export class CertificateManager {
  readonly #o: CertificateManagerOptions;
  readonly #domains: string[];
  /** Certificate id → SecureContext, LRU (Map insertion order), bounded by `maxContexts`. */
  readonly #contexts = new Map<string, SecureContext>();
  /** Certificate name (from the store, never the SNI) → in-flight local issuance. */
  readonly #issuing = new Map<string, Promise<StoredCert>>();

  constructor(opts: CertificateManagerOptions) {
    this.#o = opts;
    this.#domains = (opts.localCa?.domains ?? []).map((d) => {
      const n = normalizeHost(d);
      if (!n) throw swyError('SWY_CERT_INVALID', `local CA domain "${d}" is not a DNS name`, { host: d });
      return n;
    });
  }

  /** `SNICallback` for `tls.createServer` / `http2.createSecureServer`. */
  readonly sniCallback = (servername: string, cb: (err: Error | null, ctx?: SecureContext) => void): void => {
    this.contextFor(servername).then((ctx) => cb(null, ctx), (e: unknown) => cb(e instanceof Error ? e : new Error(String(e))));
  };

  /**
   * The certificate for a host: stored exact name, then stored `*.parent`, then (under a local
   * domain) issued now. Expired or soon-expiring local certificates are re-issued; ACME ones are
   * served as stored (their renewal is the ACME issuer's job).
   * @throws SWY_TLS_HOST_REFUSED for a malformed name or one nothing covers.
   */
  async certificateFor(servername: string): Promise<StoredCert> {
    const host = normalizeHost(servername);
    if (!host) throw swyError('SWY_TLS_HOST_REFUSED', 'the TLS client sent no usable server name', { host: String(servername).slice(0, 253) });
    const wildcard = wildcardFor(host);
    const found = (await this.#o.store.get(host)) ?? (wildcard ? await this.#o.store.get(wildcard) : undefined);
    const domain = this.#localDomainFor(host);
    if (found && !(domain && found.source === 'local-ca' && this.#stale(found))) return found;
    if (!domain) {
      if (found) return found;
      throw swyError('SWY_TLS_HOST_REFUSED', `no certificate for "${host}" and it is not under a local domain`, { host });
    }
    return this.#issueLocal(domain);
  }

  /** SecureContext for a host, cached by certificate identity. Errors as {@link certificateFor}. */
  async contextFor(servername: string): Promise<SecureContext> {
    const cert = await this.certificateFor(servername);
    let ctx = this.#contexts.get(cert.id);
    if (ctx) {
      this.#contexts.delete(cert.id); // LRU touch
    } else {
      ctx = createSecureContext({ cert: cert.certPem, key: cert.keyPem });
    }
    this.#contexts.set(cert.id, ctx);
    while (this.#contexts.size > (this.#o.maxContexts ?? 512)) this.#contexts.delete(this.#contexts.keys().next().value!);
    return ctx;
  }

  /** Number of cached SecureContexts (for tests and diagnostics). */
  get cachedContexts(): number { return this.#contexts.size; }

  /** Expiry of every stored certificate, one entry per name (sorted by name). */
  async expiries(): Promise<CertExpiry[]> {
    const now = this.#now();
    const out: CertExpiry[] = [];
    for (const c of await this.#o.store.list()) {
      for (const host of c.hostnames) out.push({ host, notAfter: c.notAfter, secondsLeft: Math.round((c.notAfter.getTime() - now) / 1000), source: c.source });
    }
    return out.sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : 0));
  }

  #now(): number { return this.#o.now?.() ?? Date.now(); }

  #stale(c: StoredCert): boolean { return c.notAfter.getTime() - this.#now() <= (this.#o.renewBeforeMs ?? 7 * 86_400_000); }

  /** The configured domain covering `host` (itself or one label under it), most specific first. */
  #localDomainFor(host: string): string | undefined {
    let best: string | undefined;
    for (const d of this.#domains) if (coveredByDomain(host, d) && (!best || d.length > best.length)) best = d;
    return best;
  }

  /** Issues `*.domain` + `domain` once, however many handshakes ask at the same time. */
  #issueLocal(domain: string): Promise<StoredCert> {
    const running = this.#issuing.get(domain);
    if (running) return running;
    const local = this.#o.localCa!;
    const p = (async () => {
      const issued = await issueCertificate(local.ca, [`*.${domain}`, domain], { validityDays: local.validityDays ?? 90, now: new Date(this.#now()) });
      const cert = toStoredCert(issued.certPem, issued.keyPem, 'local-ca');
      await this.#o.store.put(cert);
      return cert;
    })().finally(() => this.#issuing.delete(domain));
    this.#issuing.set(domain, p);
    return p;
  }
}

/**
 * Options for `http2.createSecureServer` (or `https`/`tls.createServer`): SNI through the manager,
 * ALPN `h2` then `http/1.1` (RFC 7301; HTTP/2 over TLS per RFC 9113 §3.2), TLS ≥ 1.2,
 * `allowHTTP1` so HTTP/1.1 clients share the listener.
 */
export function tlsServerOptions(manager: CertificateManager): { SNICallback: CertificateManager['sniCallback']; ALPNProtocols: string[]; minVersion: 'TLSv1.2'; allowHTTP1: true } {
  return { SNICallback: manager.sniCallback, ALPNProtocols: ['h2', 'http/1.1'], minVersion: 'TLSv1.2', allowHTTP1: true };
}
