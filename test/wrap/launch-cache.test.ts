/**
 * The launch cache cannot be turned against the sandbox: plans live in the caller's own cache
 * directory (never in a node), a plan or directory another user or a sandbox could write is
 * refused in one line, a plan is bound to its node's path AND inode, and an in-place edit that
 * keeps size and mtime is still seen. Each test plants the hostile input; REDWRAP_NO_FALLBACK
 * shows whether the fast launcher served (0) or refused (10).
 */
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { HOST_USR_EXPORTS, makeNode, tempDir } from '../helpers/family.js';
import { cachedPlanPath, forgetCachedPlans, PACKAGE_ROOT, redwrap, WITHOUT_FAST_LAUNCHER } from '../helpers/redwrap.js';
import { throwawayUser } from '../helpers/users.js';

const REDMANAGER = join(PACKAGE_ROOT, 'bin/redmanager');
const fastOnly = { REDWRAP_NO_FALLBACK: '1' };

const config = (alias: string, host: string) => `headers:
  alias: ${alias}
config:
  hostname: ${host}
  path: /usr/bin:/bin
exports:
${HOST_USR_EXPORTS}  - {mode: Procfs, mount: /proc}
  - {mode: Devfs, mount: /dev}
  - {mode: Tmpfs, mount: /tmp}
`;

function node(t: TestContext, dir: string, name: string, host: string): string {
  const path = join(dir, name);
  makeNode(dir, path, name, config(name, host));
  forgetCachedPlans(t, path);
  return path;
}

const HOSTNAME = ['sh', '-c', 'hostname'];

/** redwrap run as `user` through setpriv, with the given environment. */
function redwrapAs(
  user: { uid: number; gid: number },
  args: string[],
  env: Record<string, string>,
): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(
    'setpriv',
    [
      `--reuid=${user.uid}`,
      `--regid=${user.gid}`,
      '--clear-groups',
      '--',
      'env',
      '-i',
      ...Object.entries({ PATH: '/usr/bin:/bin', HOME: '/', ...env }).map(([k, v]) => `${k}=${v}`),
      join(PACKAGE_ROOT, 'bin/redwrap'),
      ...args,
    ],
    { encoding: 'utf8', cwd: '/', timeout: 30_000 },
  );
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('launch cache', { skip: WITHOUT_FAST_LAUNCHER }, () => {
  it("never reads a plan planted in the node, by admin mode or by the node's owner", async (t) => {
    const dir = tempDir(t);
    const app = join(dir, 'plat', 'app');
    const created = spawnSync(REDMANAGER, ['create-node', '--redpath', app], { encoding: 'utf8' });
    assert.equal(created.status, 0, created.stderr);
    forgetCachedPlans(t, app);
    assert.equal((await redwrap(['--redpath', app, '--', '/bin/true'])).status, 0);
    // The admin template binds the node read-write: a sandboxed program writes a plan that runs
    // its command with no sandbox at all, in the old cache location and format.
    const planted = join(app, '.redpak', `launch-normal-${process.getuid!()}.plan`);
    const admin = await redwrap([
      '--redpath',
      app,
      '--admin',
      '--',
      '/bin/sh',
      '-c',
      `mkdir -p ${app}/.redpak && printf '1:v1:23:end' > ${planted}`,
    ]);
    assert.equal(admin.status, 0, admin.stderr);
    assert.equal(readFileSync(planted, 'utf8'), '1:v1:23:end', 'the sandbox could write it');
    const hostInit = readFileSync('/proc/1/comm', 'utf8');
    const probe = ['/bin/sh', '-c', 'cat /proc/1/comm; hostname'];
    for (const env of [fastOnly, {}]) {
      const run = await redwrap(['--redpath', app, '--', ...probe], { env });
      assert.equal(run.status, 0, run.stderr);
      assert.notEqual(run.stdout, `${hostInit}${hostname()}\n`, 'the program ran sandboxed');
      assert.doesNotMatch(run.stdout, new RegExp(`^${hostInit.trim()}\\n`), "not as the host's init");
    }
    // The same plan written by a non-root owner of the node, when root launches it.
    const owner = throwawayUser(t, { home: false });
    chmodSync(dir, 0o755);
    const old = `${['v', '2', 'redpath', app, 'admin', '0', 'ids', '0', '0', 'arg', '/bin/sh', 'end'].map((f) => `${Buffer.byteLength(f)}:${f}`).join('')}`;
    chownSync(join(app, '.redpak'), owner.uid, owner.gid);
    const wrote = spawnSync('setpriv', [
      `--reuid=${owner.uid}`,
      `--regid=${owner.gid}`,
      '--clear-groups',
      'sh',
      '-c',
      `printf '%s' '${old}' > ${planted}.new && mv ${planted}.new ${planted}`,
    ]);
    assert.equal(wrote.status, 0, String(wrote.stderr));
    assert.equal(lstatSync(planted).uid, owner.uid);
    const run = await redwrap(['--redpath', app, '--', ...probe], { env: fastOnly });
    assert.equal(run.status, 0, run.stderr);
    assert.doesNotMatch(run.stdout, new RegExp(`^${hostInit.trim()}\\n`));
  });

  it("refuses, in one line, a cached plan that is not the caller's, writable by others or a symlink", async (t) => {
    const dir = tempDir(t);
    const leaf = node(t, dir, 'leaf', 'cached-leaf');
    const plan = cachedPlanPath(leaf);
    const warm = async () => assert.equal((await redwrap(['--redpath', leaf, '--', ...HOSTNAME])).status, 0);
    const refusedWith = async (reason: RegExp) => {
      const run = await redwrap(['--redpath', leaf, '--', ...HOSTNAME], { env: fastOnly });
      assert.equal(run.status, 10, run.stdout);
      const lines = run.stderr.trim().split('\n');
      assert.match(lines[0], new RegExp(`^redwrap: ignoring cached plan .*${reason.source}`));
      assert.equal(lines.length, 2, 'one line, then the REDWRAP_NO_FALLBACK notice');
      const served = await redwrap(['--redpath', leaf, '--', ...HOSTNAME]);
      assert.equal(served.status, 0, served.stderr);
      assert.equal(served.stdout, 'cached-leaf\n', 'the full CLI serves the launch');
    };
    await warm();
    assert.equal((await redwrap(['--redpath', leaf, '--', ...HOSTNAME], { env: fastOnly })).stdout, 'cached-leaf\n');
    assert.equal(statSync(plan).mode & 0o777, 0o600);

    chownSync(plan, 4242, 4242);
    await refusedWith(/not owned by the caller/);
    assert.equal(statSync(plan).uid, 0, 'the full CLI replaced it');
    chmodSync(plan, 0o620);
    await refusedWith(/writable by others/);
    copyFileSync(plan, `${plan}.real`);
    t.after(() => rmSync(`${plan}.real`, { force: true }));
    rmSync(plan);
    symlinkSync(`${plan}.real`, plan);
    await refusedWith(/Too many levels of symbolic links|symbolic link/);
    assert.ok(!lstatSync(plan).isSymbolicLink(), 'replaced by a plain file');
    writeFileSync(plan, Buffer.alloc(1024 * 1024 + 1, 0x31), { mode: 0o600 });
    await refusedWith(/larger than the plan size limit/);
  });

  it("binds a plan to its node's path and inode: a copied plan or a node made again is not served", async (t) => {
    const dir = tempDir(t);
    const a = node(t, dir, 'a', 'host-a');
    const b = node(t, dir, 'b', 'host-b');
    for (const leaf of [a, b]) assert.equal((await redwrap(['--redpath', leaf, '--', ...HOSTNAME])).status, 0);
    copyFileSync(cachedPlanPath(a), cachedPlanPath(b));
    assert.equal(
      (await redwrap(['--redpath', b, '--', ...HOSTNAME], { env: fastOnly })).status,
      10,
      "a's plan is not b's",
    );
    assert.equal((await redwrap(['--redpath', b, '--', ...HOSTNAME])).stdout, 'host-b\n');

    const oldPlan = cachedPlanPath(a);
    rmSync(a, { recursive: true });
    node(t, dir, 'a', 'host-a-again');
    // The inode may well be reused: the old plan then sits under the new node's name.
    if (cachedPlanPath(a) !== oldPlan) copyFileSync(oldPlan, cachedPlanPath(a));
    assert.equal(
      (await redwrap(['--redpath', a, '--', ...HOSTNAME], { env: fastOnly })).status,
      10,
      "the old node's plan is stale",
    );
    assert.equal((await redwrap(['--redpath', a, '--', ...HOSTNAME])).stdout, 'host-a-again\n');
    if (cachedPlanPath(a) !== oldPlan) rmSync(oldPlan, { force: true });
  });

  it('refuses a plan whose sandbox mark names another node (redwrap ps would attribute the sandbox to it)', async (t) => {
    const dir = tempDir(t);
    const a = node(t, dir, 'a', 'host-a');
    assert.equal((await redwrap(['--redpath', a, '--', ...HOSTNAME])).status, 0);
    const plan = cachedPlanPath(a);
    // The plan's fields (`<length>:<bytes>`), with the mark's node path (the 3rd bwrap argument) replaced.
    const data = readFileSync(plan);
    const fields: Buffer[] = [];
    for (let pos = 0; pos < data.length; ) {
      const colon = data.indexOf(0x3a, pos);
      const length = Number(data.subarray(pos, colon).toString());
      fields.push(data.subarray(colon + 1, colon + 1 + length));
      pos = colon + 1 + length;
    }
    const at = fields.findIndex((f, i) => f.toString() === 'REDWRAP_NODE' && fields[i - 2]?.toString() === '--setenv');
    assert.ok(at > 0 && fields[at + 2].toString() === a, 'the plan starts its bwrap arguments with the mark');
    fields[at + 2] = Buffer.from(join(dir, 'other'));
    writeFileSync(plan, Buffer.concat(fields.flatMap((f) => [Buffer.from(`${f.length}:`), f])), { mode: 0o600 });
    const run = await redwrap(['--redpath', a, '--', ...HOSTNAME], { env: fastOnly });
    assert.equal(run.status, 10, run.stdout);
    assert.match(run.stderr, /^redwrap: ignoring cached plan .*the plan does not start with the node's mark/);
    assert.equal((await redwrap(['--redpath', a, '--', ...HOSTNAME])).stdout, 'host-a\n', 'the full CLI serves it');
  });

  it('does not serve the old plan after an in-place edit that keeps size and mtime', async (t) => {
    const dir = tempDir(t);
    const leaf = node(t, dir, 'leaf', 'before-edit');
    assert.equal((await redwrap(['--redpath', leaf, '--', ...HOSTNAME])).status, 0);
    assert.equal((await redwrap(['--redpath', leaf, '--', ...HOSTNAME], { env: fastOnly })).stdout, 'before-edit\n');
    const file = join(leaf, 'etc/redpak.yaml');
    const old = statSync(file, { bigint: true });
    copyFileSync(file, `${file}.ref`);
    spawnSync('touch', ['-r', file, `${file}.ref`]);
    const text = readFileSync(file, 'utf8');
    writeFileSync(file, text.replace('before-edit', 'after--edit'));
    assert.equal(spawnSync('touch', ['-r', `${file}.ref`, file]).status, 0); // the old mtime back, to the nanosecond
    rmSync(`${file}.ref`);
    const now = statSync(file, { bigint: true });
    assert.equal(now.size, old.size);
    assert.equal(now.mtimeNs, old.mtimeNs);
    const fast = await redwrap(['--redpath', leaf, '--', ...HOSTNAME], { env: fastOnly });
    assert.equal(fast.status, 10, `the old plan must not be served (got ${fast.stdout.trim()})`);
    assert.equal((await redwrap(['--redpath', leaf, '--', ...HOSTNAME])).stdout, 'after--edit\n');
  });

  it("caches in $XDG_RUNTIME_DIR/redpak for a non-root caller, only when that directory is the caller's alone", async (t) => {
    const user = throwawayUser(t, { home: false });
    const dir = tempDir(t);
    chmodSync(dir, 0o755);
    const leaf = join(dir, 'leaf');
    makeNode(dir, leaf, 'leaf', config('leaf', 'user-leaf'));
    const xdg = join(dir, 'xdg');
    mkdirSync(xdg, { mode: 0o700 });
    chownSync(xdg, user.uid, user.gid);
    const env = { XDG_RUNTIME_DIR: xdg };
    const args = ['--redpath', leaf, '--', ...HOSTNAME];
    assert.equal(redwrapAs(user, args, env).status, 0);
    const served = redwrapAs(user, args, { ...env, ...fastOnly });
    assert.equal(served.status, 0, served.stderr);
    assert.equal(served.stdout, 'user-leaf\n');
    const plan = cachedPlanPath(leaf, false, user.uid, env, user.uid);
    assert.equal(plan.startsWith(`${join(xdg, 'redpak')}/`), true);
    assert.equal(statSync(plan).uid, user.uid);
    assert.equal(statSync(join(xdg, 'redpak')).mode & 0o777, 0o700);
    assert.ok(!existsSync(join(leaf, '.redpak')), 'nothing in the node');

    chmodSync(join(xdg, 'redpak'), 0o770);
    const open = redwrapAs(user, args, { ...env, ...fastOnly });
    assert.equal(open.status, 10);
    assert.match(open.stderr, /^redwrap: ignoring cached plan .*mode 0700/);
    chmodSync(join(xdg, 'redpak'), 0o700);
    chmodSync(xdg, 0o777);
    const shared = redwrapAs(user, args, { ...env, ...fastOnly });
    assert.equal(shared.status, 10);
    assert.match(shared.stderr, /^redwrap: ignoring cached plan .*writable by others/);
    chmodSync(xdg, 0o700);

    const noRuntime = { XDG_RUNTIME_DIR: '' };
    assert.equal(redwrapAs(user, args, noRuntime).stdout, 'user-leaf\n', 'the full CLI still runs it');
    assert.equal(
      redwrapAs(user, args, { ...noRuntime, ...fastOnly }).status,
      10,
      'without a runtime directory nothing is cached',
    );
  });
});
