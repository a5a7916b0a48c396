// The shared fixture of the upgrade tests (test/upgrade/ and test/security/cve-2018-1002105-upgrade):
// a fake API server that requires the bearer token (`up`), a raw upgrade upstream whose answers
// the test controls (`raw`), their kubeconfigs, and the kproxy processes in front of them (`P`),
// plus the request builders and checks the tests share. Each test file calls `useUpgradeFixture`
// once with the proxies it needs started up front; any other is started on first use. The
// exported `let`s are live bindings, set by the fixture's `before`: read them inside tests.
//
// This is also the one place where the upgrade tests reach into src/ (for the in-process
// back-pressure tests), so that a move in src/ is fixed here only.

import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { tempDir, writeKubeconfig, type TempDir } from './kubeconfig.js';
import type { ParsedResponse } from './http.js';
import { freePort } from './net.js';
import { makePki, type Pki } from './pki.js';
import { launcher, type Running } from './proc.js';
import { RawClient } from './raw-upgrade-client.js';
import { startRawUpgradeUpstream, type RawUpgradeUpstream } from './raw-upgrade-upstream.js';
import { startUpstream, type RecordedRequest, type Upstream } from './upstream.js';

export { loadResolvedConfig } from '../../src/kubeconfig/load.js';
export { createUpstream, type Upstream as KUpstream } from '../../src/upstream.js';
export { createCredentials } from '../../src/auth/credentials.js';
export { upgrade, type UpgradeContext } from '../../src/upgrade.js';
export * as klog from '../../src/log.js';

export const TOKEN = 'upg-token-3b9d';
export const WS_KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
export const WS_ACCEPT = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=';
export const K8S_PROTOCOLS = 'v5.channel.k8s.io, v4.channel.k8s.io, SPDY/3.1+portforward.k8s.io';
export const PF = '/api/v1/namespaces/default/pods/foo/portforward?ports=8080';
export const EXEC = '/api/v1/namespaces/default/pods/foo/exec?command=sh&stdin=true&stdout=true&tty=true';
export const ATTACH = '/api/v1/namespaces/default/pods/foo/attach?stdin=true&stdout=true';

// ---- requests and checks ---------------------------------------------------------------------

export function upgradeHead(method: string, target: string, headers: Array<[string, string]>, host = 'localhost'): string {
  return `${method} ${target} HTTP/1.1\r\nHost: ${host}\r\n${headers.map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
}

export function wsHead(target: string, extra: Array<[string, string]> = [], host?: string): string {
  return upgradeHead(
    'GET',
    target,
    [
      ['Connection', 'Upgrade'],
      ['Upgrade', 'websocket'],
      ['Sec-WebSocket-Version', '13'],
      ['Sec-WebSocket-Key', WS_KEY],
      ['Sec-WebSocket-Protocol', K8S_PROTOCOLS],
      ...extra,
    ],
    host,
  );
}

export function spdyHead(target: string, extra: Array<[string, string]> = [], host?: string): string {
  return upgradeHead(
    'POST',
    target,
    [
      ['Connection', 'Upgrade'],
      ['Upgrade', 'SPDY/3.1'],
      ['X-Stream-Protocol-Version', 'portforward.k8s.io'],
      ['Content-Length', '0'],
      ...extra,
    ],
    host,
  );
}

export function header(res: ParsedResponse, name: string): string | undefined {
  return res.headerMap[name.toLowerCase()]?.[0];
}

/** A plain one-line error as kubectl's responder writes it. */
export function assertOneLineError(res: ParsedResponse, status: number | RegExp, pattern: RegExp): void {
  const body = res.body.toString('utf8');
  const ctx = `${res.status} ${JSON.stringify(body)}`;
  if (typeof status === 'number') assert.equal(res.status, status, ctx);
  else assert.match(String(res.status), status, ctx);
  assert.equal(header(res, 'content-type'), 'text/plain; charset=utf-8', ctx);
  assert.ok(body.endsWith('\n') && body.indexOf('\n') === body.length - 1, `exactly one line: ${ctx}`);
  assert.match(body, pattern, ctx);
}

// ---- the fixture -----------------------------------------------------------------------------

export let pki: Pki;
export let up: Upstream; // the shared fake API server, which requires the bearer token
export let raw: RawUpgradeUpstream;
export let dir: TempDir;
export let closedPort: number;
export let mainKc: string;
export let rawKc: string;

export type ProxyKey = 'main' | 'open' | 'nofilter' | 'raw' | 'refused' | 'badCa' | 'ka0' | 'ka45' | 'kaOff';

export let P: Record<ProxyKey, Promise<Running>>;

const { launch, track, stopAll } = launcher();
/** `track(running)`: stop a process the test started itself together with the fixture's. */
export { track };

/** Registers the fixture's hooks for this test file; `eager` are started in `before`, the others on first use. */
export function useUpgradeFixture(eager: ProxyKey[]): void {
  before(async () => {
    pki = await makePki();
    [up, raw] = await Promise.all([startUpstream({ pki, tokens: [TOKEN] }), startRawUpgradeUpstream(pki)]);
    dir = tempDir('kproxy-upg');
    closedPort = await freePort();
    const common = { caData: pki.ca, token: TOKEN, clientCertData: pki.client.cert, clientKeyData: pki.client.key, tlsServerName: 'kubernetes.local' };
    mainKc = writeKubeconfig(dir.path, { server: up.url, ...common, as: 'jane', asGroups: ['g1', 'g2'], fileName: 'main' });
    rawKc = writeKubeconfig(dir.path, { server: raw.url, caData: pki.ca, token: TOKEN, fileName: 'raw' });
    const refusedKc = writeKubeconfig(dir.path, { server: `https://127.0.0.1:${closedPort}`, caData: pki.ca, token: TOKEN, fileName: 'refused' });
    const badCaKc = writeKubeconfig(dir.path, { server: up.url, caData: pki.otherCa, token: TOKEN, fileName: 'bad-ca' });
    const args: Record<ProxyKey, string[]> = {
      main: ['--port=0', '--kubeconfig', mainKc], // default filter
      open: ['--port=0', '--reject-paths=', '--kubeconfig', mainKc],
      nofilter: ['--port=0', '--disable-filter', '--kubeconfig', mainKc],
      raw: ['--port=0', '--kubeconfig', rawKc], // the raw upstream
      refused: ['--port=0', '--kubeconfig', refusedKc], // a closed port
      badCa: ['--port=0', '--kubeconfig', badCaKc], // a CA that did not sign the server
      ka0: ['--port=0', '--keepalive=0', '--kubeconfig', rawKc],
      ka45: ['--port=0', '--keepalive=45s', '--kubeconfig', rawKc],
      kaOff: ['--port=0', '--keepalive=-1s', '--kubeconfig', rawKc],
    };
    const started = new Map<ProxyKey, Promise<Running>>();
    const start = (key: ProxyKey): Promise<Running> => {
      let p = started.get(key);
      if (!p) started.set(key, (p = launch(args[key])));
      return p;
    };
    P = {} as Record<ProxyKey, Promise<Running>>;
    for (const key of Object.keys(args) as ProxyKey[]) Object.defineProperty(P, key, { enumerable: true, get: () => start(key) });
    for (const key of eager) start(key);
  });

  after(async () => {
    await stopAll();
    await Promise.all([up?.close(), raw?.close()]);
    dir?.cleanup();
  });
}

export function headerValues(rec: RecordedRequest, name: string): string[] {
  const lower = name.toLowerCase();
  return rec.rawHeaders.filter((_, i) => i % 2 === 1 && rec.rawHeaders[i - 1]!.toLowerCase() === lower);
}

export function upgradesFor(pathPart: string): RecordedRequest[] {
  return up.requests.filter((r) => r.upgrade && r.target.includes(pathPart));
}

/** A port-forward upgrade through `p` that must reach the upstream: proof that earlier requests had their chance. */
export async function marker(p: Running, tag: string): Promise<void> {
  const target = `/api/v1/namespaces/default/pods/marker-${tag}/portforward`;
  const c = RawClient.to(p.port, wsHead(target));
  const { res } = await c.switched();
  assert.equal(res.status, 101);
  await up.waitForRequest((r) => r.target === target);
  c.destroy();
}

/** Round trip of `payload` through an established upgrade. */
export async function echo(c: RawClient, payload: string): Promise<void> {
  const before = c.buf.length;
  c.socket.write(payload);
  await c.waitFor((b) => b.subarray(before).includes(payload), `echo of ${payload}`);
}
