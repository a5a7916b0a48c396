// Start kproxy or the real kubectl proxy as child processes. Readiness is the
// `Starting to serve on <addr>` line (kubectl prints it after listen), never a sleep; every child
// is registered so that a failing test cannot leave a proxy running on the machine.

import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync, realpathSync } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ServeAddress {
  /** What followed `Starting to serve on `, verbatim. */
  raw: string;
  /** As printed, without brackets (`127.0.0.1`, `::1`, `::`); `localhost` for a unix socket. */
  host: string;
  /** 0 for a unix socket. */
  port: number;
  socketPath?: string;
  /** Base URL to reach the proxy, e.g. `http://127.0.0.1:41234`; wildcard binds map to 127.0.0.1. */
  url: string;
}

export interface Running extends ServeAddress {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Output so far (utf8). */
  readonly stdout: string;
  readonly stderr: string;
  /** Settles when the process exits, whoever ends it. */
  readonly exited: Promise<ExitInfo>;
  /** SIGTERM, then SIGKILL after `killAfterMs` (default 5 s); idempotent. */
  stop(killAfterMs?: number): Promise<ExitInfo>;
  /** Resolves when stderr contains `pattern` (checked on every chunk, no polling). */
  waitForStderr(pattern: string | RegExp, timeoutMs?: number): Promise<string>;
}

export interface StartOptions {
  /** Merged over `process.env`; `undefined` removes a variable. */
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** Start-up safety net, default 20 s (a busy 2-core machine can be slow to exec a 57 MB Go binary). */
  timeoutMs?: number;
  /**
   * Written to stdin, which is then closed (default: stdin is /dev/null). Note: for an https
   * cluster whose user has no credential at all, kubectl 1.32 prompts `Please enter Username: `
   * on stdout and exits 1 (`error: EOF`; the password is read from a terminal, so no input can
   * satisfy it): give such kubeconfigs a token or a client certificate.
   */
  input?: string;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export type RunOptions = StartOptions;

const READY_PREFIX = 'Starting to serve on ';
const DEFAULT_START_MS = 20_000;
const DEFAULT_RUN_MS = 20_000;

// ---- last-resort cleanup ------------------------------------------------------------------

const live = new Set<ChildProcess>();
let hooksInstalled = false;

function killAll(): void {
  for (const c of live) {
    try {
      c.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', killAll);
  // A signal to the test process skips 'exit'; kill children, then die of the same signal as
  // Node would have, unless someone else handles it.
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const handler = (): void => {
      killAll();
      if (process.listenerCount(sig) === 1) {
        process.off(sig, handler);
        process.kill(process.pid, sig);
      }
    };
    process.on(sig, handler);
  }
}

function register(child: ChildProcess): void {
  installHooks();
  live.add(child);
  child.once('exit', () => live.delete(child));
}

// ---- locating binaries --------------------------------------------------------------------

let rootCache: string | undefined;

/**
 * The kproxy checkout: `KPROXY_ROOT`, else the nearest ancestor of this file (or of the cwd)
 * whose package.json is kproxy's, so a copy compiled outside the repo still finds it.
 */
export function repoRoot(): string {
  if (rootCache !== undefined) return rootCache;
  const fromEnv = process.env['KPROXY_ROOT'];
  if (fromEnv) return (rootCache = resolve(fromEnv));
  const starts = [dirname(fileURLToPath(import.meta.url)), process.cwd()];
  for (const start of starts) {
    for (let d = start; ; d = dirname(d)) {
      const pkg = join(d, 'package.json');
      if (existsSync(pkg)) {
        try {
          const parsed = JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string; bin?: Record<string, string> };
          if (parsed.bin?.['kproxy'] !== undefined) return (rootCache = d);
        } catch {
          // not ours
        }
      }
      if (dirname(d) === d) break;
    }
  }
  throw new Error(`cannot find the kproxy repository above ${starts.join(' or ')}; set KPROXY_ROOT`);
}

export function kproxyBin(): string {
  return join(repoRoot(), 'bin', 'kproxy');
}

function isExecutable(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

let kubectlCache: { path: string | undefined } | undefined;

/**
 * The real kubectl 1.32 (never the gcloud dispatcher, which sends an extra GET /version):
 * `KPROXY_KUBECTL`, else `kubectl.1.32` beside the resolved `kubectl` on PATH, else the gcloud SDK path.
 */
export function findKubectl(): string | undefined {
  if (kubectlCache) return kubectlCache.path;
  const pick = (): string | undefined => {
    const fromEnv = process.env['KPROXY_KUBECTL'];
    if (fromEnv) return isExecutable(fromEnv) ? resolve(fromEnv) : undefined;
    for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
      if (!dir) continue;
      const k = join(dir, 'kubectl');
      if (!isExecutable(k)) continue;
      const beside = join(dirname(realpathSync(k)), 'kubectl.1.32');
      if (isExecutable(beside)) return beside;
      break;
    }
    const sdk = '/usr/lib/google-cloud-sdk/bin/kubectl.1.32';
    return isExecutable(sdk) ? sdk : undefined;
  };
  kubectlCache = { path: pick() };
  return kubectlCache.path;
}

/** A skip message for node:test (`{ skip: kubectlMissing() }`), or undefined when kubectl is there. */
export function kubectlMissing(): string | undefined {
  if (findKubectl() !== undefined) return undefined;
  const env = process.env['KPROXY_KUBECTL'];
  return env
    ? `KPROXY_KUBECTL=${env} is not an executable file`
    : 'kubectl 1.32 not found (set KPROXY_KUBECTL=/path/to/kubectl.1.32, or put kubectl.1.32 beside the kubectl on PATH)';
}

// ---- address parsing ----------------------------------------------------------------------

/** Parses what follows `Starting to serve on `: `127.0.0.1:8001`, `[::1]:8001`, `[::]:8001` or a socket path. */
export function parseServeAddress(raw: string): ServeAddress {
  const v6 = /^\[([^\]]*)\]:(\d+)$/.exec(raw);
  const v4 = /^([^:/]+):(\d+)$/.exec(raw);
  const m = v6 ?? v4;
  if (m) {
    const host = m[1]!;
    const port = Number(m[2]);
    const wildcard = host === '::' || host === '0.0.0.0' || host === '';
    const urlHost = wildcard ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
    return { raw, host, port, url: `http://${urlHost}:${port}` };
  }
  return { raw, host: 'localhost', port: 0, socketPath: raw, url: 'http://localhost' };
}

// ---- spawning -----------------------------------------------------------------------------

function buildEnv(extra: StartOptions['env']): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const [k, v] of Object.entries(extra ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

function describeOutput(name: string, stdout: string, stderr: string): string {
  const cut = (s: string): string => (s.length > 4000 ? `…${s.slice(-4000)}` : s);
  return `${name}\n--- stdout ---\n${cut(stdout) || '(empty)'}\n--- stderr ---\n${cut(stderr) || '(empty)'}`;
}

/** Spawns any command and waits for its `Starting to serve on` line. */
export function startProcess(command: string, args: string[], opts: StartOptions = {}): Promise<Running> {
  const label = [command, ...args].join(' ');
  const child = spawn(command, args, { cwd: opts.cwd, env: buildEnv(opts.env), stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
  register(child);
  if (opts.input !== undefined) {
    child.stdin!.on('error', () => {});
    child.stdin!.end(opts.input);
  }
  let stdout = '';
  let stderr = '';
  const stderrWaiters = new Set<() => void>();
  child.stdout!.setEncoding('utf8');
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (s: string) => {
    stderr += s;
    for (const w of stderrWaiters) w();
  });

  let exitInfo: ExitInfo | undefined;
  const exited = new Promise<ExitInfo>((res) => {
    child.once('exit', (code, signal) => {
      exitInfo = { code, signal };
      res(exitInfo);
      for (const w of stderrWaiters) w();
    });
    // A spawn failure never emits 'exit'.
    child.once('error', () => {
      if (exitInfo) return;
      exitInfo = { code: null, signal: null };
      res(exitInfo);
    });
  });

  let stopping: Promise<ExitInfo> | undefined;
  const stop = (killAfterMs = 5000): Promise<ExitInfo> => {
    stopping ??= (async () => {
      if (exitInfo) return exitInfo;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
      t.unref();
      const info = await exited;
      clearTimeout(t);
      return info;
    })();
    return stopping;
  };

  return new Promise<Running>((resolveStart, rejectStart) => {
    let settled = false;
    const timeoutMs = opts.timeoutMs ?? DEFAULT_START_MS;
    const fail = (why: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      rejectStart(new Error(describeOutput(`${label}: ${why}`, stdout, stderr)));
    };
    const timer = setTimeout(() => fail(`no "${READY_PREFIX.trim()}" line within ${timeoutMs} ms`), timeoutMs);
    timer.unref();

    child.stdout!.on('data', (s: string) => {
      stdout += s;
      if (settled) return;
      // Only complete lines: the address could otherwise be read half-written.
      const line = stdout.split('\n').slice(0, -1).find((l) => l.startsWith(READY_PREFIX));
      if (line === undefined) return;
      settled = true;
      clearTimeout(timer);
      const addr = parseServeAddress(line.slice(READY_PREFIX.length).replace(/\r$/, ''));
      const running: Running = {
        ...addr,
        child,
        pid: child.pid ?? -1,
        get stdout() {
          return stdout;
        },
        get stderr() {
          return stderr;
        },
        exited,
        stop,
        waitForStderr(pattern, waitMs = DEFAULT_RUN_MS) {
          const matches = (): boolean => (typeof pattern === 'string' ? stderr.includes(pattern) : pattern.test(stderr));
          return new Promise<string>((ok, no) => {
            const check = (): void => {
              if (matches()) {
                done();
                ok(stderr);
              } else if (exitInfo) {
                done();
                no(new Error(describeOutput(`${label}: exited before stderr matched ${String(pattern)}`, stdout, stderr)));
              }
            };
            const t = setTimeout(() => {
              done();
              no(new Error(describeOutput(`${label}: stderr did not match ${String(pattern)} within ${waitMs} ms`, stdout, stderr)));
            }, waitMs);
            t.unref();
            const done = (): void => {
              clearTimeout(t);
              stderrWaiters.delete(check);
            };
            stderrWaiters.add(check);
            check();
          });
        },
      };
      resolveStart(running);
    });
    child.once('error', (err) => fail(`spawn failed: ${err.message}`));
    // 'close' (not 'exit') so that the error message carries all the output.
    child.once('close', (code, signal) => fail(`exited (code ${code}, signal ${signal}) before it was ready`));
  });
}

/** `node bin/kproxy ...args`. */
export function startKproxy(args: string[], opts: StartOptions = {}): Promise<Running> {
  return startProcess(process.execPath, [kproxyBin(), ...args], opts);
}

/** `kubectl.1.32 proxy ...args`; pass `--kubeconfig` yourself. Throws when kubectl is missing. */
export function startKubectlProxy(args: string[], opts: StartOptions = {}): Promise<Running> {
  const kubectl = findKubectl();
  if (kubectl === undefined) return Promise.reject(new Error(kubectlMissing()));
  return startProcess(kubectl, ['proxy', ...args], opts);
}

/** Runs a command to completion; kills it and rejects (with its output) after `timeoutMs`. */
export function runProcess(command: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const label = [command, ...args].join(' ');
  return new Promise<RunResult>((resolveRun, rejectRun) => {
    const child = spawn(command, args, { cwd: opts.cwd, env: buildEnv(opts.env), stdio: ['pipe', 'pipe', 'pipe'] });
    register(child);
    let stdout = '';
    let stderr = '';
    let settled = false;
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input ?? '');
    const timeoutMs = opts.timeoutMs ?? DEFAULT_RUN_MS;
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      child.kill('SIGKILL');
      rejectRun(new Error(describeOutput(`${label}: still running after ${timeoutMs} ms (killed)`, stdout, stderr)));
    }, timeoutMs);
    timer.unref();
    child.once('error', (err) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      rejectRun(new Error(describeOutput(`${label}: spawn failed: ${err.message}`, stdout, stderr)));
    });
    child.once('close', (code, signal) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolveRun({ code, signal, stdout, stderr });
    });
  });
}

/** `node bin/kproxy ...args`, expected to exit (bad flags, --help). */
export function runKproxy(args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return runProcess(process.execPath, [kproxyBin(), ...args], opts);
}

/** `kubectl.1.32 proxy ...args`, expected to exit. */
export function runKubectlProxy(args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const kubectl = findKubectl();
  if (kubectl === undefined) return Promise.reject(new Error(kubectlMissing()));
  return runProcess(kubectl, ['proxy', ...args], opts);
}

// ---- per-file bookkeeping ------------------------------------------------------------------

export interface Launcher {
  /** Starts kproxy now; the test that awaits the promise is the one that reports a failed start. */
  launch(args: string[], opts?: StartOptions): Promise<Running>;
  /** Registers a process started some other way, so `stopAll` stops it too. */
  track(running: Running): void;
  /** For `after`: stops everything launched or tracked, ignoring failed starts. */
  stopAll(): Promise<void>;
}

export function launcher(): Launcher {
  const started: Array<Promise<Running>> = [];
  return {
    launch(args, opts) {
      const p = startKproxy(args, opts);
      p.catch(() => {});
      started.push(p);
      return p;
    },
    track(running) {
      started.push(Promise.resolve(running));
    },
    async stopAll() {
      await Promise.all(started.map((p) => p.then((r) => r.stop(), () => undefined)));
    },
  };
}

/** Rejects with `what` when `p` has not settled within `ms` (a safety net, not a timing check). */
export function within<T>(p: Promise<T>, what: string, ms = 10_000): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
    t.unref();
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}
