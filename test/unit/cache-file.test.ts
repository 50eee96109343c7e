/**
 * Stamps and the rule for recording what was read (src/system/cache-file.ts `recordable`), on
 * stamps of real files and, for a filesystem that keeps whole seconds, on stamps written out: such
 * a filesystem is not mounted by the tests, and the rule reads only the stamp's ctime. A stamp is
 * the same text through the kernel addon and through Node's fs (system/kernel-addon.ts).
 */
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { dirStamp, fileStamp, MISSING, recordable } from '../../src/system/cache-file.js';
import { kernelAddon } from '../../src/system/kernel-addon.js';
import { tempDir } from '../helpers/family.js';

/** A stamp as fileStamp writes it, with the given ctime (milliseconds). */
const stampAt = (ctimeMs: number) => `33188:10:${ctimeMs}:${ctimeMs}:65024:42`;

describe('recording what was read', () => {
  it('records a file older than the margin, and a missing one, never one that could not be stamped', (t) => {
    const file = join(tempDir(t), 'f');
    writeFileSync(file, 'x');
    const stamp = fileStamp(file) as string;
    const now = Date.now();
    assert.equal(recordable([stamp], now), false, 'just written');
    assert.equal(recordable([stamp], now + 150), true, 'written before the margin');
    assert.equal(recordable([stamp, MISSING], now + 150), true);
    assert.equal(recordable([stamp, undefined], now + 150), false);
  });

  it('gives a ctime in whole seconds a second more', () => {
    const read = 1_796_000_000_500;
    assert.equal(recordable([stampAt(1_796_000_000_000)], read), false, 'the tick of the read may hold another edit');
    assert.equal(recordable([stampAt(1_795_999_999_000)], read), true);
    assert.equal(recordable([stampAt(1_796_000_000_000.25)], read), true, 'a finer clock');
  });
});

describe('stamps', () => {
  it('are the same through the kernel addon and through Node’s fs', {
    skip: kernelAddon() ? false : 'the build made no kernel-call addon',
  }, (t) => {
    const dir = tempDir(t);
    writeFileSync(join(dir, 'file'), 'x'.repeat(1234));
    mkdirSync(join(dir, 'dir'));
    symlinkSync('file', join(dir, 'link'));
    symlinkSync('nowhere', join(dir, 'dangling'));
    const paths = ['file', 'dir', 'link', 'dangling', 'missing', 'file/below', 'dir/../file'].map((p) => join(dir, p));
    paths.push(`${dir}/dir/../file`, '/', '/proc/self', `${dir}/${'x'.repeat(5000)}`);
    const both = (stamp: (path: string) => string | undefined) => paths.map(stamp);
    const throughAddon = [both(fileStamp), both(dirStamp)];
    const hook = process.env.REDPAK_TEST_NO_KERNEL_ADDON;
    process.env.REDPAK_TEST_NO_KERNEL_ADDON = '1';
    try {
      assert.deepEqual([both(fileStamp), both(dirStamp)], throughAddon);
    } finally {
      if (hook === undefined) delete process.env.REDPAK_TEST_NO_KERNEL_ADDON;
      else process.env.REDPAK_TEST_NO_KERNEL_ADDON = hook;
    }
    assert.equal(fileStamp(join(dir, 'missing')), MISSING);
    assert.equal(fileStamp(join(dir, 'file/below')), undefined, 'not a directory: cannot be looked at');
    assert.match(fileStamp(join(dir, 'link')) ?? '', /^41471:4:/, 'the link itself');
    assert.match(dirStamp(join(dir, 'link')) ?? '', /^\d+:1234:/, 'through the link');
  });

  it('refuse a path holding a NUL character, never stamping a shorter one', (t) => {
    const dir = tempDir(t);
    writeFileSync(join(dir, 'file'), 'x');
    assert.equal(fileStamp(`${join(dir, 'file')}\0/../other`), undefined);
  });
});
