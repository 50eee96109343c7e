/**
 * redwrap-dnf as an ordinary user (docs/transactions.md, "As an ordinary user"): throwaway users
 * (test/helpers/users.ts) run the built executables through setpriv with a login's environment,
 * on real families, a real fixture repository, real rpm in a user namespace and real bwrap.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { EXIT_CODES } from '../../src/errors.js';
import { NORMAL_CONFIG } from '../../src/node/layout.js';
import { LOCK_FILE } from '../../src/pkg/lock.js';
import { acceptUnsignedPackages } from '../../src/pkg/node-setup.js';
import { kernelAllowsUserOverlay, opaqueAttribute } from '../../src/pkg/rootless.js';
import { opaqueDirs, STAGE_DIR } from '../../src/pkg/view.js';
import { runBin } from '../helpers/cli.js';
import { holdLock, lockIsHeld } from '../helpers/lock-holder.js';
import {
  runAs,
  runAsAsync,
  runtimeDirOf,
  throwawayUser,
  WITHOUT_THROWAWAY_USER,
  type TestUser,
} from '../helpers/users.js';
import { bin, notOwnedBy, ok, readableRepo, repoFile } from './helpers/rootless.js';

const dnf = (user: TestUser, args: string[], env: Record<string, string> = {}) =>
  runAs(user, [bin('redwrap-dnf'), ...args], { env });

describe('redwrap-dnf as an ordinary user', { skip: WITHOUT_THROWAWAY_USER }, () => {
  it('an own family under the home: install, run, remove, history, rollback; every file the user’s', async (t) => {
    const user = throwawayUser(t);
    const repo = await readableRepo(t);
    const top = join(user.home, 'r');
    const plat = join(top, 'plat');
    const app = join(plat, 'app');
    for (const n of [plat, app])
      ok(runAs(user, [bin('redmanager'), 'create-node', '--redpath', n]), `create-node ${n}`);
    repoFile(top, repo, user);
    acceptUnsignedPackages(join(top, NORMAL_CONFIG)); // the fixture packages are unsigned

    ok(dnf(user, ['--redpath', plat, '-y', 'install', 'libredfoo-1.0', 'redfoo-conf']), 'install in platform');
    ok(dnf(user, ['--redpath', app, '-y', 'install', 'redhello']), 'install in app');
    const listed = dnf(user, ['--redpath', app, 'list', '--installed', '--json']);
    ok(listed, 'list');
    assert.deepEqual(
      (JSON.parse(listed.stdout) as { packages: { name: string }[] }).packages.map((p) => p.name),
      ['redhello'],
      'the app node holds its own package only',
    );
    assert.ok(existsSync(join(app, 'usr/bin/redhello')));
    assert.ok(existsSync(join(plat, 'usr/lib/libredfoo.so.1')));
    assert.deepEqual(notOwnedBy(top, user.uid), [], 'rpm ran as root mapped onto the user: every file is theirs');
    // The cache is the one the README names, the user's own (0700).
    const cacheRoot = join(user.home, '.cache/redpak');
    assert.equal(lstatSync(cacheRoot).uid, user.uid);
    assert.equal(lstatSync(cacheRoot).mode & 0o777, 0o700);
    assert.ok(!existsSync(join(app, 'var/cache/dnf')), 'no cache in the node for an ordinary user');

    const run = runAs(user, [bin('redwrap'), '--redpath', app, '--', 'redhello']);
    ok(run, 'redwrap runs the installed app');
    assert.match(run.stdout, /hello from redhello, libredfoo 1\.0/);

    // Scriptlets run with the family's shell, as mapped root, writing into the node.
    ok(dnf(user, ['--redpath', app, '-y', 'install', 'redscript']), 'install with scriptlets');
    assert.equal(readFileSync(join(app, 'var/lib/redscript/post.marker'), 'utf8'), 'post\n');
    ok(dnf(user, ['--redpath', app, '-y', 'remove', 'redscript']), 'remove with scriptlets');

    ok(dnf(user, ['--redpath', app, '-y', 'remove', 'redhello']), 'remove');
    assert.ok(!existsSync(join(app, 'usr/bin/redhello')));
    const history = dnf(user, ['--redpath', app, 'history', '--json']);
    ok(history, 'history');
    assert.deepEqual(
      (JSON.parse(history.stdout) as { entries: { command: string }[] }).entries.map((e) => e.command),
      ['install redhello', 'install redscript', 'remove redscript', 'remove redhello'],
    );
    ok(dnf(user, ['--redpath', app, '-y', 'history', 'rollback']), 'rollback');
    assert.ok(existsSync(join(app, 'usr/bin/redhello')), 'the rollback brought the app back');
    ok(runAs(user, [bin('redwrap'), '--redpath', app, '--', 'redhello']), 'and it runs');
    assert.deepEqual(notOwnedBy(top, user.uid), []);
    // Outside the home, a user can write only in world-writable directories: none holds a file of theirs,
    // but for the runtime directory.
    const outside = spawnSync(
      'find',
      [
        '/tmp',
        '/var/tmp',
        '/dev/shm',
        '/run',
        '-xdev',
        '-path',
        runtimeDirOf(user),
        '-prune',
        '-o',
        '-user',
        String(user.uid),
        '-print',
      ],
      { encoding: 'utf8' },
    );
    assert.equal(outside.stdout, '', 'nothing written outside the home, the runtime directory and the cache');
  });

  it('a cache directory planted by someone else is refused before anything is fetched', async (t) => {
    const user = throwawayUser(t);
    const repo = await readableRepo(t);
    const plat = join(user.home, 'r/plat');
    ok(runAs(user, [bin('redmanager'), 'create-node', '--redpath', plat]), 'create-node');
    repoFile(plat, repo, user);
    // Root-owned and world-writable: anyone could plant metadata whose checksums packages are checked against.
    const planted = mkdtempSync(join(tmpdir(), 'redpak-planted-cache-'));
    t.after(() => rmSync(planted, { recursive: true, force: true }));
    chmodSync(planted, 0o755);
    mkdirSync(join(planted, 'redpak'), { mode: 0o777 });
    chmodSync(join(planted, 'redpak'), 0o777);
    const r = dnf(user, ['--redpath', plat, '-y', 'install', 'libredfoo-1.0'], { XDG_CACHE_HOME: planted });
    assert.equal(r.status, EXIT_CODES.io, r.stderr);
    assert.match(r.stderr, new RegExp(`the package cache ${planted}/redpak is owned by root`));
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    assert.deepEqual(readdirSync(join(planted, 'redpak')), [], 'nothing was written into it');
    assert.ok(!existsSync(join(plat, 'usr/lib/libredfoo.so.1')));
  });
});

describe('a shared family with a personal leaf', { skip: WITHOUT_THROWAWAY_USER }, () => {
  /** root's system and platform nodes (libredfoo installed by root), and an app node the user made in a directory handed over. */
  async function sharedFamily(t: TestContext) {
    const user = throwawayUser(t);
    const repo = await readableRepo(t);
    const dir = mkdtempSync(join(tmpdir(), 'redpak-shared-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    chmodSync(dir, 0o755);
    const top = join(dir, 'redpak');
    const plat = join(top, 'plat');
    ok(runBin('redmanager', ['create-node', '--redpath', plat]), 'root: create-node');
    repoFile(top, repo);
    acceptUnsignedPackages(join(top, NORMAL_CONFIG)); // the fixture packages are unsigned
    ok(runBin('redwrap-dnf', ['--redpath', plat, '-y', 'install', 'libredfoo-1.0', 'redfoo-conf']), 'root: install');
    const app = join(plat, 'app');
    mkdirSync(app, { mode: 0o755 });
    chownSync(app, user.uid, user.gid);
    ok(runAs(user, [bin('redmanager'), 'create-node', '--redpath', app]), 'user: create-node');
    // What root hands the user with the directory: the system node's per-user data directory,
    // which its template exports and the user may not create in root's node.
    const appData = join(top, 'var/app-data', String(user.uid));
    mkdirSync(appData, { recursive: true });
    chownSync(appData, user.uid, user.gid);
    return { user, top, plat, app };
  }

  it('the user installs into the leaf; a transaction on root’s node is refused before any download', async (t) => {
    const { user, top, plat, app } = await sharedFamily(t);
    // A stage root's killed transaction left in the platform: the user's commands leave it to root.
    mkdirSync(join(plat, STAGE_DIR));

    ok(dnf(user, ['--redpath', app, '-y', 'install', 'redhello']), 'user: install in the leaf');
    assert.deepEqual(notOwnedBy(app, user.uid), []);
    assert.ok(existsSync(join(plat, STAGE_DIR)), 'a stage in root’s node is never touched by the user');
    const run = runAs(user, [bin('redwrap'), '--redpath', app, '--', 'redhello']);
    ok(run, 'redwrap');
    assert.match(run.stdout, /libredfoo 1\.0/, 'the library comes from root’s platform node');

    rmSync(join(user.home, '.cache'), { recursive: true, force: true });
    const refused = dnf(user, ['--redpath', plat, '-y', 'install', 'redtool']);
    assert.equal(refused.status, EXIT_CODES['family-rule'], refused.stderr);
    assert.match(refused.stderr, new RegExp(`node plat \\(${plat}\\) is owned by root: ${user.name} may read it`));
    assert.doesNotMatch(refused.stderr, /\n\s+at /, 'no stack trace');
    assert.ok(!existsSync(join(user.home, '.cache')), 'refused before anything was fetched or cached');
    const json = dnf(user, ['--redpath', plat, '-y', 'install', 'redtool', '--json']);
    assert.equal(JSON.parse(json.stdout).error.code, 'family-rule');
    // Upgrading or removing root's package from the leaf is the solver's family rule.
    const fromLeaf = dnf(user, ['--redpath', app, '-y', 'remove', 'libredfoo']);
    assert.equal(fromLeaf.status, EXIT_CODES['family-rule'], fromLeaf.stderr);
    assert.ok(existsSync(join(plat, 'usr/lib/libredfoo.so.1')));
    assert.equal(lstatSync(join(top, LOCK_FILE)).uid, 0, 'the family lock stays root’s file');

    // A committed merge pending in root's node: the user's commands stop, naming its owner.
    writeFileSync(join(plat, STAGE_DIR, 'MERGE'), '{}\n');
    const pending = dnf(user, ['--redpath', app, 'list', '--installed']);
    assert.equal(pending.status, EXIT_CODES.io, pending.stderr);
    assert.match(
      pending.stderr,
      new RegExp(`node ${plat} \\(owned by root\\) holds an interrupted package transaction`),
    );
    assert.ok(existsSync(join(plat, STAGE_DIR, 'MERGE')), 'and leave it to root');
  });

  it('the family lock across users names the holder’s user and command', async (t) => {
    const { user, top, plat, app } = await sharedFamily(t);
    const lockFile = join(top, LOCK_FILE);

    // root holds it: the user is told who.
    const rootHolder = await holdLock(lockFile, 'redwrap-dnf --redpath /x install other');
    // The line in the file is the holder's claim (anything running as root in the top node can
    // write it): a user it names is not believed, the owner of the process it names is.
    writeFileSync(
      lockFile,
      `${JSON.stringify({ pid: rootHolder.pid, user: 'mallory', command: 'redwrap-dnf --redpath /x install other', since: '' })}\n`,
    );
    try {
      const busy = dnf(user, ['--redpath', app, '-y', 'install', 'redhello']);
      assert.equal(busy.status, EXIT_CODES['lock-busy'], busy.stderr);
      assert.match(busy.stderr, /user root, pid \d+ .*redwrap-dnf --redpath \/x install other/);
      assert.doesNotMatch(busy.stderr, /mallory/);
    } finally {
      rootHolder.kill();
    }

    // The user holds it through a read-only descriptor (the file is root's): root is told who,
    // from the kernel's record, since the user cannot write the owner line.
    const userHolder = runAsAsync(user, ['flock', '--exclusive', lockFile, 'sleep', '30']);
    for (let i = 0; i < 100 && !lockIsHeld(lockFile); i += 1) await new Promise((r) => setTimeout(r, 50));
    try {
      const busy = runBin('redwrap-dnf', ['--redpath', plat, '-y', 'install', 'redtool']);
      assert.equal(busy.status, EXIT_CODES['lock-busy'], busy.stderr);
      assert.match(busy.stderr, new RegExp(`user ${user.name}, pid \\d+ \\((flock --exclusive|sleep 30)`));
    } finally {
      spawnSync('pkill', ['-KILL', '-u', String(user.uid)]);
      await userHolder;
    }
    // A lock file the user may not read is reported as such, naming its owner.
    chmodSync(lockFile, 0o600);
    const unreadable = dnf(user, ['--redpath', app, '-y', 'install', 'redhello']);
    assert.equal(unreadable.status, EXIT_CODES['lock-busy'], unreadable.stderr);
    assert.match(unreadable.stderr, /cannot take the family lock .* \(owned by root\) is not readable/);
    assert.ok(!existsSync(join(app, 'usr/bin/redhello')));
  });
});

describe('the staged view in a user namespace', () => {
  it('needs Linux 5.11 for overlayfs with userxattr', () => {
    assert.equal(kernelAllowsUserOverlay('5.10.209-1-amd64'), false);
    assert.equal(kernelAllowsUserOverlay('5.11.0'), true);
    assert.equal(kernelAllowsUserOverlay('6.1.0-18-amd64'), true);
    assert.equal(kernelAllowsUserOverlay('4.19.0'), false);
  });

  it('opaque directories are read from user.overlay.opaque', { skip: WITHOUT_THROWAWAY_USER }, (t) => {
    const user = throwawayUser(t);
    const dir = join(user.home, 'ovl');
    // A directory of the lower layer removed and made again: overlayfs marks the new one opaque.
    const script = [
      'set -e',
      `mkdir -p ${dir}/lower/d ${dir}/upper ${dir}/work ${dir}/view`,
      `touch ${dir}/lower/d/old`,
      `unshare --user --map-root-user --mount sh -c 'mount -t overlay overlay -o lowerdir=${dir}/lower,upperdir=${dir}/upper,workdir=${dir}/work,userxattr ${dir}/view && rm -r ${dir}/view/d && mkdir ${dir}/view/d'`,
    ].join('\n');
    ok(runAs(user, ['sh', '-c', script]), 'overlay in a user namespace');
    assert.deepEqual([...opaqueDirs(join(dir, 'upper'), opaqueAttribute(true))], ['d']);
    assert.deepEqual([...opaqueDirs(join(dir, 'upper'), opaqueAttribute(false))], [], 'root’s attribute is not set');
  });

  it('an opaque directory whose name holds a newline is one name, not two', { skip: WITHOUT_THROWAWAY_USER }, (t) => {
    // The upper layer is what rpm and scriptlets wrote: names are theirs. Read as lines, this
    // one would mark a directory `usr` opaque, and the merge would replace the node's /usr.
    const user = throwawayUser(t);
    const dir = join(user.home, 'ovl-nl');
    const odd = 'n\nusr';
    const script = join(user.home, 'opaque-newline.sh');
    writeFileSync(
      script,
      [
        'set -e',
        `mkdir -p ${dir}/lower/usr/lib ${dir}/upper ${dir}/work ${dir}/view "${dir}/lower/${odd}"`,
        `unshare --user --map-root-user --mount sh -c 'mount -t overlay overlay -o lowerdir=${dir}/lower,upperdir=${dir}/upper,workdir=${dir}/work,userxattr ${dir}/view && rm -r "${dir}/view/${odd}" && mkdir "${dir}/view/${odd}" && touch ${dir}/view/usr/lib/new'`,
      ].join('\n'),
      { mode: 0o644 },
    );
    ok(runAs(user, ['sh', script]), 'overlay in a user namespace');
    assert.deepEqual([...opaqueDirs(join(dir, 'upper'), opaqueAttribute(true))], [odd]);
  });
});
