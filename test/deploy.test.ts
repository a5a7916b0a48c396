// The container and the in-cluster manifests, tested without a container daemon (there is none
// here): the Dockerfile's and the manifests' promises are parsed and checked, and the image's
// entrypoint is run directly, from the unpacked `npm pack` tarball that the Dockerfile copies
// into the image, with the pod's arguments and the environment the pod gives it
// (KUBERNETES_SERVICE_HOST/PORT and a service-account folder; KPROXY_SERVICE_ACCOUNT_DIR stands
// in for /var/run/secrets/kubernetes.io/serviceaccount, which a test cannot write).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { request } from './helpers/http.js';
import { tempDir, type TempDir } from './helpers/kubeconfig.js';
import { packInto } from './helpers/pack.js';
import { makePki, type Pki } from './helpers/pki.js';
import { repoRoot, startProcess } from './helpers/proc.js';
import { startUpstream, type Upstream } from './helpers/upstream.js';

// Parsed YAML: shapes are checked by the assertions themselves.
type Obj = Record<string, any>;

interface Stage {
  from: string;
  lines: string[];
}

/** The Dockerfile's stages, continuation lines joined, comments dropped. */
function stages(text: string): Stage[] {
  const out: Stage[] = [];
  const logical = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  for (const l of logical) {
    const from = /^FROM\s+(\S+)/i.exec(l);
    if (from) out.push({ from: from[1]!, lines: [] });
    else out[out.length - 1]!.lines.push(l);
  }
  return out;
}

function instruction(stage: Stage, name: string): string | undefined {
  return stage.lines.filter((l) => l.toUpperCase().startsWith(`${name} `)).pop()?.slice(name.length + 1);
}

const dockerfile = stages(readFileSync(join(repoRoot(), 'Dockerfile'), 'utf8'));
const final = dockerfile[dockerfile.length - 1]!;
const manifests: Obj[] = readdirSync(join(repoRoot(), 'deploy'))
  .filter((f) => f.endsWith('.yaml'))
  .flatMap((f) =>
    parseAllDocuments(readFileSync(join(repoRoot(), 'deploy', f), 'utf8')).map((d) => {
      assert.deepEqual(d.errors, [], `deploy/${f}`);
      return d.toJS() as Obj;
    }),
  );
const one = (kind: string): Obj => {
  const found = manifests.filter((m) => m['kind'] === kind);
  assert.equal(found.length, 1, `one ${kind} in deploy/`);
  return found[0]!;
};
const pod = one('Pod');
const kproxyContainer = (pod['spec']['containers'] as Obj[]).find((c) => c['name'] === 'kproxy')!;

describe('Dockerfile', () => {
  test('multi-stage: the final image holds only what the build stage packed, and runs as non-root', () => {
    assert.ok(dockerfile.length >= 2, 'at least a build stage and a final stage');
    const copies = final.lines.filter((l) => /^COPY\b/i.test(l));
    assert.ok(copies.length > 0);
    for (const c of copies) assert.match(c, /^COPY --from=build \/out\/package \/opt\/kproxy$/, c);
    assert.ok(!final.lines.some((l) => /^RUN\b/i.test(l)), 'nothing is built or installed in the final stage');
    const user = instruction(final, 'USER');
    assert.match(user ?? '', /^[1-9]\d*(:\d+)?$/, 'a numeric non-root USER (runAsNonRoot can check it)');
    assert.equal(user!.split(':')[0], String(kproxyContainer['securityContext']['runAsUser']), 'the pod runs as the image user');
  });

  test('the build stage packs with npm pack (the bundle and its runtime dependencies, nothing else)', () => {
    const build = dockerfile[0]!;
    assert.match(build.from, /^node:20\b/);
    assert.ok(build.lines.some((l) => /npm pack --ignore-scripts/.test(l) && /tar -xzf kproxy-cli-\*\.tgz -C \/out/.test(l)));
  });
});

describe('deploy/ manifests', () => {
  test('a ServiceAccount, a least-privilege Role and the RoleBinding between them', () => {
    const sa = one('ServiceAccount');
    const role = one('Role');
    const binding = one('RoleBinding');
    const ns = sa['metadata']['namespace'];
    for (const m of [role, binding, pod]) assert.equal(m['metadata']['namespace'], ns, `${m['kind']} in the service account's namespace`);
    assert.deepEqual(binding['roleRef'], { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: role['metadata']['name'] });
    assert.deepEqual(binding['subjects'], [{ kind: 'ServiceAccount', name: sa['metadata']['name'], namespace: ns }]);
    assert.ok(!manifests.some((m) => /^Cluster/.test(m['kind'])), 'no cluster-wide grants');
    for (const rule of role['rules'] as Obj[]) {
      for (const field of ['apiGroups', 'resources', 'verbs']) assert.ok(!(rule[field] as string[]).includes('*'), `no wildcard ${field}`);
      for (const verb of rule['verbs'] as string[]) assert.ok(['get', 'list', 'watch'].includes(verb), `read-only verbs, not ${verb}`);
      assert.ok(!(rule['resources'] as string[]).some((r) => /secrets|pods\/(exec|attach|portforward)/.test(r)));
    }
  });

  test('the pod: kproxy beside the app on 127.0.0.1:8001, locked down, with the service account', () => {
    const spec = pod['spec'];
    assert.equal(spec['serviceAccountName'], one('ServiceAccount')['metadata']['name']);
    assert.notEqual(spec['automountServiceAccountToken'], false, 'in-cluster configuration needs the token');
    const containers = spec['containers'] as Obj[];
    assert.equal(containers.length, 2);
    const app = containers.find((c) => c['name'] !== 'kproxy')!;
    assert.match(JSON.stringify(app['command'] ?? app['args']), /http:\/\/127\.0\.0\.1:8001\//);
    assert.ok((kproxyContainer['args'] as string[]).includes('--address=127.0.0.1'));
    assert.ok((kproxyContainer['args'] as string[]).includes('--port=8001'));
    assert.equal(kproxyContainer['ports'], undefined, 'nothing exposed beyond the pod');
    for (const c of containers) {
      const sc = c['securityContext'];
      assert.equal(sc['allowPrivilegeEscalation'], false, c['name']);
      assert.equal(sc['readOnlyRootFilesystem'], true, c['name']);
      assert.deepEqual(sc['capabilities'], { drop: ['ALL'] }, c['name']);
      assert.ok(Number.isInteger(sc['runAsUser'] ?? spec['securityContext']?.['runAsUser']) || sc['runAsNonRoot'] === true, c['name']);
    }
    assert.equal(spec['securityContext']['runAsNonRoot'], true);
  });
});

describe('the image entrypoint, run directly as the pod runs it', () => {
  let pki: Pki;
  let up: Upstream;
  let dir: TempDir;
  let imageRoot: string;

  before(async () => {
    pki = await makePki();
    up = await startUpstream({ pki, tokens: ['sa-token-1'] });
    dir = tempDir('kproxy-deploy');
    // What the build stage does: npm pack (of the bundle `npm test` built), unpacked into /out.
    const { tarball } = packInto(dir.path);
    imageRoot = join(dir.path, 'image');
    mkdirSync(join(imageRoot, 'out'), { recursive: true });
    const tar = spawnSync('tar', ['-xzf', tarball, '-C', join(imageRoot, 'out')], { encoding: 'utf8' });
    assert.equal(tar.status, 0, tar.stderr);
  });

  after(async () => {
    await up?.close();
    dir?.cleanup();
  });

  test('in-cluster configuration, the pod\'s filter, and no file written', async () => {
    const entrypoint = JSON.parse(instruction(final, 'ENTRYPOINT')!) as string[];
    assert.deepEqual(entrypoint.slice(0, 2), ['/nodejs/bin/node', '/opt/kproxy/bin/kproxy']);
    // The image's paths on this machine: its node is the test's, /opt/kproxy the unpacked tarball.
    const script = join(imageRoot, 'out', 'package', entrypoint[1]!.slice('/opt/kproxy/'.length));
    const sa = join(dir.path, 'serviceaccount');
    mkdirSync(sa);
    writeFileSync(join(sa, 'token'), 'sa-token-1\n');
    writeFileSync(join(sa, 'ca.crt'), pki.ca);
    writeFileSync(join(sa, 'namespace'), 'default');
    // What kproxy may write to: if it wrote anything, it would show up in these.
    const cwd = join(dir.path, 'cwd');
    const tmp = join(dir.path, 'tmp');
    mkdirSync(cwd);
    mkdirSync(tmp);
    const clean: Record<string, string | undefined> = Object.fromEntries(Object.keys(process.env).map((k) => [k, undefined]));
    const args = (kproxyContainer['args'] as string[]).map((a) => (a === '--port=8001' ? '--port=0' : a));
    const p = await startProcess(process.execPath, [script, ...args], {
      cwd,
      env: {
        ...clean,
        PATH: join(dir.path, 'no-bin'),
        HOME: '/home/nonroot',
        TMPDIR: tmp,
        KUBERNETES_SERVICE_HOST: '127.0.0.1',
        KUBERNETES_SERVICE_PORT: String(up.port),
        KUBERNETES_SERVICE_PORT_HTTPS: String(up.port),
        KPROXY_SERVICE_ACCOUNT_DIR: sa,
      },
    });
    try {
      assert.equal(p.host, '127.0.0.1');
      const list = await request(`${p.url}/api/v1/namespaces/default/pods?limit=1`);
      assert.equal(list.status, 200, list.body.toString());
      assert.equal(up.requests.at(-1)!.identity, 'bearer:sa-token-1');
      assert.equal((await request(`${p.url}/api/v1/namespaces/default/secrets`)).status, 403, 'outside --accept-paths');
      assert.equal((await request(`${p.url}/api/v1/namespaces/default/pods`, { method: 'POST', body: '{}' })).status, 403, '--reject-methods');
    } finally {
      await p.stop();
    }
    assert.deepEqual(readdirSync(cwd), []);
    assert.deepEqual(readdirSync(tmp), []);
  });

  test('the image\'s default CMD listens where the pod\'s app connects', () => {
    const cmd = JSON.parse(instruction(final, 'CMD')!) as string[];
    assert.deepEqual(cmd, ['--address=127.0.0.1', '--port=8001']);
  });
});
