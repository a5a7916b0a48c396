// Property: whatever path a client builds (API segments, dot segments, empty segments,
// percent-encodings including %2e, %2F and the double-encoded %252e, query parameters), nothing
// reaches the API server that the API server would read as a request kproxy's rules refuse.
// Each request goes through a running kproxy (kubectl's default reject-paths, plus --read-only,
// deny and allow rules); the fake API server's record of what arrived is read the way the API
// server reads it (Go's path unescaping, then RequestInfo) and put to the same rules.
//
// fast-check picks a new seed each run and prints it with the shrunk counter-example on failure
// (re-run with `seed` and `path` in fc.assert's options to replay it).

import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { loadRules, type RuleFlags } from '../../src/rules/load.js';
import { checkRequest } from '../../src/rules/rules.js';
import { apiFixture } from '../helpers/fixture.js';
import type { Running } from '../helpers/proc.js';
import type { RecordedRequest } from '../helpers/upstream.js';

const RUNS = 300;

const fx = apiFixture('kproxy-rules-property');

// ---- what clients send --------------------------------------------------------------------

const WORDS = [
  'api', 'apis', 'v1', 'apps', 'namespaces', 'default', 'kube-system', 'pods', 'secrets', 'configmaps', 'services', 'nodes',
  'deployments', 'watch', 'proxy', 'exec', 'attach', 'portforward', 'log', 'status', 'finalize', 'p', 'admin-token', 'n:10250', 's:http', 'k8s',
];
const TRICKS = [
  '.', '..', '...', '', '%2e', '%2E', '%2e%2e', '.%2e', '%2E.', '%2F', '%2f', '%252e', '%252e%252e', '%252F', '%25', '%5C', 'a%2Fb', 'pods%2Fexec',
  '%2e%2e%2fsecrets', '..%2Fsecrets', 'secrets%2F..', ';x', 'a;b=c', '%3F', '%23', 'pods%00',
];
const PREFIXES = ['', '/api/v1', '/apis/apps/v1', '/api/v1/namespaces/default', '/api/v1/namespaces/kube-system', '/api/v1/watch', '/api/v1/proxy', '/apis/apps/v1/namespaces/default'];
const PARAMS = [
  'watch=1', 'watch=true', 'watch=0', 'watch=false', 'watch=FALSE', 'watch=fal%C5%BFe', 'watch=', 'watch', 'w%61tch=1', 'watch=1;x=0', 'watch=%zz',
  'watch=+0', 'fieldSelector=metadata.name%3Dp', 'fieldSelector=metadata.name%3Dadmin-token', 'fieldSelector=metadata.name%3Dp,foo', 'labelSelector=a%3Db',
  'fieldSelector=metadata.name%3Dweb-1', 'fieldSelector=metadata.name%3D%3Dweb-2', 'fieldSelector=metadata.name!%3Dweb-1', 'fieldSelector=spec.nodeName%3Dn,metadata.name%3Dweb-3',
  'follow=true', 'x=%2F..%2Fsecrets', 'command=sh', '+', '',
];
const METHODS = ['GET', 'GET', 'GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

/** A word with some of its bytes percent-encoded (either hex case), sometimes twice. */
const encodedWord = fc
  .tuple(fc.constantFrom(...WORDS), fc.array(fc.boolean(), { minLength: 16, maxLength: 16 }), fc.boolean(), fc.boolean())
  .map(([w, mask, lower, twice]) =>
    [...w]
      .map((c, i) => {
        if (!mask[i]) return c;
        const hex = c.charCodeAt(0).toString(16).padStart(2, '0');
        const h = lower ? hex : hex.toUpperCase();
        return twice ? `%25${h}` : `%${h}`;
      })
      .join(''),
  );

const segment = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(...WORDS) },
  { weight: 3, arbitrary: encodedWord },
  { weight: 2, arbitrary: fc.constantFrom(...TRICKS) },
);

/** A word as it is, or with some bytes percent-encoded. */
function word(...words: string[]) {
  return fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...words) },
    {
      weight: 1,
      arbitrary: fc.tuple(fc.constantFrom(...words), fc.nat()).map(([w, bits]) =>
        [...w].map((c, i) => ((bits >> i) & 1 ? '%' + c.charCodeAt(0).toString(16).toUpperCase() : c)).join(''),
      ),
    },
  );
}

/** The shape of a real API path: group/version, maybe a namespace, a resource, a name, a subresource. */
const apiPath = fc
  .tuple(
    fc.constantFrom('/api/v1', '/api/v1', '/apis/apps/v1', '/api/v1/watch', '/api/v1/proxy'),
    fc.option(word('default', 'kube-system', 'team-a'), { nil: undefined, freq: 4 }),
    word('pods', 'secrets', 'configmaps', 'services', 'nodes', 'deployments', 'namespaces'),
    fc.option(word('p', 'admin-token', 'web', 's:80', 'exec'), { nil: undefined, freq: 2 }),
    fc.option(word('log', 'exec', 'attach', 'portforward', 'proxy', 'status', 'scale'), { nil: undefined, freq: 2 }),
    fc.option(fc.array(segment, { minLength: 1, maxLength: 2 }), { nil: [], freq: 2 }),
  )
  .map(([gv, ns, res, name, sub, rest]) => {
    let p = gv + (ns === undefined ? '' : `/namespaces/${ns}`) + `/${res}`;
    if (name !== undefined) p += `/${name}` + (sub === undefined ? '' : `/${sub}`);
    return p + rest.map((s) => '/' + s).join('');
  });

const freePath = fc
  .tuple(fc.constantFrom(...PREFIXES), fc.array(segment, { maxLength: 6 }))
  .map(([prefix, segs]) => prefix + segs.map((s) => '/' + s).join(''));

/** Collections and objects whose verb hangs on the query (list or watch, a name from a field selector). */
const queryPath = fc
  .tuple(word('/api/v1/pods', '/api/v1/namespaces/default/pods', '/api/v1/namespaces/default/pods/web-1', '/api/v1/watch/pods', '/api/v1/watch/pods/web-1'))
  .map(([p]) => p);

/** Request targets under `mount` (the --api-prefix) most of the time. */
function targets(mount: string, paths: fc.Arbitrary<string> = fc.oneof({ weight: 2, arbitrary: apiPath }, { weight: 1, arbitrary: freePath })) {
  return fc
    .tuple(
      fc.integer({ min: 0, max: 9 }),
      paths,
      fc.boolean(),
      fc.option(fc.array(fc.constantFrom(...PARAMS), { maxLength: 4 }), { nil: undefined }),
    )
    .map(([dice, p, trailingSlash, params]) => {
      let path = (dice > 0 ? mount : '') + p + (trailingSlash ? '/' : '');
      if (path === '') path = '/';
      // A doubled leading slash, now and then: the router's redirect.
      if (dice === 9) path = '/' + path;
      return params === undefined ? path : `${path}?${params.join('&')}`;
    });
}

// ---- how the API server reads what arrived ----------------------------------------------------

/** Go's url.PathUnescape (what req.URL.Path holds), or undefined for a malformed escape. */
function goPathUnescape(raw: string): string | undefined {
  const bytes: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] !== '%') {
      bytes.push(...Buffer.from(raw[i]!, 'utf8'));
      continue;
    }
    const hex = raw.slice(i + 1, i + 3);
    if (!/^[0-9a-fA-F]{2}$/.test(hex)) return undefined;
    bytes.push(parseInt(hex, 16));
    i += 2;
  }
  return Buffer.from(bytes).toString('utf8');
}

// ---- sending ------------------------------------------------------------------------------

/**
 * Sends one request and resolves with the status once the response head has arrived. A
 * forwarded request is recorded by the fake API server before it answers, so it is in
 * `up.requests` by then; a forwarded watch never ends, so the body is not awaited.
 */
function send(proxy: Running, method: string, t: string): Promise<number> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const sock = net.connect({ host: '127.0.0.1', port: proxy.port });
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`${method} ${t}: no response head within 10 s; got ${JSON.stringify(buf)}`));
    }, 10_000);
    timer.unref();
    const done = (status: number) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(status);
    };
    sock.setEncoding('latin1');
    sock.on('connect', () => sock.write(`${method} ${t} HTTP/1.1\r\nHost: 127.0.0.1:${proxy.port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`));
    sock.on('data', (d: string) => {
      buf += d;
      if (buf.includes('\r\n\r\n')) done(Number(/^HTTP\/1\.1 (\d{3})/.exec(buf)?.[1] ?? 0));
    });
    sock.on('error', () => {});
    // kproxy never closes without an answer; if it does, the property fails on status 0.
    sock.on('close', () => done(buf.includes('\r\n\r\n') ? Number(/^HTTP\/1\.1 (\d{3})/.exec(buf)?.[1] ?? 0) : 0));
  });
}

// ---- the property -------------------------------------------------------------------------

interface Config {
  name: string;
  /** The --api-prefix without its trailing slash. */
  mount: string;
  /** What to send; default: API-shaped and free-form paths. */
  paths?: fc.Arbitrary<string>;
  args: string[];
  rules: Partial<RuleFlags>;
}

const ALLOW = 'get,list,watch pods,deployments.apps,services,configmaps -n default,team-*; get,list,watch nodes,namespaces; get pods/log,pods/status; list configmaps,secrets -n kube-system';

const CONFIGS: Config[] = [
  {
    name: '--read-only and deny rules',
    mount: '',
    args: ['--read-only', '--deny', '* secrets', '--deny', '* configmaps -n kube-system'],
    rules: { readOnly: true, deny: ['* secrets', '* configmaps -n kube-system'] },
  },
  {
    name: 'allow and deny rules under --api-prefix=/k8s/',
    mount: '/k8s',
    args: ['--api-prefix=/k8s/', '--allow', ALLOW, '--deny', 'get,list,watch pods admin-*'],
    rules: { allow: [ALLOW], deny: ['get,list,watch pods admin-*'] },
  },
  {
    name: '--read-only with --disable-filter',
    mount: '',
    args: ['--disable-filter', '--read-only', '--deny', 'get,list,watch secrets'],
    rules: { readOnly: true, deny: ['get,list,watch secrets'] },
  },
  {
    name: 'the query decides: list but not watch, watch only when a field selector pins the name',
    mount: '',
    paths: queryPath,
    args: ['--allow', 'list pods; watch pods web-*'],
    rules: { allow: ['list pods; watch pods web-*'] },
  },
];

describe('rules hold for every path a client can build', () => {
  for (const cfg of CONFIGS) {
    test(cfg.name, async () => {
      const proxy = await fx.procs.launch(['--kubeconfig', fx.kc, '--port=0', ...cfg.args]);
      const rules = loadRules({ readOnly: false, allow: [], deny: [], rulesFile: '', ...cfg.rules })!;
      const counts: Record<string, number> = { forwarded: 0, refused: 0 };
      /** Why the API server would refuse what arrived, or undefined. */
      const violation = (rec: RecordedRequest, sent: string): string | undefined => {
        const path = goPathUnescape(rec.path);
        // Harmless (Go's server answers 400), but kproxy refuses malformed escapes itself.
        if (path === undefined) return `${rec.method} ${sent} reached the API server with a malformed escape: ${rec.target}`;
        const d = checkRequest(rules, rec.method, path, rec.query);
        return d.allow ? undefined : `${rec.method} ${sent} reached the API server as ${rec.target}, which the rules refuse (${d.rule})`;
      };
      await fc.assert(
        fc.asyncProperty(fc.constantFrom(...METHODS), targets(cfg.mount, cfg.paths), async (method, t) => {
          const before = fx.up.requests.length;
          const status = await send(proxy, method, t);
          const arrived = fx.up.requests.slice(before);
          const outcome = arrived.length > 0 ? 'forwarded' : status === 403 ? 'refused' : `answered ${status}`;
          counts[outcome] = (counts[outcome] ?? 0) + 1;
          assert.notEqual(status, 0, `${method} ${t}: kproxy closed without an answer`);
          assert.deepEqual(arrived.map((rec) => violation(rec, t)).filter((v) => v !== undefined), []);
        }),
        { numRuns: RUNS },
      );
      await proxy.stop();
      // Not vacuous: both sides of the rules were exercised.
      assert.ok(counts.forwarded! >= 5, `forwarded ${JSON.stringify(counts)}`);
      assert.ok(counts.refused! >= 5, `refused ${JSON.stringify(counts)}`);
    });
  }
});
