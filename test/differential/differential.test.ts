// The differential test, kubectl proxy 1.32 against kproxy row by row (see harness.ts), for every
// group of flags in the *-flags.ts files of this folder, followed by the summary of all of them.
// The rows for security advisories are in test/security/, with the advisory in the file name.

import { defaultFlags } from './default-flags.js';
import { acceptPaths, disableFilter, emptyAcceptHosts, rejectMethods, rejectMethodsAnyMethod, rejectPathsTrailingComma } from './filter-flags.js';
import { apiPrefix, appendServerPath, customPrefix, serverPathDropped } from './prefix-flags.js';
import { deadUpstream, disableCompression, impersonation } from './upstream-flags.js';
import { describeDifferential } from './runner.js';

describeDifferential(
  [
    defaultFlags,
    rejectMethods,
    rejectMethodsAnyMethod,
    customPrefix,
    apiPrefix,
    acceptPaths,
    rejectPathsTrailingComma,
    emptyAcceptHosts,
    disableFilter,
    appendServerPath,
    serverPathDropped,
    impersonation,
    disableCompression,
    deadUpstream,
  ],
  { summary: true },
);
