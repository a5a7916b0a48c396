// Which proxy client-go would use to reach a URL: the kubeconfig `proxy-url`, else
// HTTPS_PROXY/HTTP_PROXY/NO_PROXY as Go's net/http reads them (golang.org/x/net/http/httpproxy).
// Pure: plain data in, a choice out; dial.ts does the connecting.

import { BlockList, isIP, isIPv4 } from 'node:net';
import { createSecureContext, rootCertificates, type ConnectionOptions } from 'node:tls';
import { defaultPort, unbracket } from './hostport.js';
import { ConfigError } from './kubeconfig/types.js';

export interface ProxyChoice {
  url: URL;
  /** Where it came from, for messages: `proxy-url` or the environment variable's name. */
  source: string;
}


const PROXY_SCHEMES = new Set(['http:', 'https:', 'socks5:', 'socks5h:']);

/** golang.org/x/net/http/httpproxy parseProxy: a bare `host:port` means http://host:port. */
function parseEnvProxy(name: string, raw: string): URL {
  let url: URL | undefined;
  try {
    url = new URL(raw);
    if (!url.host) url = undefined;
  } catch {
    url = undefined;
  }
  if (url === undefined || !/^[a-z][a-z0-9+.-]*:\/\//i.test(raw)) {
    try {
      url = new URL('http://' + raw);
    } catch {
      throw new ConfigError(`invalid proxy address ${JSON.stringify(raw)} in ${name}`);
    }
  }
  if (!PROXY_SCHEMES.has(url.protocol)) {
    throw new ConfigError(`invalid proxy address ${JSON.stringify(raw)} in ${name}: unsupported scheme ${JSON.stringify(url.protocol.slice(0, -1))}, must be http, https, or socks5`);
  }
  return url;
}

function getEnvAny(env: NodeJS.ProcessEnv, ...names: string[]): [string, string] | undefined {
  for (const n of names) {
    const v = env[n];
    if (v) return [n, v];
  }
  return undefined;
}

type Matcher = (host: string, port: string, ip: string | undefined) => boolean;

/**
 * NO_PROXY as golang.org/x/net/http/httpproxy reads it: `*`; IPs and CIDRs (matching IP hosts
 * only); `example.com` (itself and subdomains), `.example.com` and `*.example.com` (subdomains
 * only); each optionally with `:port`.
 */
export function noProxyMatcher(noProxy: string): (host: string, port: string) => boolean {
  const matchers: Matcher[] = [];
  for (let p of noProxy.split(',')) {
    p = p.trim().toLowerCase();
    if (p === '') continue;
    if (p === '*') return () => true;
    const slash = p.indexOf('/');
    if (slash > 0) {
      const net = p.slice(0, slash);
      const bits = Number(p.slice(slash + 1));
      const family = isIP(net);
      if (family !== 0 && /^\d+$/.test(p.slice(slash + 1)) && bits <= (family === 4 ? 32 : 128)) {
        const list = new BlockList();
        list.addSubnet(net, bits, family === 4 ? 'ipv4' : 'ipv6');
        matchers.push((_h, _port, ip) => ip !== undefined && list.check(ip, isIPv4(ip) ? 'ipv4' : 'ipv6'));
        continue;
      }
    }
    let phost = p;
    let pport = '';
    const hp = /^(\[[^\]]*\]|[^:]*):(\d*)$/.exec(p);
    if (hp) {
      phost = unbracket(hp[1]!);
      pport = hp[2]!;
      if (phost === '') continue;
    }
    if (isIP(phost)) {
      const want = phost;
      matchers.push((_h, port, ip) => ip !== undefined && sameIP(ip, want) && (pport === '' || pport === port));
      continue;
    }
    if (phost === '') continue;
    if (phost.startsWith('*.')) phost = phost.slice(1);
    const matchHost = !phost.startsWith('.');
    if (matchHost) phost = '.' + phost;
    const suffix = phost;
    matchers.push((host, port) => (host.endsWith(suffix) || (matchHost && host === suffix.slice(1))) && (pport === '' || pport === port));
  }
  return (host, port) => {
    const ip = isIP(host) ? host : undefined;
    return matchers.some((m) => m(host, port, ip));
  };
}

function sameIP(a: string, b: string): boolean {
  if (a === b) return true;
  const list = new BlockList();
  const fam = isIPv4(b) ? 'ipv4' : 'ipv6';
  list.addAddress(b, fam);
  return list.check(a, isIPv4(a) ? 'ipv4' : 'ipv6');
}

function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIPv4(host)) return host.startsWith('127.');
  if (isIP(host) === 6) {
    const list = new BlockList();
    list.addAddress('::1', 'ipv6');
    list.addSubnet('::ffff:127.0.0.0', 104, 'ipv6');
    return list.check(host, 'ipv6');
  }
  return false;
}

/** Go's http.ProxyFromEnvironment for one target URL; loopback destinations are never proxied. */
export function proxyFromEnvironment(target: URL, env: NodeJS.ProcessEnv): ProxyChoice | undefined {
  let found: [string, string] | undefined;
  if (target.protocol === 'https:') found = getEnvAny(env, 'HTTPS_PROXY', 'https_proxy');
  else if (target.protocol === 'http:') {
    found = getEnvAny(env, 'HTTP_PROXY', 'http_proxy');
    // Go refuses HTTP_PROXY under CGI, where it may come from a request header (httpoxy).
    if (found && env.REQUEST_METHOD) found = undefined;
  }
  if (!found) return undefined;
  const host = unbracket(target.hostname).toLowerCase();
  const port = String(defaultPort(target));
  if (isLoopback(host)) return undefined;
  const noProxy = getEnvAny(env, 'NO_PROXY', 'no_proxy');
  if (noProxy && noProxyMatcher(noProxy[1])(host, port)) return undefined;
  return { url: parseEnvProxy(found[0], found[1]), source: found[0] };
}

/**
 * The proxy for the API server: the kubeconfig `proxy-url` applies to every request, loopback
 * included (Go's http.ProxyURL); without it, the environment decides.
 */
export function chooseProxy(proxyURL: string | undefined, target: URL, env: NodeJS.ProcessEnv): ProxyChoice | undefined {
  if (proxyURL) return { url: new URL(proxyURL), source: 'proxy-url' };
  return proxyFromEnvironment(target, env);
}

/** The proxy URL without its password, for log lines. */
export function redactProxy(url: URL): string {
  if (!url.password) return url.href;
  const copy = new URL(url.href);
  copy.password = 'xxxxx';
  return copy.href;
}

/**
 * TLS settings for an https:// proxy. Go reuses the cluster's TLS config for the proxy hop;
 * kproxy keeps its trust (cluster CA, or insecure) but also accepts the public roots a corporate
 * proxy is usually signed by, and never shows the proxy the cluster's client certificate.
 */
export function proxyTlsOptions(clusterTls: ConnectionOptions, proxy: URL): ConnectionOptions {
  const host = unbracket(proxy.hostname);
  const out: ConnectionOptions = { rejectUnauthorized: clusterTls.rejectUnauthorized !== false, servername: isIP(host) ? '' : host };
  if (clusterTls.ca) {
    // Built once: a trust list of ~150 roots is too costly to parse for every tunnel.
    out.secureContext = createSecureContext({
      minVersion: 'TLSv1.2',
      ca: [...(Array.isArray(clusterTls.ca) ? clusterTls.ca : [clusterTls.ca]), ...rootCertificates],
    });
  } else {
    out.minVersion = 'TLSv1.2';
  }
  return out;
}
