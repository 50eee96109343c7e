/**
 * Recipes (src/image/recipe*.ts): parsing and checking (pure), planning (pure, on a given state),
 * and applying into a sysroot with real rpm databases from the fixture repository: idempotence,
 * pins, prune, the lock file, --frozen, and "nothing changed" on every kind of bad input.
 */
import assert from 'node:assert/strict';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, before, type TestContext } from 'node:test';
import { RedpakError } from '../../src/errors.js';
import { Sysroot } from '../../src/node/layout.js';
import { parseRecipe, pinMatches } from '../../src/image/recipe.js';
import { planRecipe, type FamilyState, type NodeSnapshot, type PackageState } from '../../src/image/recipe-plan.js';
import { applyRecipe } from '../../src/image/recipe-apply.js';
import { lockedFiles, readLock, type LockFile } from '../../src/image/recipe-lock.js';
import { pinnedHost, tempDir } from '../helpers/family.js';
import { fixtureRepo, installedNames } from '../pkg/helpers/family.js';
import { snapshotNode } from '../pkg/helpers/nodes.js';
import { LOCK_FILE } from '../../src/pkg/lock.js';
import { holdLock } from '../helpers/lock-holder.js';
import { unsignedTemplateDir } from '../helpers/unsigned-templates.js';

function fails(work: () => unknown, code: string, message: RegExp, line?: number): RedpakError {
  try {
    work();
  } catch (error) {
    assert.ok(error instanceof RedpakError, String(error));
    assert.equal(error.code, code, error.message);
    assert.match(error.message, message);
    if (line !== undefined) assert.equal(error.at?.line, line, `${error.message} at ${JSON.stringify(error.at)}`);
    return error;
  }
  assert.fail('no error');
}

const BASE = `redroot: /var/redpak
repositories:
  - {id: base, baseurl: "file:///srv/mirror"}
nodes:
  - path: /var/redpak/platform
    packages: [libredfoo = 1.0-1, redfoo-conf]
  - parent: platform
    name: app
    packages: [redhello]
`;

describe('recipe: parsing and checking', () => {
  it('reads nodes parents first, aliases, pins, repositories', () => {
    const recipe = parseRecipe(
      BASE.replace(
        /nodes:\n([\s\S]*)/,
        (_, rest: string) => `nodes:\n  - path: /var/redpak/platform/app/deep\n    enabled: false\n${rest}`,
      ),
      'r.yaml',
    );
    assert.deepEqual(
      recipe.nodes.map((n) => [n.path, n.alias, n.enabled]),
      [
        ['/var/redpak/platform', 'platform', true],
        ['/var/redpak/platform/app', 'app', true],
        ['/var/redpak/platform/app/deep', 'deep', false],
      ],
    );
    assert.deepEqual(
      recipe.nodes[0]!.packages.map((p) => [p.name, p.pin]),
      [
        ['libredfoo', '1.0-1'],
        ['redfoo-conf', undefined],
      ],
    );
    assert.match(
      recipe.repositories[0]!.text,
      /\[base\]\nname=base\nbaseurl=file:\/\/\/srv\/mirror\nenabled=1\ngpgcheck=0\n/,
    );
    const https = parseRecipe(
      BASE.replace(
        '{id: base, baseurl: "file:///srv/mirror"}',
        '{id: base, baseurl: "https://mirror.example/el", sslcacert: /etc/pki/corp.pem, sslverify: yes, timeout: 10}',
      ),
      'r.yaml',
    );
    assert.match(https.repositories[0]!.text, /\nsslcacert=\/etc\/pki\/corp.pem\nsslverify=1\ntimeout=10\n$/);
    assert.ok(
      pinMatches('1.0', '1.0-1') &&
        pinMatches('1.0-1', '1.0-1') &&
        !pinMatches('1.0-1', '1.0-2') &&
        !pinMatches('1:1.0', '1.0-1'),
    );
  });

  it('bad input: each a clear error at its file:line', () => {
    fails(
      () =>
        parseRecipe(BASE.replace('    packages: [redhello]', '    packages: [redhello]\n    pakages: [x]'), 'r.yaml'),
      'schema',
      /unknown key "pakages" in nodes\[1\]/,
      10,
    );
    fails(
      () => parseRecipe(BASE.replace('/var/redpak/platform\n', '/opt/platform\n'), 'r.yaml'),
      'schema',
      /node platform \(\/opt\/platform\) is outside the redroot \/var\/redpak/,
      5,
    );
    fails(
      () => parseRecipe(BASE.replace('/var/redpak/platform\n', '/var/redpak/../platform\n'), 'r.yaml'),
      'schema',
      /outside the redroot/,
    );
    const cycle = `redroot: /r\nnodes:\n  - {parent: b, name: a, alias: a}\n  - {parent: a, name: b, alias: b}\n`;
    fails(() => parseRecipe(cycle, 'r.yaml'), 'schema', /nodes a → b → a form a cycle/, 3);
    fails(
      () => parseRecipe(BASE.replace('[redhello]', '[redhello >= 1.0]'), 'r.yaml'),
      'schema',
      /only "=" pins a version/,
      9,
    );
    fails(
      () => parseRecipe(BASE.replace('[redhello]', '[redhello, libredfoo]'), 'r.yaml'),
      'family-rule',
      /libredfoo is listed for node app and for its ancestor platform/,
      9,
    );
    fails(
      () =>
        parseRecipe(
          BASE.replace(
            '    packages: [redhello]',
            '    config:\n      config:\n        share_net: enabled\n        hostnme: x',
          ),
          'r.yaml',
        ),
      'schema',
      /unknown key "hostnme" in nodes\[1\]\.config\.config/,
      12,
    );
    fails(
      () =>
        parseRecipe(
          BASE.replace(
            '    packages: [redhello]',
            '    config:\n      config:\n        umask: 027\n      seccomp:\n        rules: [{syscall: nosuchcall, action: kill}]',
          ),
          'r.yaml',
        ),
      'schema',
      /inline config of node app: .*nosuchcall/,
      9,
    );
    fails(
      () => parseRecipe(BASE.replace('file:///srv/mirror', 'ftp://x'), 'r.yaml'),
      'schema',
      /repository base: .*unsupported baseurl "ftp:\/\/x"/,
      3,
    );
    fails(() => parseRecipe('redroot: /r\nnodes: []\n', 'r.yaml'), 'schema', /no node/);
    fails(
      () => parseRecipe('redroot: /r\nnodes:\n  - {path: /r/a, alias: "bad alias"}\n', 'r.yaml'),
      'invalid-alias',
      /bad alias/,
    );
  });

  it('hostile repositories: a newline in baseurl cannot inject a section, control characters and ids . / .. are refused at file:line', () => {
    const inject = BASE.replace(
      '"file:///srv/mirror"',
      '"file:///srv/mirror\\n[evil]\\nbaseurl=file:///tmp/evil\\ngpgcheck=0"',
    );
    fails(
      () => parseRecipe(inject, 'r.yaml'),
      'schema',
      /repository base: baseurl in r\.yaml holds a control character \(\\x0a\)/,
      3,
    );
    // A NUL is refused by the YAML reader itself, before the repository checks (file and line in `at`).
    const nul = fails(
      () =>
        parseRecipe(
          BASE.replace('"file:///srv/mirror"}', '"file:///srv/mirror", gpgkey: "file:///k\\u0000"}'),
          'r.yaml',
        ),
      'schema',
      /gpgkey holds a NUL character/,
      3,
    );
    assert.equal(nul.at?.file, 'r.yaml');
    fails(
      () => parseRecipe(BASE.replace('"file:///srv/mirror"}', '"file:///srv/mirror", name: "a\\rb"}'), 'r.yaml'),
      'schema',
      /name in r\.yaml holds a control character/,
      3,
    );
    for (const id of ['.', '..'])
      fails(
        () => parseRecipe(BASE.replace('{id: base,', `{id: "${id}",`), 'r.yaml'),
        'schema',
        /repository id "\.\.?" in r\.yaml is not allowed/,
        3,
      );
  });

  it('--frozen: a lock file location that leaves the mirror is refused, naming the package', () => {
    const mirror = mkdtempSync(join(tmpdir(), 'redpak-mirror-'));
    try {
      writeFileSync(join(tmpdir(), 'redpak-outside.rpm'), 'x');
      const lock: LockFile = {
        version: 1,
        recipe: { file: 'r.yaml', sha256: '0' },
        redroot: '/var/redpak',
        nodes: [
          {
            path: '/var/redpak/app',
            alias: 'app',
            repositories: [],
            packages: [
              {
                nevra: 'evil-1-1.noarch',
                name: 'evil',
                sha256: '0'.repeat(64),
                repo: 'base',
                href: '../redpak-outside.rpm',
              },
            ],
          },
        ],
      };
      fails(
        () => lockedFiles(lock, [mirror]),
        'package',
        /the location of evil-1-1\.noarch \("\.\.\/redpak-outside\.rpm"\) climbs out with \.\./,
      );
    } finally {
      rmSync(mirror, { recursive: true, force: true });
      rmSync(join(tmpdir(), 'redpak-outside.rpm'), { force: true });
    }
  });

  it('a symlink on the way out of the redroot is refused', (t) => {
    const dir = tempDir(t);
    mkdirSync(join(dir, 'var/redpak'), { recursive: true });
    mkdirSync(join(dir, 'elsewhere'));
    symlinkSync(join(dir, 'elsewhere'), join(dir, 'var/redpak/platform'));
    fails(
      () => parseRecipe(BASE, 'r.yaml', { sysroot: new Sysroot(dir) }),
      'schema',
      /outside the redroot \/var\/redpak: \/var\/redpak\/platform is a symbolic link/,
    );
  });
});

const pkg = (name: string, evr: string, extra: Partial<PackageState> = {}): PackageState => ({
  name,
  evr,
  nevra: `${name}-${evr}.x86_64`,
  provides: [name],
  requires: [],
  files: [],
  ...extra,
});
const node = (
  path: string,
  alias: string,
  packages: PackageState[],
  extra: Partial<NodeSnapshot> = {},
): NodeSnapshot => ({
  path,
  alias,
  state: 'Enable',
  packages,
  hasHostProvides: false,
  repoFiles: {},
  ...extra,
});

describe('recipe: the plan (pure)', () => {
  const recipe = parseRecipe(BASE, 'r.yaml');
  const repoText = recipe.repositories[0]!.text;
  const applied = (): FamilyState => ({
    nodes: {
      '/var/redpak': node('/var/redpak', 'system', [], { repoFiles: { base: repoText } }),
      '/var/redpak/platform': node('/var/redpak/platform', 'platform', [
        pkg('libredfoo', '1.0-1'),
        pkg('redfoo-conf', '1.0-1'),
      ]),
      '/var/redpak/platform/app': node('/var/redpak/platform/app', 'app', [pkg('redhello', '1.0-1')]),
    },
  });

  it('from nothing: system node, repository in the top node, installs, parents first', () => {
    const plan = planRecipe({ recipe, state: { nodes: {} }, desired: {}, defaultHostProvides: false });
    assert.equal(plan.empty, false);
    assert.equal(plan.nodes[0]!.systemNode, '/var/redpak');
    assert.deepEqual(
      plan.nodes[0]!.repos.map((r) => [r.id, r.node, r.reason]),
      [['base', '/var/redpak', 'new']],
    );
    assert.deepEqual(
      plan.nodes.map((n) => n.jobs),
      [
        [
          { op: 'install', what: 'libredfoo = 1.0-1' },
          { op: 'install', what: 'redfoo-conf' },
        ],
        [{ op: 'install', what: 'redhello' }],
      ],
    );
  });

  it('applied already: an empty plan; a moved pin, a prune and a changed repository are planned', () => {
    assert.equal(planRecipe({ recipe, state: applied(), desired: {}, defaultHostProvides: false }).empty, true);
    const state = applied();
    state.nodes['/var/redpak/platform']!.packages[0] = pkg('libredfoo', '2.0-1');
    state.nodes['/var/redpak/platform/app']!.packages.push(pkg('redlegacy', '1.0-1'), pkg('redhello-dep', '1.0-1'));
    state.nodes['/var/redpak/platform/app']!.packages[0]!.requires = ['redhello-dep'];
    state.nodes['/var/redpak']!.repoFiles.base = '[base]\nbaseurl=file:///old\n';
    const pruning = parseRecipe(`prune: true\n${BASE}`, 'r.yaml');
    const plan = planRecipe({ recipe: pruning, state, desired: {}, defaultHostProvides: false });
    assert.deepEqual(plan.nodes[0]!.jobs, [{ op: 'install', what: 'libredfoo = 1.0-1' }]);
    assert.equal(plan.nodes[0]!.packages[0]!.reason, 'pinned (replaces libredfoo-2.0-1.x86_64)');
    assert.deepEqual(
      plan.nodes[1]!.jobs,
      [{ op: 'erase', what: 'redlegacy-1.0-1.x86_64' }],
      'redhello-dep is needed by a listed package',
    );
    assert.equal(plan.nodes[0]!.repos[0]!.reason, 'changed');
  });

  it('an existing node with another alias, or a system node outside the redroot, is refused', () => {
    const state = applied();
    state.nodes['/var/redpak/platform']!.alias = 'plat';
    fails(
      () => planRecipe({ recipe, state, desired: {}, defaultHostProvides: false }),
      'schema',
      /exists with alias plat, the recipe says platform/,
    );
    const top = parseRecipe('redroot: /var/redpak\nnodes:\n  - path: /var/redpak\n', 'r.yaml');
    fails(
      () => planRecipe({ recipe: top, state: { nodes: {} }, desired: {}, defaultHostProvides: false }),
      'schema',
      /system node at \/var, outside the redroot/,
    );
  });
});

describe('recipe: apply into a sysroot (real rpm databases)', () => {
  let repoDir: string;
  before(async () => {
    repoDir = (await fixtureRepo()).repoDir;
  });
  // The fixture packages are unsigned: the family's system node is made from templates that say so.
  const host = pinnedHost({ env: { ...pinnedHost().env, REDNODE_TEMPLATE_DIR: unsignedTemplateDir() } });
  const write = (dir: string, text: string, name = 'image.yaml') => {
    const file = join(dir, name);
    writeFileSync(
      file,
      text
        .replace('file:///srv/mirror', `file://${repoDir}`)
        .replace('redroot: /var/redpak', 'redroot: /var/redpak\nhost-provides: true'),
    );
    return file;
  };
  const sysrootOf = (t: TestContext) => {
    const dir = tempDir(t);
    mkdirSync(join(dir, 'rootfs'));
    return { dir, root: join(dir, 'rootfs'), node: (p: string) => join(dir, 'rootfs', p) };
  };

  it('builds the family, writes the lock; a second apply changes nothing and says so', async (t) => {
    const s = sysrootOf(t);
    const recipe = write(s.dir, BASE);
    const dry = await applyRecipe({ recipe, sysroot: s.root, dryRun: true, host });
    assert.equal(dry.mode, 'dry-run');
    assert.ok(
      dry.plan.includes('create node platform (/var/redpak/platform) with the system node /var/redpak above it'),
      dry.plan.join('\n'),
    );
    assert.deepEqual(readdirSync(s.root), [], 'a dry run changes nothing');

    const first = await applyRecipe({ recipe, sysroot: s.root, host });
    assert.equal(first.changed, true);
    assert.deepEqual(
      first.nodes.map((n) => [n.alias, n.created, n.transaction?.packages.map((p) => p.nevra).sort()]),
      [
        ['platform', true, ['libredfoo-1.0-1.x86_64', 'redfoo-conf-1.0-1.noarch']],
        ['app', true, ['redhello-1.0-1.x86_64']],
      ],
    );
    assert.deepEqual(await installedNames(s.node('var/redpak/platform/app')), ['redhello']);
    assert.ok(existsSync(s.node('var/redpak/etc/yum.repos.d/base.repo')));
    assert.equal(first.lock.written, true);
    const lock = readLock(join(s.dir, 'image.lock.yaml'));
    assert.deepEqual(
      lock.nodes.map((n) => [n.alias, n.packages.map((p) => p.nevra)]),
      [
        ['platform', ['libredfoo-1.0-1.x86_64', 'redfoo-conf-1.0-1.noarch']],
        ['app', ['redhello-1.0-1.x86_64']],
      ],
    );
    assert.match(lock.nodes[0]!.packages[0]!.sha256!, /^[0-9a-f]{64}$/);
    assert.match(lock.nodes[0]!.repositories[0]!.repomd, /^[0-9a-f]{64}$/);

    const before = [snapshotNode(s.node('var/redpak/platform')), snapshotNode(s.node('var/redpak/platform/app'))];
    const lockText = readFileSync(join(s.dir, 'image.lock.yaml'), 'utf8');
    const second = await applyRecipe({ recipe, sysroot: s.root, host });
    assert.equal(second.changed, false);
    assert.deepEqual(second.plan, []);
    assert.equal(second.lock.written, false);
    assert.deepEqual(
      [snapshotNode(s.node('var/redpak/platform')), snapshotNode(s.node('var/redpak/platform/app'))],
      before,
    );
    assert.equal(readFileSync(join(s.dir, 'image.lock.yaml'), 'utf8'), lockText);

    // A moved pin, a new inline config and a disabled node, then prune.
    const changed = write(
      s.dir,
      BASE.replace('libredfoo = 1.0-1', 'libredfoo = 2.0-1').replace(
        '    packages: [redhello]',
        '    enabled: false\n    packages: [redhello]\n    config:\n      config:\n        hostname: app-host',
      ),
    );
    const third = await applyRecipe({ recipe: changed, sysroot: s.root, host });
    assert.deepEqual(
      third.nodes[0]!.transaction?.packages.map((p) => `${p.action} ${p.nevra}`),
      ['upgrade libredfoo-2.0-1.x86_64'],
    );
    assert.deepEqual(third.nodes[1]!.configUpdated, ['normal']);
    assert.equal(third.nodes[1]!.state, 'disabled');
    assert.match(readFileSync(s.node('var/redpak/platform/app/etc/redpak.yaml'), 'utf8'), /hostname: app-host/);
    assert.match(readFileSync(s.node('var/redpak/platform/app/.rednode.yaml'), 'utf8'), /state: Disable/);
    assert.equal(readLock(join(s.dir, 'image.lock.yaml')).nodes[0]!.packages[0]!.nevra, 'libredfoo-2.0-1.x86_64');
    assert.equal(
      (await applyRecipe({ recipe: changed, sysroot: s.root, host })).changed,
      false,
      'idempotent with a disabled node too',
    );

    const pruned = write(s.dir, `prune: true\n${BASE.replace('libredfoo = 1.0-1, redfoo-conf', 'libredfoo = 2.0-1')}`);
    await assert.rejects(applyRecipe({ recipe: pruned, sysroot: s.root, host }), (e: RedpakError) => {
      // redhello in app needs redfoo-conf: prune may not break a descendant (rule 4); nothing changed.
      assert.equal(e.code, 'family-rule', e.message);
      assert.match(
        e.message,
        /node platform \(\/var\/redpak\/platform\): [\s\S]*redhello-1\.0-1\.x86_64 requires \/etc\/redfoo\.conf[\s\S]*Nothing of node platform was changed/,
      );
      return true;
    });
    assert.deepEqual(await installedNames(s.node('var/redpak/platform')), ['libredfoo', 'redfoo-conf']);
  });

  it('holds the family lock for the whole apply: another transaction running in the family stops it before anything is written', async (t) => {
    const s = sysrootOf(t);
    const recipe = write(s.dir, BASE);
    mkdirSync(s.node('var/redpak'), { recursive: true });
    const other = await holdLock(s.node(`var/redpak/${LOCK_FILE}`), 'redwrap-dnf install x');
    t.after(() => other.kill('SIGKILL'));
    await assert.rejects(applyRecipe({ recipe, sysroot: s.root, host }), (e: RedpakError) => {
      assert.equal(e.code, 'lock-busy', e.message);
      assert.match(e.message, new RegExp(`pid ${other.pid} \\(redwrap-dnf install x\\)`));
      return true;
    });
    assert.deepEqual(readdirSync(s.node('var/redpak')), [LOCK_FILE], 'no node was created');
  });

  it('--frozen reproduces the lock offline from a mirror, and refuses any difference with nothing changed', async (t) => {
    const s = sysrootOf(t);
    const recipe = write(s.dir, BASE);
    await applyRecipe({ recipe, sysroot: s.root, host });
    const lock = readLock(join(s.dir, 'image.lock.yaml'));

    // A mirror: a flat directory with only the locked files.
    const mirror = join(s.dir, 'mirror');
    mkdirSync(mirror);
    for (const n of lock.nodes)
      for (const p of n.packages) copyFileSync(join(repoDir, p.href!), join(mirror, p.href!.split('/').pop()!));
    const fresh = join(s.dir, 'fresh');
    mkdirSync(fresh);
    const frozen = await applyRecipe({ recipe, sysroot: fresh, frozen: true, mirrors: [mirror], host });
    assert.equal(frozen.mode, 'frozen');
    assert.equal(frozen.lock.written, false);
    assert.deepEqual(
      frozen.nodes.map((n) => n.transaction?.packages.map((p) => `${p.nevra} ${p.repo}`).sort()),
      [
        ['libredfoo-1.0-1.x86_64 @commandline', 'redfoo-conf-1.0-1.noarch @commandline'],
        ['redhello-1.0-1.x86_64 @commandline'],
      ],
    );
    assert.deepEqual(await installedNames(join(fresh, 'var/redpak/platform')), ['libredfoo', 'redfoo-conf']);

    const empty = () => {
      const d = join(s.dir, `empty-${Math.random().toString(16).slice(2)}`);
      mkdirSync(d);
      return d;
    };
    // The recipe moved on: the lock does not match.
    const other = write(s.dir, BASE.replace('[redhello]', '[redhello, redlegacy]'), 'other.yaml');
    copyFileSync(join(s.dir, 'image.lock.yaml'), join(s.dir, 'other.lock.yaml'));
    const d1 = empty();
    await assert.rejects(
      applyRecipe({ recipe: other, sysroot: d1, frozen: true, mirrors: [mirror], host }),
      /does not match the recipe[\s\S]*package redlegacy of node app is not in the lock/,
    );
    assert.deepEqual(readdirSync(d1), []);
    // A mirror file that is not the locked one.
    const bytes = readFileSync(join(mirror, 'redhello-1.0-1.x86_64.rpm'));
    bytes[bytes.length - 1] ^= 0xff;
    writeFileSync(join(mirror, 'redhello-1.0-1.x86_64.rpm'), bytes);
    const d2 = empty();
    await assert.rejects(
      applyRecipe({ recipe, sysroot: d2, frozen: true, mirrors: [mirror], host }),
      /redhello-1\.0-1\.x86_64\.rpm is not the locked redhello-1\.0-1\.x86_64 \(sha256 [0-9a-f]{64}, the lock has/,
    );
    assert.deepEqual(readdirSync(d2), []);
    // A node holding a package the lock does not list.
    await applyRecipe({ recipe: other, sysroot: s.root, host });
    await assert.rejects(
      applyRecipe({ recipe, sysroot: s.root, frozen: true, host }),
      /node app \(\/var\/redpak\/platform\/app\) has redlegacy-1\.0-1\.noarch, which the lock file does not list/,
    );
    // prune: true removes what the recipe does not list (and nothing a listed package needs).
    const pruned = await applyRecipe({
      recipe: write(s.dir, `prune: true\n${BASE}`, 'pruned.yaml'),
      sysroot: s.root,
      host,
    });
    assert.deepEqual(
      pruned.nodes[1]!.transaction?.packages.map((p) => `${p.action} ${p.nevra}`),
      ['erase redlegacy-1.0-1.noarch'],
    );
    assert.deepEqual(pruned.nodes[0]!.transaction, undefined);
  });

  it('a node whose transaction fails is undone; the nodes before it stay', async (t) => {
    const s = sysrootOf(t);
    const recipe = write(s.dir, BASE.replace('[redhello]', '[redhello, no-such-package]'));
    await assert.rejects(applyRecipe({ recipe, sysroot: s.root, host }), (e: RedpakError) => {
      assert.equal(e.code, 'solver');
      assert.match(
        e.message,
        /^node app \(\/var\/redpak\/platform\/app\): [\s\S]*no-such-package[\s\S]*Nothing of node app was changed\. Nodes applied before it stay applied: platform\./,
      );
      return true;
    });
    assert.ok(existsSync(s.node('var/redpak/platform/.rednode.yaml')));
    assert.ok(!existsSync(s.node('var/redpak/platform/app')));
    assert.ok(!existsSync(join(s.dir, 'image.lock.yaml')), 'no lock for a failed apply');
  });
});
