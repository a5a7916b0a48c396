// golang/go#70130, encoded dot segments. Since Go 1.22 ServeMux cleans the *escaped* path, so
// `%2e%2e` is neither cleaned nor redirected: kubectl 1.30 to 1.33 hand the filter the decoded
// `/apis/../api/v1/namespaces/default/pods/foo/exec`, which the default `^/api/.*/pods/.*/exec`
// does not match, and forward the raw target upstream (a normalising intermediary would then run
// the exec). Likewise `--accept-paths='^/api/v1/namespaces/default/'` lets
// `/api/v1/namespaces/default/%2e%2e/kube-system/secrets` out of the namespace. kproxy answers 400
// to any path with dot or empty segments spelled with %2E/%2F, and forwards nothing
// (docs/kubectl-proxy-reference.md §3.1, §3.2; the pure route table rows are in test/mux.test.ts).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { request } from '../helpers/http.js';
import { defaultFlags } from '../differential/default-flags.js';
import { acceptPaths } from '../differential/filter-flags.js';
import { fwd, GET, type Row } from '../differential/harness.js';
import { describeDifferential } from '../differential/runner.js';
import { P, up, useKproxyInFront } from './fixture.js';

useKproxyInFront(['-v=3']);

describe('filter', () => {
  test('encoded dot segments (%2e%2e): 400, nothing reaches the upstream', async () => {
    const main = await P.main;
    const res = await request(`${main.url}/apis/%2e%2e/api/v1/namespaces/default/pods/foo/exec`);
    assert.equal(res.status, 400);
    const res2 = await request(`${main.url}/api/v1/namespaces/default/pods/%2E%2E/%2e%2e/secrets`);
    assert.equal(res2.status, 400);
    await request(`${main.url}/h/after-dots`);
    assert.deepEqual(
      up.requests.map((r) => r.target),
      ['/h/after-dots'],
    );
  });

  test('dot and empty segments built with %2E and %2F: 400, nothing reaches the upstream', async () => {
    const main = await P.main;
    for (const target of [
      '/api/v1/namespaces/default/%2E/pods',
      '/api/v1/%2F/pods',
      '/api/v1/namespaces/default/pods/x%2F..%2F..%2Fkube-system',
      '/api/v1/namespaces/default/pods/foo%2F%2e%2e%2Fbar/exec',
      '/api/v1/namespaces/default/pods/foo/%2e%2e%2f%2e%2e%2fexec',
    ]) {
      const res = await request(`${main.url}${target}`);
      assert.equal(res.status, 400, target);
    }
    await request(`${main.url}/h/after-slash-dots`);
    assert.deepEqual(
      up.requests.map((r) => r.target),
      ['/h/after-slash-dots'],
    );
  });
});

// The same requests through kubectl proxy 1.32 and kproxy, side by side.
const defaultRows: Row[] = [
  {
    name: '/apis/%2e%2e/api/…/exec',
    send: GET('/apis/%2e%2e/api/v1/namespaces/default/pods/foo/exec'),
    kubectl: fwd(200, '/apis/%2e%2e/api/v1/namespaces/default/pods/foo/exec'),
    kproxy: {
      why: 'kubectl ≥1.30 (Go ≥1.22 ServeMux) does not clean %2e%2e, the filter sees /apis/../api/…/exec and lets it through (golang/go#70130); kproxy answers 400 and forwards nothing',
      expect: { status: 400, upstream: [] },
    },
  },
];

const acceptPathRows: Row[] = [
  {
    name: 'default/%2e%2e/kube-system/secrets',
    send: GET('/api/v1/namespaces/default/%2e%2e/kube-system/secrets'),
    kubectl: fwd(200, '/api/v1/namespaces/default/%2e%2e/kube-system/secrets'),
    kproxy: {
      why: 'kubectl ≥1.30 does not clean %2e%2e, so the accept prefix matches and the request escapes the namespace; kproxy answers 400 and forwards nothing',
      expect: { status: 400, upstream: [] },
    },
  },
];

describeDifferential([
  { ...defaultFlags, rows: defaultRows },
  { ...acceptPaths, rows: acceptPathRows },
]);
