// Test-time PKI: everything is generated in memory so no key material lives in the repository,
// and ECDSA P-256 keeps generation to a few milliseconds per certificate.

import { KeyObject, randomBytes, webcrypto } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

export interface KeyPair {
  /** PEM certificate. */
  cert: string;
  /** PEM PKCS#8 private key (`-----BEGIN PRIVATE KEY-----`), which both Node and Go accept. */
  key: string;
}

export interface Pki {
  /** PEM certificate of the trusted CA (pass as `ca` to servers and clients). */
  ca: string;
  caKey: string;
  /** Signed by `ca`; SAN DNS:localhost, DNS:kubernetes.local, IP:127.0.0.1, IP:::1. */
  server: KeyPair;
  /** Signed by `ca`; subject CN=alice, O=devs; EKU clientAuth. */
  client: KeyPair;
  /** An unrelated CA: trusting it instead of `ca` gives "unknown authority". */
  otherCa: string;
  otherCaKey: string;
  /** Client certificate CN=mallory signed by `otherCa`: presented but never verified by the upstream. */
  otherClient: KeyPair;
  /** Signed by `ca` but with SAN DNS:other.example only, for name-mismatch tests. */
  wrongName: KeyPair;
}

export interface PkiPaths {
  ca: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  otherCa: string;
  otherCaKey: string;
  otherClientCert: string;
  otherClientKey: string;
  wrongNameCert: string;
  wrongNameKey: string;
}

const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

// Go (kubectl) rejects negative serial numbers since 1.23, so the top bit is always cleared.
function serial(): string {
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x7f) | 0x01;
  return b.toString('hex');
}

// Backdated so that a skewed clock in a container does not make fresh certificates "not yet valid".
function validity(): { notBefore: Date; notAfter: Date } {
  const now = Date.now();
  return { notBefore: new Date(now - 60 * 60 * 1000), notAfter: new Date(now + 24 * 60 * 60 * 1000) };
}

async function newKeys(): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as CryptoKeyPair;
}

function keyPem(key: CryptoKey): string {
  return KeyObject.from(key as unknown as webcrypto.CryptoKey).export({ type: 'pkcs8', format: 'pem' }) as string;
}

interface Issuer {
  cert: x509.X509Certificate;
  keys: CryptoKeyPair;
}

async function makeCa(name: string): Promise<Issuer> {
  const keys = await newKeys();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name,
    ...validity(),
    signingAlgorithm: alg,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 1, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert, keys };
}

async function makeLeaf(
  issuer: Issuer,
  subject: string,
  usage: 'server' | 'client',
  sans: x509.JsonGeneralName[] = [],
): Promise<KeyPair> {
  const keys = await newKeys();
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
    new x509.ExtendedKeyUsageExtension([usage === 'server' ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth]),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    await x509.AuthorityKeyIdentifierExtension.create(issuer.keys.publicKey),
  ];
  if (sans.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(sans));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject,
    issuer: issuer.cert.subject,
    ...validity(),
    signingAlgorithm: alg,
    publicKey: keys.publicKey,
    signingKey: issuer.keys.privateKey,
    extensions,
  });
  return { cert: cert.toString('pem'), key: keyPem(keys.privateKey) };
}

async function generate(): Promise<Pki> {
  const [ca, other] = await Promise.all([makeCa('CN=kproxy-test-ca'), makeCa('CN=kproxy-unrelated-ca')]);
  const [server, client, otherClient, wrongName] = await Promise.all([
    makeLeaf(ca, 'CN=kproxy-test-server', 'server', [
      { type: 'dns', value: 'localhost' },
      { type: 'dns', value: 'kubernetes.local' },
      { type: 'ip', value: '127.0.0.1' },
      { type: 'ip', value: '::1' },
    ]),
    makeLeaf(ca, 'CN=alice, O=devs', 'client'),
    makeLeaf(other, 'CN=mallory, O=devs', 'client'),
    makeLeaf(ca, 'CN=other.example', 'server', [{ type: 'dns', value: 'other.example' }]),
  ]);
  return {
    ca: ca.cert.toString('pem'),
    caKey: keyPem(ca.keys.privateKey),
    server,
    client,
    otherCa: other.cert.toString('pem'),
    otherCaKey: keyPem(other.keys.privateKey),
    otherClient,
    wrongName,
  };
}

let cached: Promise<Pki> | undefined;

/** One generation per process (each test file runs in its own process). */
export function makePki(): Promise<Pki> {
  cached ??= generate();
  // A failed generation must not poison every later caller.
  cached.catch(() => {
    cached = undefined;
  });
  return cached;
}

/** Writes every PEM into `dir` (created if missing); keys are 0600 as kubectl would expect. */
export function writePkiFiles(dir: string, pki: Pki): PkiPaths {
  mkdirSync(dir, { recursive: true });
  const put = (name: string, pem: string, secret = false): string => {
    const p = join(dir, name);
    writeFileSync(p, pem, { mode: secret ? 0o600 : 0o644 });
    return p;
  };
  return {
    ca: put('ca.crt', pki.ca),
    caKey: put('ca.key', pki.caKey, true),
    serverCert: put('server.crt', pki.server.cert),
    serverKey: put('server.key', pki.server.key, true),
    clientCert: put('client.crt', pki.client.cert),
    clientKey: put('client.key', pki.client.key, true),
    otherCa: put('other-ca.crt', pki.otherCa),
    otherCaKey: put('other-ca.key', pki.otherCaKey, true),
    otherClientCert: put('other-client.crt', pki.otherClient.cert),
    otherClientKey: put('other-client.key', pki.otherClient.key, true),
    wrongNameCert: put('wrong-name.crt', pki.wrongName.cert),
    wrongNameKey: put('wrong-name.key', pki.wrongName.key, true),
  };
}
