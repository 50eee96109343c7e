/**
 * The rpm option probe (`rpm --force-debian --eval 1`, pkg/rpm.ts rpmSupportsForceDebian) runs
 * alongside the family lock and the solver, not in series with them: a transaction starts it
 * before it takes the lock. Watched with strace on the real executable: which programs it runs,
 * in order.
 */
import assert from 'node:assert/strict';
import { basename, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EXIT_CODES } from '../../src/errors.js';
import { LOCK_FILE } from '../../src/pkg/lock.js';
import { holdLock } from '../helpers/lock-holder.js';
import { hasStrace, traceBin } from '../helpers/strace.js';
import { installedNames } from './helpers/family.js';
import { makeNodeFamily, type NodeFamily } from './helpers/nodes.js';

describe('rpm option probe', { skip: hasStrace ? false : 'strace is not installed' }, () => {
  let f: NodeFamily;
  before(async () => {
    f = await makeNodeFamily();
  });
  after(() => f.cleanup());

  it('is started before the family lock is taken: a transaction that finds the lock busy has already run it, and changed nothing', async () => {
    const holder = await holdLock(join(f.sys, LOCK_FILE));
    try {
      const r = traceBin('redwrap-dnf', ['--redpath', f.app, '-y', 'install', 'redhello']);
      assert.equal(r.status, EXIT_CODES['lock-busy'], r.stderr);
      const program = (a: string[]) => basename(a[0] ?? '');
      const probe = r.execs.findIndex(
        (a) => program(a) === 'rpm' && a.slice(1).join(' ') === '--force-debian --eval 1',
      );
      const flock = r.execs.findIndex((a) => program(a) === 'flock');
      assert.ok(probe >= 0, `the probe ran: ${JSON.stringify(r.execs)}`);
      assert.ok(flock > probe, `the probe was started before the lock: ${JSON.stringify(r.execs)}`);
      assert.deepEqual(await installedNames(f.app), []);
    } finally {
      holder.kill('SIGKILL');
    }
  });
});
