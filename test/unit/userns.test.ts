/**
 * Hosts that forbid unprivileged user namespaces get one error naming the setting and what to
 * change. /proc/sys is a planted directory here (the real settings are the host's, shared by every
 * process of the machine, and a test must not turn them off), and the trial sandbox is injected;
 * the live path (the real /proc/sys and bwrap as a real user) is in test/wrap/rootless.test.ts.
 */
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, chownSync, copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RedpakError } from '../../src/errors.js';
import { assertUserNamespaces, usernsRestriction } from '../../src/system/userns.js';
import { tempDir } from '../helpers/family.js';

function procSys(t: TestContext, values: Record<string, string>): string {
  const root = tempDir(t, 'redpak-procsys-');
  for (const [file, value] of Object.entries(values)) {
    mkdirSync(join(root, file, '..'), { recursive: true });
    writeFileSync(join(root, file), `${value}\n`);
  }
  return root;
}

const ALLOWED = {
  'kernel/unprivileged_userns_clone': '1',
  'user/max_user_namespaces': '63512',
  'kernel/apparmor_restrict_unprivileged_userns': '0',
};

describe('unprivileged user namespaces', () => {
  it('each of the three settings that forbid them is recognised, with its fix', (t) => {
    const cases: [string, string, RegExp][] = [
      ['kernel/unprivileged_userns_clone', '0', /sysctl -w kernel\.unprivileged_userns_clone=1/],
      ['user/max_user_namespaces', '0', /sysctl -w user\.max_user_namespaces=\d+/],
      [
        'kernel/apparmor_restrict_unprivileged_userns',
        '1',
        /AppArmor profile .*kernel\.apparmor_restrict_unprivileged_userns=0/,
      ],
    ];
    for (const [file, value, fix] of cases) {
      const found = usernsRestriction(procSys(t, { ...ALLOWED, [file]: value }));
      assert.equal(found?.setting, file.replace('/', '.'));
      assert.equal(found?.value, value);
      assert.match(found?.fix ?? '', fix);
    }
  });

  it('allowed values, and settings the kernel does not have, forbid nothing', (t) => {
    assert.equal(usernsRestriction(procSys(t, ALLOWED)), undefined);
    assert.equal(usernsRestriction(procSys(t, {})), undefined);
  });

  it('a forbidding setting confirmed by a failed trial sandbox is one launch error naming it and the fix', (t) => {
    const root = procSys(t, { ...ALLOWED, 'kernel/unprivileged_userns_clone': '0' });
    let trials = 0;
    const trial = () => {
      trials += 1;
      return 'No permissions to create new namespace';
    };
    assert.throws(
      () => assertUserNamespaces({ bwrap: '/nonexistent/bwrap', uid: 1234, procSys: root, trial }),
      (error: unknown) => {
        assert.ok(error instanceof RedpakError);
        assert.equal(error.code, 'launch');
        assert.match(error.message, /does not let unprivileged users create user namespaces/);
        assert.match(error.message, /kernel\.unprivileged_userns_clone = 0/);
        assert.match(error.message, /uid 1234/);
        assert.match(error.message, /No permissions to create new namespace/);
        assert.match(error.hint ?? '', /sysctl -w kernel\.unprivileged_userns_clone=1/);
        return true;
      },
    );
    assert.equal(trials, 1);
  });

  it('no error when the trial works anyway (an AppArmor profile lets bwrap), for root, or when allowed', (t) => {
    const restricted = procSys(t, { ...ALLOWED, 'kernel/apparmor_restrict_unprivileged_userns': '1' });
    assertUserNamespaces({ bwrap: '/nonexistent/bwrap', uid: 1234, procSys: restricted, trial: () => undefined });
    const never = () => assert.fail('no trial needed');
    assertUserNamespaces({ bwrap: '/nonexistent/bwrap', uid: 0, procSys: restricted, trial: never });
    assertUserNamespaces({ bwrap: '/nonexistent/bwrap', uid: 1234, procSys: procSys(t, ALLOWED), trial: never });
  });

  it('a setuid-root bwrap needs no unprivileged user namespace; a setuid bit on a file not owned by root counts for nothing', (t) => {
    const restricted = procSys(t, { ...ALLOWED, 'user/max_user_namespaces': '0' });
    const dir = tempDir(t);
    const setuid = join(dir, 'bwrap');
    copyFileSync('/bin/true', setuid);
    chmodSync(setuid, 0o4755);
    const never = () => assert.fail('no trial needed');
    if (process.getuid?.() === 0) {
      assertUserNamespaces({ bwrap: setuid, uid: 1234, procSys: restricted, trial: never });
    }
    const plain = join(dir, 'plain-bwrap');
    copyFileSync('/bin/true', plain);
    if (process.getuid?.() === 0) chownSync(plain, 1, 1);
    chmodSync(plain, 0o4755);
    assert.throws(
      () => assertUserNamespaces({ bwrap: plain, uid: 1234, procSys: restricted, trial: () => 'denied' }),
      /user\.max_user_namespaces = 0/,
    );
  });
});
