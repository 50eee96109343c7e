/**
 * The rpm option probe (`rpm --force-debian --eval 1`, pkg/rpm.ts rpmSupportsForceDebian) runs
 * alongside the family lock and the solver, not in series with them: a transaction starts it
 * before it takes the lock. Watched with strace on the real executable: which programs it runs,
 * in order.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EXIT_CODES } from '../../src/errors.js';
import { LOCK_FILE } from '../../src/pkg/lock.js';
import { PACKAGE_ROOT } from '../helpers/cli.js';
import { holdLock } from '../helpers/lock-holder.js';
import { installedNames } from './helpers/family.js';
import { makeNodeFamily, type NodeFamily } from './helpers/nodes.js';

const hasStrace = spawnSync('strace', ['-V']).status === 0;

/** The argv of each program the command executed, in order (strace -f -e trace=execve). */
function execsOf(bin: string, args: string[]): { status: number | null; stderr: string; execs: string[][] } {
  const dir = mkdtempSync(join(tmpdir(), 'redpak-probe-test-'));
  try {
    const log = join(dir, 'trace');
    const r = spawnSync(
      'strace',
      [
        '-f',
        '-qq',
        '-s',
        '200',
        '-e',
        'trace=execve',
        '-e',
        'signal=none',
        '-o',
        log,
        join(PACKAGE_ROOT, 'bin', bin),
        ...args,
      ],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const execs = readFileSync(log, 'utf8')
      .split('\n')
      .filter((l) => /execve\(.*\) = 0$/.test(l))
      .map((l) => [...(/\[(.*?)\]/.exec(l)?.[1] ?? '').matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]!));
    return { status: r.status, stderr: r.stderr, execs };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('rpm option probe', { skip: hasStrace ? false : 'strace is not installed' }, () => {
  let f: NodeFamily;
  before(async () => {
    f = await makeNodeFamily();
  });
  after(() => f.cleanup());

  it('is started before the family lock is taken: a transaction that finds the lock busy has already run it, and changed nothing', async () => {
    const holder = await holdLock(join(f.sys, LOCK_FILE));
    try {
      const r = execsOf('redwrap-dnf', ['--redpath', f.app, '-y', 'install', 'redhello']);
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
