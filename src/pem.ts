// Certificates and keys checked the way Go checks them, with Go's wording. Node accepts a CA
// that holds no certificate (every request then fails with "unknown authority", which blames
// the server) and reports a bad client key with an OpenSSL code; client-go refuses both at
// start-up with messages kubectl users search for. Pure: bytes in, PEM text or an error out.

import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';

/** One PEM block as Go's encoding/pem.Decode returns it. */
export interface PemBlock {
  type: string;
  /** Whether `Key: value` header lines preceded the body (x509.CertPool skips such blocks). */
  hasHeaders: boolean;
  der: Buffer;
  /** The block's text, as found. */
  text: string;
  /** Offset just past the END line (and its line break) in the input. */
  end: number;
}

const BLOCK = /^-----BEGIN ([^\r\n]*?)-----[ \t]*\r?\n([\s\S]*?)^-----END \1-----/gm;

/** Every well-formed block, in order. Blocks whose body is not valid base64 are skipped, as in Go. */
export function pemBlocks(data: Buffer | string): PemBlock[] {
  const text = typeof data === 'string' ? data : data.toString('latin1');
  const out: PemBlock[] = [];
  for (const m of text.matchAll(BLOCK)) {
    let body = m[2]!;
    let hasHeaders = false;
    const blank = /\r?\n\r?\n/.exec(body);
    if (blank && /^[^\s:]+:/.test(body)) {
      hasHeaders = true;
      body = body.slice(blank.index + blank[0].length);
    }
    const b64 = body.replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 !== 0) continue;
    const after = m.index + m[0].length;
    const eol = text.indexOf('\n', after);
    out.push({ type: m[1]!, hasHeaders, der: Buffer.from(b64, 'base64'), text: m[0], end: eol === -1 ? text.length : eol + 1 });
  }
  return out;
}

/**
 * client-go's rootCertPool: the CERTIFICATE blocks that parse (others are skipped, as
 * x509.CertPool.AppendCertsFromPEM does), as PEM for Node. Empty data is no CA (the system's
 * roots, as in client-go); data without a usable certificate is refused with the reason
 * client-go's createErrorParsingCAData finds.
 */
export function rootCertificates(data: Buffer): string[] | undefined {
  if (data.length === 0) return undefined;
  const blocks = pemBlocks(data);
  const certs: string[] = [];
  let broken = false;
  for (const b of blocks) {
    if (b.type !== 'CERTIFICATE' || b.hasHeaders) continue;
    try {
      certs.push(new X509Certificate(b.der).toString());
    } catch {
      broken = true;
    }
  }
  if (certs.length > 0) return certs;
  const prefix = 'unable to load root certificates: ';
  if (broken) throw new Error(`${prefix}failed to parse certificate: x509: malformed certificate`);
  // pem.Decode skips text before a block, so only text after the last one is "not PEM".
  const rest = blocks.length === 0 ? data.length : data.length - blocks[blocks.length - 1]!.end;
  if (rest > 0) throw new Error(`${prefix}unable to parse bytes as PEM block`);
  throw new Error(`${prefix}no valid certificate authority data seen`);
}

function noBlock(input: 'certificate' | 'key', skipped: string[]): string {
  if (skipped.length === 0) return `tls: failed to find any PEM data in ${input} input`;
  const list = `[${skipped.join(' ')}]`;
  if (input === 'certificate') {
    if (skipped.some((t) => t.endsWith('PRIVATE KEY'))) {
      return 'tls: failed to find certificate PEM data in certificate input, but did find a private key; PEM inputs may have been switched';
    }
    return `tls: failed to find "CERTIFICATE" PEM block in certificate input after skipping PEM blocks of the following types: ${list}`;
  }
  if (skipped.includes('CERTIFICATE')) return 'tls: found a certificate rather than a key in the PEM for the private key';
  return `tls: failed to find PEM block with type ending in "PRIVATE KEY" in key input after skipping PEM blocks of the following types: ${list}`;
}

/**
 * Go's tls.X509KeyPair: a CERTIFICATE block, a `... PRIVATE KEY` block, both parse, and the key
 * belongs to the first certificate. Throws Go's message for the first thing wrong.
 */
export function checkKeyPair(cert: Buffer, key: Buffer): void {
  const certBlocks = pemBlocks(cert);
  const leaf = certBlocks.find((b) => b.type === 'CERTIFICATE');
  if (!leaf) throw new Error(noBlock('certificate', certBlocks.map((b) => b.type)));
  const keyBlocks = pemBlocks(key);
  const keyIndex = keyBlocks.findIndex((b) => b.type === 'PRIVATE KEY' || b.type.endsWith(' PRIVATE KEY'));
  if (keyIndex === -1) throw new Error(noBlock('key', keyBlocks.map((b) => b.type)));
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(leaf.der);
  } catch {
    throw new Error('x509: malformed certificate');
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: keyBlocks[keyIndex]!.text, format: 'pem' });
  } catch {
    throw new Error('tls: failed to parse private key');
  }
  if (x509.publicKey.asymmetricKeyType !== privateKey.asymmetricKeyType) throw new Error('tls: private key type does not match public key type');
  if (!x509.checkPrivateKey(privateKey)) throw new Error('tls: private key does not match public key');
}
