// Differential rows (see harness.ts) for what is sent upstream and what happens when it is not
// there: --as/--as-group impersonation, --disable-compression, and a dead upstream.

import assert from 'node:assert/strict';
import { writeKubeconfig } from '../helpers/kubeconfig.js';
import { closedPort } from '../helpers/net.js';
import { GZIP_DOCUMENT } from '../helpers/upstream.js';
import { CLIENT_TOKEN, CT_JSON, EXEC, FORBIDDEN, fwd, GET, http, json, onlyUpstream, TOKEN, upHeader, type Group, type Row } from './harness.js';

const impersonationRows: Row[] = [
  {
    name: '--as/--as-group headers added',
    send: GET('/api/v1/pods'),
    kubectl: fwd(200, '/api/v1/pods'),
    check: (o) => {
      const r = onlyUpstream(o);
      assert.deepEqual(upHeader(r, 'impersonate-user'), ['jane']);
      assert.deepEqual(upHeader(r, 'impersonate-group'), ['g1', 'g2']);
    },
  },
  {
    name: 'client Impersonate-Group merged with --as-group',
    send: GET('/api/v1/pods', ['Impersonate-Group', 'hackers']),
    kubectl: fwd(200, '/api/v1/pods'),
    check: (o) => {
      const r = onlyUpstream(o);
      assert.deepEqual(upHeader(r, 'impersonate-user'), ['jane']);
      assert.deepEqual(upHeader(r, 'impersonate-group'), ['hackers', 'g1', 'g2']);
    },
  },
  {
    name: 'client Impersonate-User wins with its own set',
    send: GET('/api/v1/pods', ['Impersonate-User', 'bob', 'Impersonate-Group', 'b-team']),
    kubectl: fwd(200, '/api/v1/pods'),
    check: (o) => {
      const r = onlyUpstream(o);
      assert.deepEqual(upHeader(r, 'impersonate-user'), ['bob']);
      assert.deepEqual(upHeader(r, 'impersonate-group'), ['b-team']);
    },
  },
  {
    name: 'client Authorization plus --as',
    send: GET('/api/v1/pods', ['Authorization', `Bearer ${CLIENT_TOKEN}`]),
    kubectl: fwd(200, '/api/v1/pods'),
  },
];

const disableCompressionRows: Row[] = [
  {
    name: '/gzip without client Accept-Encoding → not requested',
    send: GET('/gzip'),
    kubectl: { ...fwd(200, '/gzip'), body: JSON.stringify(GZIP_DOCUMENT) },
    check: (o) => assert.deepEqual(upHeader(onlyUpstream(o), 'accept-encoding'), []),
  },
  { name: '/gzip with client Accept-Encoding: gzip → passed through', send: GET('/gzip', ['Accept-Encoding', 'gzip']), kubectl: fwd(200, '/gzip') },
];

const deadUpstreamRows: Row[] = [
  { name: 'GET → 500 one line', send: GET('/api/v1/pods'), kubectl: { status: 500, upstream: [], body: /^dial tcp 127\.0\.0\.1:\d+: connect: connection refused\n$/ }, shapeOnly: true },
  { name: 'POST with body → 500 one line', send: http('POST', '/api/v1/namespaces/default/pods', CT_JSON, json({ kind: 'Pod' })), kubectl: { status: 500, upstream: [] }, shapeOnly: true },
  { name: 'exec still 403 (filter first)', send: GET(EXEC), kubectl: FORBIDDEN },
];

export const impersonation: Group = { name: '--as=jane --as-group=g1 --as-group=g2', flags: ['--as=jane', '--as-group=g1', '--as-group=g2'], rows: impersonationRows };

export const disableCompression: Group = { name: '--disable-compression', flags: ['--disable-compression'], rows: disableCompressionRows };

export const deadUpstream: Group = {
  name: 'dead upstream (kubeconfig server on a closed port)',
  flags: [],
  kubeconfig: async (c) => writeKubeconfig(c.dir.path, { server: `https://127.0.0.1:${await closedPort()}`, caData: c.pki.ca, token: TOKEN, fileName: 'dead.kubeconfig' }),
  rows: deadUpstreamRows,
};
