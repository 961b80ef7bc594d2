/**
 * @module edge/local-ca
 * The laptop's own certificate authority. switchyard creates one CA once (kept in the store, its
 * key encrypted at rest with {@link encryptKey}) and issues short-lived server certificates from it
 * on demand for the app's hosts (`*.shop.localhost` + `shop.localhost`). The user trusts the CA once
 * (`switchyard trust` prints {@link trustCommands}).
 *
 * Keys are ECDSA P-256, signatures ECDSA-SHA256 (RFC 5758 §3.2); certificates are X.509 v3 per
 * RFC 5280 with the profile browsers require of a private root (CA: basicConstraints critical,
 * keyCertSign; leaf: subjectAltName dNSNames, extendedKeyUsage serverAuth, ≤ 825 days).
 * Built on `@peculiar/x509` over Node's WebCrypto; nothing here touches the network or disk.
 */
import 'reflect-metadata';
import { createCipheriv, createDecipheriv, randomBytes, scrypt as scryptCb, webcrypto, X509Certificate, type ScryptOptions } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { swyError } from '../errors/index.js';
import { normalizeHost } from './names.js';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

const EC: EcKeyImportParams & EcKeyGenParams = { name: 'ECDSA', namedCurve: 'P-256' };
const SIGN: EcdsaParams = { name: 'ECDSA', hash: 'SHA-256' };
const DAY_MS = 86_400_000;
/** Browsers (Apple's policy for private roots included) refuse leaf certificates valid longer than this. */
export const MAX_LEAF_VALIDITY_DAYS = 825;

/** A CA (or any certificate) and its private key, both PEM (key: PKCS #8 `PRIVATE KEY`). */
export interface CaMaterial {
  certPem: string;
  keyPem: string;
}

/** An issued leaf: certificate and key PEM, and its expiry. */
export interface IssuedCertificate extends CaMaterial {
  notAfter: Date;
}

function serial(): string {
  const b = randomBytes(16);
  b[0] = b[0]! & 0x7f; // positive INTEGER, RFC 5280 §4.1.2.2 (≤ 20 octets)
  if (b[0] === 0) b[0] = 1;
  return b.toString('hex');
}

async function generateKeys(): Promise<CryptoKeyPair> {
  return webcrypto.subtle.generateKey(EC, true, ['sign', 'verify']) as Promise<CryptoKeyPair>;
}

async function keyToPem(key: CryptoKey): Promise<string> {
  return x509.PemConverter.encode(await webcrypto.subtle.exportKey('pkcs8', key), 'PRIVATE KEY');
}

async function importSigningKey(pem: string): Promise<CryptoKey> {
  try {
    return await webcrypto.subtle.importKey('pkcs8', x509.PemConverter.decode(pem)[0]!, EC, false, ['sign']);
  } catch (e) {
    throw swyError('SWY_CERT_INVALID', 'the CA key is not a PKCS #8 ECDSA P-256 private key', {}, e);
  }
}

/**
 * Creates a self-signed root CA (P-256, valid `validityDays`, default 10 years, back-dated one
 * hour for clock skew). Name: `CN=<commonName>, O=switchyard`. pathLenConstraint 0: it signs leaves only.
 */
export async function createLocalCa(opts: { commonName: string; validityDays?: number; now?: Date }): Promise<CaMaterial> {
  const now = opts.now ?? new Date();
  const keys = await generateKeys();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: [{ CN: [opts.commonName] }, { O: ['switchyard'] }],
    notBefore: new Date(now.getTime() - 3_600_000),
    notAfter: new Date(now.getTime() + (opts.validityDays ?? 3650) * DAY_MS),
    signingAlgorithm: SIGN,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: cert.toString('pem'), keyPem: await keyToPem(keys.privateKey) };
}

/**
 * Issues a server certificate for `hostnames` (the first is the subject CN; all are dNSName SANs;
 * a wildcard only as a whole leftmost label). Valid `validityDays` (default 90, at most
 * {@link MAX_LEAF_VALIDITY_DAYS}) from one hour ago, but never past the CA's own notAfter.
 * @throws SWY_CERT_INVALID for an empty list or a name that is not a DNS name.
 */
export async function issueCertificate(ca: CaMaterial, hostnames: string[], opts: { validityDays?: number; now?: Date } = {}): Promise<IssuedCertificate> {
  const names = [...new Set(hostnames.map((h) => {
    const n = normalizeHost(h, true);
    if (!n) throw swyError('SWY_CERT_INVALID', `"${h}" cannot be a certificate name (not a DNS name, or a wildcard that is not the whole leftmost label)`, { host: h });
    return n;
  }))];
  if (names.length === 0) throw swyError('SWY_CERT_INVALID', 'a certificate needs at least one host name');
  const days = Math.min(opts.validityDays ?? 90, MAX_LEAF_VALIDITY_DAYS);
  const now = opts.now ?? new Date();
  const caCert = new x509.X509Certificate(ca.certPem);
  const notAfter = new Date(Math.min(now.getTime() + days * DAY_MS, caCert.notAfter.getTime()));
  const [signingKey, keys] = await Promise.all([importSigningKey(ca.keyPem), generateKeys()]);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: [{ CN: [names[0]!] }],
    issuer: caCert.subject,
    notBefore: new Date(now.getTime() - 3_600_000),
    notAfter,
    signingAlgorithm: SIGN,
    publicKey: keys.publicKey,
    signingKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
      new x509.SubjectAlternativeNameExtension(names.map((value) => ({ type: 'dns' as const, value })), false),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(caCert.publicKey, false),
    ],
  });
  return { certPem: cert.toString('pem'), keyPem: await keyToPem(keys.privateKey), notAfter };
}

/** What the certificate manager needs to know about a certificate PEM (leaf first). */
export interface CertificateFacts {
  /** SHA-256 fingerprint of the leaf (hex, no colons): the certificate's identity. */
  fingerprint: string;
  /** dNSName SANs, lower case (the subject CN when there are none). */
  hostnames: string[];
  notBefore: Date;
  notAfter: Date;
}

/**
 * Reads the leaf of a PEM chain.
 * @throws SWY_CERT_INVALID when it does not parse.
 */
export function certificateFacts(certPem: string): CertificateFacts {
  let c: X509Certificate;
  try { c = new X509Certificate(certPem); } catch (e) { throw swyError('SWY_CERT_INVALID', 'the certificate PEM does not parse', {}, e); }
  const sans = (c.subjectAltName ?? '').split(', ').filter((s) => s.startsWith('DNS:')).map((s) => s.slice(4).toLowerCase());
  const cn = /(?:^|\n)CN=([^\n]+)/.exec(c.subject)?.[1];
  return {
    fingerprint: c.fingerprint256.replace(/:/g, '').toLowerCase(),
    hostnames: sans.length > 0 ? sans : cn ? [cn.toLowerCase()] : [],
    notBefore: new Date(c.validFrom),
    notAfter: new Date(c.validTo),
  };
}

// ── Encryption at rest ────────────────────────────────────────────────────────────────────────
// Format: `swyenc1$<N>$<r>$<p>$<salt>$<iv>$<tag>$<ciphertext>` (base64url fields). The key is
// scrypt(secret, salt) (RFC 7914), the cipher AES-256-GCM (NIST SP 800-38D) with a 96-bit IV and
// the header as additional data, so a changed parameter fails authentication too.
const ENC_PREFIX = 'swyenc1';
const SCRYPT = { N: 1 << 15, r: 8, p: 1 };

function deriveKey(secret: string, salt: Buffer, o: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => scryptCb(secret, salt, 32, { ...o, maxmem: 256 * 1024 * 1024 }, (e, k) => (e ? reject(e) : resolve(k))));
}

/** Encrypts a PEM (or any text) under `secret` (AES-256-GCM, scrypt N=2^15 key; ~50–100 ms). */
export async function encryptKey(pem: string, secret: string): Promise<string> {
  if (!secret) throw swyError('SWY_SECRET_DECRYPT', 'an empty secret cannot encrypt a key');
  const salt = randomBytes(16);
  const iv = randomBytes(12);
  const header = `${ENC_PREFIX}$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64url')}$${iv.toString('base64url')}`;
  const c = createCipheriv('aes-256-gcm', await deriveKey(secret, salt, SCRYPT), iv);
  c.setAAD(Buffer.from(header));
  const ct = Buffer.concat([c.update(pem, 'utf8'), c.final()]);
  return `${header}$${c.getAuthTag().toString('base64url')}$${ct.toString('base64url')}`;
}

/**
 * Decrypts what {@link encryptKey} produced.
 * @throws SWY_SECRET_DECRYPT on a wrong secret, a tampered or malformed value.
 */
export async function decryptKey(encrypted: string, secret: string): Promise<string> {
  const parts = encrypted.split('$');
  const [prefix, n, r, p, salt, iv, tag, ct] = parts;
  const N = Number(n), R = Number(r), P = Number(p);
  if (parts.length !== 8 || prefix !== ENC_PREFIX || !Number.isInteger(Math.log2(N)) || N > 1 << 20 || !(R >= 1 && R <= 32) || !(P >= 1 && P <= 16)) {
    throw swyError('SWY_SECRET_DECRYPT', 'the encrypted key is not in swyenc1 format');
  }
  try {
    const d = createDecipheriv('aes-256-gcm', await deriveKey(secret, Buffer.from(salt!, 'base64url'), { N, r: R, p: P }), Buffer.from(iv!, 'base64url'));
    d.setAAD(Buffer.from(parts.slice(0, 6).join('$')));
    d.setAuthTag(Buffer.from(tag!, 'base64url'));
    return Buffer.concat([d.update(Buffer.from(ct!, 'base64url')), d.final()]).toString('utf8');
  } catch (e) {
    throw swyError('SWY_SECRET_DECRYPT', 'the encrypted key does not decrypt: wrong secret or tampered data', {}, e);
  }
}

/**
 * The commands `switchyard trust` prints to trust the CA stored at `caCertPath`, per platform.
 * Nothing is run: changing a trust store needs the user's consent (and often sudo).
 */
export function trustCommands(caCertPath: string): string[] {
  const q = `'${caCertPath.replace(/'/g, `'\\''`)}'`;
  return [
    `# switchyard local CA: ${caCertPath}`,
    `# Debian/Ubuntu:  sudo cp ${q} /usr/local/share/ca-certificates/switchyard.crt && sudo update-ca-certificates`,
    `# Fedora/RHEL:    sudo trust anchor --store ${q}`,
    `# macOS:          sudo security add-trusted-cert -d -r trustRoot -k /Library/Keychains/System.keychain ${q}`,
    `# Windows:        certutil -addstore -f ROOT ${q}`,
    `# Chrome/Firefox on Linux (NSS):  certutil -d sql:$HOME/.pki/nssdb -A -t C,, -n switchyard -i ${q}`,
    `# Node.js:        export NODE_EXTRA_CA_CERTS=${q}`,
    `# curl:           curl --cacert ${q} https://…`,
  ];
}
