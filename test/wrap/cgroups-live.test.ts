/**
 * Live cgroup tests: real limits on real processes. They use whatever resolveCgroupOptions picks
 * for this host, which on the project's hybrid CI machine is cgroup v1 (its v2 hierarchy has no
 * controllers); on a pure v2 host the same tests exercise v2. Every cgroup they create is named
 * after this test process and removed afterwards, even when a test fails.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { chmodSync } from 'node:fs';
import { dirname } from 'node:path';
import { after, describe, test, type TestContext } from 'node:test';
import { checkTree } from '../../src/audit/check.js';
import { explain } from '../../src/audit/explain.js';
import { RedpakError } from '../../src/errors.js';
import { nodeCgroupDirs, planCgroups, requestedControllers, type CgroupNode } from '../../src/wrap/cgroups.js';
import { HOST_USR_EXPORTS, makeNode, tempDir } from '../helpers/family.js';
import { BASE_ENV, REDWRAP_BIN, redwrap } from '../helpers/redwrap.js';
import { runAsAsync, throwawayUser, WITHOUT_THROWAWAY_USER } from '../helpers/users.js';
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
  const resolved = resolveCgroupOptions(layout, requestedControllers(nodes));
  if (!('options' in resolved)) throw new Error(resolved.refused.join('; '));
  const { options } = resolved;
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

/** A node whose program counts how many processes of its own it can have at once (itself included). */
const COUNT_PROCESSES = [
  '/usr/bin/python3',
  '-c',
  [
    'import os, time',
    'kids = []',
    'for _ in range(40):',
    '    try: pid = os.fork()',
    '    except OSError: break',
    '    if pid == 0: time.sleep(1); os._exit(0)',
    '    kids.append(pid)',
    'print("processes", len(kids) + 1, flush=True)',
    'for pid in kids: os.waitpid(pid, 0)',
  ].join('\n'),
];

function limitedNode(t: TestContext, cgroups: string, config = ''): string {
  const dir = tempDir(t, 'redpak-cglive-');
  return makeNode(
    dir,
    join(dir, `node-${process.pid}`),
    'limited',
    `headers:\n  alias: limited\nconfig:\n${config}  cgroups:\n${cgroups}exports:\n${HOST_USR_EXPORTS}  - {mode: Procfs, mount: /proc}\n  - {mode: Devfs, mount: /dev}\n  - {mode: Tmpfs, mount: /tmp}\n`,
  );
}

/** The node's cgroup directories, as `redwrap ps`/`stop` find them: none must be left after a launch. */
function leftovers(node: string): string[] {
  const nodes: CgroupNode[] = [{ path: node, alias: 'limited', admin: false }];
  const resolved = resolveCgroupOptions(layout, ['pids']);
  if (!('options' in resolved)) return [];
  return nodeCgroupDirs(nodes, resolved.options).filter((dir) => existsSync(dir));
}

describe('redwrap with cgroup limits, live', {
  skip: !canLimit && 'needs root, bwrap and a pids+memory cgroup hierarchy',
}, () => {
  for (const [share, config] of [
    ['a pid namespace (bwrap runs an init)', '  share_pid: disabled\n'],
    ['the host pid namespace', '  share_pid: enabled\n'],
  ] as const) {
    test(`pids.max N allows exactly N processes of the program, with ${share}`, async (t) => {
      for (const max of [2, 5]) {
        const node = limitedNode(t, `    pids:\n      max: ${max}\n`, config);
        const result = await redwrap(['--redpath', node, '--', ...COUNT_PROCESSES]);
        assert.equal(result.status, 0, result.stderr);
        assert.match(result.stdout, new RegExp(`^processes ${max}$`, 'm'), `pids.max ${max}: ${result.stdout}`);
        assert.deepEqual(leftovers(node), [], 'no cgroup left once the launch is over');
      }
    });
  }

  test('background children in a pid namespace: redwrap waits for them, then the cgroups are removed', async (t) => {
    const node = limitedNode(t, '    pids:\n      max: 20\n', '  share_pid: disabled\n');
    const result = await redwrap(['--redpath', node, '--', '/bin/sh', '-c', 'sleep 1 & sleep 1 & echo started']);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /started/);
    assert.deepEqual(leftovers(node), [], 'no cgroup left once redwrap has returned');
  });

  test('a signal while redwrap waits for those children ends them, and the cgroups go', async (t) => {
    const node = limitedNode(t, '    pids:\n      max: 20\n', '  share_pid: disabled\n');
    const child = spawn(
      REDWRAP_BIN,
      ['--redpath', node, '--', '/bin/sh', '-c', 'sleep 60 >/dev/null 2>&1 & echo started'],
      {
        env: BASE_ENV,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    await new Promise<void>((resolve) =>
      child.stdout.on('data', (chunk: Buffer) => /started/.test(String(chunk)) && resolve()),
    );
    await new Promise((resolve) => setTimeout(resolve, 500));
    const signalled = Date.now();
    child.kill('SIGTERM');
    await exited;
    assert.ok(Date.now() - signalled < 10_000, 'redwrap ended the sandbox instead of waiting for its children');
    assert.deepEqual(leftovers(node), []);
  });

  test('background children in the host pid namespace: kept while they run, removed by the next launch', async (t) => {
    const node = limitedNode(t, '    pids:\n      max: 20\n', '  share_pid: enabled\n');
    const first = await redwrap(['--redpath', node, '--', '/bin/sh', '-c', 'sleep 2 >/dev/null 2>&1 & echo started']);
    assert.equal(first.status, 0, first.stderr);
    assert.notDeepEqual(leftovers(node), [], 'the orphan still runs in the node cgroup: kept');
    await new Promise((resolve) => setTimeout(resolve, 2500));
    const second = await redwrap(['--redpath', node, '--', '/bin/true']);
    assert.equal(second.status, 0, second.stderr);
    assert.deepEqual(leftovers(node), [], 'emptied meanwhile: removed after the next launch');
  });

  test('keys redpak ignores: the launch runs, with one warning line naming them', async (t) => {
    const node = limitedNode(
      t,
      '    pids:\n      max: 10\n    cpu:\n      weight_nice: 5\n    io:\n      cost_qos: enable=1\n',
    );
    const result = await redwrap(['--redpath', node, '--', '/bin/true']);
    assert.equal(result.status, 0, result.stderr);
    const lines = result.stderr.split('\n').filter((line) => /ignore/.test(line));
    assert.equal(lines.length, 1, result.stderr);
    assert.match(lines[0], /limited cpu\.weight_nice, limited io\.cost_qos/);
  });

  test('the systemd cgrouproot of the old templates on a host without it: refused before launch, by check too', async (t) => {
    const node = limitedNode(
      t,
      '    mem:\n      max: 64M\n',
      '  cgrouproot: /sys/fs/cgroup/user.slice/user-$UID.slice/user@$UID.service\n',
    );
    const missing = join(layout.v1.memory?.mount ?? '/sys/fs/cgroup/memory', 'user.slice/user-0.slice/user@0.service');
    if (existsSync(missing)) return t.skip(`${missing} exists on this host`);
    const result = await redwrap(['--redpath', node, '--', '/bin/sh', '-c', 'echo ran']);
    assert.notEqual(result.status, 0);
    assert.doesNotMatch(result.stdout, /ran/);
    assert.match(result.stderr, /node limited: cgroups\.mem\.max/);
    assert.ok(result.stderr.includes(`${missing} does not exist`), result.stderr);
    assert.doesNotMatch(result.stderr, /memory\/sys\/fs\/cgroup/, 'the mount point is not doubled');
    const checked = await checkTree({ redroot: node, packages: false, files: false, unowned: false });
    const finding = checked.findings.find((f) => f.rule === 'cgroups-host');
    assert.ok(finding?.message.includes(`${missing} does not exist`), JSON.stringify(checked.findings));
    const explained = explain({ redpath: node });
    assert.equal(explained.launchable, false);
    assert.ok(
      explained.errors.some((e) => e.includes(`${missing} does not exist`)),
      explained.errors.join('\n'),
    );
  });
});

describe('redwrap with cgroup limits as an ordinary user', {
  skip: (!canLimit && 'needs root, bwrap and cgroups') || WITHOUT_THROWAWAY_USER,
}, () => {
  test('no delegated cgroup: the launch fails naming the limit and the reason, and runs nothing', async (t) => {
    const user = throwawayUser(t);
    const node = limitedNode(t, '    pids:\n      max: 10\n');
    chmodSync(dirname(node), 0o755);
    const result = await runAsAsync(user, [REDWRAP_BIN, '--redpath', node, '--', '/bin/sh', '-c', 'echo ran'], {
      timeout: 60_000,
    });
    assert.notEqual(result.status, 0);
    assert.doesNotMatch(result.stdout, /ran/);
    assert.match(result.stderr, /node limited: cgroups\.pids\.max/);
    assert.match(result.stderr, /not writable by this user/);
  });
});
