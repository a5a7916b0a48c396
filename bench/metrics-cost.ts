// What --admin-address costs per request: the recording hooks alone, in this process; then
// kproxy's CPU time per small GET without metrics, again without (a control: the noise floor),
// and with, against the benchmark upstream, in rotated order, medians reported. Also how long a
// reload takes (SIGHUP to the reload line). Never part of `npm test`.
//
//   npm run build && node dist/bench/metrics-cost.js [--rounds=6] [--seconds=4] [--concurrency=8]

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { parseArgs } from 'node:util';
import type { Admission } from '../src/admit.js';
import { createMetrics } from '../src/metrics.js';
import { makePki, writePkiFiles } from '../test/helpers/pki.js';
import { writeKubeconfig } from '../test/helpers/kubeconfig.js';
import { closedLoop, median } from './load.js';
import { CLK_TCK, processCpu, proxyCommand, startProxy, startUpstreamProc, type Proxy } from './procs.js';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '6' }, seconds: { type: 'string', default: '4' }, concurrency: { type: 'string', default: '8' } } });
const ROUNDS = Number(values.rounds);
const DURATION_MS = Number(values.seconds) * 1000;
const CONCURRENCY = Number(values.concurrency);
const PATH = '/api/v1/namespaces/default/pods';

async function measure(p: Proxy): Promise<{ usPerRequest: number; rps: number }> {
  const cpu0 = processCpu(p.pid);
  const r = await closedLoop({ name: 'kproxy', origin: p.origin, headers: ['user-agent', 'kproxy-bench/1.0'] }, { path: PATH, concurrency: CONCURRENCY, warmupMs: 0, durationMs: DURATION_MS });
  if (r.errors > 0 || Object.keys(r.badStatus).length > 0) throw new Error(`errors: ${r.firstError ?? JSON.stringify(r.badStatus)}`);
  // Ticks are 10 ms; over a few seconds of load that is well under 1 % of the total.
  return { usPerRequest: (((processCpu(p.pid) - cpu0) / CLK_TCK) * 1e6) / r.requests, rps: r.rps };
}

async function reloadMs(p: Proxy): Promise<number> {
  const t0 = performance.now();
  const seen = new Promise<void>((resolve) => {
    const onData = (d: Buffer) => {
      if (!d.toString().includes('Reloaded')) return;
      p.child.stderr!.off('data', onData);
      resolve();
    };
    p.child.stderr!.on('data', onData);
  });
  p.child.kill('SIGHUP');
  await seen;
  return performance.now() - t0;
}

/**
 * The hooks alone, in this process: real IncomingMessage/ServerResponse objects go through what
 * the handler does around a request (writeHead, close) with and without metrics.request();
 * CPU time of this process, so other load on the machine mostly stays out of it.
 */
async function hooksAlone(): Promise<{ off: number; on: number }> {
  const m = await createMetrics({ defaultCluster: () => 'ctx', connections: () => [] });
  const admission = { kind: 'forward', target: PATH, verdict: { decision: 'accept', rule: 'x' } } as Admission;
  const run = (withMetrics: boolean, n: number): number => {
    const socket = new Socket();
    const c0 = process.cpuUsage();
    for (let i = 0; i < n; i++) {
      const req = new IncomingMessage(socket);
      req.method = 'GET';
      req.url = PATH;
      const res = new ServerResponse(req);
      if (withMetrics) m.request(req, res, admission);
      res.writeHead(200, { 'content-length': '2' });
      res.emit('close');
    }
    const c = process.cpuUsage(c0);
    return ((c.user + c.system) / n);
  };
  const N = 200_000;
  run(false, N);
  run(true, N);
  const off: number[] = [];
  const on: number[] = [];
  for (let r = 0; r < 7; r++) {
    off.push(run(false, N));
    on.push(run(true, N));
  }
  return { off: median(off), on: median(on) };
}

async function main(): Promise<void> {
  const hooks = await hooksAlone();
  console.log(`metrics hooks alone (in-process, median of 7 x 200k): ${hooks.off.toFixed(2)} µs without, ${hooks.on.toFixed(2)} µs with: ${(hooks.on - hooks.off).toFixed(2)} µs per request`);
  const dir = mkdtempSync(join(tmpdir(), 'kproxy-bench-metrics-'));
  const pki = await makePki();
  const files = writePkiFiles(join(dir, 'pki'), pki);
  const token = 'bench-token-metrics';
  const upstream = await startUpstreamProc({ certFile: files.serverCert, keyFile: files.serverKey, token, watchRate: 0, gzip: true, prebuild: [] });
  const kubeconfig = writeKubeconfig(dir, { server: `https://127.0.0.1:${upstream.port}`, caFile: files.ca, token });
  const config = join(dir, 'kproxy.yaml');
  writeFileSync(config, 'reject-methods: "^TRACE$"\n');
  // Two identical proxies without metrics: their difference is what this machine's noise and
  // the order of runs make of nothing, the floor any difference with metrics must clear.
  const procs = {
    off: await startProxy(proxyCommand('kproxy', kubeconfig, '', [], [`--config=${config}`])),
    control: await startProxy(proxyCommand('kproxy', kubeconfig, '', [], [`--config=${config}`])),
    on: await startProxy(proxyCommand('kproxy', kubeconfig, '', [], [`--config=${config}`, '--admin-address=127.0.0.1:0'])),
  };
  const names = ['off', 'control', 'on'] as const;
  try {
    for (const n of names) await measure(procs[n]); // JIT and pools warm before anything counts
    const us = { off: [] as number[], control: [] as number[], on: [] as number[] };
    const rps = { off: [] as number[], control: [] as number[], on: [] as number[] };
    for (let r = 0; r < ROUNDS; r++) {
      for (let i = 0; i < names.length; i++) {
        const n = names[(i + r) % names.length]!;
        const m = await measure(procs[n]);
        us[n].push(m.usPerRequest);
        rps[n].push(m.rps);
      }
    }
    const reloads: number[] = [];
    for (let i = 0; i < 5; i++) reloads.push(await reloadMs(procs.off));
    const med = (n: (typeof names)[number]) => median(us[n]);
    console.log(`small GET, concurrency ${CONCURRENCY}, ${ROUNDS} rounds of ${DURATION_MS / 1000} s each, order rotated, medians:`);
    for (const n of names) {
      console.log(`  ${n.padEnd(8)} ${med(n).toFixed(1)} µs CPU/request, ${median(rps[n]).toFixed(0)} req/s   (rounds: ${us[n].map((x) => x.toFixed(1)).join(' ')})`);
    }
    console.log(`  metrics on - off:       ${(med('on') - med('off')).toFixed(1)} µs/request`);
    console.log(`  control - off (noise):  ${(med('control') - med('off')).toFixed(1)} µs/request`);
    console.log(`reload (SIGHUP to "Reloaded"), median of ${reloads.length}: ${median(reloads).toFixed(1)} ms (${reloads.map((x) => x.toFixed(1)).join(' ')})`);
  } finally {
    await Promise.all(names.map((n) => procs[n].stop()));
    await upstream.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
