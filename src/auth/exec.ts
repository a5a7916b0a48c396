// client-go credential plugins (`users[].user.exec`, plugin/pkg/client/auth/exec/exec.go):
// how the plugin is started (environment, KUBERNETES_EXEC_INFO, stdin only when interactive,
// stderr passed through so device-code prompts reach the user) and how its ExecCredential
// output is checked, with client-go's error texts. Caching, single flight and back-off are
// RefreshingCredential's job; this module runs the plugin once per call.

import { errnoText } from '../errors.js';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { createSecureContext } from 'node:tls';
import { parse as parseYaml } from 'yaml';
import { CredentialError } from './errors.js';
import { EXEC_API_VERSIONS, type ExecConfig, type ResolvedConfig } from '../kubeconfig/types.js';
import { RefreshingCredential, type Obtained } from './refresh.js';


/**
 * How long before `expirationTimestamp` a new credential is fetched in the background (the old
 * one is still sent meanwhile). Capped at half the credential's lifetime so that a plugin
 * handing out short-lived tokens is not re-run on every request.
 */
export const EXEC_REFRESH_SKEW_MS = 60_000;

/** The stdout a plugin may print before kproxy gives up on it. */
const MAX_STDOUT = 16 * 1024 * 1024;

const INSTALL_HINT_HELP = `

It looks like you are trying to use a client-go credential plugin that is not installed.

To learn more about this feature, consult the documentation available at:
      https://kubernetes.io/docs/reference/access-authn-authz/authentication/#client-go-credential-plugins`;

/** client-go's cleanANSIEscapeCodes: anything but letters, marks, numbers, punctuation, symbols, spaces and \t-\r becomes `U+XXXX`. */
export function cleanANSIEscapeCodes(s: string): string {
  let out = '';
  for (const ch of s) {
    if (/[\p{L}\p{M}\p{N}\p{P}\p{S}\p{Z}\t\n\v\f\r]/u.test(ch)) out += ch;
    else out += 'U+' + ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
  }
  return out;
}

/** client-go's `sometimes`: the long not-installed help at most 10 times an hour. */
class Sometimes {
  private times: number[] = [];
  constructor(
    private readonly threshold: number,
    private readonly intervalMs: number,
    private readonly now: () => number,
  ) {}
  do(fn: () => void): void {
    const t = this.now();
    this.times = this.times.filter((x) => t - x < this.intervalMs);
    if (this.times.length < this.threshold) {
      this.times.push(t);
      fn();
    }
  }
}

/** `spec.cluster` of KUBERNETES_EXEC_INFO (rest.ConfigToExecCluster), in Go's field order. */
export interface ExecClusterInfo {
  server: string;
  'tls-server-name'?: string;
  'insecure-skip-tls-verify'?: boolean;
  'certificate-authority-data'?: string;
  'proxy-url'?: string;
  'disable-compression'?: boolean;
  config: unknown;
}

export function execClusterInfo(cfg: ResolvedConfig): ExecClusterInfo {
  const out: Omit<ExecClusterInfo, 'config'> & { config?: unknown } = { server: cfg.server };
  if (cfg.tlsServerName) out['tls-server-name'] = cfg.tlsServerName;
  if (cfg.insecureSkipTLSVerify) out['insecure-skip-tls-verify'] = true;
  if (cfg.certificateAuthority) {
    // CA files are inlined, read when the plugin runs as client-go does.
    const ca = 'data' in cfg.certificateAuthority ? cfg.certificateAuthority.data : readCA(cfg.certificateAuthority.file);
    if (ca.length > 0) out['certificate-authority-data'] = ca.toString('base64');
  }
  if (cfg.proxyURL) out['proxy-url'] = cfg.proxyURL;
  if (cfg.disableCompression) out['disable-compression'] = true;
  // The cluster's `client.authentication.k8s.io/exec` extension; client-go encodes an absent one
  // as null.
  out.config = cfg.execClusterConfig ?? null;
  return out as ExecClusterInfo;
}

function readCA(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new CredentialError(`failed to load CA bundle for execProvider: ${(err as Error).message}`);
  }
}

export interface ExecRunOptions {
  /** The parent environment the plugin inherits. */
  env: NodeJS.ProcessEnv;
  /** Whether kproxy's stdin is a terminal. */
  stdinIsTTY: boolean;
  /** Built lazily: a CA file is read each time the plugin runs. */
  clusterInfo?: () => ExecClusterInfo;
  now?: () => number;
}

export interface ExecResult {
  token?: string;
  cert?: Buffer;
  key?: Buffer;
  /** ms since the epoch, when the plugin gave one. */
  expiry?: number;
}

/** client-go isInteractive: whether stdin is handed to the plugin. */
export function interactive(mode: ExecConfig['interactiveMode'], stdinIsTTY: boolean): boolean {
  switch (mode) {
    case 'Never':
      return false;
    case 'Always':
      if (!stdinIsTTY) throw new CredentialError('exec plugin cannot support interactive mode: standard input is not a terminal');
      return true;
    default:
      return stdinIsTTY;
  }
}

/**
 * What KUBERNETES_EXEC_INFO holds, byte for byte as client-go's runtime.Encode writes it: Go's
 * field order, and the newline its json.Encoder ends every document with.
 */
export function execInfo(exec: ExecConfig, isInteractive: boolean, cluster: ExecClusterInfo | undefined): string {
  const spec: Record<string, unknown> = {};
  if (cluster) spec.cluster = cluster;
  spec.interactive = isInteractive;
  return JSON.stringify({ kind: 'ExecCredential', apiVersion: exec.apiVersion, spec }) + '\n';
}

function goJsonKind(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'object') return 'object';
  return typeof v === 'boolean' ? 'bool' : typeof v;
}

const VERSION_KIND_STRUCT = 'struct { APIVersion string "json:\\"apiVersion,omitempty\\""; Kind string "json:\\"kind,omitempty\\"" }';

/** Go's time.Parse(time.RFC3339, s) error, for the layout element where `s` stops matching. */
export function parseRFC3339(s: string): number {
  const layout: Array<[string, RegExp]> = [
    ['2006', /^\d{4}/],
    ['-', /^-/],
    ['01', /^\d{2}/],
    ['-', /^-/],
    ['02', /^\d{2}/],
    ['T', /^T/],
    ['15', /^\d{2}/],
    [':', /^:/],
    ['04', /^\d{2}/],
    [':', /^:/],
    ['05', /^\d{2}(?:[.,]\d+)?/],
    ['Z07:00', /^(?:Z|[+-]\d{2}:\d{2})/],
  ];
  let rest = s;
  for (const [elem, re] of layout) {
    const m = re.exec(rest);
    if (!m) throw new CredentialError(`decoding stdout: parsing time ${JSON.stringify(s)} as "2006-01-02T15:04:05Z07:00": cannot parse ${JSON.stringify(rest)} as ${JSON.stringify(elem)}`);
    rest = rest.slice(m[0].length);
  }
  if (rest !== '') throw new CredentialError(`decoding stdout: parsing time ${JSON.stringify(s)}: extra text: ${JSON.stringify(rest)}`);
  const t = Date.parse(s.replace(',', '.'));
  if (Number.isNaN(t)) throw new CredentialError(`decoding stdout: parsing time ${JSON.stringify(s)}: day out of range`);
  return t;
}

/**
 * Go's encoding/json wording for the syntax errors plugins actually produce: output cut short,
 * and text after the document. Other positions keep Node's description.
 */
function jsonSyntaxMessage(text: string, err: Error): string {
  if (/Unexpected end of JSON input/i.test(err.message)) return 'unexpected end of JSON input';
  const at = /at position (\d+)/.exec(err.message);
  if (!at) return err.message;
  const pos = Number(at[1]);
  if (pos >= text.length) return 'unexpected end of JSON input';
  if (/after JSON/.test(err.message)) return `invalid character '${text[pos]}' after top-level value`;
  return err.message;
}

/** Decodes and checks a plugin's stdout (exec.go refreshCredsLocked). */
export function decodeExecCredential(stdout: string, apiVersion: string): ExecResult {
  const trimmed = stdout.trim();
  let doc: unknown;
  if (trimmed === '') {
    doc = null;
  } else if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    try {
      doc = JSON.parse(trimmed);
    } catch (err) {
      throw new CredentialError(`decoding stdout: couldn't get version/kind; json parse error: ${jsonSyntaxMessage(trimmed, err as Error)}`);
    }
  } else {
    // client-go's universal decoder also takes YAML.
    try {
      doc = parseYaml(trimmed);
    } catch (err) {
      throw new CredentialError(`decoding stdout: couldn't get version/kind; json parse error: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  if (doc === null || doc === undefined) {
    throw new CredentialError(`exec plugin is configured to use API version ${apiVersion}, plugin returned version client.authentication.k8s.io/__internal`);
  }
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    throw new CredentialError(`decoding stdout: couldn't get version/kind; json parse error: json: cannot unmarshal ${goJsonKind(doc)} into Go value of type ${VERSION_KIND_STRUCT}`);
  }
  const obj = doc as Record<string, unknown>;
  const gotVersion = typeof obj.apiVersion === 'string' ? obj.apiVersion : '';
  const kind = typeof obj.kind === 'string' ? obj.kind : '';
  if (gotVersion === '') {
    throw new CredentialError(`exec plugin is configured to use API version ${apiVersion}, plugin returned version client.authentication.k8s.io/__internal`);
  }
  if (!EXEC_API_VERSIONS.includes(gotVersion) || (kind !== '' && kind !== 'ExecCredential')) {
    throw new CredentialError(`decoding stdout: no kind ${JSON.stringify(kind || 'ExecCredential')} is registered for version ${JSON.stringify(gotVersion)} in scheme "pkg/client/auth/exec/exec.go:62"`);
  }
  const status = obj.status;
  if (status !== undefined && status !== null && (typeof status !== 'object' || Array.isArray(status))) {
    throw new CredentialError(`decoding stdout: json: cannot unmarshal ${goJsonKind(status)} into Go struct field ExecCredential.status of type v1.ExecCredentialStatus`);
  }
  const fields: Record<string, string> = {};
  if (status) {
    for (const f of ['token', 'clientCertificateData', 'clientKeyData', 'expirationTimestamp']) {
      const v = (status as Record<string, unknown>)[f];
      if (v === undefined || v === null) continue;
      if (typeof v !== 'string') {
        throw new CredentialError(`decoding stdout: json: cannot unmarshal ${goJsonKind(v)} into Go struct field ExecCredentialStatus.status.${f} of type string`);
      }
      fields[f] = v;
    }
  }
  let expiry: number | undefined;
  if (fields.expirationTimestamp !== undefined) expiry = parseRFC3339(fields.expirationTimestamp);
  if (gotVersion !== apiVersion) {
    throw new CredentialError(`exec plugin is configured to use API version ${apiVersion}, plugin returned version ${gotVersion}`);
  }
  if (!status) throw new CredentialError("exec plugin didn't return a status field");
  const token = fields.token ?? '';
  const certPem = fields.clientCertificateData ?? '';
  const keyPem = fields.clientKeyData ?? '';
  if (token === '' && (certPem === '' || keyPem === '')) {
    if (certPem !== '' || keyPem !== '') throw new CredentialError('exec plugin returned only certificate or key, not both');
    throw new CredentialError("exec plugin didn't return a token or cert/key pair");
  }
  const out: ExecResult = {};
  if (token !== '') out.token = token;
  if (expiry !== undefined) out.expiry = expiry;
  if (certPem !== '' && keyPem !== '') {
    const cert = Buffer.from(certPem);
    const key = Buffer.from(keyPem);
    const pem = /-----BEGIN [A-Z0-9 ]+-----/;
    if (!pem.test(certPem)) throw new CredentialError('failed parsing client key/certificate: tls: failed to find any PEM data in certificate input');
    if (!pem.test(keyPem)) throw new CredentialError('failed parsing client key/certificate: tls: failed to find any PEM data in key input');
    try {
      createSecureContext({ cert, key });
    } catch (err) {
      const msg = (err as Error).message;
      const reason = /key values mismatch/i.test(msg) ? 'tls: private key does not match public key' : msg;
      throw new CredentialError(`failed parsing client key/certificate: ${reason}`);
    }
    out.cert = cert;
    out.key = key;
  }
  return out;
}


/** Runs an exec credential plugin once and checks its answer. */
export class ExecPlugin {
  private readonly sometimes: Sometimes;
  private readonly installHint: string | undefined;
  private running: ReturnType<typeof spawn> | undefined;

  constructor(
    readonly exec: ExecConfig,
    private readonly opts: ExecRunOptions,
  ) {
    this.sometimes = new Sometimes(10, 60 * 60 * 1000, opts.now ?? Date.now);
    if (exec.installHint) this.installHint = cleanANSIEscapeCodes(exec.installHint);
  }

  run(): Promise<ExecResult> {
    const exec = this.exec;
    let isInteractive: boolean;
    let env: NodeJS.ProcessEnv;
    try {
      isInteractive = interactive(exec.interactiveMode, this.opts.stdinIsTTY);
      const cluster = exec.provideClusterInfo && this.opts.clusterInfo ? this.opts.clusterInfo() : undefined;
      env = { ...this.opts.env };
      for (const v of exec.env) env[v.name] = v.value;
      env.KUBERNETES_EXEC_INFO = execInfo(exec, isInteractive, cluster);
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise<ExecResult>((resolve, reject) => {
      const child = spawn(exec.command, exec.args, {
        env,
        stdio: [isInteractive ? 'inherit' : 'ignore', 'pipe', 'inherit'],
        windowsHide: true,
      });
      this.running = child;
      const chunks: Buffer[] = [];
      let size = 0;
      let tooBig = false;
      child.stdout!.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_STDOUT) {
          tooBig = true;
          child.kill('SIGKILL');
          return;
        }
        chunks.push(c);
      });
      let failed = false;
      child.once('error', (err: NodeJS.ErrnoException) => {
        failed = true;
        this.running = undefined;
        reject(this.spawnError(err));
      });
      child.once('close', (code, signal) => {
        this.running = undefined;
        if (failed) return;
        if (tooBig) {
          reject(new CredentialError(`exec: executable ${exec.command} wrote more than ${MAX_STDOUT} bytes to stdout`));
          return;
        }
        if (code !== 0) {
          // Go's ExitCode() is -1 for a process killed by a signal.
          reject(new CredentialError(`exec: executable ${exec.command} failed with exit code ${signal ? -1 : code}`));
          return;
        }
        try {
          resolve(decodeExecCredential(Buffer.concat(chunks).toString('utf8'), exec.apiVersion));
        } catch (err) {
          reject(err);
        }
      });
    });
  }

  private spawnError(err: NodeJS.ErrnoException): CredentialError {
    const cmd = this.exec.command;
    // A bare name is looked up in $PATH: Go's exec.Error, with the not-installed help.
    if (!cmd.includes('/') && !cmd.includes(path.sep) && (err.code === 'ENOENT' || err.code === 'EACCES')) {
      let msg = `exec: executable ${cmd} not found`;
      this.sometimes.do(() => {
        msg += INSTALL_HINT_HELP;
        if (this.installHint) msg += `\n\n${this.installHint}`;
      });
      return new CredentialError(msg);
    }
    const text = errnoText(err);
    return new CredentialError(`exec: fork/exec ${cmd}: ${text}`);
  }

  /** Stops a plugin still running when kproxy shuts down. */
  kill(): void {
    this.running?.kill('SIGTERM');
  }
}

export interface ExecCredentialsOptions extends ExecRunOptions {
  /** Receives each client certificate the plugin returns (before the waiting requests go on). */
  setClientCertificate?: (cert: Buffer, key: Buffer) => void;
}

/** The plugin behind a RefreshingCredential: run lazily, cached until expiry or a 401. */
export function execCredential(exec: ExecConfig, opts: ExecCredentialsOptions): { credential: RefreshingCredential; plugin: ExecPlugin } {
  const now = opts.now ?? Date.now;
  const plugin = new ExecPlugin(exec, opts);
  const credential = new RefreshingCredential({
    now,
    what: `credential from exec plugin ${exec.command}`,
    kind: 'exec',
    obtain: async (): Promise<Obtained> => {
      const started = now();
      let got: ExecResult;
      try {
        got = await plugin.run();
      } catch (err) {
        const e = err instanceof CredentialError ? err : new CredentialError(String((err as Error).message ?? err));
        throw new CredentialError(`getting credentials: ${e.message}`, e.status);
      }
      if (got.cert && got.key) opts.setClientCertificate?.(got.cert, got.key);
      const authorization = got.token !== undefined ? 'Bearer ' + got.token : undefined;
      if (got.expiry === undefined) return { authorization, freshUntil: Infinity, expiresAt: Infinity };
      const lifetime = got.expiry - started;
      const skew = Math.min(EXEC_REFRESH_SKEW_MS, Math.max(0, lifetime / 2));
      return { authorization, freshUntil: got.expiry - skew, expiresAt: got.expiry };
    },
  });
  return { credential, plugin };
}
