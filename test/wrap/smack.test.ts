/**
 * SMACK labels. This project's CI kernel has no SMACK, so the refusal is tested live and the
 * applying path on a FAKE root: a temporary directory holding sys/fs/smackfs/load2 (what tells
 * redwrap the kernel has SMACK) and proc/self/attr/current (a plain file standing for the
 * kernel's, so the test can read back what the entry shell wrote).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { explain } from '../../src/audit/explain.js';
import { RedpakError } from '../../src/errors.js';
import { assertSmackLabel, hasSmack, smackEntryArgv } from '../../src/wrap/smack.js';
import { HOST_USR_EXPORTS, makeNode, tempDir } from '../helpers/family.js';
import { redwrap } from '../helpers/redwrap.js';

function fakeSmackRoot(dir: string): string {
  mkdirSync(join(dir, 'sys/fs/smackfs'), { recursive: true });
  writeFileSync(join(dir, 'sys/fs/smackfs/load2'), '');
  mkdirSync(join(dir, 'proc/self/attr'), { recursive: true });
  writeFileSync(join(dir, 'proc/self/attr/current'), '_');
  return dir;
}

const refusal = (pattern: RegExp) => (error: unknown) =>
  error instanceof RedpakError && error.code === 'launch' && pattern.test(error.message);

describe('smack on a FAKE smackfs root (the CI kernel has no SMACK)', () => {
  test('the entry shell writes the label to attr/current, then runs the command', (t) => {
    const root = fakeSmackRoot(tempDir(t, 'redpak-smack-'));
    assert.equal(hasSmack(root), true);
    assertSmackLabel('App::web', { alias: 'web' }, root);
    const argv = smackEntryArgv('App::web', ['/bin/sh', '-c', 'echo ran "$@"', 'sh', 'a b'], root);
    const run = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout, 'ran a b\n', 'the command runs with its arguments intact');
    assert.equal(readFileSync(join(root, 'proc/self/attr/current'), 'utf8'), 'App::web');
  });

  test('a label the kernel cannot take is refused, naming the key and the node', (t) => {
    const root = fakeSmackRoot(tempDir(t, 'redpak-smack-'));
    for (const bad of ['', '-dash', 'with space', 'a/b', 'x'.repeat(256), 'quo"te'])
      assert.throws(() => assertSmackLabel(bad, { alias: 'web' }, root), refusal(/^smack: label .* of web is invalid/));
  });

  test('the label cannot be set: the command does not run (status 125)', (t) => {
    const root = fakeSmackRoot(tempDir(t, 'redpak-smack-'));
    const argv = smackEntryArgv('App', ['/bin/sh', '-c', 'echo ran'], join(root, 'missing'));
    const run = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8' });
    assert.equal(run.status, 125);
    assert.equal(run.stdout, '');
    assert.match(run.stderr, /cannot set the SMACK label App/);
  });
});

describe('smack on this host', { skip: hasSmack() && 'this kernel has SMACK: the refusal cannot be seen' }, () => {
  test('redwrap refuses before running anything, naming smack and the node; explain says the same', async (t) => {
    const dir = tempDir(t, 'redpak-smack-');
    const node = makeNode(
      dir,
      join(dir, 'node'),
      'labelled',
      `headers:\n  alias: labelled\nconfig:\n  smack: App\nexports:\n${HOST_USR_EXPORTS}`,
    );
    const marker = join(dir, 'ran');
    const result = await redwrap(['--redpath', node, '--', '/bin/sh', '-c', `touch ${marker}`]);
    assert.notEqual(result.status, 0);
    assert.match(result.stderr, /smack: label "App" of labelled cannot be applied: this kernel has no SMACK/);
    assert.equal(existsSync(marker), false);
    const explained = explain({ redpath: node });
    assert.equal(explained.launchable, false);
    assert.ok(explained.errors.some((e) => /smack: label "App" of labelled cannot be applied/.test(e)));
  });
});
