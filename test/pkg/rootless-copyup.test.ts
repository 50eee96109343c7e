/**
 * Copy-up staging (docs/transactions.md, "Copy-up staging"): the staged view made of a copy of the
 * node where the kernel refuses overlayfs in a user namespace. This kernel allows the overlay, so
 * the tests force the copy with the test hook REDPAK_STAGING=copy; the rest is real: throwaway
 * users (test/helpers/users.ts), the built executables, the fixture repository, rpm, bwrap.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { EXIT_CODES } from '../../src/errors.js';
import { NORMAL_CONFIG } from '../../src/node/layout.js';
import { acceptUnsignedPackages } from '../../src/pkg/node-setup.js';
import { JOURNAL, STAGE_DIR } from '../../src/pkg/view.js';
import { COPY_DIR, collectCopyChanges, prepareCopyView } from '../../src/pkg/view-copyup.js';
import { stagedCommand, stageHelper } from '../../src/pkg/stage-runner.js';
import { runBin } from '../helpers/cli.js';
import { runAs, runAsAsync, throwawayUser, WITHOUT_THROWAWAY_USER, type TestUser } from '../helpers/users.js';
import { fixtureRepo } from './helpers/family.js';
import { buildTestRpm, snapshotNode } from './helpers/nodes.js';
import { bin, notOwnedBy, ok, readableRepo, repoFile } from './helpers/rootless.js';

const COPY = { REDPAK_STAGING: 'copy' };
const dnf = (user: TestUser, args: string[], env: Record<string, string> = COPY) =>
  runAs(user, [bin('redwrap-dnf'), ...args], { env });

/** The user's own family: system node ~/r, platform ~/r/plat, app ~/r/plat/app, the fixture repository. */
async function ownFamily(t: TestContext) {
  const user = throwawayUser(t);
  const repo = await readableRepo(t);
  const top = join(user.home, 'r');
  const plat = join(top, 'plat');
  const app = join(plat, 'app');
  for (const n of [plat, app]) ok(runAs(user, [bin('redmanager'), 'create-node', '--redpath', n]), `create-node ${n}`);
  repoFile(top, repo, user);
  acceptUnsignedPackages(join(top, NORMAL_CONFIG)); // the fixture packages are unsigned
  return { user, top, plat, app };
}

const installedNames = (user: TestUser, node: string) => {
  const listed = dnf(user, ['--redpath', node, 'list', '--installed', '--json']);
  ok(listed, 'list');
  return (JSON.parse(listed.stdout) as { packages: { name: string }[] }).packages.map((p) => p.name);
};

/** A package readable by every user (buildTestRpm's directories are 0755). */
function testRpm(name: string, body: string): string {
  const rpm = buildTestRpm(name, body);
  assert.equal(statSync(rpm).mode & 0o004, 0o004, `${rpm} is readable by the throwaway user`);
  return rpm;
}

/** A %post that tries to write the platform's library, bound read-only into the copy-up view. */
const hostileRpm = () =>
  testRpm(
    'redhostilepost',
    [
      '%install',
      'mkdir -p %{buildroot}/usr/share/redhostilepost',
      'echo x > %{buildroot}/usr/share/redhostilepost/README',
      '%post',
      'mount -o remount,rw,bind /usr/lib/libredfoo.so.1',
      'umount /usr/lib/libredfoo.so.1',
      'echo pwned > /usr/lib/libredfoo.so.1',
      'exit 1',
      '%files',
      '/usr/share/redhostilepost/README',
    ].join('\n'),
  );

describe('copy-up staging as an ordinary user (REDPAK_STAGING=copy)', { skip: WITHOUT_THROWAWAY_USER }, () => {
  it('library in the platform, app in the leaf: run, remove, roll back; every file the user’s', async (t) => {
    const { user, top, plat, app } = await ownFamily(t);
    ok(dnf(user, ['--redpath', plat, '-y', 'install', 'libredfoo-1.0', 'redfoo-conf']), 'install in platform');
    ok(dnf(user, ['--redpath', app, '-y', 'install', 'redhello', 'redscript']), 'install in app');
    assert.deepEqual(installedNames(user, app), ['redhello', 'redscript'], 'the app node holds its own packages only');
    assert.ok(existsSync(join(plat, 'usr/lib/libredfoo.so.1')));
    assert.ok(
      !existsSync(join(app, 'usr/lib/libredfoo.so.1')),
      'the platform’s library seen in the view is not copied',
    );
    assert.ok(!existsSync(join(app, 'usr/bin/sh')), 'nor the host’s files the view showed');
    assert.equal(readFileSync(join(app, 'var/lib/redscript/post.marker'), 'utf8'), 'post\n', 'scriptlets ran');
    assert.ok(!existsSync(join(app, STAGE_DIR)), 'the stage is gone');
    assert.deepEqual(notOwnedBy(top, user.uid), [], 'every file is the user’s');

    const run = runAs(user, [bin('redwrap'), '--redpath', app, '--', 'redhello']);
    ok(run, 'redwrap runs the installed app');
    assert.match(run.stdout, /hello from redhello, libredfoo 1\.0/);

    ok(dnf(user, ['--redpath', app, '-y', 'remove', 'redhello', 'redscript']), 'remove');
    assert.deepEqual(installedNames(user, app), []);
    assert.ok(!existsSync(join(app, 'usr/bin/redhello')), 'the removed package’s files are gone from the node');
    assert.ok(!existsSync(join(app, 'usr/share/redscript/README')));
    ok(dnf(user, ['--redpath', app, '-y', 'history', 'rollback']), 'rollback');
    assert.deepEqual(installedNames(user, app), ['redhello', 'redscript'], 'the rollback brought them back');
    assert.ok(existsSync(join(app, 'usr/share/redscript/README')));
    ok(runAs(user, [bin('redwrap'), '--redpath', app, '--', 'redhello']), 'and it runs');
    assert.deepEqual(notOwnedBy(top, user.uid), []);
  });

  for (const [staging, env] of [
    ['overlays', {}],
    ['copy-up', COPY],
  ] as const) {
    it(`directories without owner write merge for their owner (${staging})`, async (t) => {
      const { user, app } = await ownFamily(t);
      // The node's own usr/bin left 0555, and a package shipping a 0555 directory with a file in it.
      const bin0555 = join(app, 'usr/bin');
      ok(runAs(user, ['sh', '-c', `mkdir -p ${bin0555} && chmod 0555 ${bin0555}`]), 'locked usr/bin');
      const locked = testRpm(
        'redlockeddir',
        [
          '%install',
          'mkdir -p %{buildroot}/opt/redlocked',
          'echo x > %{buildroot}/opt/redlocked/f',
          '%files',
          '%attr(0555,-,-) %dir /opt/redlocked',
          '/opt/redlocked/f',
        ].join('\n'),
      );
      ok(dnf(user, ['--redpath', app, '-y', 'install', 'redhello', locked], env), 'install');
      assert.ok(existsSync(join(app, 'usr/bin/redhello')));
      assert.equal(readFileSync(join(app, 'opt/redlocked/f'), 'utf8'), 'x\n');
      assert.equal(statSync(bin0555).mode & 0o777, 0o555, 'the node’s directory keeps its mode');
      assert.equal(statSync(join(app, 'opt/redlocked')).mode & 0o777, 0o555, 'the package’s directory has its own');
      assert.ok(!existsSync(join(app, STAGE_DIR)), 'the stage is gone');
      ok(dnf(user, ['--redpath', app, '-y', 'remove', 'redlockeddir'], env), 'remove');
      assert.ok(!existsSync(join(app, 'opt/redlocked/f')));
    });
  }

  it('a failing scriptlet leaves the node unchanged; a scriptlet cannot change an ancestor’s file', async (t) => {
    const { user, plat, app } = await ownFamily(t);
    ok(dnf(user, ['--redpath', plat, '-y', 'install', 'libredfoo-1.0']), 'install in platform');
    const lib = join(plat, 'usr/lib/libredfoo.so.1');
    const libBefore = readFileSync(lib);

    const failing = testRpm('redfailpre', '%pre\nexit 1\n%files\n');
    // A directory of the node without owner write, which the view composes with the host's
    // /usr/bin: its copy takes the host's entries, and the stage is still removed.
    const locked = join(app, 'usr/bin');
    ok(runAs(user, ['sh', '-c', `mkdir -p ${locked} && touch ${locked}/f && chmod 0555 ${locked}`]), 'locked');
    const before = snapshotNode(app);
    const r = dnf(user, ['--redpath', app, '-y', 'install', 'redhello', failing]);
    assert.equal(r.status, EXIT_CODES['tool-failed'], r.stderr);
    assert.match(r.stderr, /rpm failed in node/);
    assert.deepEqual(snapshotNode(app), before, 'redhello, installed by rpm before the failure, is not in the node');
    assert.ok(!existsSync(join(app, STAGE_DIR)), 'the stage is removed');

    // The platform's library is bound read-only into the copy, before bwrap: in bwrap's user
    // namespace that mount is locked, so a scriptlet can neither remount it writable nor unmount it.
    const installed = dnf(user, ['--redpath', app, '-y', 'install', hostileRpm()]);
    ok(installed, 'a failing %post is a warning');
    assert.match(installed.stderr + installed.stdout, /%post\(redhostilepost-1\.0-1\.noarch\) scriptlet failed/);
    assert.deepEqual(readFileSync(lib), libBefore, 'the platform’s file is unchanged');
    assert.ok(!existsSync(join(app, 'usr/lib/libredfoo.so.1')), 'and no copy of it landed in the app node');
    assert.ok(existsSync(join(app, 'usr/share/redhostilepost/README')));
  });

  it('a kill before the commit is dropped, a kill after it is completed, by the next command', async (t) => {
    const { user, app } = await ownFamily(t);
    const stage = join(app, STAGE_DIR);
    ok(dnf(user, ['--redpath', app, '-y', 'install', 'redscript']), 'install');

    // Killed while a scriptlet runs: the copy is in the stage, the node is as it was.
    const slow = testRpm(
      'redslowpost',
      '%install\nmkdir -p %{buildroot}/usr/share/redslowpost\necho slow > %{buildroot}/usr/share/redslowpost/README\n%post\nsleep 30\n%files\n/usr/share/redslowpost/README\n',
    );
    const before = snapshotNode(app);
    const running = runAsAsync(user, [bin('redwrap-dnf'), '--redpath', app, '-y', 'install', slow], { env: COPY });
    const staged = join(stage, COPY_DIR, 'usr/share/redslowpost/README');
    for (let i = 0; i < 600 && !existsSync(staged); i += 1) await new Promise((r) => setTimeout(r, 50));
    assert.ok(existsSync(staged), 'rpm wrote into the copy and runs the scriptlet');
    const pid = spawnSync('pgrep', ['-u', String(user.uid), '-f', `redwrap-dnf --redpath ${app} -y install`], {
      encoding: 'utf8',
    }).stdout.trim();
    assert.match(pid, /^\d+$/, 'one redwrap-dnf process');
    process.kill(Number(pid), 'SIGKILL');
    await running;
    assert.ok(existsSync(stage) && !existsSync(join(stage, JOURNAL)), 'an uncommitted stage is left');
    const dropped = dnf(user, ['--redpath', app, 'list', '--installed']);
    ok(dropped, 'list');
    assert.match(dropped.stderr, /had not been committed; its staged changes were dropped/);
    assert.ok(!existsSync(stage));
    assert.deepEqual(snapshotNode(app), before, 'the node is as it was');

    // Killed right after the commit point, on a removal: the journal lists what the copy removed.
    const removing = dnf(user, ['--redpath', app, '-y', 'remove', 'redscript'], {
      ...COPY,
      REDPAK_TEST_KILL_AFTER_MERGE_STEPS: '1',
    });
    assert.equal(removing.status, null, 'killed');
    const journal = JSON.parse(readFileSync(join(stage, JOURNAL), 'utf8')) as { removed?: string[] };
    assert.ok(journal.removed?.includes('usr/share/redscript/README'), `removals in the journal: ${journal.removed}`);
    assert.ok(existsSync(join(app, 'usr/share/redscript/README')), 'not merged yet');
    const completed = dnf(user, ['--redpath', app, 'list', '--installed', '--json']);
    ok(completed, 'list');
    assert.match(completed.stderr, /had been committed; its merge was completed/);
    assert.deepEqual((JSON.parse(completed.stdout) as { packages: unknown[] }).packages, []);
    assert.ok(!existsSync(join(app, 'usr/share/redscript/README')), 'the removal was completed');
    assert.ok(!existsSync(stage));
    assert.deepEqual(notOwnedBy(app, user.uid), []);
  });
});

describe('copy-up staging: the view and the difference', () => {
  /** A node and two lower layers (an ancestor's usr and a host-like usr) in a temporary directory. */
  function layers(t: TestContext) {
    const dir = mkdtempSync(join(tmpdir(), 'redpak-copyup-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const node = join(dir, 'node');
    const plat = join(dir, 'plat/usr');
    const host = join(dir, 'host/usr');
    const files: Record<string, string> = {
      [`${node}/usr/bin/app`]: 'app',
      [`${node}/usr/share/doc/app/README`]: 'readme',
      [`${node}/usr/share/old/a`]: 'a',
      [`${node}/var/lib/rpm/rpmdb.sqlite`]: 'db',
      [`${node}/var/lib/rpm/rpmdb.sqlite-wal`]: 'wal',
      [`${plat}/lib/libplat.so`]: 'plat',
      [`${plat}/share/doc/plat/README`]: 'plat doc',
      [`${host}/bin/sh`]: 'host sh',
      [`${host}/lib/libc.so`]: 'libc',
      [`${host}/share/doc/base/README`]: 'host doc',
      [`${host}/libexec/tool`]: 'tool',
    };
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(join(path, '..'), { recursive: true });
      writeFileSync(path, text);
    }
    symlinkSync('sh', `${host}/bin/dash`);
    chmodSync(`${host}/libexec`, 0o750);
    mkdirSync(join(node, STAGE_DIR));
    const view = prepareCopyView({
      stage: join(node, STAGE_DIR),
      node,
      layers: [
        { top: 'usr', lowers: [plat, host] },
        { top: 'var', lowers: [] },
      ],
      payload: ['usr/lib/newdir/libnew.so'],
    });
    return { node, plat, host, view, root: view.root };
  }

  const boundPairs = (view: { readOnlyBinds: [string, string][] }) =>
    Object.fromEntries(view.readOnlyBinds.map(([source, target]) => [target, source]));

  it('shows the lower layers as overlayfs merges them', (t) => {
    const { node, plat, host, view, root } = layers(t);
    assert.deepEqual(view.bwrapArgs, ['--bind', join(root, 'usr'), '/usr', '--bind', join(root, 'var'), '/var']);
    assert.deepEqual(boundPairs(view), {
      // The node has usr/bin: the host's file is bound onto an empty entry of the copy.
      [join(root, 'usr/bin/sh')]: `${host}/bin/sh`,
      // Only the platform has lib/libplat.so; lib is composed (two layers have it, and the payload goes there).
      [join(root, 'usr/lib/libplat.so')]: `${plat}/lib/libplat.so`,
      [join(root, 'usr/lib/libc.so')]: `${host}/lib/libc.so`,
      // A directory of one layer only is bound whole.
      [join(root, 'usr/libexec')]: `${host}/libexec`,
      [join(root, 'usr/share/doc/plat')]: `${plat}/share/doc/plat`,
      [join(root, 'usr/share/doc/base')]: `${host}/share/doc/base`,
    });
    assert.equal(readlinkSync(join(root, 'usr/bin/dash')), 'sh', 'a lower link is reproduced');
    assert.equal(lstatSync(join(root, 'usr/libexec')).mode & 0o777, 0o755, 'a mount point (the bind shows the mode)');
    assert.ok(lstatSync(join(root, 'usr/lib')).isDirectory());
    assert.ok(!existsSync(join(root, 'usr/lib/newdir')), 'the payload’s own directories are rpm’s to make');
    assert.equal(readFileSync(join(root, 'usr/bin/app'), 'utf8'), 'app', 'the node is copied');
    // The copy is a copy: changing it leaves the node as it was.
    writeFileSync(join(root, 'usr/bin/app'), 'changed');
    assert.equal(readFileSync(join(node, 'usr/bin/app'), 'utf8'), 'app');
  });

  for (const [way, helper] of [
    ['the helper', stageHelper()],
    ['the fallback (Python)', null],
  ] as const) {
    it(`a lower entry gone before it is bound is gone from the view, not a failure (${way})`, (t) => {
      const { host, view, root } = layers(t);
      if (way === 'the helper') assert.ok(helper, 'the build made dist/bin/redpak-stage');
      // As a host's /etc/group.lock is while an account is added: listed, then removed.
      rmSync(`${host}/lib/libc.so`);
      const mounts = { rootless: process.getuid?.() !== 0, overlays: [], readOnlyBinds: view.readOnlyBinds };
      const staged = stagedCommand(
        mounts,
        ['/bin/sh', '-c', `cat ${root}/usr/lib/libplat.so; touch ${root}/usr/lib/libplat.so`],
        helper,
      );
      const r = spawnSync(staged.command, staged.args, { encoding: 'utf8', input: staged.input });
      assert.equal(r.status, 1, r.stderr);
      assert.equal(r.stdout, 'plat', 'the other binds were made');
      assert.match(r.stderr, /Read-only file system/, 'and are read-only');
      assert.ok(!existsSync(join(root, 'usr/lib/libc.so')), 'no empty entry stands for the vanished file');
    });
  }

  it('the difference: what changed or is new moves to the upper layer, what the node lost is listed', (t) => {
    const { node, root, view } = layers(t);
    // As rpm and scriptlets would: new files and directories, an in-place change, a chmod, a
    // removal, a directory replaced by a file, the database rewritten and its WAL removed.
    mkdirSync(join(root, 'usr/lib/newdir'));
    writeFileSync(join(root, 'usr/lib/newdir/libnew.so'), 'new');
    writeFileSync(join(root, 'usr/share/doc/app/README'), 'edited', { flag: 'r+' });
    chmodSync(join(root, 'usr/bin/app'), 0o700);
    rmSync(join(root, 'usr/share/old'), { recursive: true });
    rmSync(join(root, 'usr/share/doc/app'), { recursive: true });
    writeFileSync(join(root, 'usr/share/doc/app'), 'now a file');
    writeFileSync(join(root, 'var/lib/rpm/rpmdb.sqlite'), 'db2');
    rmSync(join(root, 'var/lib/rpm/rpmdb.sqlite-wal'));
    const upper = join(node, STAGE_DIR, 'upper');
    const removed = collectCopyChanges(view, upper);
    assert.deepEqual(removed, ['usr/share/doc/app/README', 'usr/share/old', 'var/lib/rpm/rpmdb.sqlite-wal']);
    const listed: string[] = [];
    const walk = (rel: string) => {
      for (const name of readdirSync(join(upper, rel)).sort()) {
        const r = rel ? `${rel}/${name}` : name;
        listed.push(r);
        if (lstatSync(join(upper, r)).isDirectory()) walk(r);
      }
    };
    walk('');
    assert.deepEqual(listed, [
      'usr',
      'usr/bin',
      'usr/bin/app',
      'usr/lib',
      'usr/lib/newdir',
      'usr/lib/newdir/libnew.so',
      'usr/share',
      'usr/share/doc',
      'usr/share/doc/app',
      'var',
      'var/lib',
      'var/lib/rpm',
      'var/lib/rpm/rpmdb.sqlite',
    ]);
    assert.equal(lstatSync(join(upper, 'usr/bin/app')).mode & 0o777, 0o700);
    assert.equal(readFileSync(join(upper, 'usr/share/doc/app'), 'utf8'), 'now a file');
    assert.ok(!existsSync(join(upper, 'usr/bin/sh')), 'an untouched lower entry is never merged');
  });
});

describe('copy-up staging: the hook and hostile journals', () => {
  /** A root-owned family in a temporary directory: system node and one node below. */
  function rootFamily(t: TestContext) {
    const dir = mkdtempSync(join(tmpdir(), 'redpak-copyup-root-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const node = join(dir, 'redpak/plat');
    ok(runBin('redmanager', ['create-node', '--redpath', node]), 'create-node');
    return { dir, node };
  }

  it('REDPAK_STAGING accepts only copy, and refuses anything else before any change', (t) => {
    const { node } = rootFamily(t);
    const before = snapshotNode(node);
    const r = runBin('redwrap-dnf', ['--redpath', node, '-y', 'install', 'redhello'], {
      env: { REDPAK_STAGING: 'overlay' },
    });
    assert.equal(r.status, EXIT_CODES.usage, r.stderr);
    assert.match(r.stderr, /REDPAK_STAGING=overlay is not a staging redpak knows/);
    assert.deepEqual(snapshotNode(node), before);
  });

  it('as root too, a scriptlet cannot change an ancestor’s file bound into the copy', async (t) => {
    const { dir, node: plat } = rootFamily(t);
    repoFile(join(dir, 'redpak'), (await fixtureRepo()).repoDir);
    acceptUnsignedPackages(join(dir, 'redpak', NORMAL_CONFIG)); // the fixture packages are unsigned
    ok(runBin('redwrap-dnf', ['--redpath', plat, '-y', 'install', 'libredfoo-1.0'], { env: COPY }), 'platform');
    const app = join(plat, 'app');
    ok(runBin('redmanager', ['create-node', '--redpath', app]), 'create-node app');
    const lib = join(plat, 'usr/lib/libredfoo.so.1');
    const libBefore = readFileSync(lib);
    // uid 0 keeps its capabilities in bwrap, and the read-only bind is still locked there.
    const installed = runBin('redwrap-dnf', ['--redpath', app, '-y', 'install', hostileRpm()], { env: COPY });
    ok(installed, 'a failing %post is a warning');
    assert.match(installed.stderr + installed.stdout, /%post\(redhostilepost-1\.0-1\.noarch\) scriptlet failed/);
    assert.deepEqual(readFileSync(lib), libBefore, 'the platform’s file is unchanged');
    assert.ok(existsSync(join(app, 'usr/share/redhostilepost/README')));
  });

  it('a planted journal’s removals stay in the node and never go through a link', (t) => {
    const { dir, node } = rootFamily(t);
    const outside = join(dir, 'outside');
    mkdirSync(join(outside, 'lib'), { recursive: true });
    writeFileSync(join(outside, 'lib/victim'), 'keep');
    // Anything running in the node can plant a link and a journal naming a path through it.
    rmSync(join(node, 'usr'), { recursive: true, force: true });
    symlinkSync(outside, join(node, 'usr'));
    writeFileSync(join(node, 'gone'), 'x');
    const stage = join(node, STAGE_DIR);
    mkdirSync(stage);
    const plant = (removed: string[]) =>
      writeFileSync(
        join(stage, JOURNAL),
        `${JSON.stringify({ format: 'redpak-merge/1', opaque: [], displaced: false, removed })}\n`,
      );
    plant(['../outside/lib/victim']);
    const refused = runBin('redwrap-dnf', ['--redpath', node, 'list', '--installed']);
    assert.equal(refused.status, EXIT_CODES.io, refused.stderr);
    assert.match(refused.stderr, /is not a merge journal redpak wrote \(bad removed paths\)/);
    plant(['usr/lib/victim', 'gone']);
    ok(runBin('redwrap-dnf', ['--redpath', node, 'list', '--installed']), 'recovery completes the merge');
    assert.equal(readFileSync(join(outside, 'lib/victim'), 'utf8'), 'keep', 'nothing removed through the link');
    assert.ok(!existsSync(join(node, 'gone')), 'a removal in the node itself is done');
    assert.ok(!existsSync(stage));
  });
});
