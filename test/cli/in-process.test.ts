/**
 * The in-process runner (test/helpers/in-process.ts) gives what the built executable gives, and a
 * run leaves nothing behind for the next one or for the test process.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { HEADERS_ONLY, makeNode, tempDir } from '../helpers/family.js';
import type { BinRun } from '../helpers/cli.js';
import { runCommand } from '../helpers/in-process.js';

/** What a run could leave behind in the test process. */
function processState(): Record<string, unknown> {
  return {
    env: { ...process.env },
    cwd: process.cwd(),
    argv: [...process.argv],
    exitCode: process.exitCode,
    exit: process.exit,
    emit: process.emit,
    stdoutWrite: process.stdout.write,
    stderrWrite: process.stderr.write,
    listeners: [process, process.stdout, process.stderr, process.stdin].map((emitter) =>
      emitter.eventNames().map((event) => [event, emitter.listenerCount(event)]),
    ),
  };
}

describe('runCommand', () => {
  it('maps the exit statuses: success, a usage error (2) with its usage on stderr, a library error', async (t) => {
    const dir = tempDir(t);
    const version = await runCommand('redmanager', ['--version']);
    assert.equal(version.status, 0, version.stderr);
    assert.match(version.stdout, /^redpak-ts\/\d+\.\d+\.\d+ /);
    const usage = await runCommand('redmanager', ['tree', '--bogus']);
    assert.equal(usage.status, 2);
    assert.match(usage.stderr, /Nonexistent flag: --bogus/);
    assert.match(usage.stderr, /usage: redmanager tree /);
    assert.doesNotMatch(usage.stdout + usage.stderr, /^\s+at /m, 'nothing after process.exit, no stack trace');
    const missing = await runCommand('redmanager', ['tree', '--redroot', dir, '--json']);
    assert.equal(missing.status, 3);
    assert.equal(missing.json.error.code, 'not-a-node');
    assert.equal(missing.stderr, '');
    const text = await runCommand('redmanager', ['tree', '--redroot', dir]);
    assert.equal(text.status, 3);
    assert.match(text.stderr, /^redmanager: error: .* is not a node /);
  });

  it('runs each executable with its own command set, one after the other', async () => {
    const manager = await runCommand('redmanager', ['--help']);
    const dnf = await runCommand('redwrap-dnf', ['--help']);
    const again = await runCommand('redmanager', ['--help']);
    assert.match(manager.stdout, /\$ redmanager \[COMMAND\]/);
    assert.match(dnf.stdout, /\$ redwrap-dnf \[COMMAND\]/);
    assert.doesNotMatch(dnf.stdout, /^ {2}create-node /m);
    assert.match(manager.stdout, /^ {2}create-node /m);
    assert.equal(again.stdout, manager.stdout);
    const wrap = await runCommand('redwrap', ['--bogus', '--json']);
    assert.equal(wrap.status, 2);
    assert.equal(wrap.json.error.code, 'usage');
  });

  it('two runs in a row with different env and cwd are independent, and the test process is as before', async (t) => {
    const before = processState();
    const [first, second] = [tempDir(t), tempDir(t)];
    // A node whose environ shows the caller's LOGNAME, in each directory under the same relative path.
    const config = `${HEADERS_ONLY}environ:\n  - key: WHO\n    value: $LOGNAME\n`;
    makeNode(first, join(first, 'fam/one'), 'one', config);
    makeNode(second, join(second, 'fam/two'), 'two', config);
    const who = (run: BinRun) => run.json.environ.find((e: { key: string }) => e.key === 'WHO').value;
    const relative = (dir: string) => (dir === first ? 'fam/one' : 'fam/two');
    const runs: [string, string | undefined, string][] = [
      [first, undefined, 'one'],
      [first, 'alice', 'one'],
      [second, 'bob', 'two'],
      [first, undefined, 'one'],
    ];
    const seen: string[] = [];
    for (const [cwd, logname, alias] of runs) {
      const env = logname ? { LOGNAME: logname } : undefined;
      const args = ['mergeconfig', '--redpath', relative(cwd), '--expand', '--json'];
      const run = await runCommand('redmanager', args, { cwd, env });
      assert.equal(run.status, 0, run.stderr);
      assert.equal(run.json.leaf.alias, alias, `run in ${cwd}`);
      seen.push(who(run));
    }
    assert.deepEqual(seen.slice(1, 3), ['alice', 'bob']);
    assert.equal(seen[3], seen[0], "without env, the test process's own LOGNAME again");
    // A relative path that only the other directory has: the cwd of a run is its own.
    const elsewhere = await runCommand('redmanager', ['mergeconfig', '--redpath', 'fam/two', '--json'], { cwd: first });
    assert.equal(elsewhere.status, 3, elsewhere.stderr);
    assert.deepEqual(processState(), before);
  });

  it("an error status set by one run does not become the next one's", async (t) => {
    const dir = tempDir(t);
    const before = process.exitCode;
    assert.equal((await runCommand('redmanager', ['tree', '--redroot', dir])).status, 3);
    assert.equal(process.exitCode, before);
    assert.equal((await runCommand('redmanager', ['--version'])).status, 0);
  });

  it('runs one command at a time', async () => {
    const first = runCommand('redmanager', ['--version']);
    await assert.rejects(runCommand('redmanager', ['--version']), /one command at a time/);
    assert.equal((await first).status, 0);
  });
});
