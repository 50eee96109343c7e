/**
 * The pure half of `redwrap enter`: which sandbox a command line names (and the refusals), what
 * the entered command gets from the plan (environment, directory, capabilities), the helper's
 * command line, and the /proc readers it relies on. The live behaviour is enter-live.test.ts's.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  chooseSandbox,
  ENTER_STATUS,
  EnterRefusal,
  enterHelperArgv,
  planCapabilities,
  sandboxDirectory,
  sandboxEnvironment,
} from '../../src/wrap/enter-plan.js';
import { idInside, parseStatusGroups } from '../../src/wrap/proc-parse.js';
import type { MergedCapability } from '../../src/merge/types.js';
import type { RunningSandbox } from '../../src/wrap/running.js';

function sandbox(node: string, pid: number, processes: number[] = [pid, pid + 1, pid + 2]): RunningSandbox {
  return {
    node,
    alias: null,
    admin: false,
    pid,
    uid: 0,
    user: 'root',
    command: ['/bin/app'],
    started: '2026-12-05T00:00:00.000Z',
    processes,
    startTicks: processes.map(() => 1),
    leftover: false,
    cgroup: null,
  };
}

function refusal(run: () => unknown): EnterRefusal {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof EnterRefusal, String(error));
    return error;
  }
  assert.fail('not refused');
}

const cap = (name: string, add: number): MergedCapability =>
  ({ value: { cap: name, add, at: { file: 'f', line: 1, col: 1 } }, origin: {} }) as unknown as MergedCapability;

describe('redwrap enter: choosing the sandbox', () => {
  const a1 = sandbox('/n/a', 100);
  const a2 = sandbox('/n/a', 200);
  const b = sandbox('/n/b', 300);

  it("a node's only sandbox; a process of a sandbox names it", () => {
    assert.equal(chooseSandbox([a1, b], { node: '/n/a' }), a1);
    assert.equal(chooseSandbox([a1, a2, b], { pid: 202 }), a2);
    assert.equal(chooseSandbox([a1, a2, b], { pid: 300 }), b, "bwrap's own pid");
  });

  it('refuses none (11) and several (13, listing their PIDs), naming the node or the PID', () => {
    const none = refusal(() => chooseSandbox([b], { node: '/n/a' }));
    assert.equal(none.exitCode, ENTER_STATUS.nothingRunning);
    assert.match(none.message, /no sandbox of \/n\/a is running/);
    const stray = refusal(() => chooseSandbox([a1, b], { pid: 4242 }));
    assert.equal(stray.exitCode, 11);
    assert.match(stray.message, /process 4242 is in no sandbox/);
    const several = refusal(() => chooseSandbox([a1, a2, b], { node: '/n/a' }));
    assert.equal(several.exitCode, ENTER_STATUS.several);
    assert.equal(several.exitCode, 13);
    assert.match(several.message, /2 sandboxes of \/n\/a are running: 100, 200/);
    assert.equal(several.toJSON().code, 'launch');
  });
});

describe('redwrap enter: what the plan gives', () => {
  it("the environment: bwrap's --setenv/--unsetenv in order over the base, values that look like options included", () => {
    const args = [
      '--ro-bind',
      '/usr',
      '/usr',
      '--setenv',
      'A',
      '1',
      '--setenv',
      'B',
      '--unsetenv',
      '--setenv',
      'GONE',
      'x',
      '--unsetenv',
      'GONE',
      '--unsetenv',
      'BASE_DROPPED',
      '--setenv',
      'A',
      '2',
      '--chdir',
      '/srv',
    ];
    const env = sandboxEnvironment(args, { BASE: 'kept', BASE_DROPPED: 'x' });
    assert.deepEqual(Object.fromEntries(env), { BASE: 'kept', A: '2', B: '--unsetenv' });
    assert.equal(sandboxDirectory(args), '/srv');
    assert.equal(sandboxDirectory(['--setenv', '--chdir', '/not']), '/', 'a value is not an option');
  });

  it('capabilities as bwrap reads the plan: all for uid 0 inside, none otherwise, then each entry in order', () => {
    const all = (1n << 41n) - 1n;
    const netRaw = 1n << 13n;
    assert.equal(planCapabilities([], true), all);
    assert.equal(planCapabilities([], false), 0n);
    assert.equal(planCapabilities([cap('ALL', 0), cap('cap_net_raw', 1)], true), netRaw);
    assert.equal(planCapabilities([cap('CAP_NET_RAW', 1)], false), netRaw, 'names in any case, with cap_ or not');
    assert.equal(planCapabilities([cap('net_raw', 0)], true), all & ~netRaw);
    assert.equal(planCapabilities([cap('cap_chown', 1), cap('ALL', 0)], true), 0n);
  });

  it("the helper's command line: the command after --, variables as KEY=VALUE, never a key it cannot pass", () => {
    const argv = enterHelperArgv({
      pid: 12,
      startTicks: 345,
      uid: 1000,
      gid: 1000,
      groups: [1000, 27],
      capabilities: 0x2000n,
      cgroupProcs: ['/sys/fs/cgroup/pids/-n-a/cgroup.procs'],
      seccompFds: [4, 5],
      umask: 0o27,
      directory: '/tmp',
      env: new Map([
        ['PATH', '/usr/bin'],
        ['A=B', 'x'],
        ['', 'y'],
      ]),
      errorFd: 3,
      command: ['sh', '--', '-c'],
    });
    assert.deepEqual(argv, [
      ...['--pid', '12', '--start', '345', '--uid', '1000', '--gid', '1000', '--caps', '2000'],
      ...['--groups', '1000,27', '--cgroup', '/sys/fs/cgroup/pids/-n-a/cgroup.procs'],
      ...['--seccomp-fd', '4', '--seccomp-fd', '5', '--umask', '27', '--chdir', '/tmp'],
      ...['--setenv', 'PATH=/usr/bin', '--error-fd', '3', '--', 'sh', '--', '-c'],
    ]);
  });
});

describe('redwrap enter: /proc readers', () => {
  it('the gid and groups of /proc/PID/status', () => {
    const status =
      'Name:\tsh\nUid:\t1000\t1000\t1000\t1000\nGid:\t1001\t1001\t1001\t1001\nFDSize:\t64\nGroups:\t1001 27 \n';
    assert.deepEqual(parseStatusGroups(status), { gid: 1001, groups: [1001, 27] });
    assert.deepEqual(parseStatusGroups('Gid:\t0\t0\t0\t0\nGroups:\t\n'), { gid: 0, groups: [] });
    assert.equal(parseStatusGroups('Uid:\t0\n'), undefined);
  });

  it('an id mapped into a user namespace, from its uid_map', () => {
    const map = '         0       1000          1\n      1000     100000      65536\n';
    assert.equal(idInside(1000, map), 0);
    assert.equal(idInside(100000, map), 1000);
    assert.equal(idInside(100005, map), 1005);
    assert.equal(idInside(5, map), undefined, 'unmapped');
    assert.equal(idInside(1000, 'garbage\n'), undefined);
  });
});
