// --keepalive on the upgrade connection to the API server: 0 (Go's 15 s default), 45s and -1s
// (off), read from the kernel with `ss`, and the usage error for a bad value.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { runKproxy, within } from '../helpers/proc.js';
import { RawClient } from '../helpers/raw-upgrade-client.js';
import type { RawConn } from '../helpers/raw-upgrade-upstream.js';
import { echo, mainKc, P, PF, raw, useUpgradeFixture, wsHead } from '../helpers/upgrade-harness.js';

useUpgradeFixture(['ka0', 'ka45', 'kaOff']);

describe('--keepalive', () => {
  /** The keep-alive timer of the proxy's connection to the raw upstream, as `ss` shows it. */
  function keepaliveTimer(conn: RawConn): string | undefined {
    const out = execFileSync('ss', ['-tnoH', 'state', 'established', `( sport = :${conn.socket.remotePort} )`], { encoding: 'utf8' });
    assert.ok(out.trim() !== '', `ss found no socket from port ${conn.socket.remotePort}`);
    return /timer:\(keepalive,([^,]+),/.exec(out)?.[1];
  }
  function seconds(t: string): number {
    const m = /^(?:(\d+)min)?(?:(\d+)(?:\.\d+)?sec)?(?:(\d+)ms)?$/.exec(t);
    assert.ok(m, `timer ${t}`);
    return Number(m[1] ?? 0) * 60 + Number(m[2] ?? 0) + Number(m[3] ?? 0) / 1000;
  }
  let hasSs = true;
  try {
    execFileSync('ss', ['-V'], { stdio: 'ignore' });
  } catch {
    hasSs = false;
  }

  for (const [name, key, check] of [
    ['0 (Go default: 15s)', 'ka0', (t: string | undefined) => assert.ok(t !== undefined && seconds(t) <= 15, `timer ${t}`)],
    ['45s', 'ka45', (t: string | undefined) => assert.ok(t !== undefined && seconds(t) > 15 && seconds(t) <= 45, `timer ${t}`)],
    ['-1s (off)', 'kaOff', (t: string | undefined) => assert.equal(t, undefined)],
  ] as const) {
    test(`--keepalive=${name}: upgrades work and the upstream connection's keep-alive is set accordingly`, async () => {
      const p = await P[key];
      const next = raw.next();
      const c = RawClient.to(p.port, wsHead(PF));
      const conn = await within(next, 'the upstream connection');
      assert.equal((await c.switched()).res.status, 101);
      await echo(c, `ka-${key}`);
      if (hasSs) check(keepaliveTimer(conn));
      c.destroy();
      await within(conn.closeP, 'conn.closeP');
    });
  }

  test('a bad --keepalive is a usage error: exit 1, one line', async () => {
    for (const [value, why] of [
      ['abc', 'invalid duration'],
      ['10', 'missing unit in duration'],
      // Go says `time: unknown unit "x" in duration "5x"`; kproxy's wording differs (reported).
      ['5x', '(?:unknown unit "x" in|missing unit in) duration'],
      ['1h2', 'missing unit in duration'],
    ]) {
      const r = await runKproxy(['--port=0', `--keepalive=${value}`, '--kubeconfig', mainKc]);
      assert.equal(r.code, 1, `${value}: ${r.stderr}`);
      assert.equal(r.stdout, '');
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`^error: invalid argument "${value}" for "--keepalive" flag: time: ${why} "${value}"`));
    }
  });
});
