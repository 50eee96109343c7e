import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { RedpakError } from '../../src/errors.js';
import {
  checkSignature,
  erasePackages,
  hasRpmDb,
  importKey,
  installPackages,
  parseQueryDump,
  registerHostProvides,
  stagedTransactionArgs,
  viewRpmArgv,
} from '../../src/pkg/rpm.js';
import { queryPackages } from '../../src/pkg/installed.js';
import { tempDir } from '../helpers/family.js';
import { fixtureRepo, giveNodeAShell, installedNames, makeFamily, rpmFile, type TestFamily } from './helpers/family.js';

describe('parseQueryDump', () => {
  it('parses one record per package with typed dependency and file lines', () => {
    const dump = [
      '@PKG\tapp-a\t0\t1.0\t1\tnoarch\t1795925058\td50057db',
      'P\tapp-a\t=\t1.0-1',
      'R\t/bin/sh\t\t\tauto',
      'R\trpmlib(FileDigests)\t<=\t4.6.0-1\trpmlib',
      'C\tlibfoo\t>=\t2',
      'O\told-app\t<\t1.0',
      'F\t/usr/bin/app-a\t100755\tc49a5868',
      '@PKG\tlibfoo\t3\t2.0\t1\tx86_64\t1\tabc',
      '',
    ].join('\n');
    const [app, lib] = parseQueryDump(dump);
    assert.equal(app!.nevra, 'app-a-1.0-1.noarch');
    assert.deepEqual(app!.provides, [{ name: 'app-a', flags: '=', version: '1.0-1' }]);
    assert.deepEqual(app!.requires[0], { name: '/bin/sh', flags: '', version: '', deptype: 'auto' });
    assert.deepEqual(app!.conflicts, [{ name: 'libfoo', flags: '>=', version: '2' }]);
    assert.deepEqual(app!.obsoletes, [{ name: 'old-app', flags: '<', version: '1.0' }]);
    assert.deepEqual(app!.files, [{ path: '/usr/bin/app-a', mode: '100755', digest: 'c49a5868' }]);
    assert.equal(lib!.nevra, 'libfoo-3:2.0-1.x86_64', 'a non-zero epoch shows in the NEVRA');
  });

  it('rejects dependency lines before any package', () => {
    assert.throws(
      () => parseQueryDump('P\tx\t\t\n'),
      (e: unknown) => e instanceof RedpakError && /record 1/.test(e.message),
    );
  });
});

describe('staged transaction arguments', () => {
  it('installs, then erases; a database of its own only when the node has none and nothing comes in', (t) => {
    const node = tempDir(t);
    const files = ['/cache/a-1-1.noarch.rpm'];
    // rpm -U creates the missing database: no run of its own.
    assert.deepEqual(stagedTransactionArgs(node, files, ['b-1-1.noarch'], {}), [
      ['-U', '-v', '--nodeps', '/cache/a-1-1.noarch.rpm'],
      ['-e', '-v', '--nodeps', 'b-1-1.noarch'],
    ]);
    assert.deepEqual(stagedTransactionArgs(node, [], ['b-1-1.noarch'], {}), [
      ['--initdb'],
      ['-e', '-v', '--nodeps', 'b-1-1.noarch'],
    ]);
    mkdirSync(join(node, 'var/lib/rpm'), { recursive: true });
    assert.deepEqual(stagedTransactionArgs(node, files, [], { noscripts: true, oldpackage: true, replacepkgs: true }), [
      ['-U', '-v', '--nodeps', '--noscripts', '--oldpackage', '--replacepkgs', '/cache/a-1-1.noarch.rpm'],
    ]);
    assert.deepEqual(stagedTransactionArgs(node, [], ['b'], { noscripts: true }), [
      ['-e', '-v', '--nodeps', '--noscripts', 'b'],
    ]);
  });

  it('passes --force-debian to rpm modes only, never to --initdb', () => {
    assert.deepEqual(viewRpmArgv(['-U', 'f.rpm'], true), [
      'rpm',
      '--force-debian',
      '--dbpath',
      '/var/lib/rpm',
      '-U',
      'f.rpm',
    ]);
    assert.deepEqual(viewRpmArgv(['-e', 'b'], false), ['rpm', '--dbpath', '/var/lib/rpm', '-e', 'b']);
    assert.deepEqual(viewRpmArgv(['--initdb'], true), ['rpm', '--dbpath', '/var/lib/rpm', '--initdb']);
  });
});

describe('rpm on real node databases', () => {
  let family: TestFamily;
  before(async () => {
    await fixtureRepo();
    family = await makeFamily('N');
  });
  after(() => family.cleanup());

  it('keeps the database at NODE/var/lib/rpm, not in ~/.rpmdb', () => {
    const node = family.node('N');
    assert.ok(hasRpmDb(node));
    assert.ok(existsSync(join(node, 'var/lib/rpm/rpmdb.sqlite')));
    assert.ok(!existsSync(join(node, 'root/.rpmdb')));
  });

  it('installs a real shared library whose soname rpm recorded as a Provides', async () => {
    const node = family.node('N');
    await installPackages(node, [await rpmFile('libredfoo-1.0')]);
    assert.ok(existsSync(join(node, 'usr/lib/libredfoo.so.1')));
    const [lib] = (await queryPackages(node)).filter((p) => p.name === 'libredfoo');
    assert.equal(lib!.nevra, 'libredfoo-1.0-1.x86_64');
    assert.ok(lib!.provides.some((p) => p.name === 'libredfoo.so.1()(64bit)'));
    assert.ok(lib!.files.some((f) => f.path === '/usr/lib/libredfoo.so.1' && f.mode === '100755'));
  });

  it('records the app auto-requirements: soname, libc, /bin/sh and the explicit file path', async () => {
    const node = family.node('N');
    await installPackages(node, [await rpmFile('redhello')], { justdb: true });
    const [app] = (await queryPackages(node)).filter((p) => p.name === 'redhello');
    const names = app!.requires.map((r) => r.name);
    for (const wanted of ['libredfoo.so.1()(64bit)', '/bin/sh', '/etc/redfoo.conf', 'libc.so.6()(64bit)'])
      assert.ok(names.includes(wanted), wanted);
    assert.ok(!existsSync(join(node, 'usr/bin/redhello')), '--justdb writes no file');
  });

  it('builds a redhello that really runs against either libredfoo, printing its version', async () => {
    const two = await makeFamily('V1', 'V2');
    try {
      for (const [node, lib, version] of [
        ['V1', 'libredfoo-1.0', '1.0'],
        ['V2', 'libredfoo-2.0', '2.0'],
      ] as const) {
        await installPackages(two.node(node), [await rpmFile(lib), await rpmFile('redhello')], { noscripts: true });
        const out = execFileSync(join(two.node(node), 'usr/bin/redhello'), {
          env: { LD_LIBRARY_PATH: join(two.node(node), 'usr/lib') },
          encoding: 'utf8',
        });
        assert.equal(out, `hello from redhello, libredfoo ${version}\n`);
      }
    } finally {
      two.cleanup();
    }
  });

  it('changes nothing with test: true', async () => {
    const node = family.node('N');
    const beforeNames = await installedNames(node);
    await installPackages(node, [await rpmFile('redtool')], { test: true });
    assert.deepEqual(await installedNames(node), beforeNames);
  });

  it('upgrades in place and erases', async () => {
    const node = family.node('N');
    await installPackages(node, [await rpmFile('libredfoo-2.0')]);
    assert.deepEqual(
      (await queryPackages(node)).filter((p) => p.name === 'libredfoo').map((p) => p.version),
      ['2.0'],
    );
    await erasePackages(node, ['libredfoo', 'redhello']);
    assert.deepEqual(await installedNames(node), []);
    assert.ok(!existsSync(join(node, 'usr/lib/libredfoo.so.1')));
  });

  it('skips scriptlets with noscripts, and runs them chrooted in the node otherwise', async () => {
    const quiet = await makeFamily('Q', 'S');
    try {
      await installPackages(quiet.node('Q'), [await rpmFile('redscript')], { noscripts: true });
      assert.ok(!existsSync(join(quiet.node('Q'), 'var/lib/redscript')));
      giveNodeAShell(quiet.node('S'));
      await installPackages(quiet.node('S'), [await rpmFile('redscript')]);
      assert.equal(readFileSync(join(quiet.node('S'), 'var/lib/redscript/pre.marker'), 'utf8'), 'pre\n');
      assert.equal(readFileSync(join(quiet.node('S'), 'var/lib/redscript/post.marker'), 'utf8'), 'post\n');
    } finally {
      quiet.cleanup();
    }
  });

  it('fails the install when %pre cannot run (no /bin/sh in the node), leaving nothing installed', async () => {
    // rpm aborts a package whose %pre fails; only a failing %post is a mere warning.
    const bare = await makeFamily('B');
    try {
      await assert.rejects(
        installPackages(bare.node('B'), [await rpmFile('redscript')]),
        (e: unknown) =>
          e instanceof RedpakError &&
          e.code === 'tool-failed' &&
          /%prein\(redscript-1\.0-1\.noarch\) scriptlet failed/.test(e.message),
      );
      assert.deepEqual(await installedNames(bare.node('B')), []);
    } finally {
      bare.cleanup();
    }
  });
});

describe('registerHostProvides', () => {
  let family: TestFamily;
  before(async () => {
    family = await makeFamily('SYS');
  });
  after(() => family.cleanup());

  it('records host capabilities in the node database, replacing an earlier registration', async () => {
    const node = family.node('SYS');
    await registerHostProvides(node, ['/bin/sh', 'libc.so.6()(64bit)']);
    await registerHostProvides(node, [
      '/bin/sh',
      'libc.so.6()(64bit)',
      'libc.so.6(GLIBC_2.34)(64bit)',
      'hostcap = 1.2',
    ]);
    const packages = await queryPackages(node);
    assert.equal(packages.length, 1, 'one host-provides package, not two');
    const provides = packages[0]!.provides.map((p) => (p.flags ? `${p.name} ${p.flags} ${p.version}` : p.name));
    for (const wanted of ['/bin/sh', 'libc.so.6(GLIBC_2.34)(64bit)', 'hostcap = 1.2'])
      assert.ok(provides.includes(wanted), wanted);
    assert.deepEqual(packages[0]!.files, [], 'a virtual package owns no file');
  });

  it('rejects capabilities a spec Provides: line would misread', async () => {
    await assert.rejects(
      registerHostProvides(family.node('SYS'), ['a, b']),
      (e: unknown) => e instanceof RedpakError && e.code === 'package',
    );
  });
});

describe('signature checks', () => {
  let family: TestFamily;
  before(async () => {
    family = await makeFamily('K');
  });
  after(() => family.cleanup());

  it('accepts the signed fixture once its key is imported, and rejects tampered and unsigned packages', async (t) => {
    const repo = await fixtureRepo();
    if (!repo.signing) return t.skip(`signing unavailable: ${repo.signingUnavailable}`);
    const node = family.node('K');
    assert.equal((await checkSignature(node, repo.signing.signedRpm)).ok, false, 'unknown key before import');
    await importKey(node, repo.signing.publicKey);
    assert.equal((await checkSignature(node, repo.signing.signedRpm)).ok, true);
    const tampered = await checkSignature(node, repo.signing.tamperedRpm);
    assert.equal(tampered.ok, false);
    assert.match(tampered.detail, /NOT OK/);
    assert.equal((await checkSignature(node, await rpmFile('redhello'))).ok, false, 'unsigned');
    assert.deepEqual(await installedNames(node), [], 'the imported key is not listed as a package');
  });
});
