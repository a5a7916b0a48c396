// A fake Kubernetes API server with just enough of the API for real clients (kubectl 1.32 and
// @kubernetes/client-node) to run `get`, `get --watch`, `get --raw`, `logs -f` and `exec` against
// it, through a proxy. Everything that streams is driven by the test (`emit`, `logLine`,
// `endLogs`), never by timers, and every wait resolves from the code that changes the state.
//
// What kubectl 1.32 calls (seen with `-v=8`):
//   - discovery: `GET /api` and `GET /apis` with
//     `Accept: application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,…,application/json`.
//     We answer aggregated discovery (v2) when it is asked for; otherwise (or with
//     `aggregatedDiscovery: false`) the legacy documents `/api` (APIVersions), `/apis`
//     (APIGroupList) and `/api/v1` (APIResourceList), which kubectl then fetches one by one.
//     No OpenAPI document is needed for get/logs/exec.
//   - `get pods`: `GET /api/v1/namespaces/default/pods?limit=500` with
//     `Accept: application/json;as=Table;v=v1;g=meta.k8s.io,…` → a meta.k8s.io/v1 Table.
//   - `get pods --watch`: the list above, then `…/pods?resourceVersion=<rv>&watch=true` with the
//     same Accept, so every watch event carries a one-row Table.
//   - `logs -f`: `GET …/pods/<p>` then `GET …/pods/<p>/log?container=main&follow=true`.
//   - `exec`: `GET …/pods/<p>` then a WebSocket upgrade `GET …/pods/<p>/exec?command=…` offering
//     `v5.channel.k8s.io, v4.channel.k8s.io, …`; only if that fails with an upgrade failure does
//     it fall back to SPDY (`POST`, `Upgrade: SPDY/3.1`). The fixture speaks v5/v4 over WebSocket
//     only (see `runExec` for the commands) and answers a SPDY attempt with 400 and a Status
//     saying so, so a broken WebSocket path shows up as that message, not as a silent fallback.

import { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse, STATUS_CODES } from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Pki } from './pki.js';
import { FakeServer, versionInfo } from './fake-server.js';

export interface KubeApiOptions {
  pki: Pki;
  /** Accepted bearer tokens; anything else gets 401 with a Status body. */
  tokens: string[];
  /** Answer aggregated discovery when asked (default true); false forces kubectl's legacy fallback. */
  aggregatedDiscovery?: boolean;
  /** Pods whose exec the API server itself refuses with 403 (as RBAC would), on WebSocket and SPDY alike. */
  execForbidden?: string[];
}

export interface KubeRequest {
  /** Arrival order, from 1; survives `reset()`. */
  seq: number;
  method: string;
  /** `req.url` as received. */
  target: string;
  /** Percent-encoded path, without the query. */
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  /** Came through the `upgrade` event (WebSocket or SPDY). */
  upgrade: boolean;
  /** What the fixture answered (101 for an accepted WebSocket). */
  status: number;
  /** The WebSocket subprotocol chosen for an exec, if any. */
  protocol?: string;
}

export interface KubeApi {
  /** `https://127.0.0.1:<port>`. */
  readonly url: string;
  readonly port: number;
  /** Every request, upgrades included, in arrival order. */
  readonly requests: KubeRequest[];
  /** The upgrade requests only (exec over WebSocket, or a refused SPDY attempt). */
  readonly upgrades: KubeRequest[];
  /** Open pod watches. */
  readonly watchers: number;
  /** Open `log?follow=true` streams. */
  readonly logFollowers: number;
  /** Resolves once at least `n` pod watches are open. */
  waitForWatchers(n: number, timeoutMs?: number): Promise<void>;
  /** Resolves once at least `n` log followers are open. */
  waitForLogFollowers(n: number, timeoutMs?: number): Promise<void>;
  /** Resolves once no pod watch and no log follower is open (for example after the proxy saw its client go away). */
  waitForStreamsClosed(timeoutMs?: number): Promise<void>;
  /** Resolves with the first recorded request matching `pred` (already recorded or future). */
  waitForRequest(pred: (r: KubeRequest) => boolean, timeoutMs?: number): Promise<KubeRequest>;
  /**
   * Sends a watch event to every open pod watch whose namespace matches the pod: a one-row Table
   * to watches that asked for `as=Table`, the Pod itself otherwise. The fixed pod set is not
   * changed. Throws when no watch is open. Returns the number of watches written to.
   */
  emit(type: 'ADDED' | 'MODIFIED' | 'DELETED', pod: Pod): number;
  /** Ends every open watch (the server closing it); returns how many. */
  endWatches(): number;
  /** Writes `text` verbatim to every open log follower; throws when none is open. */
  logLine(text: string): void;
  /** Ends every log follower; returns how many. */
  endLogs(): number;
  /** What `GET /readyz` answers: 200 `ok` while true (the default), 500 with a failed check when false. */
  ready: boolean;
  /** Forgets recorded requests; open streams stay open. */
  reset(): void;
  /** Stops listening, ends WebSocket clients and destroys every socket. Idempotent. */
  close(): Promise<void>;
}

export interface Pod {
  apiVersion: 'v1';
  kind: 'Pod';
  metadata: { name: string; namespace: string; uid: string; resourceVersion: string; creationTimestamp: string; labels?: Record<string, string> };
  spec: { containers: Array<{ name: string; image: string }>; nodeName?: string };
  status: { phase: string; podIP?: string; containerStatuses?: Array<{ name: string; ready: boolean; restartCount: number; image: string; imageID: string; started: boolean; state: Record<string, unknown> }> };
}

export const NAMESPACE = 'default';
export const POD_NAMES = ['web-1', 'web-2'] as const;
/** What `GET …/pods/<p>/log` (without follow) returns; `<pod>` is replaced by the pod name. */
export const STATIC_LOG = 'log of <pod>: line 1\nlog of <pod>: line 2\n';

export const KUBE_VERSION = versionInfo('v1.32.5-kproxy-kube-api');

// Pods were "created" ten minutes before the module loaded, so AGE is stable within a run.
const CREATED = new Date(Math.floor(Date.now() / 1000) * 1000 - 10 * 60 * 1000).toISOString().replace('.000Z', 'Z');
let rvCounter = 1000;

/** A running single-container pod (container `main`), as the API would return it. */
export function makePod(name: string, namespace = NAMESPACE, phase = 'Running'): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, uid: `uid-${namespace}-${name}`, resourceVersion: String(++rvCounter), creationTimestamp: CREATED, labels: { app: 'web' } },
    spec: { containers: [{ name: 'main', image: 'busybox' }], nodeName: 'node-1' },
    status: {
      phase,
      podIP: '10.0.0.1',
      containerStatuses: [
        { name: 'main', ready: phase === 'Running', restartCount: 0, image: 'busybox', imageID: 'docker.io/library/busybox@sha256:0', started: phase === 'Running', state: { running: { startedAt: CREATED } } },
      ],
    },
  };
}

function status(code: number, reason: string, message: string): object {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}

export const UNAUTHORIZED = status(401, 'Unauthorized', 'Unauthorized');

// ---- discovery documents ---------------------------------------------------------------------

const POD_VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

function apiResourceList(): object {
  return {
    kind: 'APIResourceList',
    groupVersion: 'v1',
    resources: [
      { name: 'pods', singularName: 'pod', namespaced: true, kind: 'Pod', verbs: POD_VERBS, shortNames: ['po'], categories: ['all'] },
      { name: 'pods/exec', singularName: '', namespaced: true, kind: 'PodExecOptions', verbs: ['create', 'get'] },
      { name: 'pods/log', singularName: '', namespaced: true, kind: 'Pod', verbs: ['get'] },
    ],
  };
}

const AGGREGATED_TYPE = 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList';

function aggregatedCore(): object {
  return {
    kind: 'APIGroupDiscoveryList',
    apiVersion: 'apidiscovery.k8s.io/v2',
    metadata: {},
    items: [
      {
        metadata: { creationTimestamp: null },
        versions: [
          {
            version: 'v1',
            freshness: 'Current',
            resources: [
              {
                resource: 'pods',
                responseKind: { group: '', version: 'v1', kind: 'Pod' },
                scope: 'Namespaced',
                singularResource: 'pod',
                verbs: POD_VERBS,
                shortNames: ['po'],
                categories: ['all'],
                subresources: [
                  { subresource: 'exec', responseKind: { group: '', version: 'v1', kind: 'PodExecOptions' }, verbs: ['create', 'get'] },
                  { subresource: 'log', responseKind: { group: '', version: 'v1', kind: 'Pod' }, verbs: ['get'] },
                ],
              },
            ],
          },
        ],
      },
    ],
  };
}

const AGGREGATED_GROUPS = { kind: 'APIGroupDiscoveryList', apiVersion: 'apidiscovery.k8s.io/v2', metadata: {}, items: [] };

// ---- tables ------------------------------------------------------------------------------------

const POD_COLUMNS = [
  { name: 'Name', type: 'string', format: 'name', description: 'Name must be unique within a namespace.', priority: 0 },
  { name: 'Ready', type: 'string', format: '', description: 'The aggregate readiness state of this pod for accepting traffic.', priority: 0 },
  { name: 'Status', type: 'string', format: '', description: 'The aggregate status of the containers in this pod.', priority: 0 },
  { name: 'Restarts', type: 'string', format: '', description: 'The number of times the containers in this pod have been restarted.', priority: 0 },
  { name: 'Age', type: 'string', format: '', description: 'CreationTimestamp is a timestamp representing the server time when this object was created.', priority: 0 },
];

function age(created: string): string {
  const s = Math.max(0, Math.floor((Date.now() - Date.parse(created)) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 2 * 3600) return `${Math.floor(s / 60)}m`;
  return `${Math.floor(s / 3600)}h`;
}

function podRow(p: Pod): object {
  const statuses = p.status.containerStatuses ?? [];
  return {
    cells: [p.metadata.name, `${statuses.filter((c) => c.ready).length}/${p.spec.containers.length}`, p.status.phase, '0', age(p.metadata.creationTimestamp)],
    object: { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: p.metadata },
  };
}

function podTable(pods: Pod[], resourceVersion: string): object {
  return { kind: 'Table', apiVersion: 'meta.k8s.io/v1', metadata: { resourceVersion }, columnDefinitions: POD_COLUMNS, rows: pods.map(podRow) };
}

function wantsTable(req: IncomingMessage): boolean {
  return /(^|[;,\s])as=Table(;|,|$)/.test(req.headers.accept ?? '');
}

function wantsAggregated(req: IncomingMessage): boolean {
  return (req.headers.accept ?? '').includes('as=APIGroupDiscoveryList');
}

// ---- the server ----------------------------------------------------------------------------------

interface WatchStream {
  res: ServerResponse;
  namespace: string | undefined;
  table: boolean;
}

const POD_PATH = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)(?:\/(log|exec|attach|portforward))?$/;
const PODS_PATH = /^\/api\/v1(?:\/namespaces\/([^/]+))?\/pods$/;

/** The WebSocket subprotocols kubectl ≥1.30 offers for exec, the ones we accept, best first. */
const EXEC_PROTOCOLS = ['v5.channel.k8s.io', 'v4.channel.k8s.io'];

class KubeApiServer extends FakeServer<WatchStream> implements KubeApi {
  requests: KubeRequest[] = [];
  ready = true;

  private seq = 0;
  protected readonly server: https.Server;
  private readonly wss: WebSocketServer;
  private readonly pods: Pod[];
  /** Above the fixed pods' versions, below those of pods made later for `emit`. */
  private readonly listVersion: string;

  constructor(private readonly opts: KubeApiOptions) {
    super('kube-api');
    this.pods = POD_NAMES.map((n) => makePod(n));
    this.listVersion = String(++rvCounter);
    this.server = https.createServer({
      key: opts.pki.server.key,
      cert: opts.pki.server.cert,
      ALPNProtocols: ['http/1.1'],
      // The proxies keep connections and watches open; a server-side timeout would look like a proxy bug.
      requestTimeout: 0,
    });
    this.server.keepAliveTimeout = 0;
    this.server.on('connection', (s: Socket) => this.track(s));
    this.server.on('secureConnection', (s: Socket) => this.track(s));
    this.server.on('request', (req, res) => this.onRequest(req, res));
    this.server.on('upgrade', (req, socket, head) => this.onUpgrade(req, socket, head));
    this.wss = new WebSocketServer({
      noServer: true,
      perMessageDeflate: false,
      handleProtocols: (offered) => EXEC_PROTOCOLS.find((p) => offered.has(p)) ?? false,
    });
  }

  listen(): Promise<void> {
    return this.listenOn('127.0.0.1', 'https');
  }

  protected describeRequests(): string {
    return this.requests.map((r) => `  #${r.seq} ${r.method} ${r.target} -> ${r.status}`).join('\n');
  }

  get upgrades(): KubeRequest[] {
    return this.requests.filter((r) => r.upgrade);
  }


  waitForWatchers(n: number, timeoutMs?: number): Promise<void> {
    return this.waitUntil(`${n} open pod watch(es)`, () => this.watchStreams.size >= n, timeoutMs);
  }

  waitForStreamsClosed(timeoutMs?: number): Promise<void> {
    return this.waitUntil(
      `every stream to close (${this.watchStreams.size} watch(es), ${this.logStreams.size} log follower(s) open)`,
      () => this.watchStreams.size === 0 && this.logStreams.size === 0,
      timeoutMs,
    );
  }

  async waitForRequest(pred: (r: KubeRequest) => boolean, timeoutMs?: number): Promise<KubeRequest> {
    let found: KubeRequest | undefined;
    await this.waitUntil('a matching request', () => (found = this.requests.find(pred)) !== undefined, timeoutMs);
    return found!;
  }

  emit(type: 'ADDED' | 'MODIFIED' | 'DELETED', pod: Pod): number {
    let n = 0;
    for (const w of this.watchStreams) {
      if (w.namespace !== undefined && w.namespace !== pod.metadata.namespace) continue;
      const object = w.table ? podTable([pod], pod.metadata.resourceVersion) : pod;
      w.res.write(JSON.stringify({ type, object }) + '\n');
      n++;
    }
    if (n === 0) throw new Error(`kube-api: no open pod watch for namespace ${pod.metadata.namespace} (await api.waitForWatchers(1) first)`);
    return n;
  }

  protected watchResponse(w: WatchStream): ServerResponse {
    return w.res;
  }

  logLine(text: string): void {
    this.writeLogs(text, 'kube-api: no log follower is open (await api.waitForLogFollowers(1) first)');
  }

  reset(): void {
    this.requests = [];
  }

  protected override beforeClose(): void {
    for (const ws of this.wss.clients) ws.terminate();
    this.wss.close();
  }

  // ---- requests --------------------------------------------------------------------------------

  private record(req: IncomingMessage, upgrade: boolean): KubeRequest {
    const target = req.url ?? '';
    const q = target.indexOf('?');
    const rec: KubeRequest = {
      seq: ++this.seq,
      method: req.method ?? '',
      target,
      path: q < 0 ? target : target.slice(0, q),
      query: new URLSearchParams(q < 0 ? '' : target.slice(q + 1)),
      headers: req.headers,
      rawHeaders: req.rawHeaders,
      upgrade,
      status: 0,
    };
    this.requests.push(rec);
    return rec;
  }

  private authorized(req: IncomingMessage): boolean {
    const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
    return m !== null && this.opts.tokens.includes(m[1]!);
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const rec = this.record(req, false);
    // Record first, then tell waiters, once the status is known.
    const json = (code: number, body: unknown, type = 'application/json'): void => {
      rec.status = code;
      const text = JSON.stringify(body);
      res.writeHead(code, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-cache, private' });
      res.end(text);
      this.poke();
    };
    req.resume();
    if (!this.authorized(req)) return json(401, UNAUTHORIZED);
    const path = rec.path;
    const query = rec.query;

    if (req.method !== 'GET') return json(405, status(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource`));

    if (path === '/version') return json(200, KUBE_VERSION);
    if (path === '/readyz') {
      const text = this.ready ? 'ok' : '[+]ping ok\n[-]etcd failed: reason withheld\nreadyz check failed\n';
      rec.status = this.ready ? 200 : 500;
      res.writeHead(rec.status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
      res.end(text);
      this.poke();
      return;
    }
    if (path === '/api') {
      if (this.aggregated(req)) return json(200, aggregatedCore(), AGGREGATED_TYPE);
      return json(200, { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: `127.0.0.1:${this.port}` }] });
    }
    if (path === '/apis') {
      if (this.aggregated(req)) return json(200, AGGREGATED_GROUPS, AGGREGATED_TYPE);
      return json(200, { kind: 'APIGroupList', apiVersion: 'v1', groups: [] });
    }
    if (path === '/api/v1') return json(200, apiResourceList());

    const list = PODS_PATH.exec(path);
    if (list) {
      const ns = list[1] === undefined ? undefined : decodeURIComponent(list[1]);
      if (query.get('watch') === 'true' || query.get('watch') === '1') return this.startWatch(rec, res, ns, wantsTable(req));
      const pods = this.pods.filter((p) => ns === undefined || p.metadata.namespace === ns);
      if (wantsTable(req)) return json(200, podTable(pods, this.listVersion), 'application/json');
      return json(200, { kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: this.listVersion }, items: pods });
    }

    const one = POD_PATH.exec(path);
    if (one) {
      const ns = decodeURIComponent(one[1]!);
      const name = decodeURIComponent(one[2]!);
      const pod = this.pods.find((p) => p.metadata.namespace === ns && p.metadata.name === name);
      if (!pod) return json(404, { ...status(404, 'NotFound', `pods "${name}" not found`), details: { name, kind: 'pods' } });
      switch (one[3]) {
        case undefined:
          if (wantsTable(req)) return json(200, podTable([pod], pod.metadata.resourceVersion));
          return json(200, pod);
        case 'log':
          return this.startLog(rec, res, name, query.get('follow') === 'true' || query.get('follow') === '1');
        default:
          // exec/attach/portforward without an upgrade: what the apiserver says.
          return json(400, status(400, 'BadRequest', 'Upgrade request required'));
      }
    }
    return json(404, status(404, 'NotFound', 'the server could not find the requested resource'));
  }

  private aggregated(req: IncomingMessage): boolean {
    return this.opts.aggregatedDiscovery !== false && wantsAggregated(req);
  }

  private startWatch(rec: KubeRequest, res: ServerResponse, namespace: string | undefined, table: boolean): void {
    rec.status = 200;
    res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private' });
    res.flushHeaders();
    const w: WatchStream = { res, namespace, table };
    this.watchStreams.add(w);
    res.on('close', () => {
      this.watchStreams.delete(w);
      this.poke();
    });
    this.poke();
  }

  private startLog(rec: KubeRequest, res: ServerResponse, pod: string, follow: boolean): void {
    rec.status = 200;
    if (!follow) {
      const text = STATIC_LOG.replaceAll('<pod>', pod);
      res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(text) });
      res.end(text);
      this.poke();
      return;
    }
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Cache-Control': 'no-cache, private' });
    res.flushHeaders();
    this.logStreams.add(res);
    res.on('close', () => {
      this.logStreams.delete(res);
      this.poke();
    });
    this.poke();
  }

  // ---- upgrades: exec over WebSocket -------------------------------------------------------------

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const rec = this.record(req, true);
    socket.on('error', () => {});
    const refuse = (code: number, body: object): void => {
      rec.status = code;
      const text = JSON.stringify(body);
      socket.end(
        [`HTTP/1.1 ${code} ${STATUS_CODES[code] ?? ''}`, 'Content-Type: application/json', `Content-Length: ${Buffer.byteLength(text)}`, 'Connection: close', '', text].join('\r\n'),
      );
      this.poke();
    };
    if (!this.authorized(req)) return refuse(401, UNAUTHORIZED);
    const m = POD_PATH.exec(rec.path);
    const pod = m && this.pods.find((p) => p.metadata.namespace === decodeURIComponent(m[1]!) && p.metadata.name === decodeURIComponent(m[2]!));
    if (!m || m[3] !== 'exec') return refuse(404, status(404, 'NotFound', 'the server could not find the requested resource'));
    if (!pod) return refuse(404, status(404, 'NotFound', `pods "${decodeURIComponent(m[2]!)}" not found`));
    if (this.opts.execForbidden?.includes(pod.metadata.name)) {
      return refuse(403, {
        ...status(403, 'Forbidden', `pods "${pod.metadata.name}" is forbidden: User "kproxy-test" cannot create resource "pods/exec" in API group "" in the namespace "${pod.metadata.namespace}"`),
        details: { name: pod.metadata.name, kind: 'pods' },
      });
    }

    const proto = (req.headers.upgrade ?? '').toLowerCase();
    if (proto !== 'websocket' || req.method !== 'GET') {
      // kubectl ≥1.30 speaks exec over WebSocket first and falls back to SPDY (POST, `Upgrade:
      // SPDY/3.1`) only when the WebSocket upgrade fails. This fixture has no SPDY: a SPDY attempt
      // means the WebSocket path broke somewhere (most likely in the proxy), and answering 400 with
      // this message makes kubectl print it instead of hanging or silently passing over SPDY.
      return refuse(400, status(400, 'BadRequest', `kube-api fixture: exec is served over WebSocket (${EXEC_PROTOCOLS.join(', ')}) only, got Upgrade: ${req.headers.upgrade ?? ''} ${req.method}`));
    }
    const offered = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((s) => s.trim());
    const chosen = EXEC_PROTOCOLS.find((p) => offered.includes(p));
    if (chosen === undefined) return refuse(400, status(400, 'BadRequest', `kube-api fixture: none of ${EXEC_PROTOCOLS.join(', ')} offered (got ${offered.join(', ') || 'none'})`));

    const command = rec.query.getAll('command');
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      rec.status = 101;
      rec.protocol = ws.protocol;
      this.poke();
      this.runExec(ws, command);
    });
  }

  /**
   * The channel protocol: each binary message starts with the stream id (0 stdin, 1 stdout,
   * 2 stderr, 3 error; v5 adds 255, a "close stream <id>" signal); the error stream carries the
   * final Status, then the server closes. Commands:
   *   - `echo …` prints its arguments;
   *   - `cat` copies stdin to stdout until the client closes stdin (v5 only: `[255, 0]`);
   *   - anything else is "executable file not found", exit code 127.
   */
  private runExec(ws: WebSocket, command: string[]): void {
    const frame = (channel: number, data: string | Buffer): Buffer => Buffer.concat([Buffer.from([channel]), Buffer.from(data)]);
    const finish = (st: object): void => {
      ws.send(frame(3, JSON.stringify(st)));
      ws.close(1000);
    };
    const success = { metadata: {}, status: 'Success' };
    ws.on('error', () => {});
    if (command[0] === 'cat') {
      ws.on('message', (data: Buffer, isBinary: boolean) => {
        if (!isBinary || data.length === 0) return;
        if (data[0] === 0) ws.send(frame(1, data.subarray(1)));
        else if (data[0] === 255 && data[1] === 0) finish(success);
      });
      return;
    }
    // Client messages (resize, close signals) are not needed for the other commands.
    ws.on('message', () => {});
    if (command[0] === 'echo') {
      ws.send(frame(1, command.slice(1).join(' ') + '\n'));
      return finish(success);
    }
    ws.send(frame(2, `exec: "${command[0] ?? ''}": executable file not found in $PATH\n`));
    finish({
      metadata: {},
      status: 'Failure',
      message: 'command terminated with non-zero exit code: exit status 127',
      reason: 'NonZeroExitCode',
      details: { causes: [{ reason: 'ExitCode', message: '127' }] },
    });
  }
}

export async function startKubeApi(opts: KubeApiOptions): Promise<KubeApi> {
  const api = new KubeApiServer(opts);
  await api.listen();
  return api;
}
