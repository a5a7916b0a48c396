// Real clients through the proxy: the real kubectl 1.32 (`get`, `get --watch`, `get --raw`,
// `logs -f`, `exec`) and @kubernetes/client-node (list, Watch), each talking plain HTTP to the proxy
// under test, which talks HTTPS with a bearer token to a fake API server (helpers/kube-api.ts).
// The same scenarios run through kproxy and, when the binary exists, through `kubectl proxy`, so a
// difference between the two is a failing test. The clients carry no credentials: every request
// that reaches the API with the token was authenticated by the proxy.
//
// Streaming scenarios are driven by fixture events (a watch or log stream is open at the API
// server, then the test writes to it) and by what appears on the client's stdout; nothing sleeps.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { after, afterEach, before, describe, test } from 'node:test';
import { CoreV1Api, KubeConfig, Watch } from '@kubernetes/client-node';
import { KUBE_VERSION, makePod, STATIC_LOG, startKubeApi, UNAUTHORIZED, type KubeApi, type KubeRequest } from './helpers/kube-api.js';
import { request } from './helpers/http.js';
import { tempDir, writeKubeconfig, type TempDir } from './helpers/kubeconfig.js';
import { makePki } from './helpers/pki.js';
import { findKubectl, kubectlMissing, runProcess, startKproxy, startKubectlProxy, type RunResult, type Running, type StartOptions } from './helpers/proc.js';

const TOKEN = 'tok-clients';
/** Safety net for each client child and each wait; never a readiness delay. */
const CHILD_TIMEOUT_MS = 20_000;
const TEST_TIMEOUT_MS = 30_000;
/** Default flags minus the exec rule, so exec is allowed (attach stays rejected). */
const EXEC_ALLOWED = ['--reject-paths=^/api/.*/pods/.*/attach'];
const EXEC_PATH = '/api/v1/namespaces/default/pods/web-1/exec';

const KUBECTL = findKubectl();
const NO_KUBECTL = kubectlMissing();

// ---- the summary table ---------------------------------------------------------------------------

const PROXIES = [
  { label: 'kproxy', start: startKproxy, skip: undefined as string | undefined },
  { label: 'kubectl proxy', start: startKubectlProxy, skip: NO_KUBECTL },
] as const;

const SCENARIOS = [
  'kubectl get pods',
  'kubectl get --raw /version',
  'kubectl get pods --watch',
  'kubectl logs -f web-1',
  'kubectl logs web-1',
  'kubectl exec web-1 -- echo hello',
  'kubectl exec -i web-1 -- cat (stdin)',
  'kubectl exec, command fails (exit 127)',
  'kubectl exec rejected (default flags)',
  'kubectl exec refused by the API (403 relayed)',
  'client-node listNamespacedPod',
  'client-node Watch',
] as const;
type Scenario = (typeof SCENARIOS)[number];

const results = new Map<Scenario, Map<string, string>>(SCENARIOS.map((s) => [s, new Map(PROXIES.map((p) => [p.label, 'not run']))]));

/** What each proxy wrote on stderr during the suite (errors it logged), shown with the summary. */
const proxyLogs: string[] = [];

function note(s: Scenario, proxy: string, result: string): void {
  results.get(s)!.set(proxy, result);
}

function firstLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  const line = msg.split('\n').find((l) => l.trim() !== '') ?? '';
  return line.length > 100 ? line.slice(0, 100) + '…' : line;
}

// ---- clients -----------------------------------------------------------------------------------

interface Client {
  readonly child: ChildProcess;
  readonly stdout: string;
  readonly stderr: string;
  /** Null until the process has exited. */
  readonly exitCode: number | null;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves when stdout contains `pattern`; rejects if the process exits first or after the safety timeout. */
  waitForStdout(pattern: string | RegExp): Promise<void>;
  kill(): Promise<void>;
}

function output(c: { stdout: string; stderr: string }): string {
  return `\n--- stdout ---\n${c.stdout || '(empty)'}\n--- stderr ---\n${c.stderr || '(empty)'}`;
}

/** Asserts the exit code with the client's last stderr line in the first line of the message (it goes into the summary). */
function assertExit(r: { code: number | null; stdout: string; stderr: string }, expected: number): void {
  const last = r.stderr.trim().split('\n').pop() ?? '';
  assert.equal(r.code, expected, `exit code ${r.code}, expected ${expected}: ${last || '(no stderr)'}${output(r)}`);
}

/** A long-running client (watch, logs -f), killed by `afterEach` at the latest. */
function spawnClient(live: Set<Client>, command: string, args: string[]): Client {
  const label = [command, ...args].join(' ');
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let exitCode: number | null = null;
  const waiters = new Set<() => void>();
  const poke = (): void => {
    for (const w of waiters) w();
  };
  child.stdout!.setEncoding('utf8').on('data', (s: string) => {
    stdout += s;
    poke();
  });
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const safety = setTimeout(() => child.kill('SIGKILL'), CHILD_TIMEOUT_MS);
  safety.unref();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('error', (err) => {
      stderr += `spawn failed: ${err.message}\n`;
      exitCode = -1;
      resolve({ code: -1, signal: null });
    });
    child.once('close', (code, signal) => {
      clearTimeout(safety);
      exitCode = code ?? -1;
      resolve({ code, signal });
    });
  });
  exited.then(poke);
  const client: Client = {
    child,
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    get exitCode() {
      return exitCode;
    },
    exited,
    waitForStdout(pattern) {
      const matches = (): boolean => (typeof pattern === 'string' ? stdout.includes(pattern) : pattern.test(stdout));
      return new Promise<void>((resolve, reject) => {
        const done = (): void => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        const check = (): void => {
          if (matches()) {
            done();
            resolve();
          } else if (exitCode !== null) {
            done();
            reject(new Error(`${label}: exited (${exitCode}) before stdout matched ${String(pattern)}${output(client)}`));
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`${label}: stdout did not match ${String(pattern)} within ${CHILD_TIMEOUT_MS} ms${output(client)}`));
        }, CHILD_TIMEOUT_MS);
        timer.unref();
        waiters.add(check);
        check();
      });
    },
    async kill() {
      if (exitCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
  live.add(client);
  exited.then(() => live.delete(client));
  return client;
}

// ---- the fixture on its own ---------------------------------------------------------------------------

describe('kube-api fixture, no proxy', () => {
  let api: KubeApi;
  let dir: TempDir;
  before(async () => {
    api = await startKubeApi({ pki: await makePki(), tokens: [TOKEN], aggregatedDiscovery: false });
    dir = tempDir('kproxy-kube-api');
  });
  after(async () => {
    await api?.close();
    dir?.cleanup();
  });

  test('401 Status without the token', async () => {
    const pki = await makePki();
    const none = await request(`${api.url}/api/v1/namespaces/default/pods`, { tls: { ca: pki.ca } });
    assert.equal(none.status, 401);
    assert.deepEqual(none.json(), UNAUTHORIZED);
    const ok = await request(`${api.url}/api/v1/namespaces/default/pods`, { tls: { ca: pki.ca }, headers: { Authorization: `Bearer ${TOKEN}` } });
    assert.equal(ok.status, 200);
    assert.deepEqual(ok.json().items.map((p: { metadata: { name: string } }) => p.metadata.name), ['web-1', 'web-2']);
  });

  test('kubectl direct, legacy discovery: get pods', { skip: NO_KUBECTL, timeout: TEST_TIMEOUT_MS }, async () => {
    const pki = await makePki();
    const kubeconfig = writeKubeconfig(dir.path, { server: api.url, caData: pki.ca, token: TOKEN });
    const r = await runProcess(KUBECTL!, [`--kubeconfig=${kubeconfig}`, `--cache-dir=${dir.path}/cache`, 'get', 'pods'], { timeoutMs: CHILD_TIMEOUT_MS, env: { KUBECONFIG: undefined } });
    assertExit(r, 0);
    assert.match(r.stdout, /^web-1\s+1\/1\s+Running\s/m, output(r));
    // Without aggregated discovery kubectl falls back to the per-version document.
    assert.ok(api.requests.some((q) => q.path === '/api/v1'), api.requests.map((q) => q.target).join(', '));
  });
});

// ---- one suite per proxy ---------------------------------------------------------------------------

for (const proxyKind of PROXIES) {
  const P = proxyKind.label;
  describe(`through ${P}`, () => {
    let api: KubeApi;
    let dir: TempDir;
    /** Default flags: exec and attach rejected. */
    let proxy: Running;
    /** Exec allowed. */
    let execProxy: Running;
    const live = new Set<Client>();

    before(async () => {
      if (proxyKind.skip) return;
      const pki = await makePki();
      api = await startKubeApi({ pki, tokens: [TOKEN], execForbidden: ['web-2'] });
      dir = tempDir('kproxy-clients');
      const kubeconfig = writeKubeconfig(dir.path, { server: api.url, caData: pki.ca, token: TOKEN });
      const opts: StartOptions = { env: { KUBECONFIG: undefined } };
      [proxy, execProxy] = await Promise.all([
        proxyKind.start(['--port=0', `--kubeconfig=${kubeconfig}`], opts),
        proxyKind.start(['--port=0', `--kubeconfig=${kubeconfig}`, ...EXEC_ALLOWED], opts),
      ]);
    });

    afterEach(async () => {
      await Promise.all([...live].map((c) => c.kill()));
      api?.endWatches();
      api?.endLogs();
    });

    after(async () => {
      await Promise.all([...live].map((c) => c.kill()));
      await Promise.all([proxy?.stop(), execProxy?.stop()]);
      for (const [which, r] of [['default flags', proxy], ['exec allowed', execProxy]] as const) {
        if (r?.stderr.trim()) proxyLogs.push(`${P} (${which}) stderr:\n${r.stderr.trimEnd()}`);
      }
      await api?.close();
      dir?.cleanup();
    });

    /** kubectl as the client: no kubeconfig, no credentials, its own discovery cache. */
    const kubectlArgs = (via: Running, args: string[]): string[] => [`--server=${via.url}`, '--kubeconfig=/dev/null', `--cache-dir=${dir.path}/cache`, ...args];
    const kubectl = (via: Running, args: string[]): Promise<RunResult> => runProcess(KUBECTL!, kubectlArgs(via, args), { timeoutMs: CHILD_TIMEOUT_MS });

    const scenario = (name: Scenario, needsKubectl: boolean, fn: () => Promise<void>): void => {
      const skip = proxyKind.skip ?? (needsKubectl ? NO_KUBECTL : undefined);
      if (skip) note(name, P, 'skipped');
      test(name, { skip, timeout: TEST_TIMEOUT_MS }, async () => {
        note(name, P, 'did not finish (timeout?)');
        try {
          await fn();
          note(name, P, 'pass');
        } catch (err) {
          note(name, P, `FAIL: ${firstLine(err)}`);
          throw err;
        }
      });
    };

    const sinceNow = (): (() => KubeRequest[]) => {
      const from = api.requests.length;
      return () => api.requests.slice(from);
    };

    scenario('kubectl get pods', true, async () => {
      const seen = sinceNow();
      const r = await kubectl(proxy, ['get', 'pods']);
      assertExit(r, 0);
      assert.match(r.stdout, /^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\s*$/m, output(r));
      assert.match(r.stdout, /^web-1\s+1\/1\s+Running\s/m, output(r));
      assert.match(r.stdout, /^web-2\s+1\/1\s+Running\s/m, output(r));
      // The client sent no credential; the list reached the API with the proxy's token, as a Table.
      const list = seen().find((q) => q.path === '/api/v1/namespaces/default/pods');
      assert.ok(list, `no pod list reached the API: ${seen().map((q) => q.target).join(', ')}`);
      assert.equal(list.headers.authorization, `Bearer ${TOKEN}`);
      assert.match(list.headers.accept ?? '', /as=Table/);
    });

    scenario('kubectl get --raw /version', true, async () => {
      const r = await kubectl(proxy, ['get', '--raw', '/version']);
      assertExit(r, 0);
      assert.deepEqual(JSON.parse(r.stdout), KUBE_VERSION);
    });

    scenario('kubectl get pods --watch', true, async () => {
      const seen = sinceNow();
      const c = spawnClient(live, KUBECTL!, kubectlArgs(proxy, ['get', 'pods', '--watch']));
      await api.waitForWatchers(1, CHILD_TIMEOUT_MS);
      await c.waitForStdout(/^web-2\s/m);
      assert.doesNotMatch(c.stdout, /web-3/);
      api.emit('ADDED', makePod('web-3', 'default', 'Pending'));
      await c.waitForStdout(/^web-3\s+0\/1\s+Pending\s/m);
      // The event arrived while the watch was still open, not when the stream ended.
      assert.equal(c.exitCode, null, `kubectl exited early${output(c)}`);
      assert.equal(api.watchers, 1);
      const watch = seen().find((q) => q.query.get('watch') === 'true');
      assert.equal(watch?.headers.authorization, `Bearer ${TOKEN}`);
      await c.kill();
      // The client went away: the proxy must close its watch on the API server.
      await api.waitForStreamsClosed(CHILD_TIMEOUT_MS);
    });

    scenario('kubectl logs -f web-1', true, async () => {
      const c = spawnClient(live, KUBECTL!, kubectlArgs(proxy, ['logs', '-f', 'web-1']));
      await api.waitForLogFollowers(1, CHILD_TIMEOUT_MS);
      api.logLine('first line\n');
      await c.waitForStdout('first line\n');
      api.logLine('second line\n');
      await c.waitForStdout('first line\nsecond line\n');
      assert.equal(c.exitCode, null, `kubectl exited early${output(c)}`);
      assert.equal(api.endLogs(), 1);
      const { code } = await c.exited;
      assertExit({ code, stdout: c.stdout, stderr: c.stderr }, 0);
      assert.equal(c.stdout, 'first line\nsecond line\n');
    });

    scenario('kubectl logs web-1', true, async () => {
      const r = await kubectl(proxy, ['logs', 'web-1']);
      assertExit(r, 0);
      assert.equal(r.stdout, STATIC_LOG.replaceAll('<pod>', 'web-1'));
      const q = api.requests.filter((x) => x.path.endsWith('/pods/web-1/log')).pop();
      assert.equal(q?.query.get('follow'), null);
    });

    scenario('kubectl exec web-1 -- echo hello', true, async () => {
      const seen = sinceNow();
      const r = await kubectl(execProxy, ['exec', 'web-1', '--', 'echo', 'hello']);
      assertExit(r, 0);
      assert.equal(r.stdout, 'hello\n', output(r));
      const ups = seen().filter((q) => q.upgrade);
      assert.equal(ups.length, 1, `upgrades: ${ups.map((q) => `${q.method} ${q.target} ${q.headers.upgrade} -> ${q.status}`).join(', ')}`);
      const ex = ups[0]!;
      assert.equal(ex.method, 'GET');
      assert.equal(ex.path, EXEC_PATH);
      assert.deepEqual(ex.query.getAll('command'), ['echo', 'hello']);
      assert.equal(ex.headers.authorization, `Bearer ${TOKEN}`);
      assert.equal(ex.headers.upgrade?.toLowerCase(), 'websocket');
      assert.equal(ex.protocol, 'v5.channel.k8s.io');
      assert.equal(ex.status, 101);
    });

    scenario('kubectl exec -i web-1 -- cat (stdin)', true, async () => {
      // Bytes flow client → proxy → API too: stdin frames, then v5's "stdin closed" signal.
      const r = await runProcess(KUBECTL!, kubectlArgs(execProxy, ['exec', '-i', 'web-1', '--', 'cat']), { timeoutMs: CHILD_TIMEOUT_MS, input: 'ping\npong\n' });
      assertExit(r, 0);
      assert.equal(r.stdout, 'ping\npong\n', output(r));
    });

    scenario('kubectl exec, command fails (exit 127)', true, async () => {
      const r = await kubectl(execProxy, ['exec', 'web-1', '--', 'no-such-command']);
      // The exit code travels in the final Status on the error channel.
      assertExit(r, 127);
      assert.match(r.stderr, /executable file not found/, output(r));
      assert.match(r.stderr, /command terminated with exit code 127/, output(r));
    });

    scenario('kubectl exec rejected (default flags)', true, async () => {
      const seen = sinceNow();
      const r = await kubectl(proxy, ['exec', 'web-1', '--', 'echo', 'hello']);
      assert.notEqual(r.code, 0, `exit code 0, expected a failure${output(r)}`);
      // What kubectl prints after both its WebSocket and its SPDY attempt got the proxy's 403.
      assert.match(r.stderr, /^error: unable to upgrade connection: Forbidden$/m, output(r));
      assert.doesNotMatch(r.stdout, /hello/);
      // kubectl got as far as reading the pod; the exec itself (WebSocket, then SPDY) never left the proxy.
      assert.ok(seen().some((q) => q.path === '/api/v1/namespaces/default/pods/web-1'), 'the pod GET should reach the API');
      const execs = seen().filter((q) => q.path.endsWith('/exec'));
      assert.deepEqual(execs.map((q) => `${q.method} ${q.target}`), []);
    });

    scenario('kubectl exec refused by the API (403 relayed)', true, async () => {
      const seen = sinceNow();
      const r = await kubectl(execProxy, ['exec', 'web-2', '--', 'echo', 'hello']);
      assertExit(r, 1);
      // The API's Status reaches the user: the proxy relayed the 403 answer to the upgrade with its body.
      assert.match(r.stderr, /Error from server \(Forbidden\): pods "web-2" is forbidden: User "kproxy-test" cannot create resource "pods\/exec"/, output(r));
      // kubectl tries WebSocket, gets the 403, falls back to SPDY, gets it again: both reached the API.
      const execs = seen().filter((q) => q.path.endsWith('/pods/web-2/exec'));
      assert.deepEqual(
        execs.map((q) => `${q.method} ${q.headers.upgrade} ${q.status} ${q.headers.authorization}`),
        [`GET websocket 403 Bearer ${TOKEN}`, `POST SPDY/3.1 403 Bearer ${TOKEN}`],
      );
    });

    // client-node 1.4 refuses an http:// server unless `insecure-skip-tls-verify` is set (KubeConfig.createAgent
    // throws "HTTP protocol is not allowed when skipTLSVerify is not set or false"); there is no TLS to skip here.
    const clientNode = (via: Running): KubeConfig => {
      const kc = new KubeConfig();
      kc.loadFromString(
        JSON.stringify({
          apiVersion: 'v1',
          kind: 'Config',
          clusters: [{ name: 'proxy', cluster: { server: via.url, 'insecure-skip-tls-verify': true } }],
          users: [{ name: 'nobody', user: {} }],
          contexts: [{ name: 'proxy', context: { cluster: 'proxy', user: 'nobody', namespace: 'default' } }],
          'current-context': 'proxy',
        }),
      );
      return kc;
    };

    scenario('client-node listNamespacedPod', false, async () => {
      const seen = sinceNow();
      const core = clientNode(proxy).makeApiClient(CoreV1Api);
      const list = await core.listNamespacedPod({ namespace: 'default' });
      assert.deepEqual(list.items.map((p) => p.metadata?.name).sort(), ['web-1', 'web-2']);
      assert.equal(list.items[0]?.status?.phase, 'Running');
      const q = seen().find((x) => x.path === '/api/v1/namespaces/default/pods');
      assert.equal(q?.headers.authorization, `Bearer ${TOKEN}`);
    });

    scenario('client-node Watch', false, async () => {
      const seen = sinceNow();
      const events: Array<{ type: string; name: string | undefined }> = [];
      let onEvent: (() => void) | undefined;
      let doneErr: unknown = 'not called';
      let onDone: (() => void) | undefined;
      const doneCalled = new Promise<void>((r) => (onDone = r));
      const controller = await new Watch(clientNode(proxy)).watch(
        '/api/v1/namespaces/default/pods',
        {},
        (type, obj: { metadata?: { name?: string } }) => {
          events.push({ type, name: obj?.metadata?.name });
          onEvent?.();
        },
        (err) => {
          doneErr = err;
          onDone!();
        },
      );
      try {
        await api.waitForWatchers(1, CHILD_TIMEOUT_MS);
        const got = new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`no watch event within ${CHILD_TIMEOUT_MS} ms; done: ${String(doneErr)}`)), CHILD_TIMEOUT_MS);
          timer.unref();
          onEvent = () => {
            if (events.some((e) => e.name === 'web-4')) {
              clearTimeout(timer);
              resolve();
            }
          };
          doneCalled.then(() => reject(new Error(`watch ended before the event: ${String(doneErr)}`)));
        });
        api.emit('MODIFIED', makePod('web-4'));
        await got;
        assert.deepEqual(events, [{ type: 'MODIFIED', name: 'web-4' }]);
        assert.equal(doneErr, 'not called', 'the watch was still open when the event arrived');
        const watch = seen().find((q) => q.query.get('watch') === 'true' && q.path === '/api/v1/namespaces/default/pods');
        assert.equal(watch?.headers.authorization, `Bearer ${TOKEN}`);
      } finally {
        controller.abort();
      }
      await doneCalled;
      await api.waitForStreamsClosed(CHILD_TIMEOUT_MS);
    });
  });
}

// ---- summary ----------------------------------------------------------------------------------------

test('summary: scenario → result through each proxy', (t) => {
  const header = ['scenario', ...PROXIES.map((p) => p.label)];
  const rows = SCENARIOS.map((s) => [s, ...PROXIES.map((p) => results.get(s)!.get(p.label)!)]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ').trimEnd();
  t.diagnostic(line(header));
  for (const r of rows) t.diagnostic(line(r));
  if (NO_KUBECTL) t.diagnostic(`kubectl client and kubectl proxy skipped: ${NO_KUBECTL}`);
  for (const l of proxyLogs) for (const line of l.split('\n')) t.diagnostic(line);
});
