/**
 * The stamping contract of the launch cache (src/wrap/stamps.ts): a plan is stamped with what its
 * files were BEFORE the compilation read them, and a change during the compilation is seen.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, copyFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { familyFileCandidates, sameStamp, stampedRead, statStamp, type Stamp } from '../../src/wrap/stamps.js';
import { tempDir } from '../helpers/family.js';

describe('launch cache stamps', () => {
  it('stamps every file before the compilation reads any, and compares after it', () => {
    const events: string[] = [];
    const stamp = (path: string): Stamp => {
      events.push(`stat ${path}`);
      return 'missing';
    };
    const { changed } = stampedRead(['/a', '/b'], () => events.push('read'), stamp);
    assert.deepEqual(events, ['stat /a', 'stat /b', 'read', 'stat /a', 'stat /b']);
    assert.deepEqual(changed, []);
  });

  it('reports a file edited while the compilation ran, and keeps the stamp from before the read', (t) => {
    const dir = tempDir(t);
    const file = join(dir, 'redpak.yaml');
    writeFileSync(file, 'a: 1\n');
    const { stamps, changed, result } = stampedRead([file], () => {
      const content = String(statSync(file).size);
      appendFileSync(file, '# racing edit\n'); // lands after the compilation read the file
      return content;
    });
    assert.equal(result, '5');
    assert.deepEqual(changed, [file]);
    const before = stamps.get(file);
    assert.ok(before !== undefined && before !== 'missing');
    assert.equal(before.size, 5n, 'the plan would record the state that was read, not the newer one');
  });

  it('sees an in-place edit that keeps size and mtime (ctime moves)', async (t) => {
    const dir = tempDir(t);
    const file = join(dir, 'redpak.yaml');
    writeFileSync(file, 'hostname: aaa\n');
    const before = statStamp(file);
    copyFileSync(file, `${file}.ref`);
    spawnSync('touch', ['-r', file, `${file}.ref`]);
    await new Promise((done) => setTimeout(done, 20));
    writeFileSync(file, 'hostname: bbb\n');
    assert.equal(spawnSync('touch', ['-r', `${file}.ref`, file]).status, 0); // touch the old mtime back
    const after = statStamp(file);
    assert.ok(after !== 'missing' && before !== 'missing');
    assert.equal(after.size, before.size);
    assert.equal(after.mtimeNs, before.mtimeNs);
    assert.equal(sameStamp(before, after), false);
  });

  it('lists every status and config name, and the merge journal, of every directory up to /', () => {
    const files = familyFileCandidates('/var/redpak/app');
    assert.deepEqual(
      files.filter((f) => f.startsWith('/var/redpak/app/')),
      [
        '/var/redpak/app/.rednode.yaml',
        '/var/redpak/app/etc/redpak.yaml',
        '/var/redpak/app/etc/redpack.yaml',
        '/var/redpak/app/etc/redpak-admin.yaml',
        '/var/redpak/app/etc/redpack-admin.yaml',
        '/var/redpak/app/.redpak-stage/MERGE',
      ],
    );
    assert.ok(files.includes('/var/.rednode.yaml') && !files.some((f) => f.startsWith('/.rednode')));
  });
});
