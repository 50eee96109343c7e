/**
 * Crash-safe merges (src/pkg/view.ts, src/pkg/recovery.ts): redwrap-dnf is SIGKILLed at points
 * spread over the merge of a many-file install, upgrade and remove (test hook
 * REDPAK_TEST_KILL_AFTER_MERGE_STEPS); the next command completes the interrupted merge and says
 * so, and the node is then exactly the new state: rpm -V passes and the file set is the
 * package's. Hostile stages planted in a node never move anything outside it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createNode } from '../../src/node/factory.js';
import { recoverInterrupted } from '../../src/pkg/recovery.js';
import { initDb } from '../../src/pkg/rpm.js';
import { pinnedHost } from '../helpers/family.js';
import { JOURNAL, pendingMerge, STAGE_DIR } from '../../src/pkg/view.js';
import { runBin } from '../helpers/cli.js';
import { buildTestRpm, makeNodeFamily, type NodeFamily } from './helpers/nodes.js';

const FILES = 40;

/** redmany VERSION: FILES files under /usr/share/redmany whose content names the version, and a config. */
function buildRedmany(version: string, work: string): string {
  const count = version === '1.0' ? FILES : FILES + 10;
  const spec = [
    '%global _build_id_links none',
    'Name: redmany',
    `Version: ${version}`,
    'Release: 1',
    'Summary: many files',
    'License: Apache-2.0',
    'BuildArch: noarch',
    '%description',
    'Many files, for the crash tests.',
    '%install',
    'mkdir -p %{buildroot}/usr/share/redmany %{buildroot}/etc',
    `for i in $(seq 1 ${count}); do echo "${version} $i" > %{buildroot}/usr/share/redmany/f$i; done`,
    `echo "conf ${version}" > %{buildroot}/etc/redmany.conf`,
    '%files',
    '/usr/share/redmany',
    '%config /etc/redmany.conf',
  ].join('\n');
  writeFileSync(join(work, `redmany-${version}.spec`), spec);
  const r = spawnSync(
    'rpmbuild',
    [
      '--define',
      `_topdir ${join(work, 'build')}`,
      '--define',
      `_dbpath ${join(work, 'db')}`,
      '--nodeps',
      '-bb',
      join(work, `redmany-${version}.spec`),
    ],
    { encoding: 'utf8' },
  );
  assert.equal(r.status, 0, r.stderr);
  return join(work, 'build/RPMS/noarch', `redmany-${version}-1.noarch.rpm`);
}

/** What the node holds of redmany: its installed version (or null) and a hash of each of its files. */
function state(node: string): { version: string | null; files: Record<string, string> } {
  const q = spawnSync('rpm', ['--dbpath', '/var/lib/rpm', '--root', node, '-q', '--qf', '%{VERSION}', 'redmany'], {
    encoding: 'utf8',
  });
  const files: Record<string, string> = {};
  const dir = join(node, 'usr/share/redmany');
  if (existsSync(dir))
    for (const f of readdirSync(dir).sort())
      files[`usr/share/redmany/${f}`] = createHash('sha256')
        .update(readFileSync(join(dir, f)))
        .digest('hex')
        .slice(0, 12);
  if (existsSync(join(node, 'etc/redmany.conf')))
    files['etc/redmany.conf'] = readFileSync(join(node, 'etc/redmany.conf'), 'utf8').trim();
  return { version: q.status === 0 ? q.stdout.trim() : null, files };
}

function rpmVerify(node: string): { status: number; out: string } {
  const v = spawnSync('rpm', ['--dbpath', '/var/lib/rpm', '--root', node, '-V', 'redmany'], { encoding: 'utf8' });
  return { status: v.status ?? -1, out: v.stdout + v.stderr };
}

describe('a merge killed at any point is completed by the next command', () => {
  let f: NodeFamily;
  let repo: string;
  const expected: Record<string, ReturnType<typeof state>> = {};
  before(async () => {
    f = await makeNodeFamily({ repoFile: false });
    const work = join(f.dir, 'redmany');
    repo = join(f.dir, 'repo');
    mkdirSync(repo, { recursive: true });
    mkdirSync(work, { recursive: true });
    for (const v of ['1.0', '2.0']) spawnSync('cp', [buildRedmany(v, work), repo]);
    assert.equal(spawnSync('createrepo_c', ['--quiet', repo]).status, 0);
    // The reference states, from uninterrupted runs in a sibling node.
    const ref = join(f.sys, 'ref');
    const dnf = (args: string[]) =>
      runBin('redwrap-dnf', ['--redpath', ref, '--no-repo-files', '--repo-dir', repo, '-y', ...args]);
    createNode({ redpath: ref, host: pinnedHost() });
    await initDb(ref);
    expected.absent = state(ref);
    assert.equal(dnf(['install', 'redmany-1.0']).status, 0);
    expected['1.0'] = state(ref);
    assert.equal(dnf(['upgrade', 'redmany']).status, 0);
    expected['2.0'] = state(ref);
    assert.equal(Object.keys(expected['2.0']!.files).length, FILES + 11);
  });
  after(() => f.cleanup());

  it('21 kills over installs, upgrades and removes: the node ends exactly in the new state, rpm -V clean, the user told', () => {
    const node = f.app;
    // absent → 1.0 → 2.0 → absent …: each trial moves the node to the next state.
    const cycle: [string, string[]][] = [
      ['1.0', ['install', 'redmany-1.0']],
      ['2.0', ['upgrade', 'redmany']],
      ['absent', ['remove', 'redmany']],
    ];
    const killed: string[] = [];
    for (let trial = 0; trial < 21; trial += 1) {
      // Spread over each kind of merge: an install or upgrade has some 50 steps, a remove some 10.
      const round = Math.floor(trial / 3);
      const steps = trial % 3 === 2 ? 1 + round : 1 + round * 8;
      const [target, args] = cycle[trial % 3]!;
      const r = runBin('redwrap-dnf', ['--redpath', node, '--no-repo-files', '--repo-dir', repo, '-y', ...args], {
        env: { REDPAK_TEST_KILL_AFTER_MERGE_STEPS: String(steps) },
      });
      const what: string = `${args.join(' ')} killed after ${steps} merge steps`;
      if (r.status === 0) assert.ok(!existsSync(join(node, STAGE_DIR)), what);
      else {
        assert.equal(r.status, -1, `${what}: ${r.stderr}`);
        killed.push(what);
      }
      const stageLeft = existsSync(join(node, STAGE_DIR));
      // The next command that reads the node: it completes the merge before anything else.
      const list = runBin('redwrap-dnf', ['--redpath', node, 'list', '--installed', '--json']);
      assert.equal(list.status, 0, `${what}: ${list.stderr}`);
      if (stageLeft)
        assert.match(
          list.stderr,
          /an interrupted package transaction had (been committed; its merge was completed|not been committed; its staged changes were dropped)/,
          what,
        );
      assert.ok(!existsSync(join(node, STAGE_DIR)), what);
      assert.deepEqual(state(node), expected[target], what);
      if (target !== 'absent') assert.deepEqual(rpmVerify(node), { status: 0, out: '' }, what);
      assert.deepEqual(
        list.json.packages.map((p: { name: string }) => p.name).filter((n: string) => n === 'redmany'),
        target === 'absent' ? [] : ['redmany'],
        what,
      );
    }
    assert.ok(killed.length >= 20, `killed ${killed.length} times: ${killed.join('; ')}`);
  });

  it('a kill after the commit leaves a pending merge that redmanager check reports with what to run', () => {
    const node = f.app;
    const spec =
      state(node).version === null
        ? ['install', 'redmany-1.0']
        : state(node).version === '1.0'
          ? ['upgrade', 'redmany']
          : ['remove', 'redmany'];
    const r = runBin('redwrap-dnf', ['--redpath', node, '--no-repo-files', '--repo-dir', repo, '-y', ...spec], {
      env: { REDPAK_TEST_KILL_AFTER_MERGE_STEPS: '5' },
    });
    assert.equal(r.status, -1, r.stderr);
    assert.ok(pendingMerge(node));
    const check = runBin('redmanager', ['check', '--redroot', f.sys, '--json']);
    const finding = (check.json?.findings ?? []).find((x: { rule: string }) => x.rule === 'half-merged');
    assert.ok(finding, check.stdout + check.stderr);
    assert.match(finding.hint, /redwrap-dnf --redpath .* list --installed/);
    assert.ok(pendingMerge(node), 'check changes nothing');
    const list = runBin('redwrap-dnf', ['--redpath', node, 'list', '--installed']);
    assert.match(list.stderr, /its merge was completed/);
    assert.ok(!pendingMerge(node));
  });
});

describe('a killed merge that replaces an opaque directory', () => {
  let f: NodeFamily;
  before(async () => {
    f = await makeNodeFamily({ repoFile: false });
  });
  after(() => f.cleanup());

  it('is completed to the new directory alone, never merged with the old one, whatever the step of the kill', () => {
    const recreate = buildTestRpm(
      'redrecreate',
      '%post\nrm -rf /opt/redstate\nmkdir -p /opt/redstate\necho new > /opt/redstate/new\n%files\n',
    );
    for (const steps of [1, 2, 3, 4, 5, 6]) {
      mkdirSync(join(f.app, 'opt/redstate'), { recursive: true });
      writeFileSync(join(f.app, 'opt/redstate/old'), 'from before\n');
      const r = runBin('redwrap-dnf', ['--redpath', f.app, '-y', 'install', recreate], {
        env: { REDPAK_TEST_KILL_AFTER_MERGE_STEPS: String(steps) },
      });
      assert.equal(r.status, -1, `killed after ${steps}: ${r.stderr}`);
      const list = runBin('redwrap-dnf', ['--redpath', f.app, 'list', '--installed', '--json']);
      assert.equal(list.status, 0, list.stderr);
      assert.deepEqual(readdirSync(join(f.app, 'opt/redstate')), ['new'], `killed after ${steps}`);
      assert.deepEqual(
        list.json.packages.map((p: { name: string }) => p.name),
        ['redrecreate'],
      );
      // Back to the old directory for the next kill: the generation recorded with the transaction restores it.
      const back = runBin('redwrap-dnf', ['--redpath', f.app, '-y', 'history', 'rollback']);
      assert.equal(back.status, 0, back.stderr);
      assert.deepEqual(readdirSync(join(f.app, 'opt/redstate')), ['old'], `rolled back after ${steps}`);
      rmSync(join(f.app, 'opt/redstate'), { recursive: true, force: true });
    }
  });
});

describe('hostile stages planted in a node', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'redpak-stage-test-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const nodeWithStage = (name: string) => {
    const node = join(dir, name);
    mkdirSync(join(node, 'usr'), { recursive: true });
    return node;
  };

  it('a stage without a journal was never committed: dropped, nothing of it reaches the node', () => {
    const node = nodeWithStage('uncommitted');
    mkdirSync(join(node, STAGE_DIR, 'upper/usr/bin'), { recursive: true });
    writeFileSync(join(node, STAGE_DIR, 'upper/usr/bin/half'), 'x');
    const [notice] = recoverInterrupted([node], node);
    assert.equal(notice?.outcome, 'dropped');
    assert.ok(!existsSync(join(node, STAGE_DIR)) && !existsSync(join(node, 'usr/bin/half')));
  });

  it('a stage that is a symlink to a directory outside the node is removed as a link: what it points to is neither moved nor deleted', () => {
    const node = nodeWithStage('symlinked');
    const outside = join(dir, 'outside');
    mkdirSync(join(outside, 'upper/usr'), { recursive: true });
    writeFileSync(join(outside, 'upper/usr/precious'), 'precious');
    writeFileSync(join(outside, JOURNAL), JSON.stringify({ format: 'redpak-merge/1', opaque: [], displaced: false }));
    symlinkSync(outside, join(node, STAGE_DIR));
    assert.equal(recoverInterrupted([node], node)[0]?.outcome, 'dropped');
    assert.equal(readFileSync(join(outside, 'upper/usr/precious'), 'utf8'), 'precious');
    assert.ok(!existsSync(join(node, 'usr/precious')));
  });

  it('a committed journal never writes through a symlink of the node: var/lib pointing outside is replaced by a directory', () => {
    const node = nodeWithStage('through-link');
    const outside = join(dir, 'outside-lib');
    mkdirSync(join(outside, 'rpm'), { recursive: true });
    writeFileSync(join(outside, 'rpm/rpmdb.sqlite'), 'host database');
    mkdirSync(join(node, 'var'), { recursive: true });
    symlinkSync(outside, join(node, 'var/lib'));
    mkdirSync(join(node, STAGE_DIR, 'upper/var/lib/rpm'), { recursive: true });
    writeFileSync(join(node, STAGE_DIR, 'upper/var/lib/rpm/rpmdb.sqlite'), 'node database');
    writeFileSync(
      join(node, STAGE_DIR, JOURNAL),
      JSON.stringify({ format: 'redpak-merge/1', opaque: [], displaced: false }),
    );
    assert.equal(recoverInterrupted([node], node)[0]?.outcome, 'completed');
    assert.equal(readFileSync(join(outside, 'rpm/rpmdb.sqlite'), 'utf8'), 'host database');
    assert.ok(lstatSync(join(node, 'var/lib')).isDirectory());
    assert.equal(readFileSync(join(node, 'var/lib/rpm/rpmdb.sqlite'), 'utf8'), 'node database');
  });

  it('a journal naming opaque directories outside the node, or through a symlink, is refused or moves nothing outside', () => {
    const node = nodeWithStage('escape');
    mkdirSync(join(node, STAGE_DIR, 'upper'), { recursive: true });
    writeFileSync(
      join(node, STAGE_DIR, JOURNAL),
      JSON.stringify({ format: 'redpak-merge/1', opaque: ['../outside-lib'], displaced: false }),
    );
    assert.throws(
      () => recoverInterrupted([node], node),
      /not a merge journal redpak wrote \(bad opaque directories\)/,
    );
    assert.ok(existsSync(join(dir, 'outside-lib/rpm/rpmdb.sqlite')));
    const victim = join(dir, 'victim');
    mkdirSync(join(victim, 'data'), { recursive: true });
    writeFileSync(join(victim, 'data/keep'), 'keep');
    symlinkSync(victim, join(node, 'usr/link'));
    writeFileSync(
      join(node, STAGE_DIR, JOURNAL),
      JSON.stringify({ format: 'redpak-merge/1', opaque: ['usr/link/data'], displaced: false }),
    );
    assert.equal(recoverInterrupted([node], node)[0]?.outcome, 'completed');
    assert.equal(readFileSync(join(victim, 'data/keep'), 'utf8'), 'keep');
  });
});
