/**
 * The family lock (src/pkg/lock.ts) as a kernel lock: held by one process at a time, released by
 * the kernel when its holder dies, whatever the lock file holds. Each way of taking it is run
 * (src/system/kernel-calls.ts): the addon's flock(2), and util-linux flock(1) (the test hook).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { RedpakError } from '../../src/errors.js';
import { acquireFamilyLock, LOCK_FILE } from '../../src/pkg/lock.js';
import { kernelAddon } from '../../src/system/kernel-addon.js';
import { PACKAGE_ROOT } from '../helpers/cli.js';
import { lockIsHeld } from '../helpers/lock-holder.js';
import { installedNames } from './helpers/family.js';
import { buildTestRpm, makeNodeFamily, type NodeFamily } from './helpers/nodes.js';

const LOCK_MODULE = resolve(fileURLToPath(import.meta.url), '../../../src/pkg/lock.js');

/** A Node process that takes the lock through the library, says "held", then runs `then` (JS) and exits. */
function contender(dir: string, then: string, waitSeconds = 0): ChildProcess {
  const script = `
    const { acquireFamilyLock } = await import(${JSON.stringify(LOCK_MODULE)});
    const lock = await acquireFamilyLock(${JSON.stringify(dir)}, { command: 'test contender', waitSeconds: ${waitSeconds} });
    process.stdout.write('held\\n');
    ${then}
    lock.release();`;
  return spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
}

function untilHeld(child: ChildProcess): Promise<void> {
  return new Promise((res, rej) => {
    child.stdout!.on('data', (c: Buffer) => c.toString().includes('held') && res());
    child.on('close', (code) => rej(new Error(`contender ended (${code}) before holding the lock`)));
  });
}

/** The ways of taking the lock; the contenders inherit the hook with the environment. */
const WAYS = [
  {
    name: "the addon's flock(2)",
    hook: undefined,
    skip: kernelAddon() ? false : 'the build made no kernel-call addon',
  },
  { name: 'util-linux flock(1)', hook: '1', skip: false },
] as const;
const NO_ADDON_HOOK = 'REDPAK_TEST_NO_KERNEL_ADDON';

for (const way of WAYS)
  describe(`family lock, through ${way.name}`, { skip: way.skip }, () => {
    let dir: string;
    before(() => {
      dir = mkdtempSync(join(tmpdir(), 'redpak-lock-test-'));
      if (way.hook) process.env[NO_ADDON_HOOK] = way.hook;
    });
    after(() => {
      delete process.env[NO_ADDON_HOOK];
      rmSync(dir, { recursive: true, force: true });
    });

    it('stays held by the process that took it (after flock(1) exits, where it ran), and names the holder to a second one', async () => {
      const holder = contender(dir, 'await new Promise((r) => setTimeout(r, 30000));');
      try {
        await untilHeld(holder);
        assert.ok(lockIsHeld(join(dir, LOCK_FILE)), 'the kernel lock is held');
        await assert.rejects(acquireFamilyLock(dir, { command: 'second' }), (e: unknown) => {
          assert.ok(e instanceof RedpakError && e.code === 'lock-busy');
          assert.match(e.message, new RegExp(`pid ${holder.pid} \\(test contender\\)`));
          return true;
        });
      } finally {
        holder.kill('SIGKILL');
      }
    });

    it('a live holder keeps it whatever its owner line says: rewritten to a dead pid (what a racing contender of the old pid-file lock saw), a second command is still refused', async () => {
      const holder = contender(dir, 'await new Promise((r) => setTimeout(r, 30000));');
      try {
        await untilHeld(holder);
        writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ pid: 999999, command: 'dead', since: 'before' }));
        await assert.rejects(
          acquireFamilyLock(dir, { command: 'second' }),
          (e: unknown) => e instanceof RedpakError && e.code === 'lock-busy',
        );
        assert.ok(lockIsHeld(join(dir, LOCK_FILE)));
      } finally {
        holder.kill('SIGKILL');
      }
    });

    it("a SIGKILLed holder's lock is free at once: no stale lock, even with its owner line left in the file", async () => {
      const holder = contender(dir, 'await new Promise((r) => setTimeout(r, 30000));');
      await untilHeld(holder);
      const gone = new Promise((r) => holder.on('close', r));
      holder.kill('SIGKILL');
      await gone;
      assert.match(
        readFileSync(join(dir, LOCK_FILE), 'utf8'),
        /test contender/,
        "the dead owner's line is still there",
      );
      const lock = await acquireFamilyLock(dir, { command: 'next' });
      assert.ok(existsSync(join(dir, LOCK_FILE)));
      lock.release();
      assert.ok(!lockIsHeld(join(dir, LOCK_FILE)), 'released, file kept');
    });

    it("8 contenders over a dead owner's lock each get it alone: a read-modify-write counter loses no increment", async () => {
      const file = join(dir, LOCK_FILE);
      // What the old lock took over: a dead pid's owner line.
      writeFileSync(file, JSON.stringify({ pid: 999999, command: 'killed', since: 'before' }));
      const counter = join(dir, 'counter');
      writeFileSync(counter, '0');
      const body = `
      const fs = await import('node:fs');
      const n = Number(fs.readFileSync(${JSON.stringify(counter)}, 'utf8'));
      await new Promise((r) => setTimeout(r, 30));
      fs.writeFileSync(${JSON.stringify(counter)}, String(n + 1));
      // Dies holding it, as a killed transaction does: every hand-over is over a dead owner's lock.
      process.exit(0);`;
      const children = Array.from({ length: 8 }, () => contender(dir, body, 60));
      const codes = await Promise.all(
        children.map((c) => new Promise<number>((res) => c.on('close', (code) => res(code ?? -1)))),
      );
      assert.deepEqual(codes, Array(8).fill(0));
      assert.equal(readFileSync(counter, 'utf8'), '8');
    });

    it('a lock file planted as a symlink is refused and its target untouched', async () => {
      const other = mkdtempSync(join(tmpdir(), 'redpak-lock-test-'));
      try {
        const target = join(other, 'precious');
        writeFileSync(target, 'precious\n');
        symlinkSync(target, join(other, LOCK_FILE));
        await assert.rejects(
          acquireFamilyLock(other, { command: 'x' }),
          (e: unknown) => e instanceof RedpakError && e.code === 'io' && e.message.includes(LOCK_FILE),
        );
        assert.equal(readFileSync(target, 'utf8'), 'precious\n');
        assert.ok(lstatSync(join(other, LOCK_FILE)).isSymbolicLink());
      } finally {
        rmSync(other, { recursive: true, force: true });
      }
    });
  });

describe('family lock under contention, through redwrap-dnf', () => {
  let f: NodeFamily;
  before(async () => {
    f = await makeNodeFamily();
  });
  after(() => f.cleanup());

  it("8 installs started at once over a dead owner's lock: every one reported installed is in the database", async () => {
    writeFileSync(
      join(f.sys, LOCK_FILE),
      JSON.stringify({ pid: 999999, command: 'redwrap-dnf install killed', since: 'before' }),
    );
    const names = Array.from({ length: 8 }, (_, i) => `redlock${i}`);
    const rpms = names.map((n) =>
      buildTestRpm(
        n,
        `%install\nmkdir -p %{buildroot}/usr/share/${n}\necho ${n} > %{buildroot}/usr/share/${n}/data\n%files\n/usr/share/${n}/data\n`,
      ),
    );
    const runs = rpms.map(
      (rpm) =>
        new Promise<{ status: number | null; stdout: string; stderr: string }>((res) => {
          const child = spawn(
            join(PACKAGE_ROOT, 'bin', 'redwrap-dnf'),
            ['--redpath', f.app, '-y', '--lock-wait', '300', 'install', rpm],
            { stdio: ['ignore', 'pipe', 'pipe'] },
          );
          let stdout = '';
          let stderr = '';
          child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
          child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
          child.on('close', (status) => res({ status, stdout, stderr }));
        }),
    );
    const results = await Promise.all(runs);
    const reported = names.filter(
      (n, i) => results[i]!.status === 0 && new RegExp(`Installed: ${n}-1\\.0-1`).test(results[i]!.stdout),
    );
    assert.deepEqual(reported, names, results.map((r) => r.stderr).join('\n'));
    assert.deepEqual(await installedNames(f.app), names);
    for (const n of names) assert.equal(readFileSync(join(f.app, `usr/share/${n}/data`), 'utf8'), `${n}\n`);
  });
});
