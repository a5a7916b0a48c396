// DNS rebinding of the cluster list (the Host check of kubernetes#8871, applied to what
// --contexts adds). `GET /clusters` and the 404 for an unknown context are kproxy's own answers,
// not the API server's, and they name every served context and its server URL: a web page whose
// name an attacker re-points at 127.0.0.1 must not read them. Without the check they would pass,
// since no API request (and so no filter decision) is involved. --disable-filter turns it off.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { admit } from '../../src/admit.js';
import type { ServedCluster } from '../../src/cluster-path.js';
import { compileFilterRules, DEFAULT_HOST_ACCEPT_RE, DEFAULT_METHOD_REJECT_RE, DEFAULT_PATH_ACCEPT_RE, DEFAULT_PATH_REJECT_RE } from '../../src/filter/filter.js';
import type { UpstreamRequestContext } from '../../src/outgoing.js';

const filter = compileFilterRules({ acceptPaths: DEFAULT_PATH_ACCEPT_RE, rejectPaths: DEFAULT_PATH_REJECT_RE, acceptHosts: DEFAULT_HOST_ACCEPT_RE, rejectMethods: DEFAULT_METHOD_REJECT_RE });
const prod: ServedCluster = { name: 'prod', clusterName: 'prod', server: 'https://10.0.0.1:6443', ctx: {} as UpstreamRequestContext, filter };
const clusters = new Map([['prod', prod]]);

describe('the cluster list and its 404s check Host', () => {
  const rows: Array<[string, string, string, boolean, number]> = [
    ['list, rebound name', '/clusters', 'attacker.example:8001', true, 403],
    ['unknown context, rebound name', '/clusters/nope/api', 'attacker.example:8001', true, 403],
    ['outside /clusters/, rebound name', '/api/v1/pods', 'attacker.example:8001', true, 403],
    ['API request, rebound name', '/clusters/prod/api/v1/pods', 'attacker.example:8001', true, 403],
    ['list, localhost', '/clusters', 'localhost:8001', true, 200],
    ['unknown context, localhost', '/clusters/nope/api', 'localhost:8001', true, 404],
    ['list, rebound name, --disable-filter', '/clusters', 'attacker.example:8001', false, 200],
  ];
  for (const [label, url, host, filtered, status] of rows) {
    test(label, () => {
      const served = filtered ? clusters : new Map([['prod', { ...prod, filter: undefined }]]);
      const a = admit({ method: 'GET', url, rawHeaders: ['Host', host], httpVersion: '1.1' }, { mounts: { apiPrefix: '/' }, filter: filtered ? filter : undefined, clusters: served });
      assert.equal(a.kind === 'answer' ? a.answer.status : 200, status);
      if (status === 403) assert.ok(a.kind === 'answer' && !a.answer.body.includes('prod') && !a.answer.body.includes('10.0.0.1'));
    });
  }
});
