/**
 * The declarative solver cases (test/pkg/solver-cases/*.yaml, described in docs/solver-protocol.md):
 * each builds its family (real rpm databases), its repositories (createrepo_c) and runs the real
 * solver on its job.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { packagePath } from '../../src/package-root.js';
import { initDb, installPackages } from '../../src/pkg/rpm.js';
import { formatProblems, solve, type DescendantView, type JobOp, type SolveResult } from '../../src/pkg/solver.js';
import { buildCasePackages, packageKey, type CasePackage } from './helpers/case-packages.js';
import { makeFamily, type TestFamily } from './helpers/family.js';

interface SolverCase {
  /** Every package the case uses. */
  packages: CasePackage[];
  /** Nodes as paths in the family ("P", "P/C"…), parents first, each with its installed packages (name-version). */
  family: Record<string, string[]>;
  /** Repository id → its packages (name-version). */
  repos: Record<string, string[]>;
  /** The transaction asked for, in one node: jobs as "op what" ("install app", "upgrade-all"). */
  job: { node: string; jobs: string[]; forcenode?: boolean };
  /** Either the transaction ("action nevra", in order) or the refusal. */
  expect: {
    steps?: string[];
    /** "rule package node": the family rules broken. */
    violations?: string[];
    /** Text each problem report (as dnf prints it) contains. */
    problems?: string[];
    /** "package node": ancestor packages a solution would have had to change. */
    readOnly?: string[];
  };
}

const CASES_DIR = packagePath('test/pkg/solver-cases');
const cases = readdirSync(CASES_DIR)
  .filter((f) => f.endsWith('.yaml'))
  .sort()
  .map((f) => ({ name: basename(f, '.yaml'), data: parse(readFileSync(join(CASES_DIR, f), 'utf8')) as SolverCase }));

/** The node's descendants in the family, each with the nodes between it and the node (closest to it first). */
function descendantsOf(node: string, family: TestFamily, names: string[]): DescendantView[] {
  return names
    .filter((n) => n.startsWith(`${node}/`))
    .map((n) => {
      const between = n
        .slice(node.length + 1)
        .split('/')
        .slice(0, -1);
      const via = between.map((_, i) => `${node}/${between.slice(0, i + 1).join('/')}`).reverse();
      return via.length ? { node: family.node(n), via: via.map((v) => family.node(v)) } : { node: family.node(n) };
    });
}

async function run(c: SolverCase, family: TestFamily, rpms: Map<string, string>): Promise<SolveResult> {
  const rpm = (key: string) => rpms.get(key) ?? assert.fail(`package ${key} is not described in the case`);
  const names = Object.keys(c.family);
  for (const name of names) {
    mkdirSync(family.node(name), { recursive: true });
    await initDb(family.node(name));
    await installPackages(family.node(name), c.family[name]!.map(rpm), { noscripts: true });
  }
  const repos = Object.entries(c.repos).map(([id, keys]) => {
    const dir = join(family.root, `repo-${id}`);
    mkdirSync(dir);
    for (const key of keys) copyFileSync(rpm(key), join(dir, basename(rpm(key))));
    assert.equal(spawnSync('createrepo_c', ['--quiet', '--no-database', dir]).status, 0);
    return { id, dir };
  });
  const { node } = c.job;
  const ancestors = node
    .split('/')
    .slice(0, -1)
    .map((_, i, parts) => parts.slice(0, i + 1).join('/'))
    .reverse();
  return solve({
    node: family.node(node),
    ancestors: ancestors.map((a) => family.node(a)),
    descendants: descendantsOf(node, family, names),
    repos,
    jobs: c.job.jobs.map((j) => {
      const [op, what] = j.split(' ') as [JobOp, string | undefined];
      return what === undefined ? { op } : { op, what };
    }),
    forcenode: c.job.forcenode,
  });
}

describe('declarative solver cases', () => {
  let rpms: Map<string, string>;
  const families: TestFamily[] = [];
  before(async () => {
    const all = new Map(cases.flatMap(({ data }) => data.packages.map((p) => [packageKey(p), p] as const)));
    for (const { name, data } of cases) {
      for (const p of data.packages)
        assert.deepEqual(
          all.get(packageKey(p)),
          p,
          `${name}: ${packageKey(p)} is described differently in another case`,
        );
    }
    rpms = await buildCasePackages([...all.values()]);
  });
  after(() => {
    for (const f of families) f.cleanup();
  });

  it('there are cases to run', () => assert.ok(cases.length >= 8, `${cases.length} cases`));

  for (const { name, data } of cases) {
    it(name, async () => {
      const family = await makeFamily();
      families.push(family);
      const result = await run(data, family, rpms);
      const nodeName = (hostPath: string) => hostPath.slice(family.root.length + 1);
      const { expect } = data;
      const report = `${formatProblems(result.problems)}\n${result.violations.map((v) => v.message).join('\n')}`;
      if (expect.steps) {
        assert.equal(result.ok, true, report);
        assert.deepEqual(
          result.steps.map((s) => `${s.action} ${s.nevra}`),
          expect.steps,
        );
        return;
      }
      assert.equal(result.ok, false, 'the case expects a refusal');
      assert.deepEqual(
        result.violations.map((v) => `${v.rule} ${v.package} ${nodeName(v.node)}`),
        expect.violations ?? [],
        report,
      );
      const text = formatProblems(result.problems);
      for (const expected of expect.problems ?? [])
        assert.ok(text.includes(expected), `"${expected}" not in:\n${text}`);
      if (!expect.problems) assert.deepEqual(result.problems, []);
      const readOnly = result.problems.flatMap((p) => p.readOnly.map((r) => `${r.package} ${nodeName(r.node)}`));
      assert.deepEqual(readOnly, expect.readOnly ?? []);
    });
  }
});
