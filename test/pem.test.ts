// pem.ts: Go's PEM decoding, client-go's CA pool and tls.X509KeyPair, as tables of input bytes
// and the exact message Go prints (observed with kubectl 1.32; validation.test.ts compares the
// whole command with the real binary).

import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { before, describe, test } from 'node:test';
import { checkKeyPair, pemBlocks, rootCertificates } from '../src/pem.js';
import { makePki, type Pki } from './helpers/pki.js';

let pki: Pki;
let rsaKey: string;
before(async () => {
  pki = await makePki();
  rsaKey = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
});

const BROKEN = '-----BEGIN CERTIFICATE-----\nMIIBAAAAAA==\n-----END CERTIFICATE-----\n';
const FOO = '-----BEGIN FOO-----\nAAAA\n-----END FOO-----\n';

describe('pemBlocks', () => {
  const cases: Array<[string, string, Array<[string, boolean]>]> = [
    ['nothing', 'hello\n', []],
    ['text before a block is skipped', 'junk\n' + FOO, [['FOO', false]]],
    ['two blocks', FOO + FOO, [['FOO', false], ['FOO', false]]],
    ['headers are noted', '-----BEGIN X-----\nProc-Type: 4,ENCRYPTED\n\nAAAA\n-----END X-----\n', [['X', true]]],
    ['invalid base64 is skipped', '-----BEGIN X-----\n%%%\n-----END X-----\n' + FOO, [['FOO', false]]],
    ['an END of another type does not close', '-----BEGIN X-----\nAAAA\n-----END Y-----\n', []],
    ['CRLF line ends', FOO.replace(/\n/g, '\r\n'), [['FOO', false]]],
  ];
  for (const [name, input, want] of cases) {
    test(name, () => {
      assert.deepEqual(
        pemBlocks(Buffer.from(input)).map((b) => [b.type, b.hasHeaders]),
        want,
      );
    });
  }
});

describe('rootCertificates', () => {
  const err = (m: string) => `unable to load root certificates: ${m}`;
  const cases: Array<[string, () => string, number | string]> = [
    ['one CA', () => pki.ca, 1],
    ['two CAs', () => `${pki.ca}\n${pki.otherCa}\n`, 2],
    ['a broken certificate before a good one is skipped', () => `${BROKEN}${pki.ca}\n`, 1],
    ['other block types are skipped', () => `${FOO}${pki.ca}\n${pki.client.key}\n`, 1],
    ['not PEM', () => 'garbage\n', err('unable to parse bytes as PEM block')],
    ['empty: no CA, so the system roots', () => '', 0],
    ['only a broken certificate', () => BROKEN, err('failed to parse certificate: x509: malformed certificate')],
    ['only a key', () => pki.client.key, err('no valid certificate authority data seen')],
    ['a key and then text', () => `${pki.client.key}junk\n`, err('unable to parse bytes as PEM block')],
    ['a key and then an empty line (Go finds no block in it)', () => `${pki.client.key}\n`, err('unable to parse bytes as PEM block')],
  ];
  for (const [name, input, want] of cases) {
    test(name, () => {
      const data = Buffer.from(input());
      if (typeof want === 'number') {
        const certs = rootCertificates(data) ?? [];
        assert.equal(certs.length, want);
        for (const c of certs) assert.match(c, /^-----BEGIN CERTIFICATE-----\n[\s\S]+-----END CERTIFICATE-----\n$/);
      } else {
        assert.throws(() => rootCertificates(data), { message: want });
      }
    });
  }
});

describe('checkKeyPair', () => {
  const cases: Array<[string, () => [string, string], string | undefined]> = [
    ['a matching pair', () => [pki.client.cert, pki.client.key], undefined],
    ['a chain: the first certificate is the leaf', () => [`${pki.client.cert}\n${pki.ca}`, pki.client.key], undefined],
    ['no PEM in the certificate', () => ['x', pki.client.key], 'tls: failed to find any PEM data in certificate input'],
    ['no PEM in the key', () => [pki.client.cert, 'x'], 'tls: failed to find any PEM data in key input'],
    ['switched', () => [pki.client.key, pki.client.cert], 'tls: failed to find certificate PEM data in certificate input, but did find a private key; PEM inputs may have been switched'],
    ['other blocks for the certificate', () => [FOO, pki.client.key], 'tls: failed to find "CERTIFICATE" PEM block in certificate input after skipping PEM blocks of the following types: [FOO]'],
    ['a certificate for the key', () => [pki.client.cert, pki.ca], 'tls: found a certificate rather than a key in the PEM for the private key'],
    ['other blocks for the key', () => [pki.client.cert, FOO + FOO], 'tls: failed to find PEM block with type ending in "PRIVATE KEY" in key input after skipping PEM blocks of the following types: [FOO FOO]'],
    ['a broken certificate', () => [BROKEN, pki.client.key], 'x509: malformed certificate'],
    ['a broken key', () => [pki.client.cert, '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n'], 'tls: failed to parse private key'],
    ['another key of the same type', () => [pki.client.cert, pki.otherClient.key], 'tls: private key does not match public key'],
    ['a key of another type', () => [pki.client.cert, rsaKey], 'tls: private key type does not match public key type'],
  ];
  for (const [name, input, want] of cases) {
    test(name, () => {
      const [cert, key] = input().map((s) => Buffer.from(s)) as [Buffer, Buffer];
      if (want === undefined) assert.doesNotThrow(() => checkKeyPair(cert, key));
      else assert.throws(() => checkKeyPair(cert, key), { message: want });
    });
  }
});
