// Where the client certificate comes from: the kubeconfig's files or data, read into TLS
// options at start-up, and re-read while kproxy runs when the files change (a rotated
// certificate). An exec plugin's certificate is the other source; both reach the upstream
// through the same setClientCertificate sink.

import { watch, readFileSync, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import * as path from 'node:path';
import { checkServerIdentity, createSecureContext, type ConnectionOptions, type PeerCertificate } from 'node:tls';
import { fileError, oneLine } from './errors.js';
import * as log from './log.js';
import { checkKeyPair, rootCertificates } from './pem.js';
import { ConfigError, type FileOrData, type ResolvedConfig } from './kubeconfig/types.js';

/** How often certificate files are re-read when no file-system event announced a change. */
export const CERT_POLL_MS = 60_000;

export interface CertificateWatch {
  close(): void;
}

function read(what: string, src: FileOrData, owner: string): Buffer {
  if ('data' in src) return src.data;
  try {
    return readFileSync(src.file);
  } catch (err) {
    // client-go opens the file while validating the kubeconfig (an open error names the field)
    // and reads it when building the transport (a directory fails there, on its own).
    if ((err as NodeJS.ErrnoException).code === 'EISDIR') throw new ConfigError(fileError('read', src.file, err));
    throw new ConfigError(`unable to read ${what} ${src.file} for ${owner} due to ${fileError('open', src.file, err)}`);
  }
}

/** Where a bad certificate or key came from, when kubectl's message would not say. */
function fromFiles(...srcs: Array<[string, FileOrData]>): string {
  const files = srcs.filter(([, s]) => 'file' in s).map(([what, s]) => `${what} ${(s as { file: string }).file}`);
  return files.length > 0 ? ` (${files.join(', ')})` : '';
}

export function tlsOptions(cfg: ResolvedConfig, hostname: string): ConnectionOptions {
  const opts: ConnectionOptions = { minVersion: 'TLSv1.2', rejectUnauthorized: !cfg.insecureSkipTLSVerify };
  if (cfg.certificateAuthority && !cfg.insecureSkipTLSVerify) {
    // As in client-go, a configured CA is the only trust anchor.
    const ca = read('certificate-authority', cfg.certificateAuthority, cfg.clusterName);
    try {
      // Only the certificates that parse: Node would trust nothing after a broken block.
      const roots = rootCertificates(ca);
      if (roots) opts.ca = roots;
    } catch (err) {
      throw new ConfigError((err as Error).message);
    }
  }
  if (cfg.clientCertificate || cfg.clientKey) {
    if (!cfg.clientCertificate || !cfg.clientKey) {
      throw new ConfigError(`client-key-data or client-key must be specified for ${cfg.userName} to use the clientCert authentication method.`);
    }
    opts.cert = read('client-cert', cfg.clientCertificate, cfg.userName);
    opts.key = read('client-key', cfg.clientKey, cfg.userName);
    try {
      // kubectl refuses bad -data at start-up but only logs bad files on every request; both
      // are refused here, files named.
      checkPair(opts.cert, opts.key);
    } catch (err) {
      throw new ConfigError((err as Error).message + fromFiles(['client-certificate', cfg.clientCertificate], ['client-key', cfg.clientKey]));
    }
  }
  const name = cfg.tlsServerName || hostname;
  if (isIP(name)) {
    // RFC 6066 forbids an IP as SNI; verify the certificate against it without sending one.
    opts.servername = '';
    if (cfg.tlsServerName) opts.checkServerIdentity = (_h: string, cert: PeerCertificate) => checkServerIdentity(name, cert);
  } else {
    opts.servername = name;
  }
  return opts;
}

/** Throws Go's reason, or else Node's, when cert and key do not form a usable pair. */
function checkPair(cert: Buffer, key: Buffer): void {
  checkKeyPair(cert, key);
  try {
    createSecureContext({ cert, key });
  } catch (err) {
    throw new Error(`tls: ${oneLine((err as Error).message)}`);
  }
}

/**
 * client-go reloads certificate files at handshake time and drops connections when they
 * change. Here a change is noticed by a file-system event on the files' directories (which
 * also sees the symlink swap of a mounted Secret) or, failing that, by a periodic re-read.
 */
export function watchCertificateFiles(
  cfg: ResolvedConfig,
  pollMs: number,
  current: () => ConnectionOptions,
  replace: (cert: Buffer, key: Buffer) => void,
): CertificateWatch | undefined {
  const files: string[] = [];
  if (cfg.clientCertificate && 'file' in cfg.clientCertificate) files.push(cfg.clientCertificate.file);
  if (cfg.clientKey && 'file' in cfg.clientKey) files.push(cfg.clientKey.file);
  if (files.length === 0) return undefined;
  let closed = false;
  let reloading: Promise<void> | undefined;
  const watchers: FSWatcher[] = [];
  const cert = cfg.clientCertificate!;
  const key = cfg.clientKey!;
  // An event during a reload (the key written, then the certificate) must not be lost: it
  // causes one more reload once the current one is done.
  let again = false;
  const reload = (fromPoll: boolean): void => {
    if (closed) return;
    if (reloading) {
      again = true;
      return;
    }
    reloading = (async () => {
      try {
        const [c, k] = await Promise.all([
          'file' in cert ? readFile(cert.file) : Promise.resolve(cert.data),
          'file' in key ? readFile(key.file) : Promise.resolve(key.data),
        ]);
        const cur = current();
        if (Buffer.isBuffer(cur.cert) && Buffer.isBuffer(cur.key) && cur.cert.equals(c) && cur.key.equals(k)) return;
        try {
          checkPair(c, k);
        } catch (err) {
          // Between the writes of the certificate and of its key the pair does not match;
          // the next event completes it, so only the periodic check complains.
          if (fromPoll) log.warn(`Unable to reload the client certificate from ${files.join(', ')}: ${(err as Error).message}`);
          return;
        }
        replace(c, k);
        log.info(2, `Reloaded the client certificate from ${files.join(', ')}`);
      } catch (err) {
        if (fromPoll) log.warn(`Unable to reload the client certificate: ${(err as Error).message}`);
      } finally {
        reloading = undefined;
        if (again) {
          again = false;
          reload(false);
        }
      }
    })();
  };
  const names = new Map<string, Set<string>>();
  for (const f of files) {
    const dir = path.dirname(f);
    if (!names.has(dir)) names.set(dir, new Set());
    names.get(dir)!.add(path.basename(f));
  }
  for (const [dir, base] of names) {
    try {
      const w = watch(dir, { persistent: false }, (_event, name) => {
        // `..data` is the symlink a Kubernetes Secret volume swaps atomically.
        if (name === null || base.has(String(name)) || String(name).startsWith('..')) reload(false);
      });
      w.on('error', () => w.close());
      watchers.push(w);
    } catch {
      // Not watchable (for example a network file system): the periodic re-read remains.
    }
  }
  const pollTimer = setInterval(() => reload(true), pollMs);
  pollTimer.unref();
  return {
    close() {
      closed = true;
      for (const w of watchers) w.close();
      clearInterval(pollTimer);
    },
  };
}
