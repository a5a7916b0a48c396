// `kproxy [flags] -- <command> [args...]`: the proxy lives exactly as long as the command.
// The child gets KPROXY_URL and a KUBECONFIG whose only context talks to the proxy, so
// kubectl, Helm and client libraries inside it need no flags.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { constants } from 'node:os';

export interface ChildResult {
  /** The exit status kproxy should end with: the child's, or 128+N for signal N. */
  status: number;
}

/**
 * A kubeconfig with one context, `kproxy`, pointing at the proxy; its only credential is
 * kproxy's own access token, when there is one.
 */
export function proxyKubeconfig(url: string, token?: string): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: kproxy',
    '  cluster:',
    `    server: ${JSON.stringify(url)}`,
    'users:',
    '- name: kproxy',
    token === undefined ? '  user: {}' : `  user:\n    token: ${JSON.stringify(token)}`,
    'contexts:',
    '- name: kproxy',
    '  context:',
    '    cluster: kproxy',
    '    user: kproxy',
    'current-context: kproxy',
    '',
  ].join('\n');
}

/**
 * --contexts: one context per served cluster, named as in the user's kubeconfig and pointing at
 * its prefix, with that kubeconfig's current context kept when it is served.
 */
export function clustersKubeconfig(url: string, token: string | undefined, contexts: readonly string[], current: string | undefined): string {
  const q = (s: string) => JSON.stringify(s);
  const lines = ['apiVersion: v1', 'kind: Config', 'clusters:'];
  for (const c of contexts) lines.push(`- name: ${q(c)}`, '  cluster:', `    server: ${q(`${url}/clusters/${encodeURIComponent(c)}`)}`);
  lines.push('users:', '- name: kproxy', token === undefined ? '  user: {}' : `  user:\n    token: ${q(token)}`, 'contexts:');
  for (const c of contexts) lines.push(`- name: ${q(c)}`, '  context:', `    cluster: ${q(c)}`, '    user: kproxy');
  const chosen = current !== undefined && contexts.includes(current) ? current : contexts[0];
  if (chosen !== undefined) lines.push(`current-context: ${q(chosen)}`);
  return lines.join('\n') + '\n';
}

export function exitStatusOf(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  const n = signal ? (constants.signals as Record<string, number>)[signal] : undefined;
  return 128 + (n ?? 1);
}

/**
 * Runs the command with the proxy's environment. SIGINT/SIGTERM reaching kproxy are passed to
 * the child first; kproxy ends when the child does.
 */
export function runCommand(
  command: string[],
  url: string | undefined,
  env: NodeJS.ProcessEnv,
  token?: string,
  /** The child's kubeconfig, when not proxyKubeconfig's (--contexts: clustersKubeconfig). */
  kubeconfigText?: string,
): Promise<ChildResult> {
  const dir = mkdtempSync(join(tmpdir(), 'kproxy-'));
  const childEnv: NodeJS.ProcessEnv = { ...env };
  if (url !== undefined) {
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(kubeconfig, kubeconfigText ?? proxyKubeconfig(url, token), { mode: 0o600 });
    childEnv.KPROXY_URL = url;
    if (token !== undefined) childEnv.KPROXY_TOKEN = token;
    childEnv.KUBECONFIG = kubeconfig;
  }
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  return new Promise((resolve) => {
    const child = spawn(command[0]!, command.slice(1), { stdio: 'inherit', env: childEnv });
    const pass = (signal: NodeJS.Signals) => {
      child.kill(signal);
    };
    process.on('SIGINT', pass);
    process.on('SIGTERM', pass);
    // The command must not outlive kproxy, whatever ends kproxy first.
    const orphaned = () => child.kill('SIGTERM');
    process.on('exit', orphaned);
    let ended = false;
    const done = (status: number) => {
      if (ended) return;
      ended = true;
      process.off('SIGINT', pass);
      process.off('SIGTERM', pass);
      process.off('exit', orphaned);
      cleanup();
      resolve({ status });
    };
    child.on('error', (err: NodeJS.ErrnoException) => {
      process.stderr.write(
        `error: cannot run ${command[0]}: ${err.code === 'ENOENT' ? 'executable file not found' : err.message}\n`,
      );
      done(err.code === 'ENOENT' ? 127 : 126);
    });
    child.on('exit', (code, signal) => done(exitStatusOf(code, signal)));
  });
}
