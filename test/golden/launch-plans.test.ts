/**
 * Golden launch plans: the bwrap arguments upstream redpak 2.5.1 produces (`redwrap --dump-only`)
 * for every configuration pair of its tests/basic in its five family layouts, normal and admin
 * (test/golden/data/redpak-launch-plans.json, imported by scripts/import-upstream-references.mjs),
 * compared with our compiled launch plan, in-process.
 *
 * Where we deliberately differ (docs/compatibility.md), test/golden/data/redpak-deviations.json
 * says how, as data: rules rewriting upstream's expected lines for a whole class of cases, and
 * single cases we refuse or plan otherwise. The reference itself is never edited.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { RedpakError } from '../../src/errors.js';
import { mergeFamily } from '../../src/merge/merge.js';
import { assertEnabled, loadFamily } from '../../src/node/load.js';
import { compileLaunchPlan, type PlanArg } from '../../src/wrap/plan.js';
import { HEADERS_ONLY, makeNode, pinnedHost, type Layout } from '../helpers/family.js';

type Mode = 'normal' | 'admin';
interface UpstreamCase {
  layout: Layout;
  mode: Mode;
  /** The DUMP: one line per bwrap option, its values on the same line. */
  args?: string[];
  /** What redwrap printed instead (its `[ERROR]:` lines). */
  error?: string[];
}
interface Conf {
  name: string;
  yaml: string;
}
interface UpstreamExample {
  name: string;
  conf1: Conf;
  conf2: Conf;
  cases: UpstreamCase[];
}

/** Which cases a deviation covers: examples whose name matches, in the listed layouts and modes. */
interface Scope {
  reason: string;
  /** A regular expression over example names. */
  examples: string;
  /** `LAYOUT MODE`, e.g. `rootna admin`. */
  cases: string[];
}
interface Deviations {
  /** Each deliberate difference, as docs/compatibility.md explains it. */
  reasons: Record<string, string>;
  /** Rewrites of upstream's expected dump lines, for every case: `replacement` null drops the line. */
  rewrites: { reason: string; pattern: string; replacement: string | null }[];
  /** Cases upstream launched that we refuse with an error of `code` whose message matches `match`. */
  refusals: (Scope & { code: string; match: string })[];
  /** Cases we plan otherwise: our dump lines. */
  plans: (Scope & { args: string[] })[];
}

const readData = <T>(name: string): T =>
  JSON.parse(readFileSync(new URL(`../../../test/golden/data/${name}`, import.meta.url), 'utf8')) as T;
const upstream = readData<{ examples: UpstreamExample[] }>('redpak-launch-plans.json');
const deviations = readData<Deviations>('redpak-deviations.json');

const caseLabel = (c: { layout: Layout; mode: Mode }) => `${c.layout} ${c.mode}`;
const inScope = (scope: Scope, example: string, label: string) =>
  new RegExp(scope.examples).test(example) && scope.cases.includes(label);

const rewrites = deviations.rewrites.map((rule) => ({ ...rule, regexp: new RegExp(rule.pattern) }));
const rewritesUsed = new Set<(typeof rewrites)[number]>();

/** The documented rewrites applied to upstream's lines; records which rewrites changed something. */
function applyRewrites(lines: string[]): string[] {
  const out: string[] = [];
  for (const line of lines) {
    const rule = rewrites.find((r) => r.regexp.test(line));
    if (!rule) {
      out.push(line);
      continue;
    }
    rewritesUsed.add(rule);
    if (rule.replacement !== null) out.push(line.replace(rule.regexp, rule.replacement));
  }
  return out;
}

/**
 * Upstream's output had its working directory removed (its nodes were in `$PWD/rednodes`), and
 * its ancestor paths end with `/` (`…/config-path/:ROOT`, `…/parent//usr`); ours do not.
 */
const normaliseUpstream = (line: string): string => line.replace(/(\/rednodes\/[^: ]*?)\/(?=[: /]|$)/g, '$1');

/**
 * Our plan in upstream's dump format: our temporary directory removed as upstream removed its
 * `$PWD`, one line per option. An Execfd variable is shown with its command's output, as
 * upstream's `--dump-only` runs it (ours shows the command: docs/compatibility.md); the output
 * is the one our launch would pass, from the same sandboxed shell.
 */
function dumpLines(args: PlanArg[], root: string, run: (script: string) => string): string[] {
  const lines: string[] = [];
  for (const arg of args) {
    const text = (typeof arg === 'string' ? arg : run(arg.execfd)).replaceAll(root, '');
    if (text.startsWith('--') || !lines.length) lines.push(text);
    else lines[lines.length - 1] += ` ${text}`;
  }
  return lines;
}

describe('launch plans match redpak', () => {
  const host = pinnedHost();
  const commandOutputs = new Map<string, string>();
  const runCommand = (script: string): string => {
    const output = commandOutputs.get(script) ?? host.runCommand(script);
    commandOutputs.set(script, output);
    return output;
  };
  // One tree for all examples, as upstream's: a root node of a layout is created once per CONF1.
  const root = mkdtempSync(join(tmpdir(), 'redpak-golden-'));
  after(() => rmSync(root, { recursive: true, force: true }));
  const created = new Set<string>();
  const node = (path: string, alias: string, normal: string, admin: string): string => {
    if (!created.has(path)) makeNode(root, path, alias, normal, admin, host);
    created.add(path);
    return path;
  };
  /** The leaf of a layout as upstream builds it (test/golden/README.md), under `rednodes/` as upstream's. */
  const leafOf = (layout: Layout, conf1: Conf, conf2: Conf): string => {
    const rootPath = join(root, 'rednodes', layout, conf1.name);
    const leafPath = join(rootPath, conf2.name);
    if (layout === 'node') return node(leafPath, 'NODE', conf1.yaml, conf2.yaml);
    const [rootKind, subKind] = [layout[4], layout[5]];
    const pick = (kind: string | undefined, want: string, conf: Conf) => (kind === want ? conf.yaml : HEADERS_ONLY);
    node(rootPath, 'ROOT', pick(rootKind, 'n', conf1), pick(rootKind, 'a', conf1));
    return node(leafPath, 'SUBNODE', pick(subKind, 'n', conf2), pick(subKind, 'a', conf2));
  };

  const scoped = [...deviations.refusals, ...deviations.plans];
  const examplesByName = new Map(upstream.examples.map((e) => [e.name, e]));

  it('every deviation has a reason and covers upstream cases, none covered twice', () => {
    const used = new Set([...deviations.rewrites, ...scoped].map((d) => d.reason));
    for (const reason of used) assert.ok(deviations.reasons[reason], `no reason ${reason} in reasons`);
    for (const reason of Object.keys(deviations.reasons)) {
      assert.ok(used.has(reason), `reason ${reason} is used nowhere`);
    }
    for (const scope of scoped) {
      const matching = [...examplesByName.keys()].filter((name) => new RegExp(scope.examples).test(name));
      assert.ok(matching.length, `${scope.examples}: names no upstream example`);
      for (const label of scope.cases) {
        assert.match(label, /^(node|root[na]{2}) (normal|admin)$/, `${scope.examples}: case ${label}`);
      }
      for (const name of matching) {
        for (const label of scope.cases) {
          const covering = scoped.filter((d) => inScope(d, name, label));
          assert.equal(covering.length, 1, `${name} ${label} is covered by ${covering.length} deviations`);
        }
      }
    }
  });

  for (const example of upstream.examples) {
    it(example.name, () => {
      for (const c of example.cases) {
        const label = caseLabel(c);
        const leaf = leafOf(c.layout, example.conf1, example.conf2);
        const run = () => {
          const family = loadFamily(leaf, { admin: c.mode === 'admin' });
          assertEnabled(family);
          const merged = mergeFamily(family, { host });
          // --dump-only treats every export source as present.
          return dumpLines(compileLaunchPlan(family, merged, { host, probe: () => 'dir' }).args, root, runCommand);
        };
        const refusal = deviations.refusals.find((d) => inScope(d, example.name, label));
        const plan = deviations.plans.find((d) => inScope(d, example.name, label));
        const expected = c.args && applyRewrites(c.args.map(normaliseUpstream));
        if (refusal) {
          // Only cases upstream launched can deviate into a refusal.
          assert.ok(!c.error, `${label}: upstream already refuses it, no deviation to record`);
          const refused = (e: unknown) =>
            e instanceof RedpakError && e.code === refusal.code && new RegExp(refusal.match).test(e.message);
          assert.throws(run, refused, `${label}: ${deviations.reasons[refusal.reason]}`);
        } else if (plan) {
          const ours = run();
          assert.notDeepEqual(ours, expected, `${label}: matches upstream now, the deviation is stale`);
          assert.deepEqual(ours, plan.args, `${label}: ${deviations.reasons[plan.reason]}`);
        } else if (c.error) {
          assert.throws(run, (e: unknown) => e instanceof RedpakError && e.code === 'merge-conflict', label);
        } else {
          assert.deepEqual(run(), expected, label);
        }
      }
    });
  }

  it('every rewrite is still needed', () => {
    for (const rule of rewrites) {
      assert.ok(rewritesUsed.has(rule), `rewrite ${rule.pattern} changes no upstream case: remove it`);
    }
  });
});
