// From merged kubeconfig + flags to the one cluster/user pair the proxy uses, following
// client-go's DirectClientConfig (client_config.go: getContext/getCluster/getAuthInfo,
// ConfirmUsable, ClientConfig), validation.go, and the checks rest/transport.go and
// transport/transport.go make when the transport is built. Pure: `cwd` is a parameter and no
// file is touched (certificate and token files are read at start-up by another module).
//
// Where kproxy deliberately differs from kubectl it fails fast instead of falling back to
// http://localhost:8080 (kubectl's ClusterDefaults): no selected context, a context naming a
// missing cluster, a cluster without a server.

import * as path from 'node:path';
import {
  ConfigError,
  EXEC_API_VERSIONS,
  type ConfigOverrides,
  type ExecConfig,
  type FileOrData,
  type KubeconfigCluster,
  type KubeconfigEntry,
  type KubeconfigUser,
  type MergedKubeconfig,
  type ResolvedConfig,
} from './types.js';

const INTERACTIVE_MODES = ['Never', 'IfAvailable', 'Always'] as const;

/** `len(x) == 0` in Go: an empty flag is no flag. */
function given(v: string | undefined): v is string {
  return v !== undefined && v !== '';
}

/** Go's %q for the plain strings that appear in these messages. */
function quote(v: string): string {
  return JSON.stringify(v);
}

/** client-go ResolveLocalPaths: relative to the absolute directory of the defining file; no `~`. */
function baseDirOf(origin: string, cwd: string): string {
  return path.resolve(cwd, path.dirname(origin));
}

function resolvePath(base: string, p: string | undefined): string | undefined {
  return p === undefined ? undefined : path.resolve(base, p);
}

function clusterFromEntry(entry: KubeconfigEntry<KubeconfigCluster> | undefined, cwd: string): KubeconfigCluster {
  if (!entry) return { insecureSkipTLSVerify: false, disableCompression: false };
  const c = { ...entry.value };
  if (c.certificateAuthority !== undefined) c.certificateAuthority = resolvePath(baseDirOf(entry.origin, cwd), c.certificateAuthority);
  return c;
}

function userFromEntry(entry: KubeconfigEntry<KubeconfigUser> | undefined, cwd: string): KubeconfigUser {
  if (!entry) return { asGroups: [], asUserExtra: {} };
  const base = baseDirOf(entry.origin, cwd);
  const u: KubeconfigUser = { ...entry.value, asGroups: [...entry.value.asGroups], asUserExtra: { ...entry.value.asUserExtra } };
  if (u.clientCertificate !== undefined) u.clientCertificate = resolvePath(base, u.clientCertificate);
  if (u.clientKey !== undefined) u.clientKey = resolvePath(base, u.clientKey);
  if (u.tokenFile !== undefined) u.tokenFile = resolvePath(base, u.tokenFile);
  if (u.exec) {
    u.exec = { ...u.exec };
    // A bare name is a $PATH lookup; only commands with a separator are files next to the kubeconfig.
    if (u.exec.command !== undefined && u.exec.command.includes(path.sep)) u.exec.command = path.resolve(base, u.exec.command);
  }
  return u;
}

/** getCluster: kubeconfig values, then flags, then the two clearing rules. */
function applyClusterOverrides(c: KubeconfigCluster, o: ConfigOverrides, cwd: string): void {
  if (given(o.server)) c.server = o.server;
  if (o.disableCompression) c.disableCompression = true;
  // --insecure-skip-tls-verify or --certificate-authority replace the whole trust setup, so a
  // kubeconfig CA cannot collide with --insecure-skip-tls-verify and CA data cannot shadow the flag.
  if (o.insecureSkipTLSVerify || given(o.certificateAuthority)) {
    c.insecureSkipTLSVerify = o.insecureSkipTLSVerify === true;
    c.certificateAuthority = given(o.certificateAuthority) ? path.resolve(cwd, o.certificateAuthority) : undefined;
    c.certificateAuthorityData = undefined;
  }
  // A new --server usually means the kubeconfig's tls-server-name no longer applies.
  if (given(o.tlsServerName) || given(o.server)) c.tlsServerName = given(o.tlsServerName) ? o.tlsServerName : undefined;
}

/** getAuthInfo: flags merged over the kubeconfig user; cert and key files replace their data as pairs. */
function applyUserOverrides(u: KubeconfigUser, o: ConfigOverrides, cwd: string): void {
  if (given(o.token)) u.token = o.token;
  if (given(o.username)) u.username = o.username;
  if (given(o.password)) u.password = o.password;
  if (given(o.as)) u.as = o.as;
  if (given(o.asUid)) u.asUid = o.asUid;
  if (o.asGroups && o.asGroups.length > 0) u.asGroups = [...o.asGroups];
  if (given(o.clientCertificate)) {
    u.clientCertificate = path.resolve(cwd, o.clientCertificate);
    u.clientCertificateData = undefined;
  }
  if (given(o.clientKey)) {
    u.clientKey = path.resolve(cwd, o.clientKey);
    u.clientKeyData = undefined;
  }
}

/** validation.go validateAuthInfo, minus the file opens (files are read at start-up). */
function validateUser(name: string, u: KubeconfigUser): string[] {
  const errs: string[] = [];
  const methods: string[] = [];
  if (u.token) methods.push('token');
  if (u.username || u.password) methods.push('basicAuth');
  if (u.clientCertificate || u.clientCertificateData) {
    if (u.clientCertificate && u.clientCertificateData) {
      errs.push(`client-cert-data and client-cert are both specified for ${name}. client-cert-data will override.`);
    }
    if (u.clientKey && u.clientKeyData) {
      errs.push(`client-key-data and client-key are both specified for ${name}; client-key-data will override`);
    }
    if (!u.clientKey && !u.clientKeyData) {
      errs.push(`client-key-data or client-key must be specified for ${name} to use the clientCert authentication method.`);
    }
  }
  if (u.exec) {
    if (u.authProvider) errs.push(`authProvider cannot be provided in combination with an exec plugin for ${name}`);
    if (!u.exec.command) errs.push(`command must be specified for ${name} to use exec authentication plugin`);
    if (!u.exec.apiVersion) errs.push(`apiVersion must be specified for ${name} to use exec authentication plugin`);
    for (const v of u.exec.env) {
      if (!v.name) errs.push(`env variable name must be specified for ${name} to use exec authentication plugin`);
    }
    const mode = u.exec.interactiveMode;
    if (!mode) errs.push(`interactiveMode must be specified for ${name} to use exec authentication plugin`);
    else if (!(INTERACTIVE_MODES as readonly string[]).includes(mode)) errs.push(`invalid interactiveMode for ${name}: ${quote(mode)}`);
  }
  if (methods.length > 1) {
    errs.push(`more than one authentication method found for ${name}; found [${methods.join(' ')}], only one is allowed`);
  }
  if ((u.asUid || u.asGroups.length > 0 || Object.keys(u.asUserExtra).length > 0) && !u.as) {
    errs.push(`requesting uid, groups or user-extra for ${name} without impersonating a user`);
  }
  return errs;
}

/** clientcmd parseProxyURL: Go's url.Parse, then the scheme allow-list. */
function proxyURLProblem(raw: string): string | undefined {
  const unparsable = `could not parse: ${raw}`;
  if (raw.startsWith(':')) return unparsable; // Go: "missing protocol scheme"
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(raw);
  let scheme = '';
  if (m) scheme = m[1]!.toLowerCase();
  else if ((raw.split('/')[0] ?? '').includes(':')) return unparsable; // Go: "first path segment in URL cannot contain colon"
  if (scheme === 'http' || scheme === 'https' || scheme === 'socks5') {
    try {
      new URL(raw);
    } catch {
      return unparsable;
    }
    return undefined;
  }
  return `unsupported scheme ${quote(scheme)}, must be http, https, or socks5`;
}

/** validation.go validateClusterInfo, minus the CA file open. */
function validateCluster(name: string, c: KubeconfigCluster): string[] {
  const errs: string[] = [];
  if (!c.server) errs.push(`no server found for cluster ${quote(name)}`);
  if (c.proxyURL) {
    const problem = proxyURLProblem(c.proxyURL);
    if (problem) errs.push(`invalid 'proxy-url' ${quote(c.proxyURL)} for cluster ${quote(name)}: ${problem}`);
  }
  if (c.certificateAuthority && c.certificateAuthorityData) {
    errs.push(`certificate-authority-data and certificate-authority are both specified for ${name}. certificate-authority-data will override.`);
  }
  return errs;
}

/** kubectl's checkErr: one error alone is printed bare, except context-not-found; several become a bullet list. */
function configurationError(errs: string[], contextNotFound: boolean): ConfigError {
  if (errs.length === 1) return new ConfigError(contextNotFound ? `Error in configuration: ${errs[0]}` : errs[0]!);
  return new ConfigError(['Error in configuration: ', ...errs.map((e) => `* ${e}`)].join('\n'));
}

/**
 * Server URL as client-go's defaultServerUrlFor reads it: a scheme-less `host:port` gets https
 * when TLS material is configured, http otherwise, and may not carry a path. Query and fragment
 * are dropped (ClientConfig does so), the path is kept.
 */
function normalizeServer(raw: string, tlsMaterial: boolean, clusterName: string, warnings: string[]): string {
  const where = clusterName ? ` for cluster ${quote(clusterName)}` : '';
  let candidate = raw;
  if (!/^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]/.test(raw)) {
    candidate = (tlsMaterial ? 'https://' : 'http://') + raw;
    const rest = candidate.slice(candidate.indexOf('://') + 3).replace(/[?#][\s\S]*$/, '');
    const slash = rest.indexOf('/');
    if (slash >= 0 && rest.slice(slash) !== '/') throw new ConfigError(`host must be a URL or a host:port pair: ${quote(raw)}`);
  }
  const authority = candidate.slice(candidate.indexOf('://') + 3).split(/[/?#]/)[0]!;
  const hostPort = authority.slice(authority.lastIndexOf('@') + 1);
  if (!hostPort.startsWith('[') && (hostPort.match(/:/g)?.length ?? 0) > 1) {
    throw new ConfigError(
      `invalid server URL ${quote(raw)}${where}: an IPv6 address must be enclosed in brackets, as in https://[fd00::1]:6443`,
    );
  }
  let url: URL;
  try {
    url = new URL(candidate);
  } catch {
    throw new ConfigError(`invalid server URL ${quote(raw)}${where}`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new ConfigError(`unsupported protocol scheme ${quote(url.protocol.slice(0, -1))} in server URL ${quote(raw)}${where}`);
  }
  if (url.hostname === '') throw new ConfigError(`invalid server URL ${quote(raw)}${where}: no host`);
  // Not echoed: it usually holds a password.
  if (url.username || url.password) warnings.push(`the user info in the server URL${where} is not used`);
  return `${url.protocol}//${url.host}${url.pathname === '/' ? '' : url.pathname}`;
}

function fileOrData(file: string | undefined, data: Buffer | undefined): FileOrData | undefined {
  // Validation has already rejected both being set; data is what client-go would prefer anyway.
  if (data) return { data };
  if (file) return { file };
  return undefined;
}

function noContextError(merged: MergedKubeconfig): ConfigError {
  const names = [...merged.contexts.keys()].sort();
  if (names.length === 0) {
    return new ConfigError(
      'no context is selected: the kubeconfig defines no context; point --kubeconfig or KUBECONFIG at one that does, or pass --server',
    );
  }
  return new ConfigError(`no context is selected: the kubeconfig has no current-context; use --context (contexts: ${names.join(', ')})`);
}

/**
 * Select context, cluster and user, apply the kubectl override flags, resolve relative paths
 * and validate the selection with kubectl's messages. Throws ConfigError.
 */
export function resolveConfig(merged: MergedKubeconfig, overrides: ConfigOverrides, cwd: string): ResolvedConfig {
  const o = overrides;
  // client-go reports flag-named entries first, in this order (getAuthInfo, getContext, getCluster).
  if (given(o.user) && !merged.users.has(o.user)) throw new ConfigError(`auth info ${quote(o.user)} does not exist`);
  if (given(o.context) && !merged.contexts.has(o.context)) throw new ConfigError(`context ${quote(o.context)} does not exist`);
  if (given(o.cluster) && !merged.clusters.has(o.cluster)) throw new ConfigError(`cluster ${quote(o.cluster)} does not exist`);

  const contextName = given(o.context) ? o.context : (merged.currentContext ?? '');
  // kubectl would go on with http://localhost:8080 here; --server or --cluster make the choice explicit.
  if (contextName === '' && !given(o.server) && !given(o.cluster)) throw noContextError(merged);
  const contextEntry = contextName ? merged.contexts.get(contextName) : undefined;
  const contextNotFound = contextName !== '' && !contextEntry;

  const clusterName = given(o.cluster) ? o.cluster : (contextEntry?.value.cluster ?? '');
  const userName = given(o.user) ? o.user : (contextEntry?.value.user ?? '');
  const clusterEntry = clusterName ? merged.clusters.get(clusterName) : undefined;
  const userEntry = userName ? merged.users.get(userName) : undefined;
  const warnings: string[] = [];
  if (userName && !userEntry) {
    // kubectl silently goes on without credentials; say so, since a typo here means 401s.
    warnings.push(`user ${quote(userName)} was not found for context ${quote(contextName)}; no credentials will be sent`);
  }

  const cluster = clusterFromEntry(clusterEntry, cwd);
  applyClusterOverrides(cluster, o, cwd);
  const user = userFromEntry(userEntry, cwd);
  applyUserOverrides(user, o, cwd);

  const errs: string[] = [];
  if (contextNotFound) errs.push(`context was not found for specified context: ${contextName}`);
  errs.push(...validateUser(userName, user));
  if (!contextNotFound) {
    if (!clusterEntry && !given(o.server)) {
      errs.push(
        clusterName
          ? `cluster ${quote(clusterName)} was not found for context ${quote(contextName)}`
          : `cluster was not specified for context ${quote(contextName)}`,
      );
    } else {
      errs.push(...validateCluster(clusterName, cluster));
    }
  }
  if (errs.length > 0) throw configurationError(errs, contextNotFound);

  const tlsMaterial = Boolean(
    cluster.certificateAuthority ||
      cluster.certificateAuthorityData ||
      cluster.insecureSkipTLSVerify ||
      user.clientCertificate ||
      user.clientCertificateData,
  );
  const server = normalizeServer(cluster.server!, tlsMaterial, clusterName, warnings);
  const isTLS = server.startsWith('https:');

  const resolved: ResolvedConfig = {
    contextName,
    clusterName,
    userName,
    server,
    insecureSkipTLSVerify: cluster.insecureSkipTLSVerify,
    disableCompression: cluster.disableCompression,
    warnings,
  };
  if (cluster.tlsServerName) resolved.tlsServerName = cluster.tlsServerName;
  if (cluster.proxyURL) resolved.proxyURL = cluster.proxyURL;
  if (cluster.execExtension !== undefined) resolved.execClusterConfig = cluster.execExtension;
  const ca = fileOrData(cluster.certificateAuthority, cluster.certificateAuthorityData);
  if (ca) resolved.certificateAuthority = ca;
  if (userEntry) resolved.userOrigin = path.resolve(cwd, userEntry.origin);
  // client-go sets impersonation before, and independently of, the TLS-only credentials.
  if (user.as) {
    resolved.impersonate = { user: user.as, groups: user.asGroups, extra: user.asUserExtra };
    if (user.asUid) resolved.impersonate.uid = user.asUid;
  }

  const hasCredentials = Boolean(
    user.token ||
      user.tokenFile ||
      user.username ||
      user.password ||
      user.clientCertificate ||
      user.clientCertificateData ||
      user.exec ||
      user.authProvider,
  );
  if (!isTLS) {
    // ClientConfig adds user credentials only when IsConfigTransportTLS.
    if (hasCredentials) warnings.push(`server ${server} is not HTTPS: no credentials will be sent`);
    return resolved;
  }

  // Checks that client-go makes only when it builds the TLS transport, in its order.
  if (user.exec && !EXEC_API_VERSIONS.includes(user.exec.apiVersion ?? '')) {
    throw new ConfigError(`exec plugin: invalid apiVersion ${quote(user.exec.apiVersion ?? '')}`);
  }
  if (resolved.insecureSkipTLSVerify && ca) {
    throw new ConfigError('specifying a root certificates file with the insecure flag is not allowed');
  }
  // Reached with a tokenFile: a static token next to basic auth was already rejected above.
  if (user.username && (user.token || user.tokenFile)) {
    throw new ConfigError('username/password or bearer token may be set, but not both');
  }

  if (user.token) resolved.token = user.token;
  if (user.tokenFile) resolved.tokenFile = user.tokenFile;
  if (user.username) resolved.username = user.username;
  if (user.password) resolved.password = user.password;
  const cert = fileOrData(user.clientCertificate, user.clientCertificateData);
  const key = fileOrData(user.clientKey, user.clientKeyData);
  if (cert && key) {
    resolved.clientCertificate = cert;
    resolved.clientKey = key;
  } else if (key) {
    // getUserIdentificationPartialConfig copies the key only together with a certificate.
    warnings.push(`user ${quote(userName)} has a client key but no client certificate; the key is not used`);
  }
  if (user.authProvider) resolved.authProvider = { name: user.authProvider.name, config: { ...user.authProvider.config } };
  if (user.exec) {
    // exec.go UpdateTransportConfig returns early when token, basic or cert auth is already set.
    const staticCredential = Boolean(resolved.token || resolved.tokenFile || resolved.username || resolved.clientCertificate);
    if (staticCredential) {
      warnings.push(`user ${quote(userName)} has both a static credential and an exec plugin; the exec plugin is not used (as in kubectl)`);
    } else {
      const e = user.exec;
      const exec: ExecConfig = {
        command: e.command!,
        args: [...e.args],
        env: e.env.map((v) => ({ ...v })),
        apiVersion: e.apiVersion!,
        provideClusterInfo: e.provideClusterInfo,
        interactiveMode: e.interactiveMode as ExecConfig['interactiveMode'],
      };
      if (e.installHint) exec.installHint = e.installHint;
      resolved.exec = exec;
    }
  }
  return resolved;
}
