/**
 * The kernel calls of a transaction (src/system/kernel-calls.ts): flock(2) and syncfs(2) through
 * the addon dist/bin/redpak-kernel.node (src/launcher/redpak-kernel.c), and through util-linux
 * flock(1) and coreutils sync(1) with the test hook. Both ways must lock the same thing: a lock
 * taken one way is seen by the other.
 */
import assert from 'node:assert/strict';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { RedpakError } from '../../src/errors.js';
import { packagePath } from '../../src/package-root.js';
import { kernelAddon } from '../../src/system/kernel-addon.js';
import { syncFilesystem, tryLockExclusive } from '../../src/system/kernel-calls.js';
import { lockIsHeld } from '../helpers/lock-holder.js';

const NO_ADDON_HOOK = 'REDPAK_TEST_NO_KERNEL_ADDON';
const addon = kernelAddon();
/** Where scripts/build-launcher.sh looks for Node's headers: include/node next to Node's bin/. */
const nodeHeaders = existsSync(join(dirname(dirname(realpathSync(process.execPath))), 'include/node/node_api.h'));

describe('kernel calls', () => {
  let dir: string;
  let file: string;
  const open: number[] = [];
  const openLock = () => {
    const fd = openSync(file, 'r');
    open.push(fd);
    return fd;
  };
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'redpak-kernel-'));
    file = join(dir, 'lock');
    writeFileSync(file, '');
  });
  afterEach(() => {
    for (const fd of open.splice(0)) closeSync(fd);
    delete process.env[NO_ADDON_HOOK];
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('the build made the addon where Node has its headers, and the test hook turns it off', {
    skip: nodeHeaders ? false : 'Node has no headers here (include/node/node_api.h)',
  }, () => {
    assert.ok(addon, `dist/bin/redpak-kernel.node was built and loads: ${packagePath('dist/bin/redpak-kernel.node')}`);
    assert.equal(kernelAddon({ [NO_ADDON_HOOK]: '1' }), null);
  });

  for (const way of [
    { name: 'the addon', hook: undefined },
    { name: 'flock(1)', hook: '1' },
  ])
    it(`${way.name}: one open file description holds the lock, another is refused until the first is closed`, () => {
      if (way.hook) process.env[NO_ADDON_HOOK] = way.hook;
      const first = openLock();
      const second = openLock();
      assert.equal(tryLockExclusive(first, file), true);
      assert.equal(tryLockExclusive(first, file), true, 'taking it again on the same description');
      assert.equal(tryLockExclusive(second, file), false);
      assert.ok(lockIsHeld(file), 'flock(1) sees it held');
      closeSync(open.shift() as number);
      assert.equal(tryLockExclusive(second, file), true, 'free once the holder closed it');
    });

  it('a lock held by flock(1) refuses the addon', { skip: addon ? false : 'no addon' }, async () => {
    const { holdLock } = await import('../helpers/lock-holder.js');
    const holder = await holdLock(file);
    try {
      assert.equal(tryLockExclusive(openLock(), file), false);
    } finally {
      holder.kill();
    }
  });

  it('a descriptor that is not open is an io error naming the file (the addon)', {
    skip: addon ? false : 'no addon',
  }, () => {
    const fd = openLock();
    closeSync(open.pop() as number);
    assert.throws(
      () => tryLockExclusive(fd, file),
      (e: unknown) =>
        e instanceof RedpakError && e.code === 'io' && e.message.includes(file) && /EBADF|Bad file/.test(e.message),
    );
    assert.throws(() => addon?.tryLockExclusive('3' as unknown as number), TypeError);
    assert.throws(() => addon?.syncFilesystem(-1), TypeError);
  });

  for (const way of [
    { name: 'the addon', hook: undefined },
    { name: 'sync(1)', hook: '1' },
  ])
    it(`${way.name}: syncs the filesystem of a directory; a missing one is an io error naming it`, () => {
      if (way.hook) process.env[NO_ADDON_HOOK] = way.hook;
      syncFilesystem(dir);
      const missing = join(dir, 'missing');
      assert.throws(
        () => syncFilesystem(missing),
        (e: unknown) => e instanceof RedpakError && e.code === 'io' && e.message.includes(missing),
      );
    });

  it('the addon does not sync through a link: a directory planted as a link is refused', {
    skip: addon ? false : 'no addon',
  }, () => {
    const real = join(dir, 'real');
    mkdirSync(real);
    symlinkSync(real, join(dir, 'link'));
    assert.throws(
      () => syncFilesystem(join(dir, 'link')),
      (e: unknown) => e instanceof RedpakError && e.code === 'io' && e.message.includes('link'),
    );
  });
});
