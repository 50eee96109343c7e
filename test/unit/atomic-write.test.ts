/** The one temp-file-and-rename write, with each guarantee its callers ask for. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { lstatSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../../src/system/atomic-write.js';
import { tempDir } from '../helpers/family.js';

describe('writeFileAtomic', () => {
  it('replaces the file and leaves no temporary file', (t) => {
    const dir = tempDir(t);
    const file = join(dir, 'f');
    writeFileSync(file, 'old');
    writeFileAtomic(file, 'new', { durable: true });
    assert.equal(readFileSync(file, 'utf8'), 'new');
    assert.deepEqual(readdirSync(dir), ['f']);
  });

  it('gives the new file the mode asked for', (t) => {
    const file = join(tempDir(t), 'f');
    writeFileAtomic(file, 'x', { mode: 0o600 });
    assert.equal(lstatSync(file).mode & 0o777, 0o600);
  });

  it('exclusive: a link planted at the temporary name is replaced, not followed', (t) => {
    const dir = tempDir(t);
    const victim = join(dir, 'victim');
    writeFileSync(victim, 'untouched');
    const file = join(dir, 'f');
    symlinkSync(victim, `${file}.tmp-${process.pid}`);
    writeFileAtomic(file, 'new', { exclusive: true });
    assert.equal(readFileSync(victim, 'utf8'), 'untouched');
    assert.equal(readFileSync(file, 'utf8'), 'new');
    assert.ok(lstatSync(file).isFile());
  });

  it('writes through the temporary file named by the caller, and removes it when the rename fails', (t) => {
    const dir = tempDir(t);
    writeFileAtomic(join(dir, 'ok'), 'x', { temp: join(dir, '.ok.tmp') });
    assert.deepEqual(readdirSync(dir), ['ok']);
    // A path through a regular file cannot be renamed to.
    assert.throws(() => writeFileAtomic(join(dir, 'ok', 'f'), 'x', { temp: join(dir, '.f.tmp') }), /ENOTDIR/);
    assert.deepEqual(readdirSync(dir), ['ok']);
  });
});
