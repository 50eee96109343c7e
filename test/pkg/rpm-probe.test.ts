/**
 * The rpm option probe (`rpm --force-debian --eval 1`, pkg/rpm-probe.ts):
 *   - a transaction starts it before it takes the family lock, so that it runs alongside the lock
 *     and the solver, not in series with them (strace on the real executable, with the caller's
 *     cache off so that the probe runs);
 *   - its answer is kept in the caller's cache directory while the rpm executable keeps its stamp,
 *     and a cache file that is not the caller's own is not believed. These use a stand-in rpm, a
 *     script that logs each run, because what is tested is when the probe runs, not rpm.
 */
import assert from 'node:assert/strict';
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { EXIT_CODES } from '../../src/errors.js';
import { LOCK_FILE } from '../../src/pkg/lock.js';
import { forceDebianSupport, RPM_OPTIONS_FILE } from '../../src/pkg/rpm-probe.js';
import { holdLock } from '../helpers/lock-holder.js';
import { olderThanTheClockMargin } from '../helpers/read-caches.js';
import { hasStrace, traceBin } from '../helpers/strace.js';
import { installedNames } from './helpers/family.js';
import { makeNodeFamily, type NodeFamily } from './helpers/nodes.js';

const isProbe = (argv: string[]) =>
  basename(argv[0] ?? '') === 'rpm' && argv.slice(1).join(' ') === '--force-debian --eval 1';

describe('rpm option probe', { skip: hasStrace ? false : 'strace is not installed' }, () => {
  let f: NodeFamily;
  before(async () => {
    f = await makeNodeFamily();
  });
  after(() => f.cleanup());

  it('is started before the family lock is taken: a transaction that finds the lock busy has already run it, and changed nothing', async () => {
    const holder = await holdLock(join(f.sys, LOCK_FILE));
    try {
      // The flock(2) call is the addon's in this process, or flock(1)'s where the build made none.
      const r = traceBin('redwrap-dnf', ['--redpath', f.app, '-y', 'install', 'redhello'], {
        syscalls: ['flock'],
        env: { REDWRAP_NO_CACHE: '1' },
      });
      assert.equal(r.status, EXIT_CODES['lock-busy'], r.stderr);
      const probe = r.lines.findIndex((l) => /execve\(/.test(l) && l.includes('"--force-debian", "--eval", "1"'));
      const lock = r.lines.findIndex((l) => /flock\(\d+, LOCK_EX\|LOCK_NB/.test(l));
      assert.ok(probe >= 0, `the probe ran: ${JSON.stringify(r.execs)}`);
      assert.ok(lock > probe, `the probe was started before the lock: ${r.lines.join('\n')}`);
      assert.deepEqual(await installedNames(f.app), []);
    } finally {
      holder.kill('SIGKILL');
    }
  });

  it("is not run again once its answer is in the caller's cache directory", () => {
    const first = traceBin('redwrap-dnf', ['--redpath', f.app, '-y', 'install', 'redhello']);
    assert.equal(first.status, 0, first.stderr);
    const second = traceBin('redwrap-dnf', ['--redpath', f.app, '-y', 'remove', 'redhello']);
    assert.equal(second.status, 0, second.stderr);
    assert.equal(second.execs.filter(isProbe).length, 0, `no probe: ${JSON.stringify(second.execs)}`);
    assert.ok(
      second.execs.some((a) => basename(a[0] ?? '') === 'rpm' && a.includes('-e')),
      'rpm ran with the answer',
    );
  });
});

describe('rpm option probe: its cache', () => {
  let dir: string;
  let cache: string;
  let rpm: string;
  let log: string;
  const runs = () => (existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean).length : 0);
  /** A stand-in rpm that takes --force-debian (`accepts`) or fails on it, as upstream rpm does. */
  const standIn = async (accepts: boolean) => {
    writeFileSync(rpm, `#!/bin/sh\necho "$*" >> ${log}\n${accepts ? 'exit 0' : 'echo "unknown option" >&2; exit 1'}\n`);
    chmodSync(rpm, 0o755);
    await olderThanTheClockMargin();
  };
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'redpak-rpm-probe-'));
  });
  beforeEach(() => {
    rmSync(join(dir, 'cache'), { recursive: true, force: true });
    cache = mkdtempSync(join(dir, 'cache-'));
    chmodSync(cache, 0o700);
    rpm = join(dir, 'rpm');
    log = join(dir, 'log');
    rmSync(log, { force: true });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('probes once, keeps the answer, and probes again when the executable changes', async () => {
    await standIn(true);
    assert.equal(await forceDebianSupport(cache, rpm), true);
    assert.equal(await forceDebianSupport(cache, rpm), true);
    assert.equal(runs(), 1, 'the second answer came from the cache');
    assert.ok(existsSync(join(cache, RPM_OPTIONS_FILE)));
    await standIn(false); // another rpm: another stamp
    assert.equal(await forceDebianSupport(cache, rpm), false);
    assert.equal(await forceDebianSupport(cache, rpm), false);
    assert.equal(runs(), 2);
  });

  it('records nothing while the executable is within the clock margin of a change, nor without a cache directory', async () => {
    await standIn(true);
    chmodSync(rpm, 0o755); // its ctime is now
    await forceDebianSupport(cache, rpm);
    assert.equal(existsSync(join(cache, RPM_OPTIONS_FILE)), false);
    await olderThanTheClockMargin();
    await forceDebianSupport(undefined, rpm);
    await forceDebianSupport(undefined, rpm);
    assert.equal(runs(), 3);
  });

  it('a tool name is never resolved against the working directory, which may be a node', async () => {
    const planted = join(dir, 'rpm');
    writeFileSync(planted, `#!/bin/sh\ntouch ${join(dir, 'ran')}\n`);
    chmodSync(planted, 0o755);
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      await forceDebianSupport(cache, 'rpm');
    } finally {
      process.chdir(cwd);
    }
    assert.equal(existsSync(join(dir, 'ran')), false, 'the planted ./rpm did not run');
  });

  it("a planted answer is believed only from the caller's own file, writable by nobody else", async () => {
    await standIn(true);
    await forceDebianSupport(cache, rpm);
    const file = join(cache, RPM_OPTIONS_FILE);
    // A lie about this very executable, in the right format.
    const lie = JSON.stringify({ ...JSON.parse(readFileSync(file, 'utf8')), forceDebian: false });
    for (const mode of [0o666, 0o620, 0o602]) {
      writeFileSync(file, lie);
      chmodSync(file, mode);
      assert.equal(await forceDebianSupport(cache, rpm), true, `mode ${mode.toString(8)}: probed again`);
    }
    const runsBefore = runs();
    writeFileSync(file, lie);
    chmodSync(file, 0o600);
    assert.equal(await forceDebianSupport(cache, rpm), false, "the caller's own file is the caller's word");
    assert.equal(runs(), runsBefore);
    if (process.getuid?.() === 0) {
      chownSync(file, 65534, 65534);
      assert.equal(await forceDebianSupport(cache, rpm), true, "another user's file: probed again");
    }
    for (const other of ['not json', JSON.stringify({ format: 'other/1', rpm: 'x', forceDebian: false })]) {
      writeFileSync(file, other);
      assert.equal(await forceDebianSupport(cache, rpm), true);
    }
  });
});
