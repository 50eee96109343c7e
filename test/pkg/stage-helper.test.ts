/**
 * The staged view's helper, dist/bin/redpak-stage (src/launcher/redpak-stage.c), and its fallback
 * (util-linux unshare, sh, mount(8), Python: src/pkg/stage-runner.ts): `opaque` on real overlay
 * attributes set on ext4/tmpfs (names with newlines and spaces, links not followed, hostile deep
 * trees), the refusals of bad command lines and failing mounts, and live transactions through
 * both ways whose scriptlets try to write outside the layers. Run as root (CI does): the
 * attribute is trusted.overlay.opaque, which only root sets.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { RedpakError } from '../../src/errors.js';
import { packagePath } from '../../src/package-root.js';
import { opaqueAttribute } from '../../src/pkg/rootless.js';
import { solverPython } from '../../src/pkg/solver.js';
import { helperFailure, opaqueDirs, stagedCommand, stageHelper } from '../../src/pkg/stage-runner.js';
import { STAGE_DIR } from '../../src/pkg/view.js';
import { hostTool } from '../../src/system/host-tools.js';
import { runBin } from '../helpers/cli.js';
import { runAs, throwawayUser, WITHOUT_THROWAWAY_USER } from '../helpers/users.js';
import { buildTestRpm, makeNodeFamily, type NodeFamily } from './helpers/nodes.js';

const HELPER = packagePath('dist/bin/redpak-stage');
const ATTRIBUTE = opaqueAttribute(false);
const asRoot = process.getuid?.() === 0;

const helper = (args: string[], input?: string) => spawnSync(HELPER, args, { encoding: 'utf8', input });

/**
 * Runs a Python script that builds a tree with descriptors only (os.mkdir(dir_fd=…)), so that
 * trees deeper than PATH_MAX can be made; `mark(fd, name)` sets the opaque attribute.
 */
function build(root: string, body: string): void {
  const script = [
    'import os, sys',
    `ATTR = ${JSON.stringify(ATTRIBUTE)}`,
    'def mark(fd, name, value=b"y"):',
    '    f = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)',
    '    os.setxattr(f, ATTR, value)',
    '    os.close(f)',
    'def down(fd, name):',
    '    os.mkdir(name, dir_fd=fd)',
    '    f = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)',
    '    return f',
    'top = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)',
    body,
  ].join('\n');
  const r = spawnSync(solverPython(), ['-c', script, root], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
}

const bothWays = [
  ['the helper', HELPER],
  ['the fallback (Python)', null],
] as const;

describe('redpak-stage opaque', { skip: !asRoot && 'sets trusted.* attributes: root only' }, () => {
  let dir: string;
  before(() => {
    assert.ok(existsSync(HELPER), 'the build compiled dist/bin/redpak-stage (a C compiler is present)');
    dir = mkdtempSync(join(tmpdir(), 'redpak-stage-opaque-'));
  });
  // Python's rmtree walks by descriptors: the deep trees are longer than PATH_MAX.
  after(() => spawnSync(solverPython(), ['-c', 'import shutil, sys; shutil.rmtree(sys.argv[1])', dir]));

  it('lists the opaque directories, NUL-terminated, any name, never below one, never through a link', () => {
    const upper = join(dir, 'names');
    mkdirSync(upper);
    const outside = join(dir, 'outside-opaque');
    mkdirSync(join(outside, 'inner'), { recursive: true });
    build(
      dir,
      `
mark(top, "outside-opaque")
u = os.open("names", os.O_RDONLY | os.O_DIRECTORY, dir_fd=top)
for name in ["n\\nusr", "with space", "usr"]:
    os.mkdir(name, dir_fd=u)
mark(u, "n\\nusr")
mark(u, "with space")
lib = down(os.open("usr", os.O_RDONLY | os.O_DIRECTORY, dir_fd=u), "lib")
os.mkdir("deep", dir_fd=lib)
mark(lib, "deep")
inner = os.open("deep", os.O_RDONLY | os.O_DIRECTORY, dir_fd=lib)
os.mkdir("below", dir_fd=inner)
mark(inner, "below")
for name, value in [("yes", b"yes"), ("n", b"n"), ("empty", b"")]:
    os.mkdir(name, dir_fd=u)
    mark(u, name, value)
f = os.open("file", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=u)
os.setxattr(f, ATTR, b"y")
os.close(f)
`,
    );
    // Links to opaque directories, outside the layer and inside it: neither listed nor followed.
    symlinkSync(outside, join(upper, 'link-out'));
    symlinkSync('with space', join(upper, 'link-in'));
    const expected = ['n\nusr', 'usr/lib/deep', 'with space'];
    const r = helper(['opaque', upper, ATTRIBUTE]);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(r.stdout.endsWith('\0'), 'each path is NUL-terminated');
    assert.deepEqual(r.stdout.split('\0').slice(0, -1).sort(), expected);
    for (const [way, path] of bothWays) {
      assert.deepEqual([...opaqueDirs(upper, ATTRIBUTE, { helper: path })].sort(), expected, way);
    }
    assert.deepEqual([...opaqueDirs(upper, opaqueAttribute(true), { helper: HELPER })], [], 'another attribute');
  });

  it('walks a deep tree by descriptors (1500 levels); refuses one whose paths exceed PATH_MAX, naming it', () => {
    const upper = join(dir, 'deep');
    mkdirSync(upper);
    build(
      upper,
      `
f = top
for i in range(1500):
    f = down(f, "d")
os.mkdir("last", dir_fd=f)
mark(f, "last")
`,
    );
    const found = [...opaqueDirs(upper, ATTRIBUTE, { helper: HELPER })];
    assert.deepEqual(found, [`${'d/'.repeat(1500)}last`]);

    const hostile = join(dir, 'hostile');
    mkdirSync(hostile);
    build(
      hostile,
      `
f = top
for i in range(450):
    f = down(f, "d" * 10)
os.mkdir("last", dir_fd=f)
mark(f, "last")
`,
    );
    const r = helper(['opaque', hostile, ATTRIBUTE]);
    assert.equal(r.status, 125, r.stderr);
    assert.match(r.stderr, /^redpak-stage: a directory path in .*hostile is longer than 4096 bytes/);
    assert.throws(
      () => opaqueDirs(hostile, ATTRIBUTE, { helper: HELPER }),
      (e: unknown) =>
        e instanceof RedpakError && e.code === 'tool-failed' && e.message.includes(`attributes of ${hostile}`),
    );
  });

  it('refuses an UPPER reached through a link', () => {
    const link = join(dir, 'upper-link');
    symlinkSync(join(dir, 'names'), link);
    const r = helper(['opaque', link, ATTRIBUTE]);
    assert.equal(r.status, 125);
    assert.match(r.stderr, /cannot open .*upper-link: a component is a symbolic link/);
  });

  /** `run --opaque-after UPPER` with descriptor 3 a pipe (or closed): status, signal, stdout, stderr, and what came on fd 3. */
  const runThenWalk = (upper: string, program: string[], fd3: 'pipe' | 'ignore' = 'pipe') => {
    const r = spawnSync(HELPER, ['run', '--opaque-after', upper, ATTRIBUTE, '--', ...program], {
      stdio: ['ignore', 'pipe', 'pipe', fd3],
    });
    return {
      status: r.status,
      signal: r.signal,
      stdout: r.stdout.toString(),
      stderr: r.stderr.toString(),
      listed: r.output[3]?.toString() ?? '',
    };
  };

  it('run --opaque-after: once the program exits 0, lists on descriptor 3 what `opaque` lists; the program does not get descriptor 3', () => {
    const upper = join(dir, 'names');
    const r = runThenWalk(upper, ['/bin/sh', '-c', 'if [ -e /proc/$$/fd/3 ]; then echo fd3; fi; echo ran']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'ran\n', 'the program has no descriptor 3');
    assert.equal(r.listed, helper(['opaque', upper, ATTRIBUTE]).stdout);
    assert.deepEqual(r.listed.split('\0').slice(0, -1).sort(), ['n\nusr', 'usr/lib/deep', 'with space']);
  });

  it('run --opaque-after: a failing program passes its status and a killed one its signal on, with nothing listed', () => {
    const upper = join(dir, 'names');
    const failed = runThenWalk(upper, ['/bin/sh', '-c', 'exit 7']);
    assert.deepEqual([failed.status, failed.listed], [7, '']);
    const killed = runThenWalk(upper, ['/bin/sh', '-c', 'kill -TERM $$']);
    assert.deepEqual([killed.status, killed.signal, killed.listed], [null, 'SIGTERM', '']);
    const missing = runThenWalk(upper, ['/nonexistent/program']);
    assert.equal(missing.status, 127);
    assert.match(missing.stderr, /^redpak-stage: cannot run \/nonexistent\/program/);
  });

  it('run --opaque-after: refuses to start without descriptor 3, or with an UPPER that is not absolute', () => {
    const closed = runThenWalk(join(dir, 'names'), ['/bin/true'], 'ignore');
    assert.equal(closed.status, 2);
    assert.match(closed.stderr, /^redpak-stage: run: --opaque-after needs descriptor 3 open/);
    const relative = runThenWalk('names', ['/bin/true']);
    assert.equal(relative.status, 2);
    assert.match(relative.stderr, /UPPER "names" is not an absolute path/);
  });

  it('run --opaque-after: dies with its caller (the program, bwrap --die-with-parent, then dies with it)', async () => {
    // sh starts the helper in the background and prints its pid; sh is then killed.
    const caller = spawn(
      '/bin/sh',
      [
        '-c',
        `${HELPER} run --opaque-after ${join(dir, 'names')} ${ATTRIBUTE} -- /bin/sleep 60 3>/dev/null & echo $!; wait`,
      ],
      { stdio: ['ignore', 'pipe', 'ignore'] },
    );
    const pid = Number(
      await new Promise<string>((res) => caller.stdout.once('data', (chunk: Buffer) => res(chunk.toString().trim()))),
    );
    /** Running, not gone nor a zombie. */
    const running = () => {
      try {
        return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
      } catch {
        return false;
      }
    };
    // Time for the helper to ask the kernel (right before it starts the program).
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(running(), 'the helper waits for its program');
    caller.kill('SIGKILL');
    let alive = true;
    for (let i = 0; i < 200 && alive; i += 1) {
      await new Promise((r) => setTimeout(r, 10));
      alive = running();
    }
    assert.equal(alive, false, 'the helper died with its caller');
  });
});

describe('redpak-stage opaque as an ordinary user', { skip: WITHOUT_THROWAWAY_USER }, () => {
  it('as root mapped onto the user, reads a directory of theirs that has no permissions at all', (t) => {
    // A package's %attr(0000) directory, or one a scriptlet made so: the user's merge opens it;
    // the walk must see it too, or an opaque one would be merged instead of replacing.
    const user = throwawayUser(t);
    const upper = join(user.home, 'upper');
    const script = [
      'import os, sys',
      'u = sys.argv[1]',
      'os.makedirs(os.path.join(u, "closed/opaque"))',
      'os.setxattr(os.path.join(u, "closed/opaque"), "user.overlay.opaque", b"y")',
      'os.chmod(os.path.join(u, "closed"), 0)',
    ].join('\n');
    const made = runAs(user, [solverPython(), '-c', script, upper]);
    assert.equal(made.status, 0, made.stderr);
    const attribute = opaqueAttribute(true);
    const mapped = runAs(user, [HELPER, 'opaque', '--map-root-user', upper, attribute]);
    assert.equal(mapped.status, 0, mapped.stderr);
    assert.equal(mapped.stdout, 'closed/opaque\0');
    const plain = runAs(user, [HELPER, 'opaque', upper, attribute]);
    assert.equal(plain.status, 125, 'without the mapping the walk cannot open it, and says so');
    assert.match(plain.stderr, /^redpak-stage: cannot open .*upper\/closed: Permission denied/);
    runAs(user, ['chmod', '700', join(upper, 'closed')]);
  });
});

describe('redpak-stage refusals', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'redpak-stage-refusals-'));
    for (const d of ['lower', 'upper', 'work', 'view']) mkdirSync(join(dir, d));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('bad command lines: exit 2, one redpak-stage: line, nothing run', () => {
    const marker = join(dir, 'ran');
    const touch = ['/usr/bin/touch', marker];
    const cases: [string[], RegExp][] = [
      [[], /usage: redpak-stage run\|opaque/],
      [['mount'], /unknown command "mount"/],
      [['run', ...touch], /unknown option "\/usr\/bin\/touch"/],
      [['run', '--map-root-user', '--map-root-user', '--', ...touch], /--map-root-user given twice/],
      [['run', '--ro-binds-stdin'], /no "--" before PROGRAM/],
      [['run', '--'], /no PROGRAM after "--"/],
      [['run', '--', 'touch', marker], /PROGRAM "touch" is not an absolute path/],
      [['run', '--overlay', 'lowerdir=/x'], /--overlay needs OPTIONS and TARGET/],
      [['run', '--overlay', '', join(dir, 'view'), '--', ...touch], /--overlay with empty OPTIONS/],
      [['run', '--overlay', 'lowerdir=/x', 'view', '--', ...touch], /overlay target "view" is not an absolute path/],
      [['run', '--bind', '/a', '/b', '--', ...touch], /unknown option "--bind"/],
      [['opaque', dir], /opaque: needs UPPER and ATTRIBUTE/],
      [['opaque', 'upper', ATTRIBUTE], /UPPER "upper" is not an absolute path/],
      [['opaque', dir, 'opaque'], /"opaque" is not an extended attribute name/],
    ];
    for (const [args, message] of cases) {
      const r = helper(args);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /^redpak-stage: [^\n]+\n$/, args.join(' '));
      assert.match(r.stderr, message, args.join(' '));
    }
    assert.ok(!existsSync(marker), 'no program ran');
  });

  it('a mount that fails names its target; a target through a link is refused; a missing program is 127', () => {
    const marker = join(dir, 'ran');
    const options = (lower: string) => `lowerdir=${lower},upperdir=${dir}/upper,workdir=${dir}/work`;
    const rootless = asRoot ? [] : ['--map-root-user'];
    const extra = asRoot ? '' : ',userxattr';
    const failed = helper([
      'run',
      ...rootless,
      '--overlay',
      `${options(join(dir, 'absent'))}${extra}`,
      join(dir, 'view'),
      '--',
      '/usr/bin/touch',
      marker,
    ]);
    assert.equal(failed.status, 125, failed.stderr);
    assert.match(failed.stderr, new RegExp(`^redpak-stage: cannot mount an overlay on ${dir}/view: `));
    symlinkSync('/usr', join(dir, 'view-link'));
    const linked = helper([
      'run',
      ...rootless,
      '--overlay',
      `${options(join(dir, 'lower'))}${extra}`,
      join(dir, 'view-link'),
      '--',
      '/usr/bin/touch',
      marker,
    ]);
    assert.equal(linked.status, 125, linked.stderr);
    assert.match(linked.stderr, /cannot mount an overlay on .*view-link: a component is a symbolic link/);
    assert.ok(!existsSync(marker), 'no program ran');
    const missing = helper(['run', ...rootless, '--', join(dir, 'no-such-program')]);
    assert.equal(missing.status, 127);
    assert.match(missing.stderr, /^redpak-stage: cannot run .*no-such-program: No such file or directory/);
    assert.ok(
      !readFileSync('/proc/self/mountinfo', 'utf8').includes(dir),
      'nothing was mounted in the caller’s namespace',
    );
  });

  it('mounts in a namespace of its own, then runs the program there', () => {
    const rootless = !asRoot;
    const options = `lowerdir=${dir}/lower,upperdir=${dir}/upper,workdir=${dir}/work${rootless ? ',userxattr' : ''}`;
    writeFileSync(join(dir, 'lower', 'seen'), 'from the lower layer');
    const staged = stagedCommand({ rootless, overlays: [{ options, target: join(dir, 'view') }] }, [
      '/bin/sh',
      '-c',
      `cat ${dir}/view/seen && echo new > ${dir}/view/new`,
    ]);
    assert.equal(staged.command, HELPER, 'the helper is chosen where it was built');
    const r = spawnSync(staged.command, staged.args, { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'from the lower layer');
    assert.equal(readFileSync(join(dir, 'upper', 'new'), 'utf8'), 'new\n', 'the write went to the upper layer');
    assert.deepEqual(readdirSync(join(dir, 'view')), [], 'the mount is gone with the namespace');
  });

  it('read-only binds: a target or a source through a link is refused, a source gone removes its target', () => {
    // The targets lie in the copy, in the node's stage: a link planted there would move the bind
    // anywhere in the namespace bwrap is then started from (onto bwrap itself, say).
    const t = join(dir, 'binds');
    mkdirSync(join(t, 'copy/d'), { recursive: true });
    writeFileSync(join(t, 'copy/file'), '');
    writeFileSync(join(t, 'copy/gone'), '');
    writeFileSync(join(t, 'source'), 'bound');
    symlinkSync('/usr/bin', join(t, 'copy/link'));
    symlinkSync(join(t, 'source'), join(t, 'source-link'));
    const rootless = asRoot ? [] : ['--map-root-user'];
    const bind = (pairs: string[], program = ['/usr/bin/true']) =>
      helper(['run', ...rootless, '--ro-binds-stdin', '--', ...program], pairs.map((p) => `${p}\0`).join(''));
    const throughLink = bind([join(t, 'source'), join(t, 'copy/link/true')]);
    assert.equal(throughLink.status, 125, throughLink.stderr);
    assert.match(
      throughLink.stderr,
      /cannot bind .*source read-only on .*copy\/link\/true: a component is a symbolic link/,
    );
    const fromLink = bind([join(t, 'source-link'), join(t, 'copy/file')]);
    assert.equal(fromLink.status, 125, fromLink.stderr);
    assert.match(fromLink.stderr, /source-link read-only .*: a component is a symbolic link/);
    const fine = bind(
      [join(t, 'source'), join(t, 'copy/file'), join(t, 'absent'), join(t, 'copy/gone')],
      ['/bin/sh', '-c', `cat ${t}/copy/file; echo x > ${t}/copy/file`],
    );
    assert.equal(fine.status, 2, fine.stderr); // sh: a redirection that fails
    assert.equal(fine.stdout, 'bound');
    assert.match(fine.stderr, /Read-only file system/);
    assert.ok(!existsSync(join(t, 'copy/gone')), 'the target of a source gone is removed');
    assert.equal(readFileSync(join(t, 'source'), 'utf8'), 'bound');
  });

  it('a failure of the helper is told apart from the program’s: its status and one redpak-stage: line', () => {
    const r = helper(['run', '--overlay', 'lowerdir=/absent', join(dir, 'view'), '--', '/usr/bin/true']);
    assert.equal(helperFailure(r.status, r.stderr), r.stderr.trim());
    assert.match(r.stderr, /cannot mount an overlay on/);
    assert.equal(helperFailure(1, r.stderr), undefined, 'bwrap’s or rpm’s status');
    assert.equal(helperFailure(125, `${r.stderr}error: rpm said more\n`), undefined, 'more than the helper’s line');
    assert.equal(helperFailure(125, 'error: scriptlet failed\n'), undefined);
  });

  it('the choice: the helper where built, the old tools where not or when the test hook turns it off', () => {
    assert.equal(stageHelper({}), HELPER);
    assert.equal(stageHelper({ REDPAK_TEST_NO_STAGE_HELPER: '1' }), null);
    assert.equal(stageHelper({ REDPAK_TEST_NO_STAGE_HELPER: '/bin/evil' }), HELPER, 'the hook names no program');
    const fallback = stagedCommand({ rootless: true, overlays: [] }, ['/usr/bin/true'], null);
    assert.equal(fallback.command, hostTool('unshare'));
    assert.deepEqual(fallback.args.slice(0, 5), ['--user', '--map-root-user', '--mount', '--propagation', 'private']);
  });
});

describe('a transaction’s staged view, through the helper and through the fallback', {
  skip: !asRoot && 'root',
}, () => {
  let f: NodeFamily;
  before(async () => {
    f = await makeNodeFamily({ repoFile: false });
  });
  after(() => f.cleanup());

  // %post: a directory of the node removed and made again (overlayfs marks it opaque), and
  // writes outside the layered directories, which the read-only root of the view refuses.
  const rpm = () =>
    buildTestRpm(
      'redstaged',
      [
        '%post',
        'rm -rf /opt/redstaged',
        'mkdir -p /opt/redstaged',
        'for p in /outside-marker /.redpak-stage/planted /redpak-outside/x; do',
        '  if mkdir -p "$(dirname "$p")" 2>/dev/null && echo x > "$p" 2>/dev/null; then echo "wrote $p"; else echo "refused $p"; fi',
        'done > /opt/redstaged/result',
        '%files',
      ].join('\n'),
    );

  for (const [way, env] of [
    ['the helper', {}],
    ['the fallback', { REDPAK_TEST_NO_STAGE_HELPER: '1' }],
  ] as const) {
    it(`${way}: an opaque directory replaces the node's; nothing is written outside the layers`, () => {
      mkdirSync(join(f.app, 'opt/redstaged'), { recursive: true });
      writeFileSync(join(f.app, 'opt/redstaged/old'), 'from before\n');
      const r = runBin('redwrap-dnf', ['--redpath', f.app, '-y', 'install', rpm()], { env });
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(readdirSync(join(f.app, 'opt/redstaged')).sort(), ['result'], 'replaced, not merged');
      assert.equal(
        readFileSync(join(f.app, 'opt/redstaged/result'), 'utf8'),
        'refused /outside-marker\nrefused /.redpak-stage/planted\nrefused /redpak-outside/x\n',
      );
      for (const root of ['/', f.app, f.platform, f.sys]) {
        assert.ok(!existsSync(join(root, 'outside-marker')), `${root}: no marker`);
        assert.ok(!existsSync(join(root, 'redpak-outside')), `${root}: no directory`);
      }
      assert.ok(!existsSync(join(f.app, STAGE_DIR)), 'the stage is gone');
      const removed = runBin('redwrap-dnf', ['--redpath', f.app, '-y', 'remove', 'redstaged'], { env });
      assert.equal(removed.status, 0, removed.stderr);
      rmSync(join(f.app, 'opt/redstaged'), { recursive: true, force: true });
    });
  }
});
