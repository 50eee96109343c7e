/**
 * Golden launch plans: the bwrap arguments upstream redpak produces for ten configuration pairs
 * in its five family layouts (test/golden/data/redpak-launch-plans.json, transcribed from its
 * tests/basic references), compared with ours.
 */
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RedpakError } from '../../src/errors.js';
import { mergeFamily } from '../../src/merge/merge.js';
import { assertEnabled, loadFamily } from '../../src/node/load.js';
import { compileLaunchPlan } from '../../src/wrap/plan.js';
import { buildLayout, pinnedHost, tempDir, type Layout } from '../helpers/family.js';

interface GoldenCase {
  layout: Layout;
  mode: 'normal' | 'admin';
  args?: string;
  error?: boolean;
}
interface GoldenExample {
  name: string;
  conf1: { name: string; yaml: string };
  conf2: { name: string; yaml: string };
  cases: GoldenCase[];
}

const data = JSON.parse(readFileSync(new URL('../../../test/golden/data/redpak-launch-plans.json', import.meta.url), 'utf8')) as {
  examples: GoldenExample[];
};

/** Upstream cases we deliberately differ on (docs/compatibility.md), as data: the reference stays untouched. */
interface Deviation {
  layout: Layout;
  mode: 'normal' | 'admin';
  now: 'merge-conflict';
  /** What the error must say. */
  match: string;
  why: string;
}
const deviations = JSON.parse(readFileSync(new URL('../../../test/golden/data/redpak-deviations.json', import.meta.url), 'utf8')) as {
  deviations: Record<string, Deviation[]>;
};

/** Upstream writes ancestor paths with a trailing `/`; ours have none. */
function normaliseExpected(args: string, root: string): string {
  return args.replace(/<ROOT>([^: ]*?)\/(?=[: ]|$)/g, '<ROOT>$1').replaceAll('<ROOT>', root);
}

describe('launch plans match redpak', () => {
  it('every recorded deviation names an upstream case', () => {
    for (const [name, list] of Object.entries(deviations.deviations)) {
      const example = data.examples.find((e) => e.name === name);
      assert.ok(example, `deviation for an unknown example ${name}`);
      for (const d of list) assert.ok(example.cases.some((c) => c.layout === d.layout && c.mode === d.mode), `${name}: no case ${d.layout} ${d.mode}`);
    }
  });

  for (const example of data.examples) {
    it(example.name, (t) => {
      const root = tempDir(t);
      const host = pinnedHost();
      const leaves = new Map<Layout, string>();
      for (const c of example.cases) {
        if (!leaves.has(c.layout)) leaves.set(c.layout, buildLayout(root, c.layout, example.conf1, example.conf2));
        const leaf = leaves.get(c.layout)!;
        const label = `${c.layout} ${c.mode}`;
        const run = () => {
          const family = loadFamily(leaf, { admin: c.mode === 'admin' });
          assertEnabled(family);
          const merged = mergeFamily(family, { host });
          // --dump-only treats every export source as present.
          return compileLaunchPlan(family, merged, { host, probe: () => 'dir' }).args.join(' ');
        };
        const deviation = deviations.deviations[example.name]?.find((d) => d.layout === c.layout && d.mode === c.mode);
        if (deviation) {
          // Only cases upstream launched can deviate into a refusal.
          assert.ok(!c.error, `${label}: upstream already refuses it, no deviation to record`);
          assert.throws(run, (e: unknown) => e instanceof RedpakError && e.code === deviation.now && new RegExp(deviation.match).test(e.message), `${label}: ${deviation.why}`);
        } else if (c.error) {
          assert.throws(run, (e: unknown) => e instanceof RedpakError && e.code === 'merge-conflict', label);
        } else {
          assert.equal(run(), normaliseExpected(c.args!, root), label);
        }
      }
    });
  }
});
