/**
 * The rule for recording what was read (src/system/cache-file.ts `recordable`), on stamps of
 * real files and, for a filesystem that keeps whole seconds, on stamps written out: such a
 * filesystem is not mounted by the tests, and the rule reads only the stamp's ctime.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileStamp, MISSING, recordable } from '../../src/system/cache-file.js';
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
