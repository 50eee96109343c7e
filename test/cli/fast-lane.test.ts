/** The fast lane's guard (test/helpers/fast-lane-guard.ts): a test file that starts a process fails. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { tempDir } from '../helpers/family.js';
import { PACKAGE_ROOT } from '../helpers/cli.js';

const GUARD = join(PACKAGE_ROOT, 'dist/test/helpers/fast-lane-guard.js');

/** Runs one test file as the fast lane does. */
function inLane(file: string): { status: number | null; output: string } {
  // Without the variable that tells node it already runs inside a test runner.
  const { NODE_TEST_CONTEXT: _, ...env } = process.env;
  const r = spawnSync(process.execPath, ['--import', GUARD, '--test', file], { encoding: 'utf8', env });
  return { status: r.status, output: r.stdout + r.stderr };
}

describe('the fast lane guard', () => {
  it('passes a file that starts no process, fails one that does, even when the test catches the error', (t) => {
    const dir = tempDir(t);
    const header = "import { test } from 'node:test';\n";
    const files = {
      pure: `${header}test('pure', () => {});\n`,
      spawning: `${header}import { execFileSync } from 'node:child_process';\ntest('s', () => execFileSync('true'));\n`,
      caught: `${header}import cp from 'node:child_process';\ntest('c', () => {\n  try { cp.spawnSync('true'); } catch {}\n});\n`,
    };
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, `${name}.test.mjs`), text);
    const pure = inLane(join(dir, 'pure.test.mjs'));
    assert.equal(pure.status, 0, pure.output);
    for (const name of ['spawning', 'caught']) {
      const run = inLane(join(dir, `${name}.test.mjs`));
      assert.notEqual(run.status, 0, `${name}: ${run.output}`);
      assert.match(run.output, /fast lane: .* started processes:\n.*true/, name);
    }
  });
});
