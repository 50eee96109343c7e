/** Node archives: reproducible export, consistent rpm databases, checked import, bad archives. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { extract as tarExtract } from 'tar-stream';
import { RedpakError } from '../../src/errors.js';
import {
  checkEntryPath,
  exportNode,
  importNode,
  linkStaysInside,
  MANIFEST_NAME,
  readManifest,
  type ArchiveManifest,
} from '../../src/image/archive.js';
import { setNodeState } from '../../src/node/factory.js';
import { loadTree } from '../../src/node/load.js';
import { solverPython } from '../../src/pkg/solver.js';
import { pinnedHost } from '../helpers/family.js';
import type { NodeFamily } from '../pkg/helpers/nodes.js';
import { listing, makeDestination, makeInstalledFamily, rpm, sha, writeTar } from './family.js';

interface TarEntry {
  name: string;
  type: string;
  mode: number;
  mtime: number;
  uid: number;
  gid: number;
  uname: string;
  content: Buffer;
  linkname?: string | null;
}

async function readTar(file: string): Promise<TarEntry[]> {
  const extract = tarExtract();
  const out: TarEntry[] = [];
  const done = (async () => {
    for await (const entry of extract) {
      const chunks: Buffer[] = [];
      for await (const c of entry) chunks.push(c as Buffer);
      const h = entry.header;
      out.push({
        name: h.name,
        type: h.type ?? 'file',
        mode: h.mode ?? 0,
        mtime: h.mtime?.getTime() ?? -1,
        uid: h.uid ?? -1,
        gid: h.gid ?? -1,
        uname: h.uname ?? '',
        content: Buffer.concat(chunks),
        linkname: h.linkname,
      });
    }
  })();
  extract.end(readFileSync(file));
  await done;
  return out;
}

function expectArchiveError(pattern: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof RedpakError, String(error));
    assert.equal(error.code, 'io', error.message);
    assert.match(error.message, pattern);
    return true;
  };
}

describe('redmanager export', () => {
  let f: NodeFamily;
  before(async () => {
    f = await makeInstalledFamily();
  });
  after(() => f.cleanup());

  it('is reproducible: same content, byte-identical archive; sorted entries, fixed owner, mtime and modes', async () => {
    const a = join(f.dir, 'a.tar');
    const b = join(f.dir, 'b.tar');
    const first = await exportNode({ redpath: f.platform, output: a, withDescendants: true });
    const second = await exportNode({ redpath: f.platform, output: b, withDescendants: true });
    assert.deepEqual(readFileSync(a), readFileSync(b));
    assert.equal(first.sha256, sha(readFileSync(a)));
    assert.equal(first.sha256, second.sha256);
    assert.deepEqual(
      first.nodes.map((n) => [n.alias, n.packages]),
      [
        ['platform', 2],
        ['app', 1],
      ],
    );

    const entries = await readTar(a);
    assert.equal(entries[0]!.name, MANIFEST_NAME, 'the manifest comes first');
    const names = entries.slice(1).map((e) => e.name.replace(/\/$/, ''));
    assert.deepEqual(
      names,
      [...names].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0)),
    );
    for (const e of entries) {
      assert.equal(e.mtime, 0, e.name);
      assert.equal(e.uid, 0, e.name);
      assert.equal(e.gid, 0, e.name);
      assert.equal(e.uname, '', e.name);
      assert.ok([0o755, 0o644, 0o777].includes(e.mode & 0o7777), `${e.name}: ${e.mode.toString(8)}`);
    }
    for (const wanted of [
      '.rednode.yaml',
      'etc/redpak.yaml',
      'etc/redpak-admin.yaml',
      'var/lib/rpm/rpmdb.sqlite',
      'usr/lib/libredfoo.so.1',
      'app/.rednode.yaml',
      'app/var/lib/rpm/rpmdb.sqlite',
      'app/usr/bin/redhello',
    ]) {
      assert.ok(names.includes(wanted), `${wanted} is archived`);
    }
    assert.equal(entries.find((e) => e.name === 'app/usr/bin/redhello')!.mode, 0o755);
    assert.equal(entries.find((e) => e.name === 'etc/redpak.yaml')!.mode, 0o644);
    for (const name of names)
      assert.doesNotMatch(name, /rpmdb\.sqlite-(wal|shm)$|\.rpm\.lock$|^var\/cache\/dnf\/|\.redpak-transaction\.lock/);

    const manifest = JSON.parse(entries[0]!.content.toString('utf8')) as ArchiveManifest;
    assert.equal(manifest.version, 1);
    assert.deepEqual(manifest.node, { path: f.platform, alias: 'platform' });
    assert.deepEqual(
      manifest.nodes.map((n) => [n.path, n.packages]),
      [
        ['', ['libredfoo-2.0-1.x86_64', 'redfoo-conf-1.0-1.noarch']],
        ['app', ['redhello-1.0-1.x86_64']],
      ],
    );
    for (const e of entries.slice(1)) {
      const m = manifest.entries.find((x) => x.path === e.name.replace(/\/$/, ''))!;
      assert.ok(m, e.name);
      if (m.type === 'file') assert.equal(m.sha256, sha(e.content), e.name);
    }
    assert.equal(manifest.entries.length, entries.length - 1);
  });

  it('without --with-descendants leaves child nodes out; refuses to write into the node', async () => {
    const out = join(f.dir, 'platform-only.tar');
    const result = await exportNode({ redpath: f.platform, output: out });
    assert.deepEqual(
      result.nodes.map((n) => n.alias),
      ['platform'],
    );
    assert.ok((await readTar(out)).every((e) => !e.name.startsWith('app')));
    await assert.rejects(
      exportNode({ redpath: f.platform, output: join(f.platform, 'x.tar') }),
      (e: unknown) => e instanceof RedpakError && e.code === 'usage',
    );
    assert.ok(!existsSync(join(f.platform, 'x.tar')));
  });

  it('copies a consistent database: transactions still in the write-ahead log are in the archive', async (t) => {
    // A writer that dies before checkpointing leaves its committed transaction in rpmdb.sqlite-wal only.
    const db = join(f.app, 'var/lib/rpm/rpmdb.sqlite');
    const script =
      'import os, sqlite3, sys\nc = sqlite3.connect(sys.argv[1])\nc.execute("PRAGMA wal_autocheckpoint=0")\nc.execute("CREATE TABLE redpak_wal_probe(x)")\nc.execute("INSERT INTO redpak_wal_probe VALUES (42)")\nc.commit()\nos._exit(0)\n';
    const w = spawnSync(solverPython(), ['-c', script, db], { encoding: 'utf8' });
    if (w.status !== 0) return t.skip(`python3 sqlite3 unavailable: ${w.stderr}`);
    assert.ok(statSync(`${db}-wal`).size > 0, 'the write-ahead log holds the transaction');
    const out = join(f.dir, 'app-wal.tar');
    await exportNode({ redpath: f.app, output: out });
    const dest = join(f.platform, 'app-wal');
    await importNode({ archive: out, redpath: dest, host: pinnedHost() });
    const probe = spawnSync(
      solverPython(),
      [
        '-c',
        'import sqlite3, sys\nprint(sqlite3.connect(sys.argv[1]).execute("SELECT x FROM redpak_wal_probe").fetchone()[0])',
        join(dest, 'var/lib/rpm/rpmdb.sqlite'),
      ],
      { encoding: 'utf8' },
    );
    assert.equal(probe.stdout.trim(), '42', probe.stderr);
    assert.equal(rpm(dest, '-qa').stdout.trim(), 'redhello-1.0-1.x86_64');
  });
});

describe('redmanager import', () => {
  let f: NodeFamily;
  let appTar: string;
  let platformTar: string;
  before(async () => {
    f = await makeInstalledFamily();
    appTar = join(f.dir, 'app.tar');
    platformTar = join(f.dir, 'platform.tar');
    await exportNode({ redpath: f.app, output: appTar });
    await exportNode({ redpath: f.platform, output: platformTar, withDescendants: true });
  });
  after(() => f.cleanup());

  it('unpacks a node whose requirements the destination family satisfies; rpm reads its database', async () => {
    const dest = join(f.platform, 'app2');
    const result = await importNode({ archive: appTar, redpath: dest, host: pinnedHost() });
    assert.deepEqual(result.nodes, [{ path: dest, alias: 'app', state: 'Enable', packages: 1 }]);
    assert.equal(result.exportedFrom, f.app);
    const q = rpm(dest, '-qa');
    assert.equal(q.status, 0, q.stderr);
    assert.equal(q.stdout.trim(), 'redhello-1.0-1.x86_64');
    // Package files got their modes and times back: rpm -V finds them as installed.
    const v = rpm(dest, '-V', '--nodeps', 'redhello');
    assert.equal(v.status, 0, v.stdout + v.stderr);
    const status = readFileSync(join(dest, '.rednode.yaml'), 'utf8');
    assert.match(status, new RegExp(`realpath: ${dest}\n`));
    assert.match(status, /info: imported by redmanager the /);
    assert.ok(loadTree(f.platform).children.some((c) => c.path === dest));
    assert.deepEqual(
      listing(f.platform).filter((n) => n.startsWith('.redpak-import')),
      [],
    );
  });

  it('unpacks a node with its descendants under another family; exporting it again gives the same files', async () => {
    const { sys } = await makeDestination(f.dir, 'other');
    const dest = join(sys, 'plat');
    const result = await importNode({ archive: platformTar, redpath: dest, host: pinnedHost() });
    assert.deepEqual(
      result.nodes.map((n) => [n.path, n.alias, n.packages]),
      [
        [dest, 'platform', 2],
        [join(dest, 'app'), 'app', 1],
      ],
    );
    assert.equal(rpm(join(dest, 'app'), '-qa').stdout.trim(), 'redhello-1.0-1.x86_64');
    assert.equal(
      rpm(dest, '-qa').stdout.split('\n').filter(Boolean).sort().join(' '),
      'libredfoo-2.0-1.x86_64 redfoo-conf-1.0-1.noarch',
    );
    assert.match(readFileSync(join(dest, 'app/.rednode.yaml'), 'utf8'), new RegExp(`realpath: ${join(dest, 'app')}\n`));
    const again = join(f.dir, 'again.tar');
    await exportNode({ redpath: dest, output: again, withDescendants: true });
    const before = await readTar(platformTar);
    const now = await readTar(again);
    const content = (entries: TarEntry[]) =>
      entries
        .filter((e) => e.name !== MANIFEST_NAME && !e.name.endsWith('.rednode.yaml'))
        .map((e) => [e.name, e.mode, sha(e.content)]);
    assert.deepEqual(content(now), content(before));
  });

  it('refuses a package an ancestor at the destination already has, leaving nothing behind', async () => {
    const beforeListing = listing(f.platform);
    await assert.rejects(
      importNode({ archive: platformTar, redpath: join(f.platform, 'dup'), host: pinnedHost() }),
      (error: unknown) => {
        assert.ok(error instanceof RedpakError);
        assert.equal(error.code, 'family-rule');
        assert.match(error.message, /libredfoo-2\.0-1\.x86_64 is already installed in ancestor node platform/);
        assert.match(error.hint ?? '', /--forcenode/);
        return true;
      },
    );
    assert.deepEqual(listing(f.platform), beforeListing);
  });

  it('refuses a node whose requirements nothing at the destination provides', async () => {
    const beforeListing = listing(f.sys);
    await assert.rejects(
      importNode({ archive: appTar, redpath: join(f.sys, 'lonely', 'app'), host: pinnedHost() }),
      (error: unknown) => {
        assert.ok(error instanceof RedpakError);
        assert.equal(error.code, 'family-rule');
        assert.match(
          error.message,
          /redhello-1\.0-1\.x86_64 requires libredfoo\.so\.1\(\)\(64bit\), which nothing in the node or its ancestors provides/,
        );
        assert.match(error.message, /requires \/etc\/redfoo\.conf/);
        return true;
      },
    );
    assert.deepEqual(listing(f.sys), beforeListing, 'no staging directory, no created parent');
  });

  it('refuses an existing destination and a disabled ancestor', async () => {
    await assert.rejects(
      importNode({ archive: appTar, redpath: f.app, host: pinnedHost() }),
      (e: unknown) => e instanceof RedpakError && e.code === 'node-exists',
    );
    const { base } = await makeDestination(f.dir, 'off');
    setNodeState({ redpath: base, state: 'Disable', host: pinnedHost() });
    await assert.rejects(
      importNode({ archive: appTar, redpath: join(base, 'x'), host: pinnedHost() }),
      (e: unknown) => e instanceof RedpakError && e.code === 'node-disabled',
    );
    assert.ok(!existsSync(join(base, 'x')));
  });

  it('refuses a truncated archive', async () => {
    const cut = join(f.dir, 'cut.tar');
    copyFileSync(appTar, cut);
    truncateSync(cut, Math.floor(statSync(cut).size / 2));
    const dest = join(f.platform, 'cut');
    await assert.rejects(
      importNode({ archive: cut, redpath: dest, host: pinnedHost() }),
      expectArchiveError(/truncated/),
    );
    assert.ok(!existsSync(dest));
    // Cut at an entry boundary: the entries the manifest lists are missing.
    const entries = await readTar(appTar);
    await writeTar(
      cut,
      entries
        .slice(0, 4)
        .map((e) => ({ name: e.name, type: e.type, mode: e.mode, content: e.type === 'file' ? e.content : undefined })),
    );
    await assert.rejects(
      importNode({ archive: cut, redpath: dest, host: pinnedHost() }),
      expectArchiveError(/truncated: \d+ entries of the manifest missing/),
    );
    assert.deepEqual(
      listing(f.platform).filter((n) => n.startsWith('.redpak-import') || n === 'cut'),
      [],
    );
  });

  it('refuses a tampered archive: changed content, an added entry, a changed mode, a wrong --sha256', async () => {
    const entries = await readTar(appTar);
    const asInput = (list: TarEntry[]) =>
      list.map((e) => ({
        name: e.name,
        type: e.type,
        mode: e.mode,
        content: e.type === 'file' ? e.content : undefined,
        linkname: e.linkname ?? undefined,
      }));
    const bad = join(f.dir, 'bad.tar');
    const dest = join(f.platform, 'bad');

    const changed = entries.map((e) =>
      e.name === 'usr/bin/redhello-wrapper'
        ? { ...e, content: Buffer.from(e.content.toString('utf8').replace('redhello', 'evilhello')) }
        : e,
    );
    await writeTar(bad, asInput(changed));
    await assert.rejects(
      importNode({ archive: bad, redpath: dest, host: pinnedHost() }),
      expectArchiveError(/tampered/),
    );

    await writeTar(bad, [...asInput(entries), { name: 'usr/bin/extra', content: Buffer.from('x') }]);
    await assert.rejects(
      importNode({ archive: bad, redpath: dest, host: pinnedHost() }),
      expectArchiveError(/usr\/bin\/extra" is not in the manifest/),
    );

    await writeTar(bad, asInput(entries.map((e) => (e.name === 'usr/bin/redhello' ? { ...e, mode: 0o4755 } : e))));
    await assert.rejects(
      importNode({ archive: bad, redpath: dest, host: pinnedHost() }),
      expectArchiveError(/mode 4755, the manifest says file 0755/),
    );

    await assert.rejects(
      importNode({ archive: appTar, redpath: dest, sha256: '0'.repeat(64), host: pinnedHost() }),
      expectArchiveError(/not the archive that was exported/),
    );
    assert.ok(!existsSync(dest));
    assert.deepEqual(
      listing(f.platform).filter((n) => n.startsWith('.redpak-import')),
      [],
    );
  });

  it('refuses unsafe entries: absolute paths, .., links escaping the node, devices, hard links', async () => {
    const status = Buffer.from(readFileSync(join(f.app, '.rednode.yaml')));
    const manifest = (extra: object[] = []) =>
      Buffer.from(
        JSON.stringify({
          format: 'redpak-node-archive',
          version: 1,
          node: { path: '/x', alias: 'x' },
          withDescendants: false,
          nodes: [{ path: '', alias: 'x', state: 'Enable', packages: [] }],
          entries: [
            { path: '.rednode.yaml', type: 'file', mode: '0644', size: status.length, sha256: sha(status) },
            ...extra,
          ],
        }),
      );
    const bad = join(f.dir, 'unsafe.tar');
    const dest = join(f.platform, 'unsafe');
    const cases: [
      string,
      { name: string; type?: string; mode?: number; content?: Buffer; linkname?: string }[],
      RegExp,
    ][] = [
      ['absolute', [{ name: '/etc/evil', content: Buffer.from('x') }], /unsafe entry: absolute path/],
      ['dotdot', [{ name: 'etc/../../evil', content: Buffer.from('x') }], /unsafe entry: .*climbs out with \.\./],
      ['device', [{ name: 'dev-null', type: 'character-device', mode: 0o666 }], /character-device entries are refused/],
      ['fifo', [{ name: 'pipe', type: 'fifo', mode: 0o644 }], /fifo entries are refused/],
      ['hardlink', [{ name: 'hard', type: 'link', linkname: '.rednode.yaml' }], /link entries are refused/],
    ];
    for (const [label, extra, pattern] of cases) {
      await writeTar(bad, [
        { name: MANIFEST_NAME, content: manifest() },
        { name: '.rednode.yaml', content: status },
        ...extra,
      ]);
      await assert.rejects(
        importNode({ archive: bad, redpath: dest, host: pinnedHost() }),
        expectArchiveError(pattern),
        label,
      );
    }
    for (const target of ['../../../etc', '/etc/passwd']) {
      await writeTar(bad, [
        { name: MANIFEST_NAME, content: manifest([{ path: 'lnk', type: 'symlink', mode: '0777', target }]) },
        { name: '.rednode.yaml', content: status },
        { name: 'lnk', type: 'symlink', mode: 0o777, linkname: target },
      ]);
      await assert.rejects(
        importNode({ archive: bad, redpath: dest, host: pinnedHost() }),
        expectArchiveError(/symlink "lnk" points outside the node/),
        target,
      );
    }
    await writeTar(bad, [{ name: '.rednode.yaml', content: status }]);
    await assert.rejects(
      importNode({ archive: bad, redpath: dest, host: pinnedHost() }),
      expectArchiveError(/not a redpak node archive/),
    );
    writeFileSync(bad, 'not a tar at all, just some words that are not a header block');
    await assert.rejects(
      importNode({ archive: bad, redpath: dest, host: pinnedHost() }),
      (e: unknown) => e instanceof RedpakError && e.code === 'io',
    );
    assert.ok(!existsSync(dest));
    assert.deepEqual(
      listing(f.platform).filter((n) => n.startsWith('.redpak-import')),
      [],
    );
  });

  it('signed archives: export --sign writes ARCHIVE.asc; import --verify-key takes only a good signature by a given key', async (t) => {
    // Two keys made for the test in a private keyring (GNUPGHOME), as a release key would be.
    const home = mkdtempSync(join(tmpdir(), 'rp-gpg-'));
    const gpg = (...args: string[]) => {
      const r = spawnSync('gpg', ['--batch', '--pinentry-mode', 'loopback', '--passphrase', '', ...args], {
        env: { ...process.env, GNUPGHOME: home },
        encoding: 'utf8',
      });
      assert.equal(r.status, 0, r.stderr);
      return r.stdout;
    };
    const saved = process.env.GNUPGHOME;
    t.after(() => {
      if (saved === undefined) delete process.env.GNUPGHOME;
      else process.env.GNUPGHOME = saved;
      spawnSync('gpgconf', ['--homedir', home, '--kill', 'gpg-agent']);
      rmSync(home, { recursive: true, force: true });
    });
    gpg('--quick-gen-key', 'Release <release@redpak.invalid>', 'rsa2048', 'sign', 'never');
    gpg('--quick-gen-key', 'Other <other@redpak.invalid>', 'rsa2048', 'sign', 'never');
    const releaseKey = join(home, 'release.asc');
    const otherKey = join(home, 'other.asc');
    writeFileSync(releaseKey, gpg('--armor', '--export', 'release@redpak.invalid'));
    writeFileSync(otherKey, gpg('--armor', '--export', 'other@redpak.invalid'));
    process.env.GNUPGHOME = home;

    const signed = join(f.dir, 'signed.tar');
    await assert.rejects(
      exportNode({ redpath: f.app, output: signed, sign: 'nobody@redpak.invalid' }),
      /no secret key nobody@redpak.invalid/,
    );
    assert.ok(!existsSync(signed), 'an unknown key stops the export before anything is written');
    const exported = await exportNode({ redpath: f.app, output: signed, sign: 'release@redpak.invalid' });
    assert.equal(exported.signature, `${signed}.asc`);

    const imported = await importNode({
      archive: signed,
      redpath: join(f.platform, 'signed'),
      host: pinnedHost(),
      verifyKeys: [releaseKey],
    });
    assert.match(imported.signedBy!.signer, /Release <release@redpak.invalid>/);

    const refused = async (options: Partial<Parameters<typeof importNode>[0]>, why: RegExp) => {
      const dest = join(f.platform, 'refused');
      await assert.rejects(
        importNode({ archive: signed, redpath: dest, host: pinnedHost(), ...options }),
        (e: RedpakError) => {
          assert.match(e.message, why);
          assert.ok(e.hint);
          return true;
        },
      );
      assert.ok(!existsSync(dest), 'nothing imported');
    };
    await refused({ verifyKeys: [otherKey] }, /not made by any of the keys given/);
    await refused({ verifyKeys: [releaseKey], signature: join(f.dir, 'none.asc') }, /no signature/);
    const tampered = join(f.dir, 'tampered.tar');
    const bytes = readFileSync(signed);
    bytes[bytes.length - 2000]! ^= 0x01;
    writeFileSync(tampered, bytes);
    await refused(
      { archive: tampered, verifyKeys: [releaseKey], signature: `${signed}.asc` },
      /does not match the archive/,
    );
  });

  it('readManifest lists what an archive holds without unpacking it', async () => {
    const m = await readManifest(platformTar);
    assert.deepEqual(
      m.nodes.map((n) => n.alias),
      ['platform', 'app'],
    );
  });
});

describe('archive entry checks', () => {
  it('entry names', () => {
    assert.deepEqual(checkEntryPath('usr/bin/x'), { path: 'usr/bin/x' });
    assert.deepEqual(checkEntryPath('usr/'), { path: 'usr' });
    for (const bad of ['/abs', '../x', 'a/../b', 'a//b', './a', 'a/./b', '', 'a\\b'])
      assert.ok('unsafe' in checkEntryPath(bad), bad);
  });
  it('symlink targets', () => {
    assert.ok(linkStaysInside('usr/lib/libx.so', 'libx.so.1'));
    assert.ok(linkStaysInside('usr/lib64', '../lib'));
    assert.ok(linkStaysInside('bin', 'usr/bin'));
    assert.ok(!linkStaysInside('bin', '../bin'));
    assert.ok(!linkStaysInside('usr/bin/sh', '../../../bin/sh'));
    assert.ok(!linkStaysInside('usr/bin/sh', '/bin/sh'));
  });
});
