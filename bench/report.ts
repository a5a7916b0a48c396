// Markdown tables for the benchmark results.

export type TargetName = 'direct' | 'kubectl' | 'kproxy';

export interface Row {
  metric: string;
  /** How to print the values: 'int' (thousands separators), 'f1', 'f2'. */
  fmt: 'int' | 'f1' | 'f2';
  /** Medians over the repetitions; missing = not measured / not applicable. */
  values: Partial<Record<TargetName, number>>;
  /** Every repetition, for the JSON. */
  samples?: Partial<Record<TargetName, number[]>>;
  /** The target for this row, and whether kproxy met it (undefined: informational). */
  target?: string;
  met?: boolean;
}

export interface Section {
  title: string;
  rows: Row[];
  notes: string[];
}

export function fmt(x: number | undefined, how: Row['fmt']): string {
  if (x === undefined || !Number.isFinite(x)) return '—';
  if (how === 'int') return Math.round(x).toLocaleString('en-US');
  return x.toFixed(how === 'f1' ? 1 : 2);
}

function ratio(a: number | undefined, b: number | undefined): string {
  if (a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0) return '—';
  return `${(a / b).toFixed(2)}x`;
}

/** kproxy / kubectl for each repetition (paired by run order), as min–max: the noise band. */
function perRun(r: Row): string {
  const a = r.samples?.kproxy;
  const b = r.samples?.kubectl;
  if (!a || !b || a.length < 2 || a.length !== b.length) return '';
  const q = a.map((x, i) => x / b[i]!).filter((x) => Number.isFinite(x));
  if (q.length < 2) return '';
  return `${Math.min(...q).toFixed(2)}–${Math.max(...q).toFixed(2)}`;
}

export function sectionTable(s: Section, haveKubectl: boolean): string {
  const lines = [
    `### ${s.title}`,
    '',
    '| metric | direct | kubectl proxy | kproxy | kproxy / kubectl | (per run) | kproxy / direct | target | met |',
    '|---|--:|--:|--:|--:|:-:|--:|---|:-:|',
  ];
  for (const r of s.rows) {
    const k = haveKubectl ? fmt(r.values.kubectl, r.fmt) : 'n/a (no kubectl)';
    lines.push(
      `| ${r.metric} | ${fmt(r.values.direct, r.fmt)} | ${k} | ${fmt(r.values.kproxy, r.fmt)} | ` +
        `${ratio(r.values.kproxy, r.values.kubectl)} | ${perRun(r)} | ${ratio(r.values.kproxy, r.values.direct)} | ` +
        `${r.target ?? ''} | ${r.met === undefined ? (r.target ? 'n/a' : '') : r.met ? 'yes' : '**no**'} |`,
    );
  }
  if (s.notes.length) lines.push('', ...s.notes.map((n) => `- ${n}`));
  return lines.join('\n');
}

export function simpleTable(header: string[], rows: string[][]): string {
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}
