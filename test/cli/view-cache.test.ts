/**
 * start.cjs prints a view kept before (src/cli/view-cache.ts, docs/read-caches.md "Views") from its
 * own small bundle, dist/cli/view-cache.cjs, without loading the quick start's: the same output
 * as a run without any cache. Under oclif's variables the line is oclif's, as the quick start
 * leaves it. Watched with strace on the real executables.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runBin } from '../helpers/cli.js';
import { tempDir } from '../helpers/family.js';
import type { Executable } from '../helpers/in-process.js';
import { family } from '../helpers/node-plants.js';
import { olderThanTheClockMargin } from '../helpers/read-caches.js';
import { hasStrace, traceBin, type Traced } from '../helpers/strace.js';

/** Whether a run opened dist/cli/NAME. */
const opened = (r: Traced, name: string) =>
  r.lines.some((l) => l.includes('openat(') && l.includes(`dist/cli/${name}"`));

describe('a view kept before', { skip: hasStrace ? false : 'strace is not installed' }, () => {
  it('is printed again by start.cjs, the quick start not loaded, as a run without cache prints it', async (t) => {
    const f = family(tempDir(t));
    await olderThanTheClockMargin();
    const lines: [Executable, string[]][] = [
      ['redmanager', ['mergeconfig', '--redpath', f.a1, '--json']],
      ['redmanager', ['mergeconfig', '--redpath', f.a1, '--admin']],
      ['redwrap', ['--dump-only', '--redpath', f.a1, '--', '/bin/true']],
      ['redwrap', ['--dump-only', '--json', '--redpath', f.a1, '--', '/bin/sh', '-c', 'exit 3']],
    ];
    for (const [bin, args] of lines) {
      const what = `${bin} ${args.join(' ')}`;
      const uncached = runBin(bin, args, { env: { REDWRAP_NO_CACHE: '1' } });
      assert.equal(uncached.status, 0, `${what}: ${uncached.stderr}`);
      runBin(bin, args); // keeps it
      const again = traceBin(bin, args, { syscalls: ['openat'] });
      assert.deepEqual([again.status, again.stdout, again.stderr], [0, uncached.stdout, uncached.stderr], what);
      assert.ok(opened(again, 'view-cache.cjs'), what);
      assert.ok(!opened(again, 'quick.cjs'), `${what}: the quick start was loaded`);
    }
  });

  it('is left alone under oclif’s variables, as the quick start leaves the line to oclif', async (t) => {
    const f = family(tempDir(t));
    await olderThanTheClockMargin();
    const args = ['mergeconfig', '--redpath', f.a1, '--json'];
    runBin('redmanager', args);
    const scoped = traceBin('redmanager', args, { syscalls: ['openat'], env: { REDMANAGER_CONTENT_TYPE: 'json' } });
    assert.equal(scoped.status, 0, scoped.stderr);
    assert.ok(opened(scoped, 'redmanager.cjs'), 'oclif ran the line');
  });
});
