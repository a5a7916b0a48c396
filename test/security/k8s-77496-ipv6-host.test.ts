// kubernetes#77496, an IPv6 Host with a port. kubectl's extractHost splits `[::1]:8001` with
// net.SplitHostPort, which strips the brackets, and then matches `::1` against the default
// `^\[::1\]$`: a client of `kubectl proxy --address=::1` (or of 0.0.0.0 through ::1) always gets
// 403 (still so in 1.32 and 1.33). kproxy matches the host with and without brackets, so
// `Host: [::1]:<port>` is accepted by default (docs/kubectl-proxy-reference.md §2.3; the pure
// host-matching rows are in test/filter.test.ts).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { request } from '../helpers/http.js';
import { defaultFlags } from '../differential/default-flags.js';
import { FORBIDDEN, fwd, GET, type Row } from '../differential/harness.js';
import { describeDifferential } from '../differential/runner.js';
import { P, up, useKproxyInFront } from './fixture.js';

useKproxyInFront(['-v=3']);

describe('filter', () => {
  test('Host [::1]:<port> and localhost:<port> are accepted by default', async () => {
    const main = await P.main;
    const v6 = await request({ url: main.url, path: '/api/v1/pods?host=v6', hostHeader: `[::1]:${main.port}` });
    assert.equal(v6.status, 200);
    const lh = await request({ url: main.url, path: '/api/v1/pods?host=lh', hostHeader: `localhost:${main.port}` });
    assert.equal(lh.status, 200);
    assert.deepEqual(
      up.requests.map((r) => r.target),
      ['/api/v1/pods?host=v6', '/api/v1/pods?host=lh'],
    );
  });
});

// The same request through kubectl proxy 1.32 and kproxy, side by side.
const defaultRows: Row[] = [
  {
    name: 'Host: [::1]:port',
    send: GET('/api/v1/pods', ['Host', '[::1]:{port}']),
    kubectl: FORBIDDEN,
    kproxy: {
      why: 'kubernetes#77496: kubectl strips the brackets before matching ^\\[::1\\]$, so an IPv6 Host with a port is always rejected; kproxy matches it with and without brackets',
      expect: fwd(200, '/api/v1/pods'),
    },
  },
];

describeDifferential([{ ...defaultFlags, rows: defaultRows }]);
