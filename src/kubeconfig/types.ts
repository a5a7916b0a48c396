// Shapes of kubeconfig data as kproxy sees it. Keys follow the serialized v1 format
// (`as`, `as-groups`, `tokenFile`...), never client-go's internal `act-as` names.

import { UserError } from '../errors.js';

/** client.authentication.k8s.io versions: the ones client-go still runs, and the removed alpha. */
export const EXEC_V1 = 'client.authentication.k8s.io/v1';
export const EXEC_V1BETA1 = 'client.authentication.k8s.io/v1beta1';
export const EXEC_V1ALPHA1 = 'client.authentication.k8s.io/v1alpha1';
export const EXEC_API_VERSIONS: readonly string[] = [EXEC_V1, EXEC_V1BETA1];

/** A path or inline bytes: client-go's `x` / `x-data` field pairs. */
export type FileOrData = { file: string } | { data: Buffer };

export interface ExecEnvVar {
  name: string;
  value: string;
}

export interface ExecConfig {
  command: string;
  args: string[];
  env: ExecEnvVar[];
  apiVersion: string;
  installHint?: string;
  provideClusterInfo: boolean;
  interactiveMode?: 'Never' | 'IfAvailable' | 'Always';
}

export interface AuthProviderConfig {
  name: string;
  config: Record<string, string>;
}

export interface Impersonation {
  user: string;
  uid?: string;
  groups: string[];
  extra: Record<string, string[]>;
}

/** Everything the proxy needs to reach one API server as one user. */
export interface ResolvedConfig {
  contextName: string;
  clusterName: string;
  userName: string;
  /** As configured: scheme, host, port and optional path (query and fragment removed). */
  server: string;
  insecureSkipTLSVerify: boolean;
  tlsServerName?: string;
  certificateAuthority?: FileOrData;
  clientCertificate?: FileOrData;
  clientKey?: FileOrData;
  token?: string;
  /** Absolute path. */
  tokenFile?: string;
  username?: string;
  password?: string;
  exec?: ExecConfig;
  authProvider?: AuthProviderConfig;
  impersonate?: Impersonation;
  disableCompression: boolean;
  proxyURL?: string;
  /** The cluster's `client.authentication.k8s.io/exec` extension, handed to exec plugins. */
  execClusterConfig?: unknown;
  /** The kubeconfig file that defined the user (client-go's LocationOfOrigin), if any. */
  userOrigin?: string;
  /** Non-fatal remarks for stderr (shadowed exec plugin and the like). */
  warnings: string[];
}

/** kubectl's global kubeconfig override flags, as given on the command line. */
export interface ConfigOverrides {
  kubeconfig?: string;
  context?: string;
  cluster?: string;
  user?: string;
  server?: string;
  tlsServerName?: string;
  certificateAuthority?: string;
  insecureSkipTLSVerify?: boolean;
  clientCertificate?: string;
  clientKey?: string;
  token?: string;
  username?: string;
  password?: string;
  as?: string;
  asGroups?: string[];
  asUid?: string;
  disableCompression?: boolean;
}

/** A configuration mistake: the message is shown to the user as one `error: ...` line. */
export class ConfigError extends UserError {
  override name = 'ConfigError';
}

// ---------------------------------------------------------------------------------------------
// kubeconfig files as parsed (parse.ts) and merged (merge.ts), before selection and overrides.
// Empty strings and empty `*-data` are left out, the way client-go treats `len(x) == 0` as unset.

/** `clusters[].cluster`. */
export interface KubeconfigCluster {
  server?: string;
  tlsServerName?: string;
  insecureSkipTLSVerify: boolean;
  /** As written: relative paths are resolved later against the defining file. */
  certificateAuthority?: string;
  certificateAuthorityData?: Buffer;
  proxyURL?: string;
  disableCompression: boolean;
  /** The `client.authentication.k8s.io/exec` entry of `extensions`, as written. */
  execExtension?: unknown;
}

/** `users[].user.exec` as written, after client-go's decoding defaults (interactiveMode for v1beta1). */
export interface KubeconfigExec {
  command?: string;
  args: string[];
  env: ExecEnvVar[];
  apiVersion?: string;
  installHint?: string;
  provideClusterInfo: boolean;
  /** Unvalidated: resolve.ts rejects values other than Never/IfAvailable/Always. */
  interactiveMode?: string;
}

/** `users[].user`. */
export interface KubeconfigUser {
  clientCertificate?: string;
  clientCertificateData?: Buffer;
  clientKey?: string;
  clientKeyData?: Buffer;
  token?: string;
  tokenFile?: string;
  as?: string;
  asUid?: string;
  asGroups: string[];
  asUserExtra: Record<string, string[]>;
  username?: string;
  password?: string;
  /** Present (even if empty) whenever the key held a mapping, as a non-nil Go pointer would be. */
  authProvider?: AuthProviderConfig;
  exec?: KubeconfigExec;
}

/** `contexts[].context`. */
export interface KubeconfigContext {
  cluster?: string;
  user?: string;
  namespace?: string;
}

export interface KubeconfigEntry<T> {
  name: string;
  /** client-go's LocationOfOrigin: the kubeconfig path as given (not absolutized). */
  origin: string;
  value: T;
}

/** One kubeconfig file. Maps keep file order; names are unique within a file. */
export interface KubeconfigFile {
  path: string;
  currentContext?: string;
  clusters: Map<string, KubeconfigEntry<KubeconfigCluster>>;
  users: Map<string, KubeconfigEntry<KubeconfigUser>>;
  contexts: Map<string, KubeconfigEntry<KubeconfigContext>>;
}

/** Several files merged with client-go's first-wins rules; each entry keeps its own origin. */
export interface MergedKubeconfig {
  currentContext?: string;
  clusters: Map<string, KubeconfigEntry<KubeconfigCluster>>;
  users: Map<string, KubeconfigEntry<KubeconfigUser>>;
  contexts: Map<string, KubeconfigEntry<KubeconfigContext>>;
}
