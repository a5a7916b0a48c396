// Summarises a V8 .cpuprofile (written by `node --cpu-prof`): self time per function
// (name + file:line) and per area (kproxy, undici, Node internals, GC, ...).

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface SelfTime {
  name: string;
  where: string;
  area: string;
  ms: number;
  pct: number;
}

export interface ProfileSummary {
  totalMs: number;
  /** Share of samples not idle. */
  busyPct: number;
  functions: SelfTime[];
  areas: { area: string; ms: number; pct: number }[];
  /** Inclusive (self + callees) time of kproxy's own functions. */
  kproxyInclusive: SelfTime[];
  /** For the heaviest native functions: the nearest callers outside Node's own modules. */
  nativeCallers: { name: string; ms: number; callers: { caller: string; ms: number }[] }[];
}

// A bundle (esbuild, e.g. dist/kproxy.mjs) marks where each module begins with a `// path`
// comment line; map bundle lines back to those module paths.
const bundles = new Map<string, { line: number; module: string }[] | null>();
function moduleOf(url: string, line: number): string | undefined {
  if (!url.startsWith('file://') || url.includes('/node_modules/')) return undefined;
  let marks = bundles.get(url);
  if (marks === undefined) {
    marks = null;
    try {
      const found: { line: number; module: string }[] = [];
      readFileSync(fileURLToPath(url), 'utf8')
        .split('\n')
        .forEach((l, i) => {
          const m = /^\/\/ ((?:node_modules|dist|src)\/\S+)$/.exec(l);
          if (m) found.push({ line: i + 1, module: m[1]! });
        });
      if (found.length > 0) marks = found;
    } catch {
      // not readable: leave as is
    }
    bundles.set(url, marks);
  }
  if (!marks) return undefined;
  let lo = 0;
  let hi = marks.length - 1;
  if (line < marks[0]!.line) return undefined;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (marks[mid]!.line <= line) lo = mid;
    else hi = mid - 1;
  }
  return marks[lo]!.module;
}

/** The source file a profile URL/line stands for: the module inside a bundle, else the URL. */
function sourceOf(url: string, line: number): string {
  const m = moduleOf(url, line);
  return m ? `/${m}` : url;
}

function areaOf(url: string, name: string): string {
  if (url.startsWith('wasm://')) return 'WebAssembly (undici llhttp, re2-wasm)';
  if (!url) {
    if (name === '(garbage collector)') return 'GC';
    if (name === '(idle)') return 'idle';
    if (name === '(program)') return 'native / program';
    return 'native (V8 builtins, C++)';
  }
  if (url.includes('/node_modules/undici/')) return 'undici';
  if (url.includes('/node_modules/re2-wasm/')) return 're2-wasm';
  if (url.includes('/node_modules/')) return 'other node_modules';
  if (url.includes('/dist/src/')) return 'kproxy (dist/src)';
  if (url.includes('/dist/')) return 'kproxy (dist, bundle)';
  if (url.startsWith('node:internal/http') || url.startsWith('node:_http') || url.startsWith('node:http')) return 'node http';
  if (url.startsWith('node:internal/tls') || url.startsWith('node:_tls') || url.startsWith('node:tls')) return 'node tls';
  if (url.startsWith('node:internal/streams') || url.startsWith('node:stream')) return 'node streams';
  if (url.startsWith('node:net') || url.startsWith('node:internal/stream_base') || url.startsWith('node:internal/net')) return 'node net';
  if (url.startsWith('node:')) return 'node other';
  return 'other';
}

function shortUrl(url: string): string {
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) return url.slice(nm + 14);
  const d = url.indexOf('/dist/');
  if (d >= 0) return url.slice(d + 1);
  return url.replace(/^file:\/\//, '');
}

export function summariseProfile(file: string, top = 25): ProfileSummary {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  for (const n of p.nodes) byId.set(n.id, n);
  const self = new Map<number, number>();
  // timeDeltas[i] is the time between sample i-1 and sample i: charge it to sample i-1.
  for (let i = 0; i < p.samples.length; i++) {
    const dt = i + 1 < p.timeDeltas.length ? p.timeDeltas[i + 1]! : 0;
    self.set(p.samples[i]!, (self.get(p.samples[i]!) ?? 0) + Math.max(0, dt));
  }
  const fn = new Map<string, SelfTime>();
  const areas = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const [id, us] of self) {
    const cf = byId.get(id)!.callFrame;
    const name = cf.functionName || '(anonymous)';
    const src = cf.url ? sourceOf(cf.url, cf.lineNumber + 1) : '';
    const where = cf.url ? `${shortUrl(src)}${src !== cf.url ? ` (${shortUrl(cf.url)}:${cf.lineNumber + 1})` : `:${cf.lineNumber + 1}`}` : '';
    const area = areaOf(src, name);
    const key = `${name}\u0000${where}`;
    const e = fn.get(key) ?? { name, where, area, ms: 0, pct: 0 };
    e.ms += us / 1000;
    fn.set(key, e);
    areas.set(area, (areas.get(area) ?? 0) + us / 1000);
    total += us / 1000;
    if (name === '(idle)') idle += us / 1000;
  }
  const busy = total - idle;

  // Inclusive time: each sample counts once for every distinct function on its stack.
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const keyOf = (id: number): { key: string; name: string; where: string; url: string } => {
    const cf = byId.get(id)!.callFrame;
    const name = cf.functionName || '(anonymous)';
    const src = cf.url ? sourceOf(cf.url, cf.lineNumber + 1) : '';
    const where = cf.url ? `${shortUrl(src)}${src !== cf.url ? ` (${shortUrl(cf.url)}:${cf.lineNumber + 1})` : `:${cf.lineNumber + 1}`}` : '';
    return { key: `${name}\u0000${where}`, name, where, url: src };
  };
  const incl = new Map<string, SelfTime>();
  const callers = new Map<string, Map<string, number>>();
  for (const [id, us] of self) {
    const seen = new Set<string>();
    for (let n: number | undefined = id; n !== undefined; n = parent.get(n)) {
      const k = keyOf(n);
      if (seen.has(k.key)) continue;
      seen.add(k.key);
      if (k.url.includes('/dist/src/')) {
        const e = incl.get(k.key) ?? { name: k.name, where: k.where, area: 'kproxy (dist/src)', ms: 0, pct: 0 };
        e.ms += us / 1000;
        incl.set(k.key, e);
      }
    }
    // The nearest frame above a native (url-less) leaf that is not Node's own JavaScript: the
    // kproxy or undici code that caused the work.
    const leaf = keyOf(id);
    if ((!leaf.url || leaf.url.startsWith('wasm://')) && !leaf.name.startsWith('(')) {
      let c = parent.get(id);
      const inner = (u: string): boolean => !u || u.startsWith('node:') || u.startsWith('wasm://');
      while (c !== undefined && inner(keyOf(c).url)) c = parent.get(c);
      const ck = c === undefined ? '(root)' : `${keyOf(c).name} ${keyOf(c).where}`;
      const m = callers.get(leaf.name) ?? new Map<string, number>();
      m.set(ck, (m.get(ck) ?? 0) + us / 1000);
      callers.set(leaf.name, m);
    }
  }
  const kproxyInclusive = [...incl.values()]
    .sort((a, b) => b.ms - a.ms)
    .slice(0, top)
    .map((f) => ({ ...f, pct: (100 * f.ms) / busy }));
  const nativeCallers = [...callers.entries()]
    .map(([name, m]) => ({
      name,
      ms: [...m.values()].reduce((a, b) => a + b, 0),
      callers: [...m.entries()].map(([caller, ms]) => ({ caller, ms })).sort((a, b) => b.ms - a.ms).slice(0, 4),
    }))
    .sort((a, b) => b.ms - a.ms)
    .slice(0, 8);
  const functions = [...fn.values()]
    .filter((f) => f.name !== '(idle)')
    .sort((a, b) => b.ms - a.ms)
    .slice(0, top)
    .map((f) => ({ ...f, pct: (100 * f.ms) / busy }));
  const areaList = [...areas.entries()]
    .filter(([a]) => a !== 'idle')
    .map(([area, ms]) => ({ area, ms, pct: (100 * ms) / busy }))
    .sort((a, b) => b.ms - a.ms);
  return { totalMs: total, busyPct: (100 * busy) / total, functions, areas: areaList, kproxyInclusive, nativeCallers };
}
