// `npm run bench`: kproxy against the real `kubectl proxy` (1.32) and a direct connection, on
// loopback, against the same Kubernetes-like HTTPS upstream (bench/upstream.ts) and kubeconfig.
// Every measurement is repeated and interleaved (direct, kubectl, kproxy, then rotated) so that
// machine drift falls on all three alike; tables show medians. Never part of `npm test`.
//
//   npm run bench                      full run (a few minutes)
//   npm run bench -- --quick           about 1-2 minutes, fewer repetitions
//   npm run bench -- --only=small,watch
//   npm run bench -- --profile         kproxy under small-GET load with --cpu-prof, top self time
//   node dist/bench/run.js --help
//
// kubectl: KPROXY_KUBECTL, else /usr/lib/google-cloud-sdk/bin/kubectl.1.32; when missing, the
// run is kproxy-only and the tables say so.

import { execFileSync } from 'node:child_process';
import { accessSync, constants, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { makePki, writePkiFiles } from '../test/helpers/pki.js';
import { writeKubeconfig } from '../test/helpers/kubeconfig.js';
import { abortStorm, closedLoop, getOnce, median, openWatches, percentile, type LoopResult, type Target } from './load.js';
import { H2_STREAMS } from './upstream.js';
import {
  fdStats,
  kubectlVersion,
  machineCpu,
  processCpu,
  treeCpu,
  CLK_TCK,
  proxyCommand,
  repoRoot,
  rssMiB,
  startProxy,
  startUpstreamProc,
  tcpPortsOf,
  upstreamConnsOf,
  type Proxy,
  type ProxyCommand,
  type UpstreamProc,
} from './procs.js';
import { summariseProfile } from './profile.js';
import { fmt, sectionTable, simpleTable, type Row, type Section, type TargetName } from './report.js';

// ---- options --------------------------------------------------------------------------------

const HELP = `usage: node dist/bench/run.js [options]

  --quick                 ~2 minute smoke run (1 repetition, short windows, 3,000 aborts)
  --reps=N                repetitions of every measurement (default 3; quick 1)
  --only=LIST             sections: small,large,watch,startup,storm (default all)
  --duration=S            measured seconds per small/large run (default 3; quick 1)
  --warmup=S              warm-up seconds before each window (default 1; quick 0.5)
  --concurrency=LIST      small-GET connection counts (default 1,16,64)
  --large-concurrency=N   connections for 1 MiB / 32 MiB / upload runs (default 4)
  --watches=N             concurrent watches (default 1000)
  --watch-rate=R          events per second per watch (default 1)
  --watch-duration=S      measured seconds with all watches open (default 5; quick 2)
  --aborts=N              watches aborted per storm, 4 storms (default 10000; quick 3000)
  --settle=S              how long counts may take to return to baseline (default 60)
  --startup-reps=N        start-ups per proxy (default 5; quick 2)
  --no-kubectl            kproxy and direct only
  --out=FILE              raw JSON (default bench/results/<timestamp>.json)
  --profile               instead: profile kproxy (node --cpu-prof) under small-GET load
  --profile-duration=S    (default 15) --profile-concurrency=N (default 16) --profile-dir=DIR (/tmp/kprof)
  --profile-load=small|large   small GETs (default), or 32 MiB GETs
`;

const { values: argv } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    reps: { type: 'string' },
    only: { type: 'string' },
    duration: { type: 'string' },
    warmup: { type: 'string' },
    concurrency: { type: 'string' },
    'large-concurrency': { type: 'string' },
    watches: { type: 'string' },
    'watch-rate': { type: 'string' },
    'watch-duration': { type: 'string' },
    aborts: { type: 'string' },
    settle: { type: 'string' },
    'startup-reps': { type: 'string' },
    'no-kubectl': { type: 'boolean', default: false },
    out: { type: 'string' },
    profile: { type: 'boolean', default: false },
    'profile-duration': { type: 'string' },
    'profile-concurrency': { type: 'string' },
    'profile-dir': { type: 'string' },
    'profile-load': { type: 'string' },
    help: { type: 'boolean', default: false },
  },
  strict: true,
});
if (argv.help) {
  process.stdout.write(HELP);
  process.exit(0);
}
const quick = argv.quick!;
const num = (v: string | undefined, d: number): number => {
  if (v === undefined) return d;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`not a number: ${v}`);
  return n;
};
const opts = {
  reps: num(argv.reps, quick ? 1 : 3),
  sections: new Set((argv.only ?? 'startup,small,large,watch,storm').split(',').map((s) => s.trim())),
  durationMs: num(argv.duration, quick ? 1 : 3) * 1000,
  warmupMs: num(argv.warmup, quick ? 0.5 : 1) * 1000,
  concurrency: (argv.concurrency ?? '1,16,64').split(',').map((s) => num(s, 1)),
  largeConcurrency: num(argv['large-concurrency'], 4),
  watches: num(argv.watches, 1000),
  watchRate: num(argv['watch-rate'], 1),
  watchDurationMs: num(argv['watch-duration'], quick ? 2 : 5) * 1000,
  aborts: num(argv.aborts, quick ? 3000 : 10_000),
  settleMs: num(argv.settle, 60) * 1000,
  startupReps: num(argv['startup-reps'], quick ? 2 : 5),
};

const SMALL_PATH = '/api/v1/namespaces/default/pods';
const WATCH_PATH = '/api/v1/namespaces/default/pods?watch=true';
const MiB = 1024 * 1024;
const UPLOAD_BYTES = 20_000_000;
const UPLOAD_PATH = '/api/v1/namespaces/default/configmaps';
const CLIENT_HEADERS = ['user-agent', 'kproxy-bench/1.0', 'accept', 'application/json'];
// Large rows ask for identity so that neither proxy asks the upstream for gzip (Go's transport
// and kproxy both add `Accept-Encoding: gzip` and decode when the client sent none).
const IDENTITY = ['accept-encoding', 'identity'];

function findKubectl(): string | undefined {
  if (argv['no-kubectl']) return undefined;
  const p = process.env['KPROXY_KUBECTL'] || '/usr/lib/google-cloud-sdk/bin/kubectl.1.32';
  try {
    accessSync(p, constants.X_OK);
    return p;
  } catch {
    return undefined;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const log = (s: string): void => void process.stderr.write(s + '\n');

/** Polls `check` every `everyMs` until it returns true or `deadlineMs` passes; returns elapsed ms or undefined. */
async function until(check: () => boolean | Promise<boolean>, deadlineMs: number, everyMs = 200): Promise<number | undefined> {
  const t0 = performance.now();
  for (;;) {
    if (await check()) return performance.now() - t0;
    if (performance.now() - t0 > deadlineMs) return undefined;
    await sleep(everyMs);
  }
}

function rotate<T>(xs: T[], r: number): T[] {
  const k = r % xs.length;
  return [...xs.slice(k), ...xs.slice(0, k)];
}

// ---- environment ----------------------------------------------------------------------------

interface Env {
  dir: string;
  kubeconfig: string;
  upstream: UpstreamProc;
  direct: Target;
  kubectl?: string;
  token: string;
}

async function setup(): Promise<Env> {
  const dir = mkdtempSync(join(tmpdir(), 'kproxy-bench-'));
  const pki = await makePki();
  const files = writePkiFiles(join(dir, 'pki'), pki);
  const token = 'bench-token-4f1c7a0b9d2e';
  const upstream = await startUpstreamProc({
    certFile: files.serverCert,
    keyFile: files.serverKey,
    token,
    watchRate: 0,
    gzip: true,
    prebuild: [MiB, 32 * MiB],
  });
  const kubeconfig = writeKubeconfig(dir, { server: `https://127.0.0.1:${upstream.port}`, caFile: files.ca, token });
  return {
    dir,
    kubeconfig,
    upstream,
    token,
    kubectl: findKubectl(),
    direct: {
      name: 'direct',
      origin: `https://127.0.0.1:${upstream.port}`,
      tls: { ca: pki.ca },
      headers: ['authorization', `Bearer ${token}`],
    },
  };
}

function cmdFor(env: Env, kind: 'kubectl' | 'kproxy', nodeFlags: string[] = [], kproxyFlags: string[] = []): ProxyCommand {
  return proxyCommand(kind, env.kubeconfig, env.kubectl ?? '', nodeFlags, kproxyFlags);
}

function proxyTarget(p: Proxy): Target {
  return { name: p.kind, origin: p.origin, headers: [] };
}

// ---- results --------------------------------------------------------------------------------

interface Raw {
  [k: string]: unknown;
}
const raw: Raw = {};

function collect(values: Partial<Record<TargetName, number[]>>): { values: Row['values']; samples: Row['samples'] } {
  const v: Row['values'] = {};
  for (const [k, xs] of Object.entries(values) as [TargetName, number[] | undefined][]) if (xs?.length) v[k] = median(xs);
  return { values: v, samples: values };
}

function push<K extends string>(m: Partial<Record<K, number[]>>, t: K, x: number): void {
  (m[t] ??= []).push(x);
}

// ---- 1. small GETs ---------------------------------------------------------------------------

async function runLoopSection(
  env: Env,
  proxies: Proxy[],
  specs: { key: string; path: string; method?: 'GET' | 'POST'; headers: string[]; body?: Buffer; concurrency: number }[],
): Promise<Record<string, Record<TargetName, LoopResult[]>>> {
  const out: Record<string, Record<TargetName, LoopResult[]>> = {};
  const targets: Target[] = [env.direct, ...proxies.map(proxyTarget)];
  for (const spec of specs) {
    const byTarget = (out[spec.key] = {} as Record<TargetName, LoopResult[]>);
    for (let r = 0; r < opts.reps; r++) {
      for (const t of rotate(targets, r)) {
        const proxy = proxies.find((p) => p.kind === t.name);
        // CPU the proxy's process tree used inside the measured window (all threads): per
        // request and per MB it is the fair comparison on a machine whose cores the client and
        // the upstream share; in % of one core because Go spreads a stream over cores.
        let cpu0 = 0;
        let cpu1 = 0;
        let w0 = 0;
        let w1 = 0;
        const onWindow = (phase: 'start' | 'end'): void => {
          if (!proxy) return;
          if (phase === 'start') {
            cpu0 = treeCpu(proxy.pid);
            w0 = performance.now();
          } else {
            cpu1 = treeCpu(proxy.pid);
            w1 = performance.now();
          }
        };
        const res = await closedLoop(t, { ...spec, warmupMs: opts.warmupMs, durationMs: opts.durationMs, onWindow });
        if (proxy) {
          const cpuSec = (cpu1 - cpu0) / CLK_TCK;
          res.cpuPct = (cpuSec / ((w1 - w0) / 1000)) * 100;
          res.cpuUsPerReq = res.requests > 0 ? (cpuSec * 1e6) / res.requests : NaN;
          res.cpuMsPerMB = res.bytes > 0 ? (cpuSec * 1e3) / (res.bytes / 1e6) : NaN;
        }
        // Which protocol and how many connections the proxy used upstream for this load.
        const up = proxy ? upstreamConnsOf(proxy.pid, env.upstream.port, await env.upstream.stats()) : undefined;
        (byTarget[t.name] ??= []).push({ ...res, ...(up ? { upstream: up } : {}) } as LoopResult);
        const bad = res.errors + Object.values(res.badStatus).reduce((a, b) => a + b, 0);
        log(
          `  ${spec.key.padEnd(18)} r${r + 1} ${t.name.padEnd(7)} ${fmt(res.rps, 'int').padStart(7)} req/s ${fmt(res.mbps, 'f1').padStart(8)} MB/s ` +
            `p50 ${fmt(res.p50us, 'int')} µs p99 ${fmt(res.p99us, 'int')} µs${bad ? ` errors ${bad} (${res.firstError ?? JSON.stringify(res.badStatus)})` : ''}` +
            (up ? ` upstream ${JSON.stringify(up.alpn)}` : '') +
            (res.cpuPct !== undefined ? ` CPU ${res.cpuPct.toFixed(0)}% ${res.cpuUsPerReq!.toFixed(0)} µs/req` : ''),
        );
        await sleep(150);
      }
    }
  }
  return out;
}

function protocolsFrom(results: Record<string, Record<TargetName, LoopResult[]>>): Record<string, { alpn: Record<string, number>; maxConns: number }> {
  const p: Record<string, { alpn: Record<string, number>; maxConns: number }> = {};
  for (const byTarget of Object.values(results)) {
    for (const [t, list] of Object.entries(byTarget)) {
      for (const r of list as (LoopResult & { upstream?: { count: number; alpn: Record<string, number> } })[]) {
        if (!r.upstream) continue;
        const e = (p[t] ??= { alpn: {}, maxConns: 0 });
        for (const [a, n] of Object.entries(r.upstream.alpn)) e.alpn[a] = Math.max(e.alpn[a] ?? 0, n);
        e.maxConns = Math.max(e.maxConns, r.upstream.count);
      }
    }
  }
  return p;
}

async function smallSection(env: Env, proxies: Proxy[]): Promise<Section> {
  log(`\n[1/5] small GETs (${SMALL_PATH}), ${opts.reps} x ${opts.durationMs / 1000}s per target and concurrency`);
  // Fresh processes: give V8's JIT (and the connection pools) a few seconds under load before
  // anything is recorded, as a proxy that has been running for a while would have had.
  for (const t of [env.direct, ...proxies.map(proxyTarget)]) {
    await closedLoop(t, { path: SMALL_PATH, headers: CLIENT_HEADERS, concurrency: 16, warmupMs: 0, durationMs: quick ? 1000 : 3000 });
  }
  const specs = opts.concurrency.map((c) => ({ key: `small c=${c}`, path: SMALL_PATH, headers: CLIENT_HEADERS, concurrency: c }));
  const res = await runLoopSection(env, proxies, specs);
  raw['small'] = res;
  const rows: Row[] = [];
  const k = env.kubectl !== undefined;
  for (const c of opts.concurrency) {
    const byT = res[`small c=${c}`]!;
    const rps: Partial<Record<TargetName, number[]>> = {};
    const p50: Partial<Record<TargetName, number[]>> = {};
    const p99: Partial<Record<TargetName, number[]>> = {};
    const added: Partial<Record<TargetName, number[]>> = {};
    const cpu: Partial<Record<TargetName, number[]>> = {};
    for (const [t, list] of Object.entries(byT) as [TargetName, LoopResult[]][]) {
      list.forEach((r, i) => {
        push(rps, t, r.rps);
        push(p50, t, r.p50us);
        push(p99, t, r.p99us);
        if (r.cpuUsPerReq !== undefined) push(cpu, t, r.cpuUsPerReq);
        // Added latency: the proxy's p50 minus the direct p50 of the same repetition.
        const d = byT.direct?.[i];
        if (t !== 'direct' && d) push(added, t, r.p50us - d.p50us);
      });
    }
    const cCpu = collect(cpu);
    rows.push({
      metric: `proxy CPU µs per request, ${c} conn`,
      fmt: 'int',
      ...cCpu,
      target: '≤ 0.7x kubectl',
      met: k ? cCpu.values.kproxy! <= 0.7 * cCpu.values.kubectl! : undefined,
    });
    rows.push({ metric: `req/s, ${c} conn`, fmt: 'int', ...collect(rps) });
    rows.push({ metric: `p50 latency µs, ${c} conn`, fmt: 'int', ...collect(p50) });
    const cAdded = collect(added);
    rows.push({
      metric: `p50 added over direct µs, ${c} conn`,
      fmt: 'int',
      ...cAdded,
      target: '≤ 0.8x kubectl',
      met: k ? cAdded.values.kproxy! <= 0.8 * cAdded.values.kubectl! : undefined,
    });
    rows.push({ metric: `p99 latency µs, ${c} conn`, fmt: 'int', ...collect(p99) });
  }
  raw['protocols'] = { ...(raw['protocols'] as object), small: protocolsFrom(res) };
  return {
    title: '1. Small GETs (PodList, 1 KB)',
    rows,
    notes: [
      `Closed loop, one request per connection at a time (undici Pool, pipelining 1), body read in full; ${opts.reps} interleaved runs of ${opts.durationMs / 1000} s after ${opts.warmupMs / 1000} s warm-up; medians. Each target first had ${quick ? 1 : 3} s of unrecorded load (JIT warm-up).`,
      '"p50 added over direct": the proxy\'s p50 minus the direct p50 of the same repetition (median over repetitions).',
      '"Proxy CPU per request": user + system CPU of the proxy\'s process tree (/proc/<pid>/stat of the proxy and its descendants, all threads) inside the measured window, divided by the requests completed in it. The fair comparison on a machine whose cores the client and the upstream share.',
    ],
  };
}

// ---- 2. large bodies -------------------------------------------------------------------------

async function largeSection(env: Env, proxies: Proxy[]): Promise<Section> {
  const c = opts.largeConcurrency;
  log(`\n[2/5] large bodies, ${c} connections, ${opts.reps} x ${opts.durationMs / 1000}s`);
  const upload = Buffer.alloc(UPLOAD_BYTES, 0x61);
  const specs = [
    { key: 'GET 1 MiB', path: `/api/v1/pods?bytes=${MiB}`, headers: [...CLIENT_HEADERS, ...IDENTITY], concurrency: c },
    { key: 'GET 32 MiB', path: `/api/v1/pods?bytes=${32 * MiB}`, headers: [...CLIENT_HEADERS, ...IDENTITY], concurrency: c },
    { key: 'POST 20 MB', path: UPLOAD_PATH, method: 'POST' as const, headers: [...CLIENT_HEADERS, 'content-type', 'application/json'], body: upload, concurrency: c },
    // As a real client sees a big list: no Accept-Encoding, so both proxies ask for gzip and
    // decode it; kube-apiserver gzips bodies >= 128 KiB. The direct client gets identity.
    { key: 'GET 1 MiB gzip', path: `/api/v1/pods?bytes=${MiB}`, headers: CLIENT_HEADERS, concurrency: c },
  ];
  const res = await runLoopSection(env, proxies, specs);
  raw['large'] = res;
  const label: Record<string, string> = {
    'GET 1 MiB': 'GET 1 MiB list, MB/s',
    'GET 32 MiB': 'GET 32 MiB list, MB/s',
    'POST 20 MB': 'POST 20 MB upload, MB/s',
    'GET 1 MiB gzip': 'GET 1 MiB list, upstream gzip, MB/s (decoded)',
  };
  const rows: Row[] = [];
  const k = env.kubectl !== undefined;
  for (const s of specs) {
    const m: Partial<Record<TargetName, number[]>> = {};
    const cpu: Partial<Record<TargetName, number[]>> = {};
    for (const [t, list] of Object.entries(res[s.key]!) as [TargetName, LoopResult[]][]) {
      for (const r of list) {
        push(m, t, r.mbps);
        if (r.cpuMsPerMB !== undefined) push(cpu, t, r.cpuMsPerMB);
      }
    }
    const v = collect(m);
    const vCpu = collect(cpu);
    const info = s.key === 'GET 1 MiB gzip';
    rows.push({
      metric: label[s.key]!,
      fmt: 'int',
      ...v,
      target: info ? 'info (not in the issue)' : '≥ 1.0x kubectl',
      met: info || !k ? undefined : v.values.kproxy! >= v.values.kubectl!,
    });
    rows.push({
      metric: `${label[s.key]!.replace(/, MB\/s.*$/, '')}: proxy CPU ms per MB`,
      fmt: 'f2',
      ...vCpu,
      target: info ? undefined : '≤ kubectl',
      met: info || !k ? undefined : vCpu.values.kproxy! <= vCpu.values.kubectl!,
    });
  }
  raw['protocols'] = { ...(raw['protocols'] as object), large: protocolsFrom(res) };
  return {
    title: `2. Large bodies (${c} connections)`,
    rows,
    notes: [
      'MB = 10^6 bytes of body (decoded bytes for the gzip row). GET rows send `Accept-Encoding: identity`, so both proxies relay the body as is.',
      'The gzip row is extra: the client sends no Accept-Encoding, both proxies request gzip and decode it (kube-apiserver compresses bodies >= 128 KiB at level 1); the direct client receives identity, so its ratio is not like-for-like.',
    ],
  };
}

// ---- 3. watches ------------------------------------------------------------------------------

async function watchSection(env: Env): Promise<Section> {
  const n = opts.watches;
  log(`\n[3/5] ${n} watches opened together, ${opts.watchRate} event/s each, ${opts.reps} x ${opts.watchDurationMs / 1000}s`);
  // 'kproxy-h1' is kproxy with --upstream-http2=false (the HTTP/1.1 path): its rows follow
  // kproxy's, in kproxy's column, for information.
  type Kind = TargetName | 'kproxy-h1';
  const kinds: Kind[] = env.kubectl ? ['direct', 'kubectl', 'kproxy', 'kproxy-h1'] : ['direct', 'kproxy', 'kproxy-h1'];
  const first50: Partial<Record<Kind, number[]>> = {};
  const first99: Partial<Record<Kind, number[]>> = {};
  const p50: Partial<Record<Kind, number[]>> = {};
  const p99: Partial<Record<Kind, number[]>> = {};
  const max: Partial<Record<Kind, number[]>> = {};
  const rssPeak: Partial<Record<Kind, number[]>> = {};
  const rssIdle: Partial<Record<Kind, number[]>> = {};
  const upConns: Partial<Record<Kind, number[]>> = {};
  const details: unknown[] = [];
  const alpnSeen: Record<string, Record<string, number>> = {};
  for (let r = 0; r < opts.reps; r++) {
    for (const t of rotate(kinds, r)) {
      // A fresh proxy per run, so its memory is that of the watches and not of earlier tests.
      const proxy =
        t === 'direct' ? undefined : await startProxy(t === 'kproxy-h1' ? cmdFor(env, 'kproxy', [], ['--upstream-http2=false']) : cmdFor(env, t));
      const target = proxy ? proxyTarget(proxy) : env.direct;
      const before = proxy ? rssMiB(proxy.pid) : NaN;
      await env.upstream.setRate(opts.watchRate);
      const t0 = performance.now();
      let ws: Awaited<ReturnType<typeof openWatches>>;
      let peak = before;
      const sampler = setInterval(() => {
        if (proxy) peak = Math.max(peak, rssMiB(proxy.pid));
      }, 250);
      try {
        // All at once, as informers starting together or a dashboard opening do.
        ws = await openWatches(target, WATCH_PATH, n, n, 120_000);
      } catch (err) {
        clearInterval(sampler);
        // Record the failure and go on with the other targets.
        log(`  watches r${r + 1} ${t.padEnd(9)} FAILED: ${(err as Error).message}`);
        details.push({ target: t, rep: r + 1, error: (err as Error).message, rssMB: proxy ? (rssMiB(proxy.pid) * 1048576) / 1e6 : undefined });
        await env.upstream.setRate(0);
        await proxy?.stop();
        continue;
      }
      const openMs = performance.now() - t0;
      // Every watch's first event (the ADDED sent as it opens) has arrived before the window.
      await until(() => ws.firstEvents().length >= n, 30_000, 50);
      await sleep(1000);
      await env.upstream.stats(); // resets the upstream's lag meter
      ws.record(true);
      const e0 = ws.events();
      await sleep(opts.watchDurationMs);
      clearInterval(sampler);
      if (proxy) peak = Math.max(peak, rssMiB(proxy.pid));
      ws.record(false);
      const events = ws.events() - e0;
      const st = await env.upstream.stats();
      const up = proxy ? upstreamConnsOf(proxy.pid, env.upstream.port, st) : undefined;
      const d = ws.delays().sorted();
      const f = ws.firstEvents().sorted();
      const res = {
        target: t,
        rep: r + 1,
        openMs: Math.round(openMs),
        open: ws.open(),
        errors: ws.errors(),
        firstError: ws.firstError(),
        events,
        expected: Math.round(n * opts.watchRate * (opts.watchDurationMs / 1000)),
        firstEventP50ms: percentile(f, 50),
        firstEventP99ms: percentile(f, 99),
        firstEventMaxMs: percentile(f, 100),
        p50ms: percentile(d, 50),
        p99ms: percentile(d, 99),
        maxms: percentile(d, 100),
        rssBeforeMB: (before * 1048576) / 1e6,
        rssPeakMB: (peak * 1048576) / 1e6,
        upstream: up,
        upstreamMaxLagMs: st.maxLagMs,
        upstreamH2Streams: st.h2StreamsOpen,
      };
      details.push(res);
      push(first50, t, res.firstEventP50ms);
      push(first99, t, res.firstEventP99ms);
      push(p50, t, res.p50ms);
      push(p99, t, res.p99ms);
      push(max, t, res.maxms);
      if (proxy) {
        push(rssPeak, t, res.rssPeakMB);
        push(rssIdle, t, res.rssBeforeMB);
        push(upConns, t, up!.count);
        for (const [a, k] of Object.entries(up!.alpn)) (alpnSeen[t] ??= {})[a] = Math.max(alpnSeen[t]?.[a] ?? 0, k);
      }
      log(
        `  watches r${r + 1} ${t.padEnd(9)} open ${res.open}/${n} in ${res.openMs} ms, first event p50 ${res.firstEventP50ms.toFixed(1)} p99 ${res.firstEventP99ms.toFixed(1)} ms, ` +
          `events ${events}/${res.expected}, delay p50 ${res.p50ms.toFixed(2)} p99 ${res.p99ms.toFixed(2)} max ${res.maxms.toFixed(1)} ms` +
          (proxy ? `, RSS ${res.rssPeakMB.toFixed(1)} MB, upstream ${JSON.stringify(up!.alpn)}` : '') +
          `, upstream lag ${st.maxLagMs} ms${res.errors ? `, errors ${res.errors} (${res.firstError})` : ''}`,
      );
      await env.upstream.setRate(0);
      await ws.close();
      await proxy?.stop();
      await sleep(300);
    }
  }
  raw['watch'] = details;
  raw['protocols'] = { ...(raw['protocols'] as object), watch: alpnSeen };
  // Kind-keyed maps split into the plain table's values and the --upstream-http2=false variant's.
  const plain = (m: Partial<Record<Kind, number[]>>) => collect({ direct: m.direct, kubectl: m.kubectl, kproxy: m.kproxy } as Partial<Record<TargetName, number[]>>);
  const h1 = (m: Partial<Record<Kind, number[]>>) => collect({ kubectl: m.kubectl, kproxy: m['kproxy-h1'] } as Partial<Record<TargetName, number[]>>);
  const k = env.kubectl !== undefined;
  const vFirst = plain(first99);
  const vP99 = plain(p99);
  const vRss = plain(rssPeak);
  const vConns = plain(upConns);
  const maxConns = Math.ceil(n / H2_STREAMS) + 1;
  return {
    title: `3. ${n.toLocaleString('en-US')} watches opened together (${opts.watchRate} event/s each)`,
    rows: [
      { metric: 'request → first event p50, ms', fmt: 'f1', ...plain(first50) },
      { metric: 'request → first event p99, ms', fmt: 'f1', ...vFirst, target: '≤ 2x kubectl', met: k ? vFirst.values.kproxy! <= 2 * vFirst.values.kubectl! : undefined },
      { metric: 'event delay p50, ms', fmt: 'f2', ...plain(p50) },
      { metric: 'event delay p99, ms', fmt: 'f2', ...vP99, target: '≤ kubectl', met: k ? vP99.values.kproxy! <= vP99.values.kubectl! : undefined },
      { metric: 'event delay max, ms', fmt: 'f1', ...plain(max) },
      { metric: 'proxy RSS with the watches open (peak), MB', fmt: 'f1', ...vRss, target: '≤ 1.1x kubectl', met: k ? vRss.values.kproxy! <= 1.1 * vRss.values.kubectl! : undefined },
      { metric: 'proxy RSS before the watches, MB', fmt: 'f1', ...plain(rssIdle) },
      { metric: 'upstream connections used by the proxy', fmt: 'int', ...vConns, target: `≤ ${maxConns} (ceil(${n} / ${H2_STREAMS} streams) + 1)`, met: vConns.values.kproxy! <= maxConns },
      { metric: '*with --upstream-http2=false:* request → first event p99, ms', fmt: 'f1', ...h1(first99) },
      { metric: '*with --upstream-http2=false:* event delay p99, ms', fmt: 'f2', ...h1(p99) },
      { metric: '*with --upstream-http2=false:* proxy RSS (peak), MB', fmt: 'f1', ...h1(rssPeak) },
      { metric: '*with --upstream-http2=false:* upstream connections', fmt: 'int', ...h1(upConns) },
    ],
    notes: [
      `All ${n} watches are dispatched at once by one client (one connection each to the proxy). "Request → first event": from dispatch to the arrival of the watch's first event (the upstream sends ADDED as the watch opens).`,
      'Event delay = client receive time - upstream write time, both CLOCK_MONOTONIC (process.hrtime) on the same machine; direct = the client reading the upstream itself (one TLS connection per watch).',
      `A fresh proxy per run; RSS from /proc/<pid>/status VmRSS sampled every 250 ms from the first dispatch; MB = 10^6 bytes. ${opts.reps} interleaved runs of ${opts.watchDurationMs / 1000} s, 1 s after every watch had its first event. The upstream allows ${H2_STREAMS} streams per HTTP/2 connection (kube-apiserver's default).`,
    ],
  };
}

// ---- 4. start-up -----------------------------------------------------------------------------

async function startupSection(env: Env): Promise<Section> {
  log(`\n[4/5] start-up and idle memory, ${opts.startupReps} starts per proxy`);
  // 'floor' is an empty `node -e` that prints the same line: what Node needs before any code.
  const kinds: ('floor' | 'kubectl' | 'kproxy')[] = env.kubectl ? ['floor', 'kubectl', 'kproxy'] : ['floor', 'kproxy'];
  const floorCmd: ProxyCommand = { kind: 'kproxy', file: process.execPath, args: ['-e', "process.stdout.write('Starting to serve on 127.0.0.1:1\\n')"] };
  const ready: Partial<Record<TargetName, number[]>> = {};
  const fresh: Partial<Record<TargetName, number[]>> = {};
  const used: Partial<Record<TargetName, number[]>> = {};
  const details: unknown[] = [];
  for (let r = 0; r < opts.startupReps; r++) {
    for (const k of rotate(kinds, r)) {
      if (k === 'floor') {
        const p = await startProxy(floorCmd);
        await p.stop();
        push(ready, 'direct', p.readyMs);
        details.push({ target: 'node -e', readyMs: p.readyMs });
        log(`  start r${r + 1} node -e  first line in ${p.readyMs.toFixed(0)} ms`);
        continue;
      }
      const p = await startProxy(cmdFor(env, k));
      await sleep(1000);
      const a = (rssMiB(p.pid) * 1048576) / 1e6;
      const status = await getOnce(proxyTarget(p), SMALL_PATH);
      await sleep(1000);
      const b = (rssMiB(p.pid) * 1048576) / 1e6;
      await p.stop();
      push(ready, k, p.readyMs);
      push(fresh, k, a);
      push(used, k, b);
      details.push({ target: k, readyMs: p.readyMs, rssFreshMB: a, rssAfterOneRequestMB: b, status });
      log(`  start r${r + 1} ${k.padEnd(7)} ready in ${p.readyMs.toFixed(0)} ms, RSS ${a.toFixed(1)} MB idle, ${b.toFixed(1)} MB after one request (${status})`);
    }
  }
  raw['startup'] = details;
  const vReady = collect(ready);
  const vFresh = collect(fresh);
  const vUsed = collect(used);
  return {
    title: '4. Start-up and idle memory',
    rows: [
      {
        metric: 'spawn to `Starting to serve on`, ms (direct column: an empty `node -e`)',
        fmt: 'int',
        ...vReady,
        target: '≤ node -e + 15 ms',
        met: vReady.values.kproxy! <= vReady.values.direct! + 15,
      },
      { metric: 'idle RSS 1 s after start, MB', fmt: 'f1', ...vFresh, target: '≤ 50 MB', met: vFresh.values.kproxy! <= 50 },
      { metric: 'idle RSS 1 s after one request, MB', fmt: 'f1', ...vUsed, target: '≤ 50 MB', met: vUsed.values.kproxy! <= 50 },
    ],
    notes: [
      `${opts.startupReps} interleaved starts per process (median); each proxy is a fresh process (\`node bin/kproxy\` / \`kubectl proxy\`), --port=0. The floor is \`node -e\` printing the same line: Node's own start-up on this machine.`,
    ],
  };
}

// ---- 5. abort storms -------------------------------------------------------------------------

interface Counts {
  fds: number;
  sockets: number;
  /** The proxy's TCP connections to the upstream port, any state (from /proc/net/tcp). */
  upstreamTcp: number;
  /** TLS connections the upstream has open from this proxy. */
  upstreamSide: number;
}

async function counts(env: Env, p: Proxy): Promise<Counts> {
  const f = fdStats(p.pid);
  const tcp = tcpPortsOf(f.inodes).filter((c) => c.remote === env.upstream.port);
  const up = upstreamConnsOf(p.pid, env.upstream.port, await env.upstream.stats());
  return { fds: f.fds, sockets: f.sockets, upstreamTcp: tcp.length, upstreamSide: up.count };
}

const STORMS = 4;
const SETTLE_TARGET_MS = 5000;
const RSS_LATE_MS = 15_000;

interface StormResult {
  rate: number;
  aborted: number;
  completed: number;
  failed: number;
  ms: number;
  atEnd: Counts;
  settled: Counts;
  /** How long the counts took to get back to the baseline; undefined: not within --settle. */
  settledMs?: number;
  /** RSS 5 s and 15 s after the storm, MB (V8's memory reducer starts 8 s after allocation slows). */
  rssMB: number;
  rssLateMB: number;
  firstError?: string;
}

async function stormSection(env: Env): Promise<{ table: string; verdicts: { what: string; met: boolean | undefined }[] }> {
  log(`\n[5/5] ${STORMS} storms of ${opts.aborts} watches cut after their first bytes (32 at a time), one proxy instance each`);
  const kinds: ('kubectl' | 'kproxy')[] = env.kubectl ? ['kubectl', 'kproxy'] : ['kproxy'];
  const per: Record<string, { before: Counts; idleMB: number; storms: StormResult[] }> = {};
  for (const k of kinds) {
    const p = await startProxy(cmdFor(env, k));
    const t = proxyTarget(p);
    // Baseline: the proxy has served one request of each kind (a GET, and a watch cut after its
    // first bytes), so it holds the upstream connections its pools keep.
    await getOnce(t, SMALL_PATH);
    await abortStorm(t, [WATCH_PATH], 1, 1);
    let before = await counts(env, p);
    await until(async () => {
      const c = await counts(env, p);
      const same = c.fds === before.fds && c.sockets === before.sockets;
      before = c;
      return same;
    }, 5000, 300);
    const idleMB = (rssMiB(p.pid) * 1048576) / 1e6;
    const storms: StormResult[] = [];
    for (let i = 0; i < STORMS; i++) {
      const storm = await abortStorm(t, [WATCH_PATH], opts.aborts, 32);
      const stormEnd = performance.now();
      const atEnd = await counts(env, p);
      let settled = atEnd;
      const settledMs = await until(async () => {
        settled = await counts(env, p);
        return settled.fds <= before.fds && settled.sockets <= before.sockets && settled.upstreamTcp <= before.upstreamTcp && settled.upstreamSide <= before.upstreamSide;
      }, opts.settleMs, 250);
      const wait = stormEnd + SETTLE_TARGET_MS - performance.now();
      if (wait > 0) await sleep(wait);
      const rssMB = (rssMiB(p.pid) * 1048576) / 1e6;
      const late = stormEnd + RSS_LATE_MS - performance.now();
      if (late > 0) await sleep(late);
      const rssLateMB = (rssMiB(p.pid) * 1048576) / 1e6;
      const r: StormResult = { ...storm, rate: storm.aborted / (storm.ms / 1000), atEnd, settled, settledMs, rssMB, rssLateMB };
      storms.push(r);
      log(
        `  ${k.padEnd(7)} storm ${i + 1}: ${storm.aborted} aborted, ${storm.completed} completed, ${storm.failed} failed in ${(storm.ms / 1000).toFixed(1)} s (${r.rate.toFixed(0)}/s); ` +
          `fds ${before.fds} -> ${atEnd.fds} -> ${settled.fds}, upstream ${before.upstreamTcp} -> ${atEnd.upstreamTcp} -> ${settled.upstreamTcp}; ` +
          `${settledMs === undefined ? 'did NOT settle' : `settled in ${(settledMs / 1000).toFixed(1)} s`}; RSS ${rssMB.toFixed(1)} / ${rssLateMB.toFixed(1)} MB after 5 / 15 s (idle ${idleMB.toFixed(1)})` +
          (storm.firstError ? ` (${storm.firstError})` : ''),
      );
    }
    // The proxy must still work afterwards.
    const status = await getOnce(t, SMALL_PATH);
    if (status !== 200) log(`  ${k}: after the storms a GET answered ${status}`);
    per[k] = { before, idleMB, storms };
    await p.stop();
  }
  raw['storms'] = per;
  const cell = (k: string, f: (s: StormResult, i: number) => string): string => (per[k] ? per[k]!.storms.map(f).join(' / ') : '—');
  const rate = (k: string): number => median(per[k]?.storms.map((s) => s.rate) ?? []);
  const kp = per['kproxy'];
  const settledIn = (s: StormResult): string => (s.settledMs === undefined ? '**no**' : `${(s.settledMs / 1000).toFixed(1)} s`);
  const rateMet = env.kubectl ? rate('kproxy') >= rate('kubectl') : undefined;
  const fdsMet = kp ? kp.storms.every((s) => s.settledMs !== undefined && s.settledMs <= SETTLE_TARGET_MS) : undefined;
  const last = kp?.storms[kp.storms.length - 1];
  const rssMet = kp && last ? last.rssMB <= kp.idleMB + 30 : undefined;
  const rssLateMet = kp && last ? last.rssLateMB <= kp.idleMB + 30 : undefined;
  const ratio = (a: number, b: number): string => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}x` : '—');
  const yes = (m: boolean | undefined): string => (m === undefined ? 'n/a' : m ? 'yes' : '**no**');
  const rows: string[][] = [];
  const both = (label: string, f: (k: string) => string, r = '', target = '', met = ''): void => {
    rows.push([label, ...kinds.map(f), r, target, met]);
  };
  both('aborted watches per second, storm 1 / 2 / 3 / 4', (k) => cell(k, (s) => fmt(s.rate, 'int')), ratio(rate('kproxy'), rate('kubectl')), '≥ kubectl (median)', yes(rateMet));
  both('file descriptors: baseline → right after each storm', (k) => `${per[k]?.before.fds} → ${cell(k, (s) => String(s.atEnd.fds))}`);
  both('back to the baseline (descriptors, sockets, upstream connections) after', (k) => cell(k, settledIn), '', `≤ ${SETTLE_TARGET_MS / 1000} s after each`, yes(fdsMet));
  both('upstream TCP connections: baseline → right after each storm', (k) => `${per[k]?.before.upstreamTcp} → ${cell(k, (s) => String(s.atEnd.upstreamTcp))}`);
  both(
    'RSS, MB: idle → 5 s after each storm',
    (k) => `${per[k]?.idleMB.toFixed(1)} → ${cell(k, (s) => s.rssMB.toFixed(1))}`,
    '',
    '4th ≤ idle + 30 MB',
    yes(rssMet),
  );
  both(
    'RSS, MB: idle → 15 s after each storm',
    (k) => `${per[k]?.idleMB.toFixed(1)} → ${cell(k, (s) => s.rssLateMB.toFixed(1))}`,
    '',
    '4th ≤ idle + 30 MB',
    yes(rssLateMet),
  );
  both('completed before the cut / failed', (k) => cell(k, (s) => `${s.completed}/${s.failed}`));
  const header = ['metric', ...kinds.map((k) => (k === 'kubectl' ? 'kubectl proxy' : 'kproxy')), 'kproxy / kubectl', 'target', 'met'];
  const table = [
    `### 5. ${STORMS} storms of ${opts.aborts.toLocaleString('en-US')} aborted watches`,
    '',
    simpleTable(header, rows),
    '',
    `- Each storm: ${opts.aborts} watches, 32 at a time, each cut by its client as soon as the first body bytes arrive (which closes its connection to the proxy). ${STORMS} storms in a row on one proxy instance; baseline: a fresh proxy after one GET and one watch cut after its first bytes (so it holds the upstream connections its pools keep: one for kubectl, one HTTP/1.1 and one HTTP/2 for kproxy). Counts polled every 250 ms after each storm until descriptors, sockets and upstream connections (both ends) are at or below the baseline; RSS read 5 s and 15 s after the storm (V8's memory reducer, which returns a Node heap's free pages, starts 8 s after allocation slows).`,
  ].join('\n');
  return {
    table,
    verdicts: [
      { what: `${opts.aborts} aborted watches x ${STORMS}: rate (≥ kubectl)`, met: rateMet },
      { what: `${opts.aborts} aborted watches x ${STORMS}: back to the baseline within ${SETTLE_TARGET_MS / 1000} s after each storm`, met: fdsMet },
      { what: `${opts.aborts} aborted watches x ${STORMS}: RSS 5 s after the fourth ≤ idle + 30 MB`, met: rssMet },
      { what: `${opts.aborts} aborted watches x ${STORMS}: RSS 15 s after the fourth ≤ idle + 30 MB`, met: rssLateMet },
    ],
  };
}

// ---- profile mode ----------------------------------------------------------------------------

async function profileMode(env: Env): Promise<void> {
  const dir = argv['profile-dir'] ?? '/tmp/kprof';
  mkdirSync(dir, { recursive: true });
  const dur = num(argv['profile-duration'], 15) * 1000;
  const c = num(argv['profile-concurrency'], 16);
  const large = argv['profile-load'] === 'large';
  const what = large ? '32 MiB GETs' : 'small GETs';
  const p = await startProxy(cmdFor(env, 'kproxy', ['--cpu-prof', `--cpu-prof-dir=${dir}`]));
  log(`kproxy pid ${p.pid} with --cpu-prof (${dir}); ${what}, ${c} connections, ${dur / 1000} s`);
  const res = await closedLoop(proxyTarget(p), {
    path: large ? `/api/v1/pods?bytes=${32 * MiB}` : SMALL_PATH,
    headers: large ? [...CLIENT_HEADERS, ...IDENTITY] : CLIENT_HEADERS,
    concurrency: c,
    warmupMs: 1000,
    durationMs: dur,
  });
  log(`  ${fmt(res.rps, 'int')} req/s, p50 ${fmt(res.p50us, 'int')} µs, p99 ${fmt(res.p99us, 'int')} µs (with the profiler attached)`);
  const t0 = Date.now();
  await p.stop('SIGINT');
  const file = readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile') && f.includes(`.${p.pid}.`))
    .map((f) => join(dir, f))
    .filter((f) => statSync(f).mtimeMs >= t0 - dur - 60_000)[0];
  if (!file) throw new Error(`no .cpuprofile for pid ${p.pid} in ${dir}`);
  const s = summariseProfile(file, 30);
  const out = [
    `## kproxy CPU profile: ${what}, ${c} connections, ${dur / 1000} s (${fmt(res.rps, 'int')} req/s${large ? `, ${fmt(res.mbps, 'f1')} MB/s` : ''} under the profiler)`,
    '',
    `Profile: ${file}; ${(s.totalMs / 1000).toFixed(1)} s sampled, ${s.busyPct.toFixed(0)}% busy. Percentages are of busy (non-idle) time.`,
    '',
    simpleTable(['area', 'self ms', '% busy'], s.areas.map((a) => [a.area, a.ms.toFixed(0), a.pct.toFixed(1)])),
    '',
    simpleTable(['function (self time)', 'where', 'area', 'self ms', '% busy'], s.functions.map((f) => [`\`${f.name}\``, f.where, f.area, f.ms.toFixed(0), f.pct.toFixed(1)])),
    '',
    'Heaviest native functions, by nearest JavaScript caller:',
    '',
    simpleTable(
      ['native function', 'self ms', 'callers (ms)'],
      s.nativeCallers.map((n) => [`\`${n.name}\``, n.ms.toFixed(0), n.callers.map((c) => `${c.caller} (${c.ms.toFixed(0)})`).join('; ')]),
    ),
    '',
    'kproxy functions, inclusive time (self + everything they call):',
    '',
    simpleTable(['function', 'where', 'incl ms', '% busy'], s.kproxyInclusive.slice(0, 15).map((f) => [`\`${f.name}\``, f.where, f.ms.toFixed(0), f.pct.toFixed(1)])),
    '',
  ].join('\n');
  process.stdout.write(out);
}

// ---- main ------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const started = new Date();
  const load0 = loadavg();
  const env = await setup();
  try {
    if (argv.profile) {
      await profileMode(env);
      return;
    }
    const kv = env.kubectl ? await kubectlVersion(env.kubectl) : undefined;
    const machine = {
      nproc: cpus().length,
      cpu: (/model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpus()[0]?.model ?? '?').trim(),
      kernel: release(),
      memGiB: Math.round(totalmem() / 2 ** 30),
      node: process.version,
      kubectl: env.kubectl ? `${kv ?? '?'} (${env.kubectl})` : 'not found: kproxy-only run',
      undici: (JSON.parse(readFileSync(join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'node_modules', 'undici', 'package.json'), 'utf8')) as { version: string }).version,
      loadavgAtStart: load0.map((x) => x.toFixed(2)).join(' '),
    };
    const git = (args: string[]): string => {
      try {
        return execFileSync('git', args, { cwd: repoRoot(), encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
      } catch {
        return '';
      }
    };
    const dirty = git(['status', '--porcelain', '--', 'src']).split('\n').filter(Boolean).length;
    const kproxyVersion = `${git(['rev-parse', '--short', 'HEAD']) || 'unknown commit'}${dirty ? ` + ${dirty} uncommitted change(s) in src/` : ''}`;
    raw['machine'] = machine;
    raw['kproxy'] = kproxyVersion;
    raw['options'] = { ...opts, sections: [...opts.sections], argv: process.argv.slice(2) };
    log(`kproxy benchmark: upstream pid ${env.upstream.pid} on :${env.upstream.port}; kubectl: ${machine.kubectl}; load ${machine.loadavgAtStart}`);

    // CPU used by other work while one section ran: the machine's busy time minus ours (this
    // process, reaped children, the upstream, and the live proxies given).
    const ourCpu = (pids: number[]): number => processCpu('self', true) + processCpu(env.upstream.pid) + pids.reduce((a, p) => a + processCpu(p), 0);
    const measured = async <T extends { notes: string[] }>(pids: () => number[], run: () => Promise<T>): Promise<T> => {
      const m0 = machineCpu();
      const o0 = ourCpu(pids());
      const out = await run();
      const m1 = machineCpu();
      const o1 = ourCpu(pids());
      const other = Math.max(0, (100 * (m1.busy - m0.busy - (o1 - o0))) / Math.max(1, m1.total - m0.total));
      out.notes.push(`Other work on the machine while this section ran: ${other.toFixed(0)}% of the CPUs${other > 10 ? ' (**shared machine: noisy**)' : ''}.`);
      return out;
    };
    // Printed in the issue's order (1-5) whatever order they ran in.
    const sections: { n: number; text: string; verdicts: { what: string; met: boolean | undefined }[] }[] = [];
    const addSection = (s: Section): void => {
      const verdicts: { what: string; met: boolean | undefined }[] = [];
      for (const r of s.rows) if (r.target && !r.target.startsWith('info')) verdicts.push({ what: `${s.title.replace(/^\d+\.\s*/, '')}: ${r.metric} (${r.target})`, met: r.met });
      sections.push({ n: Number(/^(\d+)/.exec(s.title)?.[1] ?? 9), text: sectionTable(s, !!env.kubectl), verdicts });
      (raw['tables'] as Section[] | undefined) ?? (raw['tables'] = []);
      (raw['tables'] as Section[]).push(s);
    };
    // Other work on the machine skews everything: measure the CPU it took during the run (all
    // CPU time minus this process's, its reaped children's and the upstream's).
    const cpu0 = machineCpu();
    const ours0 = processCpu('self', true) + processCpu(env.upstream.pid);
    const loads: number[] = [load0[0]!];
    const loadTimer = setInterval(() => loads.push(loadavg()[0]!), 5000);
    loadTimer.unref();

    const none = (): number[] => [];
    if (opts.sections.has('startup')) addSection(await measured(none, () => startupSection(env)));
    if (opts.sections.has('small') || opts.sections.has('large')) {
      const kinds: ('kubectl' | 'kproxy')[] = env.kubectl ? ['kubectl', 'kproxy'] : ['kproxy'];
      const proxies: Proxy[] = [];
      for (const k of kinds) proxies.push(await startProxy(cmdFor(env, k)));
      const pids = (): number[] => proxies.map((p) => p.pid);
      try {
        if (opts.sections.has('small')) addSection(await measured(pids, () => smallSection(env, proxies)));
        if (opts.sections.has('large')) addSection(await measured(pids, () => largeSection(env, proxies)));
      } finally {
        for (const p of proxies) await p.stop();
      }
    }
    if (opts.sections.has('watch')) addSection(await measured(none, () => watchSection(env)));
    if (opts.sections.has('leak') || opts.sections.has('storm')) {
      const l = await measured(none, async () => ({ ...(await stormSection(env)), notes: [] as string[] }));
      sections.push({ n: 5, text: [l.table, ...l.notes.map((n) => `- ${n}`)].join('\n'), verdicts: l.verdicts });
    }
    clearInterval(loadTimer);
    sections.sort((a, b) => a.n - b.n);
    const verdicts = sections.flatMap((s) => s.verdicts);

    // Which protocol each proxy spoke to the upstream.
    const prot = raw['protocols'] as Record<string, Record<string, { alpn?: Record<string, number>; maxConns?: number } | Record<string, number>>> | undefined;
    const protRows: string[][] = [['direct (benchmark client)', 'http/1.1 (undici, TLS)', 'one per client connection']];
    for (const k of env.kubectl ? ['kubectl', 'kproxy', 'kproxy-h1'] : ['kproxy', 'kproxy-h1']) {
      const small = prot?.['small']?.[k] as { alpn: Record<string, number>; maxConns: number } | undefined;
      const large = prot?.['large']?.[k] as { alpn: Record<string, number>; maxConns: number } | undefined;
      const watch = prot?.['watch']?.[k] as Record<string, number> | undefined;
      const alpn = new Set([...Object.keys(small?.alpn ?? {}), ...Object.keys(large?.alpn ?? {}), ...Object.keys(watch ?? {})]);
      const used: string[] = [];
      if (small) used.push(`small GETs: up to ${small.maxConns}`);
      if (large) used.push(`large bodies: up to ${large.maxConns}`);
      if (watch) used.push(`${opts.watches} watches: ${Object.values(watch).reduce((a, b) => a + b, 0)}`);
      if (k === 'kproxy-h1' && !watch) continue;
      const name = k === 'kubectl' ? 'kubectl proxy' : k === 'kproxy' ? 'kproxy' : 'kproxy --upstream-http2=false';
      protRows.push([name, [...alpn].join(', ') || '?', used.join('; ') || '?']);
    }
    const load1 = loadavg();
    loads.push(load1[0]!);
    machine.loadavgAtStart += ` (at end: ${load1.map((x) => x.toFixed(2)).join(' ')})`;
    const loadRange = `${Math.min(...loads).toFixed(2)}–${Math.max(...loads).toFixed(2)}`;
    raw['loadavg1During'] = loads;
    const cpu1 = machineCpu();
    const ours1 = processCpu('self', true) + processCpu(env.upstream.pid);
    const otherPct = Math.max(0, (100 * (cpu1.busy - cpu0.busy - (ours1 - ours0))) / Math.max(1, cpu1.total - cpu0.total));
    const oursPct = (100 * (ours1 - ours0)) / Math.max(1, cpu1.total - cpu0.total);
    raw['cpuDuringRun'] = { otherPct, oursPct };

    const outFile =
      argv.out ?? join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'results', `${started.toISOString().replace(/[:.]/g, '-')}.json`);
    mkdirSync(dirname(outFile), { recursive: true });
    writeFileSync(outFile, JSON.stringify({ started: started.toISOString(), ended: new Date().toISOString(), ...raw }, null, 1));

    const md = [
      `## kproxy benchmark — ${started.toISOString()}`,
      '',
      `Machine: ${machine.nproc} CPUs (${machine.cpu}), ${machine.memGiB} GiB RAM, Linux ${machine.kernel}, Node ${machine.node}, undici ${machine.undici}; kubectl ${machine.kubectl}.`,
      `Load average (1/5/15 min) at start: ${machine.loadavgAtStart}; 1-minute load during the run (the benchmark's own processes included): ${loadRange}.`,
      `CPU during the run: the benchmark's processes ${oursPct.toFixed(0)}%, other work on the machine ${otherPct.toFixed(0)}% of all ${machine.nproc} CPUs` +
        (otherPct > 10 ? ' — **the machine was shared with other work: treat the numbers with care**.' : '.'),
      `kproxy: ${kproxyVersion} (as compiled into dist/ when the run started).`,
      `Command: \`node dist/bench/run.js ${process.argv.slice(2).join(' ')}\` — ${opts.reps} repetition(s), interleaved and rotated (direct, kubectl, kproxy); ` +
        'values are medians, "(per run)" is the range of the kproxy / kubectl ratio over the paired repetitions (the noise band).',
      '',
      ...sections.flatMap((s) => [s.text, '']),
      '### Upstream protocol',
      '',
      simpleTable(['client of the upstream', 'ALPN negotiated', 'upstream connections'], protRows),
      '',
      '### Targets',
      '',
      simpleTable(['target', 'met'], verdicts.map((v) => [v.what, v.met === undefined ? 'n/a' : v.met ? 'yes' : '**no**'])),
      '',
      `Raw results: ${outFile}`,
      '',
    ].join('\n');
    process.stdout.write(md);
  } finally {
    await env.upstream.stop();
    rmSync(env.dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    process.stderr.write(`bench failed: ${err.stack ?? err.message}\n`);
    process.exit(1);
  },
);
