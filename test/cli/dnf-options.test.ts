/**
 * redwrap-dnf's dnf options as users type them (in-process commands, real families, the fixture
 * repository): --exclude/-x on transactions and queries, and --forcenode where the refusal of a
 * duplicate points.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { BinRun } from '../helpers/cli.js';
import { runCommand } from '../helpers/in-process.js';
import { fixtureRepo } from '../pkg/helpers/family.js';
import { makeNodeFamily, snapshotNode, type NodeFamily } from '../pkg/helpers/nodes.js';

const dnf = (args: string[]): Promise<BinRun> => runCommand('redwrap-dnf', args);
const names = (r: BinRun): string[] => r.json.packages.map((p: { name: string }) => p.name);

describe('--exclude PKG (-x): left out of the repositories for this run', () => {
  let f: NodeFamily;
  before(async () => {
    f = await makeNodeFamily();
  });
  after(() => f.cleanup());

  it('queries: list --available, repoquery, search, info do not see it; globs and commas', async () => {
    const all = await dnf(['--redpath', f.app, 'list', '--available', '--json']);
    assert.equal(all.status, 0, all.stderr);
    assert.ok(names(all).includes('libredfoo') && names(all).includes('redfoo-conf'));
    const some = await dnf(['--redpath', f.app, '--exclude', 'libred*,redfoo-conf', 'list', '--available', '--json']);
    assert.equal(some.status, 0, some.stderr);
    assert.deepEqual(
      names(some).filter((n) => /redfoo/.test(n)),
      [],
    );
    assert.ok(names(some).includes('redhello'), 'the rest is still offered');
    const query = await dnf(['--redpath', f.app, 'repoquery', '-x', 'redhello', '-x', 'redtool', '--json']);
    assert.equal(query.status, 0, query.stderr);
    assert.ok(!names(query).some((n) => n === 'redhello' || n === 'redtool'), names(query).join(' '));
    assert.ok(names(query).includes('libredfoo'));
    const search = await dnf(['--redpath', f.app, 'search', 'redhello', '-x', 'redhello']);
    assert.equal(search.status, 7, 'nothing matches: exit 7, as any "no such package"');
    const info = await dnf(['--redpath', f.app, '-x', 'redhello', 'info', 'redhello']);
    assert.equal(info.status, 7, info.stdout);
  });

  it('install: an excluded package is no candidate, by name nor as a dependency; nothing changes', async () => {
    const before = snapshotNode(f.app);
    const named = await dnf(['--redpath', f.app, '-y', '-x', 'redhello', 'install', 'redhello', '--json']);
    assert.equal(named.status, 7, named.stdout);
    assert.match(named.json.error.message, /No match for argument: redhello/);
    const dependency = await dnf(['--redpath', f.app, '-y', '--exclude=libredfoo', 'install', 'redhello', '--json']);
    assert.equal(dependency.status, 7, dependency.stdout);
    assert.match(dependency.json.error.message, /libredfoo\.so\.1/);
    assert.deepEqual(snapshotNode(f.app), before);
  });

  it('upgrade: the newer version excluded, nothing to do; --repo-dir repositories are filtered too', async () => {
    const installed = await dnf(['--redpath', f.platform, '-y', 'install', 'libredfoo-1.0', '--json']);
    assert.equal(installed.status, 0, installed.stderr);
    const held = await dnf(['--redpath', f.platform, '-y', '-x', 'libredfoo', 'upgrade', '--json']);
    assert.equal(held.status, 0, held.stderr);
    assert.deepEqual(held.json.packages, []);
    const given = await dnf([
      '--redpath',
      f.platform,
      '--no-repo-files',
      '--repo-dir',
      (await fixtureRepo()).repoDir,
      '-x',
      'libredfoo',
      '--assumeno',
      'upgrade',
      '--json',
    ]);
    assert.equal(given.status, 0, given.stderr);
    assert.deepEqual(given.json.packages, []);
    const free = await dnf(['--redpath', f.platform, '--assumeno', 'upgrade', '--json']);
    assert.deepEqual(
      free.json.packages.map((p: { nevra: string }) => p.nevra),
      ['libredfoo-2.0-1.x86_64'],
      'without --exclude the upgrade is there',
    );
  });
});

describe("dnf.conf's [main] excludepkgs, the same filter", () => {
  it("a node's dnf.conf or --setopt excludepkgs=: every repository leaves those out", async (t) => {
    const f = await makeNodeFamily();
    t.after(() => f.cleanup());
    mkdirSync(join(f.platform, 'etc/dnf'), { recursive: true });
    writeFileSync(join(f.platform, 'etc/dnf/dnf.conf'), '[main]\nexcludepkgs=redhello\n');
    const shown = await dnf(['--redpath', f.app, 'list', '--available', '--json']);
    assert.equal(shown.status, 0, shown.stderr);
    assert.ok(!names(shown).includes('redhello') && names(shown).includes('redtool'), names(shown).join(' '));
    const set = await dnf(['--redpath', f.app, '--setopt', 'excludepkgs=redtool', 'list', '--available', '--json']);
    assert.ok(!names(set).includes('redtool') && names(set).includes('libredfoo'), names(set).join(' '));
    const repos = await dnf(['--redpath', f.app, 'repolist', '--json']);
    assert.deepEqual(
      repos.json.repos.map((r: { excludepkgs: string[] }) => r.excludepkgs),
      [['redhello']],
    );
  });
});

describe('--forcenode, where the refusal of a duplicate points', () => {
  let f: NodeFamily;
  before(async () => {
    f = await makeNodeFamily();
  });
  after(() => f.cleanup());

  it("the hint's command installs the ancestor's very version into the node", async () => {
    assert.equal((await dnf(['--redpath', f.platform, '-y', 'install', 'libredfoo-1.0'])).status, 0);
    const refused = await dnf(['--redpath', f.app, '-y', 'install', 'libredfoo-1.0']);
    assert.equal(refused.status, 8);
    assert.match(refused.stderr, /hint: .*--forcenode/);
    const forced = await dnf(['--redpath', f.app, '-y', '--forcenode', 'install', 'libredfoo-1.0']);
    assert.equal(forced.status, 0, forced.stderr);
    assert.match(forced.stdout, /Installed: libredfoo-1\.0-1\.x86_64/);
    const rpm = spawnSync('rpm', ['--dbpath', join(f.app, 'var/lib/rpm'), '-q', 'libredfoo'], { encoding: 'utf8' });
    assert.equal(rpm.stdout.trim(), 'libredfoo-1.0-1.x86_64');
  });
});
