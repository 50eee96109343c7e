/**
 * Hostile node trees: symbolic links on the way to a node, planted in a node, and oversized or
 * crafted node files. Each case plants the link or file the way an untrusted node admin (or an
 * image from elsewhere) could, and checks that the family is the real one, or that the command
 * refuses with the path named and nothing written.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, lstatSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RedpakError } from '../../src/errors.js';
import { Sysroot } from '../../src/node/layout.js';
import { loadFamily, loadTree } from '../../src/node/load.js';
import { createNode } from '../../src/node/factory.js';
import { openPackageFamily } from '../../src/pkg/family-context.js';
import { pinnedHost, tempDir } from '../helpers/family.js';

const host = pinnedHost();

/** system → platform → app, created with the templates. */
function family(dir: string): { system: string; platform: string; app: string } {
  const system = join(dir, 'redpak');
  const platform = join(system, 'platform');
  const app = join(platform, 'app');
  createNode({ redpath: platform, host });
  createNode({ redpath: app, host });
  return { system, platform, app };
}

const isRedpak = (code: string, pattern: RegExp) => (error: unknown) => {
  assert.ok(error instanceof RedpakError, String(error));
  assert.equal(error.code, code, error.message);
  assert.match(error.message, pattern);
  return true;
};

/** Every entry below a path (the path itself when a file), with file contents. */
function snapshot(path: string): [string, string][] {
  if (lstatSync(path).isFile()) return [[path, readFileSync(path, 'utf8')]];
  return readdirSync(path, { recursive: true })
    .map(String)
    .sort()
    .map((f) => [f, lstatSync(join(path, f)).isFile() ? readFileSync(join(path, f), 'utf8') : '<dir>']);
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('the family of a node reached through a symbolic link', () => {
  it('is the real family: the ancestors are found from the resolved path', (t) => {
    const dir = tempDir(t);
    const { system, platform, app } = family(dir);
    const link = join(dir, 'shortcut');
    symlinkSync(app, link);
    const loaded = loadFamily(link);
    assert.deepEqual(
      loaded.nodes.map((n) => n.path),
      [app, platform, system],
    );
  });

  it('package management locks and reads the real family root', (t) => {
    const dir = tempDir(t);
    const { system, app } = family(dir);
    const link = join(dir, 'shortcut');
    symlinkSync(app, link);
    const pf = openPackageFamily({ redpath: link, host });
    assert.equal(pf.node.path, app);
    assert.equal(pf.top.hostPath, system, 'the family lock is taken on the real root');
    assert.deepEqual(pf.ancestors.map((a) => a.root).slice(0, 2), [join(system, 'platform'), system]);
  });

  it('a link in a parent directory is followed too', (t) => {
    const dir = tempDir(t);
    const { system, platform, app } = family(dir);
    symlinkSync(platform, join(dir, 'plat'));
    assert.deepEqual(
      loadFamily(join(dir, 'plat', 'app')).nodes.map((n) => n.path),
      [app, platform, system],
    );
  });

  it('is refused when the node reached does not live where its status says', (t) => {
    const dir = tempDir(t);
    const { app } = family(dir);
    const status = join(app, '.rednode.yaml');
    writeFileSync(status, readFileSync(status, 'utf8').replace(/realpath: .*/, 'realpath: /elsewhere/app'));
    const link = join(dir, 'shortcut');
    symlinkSync(app, link);
    assert.throws(
      () => loadFamily(link),
      isRedpak('not-a-node', /leads to the node app at .*status says it lives at \/elsewhere\/app/),
    );
    // Named by its own path, a moved node is taken where it is.
    assert.equal(loadFamily(app).nodes[0]!.path, app);
  });

  it('inside a sysroot, an absolute link is taken from the sysroot and cannot leave it', (t) => {
    const image = tempDir(t);
    createNode({ redpath: '/var/redpak/platform', sysroot: image, host });
    createNode({ redpath: '/var/redpak/platform/app', sysroot: image, host });
    mkdirSync(join(image, 'opt'));
    symlinkSync('/var/redpak/platform/app', join(image, 'opt', 'app'));
    const sysroot = new Sysroot(image);
    assert.deepEqual(
      loadFamily('/opt/app', { sysroot }).nodes.map((n) => n.path),
      ['/var/redpak/platform/app', '/var/redpak/platform', '/var/redpak'],
    );
    // A link climbing out stops at the sysroot's `/`, as in a chroot.
    symlinkSync('../../../../../../../../var/redpak/platform', join(image, 'opt', 'up'));
    assert.equal(sysroot.resolveTarget('/opt/up/app'), '/var/redpak/platform/app');
    // The host's own /tmp is not reached through /tmp in the image.
    symlinkSync('/tmp', join(image, 'hosttmp'));
    assert.equal(sysroot.resolveTarget('/hosttmp'), '/tmp');
    assert.equal(sysroot.toHost(sysroot.resolveTarget('/hosttmp')), join(image, 'tmp'));
  });

  it('a tree listed through a link is the real tree', (t) => {
    const dir = tempDir(t);
    const { platform, app } = family(dir);
    symlinkSync(platform, join(dir, 'plat'));
    const tree = loadTree(join(dir, 'plat'));
    assert.equal(tree.path, platform);
    assert.deepEqual(
      tree.children.map((c) => c.path),
      [app],
    );
  });
});

describe('create-node and symbolic links in a node', () => {
  for (const planted of ['etc', 'var', 'var/lib/rpm', 'etc/redpak.yaml', 'etc/redpak-admin.yaml', '.rednode.yaml']) {
    it(`refuses --update when ${planted} is a symbolic link, and writes nothing`, (t) => {
      const dir = tempDir(t);
      const { app } = family(dir);
      mkdirSync(join(app, 'var/lib/rpm'), { recursive: true });
      // The link points at a copy of what it replaces, outside the node: a write through it would show there.
      const outside = join(dir, 'outside');
      const at = join(app, planted);
      cpSync(at, outside, { recursive: true });
      rmSync(at, { recursive: true });
      symlinkSync(outside, at);
      const before = snapshot(outside);
      assert.throws(
        () => createNode({ redpath: app, update: true, host }),
        isRedpak('io', new RegExp(`${escapeRegExp(at)} is a symbolic link`)),
      );
      assert.deepEqual(snapshot(outside), before, 'nothing written through the link');
    });
  }

  it('refuses a node directory that is a symbolic link', (t) => {
    const dir = tempDir(t);
    const { platform } = family(dir);
    const elsewhere = join(dir, 'elsewhere');
    mkdirSync(elsewhere);
    symlinkSync(elsewhere, join(platform, 'new'));
    assert.throws(
      () => createNode({ redpath: join(platform, 'new'), host }),
      isRedpak('io', /new is a symbolic link: a node directory must be a directory/),
    );
    assert.deepEqual(readdirSync(elsewhere), []);
  });

  it('a new node below a linked parent is created in the real family, with its real path recorded', (t) => {
    const dir = tempDir(t);
    const { platform } = family(dir);
    symlinkSync(platform, join(dir, 'plat'));
    const created = createNode({ redpath: join(dir, 'plat', 'other'), host });
    assert.deepEqual(
      created.map((c) => c.path),
      [join(platform, 'other')],
    );
    assert.match(
      readFileSync(join(platform, 'other', '.rednode.yaml'), 'utf8'),
      new RegExp(`realpath: ${join(platform, 'other')}\n`),
    );
  });
});

describe('reading a node through a link planted in it', () => {
  it('refuses etc/redpak.yaml -> a host file, naming the link', (t) => {
    const dir = tempDir(t);
    const { platform, app } = family(dir);
    const secret = join(dir, 'secret.yaml');
    writeFileSync(secret, readFileSync(join(platform, 'etc/redpak.yaml')));
    rmSync(join(app, 'etc/redpak.yaml'));
    symlinkSync(secret, join(app, 'etc/redpak.yaml'));
    assert.throws(() => loadFamily(app), isRedpak('io', /etc\/redpak\.yaml is a symbolic link/));
  });

  it('refuses a status file that is a link', (t) => {
    const dir = tempDir(t);
    const { platform, app } = family(dir);
    rmSync(join(app, '.rednode.yaml'));
    symlinkSync(join(platform, '.rednode.yaml'), join(app, '.rednode.yaml'));
    assert.throws(() => loadFamily(app), isRedpak('io', /\.rednode\.yaml is a symbolic link/));
  });

  it('refuses an etc directory that is a link', (t) => {
    const dir = tempDir(t);
    const { platform, app } = family(dir);
    rmSync(join(app, 'etc'), { recursive: true });
    symlinkSync(join(platform, 'etc'), join(app, 'etc'));
    assert.throws(() => loadFamily(app), isRedpak('io', /app\/etc is a symbolic link/));
  });
});

describe('node file bounds', () => {
  it('refuses a status file above the size limit before reading it', (t) => {
    const dir = tempDir(t);
    const { app } = family(dir);
    writeFileSync(join(app, 'etc/redpak.yaml'), `headers:\n  alias: app\n#${'x'.repeat(2 << 20)}\n`);
    assert.throws(
      () => loadFamily(app),
      isRedpak('schema', /etc\/redpak\.yaml is \d+ bytes, above the limit of 1048576/),
    );
  });

  it('REDPAK_MAX_CONFIG_BYTES raises the limit', (t) => {
    const dir = tempDir(t);
    const { app } = family(dir);
    writeFileSync(join(app, 'etc/redpak.yaml'), `headers:\n  alias: app\n#${'x'.repeat(2 << 20)}\n`);
    process.env.REDPAK_MAX_CONFIG_BYTES = String(4 << 20);
    t.after(() => delete process.env.REDPAK_MAX_CONFIG_BYTES);
    assert.equal(loadFamily(app).nodes[0]!.alias, 'app');
  });
});
