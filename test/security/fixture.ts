// Fixtures for the security regressions: a fresh recording HTTPS API server (no credential
// required; it records whatever arrives) with kproxy in front, raw request bytes, and proof that
// a refused request never reached the API server.
//  - useKproxyInFront(flags): one kproxy for a whole file, hooks registered for it; `up` and `P`
//    are live bindings: read them inside tests, not at import time.
//  - startFixture(): an upstream and a launcher for files that need several kproxy flag sets.

import assert from 'node:assert/strict';
import { after, before, beforeEach } from 'node:test';
import { parseRawResponse, rawRequest, type ParsedResponse } from '../helpers/http.js';
import { tempDir, writeKubeconfig, type TempDir } from '../helpers/kubeconfig.js';
import { makePki } from '../helpers/pki.js';
import { launcher, type Running } from '../helpers/proc.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

export let up: Upstream;
export let P: { main: Promise<Running> };

/** Registers the file's hooks: kproxy is started with `--port=0 <flags> --kubeconfig <token kubeconfig>`. */
export function useKproxyInFront(flags: string[], token = 'sec-token-4d17'): void {
  const { launch, stopAll } = launcher();
  let dir: TempDir | undefined;

  before(async () => {
    const pki = await makePki();
    up = await startUpstream({ pki });
    dir = tempDir('kproxy-sec');
    const kubeconfig = writeKubeconfig(dir.path, { server: up.url, caData: pki.ca, token });
    P = { main: launch(['--port=0', ...flags, '--kubeconfig', kubeconfig]) };
  });

  after(async () => {
    await stopAll();
    await up?.close();
    dir?.cleanup();
  });

  beforeEach(() => {
    up?.reset();
  });
}

export const KUBE_TOKEN = 'kubeconfig-token-SECRET';

export interface Fixture {
  up: Upstream;
  kubeconfig: string;
  dir: TempDir;
  launch(flags: string[], env?: Record<string, string | undefined>): Promise<Running>;
  close(): Promise<void>;
}

export async function startFixture(): Promise<Fixture> {
  const pki = await makePki();
  const up = await startUpstream({ pki });
  const dir = tempDir('kproxy-sec');
  const kubeconfig = writeKubeconfig(dir.path, { fileName: 'config', server: up.url, caData: pki.ca, token: KUBE_TOKEN });
  const { launch, stopAll } = launcher();
  return {
    up,
    kubeconfig,
    dir,
    launch: (flags, env) => launch(['--port=0', '--kubeconfig', kubeconfig, ...flags], env ? { env } : {}),
    async close() {
      await stopAll();
      await up.close();
      dir.cleanup();
    },
  };
}

/** Sends `bytes` to the proxy and parses the one response. */
export async function send(p: Running, bytes: string): Promise<ParsedResponse> {
  const raw = await rawRequest('127.0.0.1', p.port, bytes);
  const parsed = parseRawResponse(raw);
  assert.ok(parsed, `no response to ${JSON.stringify(bytes.slice(0, 80))}: ${JSON.stringify(raw.toString('latin1'))}`);
  return parsed;
}

/**
 * Proves nothing but a harmless sentinel reached the API server since `up.reset()`: the refused
 * request was answered locally before the sentinel was sent, so had it been forwarded it would
 * be recorded first.
 */
export async function assertNothingForwarded(up: Upstream, p: Running, extraHeaders = ''): Promise<void> {
  const sentinel = await send(p, `GET /version?sentinel=1 HTTP/1.1\r\nHost: localhost\r\n${extraHeaders}Connection: close\r\n\r\n`);
  assert.equal(sentinel.status, 200);
  const seen = await up.waitForRequests(1);
  assert.deepEqual(
    seen.map((r) => r.target),
    ['/version?sentinel=1'],
  );
}
