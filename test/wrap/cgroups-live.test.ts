/**
 * Live cgroup tests: real limits on real processes. They use whatever resolveCgroupOptions picks
 * for this host, which on the project's hybrid CI machine is cgroup v1 (its v2 hierarchy has no
 * controllers); on a pure v2 host the same tests exercise v2. Every cgroup they create is named
 * after this test process and removed afterwards, even when a test fails.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { RedpakError } from '../../src/errors.js';
import { planCgroups, requestedControllers, type CgroupNode } from '../../src/wrap/cgroups.js';
import {
  applyCgroupPlan,
  cgroupEntryArgv,
  detectCgroupLayout,
  releaseCgroups,
  resolveCgroupOptions,
  type AppliedCgroups,
} from '../../src/wrap/cgroups-apply.js';
import { run, SANDBOX_ARGS } from './run-bwrap.js';

const tag = `-redpak-test-${process.pid}-`;
const layout = detectCgroupLayout();
const haveBwrap = spawnSync('bwrap', ['--version'], { stdio: 'ignore' }).status === 0;
const canLimit =
  process.getuid?.() === 0 && haveBwrap && Boolean((layout.v1.pids && layout.v1.memory) || layout.unified);
const touchedRoots = new Set<string>();

/** Plans and applies cgroups for `nodes`, and remembers where, for the safety sweep. */
function applyFor(nodes: CgroupNode[]): AppliedCgroups {
  const options = resolveCgroupOptions(layout, requestedControllers(nodes));
  for (const root of options.version === 'v2' ? [options.root] : Object.values(options.roots)) touchedRoots.add(root!);
  return applyCgroupPlan(planCgroups(nodes, options));
}

/** Removes anything a failed test left behind: directories named after this process, deepest first. */
function sweep(dir: string, ours = false): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory() && (ours || entry.name.startsWith(tag) || entry.name === 'redpak-pids-leaf'))
      sweep(join(dir, entry.name), true);
  }
  if (ours) {
    try {
      rmdirSync(dir);
    } catch {
      // a process still in it: nothing safe to do from here
    }
  }
}
after(() => {
  for (const root of touchedRoots) if (existsSync(root)) sweep(root);
});

/** Runs a shell script in bwrap inside the plan's leaf cgroups, then releases them. */
async function runLimited(nodes: CgroupNode[], argv: string[], inspect?: (applied: AppliedCgroups) => void) {
  const applied = applyFor(nodes);
  try {
    const result = await run(cgroupEntryArgv(applied, ['bwrap', ...SANDBOX_ARGS, ...argv]));
    inspect?.(applied);
    return result;
  } finally {
    const released = await releaseCgroups(applied);
    assert.deepEqual(released.kept, [], 'every cgroup of the launch is removed once it has exited');
  }
}

const forkTwenty = ['sh', '-c', 'i=0; while [ $i -lt 20 ]; do sleep 2 & i=$((i+1)); done; echo "started $i"'];

describe('live cgroup limits', { skip: !canLimit && 'needs root, bwrap and a pids+memory cgroup hierarchy' }, () => {
  test('pids.max stops forks of a process run in bwrap in the leaf cgroup', async () => {
    const limited = await runLimited(
      [{ path: `/${tag}/pids/`, alias: 'pids', admin: false, cgroups: { pids: { max: '5' } } }],
      forkTwenty,
    );
    assert.match(limited.stderr, /Cannot fork/);
    assert.doesNotMatch(limited.stdout, /started 20/);

    const control = await runLimited(
      [{ path: `/${tag}/pids-control/`, alias: 'control', admin: false, cgroups: { pids: { max: '100' } } }],
      forkTwenty,
    );
    assert.match(control.stdout, /started 20/, control.stderr);
  });

  test('a memory limit OOM-kills an allocation over it', async () => {
    let oomKills = -1;
    const result = await runLimited(
      [{ path: `/${tag}/mem/`, alias: 'mem', admin: false, cgroups: { mem: { max: '32M' } } }],
      ['/usr/bin/python3', '-c', 'b = bytearray(128 << 20); print("survived")'],
      (applied) => {
        const memoryLeaf = applied.plan.leaves.find((leaf) => leaf.includes('/memory/')) ?? applied.plan.leaves[0];
        const events = existsSync(join(memoryLeaf, 'memory.oom_control'))
          ? join(memoryLeaf, 'memory.oom_control')
          : join(memoryLeaf, '..', 'memory.events');
        oomKills = Number(/oom_kill (\d+)/.exec(readFileSync(events, 'utf8'))?.[1]);
      },
    );
    assert.equal(result.status, 128 + 9, `expected SIGKILL by the OOM killer, got ${result.status}: ${result.stderr}`);
    assert.doesNotMatch(result.stdout, /survived/);
    assert.ok(oomKills >= 1, 'the kernel counted an OOM kill in the cgroup');
  });

  test('nesting: a child with pids.max 50 under a parent with pids.max 5 is held at 5', async () => {
    const result = await runLimited(
      [
        { path: `/${tag}/nest/`, alias: 'parent', admin: false, cgroups: { pids: { max: '5' } } },
        { path: `/${tag}/nest/child/`, alias: 'child', admin: false, cgroups: { pids: { max: '50' } } },
      ],
      forkTwenty,
    );
    assert.match(result.stderr, /Cannot fork/);
    assert.doesNotMatch(result.stdout, /started 20/);
  });

  test('cpuset: the process only runs on the CPUs the node allows (mems inherited)', {
    skip: !layout.v1.cpuset && !layout.unified && 'no cpuset hierarchy',
  }, async () => {
    const result = await runLimited(
      [{ path: `/${tag}/cpuset/`, alias: 'cpus', admin: false, cgroups: { cpuset: { cpus: '0' } } }],
      ['grep', 'Cpus_allowed_list', '/proc/self/status'],
    );
    assert.match(result.stdout, /Cpus_allowed_list:\s*0\n/);
  });

  test('a value the kernel rejects fails before the launch and leaves no cgroup behind', () => {
    const cpus = readFileSync('/proc/self/status', 'utf8').match(/Cpus_allowed_list:\s*(\S+)/)?.[1] ?? '0';
    const missingCpu = String(Math.max(...cpus.split(/[,-]/).map(Number)) + 1);
    const nodes: CgroupNode[] = [
      { path: `/${tag}/reject/`, alias: 'ok-parent', admin: false, cgroups: { pids: { max: '10' } } },
      { path: `/${tag}/reject/child/`, alias: 'bad-child', admin: false, cgroups: { cpuset: { cpus: missingCpu } } },
    ];
    assert.throws(
      () => applyFor(nodes),
      (error: unknown) =>
        error instanceof RedpakError &&
        error.code === 'launch' &&
        new RegExp(`node bad-child: cannot write "${missingCpu}" to \\S+/cpuset\\.cpus`).test(error.message),
    );
    for (const root of touchedRoots)
      assert.deepEqual(
        readdirSync(root).filter((name) => name.startsWith(tag)),
        [],
        `nothing left in ${root}`,
      );
  });
});
