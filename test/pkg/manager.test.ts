/**
 * redwrap-dnf's library (src/pkg/manager.ts and the modules it gathers) on real families: real rpm databases, real
 * repositories (file:// and http on 127.0.0.1), libsolv, bwrap. One test (at least) per rule of
 * the issue, each failing if its rule is removed.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { RedpakError } from '../../src/errors.js';
import { createNode } from '../../src/node/factory.js';
import { LOCK_FILE } from '../../src/pkg/lock.js';
import * as dnf from '../../src/pkg/manager.js';
import { initDb, installPackages, registerHostProvides } from '../../src/pkg/rpm.js';
import { queryPackages } from '../../src/pkg/installed.js';
import { renderTransactionTable } from '../../src/cli/pkg-ui.js';
import { STAGE_DIR } from '../../src/pkg/view.js';
import { pinnedHost } from '../helpers/family.js';
import { holdLock, lockIsHeld } from '../helpers/lock-holder.js';
import { fixtureRepo, installedNames, rpmFile } from './helpers/family.js';
import {
  buildTestRpm,
  hostCapabilities,
  makeNodeFamily,
  serveDirectory,
  snapshotNode,
  writeRepoFile,
  type NodeFamily,
} from './helpers/nodes.js';

const isError =
  (code: string, ...parts: (string | RegExp)[]) =>
  (e: unknown) => {
    assert.ok(e instanceof RedpakError, `expected a RedpakError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    for (const p of parts)
      assert.ok(
        typeof p === 'string' ? e.message.includes(p) : p.test(e.message),
        `${e.message}\n  should contain ${p}`,
      );
    assert.ok(e.hint, 'errors say what to do next');
    return true;
  };

describe('rules 1–5 through the manager', () => {
  let f: NodeFamily;
  before(async () => {
    f = await makeNodeFamily();
    const r = await dnf.install({ redpath: f.platform, specs: ['libredfoo-1.0', 'redfoo-conf'] });
    assert.equal(r.status, 'done');
  });
  after(() => f.cleanup());

  it('rule 1: installs only redhello in app, the library and config coming from platform, /bin/sh and libc from the system node', async () => {
    const before = snapshotNode(f.platform);
    const r = await dnf.install({ redpath: f.app, specs: ['redhello'] });
    assert.deepEqual(
      r.packages.map((p) => `${p.action} ${p.nevra} ${p.repo}`),
      ['install redhello-1.0-1.x86_64 fixtures'],
    );
    assert.deepEqual(await installedNames(f.app), ['redhello']);
    assert.ok(existsSync(join(f.app, 'usr/bin/redhello')));
    assert.deepEqual(snapshotNode(f.platform), before, 'the ancestor is untouched');
    const family = await dnf.list({ redpath: f.app, scope: 'family' });
    assert.deepEqual(
      family.filter((p) => p.name !== 'redpak-host-provides').map((p) => `${p.name} ${p.node}`),
      [`libredfoo ${f.platform}`, `redfoo-conf ${f.platform}`, `redhello ${f.app}`],
    );
  });

  it('rule 2: refuses libredfoo in app naming the package and the ancestor, before touching anything; --forcenode overrides', async () => {
    const before = snapshotNode(f.app);
    await assert.rejects(
      dnf.install({ redpath: f.app, specs: ['libredfoo'] }),
      isError('family-rule', 'libredfoo', f.platform),
    );
    assert.deepEqual(snapshotNode(f.app), before);
    const forced = await dnf.install({ redpath: f.app, specs: ['libredfoo-2.0'], forcenode: true });
    assert.deepEqual(
      forced.packages.map((p) => p.nevra),
      ['libredfoo-2.0-1.x86_64'],
    );
    assert.deepEqual(await installedNames(f.app), ['libredfoo', 'redhello']);
    await dnf.remove({ redpath: f.app, specs: ['libredfoo'] });
    assert.deepEqual(await installedNames(f.app), ['redhello']);
  });

  it('rule 2 also covers a local .rpm file given by path', async () => {
    await assert.rejects(
      dnf.install({ redpath: f.app, specs: [await rpmFile('libredfoo-2.0')] }),
      isError('family-rule', 'libredfoo', f.platform),
    );
  });

  it('rule 3: remove, upgrade, reinstall and downgrade of an ancestor package are refused from app', async () => {
    const before = snapshotNode(f.platform);
    await assert.rejects(
      dnf.remove({ redpath: f.app, specs: ['libredfoo'] }),
      isError('family-rule', 'libredfoo-1.0-1.x86_64', f.platform, 'read-only'),
    );
    await assert.rejects(dnf.upgrade({ redpath: f.app, specs: ['libredfoo'] }), isError('family-rule', f.platform));
    await assert.rejects(dnf.reinstall({ redpath: f.app, specs: ['redfoo-conf'] }), isError('family-rule', f.platform));
    assert.equal((await dnf.upgrade({ redpath: f.app })).status, 'nothing-to-do', 'upgrade-all leaves ancestors alone');
    assert.deepEqual(snapshotNode(f.platform), before);
  });

  it('rule 4: removing or upgrading libredfoo in platform is refused while app needs it, naming node, package and requirement', async () => {
    const before = snapshotNode(f.platform);
    await assert.rejects(
      dnf.remove({ redpath: f.platform, specs: ['libredfoo'] }),
      isError('family-rule', `descendant node ${f.app}`, 'redhello-1.0-1.x86_64', 'libredfoo.so.1()(64bit)'),
    );
    // redpinned in app pins libredfoo < 2.0: the upgrade in platform would break it.
    await dnf.install({ redpath: f.app, specs: ['redpinned'] });
    await assert.rejects(
      dnf.upgrade({ redpath: f.platform, specs: ['libredfoo'] }),
      isError('family-rule', f.app, 'redpinned-1.0-1.noarch', 'libredfoo < 2.0'),
    );
    assert.deepEqual(snapshotNode(f.platform), before);
    await dnf.remove({ redpath: f.app, specs: ['redpinned'] });
  });

  it('rule 5: a conflict with an ancestor package is a solver problem shown the dnf way', async () => {
    const g = await makeNodeFamily();
    try {
      await dnf.install({ redpath: g.platform, specs: ['libredfoo-2.0', 'redfoo-conf'] });
      await assert.rejects(dnf.install({ redpath: g.app, specs: ['redcompat'] }), (e: unknown) => {
        isError(
          'solver',
          /Problem: /,
          /redcompat-1\.0-1\.noarch conflicts with libredfoo >= 2\.0 provided by libredfoo-2\.0-1\.x86_64/,
          'Possible solutions:',
        )(e);
        return true;
      });
    } finally {
      g.cleanup();
    }
  });

  it('rule 5 for files: a package owning a file that a package of an ancestor or of a descendant has is refused, in both directions', async () => {
    const body = (name: string) =>
      `%install\nmkdir -p %{buildroot}/usr/share/redshared\necho ${name} > %{buildroot}/usr/share/redshared/file\n%files\n/usr/share/redshared/file\n`;
    const first = buildTestRpm('redfilea', body('a'));
    const second = buildTestRpm('redfileb', body('b'));
    const g = await makeNodeFamily();
    try {
      await dnf.install({ redpath: g.platform, specs: [first] });
      const before = snapshotNode(g.app);
      await assert.rejects(
        dnf.install({ redpath: g.app, specs: [second] }),
        isError(
          'family-rule',
          'file /usr/share/redshared/file of redfileb-1.0-1.noarch conflicts with the file of redfilea-1.0-1.noarch',
          `ancestor node ${g.platform}`,
        ),
      );
      assert.deepEqual(snapshotNode(g.app), before);
      await dnf.remove({ redpath: g.platform, specs: ['redfilea'] });
      await dnf.install({ redpath: g.app, specs: [second] });
      await assert.rejects(
        dnf.install({ redpath: g.platform, specs: [first] }),
        isError('family-rule', `descendant node ${g.app}`, 'redfileb-1.0-1.noarch has file /usr/share/redshared/file'),
      );
      // On a merged-/usr host, /bin/x and /usr/bin/x are one file in a node.
      if (lstatSync('/bin').isSymbolicLink()) {
        const bin = (name: string, dir: string) =>
          buildTestRpm(
            name,
            `%install\nmkdir -p %{buildroot}${dir}\necho ${name} > %{buildroot}${dir}/redtwice\n%files\n${dir}/redtwice\n`,
          );
        await dnf.install({ redpath: g.platform, specs: [bin('redusrbin', '/usr/bin')] });
        await assert.rejects(
          dnf.install({ redpath: g.app, specs: [bin('redbin', '/bin')] }),
          isError(
            'family-rule',
            'file /bin/redtwice of redbin-1.0-1.noarch conflicts with the file of redusrbin-1.0-1.noarch',
          ),
        );
      }
    } finally {
      g.cleanup();
    }
  });

  it('rule 5: installing in a parent what conflicts with a descendant package is refused', async () => {
    const g = await makeNodeFamily();
    try {
      await dnf.install({ redpath: g.app, specs: ['redcompat'] });
      const before = snapshotNode(g.platform);
      await assert.rejects(
        dnf.install({ redpath: g.platform, specs: ['libredfoo-2.0'] }),
        isError('family-rule', g.app, 'redcompat-1.0-1.noarch', 'conflicts'),
      );
      assert.deepEqual(snapshotNode(g.platform), before);
    } finally {
      g.cleanup();
    }
  });
});

describe('rule 1: the host database one level above a --no-system-node root', () => {
  it('is part of the view: its packages satisfy requirements and are never pulled in', async () => {
    const f = await makeNodeFamily({ repoFile: false });
    try {
      const top = join(f.dir, 'solo');
      createNode({ redpath: top, systemNode: false, host: pinnedHost() });
      await initDb(top);
      writeRepoFile(top, 'fixtures', `file://${(await fixtureRepo()).repoDir}`);
      // f.dir plays the host: its var/lib/rpm holds the host capabilities and the library.
      await initDb(f.dir);
      await registerHostProvides(f.dir, await hostCapabilities());
      await installPackages(f.dir, [await rpmFile('libredfoo-1.0'), await rpmFile('redfoo-conf')], { justdb: true });
      const r = await dnf.install({ redpath: top, specs: ['redhello'] });
      assert.deepEqual(
        r.packages.map((p) => p.name),
        ['redhello'],
      );
      await assert.rejects(
        dnf.install({ redpath: top, specs: ['libredfoo'] }),
        isError('family-rule', 'libredfoo', f.dir),
      );
    } finally {
      f.cleanup();
    }
  });
});

describe('rule 6: repositories', () => {
  let f: NodeFamily;
  before(async () => {
    f = await makeNodeFamily({ repoFile: false });
  });
  after(() => f.cleanup());

  it("inherits the closest ancestor's .repo files, caches metadata in the configured cachedir (the system node's), and verifies it", async () => {
    writeRepoFile(f.sys, 'fx', `file://${(await fixtureRepo()).repoDir}`);
    assert.deepEqual(
      dnf.repolist({ redpath: f.app }).map((r) => [r.id, r.definedBy]),
      [['fx', f.sys]],
    );
    const made = await dnf.makecache({ redpath: f.app });
    assert.equal(
      made.cacheDir,
      join(f.sys, 'var/cache/dnf'),
      'system template: cachedir $NODE_PATH/var/cache/dnf, expanded in the system node',
    );
    assert.ok(readdirSync(join(made.cacheDir, 'fx/repodata')).some((n) => n.endsWith('primary.xml.gz')));
    // The leaf's own .repo files win over the ancestor's.
    writeRepoFile(f.app, 'own', `file://${(await fixtureRepo()).repoDir}`);
    assert.deepEqual(
      dnf.repolist({ redpath: f.app }).map((r) => r.id),
      ['own'],
    );
    const cleaned = await dnf.clean({ redpath: f.app });
    assert.deepEqual(cleaned.removed, []);
    const cleanedSys = await dnf.clean({ redpath: f.platform });
    assert.deepEqual(cleanedSys.removed, [join(f.sys, 'var/cache/dnf/fx')]);
  });

  it('clean drops only what its kind names: expire-cache, dbcache, metadata, packages, all', async () => {
    const server = await serveDirectory((await fixtureRepo()).repoDir);
    const cache = join(f.sys, 'var/cache/dnf');
    const web = join(cache, 'web');
    try {
      writeRepoFile(f.platform, 'web', server.url, { metadata_expire: 'never' });
      assert.equal((await dnf.install({ redpath: f.platform, specs: ['redfoo-conf'] })).status, 'done');
      const present = () =>
        ['web/repodata', 'web/redpak-cache.json', 'web/packages', '@solv'].filter((p) => existsSync(join(cache, p)));
      assert.deepEqual(present(), ['web/repodata', 'web/redpak-cache.json', 'web/packages', '@solv']);

      const expired = await dnf.clean({ redpath: f.platform, kind: 'expire-cache' });
      assert.deepEqual([expired.expired, expired.removed], [['web'], []]);
      assert.deepEqual(
        (await dnf.makecache({ redpath: f.platform })).repos.map((r) => r.fetched),
        [true],
        'expired metadata is checked again',
      );
      assert.deepEqual(
        (await dnf.makecache({ redpath: f.platform })).repos.map((r) => r.fetched),
        [false],
      );

      assert.deepEqual((await dnf.clean({ redpath: f.platform, kind: 'dbcache' })).removed, [join(cache, '@solv')]);
      assert.deepEqual(present(), ['web/repodata', 'web/redpak-cache.json', 'web/packages']);
      assert.deepEqual((await dnf.clean({ redpath: f.platform, kind: 'metadata' })).removed, [
        join(web, 'repodata'),
        join(web, 'redpak-cache.json'),
      ]);
      assert.deepEqual(present(), ['web/packages'], 'downloaded packages stay');
      assert.deepEqual((await dnf.clean({ redpath: f.platform, kind: 'packages' })).removed, [join(web, 'packages')]);
      assert.equal((await dnf.makecache({ redpath: f.platform })).repos[0]!.fetched, true);
      assert.deepEqual((await dnf.clean({ redpath: f.platform })).removed, [web]);
      assert.deepEqual(present(), []);
      await dnf.remove({ redpath: f.platform, specs: ['redfoo-conf'] });
    } finally {
      await server.close();
      writeRepoFile(f.platform, 'web', 'http://127.0.0.1:9/', { enabled: '0' });
    }
  });

  it('installs from an http repository on 127.0.0.1, caching the package; a corrupted package or metadata is refused and nothing changes', async () => {
    const server = await serveDirectory((await fixtureRepo()).repoDir);
    try {
      writeRepoFile(f.platform, 'web', server.url, { metadata_expire: '0' });
      const r = await dnf.install({ redpath: f.platform, specs: ['redfoo-conf'] });
      assert.equal(r.status, 'done');
      assert.ok(r.downloaded > 0);
      assert.ok(server.hits.includes('/packages/redfoo-conf-1.0-1.noarch.rpm'));
      assert.ok(
        existsSync(join(f.sys, 'var/cache/dnf/web/packages/redfoo-conf-1.0-1.noarch.rpm')),
        'package cached in the cachedir',
      );
      assert.ok(existsSync(join(f.platform, 'etc/redfoo.conf')));

      const before = snapshotNode(f.platform);
      server.corrupt(/libredfoo-1\.0/);
      await assert.rejects(
        dnf.install({ redpath: f.platform, specs: ['libredfoo-1.0'] }),
        isError('package', 'libredfoo-1.0-1.x86_64', 'checksum mismatch'),
      );
      assert.deepEqual(snapshotNode(f.platform), before);

      // An unchanged repomd.xml keeps the cache; once it is dropped, the corrupted primary is caught.
      server.corrupt(/primary\.xml/);
      await dnf.clean({ redpath: f.platform });
      await assert.rejects(
        dnf.install({ redpath: f.platform, specs: ['redscript'] }),
        isError('package', 'repository web', 'primary.xml.gz', 'checksum mismatch'),
      );
      assert.deepEqual(snapshotNode(f.platform), before);
    } finally {
      await server.close();
      writeRepoFile(f.platform, 'web', 'http://127.0.0.1:9/', { enabled: '0' });
    }
  });

  it('a failed download leaves the node as it was', async () => {
    const server = await serveDirectory((await fixtureRepo()).repoDir);
    rmSync(join(f.app, 'etc/yum.repos.d'), { recursive: true, force: true });
    writeRepoFile(f.app, 'gone', server.url, { metadata_expire: 'never' });
    await dnf.makecache({ redpath: f.app, noRepoFiles: false });
    await server.close();
    const before = snapshotNode(f.app);
    await assert.rejects(
      dnf.install({ redpath: f.app, specs: ['redlegacy'] }),
      isError('package', 'cannot download', 'redlegacy'),
    );
    assert.deepEqual(snapshotNode(f.app), before);
  });

  it('gpgcheck: a signed package passes with the repository key; an unsigned one is refused', async (t) => {
    const repo = await fixtureRepo();
    if (!repo.signing) return t.skip(`signing unavailable: ${repo.signingUnavailable}`);
    const g = await makeNodeFamily({ repoFile: false });
    try {
      writeRepoFile(g.sys, 'signed', `file://${repo.signing.signedRepoDir}`, {
        gpgkey: `file://${repo.signing.publicKey}`,
      });
      writeFileSync(
        join(g.sys, 'etc/yum.repos.d/signed.repo'),
        readFileSync(join(g.sys, 'etc/yum.repos.d/signed.repo'), 'utf8').replace('gpgcheck=0', 'gpgcheck=1'),
      );
      writeRepoFile(g.sys, 'unsigned', `file://${repo.repoDir}`, { gpgkey: `file://${repo.signing.publicKey}` });
      writeFileSync(
        join(g.sys, 'etc/yum.repos.d/unsigned.repo'),
        readFileSync(join(g.sys, 'etc/yum.repos.d/unsigned.repo'), 'utf8').replace('gpgcheck=0', 'gpgcheck=1'),
      );
      const ok = await dnf.install({ redpath: g.app, specs: ['redsigned'] });
      assert.equal(ok.status, 'done');
      const before = snapshotNode(g.app);
      await assert.rejects(
        dnf.install({ redpath: g.app, specs: ['redscript'] }),
        isError('package', 'redscript', 'signature'),
      );
      assert.deepEqual(snapshotNode(g.app), before);
      assert.ok(
        !(await queryPackages(g.app, { includeKeys: true })).some((p) => p.name === 'gpg-pubkey'),
        'keys never enter the node database',
      );
    } finally {
      g.cleanup();
    }
  });
});

describe('rule 7: scriptlets in the family view', () => {
  let f: NodeFamily;
  before(async () => {
    f = await makeNodeFamily();
  });
  after(() => f.cleanup());

  it("runs %pre/%post with the family's /bin/sh (the node has none) and keeps their effects in the node", async () => {
    assert.ok(!existsSync(join(f.app, 'bin/sh')) && !existsSync(join(f.app, 'usr/bin/sh')));
    const r = await dnf.install({ redpath: f.app, specs: ['redscript'] });
    assert.deepEqual(r.warnings, []);
    assert.equal(readFileSync(join(f.app, 'var/lib/redscript/post.marker'), 'utf8').trim(), 'post');
    assert.ok(existsSync(join(f.app, 'var/lib/redscript/pre.marker')));
    assert.ok(
      !existsSync(join(f.platform, 'var/lib/redscript')) && !existsSync(join(f.sys, 'var/lib/redscript')),
      'nothing lands in ancestors',
    );
    assert.ok(!existsSync(join(f.app, STAGE_DIR)));
  });

  it("a directory a scriptlet removes and creates again replaces the node's (overlayfs made it opaque); a rollback brings the old one back", async () => {
    mkdirSync(join(f.app, 'opt/redstate'), { recursive: true });
    writeFileSync(join(f.app, 'opt/redstate/old'), 'from before\n');
    const before = snapshotNode(f.app);
    const recreate = buildTestRpm(
      'redrecreate',
      '%post\nrm -rf /opt/redstate\nmkdir -p /opt/redstate\necho new > /opt/redstate/new\n%files\n',
    );
    const r = await dnf.install({ redpath: f.app, specs: [recreate] });
    assert.deepEqual(r.warnings, []);
    assert.deepEqual(readdirSync(join(f.app, 'opt/redstate')), ['new'], 'not merged with what was there');
    await dnf.rollback({ redpath: f.app });
    assert.deepEqual(readdirSync(join(f.app, 'opt/redstate')), ['old']);
    const after = snapshotNode(f.app);
    assert.deepEqual(
      Object.keys(after).filter((k) => !k.startsWith('.redpak')),
      Object.keys(before).filter((k) => !k.startsWith('.redpak')),
    );
  });

  it("a package with files in a top-level directory no overlay has by default gets one: found in the repository's file lists, or in the package when the repository has none", async () => {
    const body = '%install\nmkdir -p %{buildroot}/redtop\necho data > %{buildroot}/redtop/data\n%files\n/redtop/data\n';
    for (const [name, filelists] of [
      ['redtopdir', true],
      ['redtopdir2', false],
    ] as const) {
      const repoDir = join(f.dir, `repo-${name}`);
      mkdirSync(repoDir, { recursive: true });
      copyFileSync(buildTestRpm(name, body.replaceAll('redtop', name)), join(repoDir, `${name}.rpm`));
      assert.equal(spawnSync('createrepo_c', ['--quiet', repoDir]).status, 0);
      if (!filelists) {
        const repomd = join(repoDir, 'repodata/repomd.xml');
        writeFileSync(repomd, readFileSync(repomd, 'utf8').replace(/<data type="filelists">[\s\S]*?<\/data>/, ''));
      }
      const r = await dnf.install({ redpath: f.platform, specs: [name], repoDirs: [repoDir] });
      assert.equal(r.status, 'done', name);
      assert.equal(readFileSync(join(f.platform, name, 'data'), 'utf8'), 'data\n', name);
    }
  });

  it('remove takes every file it installed, in a top-level directory no overlay has by default too', async () => {
    const odd = buildTestRpm(
      'redoddtop',
      '%install\nmkdir -p %{buildroot}/redodd/sub %{buildroot}/usr/share/redodd\necho data > %{buildroot}/redodd/sub/data\necho doc > %{buildroot}/usr/share/redodd/doc\n%files\n/redodd\n/usr/share/redodd/doc\n',
    );
    assert.equal((await dnf.install({ redpath: f.app, specs: [odd] })).status, 'done');
    assert.equal(readFileSync(join(f.app, 'redodd/sub/data'), 'utf8'), 'data\n');
    const r = await dnf.remove({ redpath: f.app, specs: ['redoddtop'] });
    assert.deepEqual(
      r.packages.map((p) => `${p.action} ${p.name}`),
      ['erase redoddtop'],
    );
    assert.ok(!(await installedNames(f.app)).includes('redoddtop'));
    assert.ok(!existsSync(join(f.app, 'redodd')), 'its files and directories are gone with it');
    assert.ok(!existsSync(join(f.app, 'usr/share/redodd/doc')));
  });

  it("a package whose payload lands in a child node's directory is refused, naming package, path and child, before anything is fetched or written", async () => {
    const body =
      '%install\nmkdir -p %{buildroot}/app/etc\necho "admin: hostile" > %{buildroot}/app/etc/redpak-admin.yaml\n%files\n/app/etc/redpak-admin.yaml\n';
    const adminConfig = readFileSync(join(f.app, 'etc/redpak-admin.yaml'), 'utf8');
    const before = snapshotNode(f.platform);
    // From the repository's file lists (solver), and from the package itself when the metadata has none.
    for (const [name, filelists] of [
      ['redintochild', true],
      ['redintochild2', false],
    ] as const) {
      const repoDir = join(f.dir, `repo-${name}`);
      mkdirSync(repoDir, { recursive: true });
      copyFileSync(buildTestRpm(name, body), join(repoDir, `${name}.rpm`));
      assert.equal(spawnSync('createrepo_c', ['--quiet', repoDir]).status, 0);
      if (!filelists) {
        const repomd = join(repoDir, 'repodata/repomd.xml');
        writeFileSync(repomd, readFileSync(repomd, 'utf8').replace(/<data type="filelists">[\s\S]*?<\/data>/, ''));
      }
      await assert.rejects(
        dnf.install({ redpath: f.platform, specs: [name], repoDirs: [repoDir] }),
        isError(
          'family-rule',
          `${name}-1.0-1.noarch would write /app/etc/redpak-admin.yaml into the directory of descendant node`,
          f.app,
        ),
      );
      assert.equal(readFileSync(join(f.app, 'etc/redpak-admin.yaml'), 'utf8'), adminConfig, name);
      assert.deepEqual(snapshotNode(f.platform), before, name);
    }
  });

  it('--noscripts skips them', async () => {
    // The app has its own redscript (above): the platform may have it once the app's is gone.
    assert.equal((await dnf.remove({ redpath: f.app, specs: ['redscript'] })).status, 'done');
    const r = await dnf.install({ redpath: f.platform, specs: ['redscript'], noscripts: true });
    assert.equal(r.status, 'done');
    assert.ok(existsSync(join(f.platform, 'usr/share/redscript/README')));
    assert.ok(!existsSync(join(f.platform, 'var/lib/redscript')));
  });
});

describe('rule 8: lock, rollback, interruption', () => {
  let f: NodeFamily;
  before(async () => {
    f = await makeNodeFamily();
  });
  after(() => f.cleanup());

  it('a second transaction in the family fails clearly while the lock is held, waits with lockWait, and gets it as soon as the holder ends', async () => {
    const lock = join(f.sys, LOCK_FILE);
    const holder = await holdLock(lock, 'redwrap-dnf install other');
    try {
      await assert.rejects(
        dnf.install({ redpath: f.app, specs: ['redscript'] }),
        isError('lock-busy', `pid ${holder.pid}`, 'redwrap-dnf install other'),
      );
      setTimeout(() => holder.kill('SIGKILL'), 300);
      const r = await dnf.install({ redpath: f.app, specs: ['redscript'], lockWait: 10 });
      assert.equal(r.status, 'done', 'the lock of a process that died is free');
      assert.ok(!lockIsHeld(lock), 'released after the transaction');
    } finally {
      holder.kill('SIGKILL');
    }
  });

  it('an rpm failure in the middle of a transaction leaves the node exactly as it was', async () => {
    const failing = buildTestRpm('redfailpre', '%pre\nexit 1\n%files\n');
    const before = snapshotNode(f.platform);
    await assert.rejects(
      dnf.install({ redpath: f.platform, specs: ['redfoo-conf', failing] }),
      isError('tool-failed', /rpm failed/, /redfailpre/),
    );
    assert.deepEqual(
      snapshotNode(f.platform),
      before,
      'redfoo-conf, installed by rpm before the failure, is not in the node',
    );
    assert.ok(!existsSync(join(f.platform, 'etc/redfoo.conf')));
    assert.deepEqual(dnf.history({ redpath: f.platform }), []);
  });

  it('a solver problem changes nothing', async () => {
    const before = snapshotNode(f.platform);
    await assert.rejects(
      dnf.install({ redpath: f.platform, specs: ['no-such-package'] }),
      isError('solver', 'No match for argument: no-such-package'),
    );
    assert.deepEqual(snapshotNode(f.platform), before);
  });

  it('an interrupted transaction (abort while a scriptlet runs) leaves no half-installed package', async () => {
    const slow = buildTestRpm(
      'redslow',
      '%install\nmkdir -p %{buildroot}/usr/share/redslow\necho slow > %{buildroot}/usr/share/redslow/README\n%post\nsleep 20\n%files\n/usr/share/redslow/README\n',
    );
    const before = snapshotNode(f.platform);
    const controller = new AbortController();
    const running = dnf.install({ redpath: f.platform, specs: [slow], signal: controller.signal });
    // Abort once rpm has put the files in the staging layer and is running %post.
    const staged = join(f.platform, STAGE_DIR, 'upper/usr/share/redslow/README');
    for (let i = 0; i < 200 && !existsSync(staged); i += 1) await new Promise((r) => setTimeout(r, 50));
    assert.ok(existsSync(staged), 'rpm reached the scriptlet');
    const t0 = Date.now();
    controller.abort();
    await assert.rejects(running, isError('interrupted', 'nothing was changed'));
    assert.ok(Date.now() - t0 < 5000, 'rpm was stopped, not waited for');
    assert.deepEqual(snapshotNode(f.platform), before);
    assert.ok(!existsSync(join(f.platform, STAGE_DIR)));
  });
});

describe('own packages: upgrade, downgrade, reinstall, history and undo, queries', () => {
  let f: NodeFamily;
  before(async () => {
    f = await makeNodeFamily();
    await dnf.install({ redpath: f.platform, specs: ['redfoo-conf'] });
  });
  after(() => f.cleanup());

  it('walks libredfoo in platform up, down, again, and undoes through the history', async () => {
    const version = async () =>
      (await queryPackages(f.platform)).filter((p) => p.name === 'libredfoo').map((p) => p.version);
    assert.equal((await dnf.install({ redpath: f.platform, specs: ['libredfoo-1.0'] })).status, 'done');
    const up = await dnf.upgrade({ redpath: f.platform, specs: ['libredfoo'] });
    assert.deepEqual(
      up.packages.map((p) => [p.action, p.nevra, p.replaces]),
      [['upgrade', 'libredfoo-2.0-1.x86_64', ['libredfoo-1.0-1.x86_64']]],
    );
    assert.deepEqual(await version(), ['2.0']);
    await dnf.downgrade({ redpath: f.platform, specs: ['libredfoo'] });
    assert.deepEqual(await version(), ['1.0']);
    const re = await dnf.reinstall({ redpath: f.platform, specs: ['libredfoo'] });
    assert.deepEqual(
      re.packages.map((p) => p.action),
      ['reinstall'],
    );

    const entries = dnf.history({ redpath: f.platform });
    assert.deepEqual(
      entries.map((e) => e.command),
      [
        'install redfoo-conf',
        'install libredfoo-1.0',
        'upgrade libredfoo',
        'downgrade libredfoo',
        'reinstall libredfoo',
      ],
    );
    const undoDowngrade = await dnf.historyUndo({ redpath: f.platform, id: 4 });
    assert.equal(undoDowngrade.status, 'done');
    assert.deepEqual(await version(), ['2.0']);
    const added = await dnf.install({ redpath: f.platform, specs: ['redscript'] });
    await dnf.historyUndo({ redpath: f.platform, id: added.historyId! });
    assert.deepEqual(await installedNames(f.platform), ['libredfoo', 'redfoo-conf']);
    const last = dnf.history({ redpath: f.platform }).at(-1)!;
    assert.equal(last.command, `history undo ${added.historyId}`);
    await dnf.historyUndo({ redpath: f.platform, id: last.id });
    assert.deepEqual(
      await installedNames(f.platform),
      ['libredfoo', 'redfoo-conf', 'redscript'],
      'undoing the undo brings it back',
    );
    await assert.rejects(dnf.historyUndo({ redpath: f.platform, id: 99 }), isError('package', 'no history entry 99'));
  });

  it('list, info and repoquery answer on the family view and the repositories', async () => {
    await dnf.install({ redpath: f.platform, specs: ['libredfoo-1.0'] });
    await dnf.install({ redpath: f.app, specs: ['redhello'] });
    const available = await dnf.list({ redpath: f.app, scope: 'available', specs: ['libredfoo'] });
    assert.deepEqual(
      available.map((p) => p.nevra),
      ['libredfoo-2.0-1.x86_64'],
    );
    assert.deepEqual(
      (await dnf.list({ redpath: f.app, scope: 'installed' })).map((p) => p.nevra),
      ['redhello-1.0-1.x86_64'],
    );
    const [hello] = (await dnf.info({ redpath: f.app, specs: ['redhello'] })).filter((p) => p.repo === '@System');
    assert.equal(hello!.node, f.app);
    assert.ok(hello!.requires!.includes('libredfoo.so.1()(64bit)'));
    const providers = await dnf.repoquery({ redpath: f.app, whatprovides: 'libredfoo.so.1()(64bit)', installed: true });
    assert.deepEqual(
      providers.packages.map((p) => `${p.nevra} ${p.node}`),
      [`libredfoo-1.0-1.x86_64 ${f.platform}`],
    );
    const users = await dnf.repoquery({ redpath: f.app, whatrequires: 'libredfoo', installed: true });
    assert.deepEqual(
      users.packages.map((p) => p.nevra),
      ['redhello-1.0-1.x86_64'],
    );
    const req = await dnf.repoquery({ redpath: f.app, requires: 'redhello', installed: true });
    assert.ok(req.requires!.includes('/etc/redfoo.conf'));
  });

  it('refuses a disabled node', async () => {
    const status = join(f.app, '.rednode.yaml');
    const text = readFileSync(status, 'utf8');
    writeFileSync(status, text.replace(/state: Enable/, 'state: Disable'));
    try {
      await assert.rejects(
        dnf.install({ redpath: f.app, specs: ['redscript'] }),
        (e: unknown) => e instanceof RedpakError && e.code === 'node-disabled',
      );
    } finally {
      writeFileSync(status, text);
    }
  });
});

describe('node without a database yet', () => {
  it('gets one from its first transaction', async () => {
    const f = await makeNodeFamily();
    try {
      const bare = join(f.app, 'bare');
      createNode({ redpath: bare, host: pinnedHost() });
      mkdirSync(join(bare, 'etc'), { recursive: true });
      const r = await dnf.install({ redpath: bare, specs: ['redfoo-conf'] });
      assert.equal(r.status, 'done');
      assert.deepEqual(await installedNames(bare), ['redfoo-conf']);
    } finally {
      f.cleanup();
    }
  });
});

describe('dependencies: reasons, remove cleans them up, autoremove, mark', () => {
  let f: NodeFamily;
  before(async () => {
    f = await makeNodeFamily();
  });
  after(() => f.cleanup());

  const reasonsOf = (node: string) =>
    JSON.parse(readFileSync(join(node, 'var/lib/dnf/redpak-reasons.json'), 'utf8')) as Record<string, string>;
  const plan = (r: dnf.TransactionResult) => r.packages.map((p) => `${p.action} ${p.name} ${p.reason}`).sort();

  it('records what was asked for and what came as a dependency, and shows them apart', async () => {
    const r = await dnf.install({ redpath: f.platform, specs: ['redhello'] });
    assert.deepEqual(plan(r), [
      'install libredfoo dependency',
      'install redfoo-conf dependency',
      'install redhello user',
    ]);
    assert.deepEqual(reasonsOf(f.platform), { libredfoo: 'dependency', 'redfoo-conf': 'dependency', redhello: 'user' });
    const table = renderTransactionTable(r);
    assert.match(
      table,
      /Installing:\n redhello .*\nInstalling dependencies:\n (redfoo-conf|libredfoo) .*\n (redfoo-conf|libredfoo) /,
    );
  });

  it('remove takes the dependencies only the removed package needed, unless --noautoremove; autoremove takes them later', async () => {
    const shown = await dnf.remove({ redpath: f.platform, specs: ['redhello'], assumeno: true });
    assert.deepEqual(plan(shown), ['erase libredfoo unused', 'erase redfoo-conf unused', 'erase redhello user']);
    assert.match(
      renderTransactionTable(shown),
      /Removing:\n redhello .*\nRemoving unused dependencies:\n (redfoo-conf|libredfoo) /,
    );

    const kept = await dnf.remove({ redpath: f.platform, specs: ['redhello'], cleanDeps: false });
    assert.deepEqual(plan(kept), ['erase redhello user']);
    assert.deepEqual(await installedNames(f.platform), ['libredfoo', 'redfoo-conf']);
    assert.deepEqual(reasonsOf(f.platform), { libredfoo: 'dependency', 'redfoo-conf': 'dependency' });

    const cleaned = await dnf.autoremove({ redpath: f.platform });
    assert.deepEqual(plan(cleaned), ['erase libredfoo unused', 'erase redfoo-conf unused']);
    assert.deepEqual(await installedNames(f.platform), []);
    assert.deepEqual(reasonsOf(f.platform), {});
    assert.equal((await dnf.autoremove({ redpath: f.platform })).status, 'nothing-to-do');
  });

  it('keeps a dependency a descendant needs, and one another package of the node needs', async () => {
    await dnf.install({ redpath: f.platform, specs: ['redhello', 'redscript'] });
    // app's own package needs the library platform got as a dependency of redhello.
    const needsLib = buildTestRpm('redneedslib', '%files\n', ['Requires: libredfoo']);
    assert.deepEqual(plan(await dnf.install({ redpath: f.app, specs: [needsLib] })), ['install redneedslib user']);
    const r = await dnf.remove({ redpath: f.platform, specs: ['redhello'] });
    assert.deepEqual(plan(r), ['erase redfoo-conf unused', 'erase redhello user']);
    assert.deepEqual(await installedNames(f.platform), ['libredfoo', 'redscript']);
    assert.equal((await dnf.autoremove({ redpath: f.platform })).status, 'nothing-to-do', 'app still needs libredfoo');
    await dnf.remove({ redpath: f.app, specs: ['redneedslib'] });
    assert.deepEqual(plan(await dnf.autoremove({ redpath: f.platform, assumeno: true })), ['erase libredfoo unused']);
  });

  it('asking to install what the node has as a dependency records it as asked for, as dnf does', async () => {
    assert.equal(reasonsOf(f.platform).libredfoo, 'dependency');
    assert.equal(
      (await dnf.install({ redpath: f.platform, specs: ['libredfoo'], assumeno: true })).status,
      'nothing-to-do',
    );
    assert.equal(reasonsOf(f.platform).libredfoo, 'dependency', '--assumeno changes nothing');
    assert.equal((await dnf.install({ redpath: f.platform, specs: ['libredfoo'] })).status, 'nothing-to-do');
    assert.equal(reasonsOf(f.platform).libredfoo, 'user');
    assert.equal((await dnf.autoremove({ redpath: f.platform })).status, 'nothing-to-do');
  });

  it('mark install keeps a dependency; mark remove makes one; a package with no recorded reason stays', async () => {
    await dnf.mark({ redpath: f.platform, names: ['libredfoo'], reason: 'user' });
    assert.equal((await dnf.autoremove({ redpath: f.platform })).status, 'nothing-to-do');
    await dnf.mark({ redpath: f.platform, names: ['libredfoo', 'redscript'], reason: 'dependency' });
    assert.deepEqual(plan(await dnf.autoremove({ redpath: f.platform, assumeno: true })), [
      'erase libredfoo unused',
      'erase redscript unused',
    ]);
    await assert.rejects(
      dnf.mark({ redpath: f.platform, names: ['redhello'], reason: 'user' }),
      isError('package', 'not installed in node', 'redhello'),
    );
    // Without a record (installed before reasons were kept, or by rpm itself), a package counts as asked for.
    rmSync(join(f.platform, 'var/lib/dnf/redpak-reasons.json'));
    assert.equal((await dnf.autoremove({ redpath: f.platform })).status, 'nothing-to-do');
  });
});
