// The API server as a destination: its origin, the Host header it expects, TLS settings read
// once at start-up, and the keep-alive pool that ordinary requests share.

import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { checkServerIdentity, type ConnectionOptions, type PeerCertificate } from 'node:tls';
import { Pool } from 'undici';
import { ConfigError, type FileOrData, type ResolvedConfig } from './kubeconfig/types.js';

export interface Upstream {
  /** `https://host:port` with IPv6 literals bracketed. */
  origin: string;
  /** What Go puts in Host: the server URL's host[:port]. */
  hostHeader: string;
  /** The kubeconfig server URL path without a trailing slash ('' when none). */
  serverPath: string;
  isTLS: boolean;
  /** Options for a TLS connection to the API server (shared with the upgrade path). */
  tls: ConnectionOptions;
  pool: Pool;
}

function read(what: string, src: FileOrData, owner: string): Buffer {
  if ('data' in src) return src.data;
  try {
    return readFileSync(src.file);
  } catch (err) {
    throw new ConfigError(`unable to read ${what} ${src.file} for ${owner} due to ${(err as Error).message}`);
  }
}

export function tlsOptions(cfg: ResolvedConfig, hostname: string): ConnectionOptions {
  const opts: ConnectionOptions = { minVersion: 'TLSv1.2', rejectUnauthorized: !cfg.insecureSkipTLSVerify };
  if (cfg.certificateAuthority && !cfg.insecureSkipTLSVerify) {
    // As in client-go, a configured CA is the only trust anchor.
    opts.ca = read('certificate-authority', cfg.certificateAuthority, cfg.clusterName);
  }
  if (cfg.clientCertificate || cfg.clientKey) {
    if (!cfg.clientCertificate || !cfg.clientKey) {
      throw new ConfigError(`client-key-data or client-key must be specified for ${cfg.userName} to use the clientCert authentication method.`);
    }
    opts.cert = read('client-cert', cfg.clientCertificate, cfg.userName);
    opts.key = read('client-key', cfg.clientKey, cfg.userName);
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

export function createUpstream(cfg: ResolvedConfig): Upstream {
  let url: URL;
  try {
    url = new URL(cfg.server);
  } catch {
    throw new ConfigError(`invalid server URL "${cfg.server}" for cluster "${cfg.clusterName}"`);
  }
  const isTLS = url.protocol === 'https:';
  if (!isTLS && url.protocol !== 'http:') {
    throw new ConfigError(`unsupported scheme in server URL "${cfg.server}": must be https or http`);
  }
  const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const tls = isTLS ? tlsOptions(cfg, hostname) : {};
  const origin = `${url.protocol}//${url.host}`;
  const pool = new Pool(origin, {
    connect: isTLS ? (tls as Record<string, unknown>) : undefined,
    // Watches and log follows stay quiet for minutes: kubectl has no body or header timeout.
    bodyTimeout: 0,
    headersTimeout: 0,
    keepAliveTimeout: 30_000,
    keepAliveMaxTimeout: 90_000,
  });
  return {
    origin,
    hostHeader: url.host,
    serverPath: url.pathname.replace(/\/+$/, ''),
    isTLS,
    tls,
    pool,
  };
}

/** kubectl's singleJoiningSlash(serverPath, requestPath) for --append-server-path. */
export function joinServerPath(serverPath: string, target: string): string {
  if (serverPath === '') return target;
  return serverPath + (target.startsWith('/') ? target : '/' + target);
}
