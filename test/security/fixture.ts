// One kproxy in front of a fresh fake API server for a whole security test file, as in
// forward.test.ts: the upstream requires no credential and records whatever arrives, and its
// records are reset before every test, so "nothing reached the upstream" is a list comparison.
// `up` and `P` are live bindings: read them inside tests, not at import time.

import { after, before, beforeEach } from 'node:test';
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
