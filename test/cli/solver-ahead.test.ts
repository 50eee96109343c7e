/**
 * A redwrap-dnf transaction's or query's solver is started by start.cjs before the executable's
 * bundle loads (pkg/solver-command.cts startSolverAhead, docs/solver-protocol.md "Started ahead"):
 * the quick start (a transaction or a query) or, for a query line it declines, the command through
 * oclif (cli/solver-ahead.ts) takes it over and uses it; a transaction line the quick start
 * declines, a command of the other kind, a command that asks nothing, or a transaction that ends
 * before it solves, kills it, and the command still ends. Watched with strace on the real executable.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { hasStrace, type Traced, traceBin } from '../helpers/strace.js';
import { installedNames } from '../pkg/helpers/family.js';
import { makeNodeFamily, type NodeFamily } from '../pkg/helpers/nodes.js';

/** strace lines of the solver's processes: those that executed the solver package. */
function solverPids(r: Traced): string[] {
  return r.lines.filter((l) => /execve\(.*redsolver\/__main__\.py/.test(l)).map((l) => l.split(' ', 1)[0] ?? '');
}

/** Whether a process of the command sent SIGKILL to `pid` (strace -e trace=kill). */
const killed = (r: Traced, pid: string) => r.lines.some((l) => l.includes(` kill(${pid}, SIGKILL`));

/**
 * The command ran exactly one solver, for `mode`, started ahead (`--prepare MODE`) before the
 * bundle `bundle` (dist/cli/BUNDLE) was read, and did not kill it: it answered.
 */
function assertOneSolverAhead(r: Traced, mode: 'solve' | 'query', bundle: string): void {
  const solvers = r.execs.filter((argv) => argv.some((a) => a.endsWith('redsolver/__main__.py')));
  assert.deepEqual(
    solvers.map((argv) => argv.slice(-2)),
    [['--prepare', mode]],
    `one solver, started ahead: ${JSON.stringify(r.execs)}`,
  );
  const started = r.lines.findIndex((l) => /execve\(.*redsolver\/__main__\.py/.test(l));
  const read = r.lines.findIndex((l) => l.includes(`openat(`) && l.includes(`dist/cli/${bundle}"`));
  assert.ok(read > 0, `${bundle} was loaded`);
  assert.ok(started >= 0 && started < read, 'the solver started before the bundle was read');
  const [pid = ''] = solverPids(r);
  assert.ok(!killed(r, pid), 'it answered and was not killed');
}

describe('the solver started ahead of a transaction or a query', {
  skip: hasStrace ? false : 'strace is not installed',
}, () => {
  let f: NodeFamily;
  before(async () => {
    f = await makeNodeFamily();
  });
  after(() => f.cleanup());

  it('starts before the quick start is loaded, and is the one solver of the install', async () => {
    const r = traceBin('redwrap-dnf', ['--redpath', f.app, '-y', 'install', 'redhello'], {
      syscalls: ['openat', 'kill'],
    });
    assert.equal(r.status, 0, r.stderr);
    assert.ok((await installedNames(f.app)).includes('redhello'));
    assertOneSolverAhead(r, 'solve', 'quick-dnf.cjs');
  });

  it('is killed when the quick start declines the line (help), and the full command line answers', () => {
    const r = traceBin('redwrap-dnf', ['install', '--help'], { syscalls: ['kill'] });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /USAGE/);
    const pids = solverPids(r);
    assert.equal(pids.length, 1, 'started ahead, before the line was read');
    assert.ok(killed(r, pids[0] ?? ''), 'and killed unused');
  });

  it('for a query: started before the quick start is loaded, and the one solver of the query', () => {
    const r = traceBin('redwrap-dnf', ['--redpath', f.app, 'info', 'redhello'], { syscalls: ['openat', 'kill'] });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /Name +: redhello/);
    assertOneSolverAhead(r, 'query', 'quick-dnf.cjs');
  });

  it('for a query the quick start declines: handed to the full command line, the one solver of the query', () => {
    // No package named, and a standard input that is not a terminal: oclif's to read.
    const r = traceBin('redwrap-dnf', ['--redpath', f.app, 'list', '--available'], { syscalls: ['openat', 'kill'] });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /redhello/);
    assertOneSolverAhead(r, 'query', 'redwrap-dnf.cjs');
  });

  it('is killed when the quick start finds a command of the other kind, which then answers', () => {
    // A transaction word as a package name: a transaction's solver was started, for a query.
    const r = traceBin('redwrap-dnf', ['--redpath', f.app, 'info', 'install', 'redhello'], { syscalls: ['kill'] });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /Name +: redhello/);
    const pids = solverPids(r);
    assert.ok(pids.length >= 1 && killed(r, pids[0] ?? ''), 'the solve solver started ahead was killed');
  });

  it('for a query line that asks no query (help): killed once the command ended', () => {
    const r = traceBin('redwrap-dnf', ['list', '--help'], { syscalls: ['kill'] });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /USAGE/);
    const pids = solverPids(r);
    assert.equal(pids.length, 1);
    assert.ok(killed(r, pids[0] ?? ''), 'killed unused');
  });

  it('is killed when the transaction ends before it solves (no such node), and the command ends', () => {
    const r = traceBin('redwrap-dnf', ['--redpath', `${f.app}/missing`, '-y', 'install', 'redhello'], {
      syscalls: ['kill'],
      timeout: 30_000,
    });
    assert.notEqual(r.status, null, 'the command ended by itself');
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /missing/);
    const pids = solverPids(r);
    assert.equal(pids.length, 1);
    assert.ok(killed(r, pids[0] ?? ''), 'the solver was killed unused');
  });
});
