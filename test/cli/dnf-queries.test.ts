/**
 * dnf's read-only verbs against a real family and the fixture repository (rpmbuild, createrepo_c):
 * search, provides/whatprovides, check-update (exit 100 when there are updates), repoquery options.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { BinRun } from '../helpers/cli.js';
import { runCommand } from '../helpers/in-process.js';
import { makeNodeFamily, snapshotNode, type NodeFamily } from '../pkg/helpers/nodes.js';

const dnf = (args: string[]): Promise<BinRun> => runCommand('redwrap-dnf', args);

describe('redwrap-dnf search, provides, check-update', () => {
  let f: NodeFamily;
  before(async () => {
    f = await makeNodeFamily();
  });
  after(() => f.cleanup());

  it('search: every term in the name or summary, in dnf sections, best first', async () => {
    const r = await dnf(['--redpath', f.app, 'search', 'redfoo', '--json']);
    assert.equal(r.status, 0, r.stderr);
    const found = r.json.packages.map((p: { name: string; matched: string }) => [p.name, p.matched]);
    // Names with the term come before summaries with it ("linked against libredfoo").
    assert.deepEqual(
      found.filter(([name]: string[]) => ['libredfoo', 'redfoo-conf', 'redhello'].includes(name)),
      [
        ['libredfoo', 'name'],
        ['redfoo-conf', 'name'],
        ['redhello', 'summary'],
      ],
    );
    assert.equal(new Set(found.map(([name]: string[]) => name)).size, found.length, 'one line per package');
    const exact = await dnf(['--redpath', f.app, 'search', 'redhello']);
    assert.equal(exact.status, 0, exact.stderr);
    assert.match(
      exact.stdout,
      /^======== Name Exactly Matched: redhello ========\nredhello\.x86_64 : redpak fixture app linked against libredfoo\n/,
    );
    const two = await dnf(['--redpath', f.app, 'search', 'FIXTURE', 'shared', '--json']);
    assert.deepEqual(
      two.json.packages.map((p: { name: string; matched: string }) => [p.name, p.matched]),
      [['libredfoo', 'summary']],
      'both terms, case-insensitive, one version per package',
    );
    const none = await dnf(['--redpath', f.app, 'search', 'zzzznothing']);
    assert.equal(none.status, 7);
    assert.match(none.stderr, /no package matches zzzznothing/);
  });

  it('provides: by file path and by capability, whatprovides as its alias', async () => {
    const file = await dnf(['--redpath', f.app, 'provides', '/usr/bin/redhello', '--json']);
    assert.equal(file.status, 0, file.stderr);
    assert.deepEqual(
      file.json.packages.map((p: { name: string }) => p.name),
      ['redhello'],
    );
    const soname = await dnf(['--redpath', f.app, 'whatprovides', 'libredfoo.so.1()(64bit)']);
    assert.equal(soname.status, 0, soname.stderr);
    assert.match(soname.stdout, /^libredfoo-1\.0-1\.x86_64 : redpak fixture shared library\nRepo {8}: fixtures\n/m);
    const none = await dnf(['--redpath', f.app, 'provides', '/usr/bin/none']);
    assert.equal(none.status, 7);
    assert.match(none.stderr, /no package provides \/usr\/bin\/none/);
  });

  it('repoquery: --list prints files, --info details, --available only the repositories, --nevra the default', async () => {
    const files = await dnf(['--redpath', f.app, 'repoquery', '-l', 'redhello']);
    assert.equal(files.status, 0, files.stderr);
    assert.equal(files.stdout, '/usr/bin/redhello\n/usr/bin/redhello-wrapper\n');
    const info = await dnf(['--redpath', f.app, 'repoquery', '--info', 'redhello']);
    assert.match(info.stdout, /^Name {9}: redhello\nVersion {6}: 1\.0\n/);
    const nevra = await dnf(['--redpath', f.app, 'repoquery', '--nevra', 'redhello']);
    assert.equal(nevra.stdout, 'redhello-1.0-1.x86_64\n');
    const json = await dnf(['--redpath', f.app, 'repoquery', '--available', '--list', 'libredfoo', '--json']);
    assert.deepEqual(
      json.json.packages.map((p: { nevra: string; files: string[] }) => [p.nevra, p.files]),
      [
        ['libredfoo-1.0-1.x86_64', ['/usr/lib/libredfoo.so.1']],
        ['libredfoo-2.0-1.x86_64', ['/usr/lib/libredfoo.so.1']],
      ],
    );
  });

  it('download: the named packages, or with --resolve their missing dependencies too, into --destdir; install --downloadonly changes nothing', async (t) => {
    const dest = mkdtempSync(join(tmpdir(), 'redpak-download-'));
    t.after(() => rmSync(dest, { recursive: true, force: true }));
    const before = snapshotNode(f.app);
    const one = await dnf(['--redpath', f.app, 'download', 'redhello', '--destdir', join(dest, 'one'), '--json']);
    assert.equal(one.status, 0, one.stderr);
    assert.deepEqual(readdirSync(join(dest, 'one')), ['redhello-1.0-1.x86_64.rpm']);
    const all = await dnf(['--redpath', f.app, 'download', '--resolve', 'redhello', '--destdir', join(dest, 'all')]);
    assert.equal(all.status, 0, all.stderr);
    assert.ok(
      readdirSync(join(dest, 'all')).some((file) => file.startsWith('libredfoo-')),
      readdirSync(join(dest, 'all')).join(),
    );
    const only = await dnf(['--redpath', f.app, '-y', 'install', '--downloadonly', 'redhello', '--json']);
    assert.equal(only.status, 0, only.stderr);
    assert.equal(only.json.status, 'downloaded');
    assert.ok(only.json.files.every((file: { path: string }) => existsSync(file.path)));
    assert.deepEqual(snapshotNode(f.app), before, 'the node is unchanged');
  });

  it("check-update: the node's own packages with a newer version, exit 100; none, exit 0; an ancestor's are not the node's", async () => {
    const empty = await dnf(['--redpath', f.platform, 'check-update', '--json']);
    assert.equal(empty.status, 0, empty.stderr);
    assert.deepEqual(empty.json.updates, []);
    const installed = await dnf(['--redpath', f.platform, '-y', 'install', 'libredfoo-1.0']);
    assert.equal(installed.status, 0, installed.stderr);
    const before = snapshotNode(f.platform);
    const updates = await dnf(['--redpath', f.platform, 'check-update']);
    assert.equal(updates.status, 100, updates.stderr);
    assert.match(updates.stdout, /^\nlibredfoo\.x86_64 +2\.0-1 +fixtures\n$/);
    const json = await dnf(['--redpath', f.platform, 'check-update', '--json']);
    assert.equal(json.status, 100);
    assert.deepEqual(
      json.json.updates.map((u: { name: string; evr: string; installed: string }) => [u.name, u.evr, u.installed]),
      [['libredfoo', '2.0-1', '1.0-1']],
    );
    assert.deepEqual(snapshotNode(f.platform), before, 'check-update changes nothing');
    const child = await dnf(['--redpath', f.app, 'check-update', '--json']);
    assert.equal(child.status, 0, child.stderr);
    assert.deepEqual(child.json.updates, [], "the platform's package is the platform's to upgrade");
  });
});
