// The usual setup of a file that runs kproxy against the fake API server: a PKI, the server, a
// kubeconfig with a token for it, and a launcher; made in the file's `before` and torn down in
// its `after`, so every process, port and temp file is cleaned up.

import { after, before } from 'node:test';
import { tempDir, writeKubeconfig, type TempDir } from './kubeconfig.js';
import { makePki, type Pki } from './pki.js';
import { launcher, type Launcher } from './proc.js';
import { startUpstream, type Upstream } from './upstream.js';

export interface ApiFixture {
  readonly pki: Pki;
  readonly up: Upstream;
  readonly dir: TempDir;
  /** Path of the kubeconfig that points at `up`. */
  readonly kc: string;
  readonly procs: Launcher;
}

/** Registers `before` and `after` hooks; the fields are there once `before` has run. */
export function apiFixture(name: string): ApiFixture {
  const f = { procs: launcher() } as { -readonly [K in keyof ApiFixture]: ApiFixture[K] };
  before(async () => {
    f.pki = await makePki();
    f.up = await startUpstream({ pki: f.pki });
    f.dir = tempDir(name);
    f.kc = writeKubeconfig(f.dir.path, { server: f.up.url, caData: f.pki.ca, token: `tok-${name}` });
  });
  after(async () => {
    await f.procs.stopAll();
    await f.up?.close();
    f.dir?.cleanup();
  });
  return f;
}
