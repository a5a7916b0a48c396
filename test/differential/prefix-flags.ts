// Differential rows (see harness.ts) for where requests go: --api-prefix (stripped or not),
// --append-server-path, and a kubeconfig server path without it.

import { writeKubeconfig } from '../helpers/kubeconfig.js';
import { podList } from '../helpers/upstream.js';
import { EXEC, FORBIDDEN, fwd, GET, moved, NOT_FOUND, TOKEN, type Group, type Row } from './harness.js';

const customPrefixRows: Row[] = [
  { name: '/custom/api/v1/pods → /api/v1/pods', send: GET('/custom/api/v1/pods'), kubectl: fwd(200, '/api/v1/pods') },
  { name: '/custom/ → /', send: GET('/custom/'), kubectl: fwd(200, '/') },
  { name: '/custom → 301 /custom/', send: GET('/custom'), kubectl: moved('/custom/') },
  { name: '/api/v1/pods outside the prefix → 404', send: GET('/api/v1/pods'), kubectl: NOT_FOUND },
  { name: '/customapi/v1/pods → 404', send: GET('/customapi/v1/pods'), kubectl: NOT_FOUND },
  { name: '/custom/…/exec → 403 (filter sees the stripped path)', send: GET(`/custom${EXEC}`), kubectl: FORBIDDEN },
  { name: '/custom query and %20 kept', send: GET('/custom/api/v1/namespaces/a%20b/pods?x=%2F&y=1'), kubectl: fwd(200, '/api/v1/namespaces/a%20b/pods?x=%2F&y=1') },
  {
    name: '/custom/…/a%2Fb/… in the stripped path',
    send: GET('/custom/api/v1/namespaces/a%2Fb/pods'),
    kubectl: fwd(200, '/api/v1/namespaces/a/b/pods'),
    kproxy: {
      why: 'kubectl rewrites URL.Path after stripping the prefix, which drops RawPath, so %2F is decoded to a real / upstream (kubernetes#14193); kproxy forwards the bytes the client sent',
      expect: fwd(200, '/api/v1/namespaces/a%2Fb/pods'),
    },
  },
];

const apiPrefixRows: Row[] = [
  { name: '/api/v1/pods forwarded unstripped', send: GET('/api/v1/pods'), kubectl: fwd(200, '/api/v1/pods') },
  { name: '/apis/apps/v1 → 404', send: GET('/apis/apps/v1'), kubectl: NOT_FOUND },
  { name: '/api → 301 /api/', send: GET('/api'), kubectl: moved('/api/') },
  { name: '/api/…/exec → 403', send: GET(EXEC), kubectl: FORBIDDEN },
  { name: '/api/v1/namespaces/a%2Fb/pods kept raw', send: GET('/api/v1/namespaces/a%2Fb/pods'), kubectl: fwd(200, '/api/v1/namespaces/a%2Fb/pods') },
];

const appendServerPathRows: Row[] = [
  { name: '/api/v1/pods → /k8s/clusters/c-1/api/v1/pods', send: GET('/api/v1/pods'), kubectl: fwd(200, '/k8s/clusters/c-1/api/v1/pods') },
  { name: '/ → /k8s/clusters/c-1/', send: GET('/'), kubectl: fwd(200, '/k8s/clusters/c-1/') },
  { name: 'trailing slash and query kept', send: GET('/api/v1/pods/?x=1'), kubectl: fwd(200, '/k8s/clusters/c-1/api/v1/pods/?x=1') },
  { name: 'already-prefixed request is prefixed twice', send: GET('/k8s/clusters/c-1/api'), kubectl: fwd(200, '/k8s/clusters/c-1/k8s/clusters/c-1/api') },
  { name: '%2F kept under the server path', send: GET('/api/v1/namespaces/a%2Fb/pods'), kubectl: fwd(200, '/k8s/clusters/c-1/api/v1/namespaces/a%2Fb/pods') },
  { name: 'exec still rejected', send: GET(EXEC), kubectl: FORBIDDEN },
];

const serverPathDroppedRows: Row[] = [
  { name: 'server path dropped without --append-server-path', send: GET('/api/v1/pods'), kubectl: { ...fwd(200, '/api/v1/pods'), body: JSON.stringify(podList()) } },
];

export const customPrefix: Group = { name: '--api-prefix=/custom/', flags: ['--api-prefix=/custom/'], rows: customPrefixRows };

export const apiPrefix: Group = { name: '--api-prefix=/api/', flags: ['--api-prefix=/api/'], rows: apiPrefixRows };

export const appendServerPath: Group = {
  name: '--append-server-path (server https://127.0.0.1:<port>/k8s/clusters/c-1)',
  flags: ['--append-server-path'],
  kubeconfig: (c) => writeKubeconfig(c.dir.path, { server: `${c.up.url}/k8s/clusters/c-1`, caData: c.pki.ca, token: TOKEN, fileName: 'server-path.kubeconfig' }),
  rows: appendServerPathRows,
};

export const serverPathDropped: Group = {
  name: 'server path in the kubeconfig, no --append-server-path',
  flags: [],
  kubeconfig: (c) => writeKubeconfig(c.dir.path, { server: `${c.up.url}/k8s/clusters/c-1`, caData: c.pki.ca, token: TOKEN, fileName: 'server-path.kubeconfig' }),
  rows: serverPathDroppedRows,
};
