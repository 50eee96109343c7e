import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { RedpakError } from '../../src/errors.js';
import { erasePackages, installPackages } from '../../src/pkg/rpm.js';
import { queryPackages } from '../../src/pkg/installed.js';
import { assertSolved, formatProblems, solve, type SolveRequest, type SolveResult } from '../../src/pkg/solver.js';
import type { TransactionStep } from '../../src/pkg/solver.js';
import {
  fixtureRepo,
  fixtureRepos,
  installedNames,
  makeFamily,
  makeSystemNode,
  rpmFile,
  type TestFamily,
} from './helpers/family.js';

/**
 * Family used throughout: P is a system node (host capabilities registered, libredfoo 1.0 and
 * redfoo-conf installed), C its child, G C's child. Each describe() builds its own family.
 */
async function standardFamily(pPackages = ['libredfoo-1.0', 'redfoo-conf']): Promise<TestFamily> {
  const family = await makeFamily('P', 'C', 'G');
  await makeSystemNode(family.node('P'), pPackages);
  return family;
}

async function solveIn(
  family: TestFamily,
  node: 'P' | 'C' | 'G',
  jobs: SolveRequest['jobs'],
  extra: Partial<SolveRequest> = {},
): Promise<SolveResult> {
  const ancestors = { P: [], C: ['P'], G: ['C', 'P'] }[node].map((n) => family.node(n));
  return solve({ node: family.node(node), ancestors, repos: await fixtureRepos(), jobs, ...extra });
}

const stepSummary = (r: SolveResult) => r.steps.map((s) => `${s.action} ${s.nevra}`);

/**
 * Carry a solved transaction out in one node with rpm, so the next step sees its result: what
 * brings a package in with one `rpm -U` (the replaced package goes in the same run), then the
 * plain erasures. The product runs the same rpm commands in a staged view (src/pkg/view.ts).
 */
async function applySteps(nodeRoot: string, steps: readonly TransactionStep[]): Promise<void> {
  assert.ok(
    steps.every((s) => s.node === nodeRoot),
    'every step belongs to the node',
  );
  const incoming = steps.filter((s) => s.action !== 'erase');
  await installPackages(
    nodeRoot,
    incoming.map((s) => s.location ?? assert.fail(`no package file for ${s.nevra}`)),
    {
      oldpackage: incoming.some((s) => s.action === 'downgrade'),
      replacepkgs: incoming.some((s) => s.action === 'reinstall'),
    },
  );
  await erasePackages(
    nodeRoot,
    steps.filter((s) => s.action === 'erase').map((s) => s.nevra),
  );
}

describe('rule 1: installs resolve against the aggregated family view', () => {
  let family: TestFamily;
  before(async () => {
    await fixtureRepo();
    family = await standardFamily();
  });
  after(() => family.cleanup());

  it('installs only redhello in C: library, config file, /bin/sh and libc come from P', async () => {
    const result = await solveIn(family, 'C', [{ op: 'install', what: 'redhello' }]);
    assertSolved(result, 'C');
    assert.deepEqual(stepSummary(result), ['install redhello-1.0-1.x86_64']);
    assert.ok(result.steps[0]!.location && existsSync(result.steps[0]!.location));
    await applySteps(family.node('C'), result.steps);
    assert.deepEqual(await installedNames(family.node('C')), ['redhello']);
    assert.deepEqual(await installedNames(family.node('P')), ['libredfoo', 'redfoo-conf'], 'P untouched');
    assert.ok(existsSync(join(family.node('C'), 'usr/bin/redhello')));
  });

  it('without the ancestors in the view, the same request pulls the library and the config file in', async () => {
    // Control for the test above: proves the ancestors are what satisfied the requirements.
    const solo = await makeFamily('S');
    try {
      await makeSystemNode(solo.node('S'), []);
      const result = await solve({
        node: solo.node('S'),
        ancestors: [],
        repos: await fixtureRepos(),
        jobs: [{ op: 'install', what: 'redhello' }],
      });
      assertSolved(result, 'S');
      assert.deepEqual(result.steps.map((s) => s.name).sort(), ['libredfoo', 'redfoo-conf', 'redhello']);
      assert.equal(
        result.steps.find((s) => s.name === 'libredfoo')!.evr,
        '2.0-1',
        'best version when nothing constrains it',
      );
    } finally {
      solo.cleanup();
    }
  });

  it('resolves by file path and by soname, and takes the rich-dependency branch that leaves P alone', async () => {
    const byFile = await solveIn(family, 'G', [{ op: 'install', what: '/usr/share/redcompat/README' }]);
    assertSolved(byFile, 'G');
    assert.deepEqual(stepSummary(byFile), ['install redcompat-1.0-1.noarch']);
    const bySoname = await solveIn(family, 'G', [{ op: 'install', what: 'libredfoo.so.1()(64bit)' }]);
    assertSolved(bySoname, 'G');
    assert.deepEqual(bySoname.steps, [], 'P already provides the soname: nothing to do');
    const rich = await solveIn(family, 'G', [{ op: 'install', what: 'redrich' }]);
    assertSolved(rich, 'G');
    assert.deepEqual(
      rich.steps.map((s) => s.name).sort(),
      ['redcompat', 'redrich'],
      "redcompat, not an upgrade of P's libredfoo",
    );
  });

  it('pulls weak dependencies only when asked', async () => {
    const weak = await solveIn(family, 'G', [{ op: 'install', what: 'redrich' }], { weak: true });
    assertSolved(weak, 'G');
    assert.deepEqual(weak.steps.map((s) => s.name).sort(), ['redcompat', 'redrich', 'redscript']);
  });

  it('reports a request that matches nothing the way dnf does', async () => {
    const result = await solveIn(family, 'C', [{ op: 'install', what: 'no-such-package' }]);
    assert.equal(result.ok, false);
    assert.equal(result.problems[0]!.message, 'No match for argument: no-such-package');
  });
});

describe('rule 2: no duplicates of an ancestor package', () => {
  let family: TestFamily;
  before(async () => {
    family = await standardFamily();
  });
  after(() => family.cleanup());

  it('refuses to install libredfoo in C, naming the package and ancestor P', async () => {
    const result = await solveIn(family, 'C', [{ op: 'install', what: 'libredfoo' }]);
    assert.equal(result.ok, false);
    assert.deepEqual(
      result.violations.map((v) => [v.rule, v.package, v.node]),
      [['duplicate', 'libredfoo-1.0-1.x86_64', family.node('P')]],
    );
    assert.throws(
      () => assertSolved(result, 'C'),
      (e: unknown) =>
        e instanceof RedpakError &&
        e.code === 'family-rule' &&
        e.message.includes('libredfoo') &&
        e.message.includes(family.node('P')),
    );
  });

  it('also refuses it two levels down (G), naming P', async () => {
    const result = await solveIn(family, 'G', [{ op: 'install', what: 'libredfoo-2.0' }]);
    assert.equal(result.violations[0]?.node, family.node('P'));
  });

  it('with forcenode, installs the node its own copy next to the ancestor one', async () => {
    const result = await solveIn(family, 'C', [{ op: 'install', what: 'libredfoo-2.0' }], { forcenode: true });
    assertSolved(result, 'C');
    assert.deepEqual(stepSummary(result), ['install libredfoo-2.0-1.x86_64']);
    assert.deepEqual(result.steps[0]!.replaces, [], "P's libredfoo is not replaced");
    await applySteps(family.node('C'), result.steps);
    assert.deepEqual(await installedNames(family.node('C')), ['libredfoo']);
    assert.deepEqual(
      (await queryPackages(family.node('P'))).filter((p) => p.name === 'libredfoo').map((p) => p.version),
      ['1.0'],
    );
  });
});

describe('rule 3: ancestors are read-only', () => {
  let family: TestFamily;
  before(async () => {
    family = await standardFamily(['libredfoo-1.0', 'redfoo-conf', 'redlegacy']);
  });
  after(() => family.cleanup());

  for (const op of ['erase', 'upgrade', 'reinstall', 'downgrade'] as const) {
    it(`refuses to ${op} P's libredfoo from C`, async () => {
      const result = await solveIn(family, 'C', [{ op, what: 'libredfoo' }]);
      assert.deepEqual(
        result.violations.map((v) => [v.rule, v.package, v.node]),
        [['ancestor-read-only', 'libredfoo-1.0-1.x86_64', family.node('P')]],
      );
    });
  }

  it("upgrade-all in C leaves P's packages alone", async () => {
    const result = await solveIn(family, 'C', [{ op: 'upgrade-all' }]);
    assertSolved(result, 'C');
    assert.deepEqual(result.steps, []);
  });

  it("a dependency that needs P's package upgraded is a dnf-style problem naming the read-only package", async () => {
    const result = await solveIn(family, 'C', [{ op: 'install', what: 'redtool' }]);
    assert.equal(result.ok, false);
    const [problem] = result.problems;
    assert.match(
      problem!.message,
      /redtool-1\.0-1\.noarch requires libredfoo >= 2\.0, but none of the providers can be installed/,
    );
    assert.deepEqual(problem!.readOnly, [{ package: 'libredfoo-1.0-1.x86_64', node: family.node('P') }]);
    assert.deepEqual(
      problem!.solutions,
      [['do not ask to install redtool']],
      'no solution unlocks an ancestor package',
    );
    const text = formatProblems(result.problems);
    assert.match(text, /^ Problem: /);
    assert.match(text, /Possible solutions:\n {3}- do not ask to install redtool/);
    assert.throws(
      () => assertSolved(result, 'C'),
      (e: unknown) => e instanceof RedpakError && e.code === 'solver',
    );
  });

  it("obsoleting an ancestor's package is a problem, not a silent erase in P", async () => {
    const result = await solveIn(family, 'C', [{ op: 'install', what: 'rednew' }]);
    assert.equal(result.ok, false);
    assert.deepEqual(result.problems[0]!.readOnly, [{ package: 'redlegacy-1.0-1.noarch', node: family.node('P') }]);
  });
});

describe('rule 5: conflicts and obsoletes across the family view', () => {
  let family: TestFamily;
  before(async () => {
    family = await standardFamily(['libredfoo-2.0', 'redfoo-conf']);
  });
  after(() => family.cleanup());

  it('refuses redcompat in C because it conflicts with libredfoo 2.0 in P', async () => {
    const result = await solveIn(family, 'C', [{ op: 'install', what: 'redcompat' }]);
    assert.equal(result.ok, false);
    assert.ok(
      result.problems[0]!.rules.some((r) =>
        /redcompat-1\.0-1\.noarch conflicts with libredfoo >= 2\.0 provided by libredfoo-2\.0-1\.x86_64/.test(r),
      ),
      formatProblems(result.problems),
    );
  });

  it("applies Obsoletes within the node: rednew replaces C's own redlegacy", async () => {
    await installPackages(family.node('C'), [await rpmFile('redlegacy')]);
    const result = await solveIn(family, 'C', [{ op: 'install', what: 'rednew' }]);
    assertSolved(result, 'C');
    assert.deepEqual(
      result.steps.map((s) => [s.action, s.nevra, s.replaces]),
      [['obsolete', 'rednew-2.0-1.noarch', ['redlegacy-1.0-1.noarch']]],
    );
    await applySteps(family.node('C'), result.steps);
    assert.deepEqual(await installedNames(family.node('C')), ['rednew']);
  });
});

describe('own packages: upgrade, downgrade, reinstall, erase', () => {
  let family: TestFamily;
  before(async () => {
    family = await standardFamily(['redfoo-conf']);
    await installPackages(family.node('C'), [await rpmFile('libredfoo-1.0')]);
  });
  after(() => family.cleanup());

  it('walks libredfoo in C up, down, again, and out', async () => {
    const C = family.node('C');
    const version = async () => (await queryPackages(C)).filter((p) => p.name === 'libredfoo').map((p) => p.version);
    const step = async (op: 'upgrade' | 'downgrade' | 'reinstall' | 'erase', expected: string[]) => {
      const result = await solveIn(family, 'C', [{ op, what: 'libredfoo' }]);
      assertSolved(result, 'C');
      assert.deepEqual(stepSummary(result), expected);
      await applySteps(C, result.steps);
    };
    await step('upgrade', ['upgrade libredfoo-2.0-1.x86_64']);
    assert.deepEqual(await version(), ['2.0']);
    await step('downgrade', ['downgrade libredfoo-1.0-1.x86_64']);
    assert.deepEqual(await version(), ['1.0']);
    await step('reinstall', ['reinstall libredfoo-1.0-1.x86_64']);
    assert.deepEqual(await version(), ['1.0']);
    await step('erase', ['erase libredfoo-1.0-1.x86_64']);
    assert.deepEqual(await version(), []);
  });
});

describe('rule 4: descendants are protected', () => {
  let family: TestFamily;
  before(async () => {
    family = await standardFamily();
    // C gets redhello (needs P's libredfoo soname), G gets redpinned (needs libredfoo < 2.0).
    const c = await solveIn(family, 'C', [{ op: 'install', what: 'redhello' }]);
    await applySteps(family.node('C'), c.steps);
    const g = await solveIn(family, 'G', [{ op: 'install', what: 'redpinned' }]);
    assertSolved(g, 'G');
    await applySteps(family.node('G'), g.steps);
  });
  after(() => family.cleanup());

  it("refuses to erase libredfoo from P while C's redhello needs it, naming node, package and requirement", async () => {
    const result = await solveIn(family, 'P', [{ op: 'erase', what: 'libredfoo' }], {
      descendants: [family.node('C')],
    });
    assert.equal(result.ok, false);
    const broken = result.violations.filter((v) => v.rule === 'descendant-broken');
    assert.deepEqual(
      broken.map((v) => [v.node, v.package, v.requirement, v.removed]),
      [[family.node('C'), 'redhello-1.0-1.x86_64', 'libredfoo.so.1()(64bit)', ['libredfoo-1.0-1.x86_64']]],
    );
    assert.throws(
      () => assertSolved(result, 'P'),
      (e: unknown) => e instanceof RedpakError && e.code === 'family-rule' && /redhello/.test(e.message),
    );
  });

  it('without descendants given, the same erase goes through (control)', async () => {
    const result = await solveIn(family, 'P', [{ op: 'erase', what: 'libredfoo' }]);
    assertSolved(result, 'P');
    assert.deepEqual(stepSummary(result), ['erase libredfoo-1.0-1.x86_64']);
  });

  it('refuses to upgrade libredfoo in P when grandchild G pins it below 2.0 (seen through C)', async () => {
    const result = await solveIn(family, 'P', [{ op: 'upgrade', what: 'libredfoo' }], {
      descendants: [family.node('C'), { node: family.node('G'), via: [family.node('C')] }],
    });
    assert.deepEqual(
      result.violations.map((v) => [v.node, v.package, v.requirement]),
      [[family.node('G'), 'redpinned-1.0-1.noarch', 'libredfoo < 2.0']],
      'redhello only needs the soname, which 2.0 still provides',
    );
  });
});

describe('the .solv cache of databases and repositories', () => {
  let family: TestFamily;
  let cache: string;
  before(async () => {
    family = await standardFamily();
    cache = join(family.root, 'cache/@solv');
  });
  after(() => family.cleanup());

  const cacheFiles = () => (existsSync(cache) ? readdirSync(cache).sort() : []);
  const stamps = () => Object.fromEntries(cacheFiles().map((f) => [f, statSync(join(cache, f)).mtimeMs]));

  it('gives the same answer as parsing, and is reused, not rewritten, while nothing changed', async () => {
    const plain = await solveIn(family, 'C', [{ op: 'install', what: 'redhello' }]);
    const first = await solveIn(family, 'C', [{ op: 'install', what: 'redhello' }], { solvCache: cache });
    assert.deepEqual(first, plain);
    // The repository, P's database and C's.
    assert.deepEqual(
      cacheFiles().map((f) => f.split('-')[0]),
      ['repo', 'rpmdb', 'rpmdb'],
    );
    const before = stamps();
    const second = await solveIn(family, 'C', [{ op: 'install', what: 'redhello' }], { solvCache: cache });
    assert.deepEqual(second, plain);
    assert.deepEqual(stamps(), before);
  });

  it('a database changed by rpm is read again: the cached copy is replaced', async () => {
    const before = cacheFiles();
    await installPackages(family.node('P'), [await rpmFile('redscript-1.0')], { noscripts: true });
    const result = await solveIn(family, 'C', [{ op: 'install', what: 'redscript' }], { solvCache: cache });
    assert.equal(result.ok, false, 'redscript is now in P: a duplicate for C');
    assert.deepEqual(
      result.violations.map((v) => [v.rule, v.name]),
      [['duplicate', 'redscript']],
    );
    const after = cacheFiles();
    assert.equal(after.length, before.length, 'the stale copy of P is dropped');
    assert.notDeepEqual(after, before);
  });

  it('a repository whose repomd.xml changed is read again', async () => {
    const repoDir = join(family.root, 'growing');
    mkdirSync(repoDir);
    copyFileSync(await rpmFile('redpinned-1.0'), join(repoDir, 'redpinned.rpm'));
    const createrepo = () => assert.equal(spawnSync('createrepo_c', ['--quiet', repoDir]).status, 0);
    createrepo();
    const repos = [{ id: 'growing', dir: repoDir }];
    const ask = () =>
      solve({
        node: family.node('C'),
        ancestors: [family.node('P')],
        repos,
        jobs: [{ op: 'install', what: 'redlegacy' }],
        solvCache: cache,
      });
    assert.match(formatProblems((await ask()).problems), /No match for argument: redlegacy/);
    copyFileSync(await rpmFile('redlegacy-1.0'), join(repoDir, 'redlegacy.rpm'));
    createrepo();
    assert.deepEqual(stepSummary(await ask()), ['install redlegacy-1.0-1.noarch']);
  });

  it('a cache directory that cannot be written only costs time', async () => {
    const blocked = join(family.root, 'a-file');
    writeFileSync(blocked, '');
    const result = await solveIn(family, 'C', [{ op: 'install', what: 'redhello' }], {
      solvCache: join(blocked, '@solv'),
    });
    assert.deepEqual(stepSummary(result), ['install redhello-1.0-1.x86_64']);
  });
});
