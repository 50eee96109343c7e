/**
 * Live runs of the built redwrap (through test/helpers/redwrap.ts, the one entry point, so that
 * the same tests can run against another launcher): families made with makeNode export what
 * busybox needs, and a shell inside reports what the process sees — mounts and their ro/rw
 * state, environment, hostname, capabilities, namespaces, seccomp, cgroup limits, umask, exit
 * statuses — and bad input is refused before anything runs. In the spirit of redpak's
 * tests/live. Needs root, bwrap and busybox; skipped otherwise.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmdirSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { makeNode, tempDir } from '../helpers/family.js';
import { redwrap, REDWRAP_BIN } from '../helpers/redwrap.js';

const BUSYBOX = '/usr/bin/busybox';
const skipLive =
  process.getuid?.() === 0 && existsSync(BUSYBOX) && spawnSync('bwrap', ['--version'], { stdio: 'ignore' }).status === 0
    ? false
    : 'needs root, bwrap and /usr/bin/busybox';
const PIDS = '/sys/fs/cgroup/pids';
const noPids =
  !existsSync(join(PIDS, 'pids.max')) && !existsSync(join(PIDS, 'cgroup.procs'))
    ? `no cgroup v1 pids hierarchy at ${PIDS}`
    : false;

/** What busybox (dynamically linked) needs, and a private /proc, /dev and /tmp. */
const BUSYBOX_EXPORTS = `exports:
  - mode: Restricted
    mount: /usr
  - mode: Symlink
    mount: /bin
    path: usr/bin
  - mode: Symlink
    mount: /lib
    path: usr/lib
  - mode: Symlink
    mount: /lib64
    path: usr/lib64
  - mode: Procfs
    mount: /proc
  - mode: Devfs
    mount: /dev
  - mode: Tmpfs
    mount: /tmp
`;

/** The v1 pids cgroups named after nodes below `dir` (cgroup names are node paths with / → -). */
function cgroupsOf(dir: string): string[] {
  return readdirSync(PIDS).filter((name) => name.startsWith(dir.replaceAll('/', '-')));
}

/** Removes, after the test, whatever cgroup a failed run left for nodes below `dir`. */
function sweepCgroupsAfter(t: TestContext, dir: string): void {
  const sweep = (path: string) => {
    for (const entry of readdirSync(path, { withFileTypes: true }))
      if (entry.isDirectory()) sweep(join(path, entry.name));
    rmdirSync(path);
  };
  t.after(() => {
    for (const name of cgroupsOf(dir)) sweep(join(PIDS, name));
  });
}

/** A node config: headers, then the given sections (YAML text, top-level keys). */
const conf = (alias: string, ...sections: string[]) => `headers:\n  alias: ${alias}\n${sections.join('')}`;

/** redwrap … -- busybox sh -c SCRIPT */
const sh = (redpath: string, script: string, options: string[] = [], env: Record<string, string> = {}) =>
  redwrap(['--redpath', redpath, ...options, '--', BUSYBOX, 'sh', '-c', script], { env });

/** Splits output printed as `@@name` lines, each followed by that section's text. */
function sections(stdout: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of stdout.split(/^@@/m).slice(1)) {
    const newline = part.indexOf('\n');
    out[part.slice(0, newline)] = part.slice(newline + 1);
  }
  return out;
}

/** /proc/mounts lines → mount point → options. */
function mountOptions(text: string): Map<string, string[]> {
  return new Map(
    text
      .split('\n')
      .filter(Boolean)
      .map((line) => [line.split(' ')[1], line.split(' ')[3].split(',')]),
  );
}

describe('redwrap live', { skip: skipLive, concurrency: 3 }, () => {
  it('a two-node family: mounts, environment, hostname, capabilities, namespaces, umask', async (t) => {
    const dir = tempDir(t, 'redpak-live-');
    const hostPub = join(dir, 'pub');
    const hostRo = join(dir, 'ro');
    const hostMade = join(dir, 'made', 'by', 'redwrap');
    mkdirSync(hostPub);
    mkdirSync(hostRo);
    writeFileSync(join(hostRo, 'file'), 'original\n');
    const root = makeNode(
      dir,
      join(dir, 'root'),
      'ROOT',
      conf(
        'ROOT',
        BUSYBOX_EXPORTS,
        `  - mode: Private
    mount: /root-private
    path: $NODE_PATH/etc
  - mode: Public
    mount: /pub
    path: ${hostPub}
  - mode: Restricted
    mount: /ro
    path: ${hostRo}
  - mode: Public
    mount: /made
    path: ${hostMade}
  - mode: Execfd
    mount: /etc/greeting
    path: echo execfd content
environ:
  - key: GREETING
    value: hi from $NODE_ALIAS to $LEAF_ALIAS
  - key: TO_REMOVE
    value: set by the root
  - key: FROMCMD
    mode: Execfd
    value: echo computed
config:
  hostname: $LEAF_ALIAS-box
  chdir: /tmp
  umask: "027"
  capabilities:
    - cap: ALL
      add: 0
    - cap: cap_chown
      add: 1
    - cap: cap_kill
      add: 1
`,
      ),
    );
    const leaf = makeNode(
      dir,
      join(root, 'leaf'),
      'LEAF',
      conf(
        'LEAF',
        `exports:
  - mode: RestrictedFile
    mount: /etc/leaf.yaml
    path: $NODE_PATH/etc/redpak.yaml
  - mode: RestrictedFile
    mount: /etc/missing
    path: $NODE_PATH/no-such-file
environ:
  - key: TO_REMOVE
    mode: Remove
  - key: STATIC
    mode: Static
    value: $NODE_ALIAS verbatim
  - key: INHERITED
    mode: Inherit
`,
      ),
    );

    // --strict: the missing export directory is not created, and the export is skipped.
    const strict = await sh(leaf, 'test -e /made; echo "made=$?"', ['--strict']);
    assert.equal(strict.status, 0, strict.stderr);
    assert.equal(strict.stdout, 'made=1\n');
    assert.ok(!existsSync(join(dir, 'made')), '--strict creates no export directory');

    const script = `
echo @@env; cat /proc/$$/environ; echo
echo @@hostname; hostname
echo @@caps; grep CapEff /proc/self/status
echo @@netdev; cat /proc/net/dev
echo @@ns; readlink /proc/self/ns/pid /proc/self/ns/net
echo @@mounts; cat /proc/mounts
echo @@writes
echo changed > /ro/file; echo "ro=$?"
echo landed > /pub/written; echo "pub=$?"
echo changed > /etc/greeting; echo "greeting=$?"
mkdir /tmp/dir; echo "mkdir=$?"
echo @@greeting; cat /etc/greeting
echo @@leaf.yaml; cat /etc/leaf.yaml
echo @@seen; for p in /root-private /etc/missing /made /pub /etc/leaf.yaml; do test -e $p; echo "$p $?"; done
echo @@umask; umask
echo @@pwd; pwd
`;
    const result = await sh(leaf, script, [], { INHERITED: 'inherited value' });
    assert.equal(result.status, 0, result.stderr);
    const out = sections(result.stdout);

    // Environment: exactly what the family sets (bwrap adds PWD), nothing of redwrap's own.
    const env = Object.fromEntries(
      out.env
        .replace(/\n$/, '')
        .split('\0')
        .filter(Boolean)
        .map((entry) => [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)]),
    );
    assert.deepEqual(env, {
      GREETING: 'hi from ROOT to LEAF', // Default: expanded in the defining node (ROOT)
      STATIC: '$NODE_ALIAS verbatim', // Static: as written
      FROMCMD: 'computed\n', // Execfd: the command's output, newline kept as redpak does
      INHERITED: 'inherited value', // Inherit: redwrap's own value
      PWD: '/tmp', // chdir; TO_REMOVE is gone (the leaf's Remove beats the root's Default)
    });

    assert.equal(out.hostname, 'LEAF-box\n', 'hostname expanded in the leaf context');
    assert.match(out.caps, /^CapEff:\s+0000000000000021$/m, 'drop ALL + add cap_chown (bit 0) and cap_kill (bit 5)');

    const interfaces = out.netdev
      .split('\n')
      .slice(2)
      .filter(Boolean)
      .map((line) => line.trim().split(':')[0]);
    assert.deepEqual(interfaces, ['lo'], 'an unshared network has only lo');
    const [pidNs, netNs] = out.ns.trim().split('\n');
    assert.notEqual(pidNs, readlinkSync('/proc/self/ns/pid'), 'own pid namespace');
    assert.notEqual(netNs, readlinkSync('/proc/self/ns/net'), 'own network namespace');

    const mounts = mountOptions(out.mounts);
    for (const ro of ['/usr', '/ro', '/etc/leaf.yaml', '/etc/greeting'])
      assert.ok(mounts.get(ro)?.includes('ro'), `${ro} is mounted read-only: ${mounts.get(ro)}`);
    for (const rw of ['/pub', '/made'])
      assert.ok(mounts.get(rw)?.includes('rw'), `${rw} is mounted read-write: ${mounts.get(rw)}`);

    assert.match(out.writes, /^ro=[1-9]/m, 'writing into a Restricted export fails');
    assert.equal(readFileSync(join(hostRo, 'file'), 'utf8'), 'original\n');
    assert.match(out.writes, /^pub=0$/m, 'writing into a Public export works');
    assert.equal(readFileSync(join(hostPub, 'written'), 'utf8'), 'landed\n', 'and lands on the host');
    assert.match(out.writes, /^greeting=[1-9]/m, 'the Execfd file is read-only');
    assert.match(out.writes, /^mkdir=0$/m, 'no seccomp filter: mkdir works');
    assert.equal(out.greeting, 'execfd content\n', 'the Execfd export holds the command output');
    assert.equal(
      out['leaf.yaml'],
      readFileSync(join(leaf, 'etc/redpak.yaml'), 'utf8'),
      'a RestrictedFile export shows the file',
    );

    assert.equal(
      out.seen,
      ['/root-private 1', '/etc/missing 1', '/made 0', '/pub 0', '/etc/leaf.yaml 0', ''].join('\n'),
      "the root's Private export is not the leaf's; a missing file export is skipped",
    );
    assert.ok(statSync(hostMade).isDirectory(), 'a missing export directory is created');

    assert.equal(out.umask, '0027\n');
    assert.equal(statSync(join(hostPub, 'written')).mode & 0o777, 0o640, 'umask 027 applies to created files');
    assert.equal(out.pwd, '/tmp\n');
  });

  it('seccomp: EPERM, a child cannot re-allow what its parent denies, its own kill rule ends the program with 159', async (t) => {
    const dir = tempDir(t, 'redpak-live-');
    const root = makeNode(
      dir,
      join(dir, 'root'),
      'ROOT',
      conf('ROOT', BUSYBOX_EXPORTS, 'seccomp:\n  rules:\n    - syscall: [mkdir, mkdirat]\n      action: errno\n'),
    );
    const leaf = makeNode(
      dir,
      join(root, 'leaf'),
      'LEAF',
      conf(
        'LEAF',
        'seccomp:\n  rules:\n    - syscall: [mkdir, mkdirat]\n      action: allow\n    - syscall: sync\n      action: kill\n',
      ),
    );
    const result = await sh(
      leaf,
      'mkdir /tmp/denied; echo "mkdir=$?"; grep Seccomp_filters /proc/self/status; exec /usr/bin/busybox sync',
    );
    assert.equal(result.status, 128 + 31, `killed by SIGSYS: ${result.stderr}`);
    assert.match(result.stdout, /^mkdir=1$/m, "the root's denial holds although the leaf allows mkdir");
    assert.match(result.stderr, /Operation not permitted/, 'denied with EPERM');
    assert.match(result.stdout, /^Seccomp_filters:\s+2$/m, 'one filter per node');
  });

  it("exit status: the program's, and 128+signal when it is killed", async (t) => {
    const dir = tempDir(t, 'redpak-live-');
    const node = makeNode(dir, join(dir, 'node'), 'NODE', conf('NODE', BUSYBOX_EXPORTS));
    const [three, killed, ok] = await Promise.all([sh(node, 'exit 3'), sh(node, 'kill -9 $$'), sh(node, 'true')]);
    assert.equal(three.status, 3, three.stderr);
    assert.equal(killed.status, 137, killed.stderr);
    assert.equal(ok.status, 0, ok.stderr);
  });

  it("cgroups: a parent node's pids.max stops forks of the leaf's process", { skip: noPids }, async (t) => {
    const dir = tempDir(t, 'redpak-live-');
    sweepCgroupsAfter(t, dir);
    // die-with-parent: the background sleeps must not outlive the launch (bwrap's pid 1 would
    // otherwise wait for them after the shell exits, and their cgroups would stay).
    const root = makeNode(
      dir,
      join(dir, 'root'),
      'ROOT',
      conf('ROOT', BUSYBOX_EXPORTS, 'config:\n  die-with-parent: Enabled\n  cgroups:\n    pids:\n      max: 8\n'),
    );
    const leaf = makeNode(dir, join(root, 'leaf'), 'LEAF', conf('LEAF'));
    const result = await sh(leaf, 'i=0; while [ $i -lt 20 ]; do sleep 5 & i=$((i+1)); done; echo "started $i"');
    assert.match(result.stderr, /can't fork|cannot fork/i, `forks fail: ${result.stderr}`);
    assert.doesNotMatch(result.stdout, /started/);
    assert.deepEqual(cgroupsOf(dir), [], 'the node cgroups are removed after the run');
  });
});

/**
 * A family whose launch would leave two traces through a Public export: the output of its Execfd
 * export script (which runs sandboxed, so it cannot write a host file itself), copied out by the
 * program, and a file the program touches.
 */
function markedFamily(t: TestContext, rootExtra = '', leafExtra = '') {
  const dir = tempDir(t, 'redpak-live-');
  const out = join(dir, 'out');
  mkdirSync(out);
  const execfdMarker = join(out, 'execfd-ran');
  const programMarker = join(out, 'program-ran');
  const root = makeNode(dir, join(dir, 'root'), 'ROOT', conf('ROOT', BUSYBOX_EXPORTS, rootExtra));
  const leaf = makeNode(
    dir,
    join(root, 'leaf'),
    'LEAF',
    conf(
      'LEAF',
      `exports:\n  - mode: Public\n    mount: /out\n    path: ${out}\n  - mode: Execfd\n    mount: /etc/marker\n    path: echo ran\n`,
      leafExtra,
    ),
  );
  const launch = () =>
    redwrap([
      '--redpath',
      leaf,
      '--',
      BUSYBOX,
      'sh',
      '-c',
      `${BUSYBOX} grep -q ran /etc/marker && ${BUSYBOX} touch /out/execfd-ran; ${BUSYBOX} touch /out/program-ran`,
    ]);
  const ran = () => ({ execfd: existsSync(execfdMarker), program: existsSync(programMarker) });
  return { dir, root, leaf, launch, ran };
}

/**
 * Checks a refused launch: the exit status of the error's class (README "Exit statuses"), a
 * message matching `message`, and nothing run.
 */
async function assertRefused(family: ReturnType<typeof markedFamily>, status: number, message: RegExp) {
  const result = await family.launch();
  assert.equal(result.status, status, `refused with exit status ${status}: ${result.stdout}${result.stderr}`);
  assert.match(result.stderr, message);
  assert.deepEqual(family.ran(), { execfd: false, program: false }, 'neither the Execfd script nor the program ran');
  return result;
}

describe('redwrap live: bad input is refused before anything runs', { skip: skipLive, concurrency: 4 }, () => {
  it('control: the same family launches and leaves both traces', async (t) => {
    const family = markedFamily(t);
    const result = await family.launch();
    assert.equal(result.status, 0, result.stderr);
    assert.deepEqual(family.ran(), { execfd: true, program: true });
  });

  it('a disabled ancestor', async (t) => {
    const family = markedFamily(t);
    const status = join(family.root, '.rednode.yaml');
    writeFileSync(status, readFileSync(status, 'utf8').replace('state: Enable', 'state: Disable'));
    await assertRefused(family, 3, new RegExp(`ROOT \\(${family.root}\\) is disabled`));
  });

  it('a broken config in an ancestor', async (t) => {
    const family = markedFamily(t);
    const config = join(family.root, 'etc/redpak.yaml');
    writeFileSync(config, `${readFileSync(config, 'utf8')}bogus-section: 1\n`);
    await assertRefused(family, 4, new RegExp(`${config}.*bogus-section|bogus-section.*${config}`));
  });

  it('an export whose path escapes with ..', async (t) => {
    const family = markedFamily(t, '', `  - mode: Public\n    mount: /escape\n    path: $NODE_PATH/../../etc\n`);
    await assertRefused(family, 10, /export \/escape of LEAF .*escapes with "\.\."/);
  });

  it('a namespace to join that does not exist', async (t) => {
    const family = markedFamily(t, '', 'config:\n  share_net: /proc/999999999/ns/net\n');
    await assertRefused(
      family,
      10,
      new RegExp(`${family.leaf}/etc/redpak.yaml.*share_net: namespace /proc/999999999/ns/net does not exist`),
    );
  });

  it('an unknown capability', async (t) => {
    const family = markedFamily(t, 'config:\n  capabilities:\n    - cap: cap_fly\n      add: 1\n');
    await assertRefused(family, 10, new RegExp(`unknown capability "cap_fly" in ROOT \\(${family.root}\\)`));
  });

  it('a SMACK label, on a kernel without SMACK', async (t) => {
    const family = markedFamily(t, 'config:\n  smack: App\n');
    await assertRefused(family, 10, /smack: label "App" of ROOT cannot be applied: this kernel has no SMACK/);
  });

  it('an unknown syscall', async (t) => {
    const family = markedFamily(t);
    // Written after creation: creating a node already validates its config.
    const config = join(family.root, 'etc/redpak.yaml');
    writeFileSync(
      config,
      `${readFileSync(config, 'utf8')}seccomp:\n  rules:\n    - syscall: mkdri\n      action: errno\n`,
    );
    await assertRefused(family, 4, new RegExp(`${config}.*unknown syscall "mkdri"`));
  });

  it('a cgroup value the kernel rejects', { skip: noPids }, async (t) => {
    // A well-formed number, above the kernel's PID_MAX_LIMIT: only the write can tell.
    const family = markedFamily(t, 'config:\n  cgroups:\n    pids:\n      max: 99999999\n');
    sweepCgroupsAfter(t, family.dir);
    await assertRefused(family, 10, /cgroups: node ROOT: cannot write "99999999" to \S+\/pids\.max/);
    assert.deepEqual(cgroupsOf(family.dir), [], 'no cgroup left behind');
  });
});

describe('a host without cgroup controllers', { skip: skipLive }, () => {
  // Made for real: redwrap runs in a private mount namespace where the cgroup filesystems are unmounted.
  const withoutCgroups = (args: string[]) =>
    spawnSync(
      'unshare',
      [
        '--mount',
        '--propagation',
        'private',
        'sh',
        '-c',
        'umount -R -l /sys/fs/cgroup && exec "$@"',
        'sh',
        REDWRAP_BIN,
        ...args,
      ],
      { encoding: 'utf8' },
    );

  it('--dump-only still shows the plan, with the cgroups as on cgroup v2 and why they cannot be applied; a launch is refused', (t) => {
    const dir = tempDir(t, 'redpak-live-');
    const node = makeNode(
      dir,
      join(dir, 'root'),
      'ROOT',
      conf('ROOT', BUSYBOX_EXPORTS, 'config:\n  cgroups:\n    pids:\n      max: 8\n'),
    );
    const dump = withoutCgroups(['--redpath', node, '--dump-only', '--json', '--', BUSYBOX, 'true']);
    assert.equal(dump.status, 0, dump.stderr);
    const plan = JSON.parse(dump.stdout) as { cgroupSteps: string[]; cgroupsUnavailable?: string };
    assert.match(plan.cgroupsUnavailable ?? '', /node ROOT: cgroups\.pids\.max\).*hierarchy not mounted: pids/);
    assert.ok(
      plan.cgroupSteps.some((step) => /^write \/sys\/fs\/cgroup\/.*pids\.max = 8$/.test(step)),
      plan.cgroupSteps.join('\n'),
    );
    const launch = withoutCgroups(['--redpath', node, '--', BUSYBOX, 'true']);
    assert.notEqual(launch.status, 0);
    assert.match(launch.stderr, /cgroups cannot be applied on this host \(node ROOT: cgroups\.pids\.max\)/);
  });
});
