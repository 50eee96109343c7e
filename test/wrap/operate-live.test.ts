/**
 * `redwrap ps` and `redwrap stop` against real sandboxes: launches of the built redwrap (fast
 * launcher and full CLI) running busybox, hostile processes inside a sandbox that pose as another
 * node's sandbox, leftover background children, and the node cgroups. Needs root, bwrap, busybox
 * and python3 (the argv forger); skipped otherwise.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { HOST_USR_EXPORTS, makeNode, tempDir } from '../helpers/family.js';
import { PACKAGE_ROOT, runBin } from '../helpers/cli.js';
import { runAs, throwawayUser, WITHOUT_THROWAWAY_USER } from '../helpers/users.js';
import { forgetCachedPlans, redwrap, WITHOUT_FAST_LAUNCHER, type RedwrapRun } from '../helpers/redwrap.js';
import type { RunningSandbox } from '../../src/wrap/running.js';

const BUSYBOX = '/usr/bin/busybox';
const PYTHON = '/usr/bin/python3';
const skipLive =
  process.getuid?.() === 0 &&
  existsSync(BUSYBOX) &&
  existsSync(PYTHON) &&
  spawnSync('bwrap', ['--version'], { stdio: 'ignore' }).status === 0
    ? false
    : 'needs root, bwrap, /usr/bin/busybox and /usr/bin/python3';
const PIDS = '/sys/fs/cgroup/pids';
const noPids = existsSync(join(PIDS, 'cgroup.procs')) ? false : `no cgroup v1 pids hierarchy at ${PIDS}`;

const EXPORTS = `exports:
${HOST_USR_EXPORTS}  - {mode: Procfs, mount: /proc}
  - {mode: Devfs, mount: /dev}
  - {mode: Tmpfs, mount: /tmp}
`;
const conf = (alias: string, ...sections: string[]) => `headers:\n  alias: ${alias}\n${sections.join('')}`;

/**
 * Rewrites its own command line (through /proc/self/mem, as setproctitle does) into a bwrap
 * command line marked for the node given, then sleeps: what a sandboxed program can forge.
 */
const FORGER = `import sys, time
stat = open('/proc/self/stat').read()
fields = stat[stat.rindex(')') + 2:].split()
start, end = int(fields[45]), int(fields[46])
forged = b'\\0'.join([b'/usr/bin/bwrap', b'--setenv', b'REDWRAP_NODE', sys.argv[1].encode(), b'--unsetenv', b'REDWRAP_NODE', b'--', b'forged']) + b'\\0'
assert len(forged) <= end - start, 'pad the arguments'
with open('/proc/self/mem', 'r+b') as mem:
    mem.seek(start)
    mem.write(forged.ljust(end - start, b'\\0'))
time.sleep(60)
`;

/** What `redwrap ps --json` prints for each sandbox. */
type PsSandbox = RunningSandbox;

function ps(...args: string[]): PsSandbox[] {
  const run = runBin('redwrap', ['ps', '--json', ...args]);
  assert.equal(run.status, 0, run.stderr);
  return run.json.sandboxes;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `redwrap ps` until `done` holds (10 s at most). */
async function psUntil(done: (sandboxes: PsSandbox[]) => boolean, ...args: string[]): Promise<PsSandbox[]> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const sandboxes = ps(...args);
    if (done(sandboxes) || Date.now() > deadline) return sandboxes;
    await sleep(100);
  }
}

const cmdline = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
/** Running (a zombie has ended: this machine's pid 1 may be slow to reap orphans). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Starts `busybox sh -c SCRIPT` in the node, in the background; the run resolves when it ends. */
function launch(node: string, script: string, env: Record<string, string> = {}): Promise<RedwrapRun> {
  return redwrap(['--redpath', node, '--', BUSYBOX, 'sh', '-c', script], { env, timeoutMs: 60_000 });
}

/** Stops whatever a failed test left running in `node`. */
function stopAfter(t: TestContext, ...nodes: string[]): void {
  t.after(() => {
    for (const node of nodes) runBin('redwrap', ['stop', '--redpath', node, '--timeout', '1']);
  });
}

describe('redwrap ps / stop (live)', { skip: skipLive }, () => {
  it('ps lists the sandboxes of both launch paths from the kernel, with their cgroup; stop ends them and the cgroups', {
    skip: noPids || WITHOUT_FAST_LAUNCHER,
  }, async (t) => {
    const dir = tempDir(t, 'redpak-operate-');
    const node = makeNode(dir, join(dir, 'app'), 'APP', conf('APP', EXPORTS));
    // Launches with cgroups are not cached: this node runs through the full CLI only.
    const limited = makeNode(
      dir,
      join(dir, 'limited'),
      'LIMITED',
      conf('LIMITED', EXPORTS, 'config:\n  cgroups:\n    pids:\n      max: 50\n    mem:\n      max: 64M\n'),
    );
    forgetCachedPlans(t, node);
    stopAfter(t, node, limited);
    // A first run caches the plan; then one launch through the full CLI, one through the fast launcher.
    assert.equal((await launch(node, 'true')).status, 0);
    const full = launch(node, 'busybox sleep 60 & busybox sleep 61', { REDWRAP_NO_CACHE: '1' });
    await psUntil((s) => s.length === 1, '--redpath', node);
    const fast = launch(node, 'busybox sleep 62');
    const withCgroups = launch(limited, 'busybox sleep 63');
    const sandboxes = await psUntil(
      (s) => s.length === 2 && s.every((x) => x.processes.length >= 3),
      '--redpath',
      node,
    );
    assert.equal(sandboxes.length, 2, JSON.stringify(sandboxes));
    // The fast launcher execs bwrap (its parent is this test); the full CLI spawns it.
    const parents = sandboxes.map((s) => parentOf(s.pid));
    assert.equal(parents.filter((pid) => pid === process.pid).length, 1, 'one sandbox of the fast launcher');
    assert.equal(
      parents.filter((pid) => cmdline(pid).some((arg) => arg.endsWith('start.cjs'))).length,
      1,
      'one of the full CLI',
    );
    for (const s of sandboxes) {
      assert.equal(s.node, node);
      assert.equal(s.alias, 'APP');
      assert.equal(s.admin, false);
      assert.equal(s.user, 'root');
      assert.equal(s.uid, 0);
      assert.equal(s.leftover, false);
      assert.equal(s.cgroup, null, 'no cgroups asked for');
      assert.ok(Math.abs(Date.parse(s.started) - Date.now()) < 60_000, s.started);
      assert.ok(s.processes.every(alive));
    }
    const first = sandboxes.find((s) => s.command.includes('busybox sleep 60 & busybox sleep 61'));
    assert.deepEqual(first?.command, [BUSYBOX, 'sh', '-c', 'busybox sleep 60 & busybox sleep 61']);
    // The background child is the sandbox's too.
    assert.ok(first?.processes.some((pid) => cmdline(pid).join(' ') === 'busybox sleep 60'));

    const [inCgroup] = await psUntil((s) => s.length === 1 && s[0].processes.length >= 3, '--redpath', limited);
    const cgroupDir = join(PIDS, limited.replaceAll('/', '-'));
    assert.equal(inCgroup?.cgroup?.path, cgroupDir, JSON.stringify(inCgroup));
    assert.ok((inCgroup.cgroup?.pids ?? 0) >= 1, `its processes are counted: ${inCgroup.cgroup?.pids}`);
    assert.ok((inCgroup.cgroup?.memoryBytes ?? 0) > 0, 'memory usage read from the memory cgroup');
    assert.match(runBin('redwrap', ['ps']).stdout, /LIMITED .* \/usr\/bin\/busybox sh -c "busybox sleep 63"/);

    const stopped = runBin('redwrap', ['stop', '--redpath', node, '--json']);
    assert.equal(stopped.status, 0, stopped.stdout + stopped.stderr);
    assert.equal(stopped.json.sandboxes.length, 2);
    assert.deepEqual(stopped.json.remaining, []);
    const all = sandboxes.flatMap((s) => s.processes);
    assert.deepEqual(all.filter(alive), [], 'every process ended');
    assert.deepEqual([...stopped.json.terminated].sort(), [...all].sort(), 'all ended on SIGTERM');
    const [fullRun, fastRun] = await Promise.all([full, fast]);
    assert.equal(fullRun.status, 143, fullRun.stderr);
    assert.equal(fastRun.status, 143, fastRun.stderr);
    assert.deepEqual(ps('--redpath', node), []);
    assert.ok(inCgroup.processes.every(alive), "another node's sandbox is untouched");

    assert.equal(runBin('redwrap', ['stop', String(inCgroup.pid)]).status, 0);
    assert.equal((await withCgroups).status, 143);
    assert.equal(existsSync(cgroupDir), false, 'the node cgroup is removed');
    const again = runBin('redwrap', ['stop', '--redpath', node]);
    assert.equal(again.status, 11, 'nothing was running');
    assert.match(again.stdout, /nothing running/);
  });

  it("a sandboxed process posing as another node's sandbox is attributed to its own", async (t) => {
    const dir = tempDir(t, 'redpak-operate-');
    const forger = join(dir, 'forge.py');
    writeFileSync(forger, FORGER);
    const fileExport = `  - {mode: RestrictedFile, mount: /forge.py, path: ${forger}}\n`;
    const a = makeNode(dir, join(dir, 'a'), 'A', conf('A', EXPORTS, fileExport));
    const b = makeNode(dir, join(dir, 'b'), 'B', conf('B', EXPORTS));
    stopAfter(t, a);
    // Two forgeries: the real bwrap run inside the sandbox with B's mark (its exe is the host's
    // bwrap), and a program that rewrites its own command line into B's mark.
    const nested = `/usr/bin/bwrap --setenv REDWRAP_NODE ${b} --unsetenv REDWRAP_NODE --unshare-user --ro-bind /usr /usr --symlink usr/lib /lib --symlink usr/lib64 /lib64 --symlink usr/bin /bin --dev /dev -- ${BUSYBOX} sleep 60`;
    const running = launch(a, `${nested} & ${PYTHON} /forge.py ${b} ${'x'.repeat(120)} & busybox sleep 60`);
    const [sandbox] = await psUntil((s) => s.length === 1 && s[0].processes.length >= 6, '--redpath', a);
    assert.ok(sandbox, 'the sandbox of A is listed');
    const forged = sandbox.processes.filter((pid) => cmdline(pid).includes(b));
    assert.equal(
      forged.length,
      2,
      `both forgeries run, with B's mark: ${sandbox.processes.map((p) => cmdline(p).join(' '))}`,
    );
    assert.ok(
      forged.some((pid) => readlinkSync(`/proc/${pid}/exe`) === '/usr/bin/bwrap'),
      'one of them is the real bwrap',
    );
    assert.deepEqual(ps('--redpath', b), [], 'no sandbox is attributed to B');
    assert.deepEqual(
      ps()
        .filter((s) => s.node === a || s.node === b)
        .map((s) => s.node),
      [a],
    );
    const stopB = runBin('redwrap', ['stop', '--redpath', b]);
    assert.equal(stopB.status, 11, 'stopping B signals nothing');
    assert.ok(forged.every(alive), "A's processes are untouched");
    const stopped = runBin('redwrap', ['stop', String(forged[0]), '--json']);
    assert.equal(stopped.status, 0, stopped.stdout);
    assert.deepEqual(
      stopped.json.sandboxes.map((s: PsSandbox) => s.node),
      [a],
      'a PID inside stops its sandbox: A',
    );
    assert.equal((await running).status, 143);
  });

  it("another user neither sees nor stops root's sandbox", { skip: WITHOUT_THROWAWAY_USER ?? false }, async (t) => {
    const dir = tempDir(t, 'redpak-operate-');
    const node = makeNode(dir, join(dir, 'app'), 'APP', conf('APP', EXPORTS));
    stopAfter(t, node);
    const user = throwawayUser(t);
    const running = launch(node, 'busybox sleep 60');
    const [sandbox] = await psUntil((s) => s.length === 1 && s[0].processes.length >= 3, '--redpath', node);
    const redwrapBin = join(PACKAGE_ROOT, 'bin/redwrap');
    const seen = runAs(user, [redwrapBin, 'ps', '--json']);
    assert.equal(seen.status, 0, seen.stderr);
    assert.deepEqual(
      JSON.parse(seen.stdout).sandboxes.filter((s: PsSandbox) => s.node === node),
      [],
      "root's bwrap is not the user's to inspect",
    );
    for (const args of [
      ['stop', '--redpath', node],
      ['stop', String(sandbox.processes.at(-1))],
    ]) {
      const stop = runAs(user, [redwrapBin, ...args]);
      assert.equal(stop.status, 11, stop.stdout + stop.stderr);
    }
    assert.deepEqual(
      sandbox.processes.filter((pid) => !alive(pid)),
      [],
      'the sandbox runs on',
    );
    assert.equal(runBin('redwrap', ['stop', '--redpath', node]).status, 0);
    assert.equal((await running).status, 143);
  });

  it('ps and stop are operations only as the first word: after the options they are the program', async (t) => {
    const dir = tempDir(t, 'redpak-operate-');
    const node = makeNode(dir, join(dir, 'app'), 'APP', conf('APP', EXPORTS));
    const program = await redwrap(['--redpath', node, 'ps', '-o', 'comm']);
    if (existsSync('/usr/bin/ps')) {
      assert.equal(program.status, 0, program.stderr);
      assert.equal(program.stdout, 'COMMAND\nbwrap\nps\n', "procps' ps, in the sandbox's pid namespace");
    } else assert.match(program.stderr, /execvp ps: No such file or directory/);
    const stop = await redwrap(['--redpath', node, '--', 'stop']);
    assert.match(stop.stderr, /execvp stop: No such file or directory/);
  });

  it('leftovers: a background child that outlives the program is listed and ended; SIGKILL after the timeout', async (t) => {
    const dir = tempDir(t, 'redpak-operate-');
    // A shared pid namespace: the double-forked child leaves bwrap's process tree (it is found by
    // its mount namespace); it ignores SIGTERM, so stop has to kill it.
    const node = makeNode(
      dir,
      join(dir, 'shared'),
      'SHARED',
      conf('SHARED', EXPORTS, 'config:\n  share_pid: enabled\n'),
    );
    stopAfter(t, node);
    const running = launch(node, "(trap '' TERM; busybox sleep 60 & ) ; busybox sleep 60");
    const [sandbox] = await psUntil((s) => s.length === 1 && s[0].processes.length >= 3, '--redpath', node);
    const escaped = sandbox.processes.find((pid) => !isDescendant(pid, sandbox.pid));
    assert.ok(escaped, `a listed process is outside bwrap's tree: ${sandbox.processes}`);
    const stopped = runBin('redwrap', ['stop', '--redpath', node, '--timeout', '1', '--json']);
    assert.equal(stopped.status, 0, stopped.stdout);
    assert.ok(
      stopped.json.killed.includes(escaped),
      `the child ignoring SIGTERM was killed: ${JSON.stringify(stopped.json)}`,
    );
    assert.equal(alive(escaped), false);
    assert.equal((await running).status, 143);
  });

  it('leftovers in a pid namespace: found in the node cgroup after the program ended; die-with-parent still ends them', {
    skip: noPids,
  }, async (t) => {
    const dir = tempDir(t, 'redpak-operate-');
    const node = makeNode(
      dir,
      join(dir, 'bg'),
      'BG',
      conf('BG', EXPORTS, 'config:\n  cgroups:\n    pids:\n      max: 20\n    mem:\n      max: 64M\n'),
    );
    const dying = makeNode(
      dir,
      join(dir, 'dying'),
      'DYING',
      conf('DYING', EXPORTS, 'config:\n  die-with-parent: Enabled\n'),
    );
    stopAfter(t, node, dying);
    // The program exits at once: redwrap returns its status, bwrap's pid 1 stays with the child
    // (which holds redwrap's output pipe: the run resolves when it ends).
    const running = launch(node, 'busybox sleep 60 & exit 0');
    const [sandbox] = await psUntil((s) => s.length === 1 && s[0].leftover, '--redpath', node);
    assert.equal(sandbox?.leftover, true, JSON.stringify(sandbox));
    assert.equal(sandbox.processes.length, 2, "bwrap's pid 1 and the leftover child");
    assert.ok(sandbox.processes.some((pid) => cmdline(pid).join(' ') === 'busybox sleep 60'));
    assert.equal(sandbox.cgroup?.path, join(PIDS, node.replaceAll('/', '-')));
    const stopped = runBin('redwrap', ['stop', '--redpath', node, '--json']);
    assert.equal(stopped.status, 0, stopped.stdout);
    assert.deepEqual(sandbox.processes.filter(alive), []);
    // The node's cgroups are gone in every v1 hierarchy the launch used (removed by the launch
    // once its leftovers ended, or by stop).
    const name = node.replaceAll('/', '-');
    const left = spawnSync('find', ['/sys/fs/cgroup/pids', '/sys/fs/cgroup/memory', '-maxdepth', '4', '-name', name], {
      encoding: 'utf8',
    }).stdout;
    assert.equal(left, '', JSON.stringify(stopped.json.cgroups));
    assert.equal((await running).status, 0, "the program's own status");

    const launched = launch(dying, 'busybox sleep 60');
    const [d] = await psUntil((s) => s.length === 1 && s[0].processes.length >= 3, '--redpath', dying);
    process.kill(d.pid, 'SIGKILL'); // bwrap itself: --die-with-parent ends the sandbox
    await launched;
    await psUntil((s) => s.length === 0, '--redpath', dying);
    assert.deepEqual(d.processes.filter(alive), []);
  });
});

function parentOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

function isDescendant(pid: number, ancestor: number): boolean {
  for (let p = pid; p > 1; p = parentOf(p)) if (p === ancestor) return true;
  return false;
}
