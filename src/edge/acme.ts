/**
 * @module edge/acme
 * Certificates from an ACME CA (RFC 8555) through `acme-client`: ordered when a host first appears
 * ({@link AcmeIssuer.ensure}), stored in the {@link CertStore} (so every router replica serves
 * them), renewed at two thirds of their lifetime, retried with exponential backoff on failure, and
 * a status per host (`pending | valid | failed`, last error, next attempt) for `switchyard status`.
 *
 * Challenges: HTTP-01 (RFC 8555 §8.3). The key authorization goes into a shared
 * {@link ChallengeStore}, and every replica's plain-HTTP listener answers
 * `/.well-known/acme-challenge/<token>` from it ({@link AcmeIssuer.http01Handler}), whichever
 * replica the CA's validation request reaches. DNS-01 (§8.4, needed for wildcards) is the
 * {@link Dns01Solver} hook: no provider is built in.
 *
 * Run the scheduler ({@link AcmeIssuer.start}) in one process only (the control plane, or the
 * replica holding a lock); every replica answers HTTP-01.
 */
import 'reflect-metadata';
import { Agent as HttpsAgent } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { rootCertificates } from 'node:tls';
import * as acme from 'acme-client';
import { swyError } from '../errors/index.js';
import { toStoredCert, type CertStore, type StoredCert } from './cert-store.js';
import { normalizeHost } from './names.js';

/** Shared key-authorization store for HTTP-01 (the DB in production, memory in tests). */
export interface ChallengeStore {
  /** Publishes `keyAuthorization` for `token` (RFC 8555 §8.1) until deleted. */
  set(token: string, keyAuthorization: string): Promise<void>;
  get(token: string): Promise<string | undefined>;
  delete(token: string): Promise<void>;
}

/** In-memory {@link ChallengeStore}. */
export class MemoryChallengeStore implements ChallengeStore {
  readonly #m = new Map<string, string>();
  async set(token: string, keyAuthorization: string): Promise<void> { this.#m.set(token, keyAuthorization); }
  async get(token: string): Promise<string | undefined> { return this.#m.get(token); }
  async delete(token: string): Promise<void> { this.#m.delete(token); }
}

/**
 * DNS-01 hook (RFC 8555 §8.4), left to integrations (Route 53, Cloudflare…; none is built in):
 * publish the TXT record `recordName` (`_acme-challenge.<domain>`, the domain without `*.`) with
 * `txtValue` (already `base64url(SHA-256(keyAuthorization))`), resolve once it is visible at the
 * authoritative servers, and remove it in `cleanup`. Required for `*.domain` names.
 */
export interface Dns01Solver {
  present(domain: string, recordName: string, txtValue: string): Promise<void>;
  cleanup(domain: string, recordName: string, txtValue: string): Promise<void>;
}

/** Per-host ACME state. Times are ms since the epoch. */
export interface AcmeHostStatus {
  host: string;
  state: 'pending' | 'valid' | 'failed';
  /** Failed attempts since the last success. */
  failures: number;
  lastError?: string;
  /** When the next order (first, retry or renewal) is due. */
  nextAttemptAt: number;
  notAfter?: number;
}

/** Options of {@link AcmeIssuer}. */
export interface AcmeIssuerOptions {
  /** ACME directory URL (RFC 8555 §7.1.1), e.g. Let's Encrypt's or pebble's `https://…/dir`. */
  directoryUrl: string;
  /** Account contact (`mailto:`), RFC 8555 §7.3. */
  email: string;
  certStore: CertStore;
  challengeStore: ChallengeStore;
  /**
   * Extra CA PEM to trust for the ACME server's own TLS (pebble's). acme-client has one axios
   * instance per process, so this sets its HTTPS agent process-wide (public roots stay trusted).
   */
  caBundle?: string;
  /** Account key PEM; created on first use when absent (read it back from {@link AcmeIssuer.accountKeyPem} and store it). */
  accountKeyPem?: string;
  dns01?: Dns01Solver;
  /** Backoff after failure n: min(maxMs, baseMs·2^(n−1)), jittered ×[0.5, 1). Defaults 60 s and 6 h. */
  retry?: { baseMs?: number; maxMs?: number };
  /** Fraction of the lifetime after which a certificate is renewed (default 2/3). */
  renewAt?: number;
  /** acme-client's polling backoff for pending orders/challenges (ms; its defaults 5 s … 30 s, 10 attempts). */
  polling?: { backoffMin?: number; backoffMax?: number; backoffAttempts?: number };
  /** Scheduler period (ms, default 60 s). */
  tickMs?: number;
  /** Called after every status change (persist it for `switchyard status`). */
  onStatus?: (s: AcmeHostStatus) => void;
  now?: () => number;
  random?: () => number;
}

const TOKEN_PATH = /^\/\.well-known\/acme-challenge\/([A-Za-z0-9_-]{1,256})$/;

/** Orders, stores and renews ACME certificates; answers HTTP-01. */
export class AcmeIssuer {
  readonly #o: AcmeIssuerOptions;
  readonly #hosts = new Map<string, AcmeHostStatus>();
  readonly #inFlight = new Map<string, Promise<StoredCert>>();
  #client: acme.Client | undefined;
  #accountKey: string | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(opts: AcmeIssuerOptions) {
    this.#o = opts;
    this.#accountKey = opts.accountKeyPem;
    if (opts.caBundle) acme.axios.defaults.httpsAgent = new HttpsAgent({ ca: [...rootCertificates, opts.caBundle], keepAlive: true });
  }

  /** The account key (PEM), once created or given. */
  get accountKeyPem(): string | undefined { return this.#accountKey; }

  /**
   * HTTP-01 responder for the plain-HTTP listener. Returns false (and leaves `res` alone) when the
   * path is not `/.well-known/acme-challenge/<token>`; otherwise answers 200 with the key
   * authorization or 404, asynchronously from the shared store, and returns true.
   */
  http01Handler = (req: IncomingMessage, res: ServerResponse): boolean => {
    const path = (req.url ?? '').split('?')[0]!;
    if (!path.startsWith('/.well-known/acme-challenge/')) return false;
    const m = TOKEN_PATH.exec(path);
    const send = (status: number, body: string): void => {
      res.writeHead(status, { 'content-type': status === 200 ? 'application/octet-stream' : 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    if (!m || (req.method !== 'GET' && req.method !== 'HEAD')) { send(404, 'not found\n'); return true; }
    this.#o.challengeStore.get(m[1]!).then((ka) => (ka ? send(200, ka) : send(404, 'no such challenge\n')), () => send(503, 'challenge store unavailable\n'));
    return true;
  };

  /** Every host's status (sorted by host). */
  status(): AcmeHostStatus[] { return [...this.#hosts.values()].map((s) => ({ ...s })).sort((a, b) => (a.host < b.host ? -1 : 1)); }

  /** When `cert` is due for renewal: notBefore + renewAt·lifetime. */
  renewalTime(cert: Pick<StoredCert, 'notBefore' | 'notAfter'>): number {
    const nb = cert.notBefore.getTime();
    return nb + (cert.notAfter.getTime() - nb) * (this.#o.renewAt ?? 2 / 3);
  }

  /**
   * Tracks `host` (idempotent): a valid stored certificate is scheduled for renewal, otherwise an
   * order is due now (run by the next {@link tick}). Returns the status.
   */
  async ensure(hostname: string): Promise<AcmeHostStatus> {
    const host = this.#name(hostname);
    const known = this.#hosts.get(host);
    if (known) return { ...known };
    const stored = await this.#o.certStore.get(host);
    const s: AcmeHostStatus = stored && stored.notAfter.getTime() > this.#now()
      ? { host, state: 'valid', failures: 0, nextAttemptAt: this.renewalTime(stored), notAfter: stored.notAfter.getTime() }
      : { host, state: 'pending', failures: 0, nextAttemptAt: this.#now() };
    this.#set(s);
    return { ...s };
  }

  /** Stops tracking `host` (its stored certificate stays). */
  forget(host: string): void { this.#hosts.delete(host.toLowerCase()); }

  /** Runs every due order (first, retry, renewal), at most one per host at a time. */
  async tick(): Promise<void> {
    const now = this.#now();
    const due = [...this.#hosts.values()].filter((s) => s.nextAttemptAt <= now && !this.#inFlight.has(s.host));
    await Promise.allSettled(due.map((s) => this.order(s.host)));
  }

  /** Starts the periodic {@link tick} (unref'd). */
  start(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => { void this.tick(); }, this.#o.tickMs ?? 60_000);
    this.#timer.unref();
    void this.tick();
  }

  stop(): void { if (this.#timer) clearInterval(this.#timer); this.#timer = undefined; }

  /**
   * Orders a certificate for `host` now and stores it; on failure records it and schedules a retry
   * with backoff. Concurrent calls for one host share the order.
   * @throws SWY_ACME_FAILED (cause: acme-client's error).
   */
  order(hostname: string): Promise<StoredCert> {
    const host = this.#name(hostname);
    const running = this.#inFlight.get(host);
    if (running) return running;
    const p = this.#order(host).finally(() => this.#inFlight.delete(host));
    this.#inFlight.set(host, p);
    return p;
  }

  async #order(host: string): Promise<StoredCert> {
    const prev = this.#hosts.get(host) ?? { host, state: 'pending' as const, failures: 0, nextAttemptAt: this.#now() };
    try {
      if (host.startsWith('*.') && !this.#o.dns01) throw new Error(`"${host}" is a wildcard: it needs DNS-01 and no Dns01Solver is configured`);
      const client = await this.#acmeClient();
      const [key, csr] = await acme.crypto.createCsr({ commonName: host, altNames: [host] }, await acme.crypto.createPrivateEcdsaKey('P-256'));
      const certPem = await client.auto({
        csr,
        email: this.#o.email,
        termsOfServiceAgreed: true,
        // The CA validates; a self-check would need this process to resolve and reach the public name.
        skipChallengeVerification: true,
        challengePriority: this.#o.dns01 ? ['http-01', 'dns-01'] : ['http-01'],
        challengeCreateFn: async (authz, ch, ka) => {
          if (ch.type === 'http-01') await this.#o.challengeStore.set(ch.token, ka);
          else if (ch.type === 'dns-01' && this.#o.dns01) await this.#o.dns01.present(authz.identifier.value, `_acme-challenge.${authz.identifier.value}`, ka);
          else throw new Error(`no solver for challenge type ${ch.type}`);
        },
        challengeRemoveFn: async (authz, ch, ka) => {
          if (ch.type === 'http-01') await this.#o.challengeStore.delete(ch.token);
          else if (ch.type === 'dns-01' && this.#o.dns01) await this.#o.dns01.cleanup(authz.identifier.value, `_acme-challenge.${authz.identifier.value}`, ka);
        },
      });
      const cert = toStoredCert(certPem, key.toString(), 'acme');
      await this.#o.certStore.put(cert);
      this.#set({ host, state: 'valid', failures: 0, nextAttemptAt: this.renewalTime(cert), notAfter: cert.notAfter.getTime() });
      return cert;
    } catch (e) {
      const failures = prev.failures + 1;
      const { baseMs = 60_000, maxMs = 6 * 3_600_000 } = this.#o.retry ?? {};
      const delay = Math.min(maxMs, baseMs * 2 ** (failures - 1)) * (0.5 + 0.5 * (this.#o.random ?? Math.random)());
      const message = e instanceof Error ? e.message : String(e);
      // A renewal that fails is 'failed' too (notAfter says the old certificate is still served).
      this.#set({ ...prev, host, state: 'failed', failures, lastError: message, nextAttemptAt: this.#now() + Math.round(delay) });
      throw swyError('SWY_ACME_FAILED', `ACME order for "${host}" failed: ${message}`, { host, failures }, e);
    }
  }

  async #acmeClient(): Promise<acme.Client> {
    if (!this.#client) {
      this.#accountKey ??= (await acme.crypto.createPrivateEcdsaKey('P-256')).toString();
      this.#client = new acme.Client({ directoryUrl: this.#o.directoryUrl, accountKey: this.#accountKey, ...this.#o.polling });
    }
    return this.#client;
  }

  #name(hostname: string): string {
    const host = normalizeHost(hostname, true);
    if (!host) throw swyError('SWY_CERT_INVALID', `"${hostname}" is not a DNS name an ACME CA can certify`, { host: hostname });
    return host;
  }

  #set(s: AcmeHostStatus): void { this.#hosts.set(s.host, s); this.#o.onStatus?.({ ...s }); }
  #now(): number { return this.#o.now?.() ?? Date.now(); }
}
