/**
 * An ordinary user, with Debian's default user PATH (no /sbin), makes a family in their home and
 * runs it: the shipped templates export only what the user may create, the system tools are found
 * anyway, and an export directory the user may not create is one clear error (no raw EACCES) from
 * both launch paths, that leaves nothing behind. Real users (useradd), real bwrap.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, chownSync, existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { mergeFamily } from '../../src/merge/merge.js';
import { loadFamily } from '../../src/node/load.js';
import { usernsRestriction } from '../../src/system/userns.js';
import { compileLaunchPlan } from '../../src/wrap/plan.js';
import { pinnedHost } from '../helpers/family.js';
import { PACKAGE_ROOT, WITHOUT_FAST_LAUNCHER } from '../helpers/redwrap.js';
import { runAs, runtimeDirOf, throwawayUser, type TestUser, WITHOUT_THROWAWAY_USER } from '../helpers/users.js';

const REDMANAGER = join(PACKAGE_ROOT, 'bin/redmanager');
const REDWRAP = join(PACKAGE_ROOT, 'bin/redwrap');

function makeFamily(user: TestUser): string {
  const app = join(user.home, 'r/app');
  const made = runAs(user, [REDMANAGER, 'create-node', '--redpath', app]);
  assert.equal(made.status, 0, made.stderr);
  return app;
}

/** Adds an export to the node's normal config, as its owner would (the file stays the user's). */
function addExport(user: TestUser, node: string, mount: string, path: string): void {
  const file = join(node, 'etc/redpak.yaml');
  appendFileSync(file, `- mode: Public\n  mount: ${mount}\n  path: ${path}\n`);
  chownSync(file, user.uid, user.gid);
}

/** A directory owned by root, 0755: nothing below it can be created by the user. */
function rootOwnedDir(name: string): string {
  const dir = join('/var/tmp', `${name}-${process.pid}-${Math.floor(Math.random() * 1e6)}`);
  mkdirSync(dir, { mode: 0o755 });
  return dir;
}

describe('rootless: a user runs their own family', { skip: WITHOUT_THROWAWAY_USER }, () => {
  it('create-node and redwrap work with a PATH without /sbin, through the full CLI then the fast launcher', (t) => {
    const user = throwawayUser(t);
    const app = makeFamily(user);
    const first = runAs(user, [REDWRAP, '--redpath', app, '--', 'id', '-u']);
    assert.equal(first.status, 0, first.stderr);
    assert.equal(first.stdout.trim(), String(user.uid));
    // Per-user data lives in the family's first node, made by the launch and the user's.
    const data = join(user.home, 'r/var/app-data', String(user.uid));
    assert.equal(statSync(data).uid, user.uid);
    // The plan was cached in the user's runtime directory, and the fast launcher serves it alone.
    assert.ok(existsSync(join(runtimeDirOf(user), 'redpak')));
    if (!WITHOUT_FAST_LAUNCHER) {
      const fast = runAs(user, [REDWRAP, '--redpath', app, '--', 'id', '-u'], { env: { REDWRAP_NO_FALLBACK: '1' } });
      assert.equal(fast.status, 0, fast.stderr);
      assert.equal(fast.stdout.trim(), String(user.uid));
    }
    // This host allows unprivileged user namespaces (else the launches above would have failed with the refusal).
    assert.equal(usernsRestriction(), undefined);
  });

  it('the shipped templates give a user nothing to create outside the family but their runtime directory', (t) => {
    const user = throwawayUser(t);
    const families = [makeFamily(user)];
    const full = join(user.home, 'full/app');
    const made = runAs(user, [REDMANAGER, 'create-node', '--no-system-node', '--redpath', full]);
    assert.equal(made.status, 0, made.stderr);
    families.push(full);
    // The host as it is, except that it has no /run/platform (this one may have one).
    const probe = (path: string) =>
      path === '/run/platform' || !existsSync(path) ? 'missing' : statSync(path).isDirectory() ? 'dir' : 'file';
    for (const app of families) {
      const family = loadFamily(app);
      const host = pinnedHost({ uid: user.uid, gid: user.gid });
      const plan = compileLaunchPlan(family, mergeFamily(family, { host }), { host, probe });
      const top = family.nodes[family.nodes.length - 1].path;
      const outside = plan.mkdirs.filter((dir) => !dir.startsWith(`${top}/`) && dir !== runtimeDirOf(user));
      assert.deepEqual(outside, [], `${app}: directories a user could not create`);
      assert.ok(plan.mkdirs.includes(join(top, 'var/app-data', String(user.uid))), 'per-user data in the node');
      assert.ok(
        plan.skipped.some((s) => s.mount === '/run/platform'),
        '/run/platform is left out when the host lacks it',
      );
    }
  });

  it('an export directory the user may not create is one error naming the export, node and path; nothing is left', (t) => {
    const user = throwawayUser(t);
    const app = makeFamily(user);
    const forbidden = rootOwnedDir('redpak-forbidden');
    t.after(() => rmSync(forbidden, { recursive: true, force: true }));
    // The first export can be made, the second cannot: the first is removed again.
    const allowed = join(user.home, 'made-then-removed');
    addExport(user, app, '/aaa-allowed', `${allowed}/sub`);
    addExport(user, app, '/zzz-forbidden', `${forbidden}/data/sub`);
    const run = runAs(user, [REDWRAP, '--redpath', app, '--', 'true']);
    assert.equal(run.status, 10, run.stderr);
    assert.match(
      run.stderr,
      new RegExp(
        `cannot create ${forbidden}/data/sub, the missing source directory of export /zzz-forbidden of app \\(${app}\\)`,
      ),
    );
    assert.match(run.stderr, new RegExp(`${forbidden} is not writable by uid ${user.uid}`));
    assert.match(run.stderr, /redpak\.yaml/);
    assert.doesNotMatch(run.stderr, /EACCES|Error:/);
    assert.equal(existsSync(allowed), false, 'the directories made by the failed launch are removed');
    assert.equal(existsSync(join(forbidden, 'data')), false);
  });

  it('the fast launcher hands a directory it cannot create to the full CLI, which says why', {
    skip: WITHOUT_FAST_LAUNCHER,
  }, (t) => {
    const user = throwawayUser(t);
    const app = makeFamily(user);
    const parent = rootOwnedDir('redpak-later-forbidden');
    t.after(() => rmSync(parent, { recursive: true, force: true }));
    chownSync(parent, user.uid, user.gid);
    addExport(user, app, '/later', `${parent}/sub`);
    const first = runAs(user, [REDWRAP, '--redpath', app, '--', 'true']);
    assert.equal(first.status, 0, first.stderr);
    // The cached plan creates the directory when missing; now its parent is root's.
    rmSync(join(parent, 'sub'), { recursive: true });
    chownSync(parent, 0, 0);
    const served = runAs(user, [REDWRAP, '--redpath', app, '--', 'true'], { env: { REDWRAP_NO_FALLBACK: '1' } });
    assert.match(served.stderr, /no fresh cached plan/, 'the fast launcher does not report the failure itself');
    const run = runAs(user, [REDWRAP, '--redpath', app, '--', 'true']);
    assert.equal(run.status, 10, run.stderr);
    assert.match(run.stderr, new RegExp(`cannot create ${parent}/sub, the missing source directory of export /later`));
    assert.doesNotMatch(run.stderr, /redwrap: error: cannot create export directory/);
  });

  it('ldconfig is not in the user PATH, yet create-node registered the host libraries', (t) => {
    const user = throwawayUser(t);
    const which = runAs(user, ['sh', '-c', 'command -v ldconfig || echo none']);
    assert.equal(which.stdout.trim(), 'none', 'the user PATH has no sbin directory');
    const app = makeFamily(user);
    const provides = spawnSync('grep', ['-rl', 'libc.so.6', join(app, '..')], { encoding: 'utf8' });
    assert.notEqual(provides.stdout.trim(), '', 'the host libraries were registered');
  });
});
