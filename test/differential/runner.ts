// Runs groups of differential rows (see harness.ts): one `describe` per group, one test per row,
// and an optional summary that tallies how each row compared.

import assert from 'node:assert/strict';
import { appendFileSync } from 'node:fs';
import { after, before, describe, test, type TestContext } from 'node:test';
import { tempDir, writeKubeconfig } from '../helpers/kubeconfig.js';
import { makePki } from '../helpers/pki.js';
import { findKubectl, kubectlMissing, startKproxy, startKubectlProxy, type Running } from '../helpers/proc.js';
import { startRecordingUpstream, type Recorder } from '../helpers/recording-upstream.js';
import { startUpstream } from '../helpers/upstream.js';
import { assertErrorShape, assertExpect, CLIENT_TOKEN, comparable, observe, TOKEN, type Group, type Row, type SuiteContext } from './harness.js';

// ---- the summary ------------------------------------------------------------------------------------

interface Tally {
  rows: number;
  identical: number;
  deliberate: number;
  /** Compared by status and one-line shape only; `shapeSameBytes` of them turned out byte-identical. */
  shapeOnly: number;
  shapeSameBytes: number;
  unexpected: string[];
}
const tally = new Map<string, Tally>();
function tallyOf(group: string): Tally {
  let t = tally.get(group);
  if (!t) tally.set(group, (t = { rows: 0, identical: 0, deliberate: 0, shapeOnly: 0, shapeSameBytes: 0, unexpected: [] }));
  return t;
}
function count(group: string, row: Row): void {
  const t = tallyOf(group);
  t.rows++;
  if (row.knownDifference) t.unexpected.push(row.name);
  else if (row.kproxy) t.deliberate++;
  else if (row.shapeOnly) t.shapeOnly++;
  else t.identical++;
}

// ---- running the table ------------------------------------------------------------------------------

interface Pair {
  kubectl: Running;
  kproxy: Running;
  up: Recorder;
}

/** `KPROXY_DIFF_DUMP=<file>` appends both comparable views of every row as JSON lines, for investigating a difference. */
const DUMP = process.env['KPROXY_DIFF_DUMP'];

function runRow(pair: () => Pair, group: string, row: Row): void {
  count(group, row);
  test(row.name, async () => {
    const { kubectl, kproxy, up } = pair();
    const k = await observe(kubectl, up, row.send);
    const p = await observe(kproxy, up, row.send);
    if (DUMP) appendFileSync(DUMP, JSON.stringify({ row: `${group} / ${row.name}`, kubectl: comparable(k), kproxy: comparable(p) }) + '\n');

    assertExpect(k, row.kubectl, 'kubectl', up.port);
    if (row.shapeOnly) {
      assertErrorShape(k, 'kubectl');
      assertErrorShape(p, 'kproxy');
      if (k.body.equals(p.body)) tallyOf(group).shapeSameBytes++;
      return;
    }
    row.check?.(k, 'kubectl');
    const diff = row.kproxy ?? row.knownDifference;
    if (diff) {
      assertExpect(p, diff.expect, 'kproxy', up.port);
      diff.check?.(p);
      if (diff.mask) {
        const kv = comparable(k);
        const pv = comparable(p);
        diff.mask(kv);
        diff.mask(pv);
        assert.deepEqual(pv, kv, `kproxy must match kubectl outside the known difference (${diff.why})`);
      }
      return;
    }
    assert.deepEqual(comparable(p), comparable(k), 'kproxy (actual) must match kubectl (expected)');
    row.check?.(p, 'kproxy');
  });
}

/**
 * Registers the differential suite for `groups`: one kubectl proxy and one kproxy per group, in
 * front of a fake upstream (and a recording upstream for any method) shared by the groups. With
 * `summary`, a last test prints the tally of every group registered in this process.
 */
export function describeDifferential(groups: Group[], opts: { summary?: boolean } = {}): void {
  describe('differential: kubectl proxy 1.32 vs kproxy', { skip: kubectlMissing() }, () => {
    let suite: SuiteContext | undefined;
    const ctx = (): SuiteContext => {
      if (!suite) throw new Error('suite not started');
      return suite;
    };

    before(async () => {
      const pki = await makePki();
      const [up, rawUp] = await Promise.all([startUpstream({ pki, tokens: [TOKEN, CLIENT_TOKEN] }), startRecordingUpstream(pki)]);
      const dir = tempDir('kproxy-diff');
      const kubeconfig = writeKubeconfig(dir.path, { server: up.url, caData: pki.ca, token: TOKEN });
      suite = { pki, up, rawUp, dir, kubeconfig };
    });

    after(async () => {
      await Promise.all([suite?.up.close(), suite?.rawUp.close()]);
      suite?.dir.cleanup();
    });

    for (const group of groups) {
      describe(group.name, () => {
        let running: Pair | undefined;
        const started: Running[] = [];
        before(async () => {
          const c = ctx();
          const kubeconfig = group.kubeconfig ? await group.kubeconfig(c) : c.kubeconfig;
          const args = ['--port=0', '--kubeconfig', kubeconfig, ...group.flags];
          const [k, p] = await Promise.allSettled([startKubectlProxy(args), startKproxy(args)]);
          for (const s of [k, p]) if (s.status === 'fulfilled') started.push(s.value);
          if (k.status === 'rejected') throw k.reason;
          if (p.status === 'rejected') throw p.reason;
          running = { kubectl: k.value, kproxy: p.value, up: group.upstream?.(c) ?? c.up };
        });
        after(async () => {
          await Promise.all(started.map((r) => r.stop()));
        });
        for (const row of group.rows) {
          runRow(
            () => {
              if (!running) throw new Error('proxies not started');
              return running;
            },
            group.name,
            row,
          );
        }
      });
    }

    if (!opts.summary) return;
    test('summary', (t: TestContext) => {
      let rows = 0;
      let identical = 0;
      let deliberate = 0;
      const unexpected: string[] = [];
      t.diagnostic(`kubectl: ${findKubectl()}`);
      let shapeOnly = 0;
      let shapeSameBytes = 0;
      t.diagnostic('group | rows | identical | deliberate (kproxy field) | error shape only (of which byte-identical) | unexpected (knownDifference)');
      for (const [name, g] of tally) {
        rows += g.rows;
        identical += g.identical;
        deliberate += g.deliberate;
        shapeOnly += g.shapeOnly;
        shapeSameBytes += g.shapeSameBytes;
        unexpected.push(...g.unexpected.map((n) => `${name}: ${n}`));
        t.diagnostic(`${name} | ${g.rows} | ${g.identical} | ${g.deliberate} | ${g.shapeOnly} (${g.shapeSameBytes}) | ${g.unexpected.length}`);
      }
      t.diagnostic(`TOTAL | ${rows} | ${identical} | ${deliberate} | ${shapeOnly} (${shapeSameBytes}) | ${unexpected.length}`);
      for (const u of unexpected) t.diagnostic(`knownDifference: ${u}`);
      assert.equal(rows, identical + deliberate + shapeOnly + unexpected.length);
      assert.ok(rows >= 45, `at least 45 rows (${rows})`);
    });
  });
}
