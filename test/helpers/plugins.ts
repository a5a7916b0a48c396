// Exec credential plugins for tests: small `sh` scripts written to a temp folder at test time.
// Each run records its environment, arguments and whether stdin was a terminal, announces
// itself on stderr (which kproxy and kubectl pass through, so a test can wait for it), then
// prints the answer scripted for that run. A gated plugin waits on a FIFO until the test
// releases it, which is how "slow" is made deterministic.

import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const EXEC_V1 = 'client.authentication.k8s.io/v1';
export const EXEC_V1BETA1 = 'client.authentication.k8s.io/v1beta1';

export interface PluginRun {
  /** What the plugin prints on stdout. */
  stdout?: string;
  /** Extra stderr text. */
  stderr?: string;
  /** Exit status (default 0). */
  exit?: number;
}

export interface PluginSpec {
  /** Answers by run (1-based order); the last one repeats. */
  runs: Array<string | PluginRun>;
  /** Wait for `release()` before answering. */
  gated?: boolean;
}

export interface ScriptedPlugin {
  /** Absolute path of the executable. */
  readonly path: string;
  readonly dir: string;
  /** Completed and started runs so far. */
  runs(): number;
  /** The environment run `n` saw. */
  env(n: number): Record<string, string>;
  args(n: number): string[];
  /** Whether run `n` had a terminal on stdin. */
  stdinTTY(n: number): boolean;
  /** Lets one waiting run of a gated plugin answer. */
  release(): Promise<void>;
}

/** The ExecCredential JSON a plugin prints. */
export function execCredentialJson(
  status: { token?: string; clientCertificateData?: string; clientKeyData?: string; expirationTimestamp?: string } | null,
  apiVersion = EXEC_V1,
): string {
  const doc: Record<string, unknown> = { apiVersion, kind: 'ExecCredential' };
  if (status !== null) doc.status = status;
  return JSON.stringify(doc);
}

function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Writes `<dir>/<name>` (and its state folder `<dir>/<name>.d`). */
export function writePlugin(dir: string, name: string, spec: PluginSpec): ScriptedPlugin {
  const state = join(dir, `${name}.d`);
  mkdirSync(state, { recursive: true });
  spec.runs.forEach((r, i) => {
    const run = typeof r === 'string' ? { stdout: r } : r;
    const put = (suffix: string): void => {
      if (run.stdout !== undefined) writeFileSync(join(state, `out.${suffix}`), run.stdout + '\n');
      if (run.stderr !== undefined) writeFileSync(join(state, `err.${suffix}`), run.stderr + '\n');
      writeFileSync(join(state, `code.${suffix}`), String(run.exit ?? 0));
    };
    put(String(i + 1));
    if (i === spec.runs.length - 1) put('last');
  });
  if (spec.gated) execFileSync('mkfifo', [join(state, 'gate')]);
  const d = shQuote(state);
  const script = `#!/bin/sh
d=${d}
n=$(( $(cat "$d/count" 2>/dev/null || echo 0) + 1 ))
echo "$n" > "$d/count"
env -0 > "$d/env.$n"
: > "$d/args.$n"
for a in "$@"; do printf '%s\\n' "$a" >> "$d/args.$n"; done
if [ -t 0 ]; then echo tty > "$d/stdin.$n"; else echo notty > "$d/stdin.$n"; fi
echo "plugin ${name} run $n" >&2
if [ -p "$d/gate" ]; then
  echo "plugin ${name} run $n waiting" >&2
  read line < "$d/gate"
fi
i=$n
[ -f "$d/code.$i" ] || i=last
[ -f "$d/err.$i" ] && cat "$d/err.$i" >&2
[ -f "$d/out.$i" ] && cat "$d/out.$i"
exit "$(cat "$d/code.$i")"
`;
  const path = join(dir, name);
  writeFileSync(path, script);
  chmodSync(path, 0o755);
  return {
    path,
    dir: state,
    runs() {
      const f = join(state, 'count');
      return existsSync(f) ? Number(readFileSync(f, 'utf8').trim()) : 0;
    },
    env(n) {
      const out: Record<string, string> = {};
      for (const line of readFileSync(join(state, `env.${n}`), 'utf8').split('\0')) {
        const eq = line.indexOf('=');
        if (eq > 0) out[line.slice(0, eq)] = line.slice(eq + 1);
      }
      return out;
    },
    args(n) {
      return readFileSync(join(state, `args.${n}`), 'utf8').split('\n').slice(0, -1);
    },
    stdinTTY(n) {
      return readFileSync(join(state, `stdin.${n}`), 'utf8').trim() === 'tty';
    },
    async release() {
      // Opening a FIFO for writing waits for its reader, off the event loop.
      await writeFile(join(state, 'gate'), 'go\n');
    },
  };
}
