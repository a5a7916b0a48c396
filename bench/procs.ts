// Child processes of the benchmark (the upstream, kubectl proxy, kproxy) and what /proc says
// about them: resident memory, file descriptors, sockets, and which TCP ports they own.

import { spawn, fork, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import type { UpstreamConfig, UpstreamStats } from './upstream.js';

const READY = 'Starting to serve on ';

// Every child this process starts, so that none outlives the benchmark.
const live = new Set<ChildProcess>();
let hooked = false;
function register(c: ChildProcess): void {
  if (!hooked) {
    hooked = true;
    process.on('exit', () => {
      for (const k of live) k.kill('SIGKILL');
    });
    for (const sig of ['SIGINT', 'SIGTERM'] as const) {
      process.once(sig, () => {
        for (const k of live) k.kill('SIGKILL');
        process.exit(130);
      });
    }
  }
  live.add(c);
  c.once('exit', () => live.delete(c));
}

export function repoRoot(): string {
  // dist/bench/procs.js -> repository root
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..');
}

export interface Proxy {
  kind: 'kubectl' | 'kproxy';
  pid: number;
  port: number;
  origin: string;
  /** Milliseconds from spawn() to the `Starting to serve on` line. */
  readyMs: number;
  child: ChildProcess;
  stderrTail(): string;
  /** Stops with `signal` (SIGTERM by default), SIGKILL after 10 s; resolves on exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export interface ProxyCommand {
  kind: 'kubectl' | 'kproxy';
  file: string;
  args: string[];
}

export function proxyCommand(kind: 'kubectl' | 'kproxy', kubeconfig: string, kubectlPath: string, nodeFlags: string[] = [], kproxyFlags: string[] = []): ProxyCommand {
  const common = ['--port=0', `--kubeconfig=${kubeconfig}`];
  if (kind === 'kubectl') return { kind, file: kubectlPath, args: ['proxy', ...common] };
  return { kind, file: process.execPath, args: [...nodeFlags, join(repoRoot(), 'bin', 'kproxy'), ...common, ...kproxyFlags] };
}

export function startProxy(cmd: ProxyCommand, timeoutMs = 30_000): Promise<Proxy> {
  const env = { ...process.env };
  delete env['KUBECONFIG'];
  const t0 = performance.now();
  const child = spawn(cmd.file, cmd.args, { stdio: ['ignore', 'pipe', 'pipe'], env });
  register(child);
  let out = '';
  let err = '';
  // Both pipes are always drained: kubectl logs every aborted request on stderr.
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    err = (err + d).slice(-8192);
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  let ready = false;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${cmd.kind} did not start within ${timeoutMs} ms: ${err}`));
    }, timeoutMs);
    child.once('exit', (code, sig) => {
      clearTimeout(timer);
      if (!ready) reject(new Error(`${cmd.kind} exited (${code ?? sig}) before serving: ${out}${err}`));
    });
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      if (out.length < 4096) out += d;
      const i = out.indexOf(READY);
      if (ready || i < 0 || !out.includes('\n', i)) return;
      ready = true;
      const readyMs = performance.now() - t0;
      clearTimeout(timer);
      const addr = out.slice(i + READY.length, out.indexOf('\n', i)).trim();
      const port = Number(addr.slice(addr.lastIndexOf(':') + 1));
      resolve({
        kind: cmd.kind,
        pid: child.pid!,
        port,
        origin: `http://127.0.0.1:${port}`,
        readyMs,
        child,
        stderrTail: () => err,
        async stop(signal: NodeJS.Signals = 'SIGTERM') {
          if (child.exitCode !== null || child.signalCode !== null) return;
          child.kill(signal);
          const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
          await exited;
          clearTimeout(kill);
        },
      });
    });
  });
}

// ---- the upstream child ---------------------------------------------------------------------

export interface UpstreamProc {
  port: number;
  pid: number;
  stats(): Promise<UpstreamStats>;
  setRate(r: number): Promise<void>;
  stop(): Promise<void>;
}

export function startUpstreamProc(cfg: UpstreamConfig & { prebuild: number[] }): Promise<UpstreamProc> {
  const child = fork(join(dirname(fileURLToPath(import.meta.url)), 'upstream.js'), [], {
    env: { ...process.env, KPROXY_BENCH_UPSTREAM: JSON.stringify(cfg) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  register(child);
  let seq = 0;
  const pending = new Map<number, (v: unknown) => void>();
  const call = <T>(cmd: string, extra: Record<string, unknown> = {}): Promise<T> =>
    new Promise((resolve, reject) => {
      const id = ++seq;
      pending.set(id, resolve as (v: unknown) => void);
      child.send({ id, cmd, ...extra }, (err) => {
        if (err) {
          pending.delete(id);
          reject(err);
        }
      });
    });
  let ready = false;
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => {
      if (!ready) reject(new Error(`upstream exited (${code})`));
    });
    child.on('message', (m: { id?: number; result?: unknown; ready?: boolean; port?: number }) => {
      if (m.ready) {
        ready = true;
        resolve({
          port: m.port!,
          pid: child.pid!,
          stats: () => call<UpstreamStats>('stats'),
          setRate: async (rate) => {
            await call('set-rate', { rate });
          },
          stop: () =>
            new Promise<void>((r) => {
              if (child.exitCode !== null) return r();
              child.once('exit', () => r());
              child.disconnect();
              setTimeout(() => child.kill('SIGKILL'), 5000).unref();
            }),
        });
      } else if (m.id !== undefined) {
        pending.get(m.id)?.(m.result);
        pending.delete(m.id);
      }
    });
  });
}

// ---- /proc ----------------------------------------------------------------------------------

/** VmRSS in MiB, or NaN when the process is gone. */
export function rssMiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

export interface FdStats {
  fds: number;
  sockets: number;
  /** Socket inodes, to find the process's TCP connections. */
  inodes: Set<string>;
}

export function fdStats(pid: number): FdStats {
  const inodes = new Set<string>();
  let fds = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    fds++;
    try {
      const l = readlinkSync(`/proc/${pid}/fd/${fd}`);
      if (l.startsWith('socket:[')) inodes.add(l.slice(8, -1));
    } catch {
      // closed meanwhile
    }
  }
  return { fds, sockets: inodes.size, inodes };
}

/** Local TCP ports of established-or-closing connections whose socket inode is in `inodes`. */
export function tcpPortsOf(inodes: Set<string>): { local: number; remote: number; state: string }[] {
  const out: { local: number; remote: number; state: string }[] = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    const lines = text.split('\n');
    for (let i = 1; i < lines.length; i++) {
      const f = lines[i]!.trim().split(/\s+/);
      if (f.length < 10 || !inodes.has(f[9]!)) continue;
      const local = parseInt(f[1]!.slice(f[1]!.lastIndexOf(':') + 1), 16);
      const remote = parseInt(f[2]!.slice(f[2]!.lastIndexOf(':') + 1), 16);
      out.push({ local, remote, state: f[3]! });
    }
  }
  return out;
}

/** The upstream connections (with ALPN) that belong to process `pid`. */
export function upstreamConnsOf(pid: number, upstreamPort: number, stats: UpstreamStats): { count: number; alpn: Record<string, number> } {
  const mine = new Set(tcpPortsOf(fdStats(pid).inodes).filter((c) => c.remote === upstreamPort).map((c) => c.local));
  const alpn: Record<string, number> = {};
  let count = 0;
  for (const c of stats.tls) {
    if (!mine.has(c.remotePort)) continue;
    count++;
    alpn[c.alpn] = (alpn[c.alpn] ?? 0) + 1;
  }
  return { count, alpn };
}

/** `kubectl version --client` as `v1.32.x`, or undefined. */
export function kubectlVersion(path: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const c = spawn(path, ['version', '--client', '-o', 'json'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    c.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    c.on('error', () => resolve(undefined));
    c.on('exit', () => {
      try {
        resolve((JSON.parse(out) as { clientVersion?: { gitVersion?: string } }).clientVersion?.gitVersion);
      } catch {
        resolve(undefined);
      }
    });
  });
}

// ---- CPU used by other work on the machine ----------------------------------------------------

/** Machine-wide CPU time (clock ticks) from /proc/stat: busy and total. */
export function machineCpu(): { busy: number; total: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = f;
  const busy = user + nice + system + irq + softirq + steal;
  return { busy, total: busy + idle + iowait };
}

/** Clock ticks per second in /proc/<pid>/stat (USER_HZ, 100 on Linux). */
export const CLK_TCK = 100;

/**
 * CPU clock ticks of `pid` and every live descendant (utime + stime), plus what reaped
 * children used: the proxy's whole process tree (an exec credential plugin, kubectl's threads).
 */
export function treeCpu(pid: number): number {
  const kids = new Map<number, number[]>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const text = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(text.slice(text.lastIndexOf(')') + 2).split(' ')[1]);
      const list = kids.get(ppid) ?? [];
      list.push(Number(d));
      kids.set(ppid, list);
    } catch {
      // gone meanwhile
    }
  }
  let total = 0;
  const walk = (p: number): void => {
    total += processCpu(p, true);
    for (const k of kids.get(p) ?? []) walk(k);
  };
  walk(pid);
  return total;
}

/** CPU clock ticks of `pid` (utime + stime), plus its reaped children's when `children`. */
export function processCpu(pid: number | 'self', children = false): number {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
    // After the command: state is field 3, utime 14, stime 15, cutime 16, cstime 17.
    const v = (n: number): number => Number(f[n - 3]);
    return v(14) + v(15) + (children ? v(16) + v(17) : 0);
  } catch {
    return 0;
  }
}
