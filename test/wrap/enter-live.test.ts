/**
 * `redwrap enter` against real sandboxes (real bwrap, real cgroups, a real throwaway user): the
 * entered command is in the target's namespaces and root, has the environment of the node's plan
 * (not one the sandbox planted), at most the sandbox's capabilities, the node's seccomp filters
 * and cgroups; and the refusals. Needs root, bwrap and busybox; skipped otherwise.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { HOST_USR_EXPORTS, makeNode, tempDir } from '../helpers/family.js';
import { PACKAGE_ROOT, runBin } from '../helpers/cli.js';
import { redwrap, type RedwrapRun } from '../helpers/redwrap.js';
import { runAs, runAsAsync, throwawayUser, WITHOUT_THROWAWAY_USER } from '../helpers/users.js';
import type { RunningSandbox } from '../../src/wrap/running.js';
import type { EnterResult } from '../../src/wrap/enter.js';

const BUSYBOX = '/usr/bin/busybox';
const skipLive =
  process.getuid?.() === 0 &&
  existsSync(BUSYBOX) &&
  existsSync(join(PACKAGE_ROOT, 'dist/bin/redwrap-enter')) &&
  spawnSync('bwrap', ['--version'], { stdio: 'ignore' }).status === 0
    ? false
    : 'needs root, bwrap, /usr/bin/busybox and the built dist/bin/redwrap-enter (a C compiler)';
const PIDS = '/sys/fs/cgroup/pids';
const noPids = existsSync(join(PIDS, 'cgroup.procs')) ? false : `no cgroup v1 pids hierarchy at ${PIDS}`;

const EXPORTS = `exports:
${HOST_USR_EXPORTS}  - {mode: Procfs, mount: /proc}
  - {mode: Devfs, mount: /dev}
  - {mode: Tmpfs, mount: /tmp}
`;
const conf = (alias: string, ...sections: string[]) => `headers:\n  alias: ${alias}\n${sections.join('')}`;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function ps(...args: string[]): RunningSandbox[] {
  const run = runBin('redwrap', ['ps', '--json', ...args]);
  assert.equal(run.status, 0, run.stderr);
  return run.json.sandboxes;
}

/** Polls `redwrap ps` until the node has `count` sandboxes with at least `processes` processes each (10 s at most). */
async function running(node: string, count = 1, processes = 3): Promise<RunningSandbox[]> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const sandboxes = ps('--redpath', node);
    if (sandboxes.length === count && sandboxes.every((s) => s.processes.length >= processes)) return sandboxes;
    if (Date.now() > deadline) assert.fail(`no ${count} sandbox(es) of ${node}: ${JSON.stringify(sandboxes)}`);
    await sleep(100);
  }
}

function enter(args: string[]): {
  status: number;
  json: EnterResult & { error?: { message: string } };
  stderr: string;
} {
  const run = runBin('redwrap', ['enter', '--json', ...args]);
  return { status: run.status, json: run.json, stderr: run.stderr };
}

/** Starts `busybox sh -c SCRIPT` in the node, in the background. */
function launch(node: string, script: string): Promise<RedwrapRun> {
  return redwrap(['--redpath', node, '--', BUSYBOX, 'sh', '-c', script], { timeoutMs: 60_000 });
}

function stopAfter(t: TestContext, ...nodes: string[]): void {
  t.after(() => {
    for (const node of nodes) runBin('redwrap', ['stop', '--redpath', node, '--timeout', '1']);
  });
}

const statusField = (status: string, name: string) => new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(status)?.[1] ?? '';
const firstChild = (pid: number) =>
  Number(readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(' ')[0]);

describe('redwrap enter (live)', { skip: skipLive }, () => {
  it("runs in the target's namespaces and root, with the plan's environment, capabilities, seccomp filters and cgroups", {
    skip: noPids,
  }, async (t) => {
    const dir = tempDir(t, 'redpak-enter-');
    const node = makeNode(
      dir,
      join(dir, 'app'),
      'APP',
      conf(
        'APP',
        EXPORTS,
        `environ:
  - {key: GREETING, value: from the plan, mode: Static}
  - {key: PATH, value: /usr/bin:/bin, mode: Static}
config:
  chdir: /tmp
  capabilities:
    - {cap: ALL, add: 0}
    - {cap: cap_net_raw, add: 1}
  cgroups:
    pids:
      max: 40
seccomp:
  rules:
    - syscall: [mkdir, mkdirat]
      action: errno
`,
      ),
    );
    stopAfter(t, node);
    // The program plants a hostile environment and execs itself with it: enter must not take it.
    const launched = launch(node, 'export GREETING=planted HOSTILE=1; exec busybox sleep 60');
    const [sandbox] = await running(node, 1, 3);
    const target = firstChild(sandbox.pid);
    const program = sandbox.processes.find((pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('busybox'));
    assert.ok(program, `the program runs: ${sandbox.processes}`);
    assert.match(readFileSync(`/proc/${program}/environ`, 'utf8'), /HOSTILE=1/, 'the planted variable is there');

    const script = [
      'echo @@status; cat /proc/self/status',
      'echo @@ns; readlink /proc/self/ns/mnt /proc/self/ns/pid /proc/self/ns/user /proc/self/ns/ipc /proc/self/ns/uts',
      'echo @@root; ls /',
      'echo @@id; id -u; id -g',
      'echo @@env; env | sort',
      'echo @@pwd; pwd',
      'echo @@mkdir; mkdir /tmp/x; echo "mkdir=$?"',
      'echo @@cgroup; cat /proc/self/cgroup',
      'echo @@pid1; cat /proc/1/cmdline | tr "\\0" " "; echo',
    ].join('\n');
    const entered = enter(['--redpath', node, '--', BUSYBOX, 'sh', '-c', script]);
    assert.equal(entered.status, 0, JSON.stringify(entered.json) + entered.stderr);
    const out = entered.json.stdout ?? '';
    const section = (name: string) => (out.split(`@@${name}\n`)[1] ?? '').split('\n@@')[0];
    assert.equal(entered.json.node, node);
    assert.equal(entered.json.sandbox, sandbox.pid);
    assert.equal(entered.json.pid, target);
    assert.equal(entered.json.exitStatus, 0);

    // Namespaces: the target's (bwrap's child), read from the host.
    const ns = section('ns').trim().split('\n');
    assert.deepEqual(
      ns,
      ['mnt', 'pid', 'user', 'ipc', 'uts'].map((kind) => readlinkSync(`/proc/${target}/ns/${kind}`)),
    );
    assert.notEqual(ns[0], readlinkSync('/proc/self/ns/mnt'));
    // Its pid namespace: pid 1 is bwrap's init there (a fork of the marked bwrap).
    assert.match(section('pid1'), /bwrap --setenv REDWRAP_NODE /);
    // The node's root: only what the exports mount.
    assert.deepEqual(section('root').trim().split('\n').sort(), ['bin', 'dev', 'lib', 'lib64', 'proc', 'tmp', 'usr']);
    assert.equal(section('id'), '0\n0');
    assert.equal(section('pwd').trim(), '/tmp', "the plan's chdir");
    // The plan's environment, not the one the program planted.
    const env = section('env');
    assert.match(env, /^GREETING=from the plan$/m);
    assert.doesNotMatch(env, /HOSTILE/);
    // Capabilities: the plan's (net_raw, bit 13), as the program has, and never above the target's bounding set.
    const status = section('status');
    assert.equal(statusField(status, 'CapEff'), '0000000000002000');
    const programStatus = readFileSync(`/proc/${program}/status`, 'utf8');
    assert.equal(statusField(status, 'CapEff'), statusField(programStatus, 'CapEff'));
    const bounding = BigInt(`0x${statusField(readFileSync(`/proc/${target}/status`, 'utf8'), 'CapBnd')}`);
    assert.equal(BigInt(`0x${statusField(status, 'CapBnd')}`) & ~bounding, 0n);
    assert.equal(statusField(status, 'NoNewPrivs'), '1');
    // Seccomp: the node's filter applies to the entered command.
    assert.equal(statusField(status, 'Seccomp'), '2');
    assert.match(section('mkdir'), /mkdir=1/);
    // Cgroups: in the sandbox's cgroup namespace, at its root (the node's leaf) …
    assert.match(section('cgroup'), /^\d+:pids:\/$/m);
    // … and, seen from the host, in the node's pids cgroup, as the program.
    const cgroupDir = sandbox.cgroup?.path;
    assert.equal(cgroupDir, join(PIDS, node.replaceAll('/', '-')), JSON.stringify(sandbox));
    const inCgroup = redwrap(['enter', String(sandbox.pid), '--', BUSYBOX, 'sleep', '4']);
    let entered4: number | undefined;
    for (const deadline = Date.now() + 3000; entered4 === undefined && Date.now() < deadline; await sleep(50)) {
      entered4 = readFileSync(join(cgroupDir, 'cgroup.procs'), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map(Number)
        .find((pid) => {
          try {
            return readFileSync(`/proc/${pid}/cmdline`, 'utf8') === `${BUSYBOX}\0sleep\x004\0`;
          } catch {
            return false;
          }
        });
    }
    assert.ok(entered4, `the entered command is in ${cgroupDir}`);
    assert.equal((await inCgroup).status, 0);

    // The command's exit status is enter's; a PID of the sandbox names it too.
    const failed = runBin('redwrap', ['enter', String(program), '--', BUSYBOX, 'sh', '-c', 'echo out; exit 7']);
    assert.equal(failed.status, 7, failed.stderr);
    assert.equal(failed.stdout, 'out\n', 'without --json the output passes through');

    runBin('redwrap', ['stop', '--redpath', node]);
    assert.equal((await launched).status, 143);
  });

  it('refuses: no sandbox running, a PID in no sandbox, several sandboxes of the node', async (t) => {
    const dir = tempDir(t, 'redpak-enter-');
    const node = makeNode(dir, join(dir, 'app'), 'APP', conf('APP', EXPORTS));
    stopAfter(t, node);
    const none = enter(['--redpath', node, '--', 'true']);
    assert.equal(none.status, 11, JSON.stringify(none.json));
    assert.match(none.json.error?.message ?? '', /no sandbox of .*app is running/);

    // A process of the host, not of a sandbox (this test itself), named by its PID.
    const host = enter([String(process.pid), '--', 'true']);
    assert.equal(host.status, 11);
    assert.match(host.json.error?.message ?? '', new RegExp(`process ${process.pid} is in no sandbox`));

    const first = launch(node, 'busybox sleep 60');
    const second = launch(node, 'busybox sleep 61');
    const sandboxes = await running(node, 2, 3);
    const several = enter(['--redpath', node, '--', 'true']);
    assert.equal(several.status, 13, JSON.stringify(several.json));
    for (const s of sandboxes) assert.match(several.json.error?.message ?? '', new RegExp(`\\b${s.pid}\\b`));
    // Named by PID, either one is entered.
    const chosen = enter([String(sandboxes[1].pid), '--', BUSYBOX, 'true']);
    assert.equal(chosen.status, 0, JSON.stringify(chosen.json));
    assert.equal(chosen.json.sandbox, sandboxes[1].pid);

    // Another user can neither see nor enter root's sandbox, by node or by PID.
    if (!WITHOUT_THROWAWAY_USER) {
      const other = throwawayUser(t);
      const redwrapBin = join(PACKAGE_ROOT, 'bin/redwrap');
      for (const target of [['--redpath', node], [String(sandboxes[0].processes.at(-1))]]) {
        const refused = runAs(other, [redwrapBin, 'enter', ...target, '--', BUSYBOX, 'true']);
        assert.equal(refused.status, 11, refused.stdout + refused.stderr);
      }
    }

    const usage = runBin('redwrap', ['enter', '--redpath', node, 'true']);
    assert.equal(usage.status, 2, 'the command comes after --');
    runBin('redwrap', ['stop', '--redpath', node]);
    await Promise.all([first, second]);
  });

  it("signals reach the entered command, whose status is enter's", async (t) => {
    const dir = tempDir(t, 'redpak-enter-');
    const node = makeNode(dir, join(dir, 'app'), 'APP', conf('APP', EXPORTS));
    stopAfter(t, node);
    const launched = launch(node, 'busybox sleep 60');
    await running(node, 1, 3);
    const child = spawn(join(PACKAGE_ROOT, 'bin/redwrap'), ['enter', '--redpath', node, '--', BUSYBOX, 'sleep', '31'], {
      stdio: 'ignore',
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const isEntered = (pid: string) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8') === `${BUSYBOX}\0sleep\x0031\0`;
      } catch {
        return false;
      }
    };
    let entered: string | undefined;
    for (const deadline = Date.now() + 10_000; !entered && Date.now() < deadline; await sleep(50))
      entered = spawnSync('pgrep', ['-f', `${BUSYBOX} sleep 31`], { encoding: 'utf8' })
        .stdout.split('\n')
        .find(isEntered);
    assert.ok(entered, 'the entered command runs');
    child.kill('SIGTERM');
    assert.equal(await exited, 143, 'SIGTERM was forwarded to the command: 128+15');
    runBin('redwrap', ['stop', '--redpath', node]);
    await launched;
  });

  it('a user enters their own rootless sandbox', { skip: WITHOUT_THROWAWAY_USER ?? false }, async (t) => {
    const user = throwawayUser(t);
    const dir = join(user.home, 'r');
    const redwrapBin = join(PACKAGE_ROOT, 'bin/redwrap');
    const made = runAs(user, [join(PACKAGE_ROOT, 'bin/redmanager'), 'create-node', '--redpath', join(dir, 'app')]);
    assert.equal(made.status, 0, made.stderr);
    const node = join(dir, 'app');
    chmodSync(user.home, 0o755);
    const launched = runAsAsync(user, [redwrapBin, '--redpath', node, '--', 'sleep', '60'], { timeout: 60_000 });
    t.after(() => runAs(user, [redwrapBin, 'stop', '--redpath', node, '--timeout', '1']));
    const deadline = Date.now() + 10_000;
    let sandboxes: RunningSandbox[] = [];
    while (Date.now() < deadline) {
      const seen = runAs(user, [redwrapBin, 'ps', '--json', '--redpath', node]);
      sandboxes = seen.status === 0 ? JSON.parse(seen.stdout).sandboxes : [];
      if (sandboxes.length === 1 && sandboxes[0].processes.length >= 3) break;
      await sleep(100);
    }
    assert.equal(sandboxes.length, 1, 'the user sees their sandbox');
    const target = firstChild(sandboxes[0].pid);
    const entered = runAs(user, [
      redwrapBin,
      'enter',
      '--redpath',
      node,
      '--json',
      '--',
      'sh',
      '-c',
      'id -u; readlink /proc/self/ns/mnt /proc/self/ns/user; grep CapEff /proc/self/status',
    ]);
    assert.equal(entered.status, 0, entered.stdout + entered.stderr);
    const result = JSON.parse(entered.stdout) as EnterResult;
    const lines = (result.stdout ?? '').trim().split('\n');
    assert.equal(lines[0], String(user.uid));
    assert.equal(lines[1], readlinkSync(`/proc/${target}/ns/mnt`));
    assert.equal(lines[2], readlinkSync(`/proc/${target}/ns/user`));
    assert.match(lines[3] ?? '', /CapEff:\s+0000000000000000/, 'a user in their sandbox has no capabilities');
    // Root enters it too, as the user, without root's groups.
    const byRoot = runBin('redwrap', [
      'enter',
      '--json',
      '--redpath',
      node,
      '--',
      'sh',
      '-c',
      'id -u; id -G; grep CapEff /proc/self/status',
    ]);
    assert.equal(byRoot.status, 0, byRoot.stdout + byRoot.stderr);
    const rootLines = (byRoot.json.stdout as string).trim().split('\n');
    assert.equal(rootLines[0], String(user.uid));
    assert.ok(!rootLines[1]?.split(' ').includes('0'), `no group root: ${rootLines[1]}`);
    assert.match(rootLines[2] ?? '', /CapEff:\s+0000000000000000/);
    runAs(user, [redwrapBin, 'stop', '--redpath', node]);
    await launched;
  });
});
