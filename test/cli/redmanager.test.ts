/**
 * The executables' commands, run as a user runs them, in temporary directories: in-process
 * (test/helpers/in-process.ts), but for a launch, which needs the real executable (runBin).
 */
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { labelCacheFile } from '../../src/inspect/tree-cache.js';
import { callerCacheDir } from '../../src/system/caller-cache.js';
import { olderThanTheClockMargin } from '../helpers/read-caches.js';
import { tempDir } from '../helpers/family.js';
import { runBin, type BinRun } from '../helpers/cli.js';
import { runCommand } from '../helpers/in-process.js';

const run = (bin: 'redmanager' | 'redwrap-dnf', args: string[], options: { cwd?: string } = {}): Promise<BinRun> =>
  runCommand(bin, args, { cwd: options.cwd, env: { LOGNAME: 'tester', HOSTNAME: 'testhost' } });

const redmanager = (args: string[], options?: { cwd?: string }) => run('redmanager', args, options);

/** Every file below a directory, for "nothing changed" checks. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!existsSync(dir)) return out;
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    const full = join(entry.parentPath ?? (entry as unknown as { path: string }).path, entry.name);
    out[full] = entry.isFile() ? readFileSync(full, 'utf8') : '<dir>';
  }
  return out;
}

async function family(t: TestContext): Promise<{ dir: string; system: string; platform: string; app: string }> {
  const dir = tempDir(t);
  const system = join(dir, 'redpak');
  const platform = join(system, 'platform');
  const app = join(platform, 'app');
  assert.equal((await redmanager(['create-node', '--redpath', platform])).status, 0);
  assert.equal((await redmanager(['create-node', '--redpath', app, '--alias', 'myapp'])).status, 0);
  return { dir, system, platform, app };
}

describe('redmanager create-node', () => {
  it('creates a system node above a first node, with headers and an enabled status', async (t) => {
    const dir = tempDir(t);
    const node = join(dir, 'nodes', 'platform');
    const result = await redmanager(['create-node', '--redpath', node, '--json']);
    assert.equal(result.status, 0, result.stderr);
    assert.deepEqual(
      result.json.nodes.map((n: { alias: string; path: string }) => [n.alias, n.path]),
      [
        ['system', join(dir, 'nodes')],
        ['platform', node],
      ],
    );
    const config = readFileSync(join(node, 'etc/redpak.yaml'), 'utf8');
    assert.match(config, /alias: platform/);
    assert.match(config, /name: [0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}/);
    assert.match(config, /info: Node created by tester\(testhost\) the /);
    const status = readFileSync(join(node, '.rednode.yaml'), 'utf8');
    assert.match(status, new RegExp(`realpath: ${node}\n`));
    assert.match(status, /state: Enable/);
    assert.match(
      readFileSync(join(dir, 'nodes', 'etc/redpak.yaml'), 'utf8'),
      /share_all: disabled/,
      'system node uses the system templates',
    );
    assert.match(readFileSync(join(dir, 'nodes', 'etc/redpak-admin.yaml'), 'utf8'), /alias: admin-of-system/);
  });

  it('with --no-system-node, a first node uses the full templates and nothing is created above it', async (t) => {
    const dir = tempDir(t);
    const node = join(dir, 'solo');
    assert.equal((await redmanager(['create-node', '--redpath', node, '--no-system-node'])).status, 0);
    assert.equal(existsSync(join(dir, '.rednode.yaml')), false);
    assert.match(readFileSync(join(node, 'etc/redpak.yaml'), 'utf8'), /path: \/bin:\/nodes\/\$NODE_ALIAS\/usr\/bin/);
  });

  it('accepts a relative --redpath, taken from the current directory', async (t) => {
    const dir = tempDir(t);
    assert.equal((await redmanager(['create-node', '--redpath', 'top/child'], { cwd: dir })).status, 0);
    assert.equal(existsSync(join(dir, 'top/child/.rednode.yaml')), true);
    const tree = await redmanager(['tree', '--redroot', 'top', '--json'], { cwd: dir });
    assert.equal(tree.json.path, join(dir, 'top'));
    assert.equal(tree.json.children[0].alias, 'child');
  });

  it('refuses to overwrite a node, and changes nothing', async (t) => {
    const { app } = await family(t);
    const before = snapshot(app);
    const result = await redmanager(['create-node', '--redpath', app, '--json']);
    assert.equal(result.status, 3);
    assert.equal(result.json.error.code, 'node-exists');
    assert.match(result.json.error.hint, /--update/);
    assert.deepEqual(snapshot(app), before);
  });

  it('refuses to add a node below a disabled ancestor, and creates nothing', async (t) => {
    const { platform } = await family(t);
    assert.equal((await redmanager(['disable', '--redpath', platform])).status, 0);
    const result = await redmanager(['create-node', '--redpath', join(platform, 'other', 'deeper'), '--json']);
    assert.equal(result.status, 3);
    assert.equal(result.json.error.code, 'node-disabled');
    assert.match(result.json.error.message, /its ancestor platform .* is disabled/);
    assert.equal(existsSync(join(platform, 'other')), false);
  });

  it('--update keeps the headers and enables the node again', async (t) => {
    const { app } = await family(t);
    const name = /name: (.*)/.exec(readFileSync(join(app, 'etc/redpak.yaml'), 'utf8'))![1];
    assert.equal((await redmanager(['disable', '--redpath', app])).status, 0);
    assert.equal((await redmanager(['create-node', '--redpath', app, '--update'])).status, 0);
    const config = readFileSync(join(app, 'etc/redpak.yaml'), 'utf8');
    assert.match(config, /alias: myapp/);
    assert.match(config, new RegExp(`name: ${name}`));
    assert.match(readFileSync(join(app, '.rednode.yaml'), 'utf8'), /state: Enable/);
  });

  it('uses --config verbatim with rewritten headers, and writes no admin file without --config-admin', async (t) => {
    const dir = tempDir(t);
    writeFileSync(join(dir, 'mine.yaml'), '# kept comment\nheaders:\n  alias: whatever\nconfig:\n  hostname: box\n');
    const node = join(dir, 'n');
    assert.equal(
      (await redmanager(['create-node', '--redpath', node, '--no-system-node', '--config', join(dir, 'mine.yaml')]))
        .status,
      0,
    );
    const config = readFileSync(join(node, 'etc/redpak.yaml'), 'utf8');
    assert.match(config, /# kept comment/);
    assert.match(config, /alias: n\n/);
    assert.match(config, /hostname: box/);
    assert.equal(existsSync(join(node, 'etc/redpak-admin.yaml')), false);
  });

  it('rejects bad input with an error naming the culprit, leaving nothing behind', async (t) => {
    const dir = tempDir(t);
    writeFileSync(join(dir, 'broken.yaml'), 'headers:\n  alias: ok\nconfig:\n  hostnam: typo\n');
    const cases: [string[], number, RegExp][] = [
      [['--alias', 'bad/alias'], 4, /invalid node alias "bad\/alias"/],
      [['--template', 'nosuch'], 4, /no normal template "nosuch"/],
      [['--config', join(dir, 'broken.yaml')], 4, /broken\.yaml:4:3: unknown key "hostnam" in config/],
      [['--root', join(dir, 'no-such-sysroot')], 3, /sysroot .*no-such-sysroot does not exist/],
    ];
    for (const [flags, status, message] of cases) {
      const target = join(dir, 'family', 'node');
      const result = await redmanager(['create-node', '--redpath', target, ...flags]);
      assert.equal(result.status, status, `${flags.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, message);
      // Not even the system node that would have been created first.
      assert.equal(existsSync(join(dir, 'family')), false, flags.join(' '));
    }
  });
});

describe('--root SYSROOT', () => {
  it('creates nodes inside the image and expands $NODE_PATH as seen on the target', async (t) => {
    const image = tempDir(t);
    assert.equal((await redmanager(['create-node', '--root', image, '--redpath', '/var/redpak/app'])).status, 0);
    assert.equal(existsSync(join(image, 'var/redpak/app/.rednode.yaml')), true);
    assert.match(readFileSync(join(image, 'var/redpak/app/.rednode.yaml'), 'utf8'), /realpath: \/var\/redpak\/app\n/);
    const merged = await redmanager([
      'mergeconfig',
      '--root',
      image,
      '--redpath',
      '/var/redpak/app',
      '--expand',
      '--json',
    ]);
    assert.equal(merged.status, 0, merged.stderr);
    const mounts = merged.json.exports.map((e: { mount: string; path?: string }) => `${e.mount}<-${e.path ?? ''}`);
    assert.ok(mounts.includes('/nodes/app/usr<-/var/redpak/app/usr'), mounts.join('\n'));
    assert.equal(merged.json.leaf.path, '/var/redpak/app');
  });
});

describe('enable, disable, remove-node', () => {
  it('a disabled ancestor makes every command refuse the family, naming the node', async (t) => {
    const { platform, app } = await family(t);
    assert.equal((await redmanager(['disable', '--redpath', platform, '--json'])).json.state, 'Disable');
    const refused = await redmanager(['mergeconfig', '--redpath', app, '--json']);
    assert.equal(refused.status, 3);
    assert.equal(refused.json.error.code, 'node-disabled');
    assert.match(refused.json.error.message, new RegExp(`platform \\(${platform}\\) is disabled`));
    assert.match(refused.json.error.hint, /redmanager enable --redpath/);
    assert.equal((await redmanager(['enable', '--redpath', platform])).status, 0);
    assert.equal((await redmanager(['mergeconfig', '--redpath', app, '--json'])).status, 0);
  });

  it('remove-node refuses a node with children unless --recursive', async (t) => {
    const { platform, app } = await family(t);
    const refused = await redmanager(['remove-node', '--redpath', platform]);
    assert.equal(refused.status, 3);
    assert.match(refused.stderr, new RegExp(`has child nodes: ${app}`));
    assert.equal(existsSync(app), true);
    const removed = await redmanager(['remove-node', '--redpath', platform, '--recursive', '--json']);
    assert.deepEqual(removed.json.removed, [platform, app]);
    assert.equal(existsSync(platform), false);
  });
});

describe('inspection', () => {
  it('tree shows the family with aliases', async (t) => {
    const { dir, system } = await family(t);
    const text = (await redmanager(['tree', '--redroot', system])).stdout;
    assert.equal(text, `${dir}\n  └── redpak  (system)\n      └── platform  (platform)\n          └── app  (myapp)\n`);
  });

  it('tree keeps its labels in the caller’s cache directory, unless REDWRAP_NO_CACHE is set', async (t) => {
    const { system } = await family(t);
    const cacheDir = callerCacheDir(process.geteuid?.() ?? 0, { ...process.env, REDWRAP_NO_CACHE: undefined });
    assert.ok(cacheDir, 'the caller has a cache directory');
    const file = labelCacheFile(cacheDir, system);
    // A root removed earlier may have had this directory's inode: its file is no one's now.
    rmSync(file, { force: true });
    t.after(() => rmSync(file, { force: true }));
    const expected = `${dirname(system)}\n  └── redpak  (system)\n      └── platform  (platform)\n          └── app  (myapp)\n`;
    assert.equal(
      runBin('redmanager', ['tree', '--redroot', system], { env: { REDWRAP_NO_CACHE: '1' } }).stdout,
      expected,
    );
    assert.ok(!existsSync(file));
    assert.equal(runBin('redmanager', ['tree', '--redroot', system]).stdout, expected);
    assert.ok(existsSync(file));
  });

  it('mergeconfig and --dump-only read a node again once its files change (docs/read-caches.md)', async (t) => {
    const { app } = await family(t);
    await olderThanTheClockMargin();
    const uncached = { env: { REDWRAP_NO_CACHE: '1' } };
    const views: [Parameters<typeof runBin>[0], string[]][] = [
      ['redmanager', ['mergeconfig', '--json', '--redpath', app]],
      ['redwrap', ['--dump-only', '--redpath', app, '--', '/bin/true']],
    ];
    const before = views.map(([bin, args]) => runBin(bin, args).stdout);
    assert.deepEqual(
      views.map(([bin, args]) => runBin(bin, args).stdout),
      before,
    );
    const config = join(app, 'etc/redpak.yaml');
    writeFileSync(config, readFileSync(config, 'utf8').replace('share_net: enabled', 'share_net: disabled'));
    const after = views.map(([bin, args]) => runBin(bin, args).stdout);
    assert.deepEqual(
      after,
      views.map(([bin, args]) => runBin(bin, args, uncached).stdout),
    );
    assert.notDeepEqual(after, before);
  });

  it('config prints one node, parsed, with its status', async (t) => {
    const { app } = await family(t);
    const result = await redmanager(['config', '--redpath', app, '--json']);
    assert.equal(result.json.normal.headers.alias, 'myapp');
    assert.equal(result.json.admin.headers.alias, 'admin-of-myapp');
    assert.equal(result.json.status.state, 'Enable');
    assert.equal(result.json.normal.config['die-with-parent'], 'Unset');
  });

  it('mergeconfig names the node, file and line of every value, and what it overrides', async (t) => {
    const { system, app } = await family(t);
    const result = await redmanager(['mergeconfig', '--redpath', app, '--json']);
    assert.equal(result.status, 0, result.stderr);
    const hostname = result.json.config.hostname;
    assert.equal(hostname.value, 'myapp', 'hostname: $LEAF_ALIAS, expanded for the leaf');
    assert.equal(hostname.from.node, system);
    assert.equal(hostname.from.file, join(system, 'etc/redpak.yaml'));
    assert.ok(hostname.from.line > 0);
    const net = result.json.config.shares.net;
    assert.equal(net.value, 'enabled');
    assert.equal(net.from.alias, 'myapp', 'the leaf template enables the network, the closest definition');
    assert.equal(net.overrides.length, 2);
    const text = (await redmanager(['mergeconfig', '--redpath', app])).stdout;
    assert.match(
      text,
      new RegExp(`# info: from system \\(${system}\\) ${system}/etc/redpak.yaml:\\d+\n\\s*hostname: myapp`),
    );
  });

  it('mergeconfig --admin reads the admin files, --expand expands exports and environ', async (t) => {
    const { app } = await family(t);
    const plain = (await redmanager(['mergeconfig', '--redpath', app, '--json'])).json;
    const admin = (await redmanager(['mergeconfig', '--redpath', app, '--admin', '--expand', '--json'])).json;
    assert.ok(!plain.environ.some((e: { key: string }) => e.key === 'AFMPKG_REDPAKID'));
    const id = admin.environ.find((e: { key: string }) => e.key === 'AFMPKG_REDPAKID');
    assert.match(id.value, /^[0-9a-f-]{36}$/, 'expanded $LEAF_NAME');
    assert.ok(admin.exports.some((e: { mount: string }) => e.mount === `${app}/var/lib/rpm`));
  });

  it('errors exit non-zero with a message, and with --json an error object', async (t) => {
    const dir = tempDir(t);
    const result = await redmanager(['mergeconfig', '--redpath', dir, '--json']);
    assert.equal(result.status, 3);
    assert.equal(result.json.error.code, 'not-a-node');
    const text = await redmanager(['tree', '--redroot', dir]);
    assert.equal(text.status, 3);
    assert.match(text.stderr, /^redmanager: error: .* is not a node/);
  });

  it('reports a broken config anywhere in the family with its file and line', async (t) => {
    const { platform, app } = await family(t);
    const file = join(platform, 'etc/redpak.yaml');
    writeFileSync(file, readFileSync(file, 'utf8').replace('share_net: enabled', 'share_net: enabled\n  bogus: 1'));
    const result = await redmanager(['mergeconfig', '--redpath', app]);
    assert.equal(result.status, 4);
    assert.match(result.stderr, new RegExp(`${file}:\\d+:3: unknown key "bogus" in config`));
  });
});

describe('hostile node files and paths', () => {
  it('an alias bomb in a node config is a clear error, exit 4, for every command that reads it', async (t) => {
    const { app } = await family(t);
    const file = join(app, 'etc/redpak.yaml');
    const levels = 'abcdefgh'.split('');
    const lines = ['headers:', '  alias: myapp', 'environ:', '  - &a [x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < levels.length; i += 1)
      lines.push(
        `  - &${levels[i]} [${Array(9)
          .fill(`*${levels[i - 1]}`)
          .join(', ')}]`,
      );
    writeFileSync(file, `${lines.join('\n')}\n`);
    for (const command of [
      ['mergeconfig', '--redpath', app],
      ['config', '--redpath', app],
      ['tree', '--redroot', app],
    ]) {
      const result = await redmanager(command);
      assert.equal(result.status, 4, `${command[0]}: ${result.stderr}`);
      assert.match(result.stderr, new RegExp(`${file}:\\d+:\\d+: more than 100 alias references`), command[0]);
      assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
    }
  });

  it("a relative export source is refused at launch (exit 10), nothing created in the caller's directory", async (t) => {
    const { dir, app } = await family(t);
    const file = join(app, 'etc/redpak.yaml');
    writeFileSync(
      file,
      readFileSync(file, 'utf8').replace(
        'exports:\n',
        'exports:\n- mode: Private\n  mount: /opt/data\n  path: made-here/data\n',
      ),
    );
    const cwd = join(dir, 'caller');
    mkdirSync(cwd);
    const result = runBin('redwrap', ['--redpath', app, '--', '/bin/true'], { cwd });
    assert.equal(result.status, 10, result.stderr);
    assert.match(
      result.stderr,
      new RegExp(`${file}:\\d+:\\d+: export /opt/data of myapp .* has a relative source "made-here/data"`),
    );
    assert.deepEqual(readdirSync(cwd), []);
  });

  it('a symlinked --redpath shows the real family', async (t) => {
    const { dir, system, platform, app } = await family(t);
    symlinkSync(app, join(dir, 'shortcut'));
    const result = await redmanager(['mergeconfig', '--redpath', join(dir, 'shortcut'), '--json']);
    assert.equal(result.status, 0, result.stderr);
    assert.deepEqual(
      result.json.family.map((n: { path: string }) => n.path),
      [app, platform, system],
    );
  });
});

describe('no command runs during inspection', () => {
  it('redwrap --dump-only, mergeconfig, explain and check show $(...) unexpanded and run nothing', async (t) => {
    const { dir, system, app } = await family(t);
    const ran = (name: string) => join(dir, `ran-${name}`);
    const file = join(app, 'etc/redpak.yaml');
    writeFileSync(
      file,
      readFileSync(file, 'utf8')
        .replace('environ:\n', `environ:\n- key: PWNED\n  value: "$(touch ${ran('environ')})"\n`)
        .replace(
          'exports:\n',
          `exports:\n- mode: Private\n  mount: /opt/x\n  path: $NODE_PATH/$(touch ${ran('export')})\n`,
        ),
    );
    const shown = new RegExp(`<not run: \\$\\(touch ${dir}/ran-environ\\)>`);
    const dump = await runCommand('redwrap', ['--redpath', app, '--dump-only', '--', '/bin/true'], {
      env: { LOGNAME: 'tester' },
    });
    assert.equal(dump.status, 0, dump.stderr);
    assert.match(dump.stdout, shown);
    const merged = await redmanager(['mergeconfig', '--redpath', app, '--expand']);
    assert.equal(merged.status, 0, merged.stderr);
    assert.match(merged.stdout, shown);
    const explained = await redmanager(['explain', '--redpath', app]);
    assert.equal(explained.status, 0, explained.stderr);
    assert.match(explained.stdout, shown);
    const checked = await redmanager(['check', '--redroot', system, '--no-packages', '--no-files', '--json']);
    assert.ok(checked.json, checked.stderr);
    for (const name of ['environ', 'export']) assert.equal(existsSync(ran(name)), false, `$(...) in ${name} was run`);
  });
});

describe('redwrap-dnf manager', () => {
  it("is redpak's spelling of create-node, options before the command", async (t) => {
    const dir = tempDir(t);
    const node = join(dir, 'sys', 'app');
    const result = await run('redwrap-dnf', ['--redpath', node, 'manager', '--alias', 'app1']);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, new RegExp(`SUCCESS: rednode ${node} ready`));
    assert.match(readFileSync(join(node, 'etc/redpak.yaml'), 'utf8'), /alias: app1/);
    assert.equal(existsSync(join(dir, 'sys', '.rednode.yaml')), true);
  });
});

describe('--help', () => {
  it('explains every command', async () => {
    for (const command of [
      'create-node',
      'tree',
      'config',
      'mergeconfig',
      'enable',
      'disable',
      'remove-node',
      'demo',
    ]) {
      const result = await redmanager([command, '--help']);
      assert.equal(result.status, 0, command);
      assert.match(result.stdout, /USAGE/, command);
      assert.match(result.stdout, /--json/, command);
    }
  });
});
