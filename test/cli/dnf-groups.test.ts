/**
 * redwrap-dnf group list/info/install/remove, `@group` in install/remove, repo list/info and
 * repoinfo, and the global -q/-v, against a real family and a repository built with
 * createrepo_c -g (file:// and http on 127.0.0.1), real rpm transactions.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { BinRun } from '../helpers/cli.js';
import { PACKAGE_ROOT } from '../helpers/cli.js';
import { runCommand } from '../helpers/in-process.js';
import { holdLock } from '../helpers/lock-holder.js';
import { makeCompsRepo } from '../pkg/helpers/comps-repo.js';
import { installedNames } from '../pkg/helpers/family.js';
import { makeNodeFamily, serveDirectory, snapshotNode, writeRepoFile, type NodeFamily } from '../pkg/helpers/nodes.js';
import { GROUPS_FILE } from '../../src/pkg/group-record.js';

const dnf = (args: string[]): Promise<BinRun> => runCommand('redwrap-dnf', args, { env: { REDPAK_DNF_CONF: '' } });
const groupsOf = (node: string) =>
  JSON.parse(readFileSync(join(node, GROUPS_FILE), 'utf8')).groups as Record<
    string,
    { packages: string[]; members: string[]; time: string }
  >;

describe('redwrap-dnf group and repo', () => {
  let f: NodeFamily;
  let repo: string;
  before(async () => {
    f = await makeNodeFamily({ repoFile: false });
    repo = await makeCompsRepo();
    writeRepoFile(f.sys, 'comps', `file://${repo}`);
  });
  after(() => {
    f.cleanup();
    rmSync(repo, { recursive: true, force: true });
  });

  it('group list: visible groups, --hidden, --ids, --installed/--available; the --json document', async () => {
    const r = await dnf(['--redpath', f.app, 'group', 'list']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'Available Groups:\n   Red apps\n   Red broken\n   Red configuration\n');
    // Options after the command word too.
    const hidden = await dnf(['group', 'list', '--hidden', '--ids', '--redpath', f.app]);
    assert.match(hidden.stdout, /^ {3}Red tools \(redtools\)$/m);
    const json = await dnf(['--redpath', f.app, 'group', 'list', '--json', '--hidden']);
    assert.deepEqual(json.json.groups[0], {
      id: 'redapps',
      name: 'Red apps',
      description: 'The redpak fixture applications',
      uservisible: true,
      installed: false,
      repos: ['comps'],
    });
    assert.equal(json.json.groups.length, 4);
    const installed = await dnf(['--redpath', f.app, 'group', 'list', '--installed', '--json']);
    assert.deepEqual(installed.json.groups, []);
  });

  it('group info: packages by type, by id or name with globs; an unknown group exits 7 and suggests the id', async () => {
    const r = await dnf(['--redpath', f.app, 'group', 'info', 'Red app*']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(
      r.stdout,
      [
        'Group: Red apps',
        ' Group-Id: redapps',
        ' Description: The redpak fixture applications',
        ' Mandatory Packages:',
        '   redhello',
        ' Default Packages:',
        '   redscript',
        ' Optional Packages:',
        '   redlegacy',
        ' Conditional Packages:',
        '   redfoo-conf (if redhello)',
        '',
      ].join('\n'),
    );
    const json = await dnf(['--redpath', f.app, 'group', 'info', 'redtools', '--json']);
    assert.deepEqual(json.json.groups[0].packages, [{ name: 'redcompat', type: 'mandatory' }]);
    const unknown = await dnf(['--redpath', f.app, 'group', 'info', 'redap']);
    assert.equal(unknown.status, 7);
    assert.match(unknown.stderr, /no group matches 'redap' in the repositories of node /);
    assert.match(unknown.stderr, /hint: did you mean 'redapps'\?/);
    const none = await dnf(['--redpath', f.app, 'group', 'install', '-y']);
    assert.equal(none.status, 2);
    assert.match(none.stderr, /group install needs at least one group/);
  });

  it('group install: --assumeno changes nothing; -y installs mandatory, default and conditional packages and records the group', async () => {
    const before = snapshotNode(f.app);
    const no = await dnf(['--redpath', f.app, '--assumeno', 'group', 'install', 'redapps']);
    assert.equal(no.status, 0, no.stderr);
    assert.match(no.stdout, /Installing:\n(?: \S+.*\n){3}Installing dependencies:\n libredfoo /);
    assert.deepEqual(snapshotNode(f.app), before);

    const r = await dnf(['group', 'install', '--redpath', f.app, '-y', 'redapps', '--json']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.json.status, 'done');
    assert.deepEqual(r.json.packages.map((p: { name: string; reason: string }) => `${p.name}:${p.reason}`).sort(), [
      'libredfoo:dependency',
      'redfoo-conf:user',
      'redhello:user',
      'redscript:user',
    ]);
    assert.deepEqual(await installedNames(f.app), ['libredfoo', 'redfoo-conf', 'redhello', 'redscript']);
    assert.deepEqual(groupsOf(f.app).redapps?.packages, ['redfoo-conf', 'redhello', 'redscript']);
    const history = await dnf(['--redpath', f.app, 'history', '--json']);
    assert.equal(history.json.entries.at(-1).command, 'group install redapps');
    const list = await dnf(['--redpath', f.app, 'group', 'list']);
    assert.match(list.stdout, /^Installed Groups:\n {3}Red apps\nAvailable Groups:\n/);
    // Installed already: nothing to do, a second group sharing a package records it too.
    const conf = await dnf(['--redpath', f.app, '-y', 'group', 'install', 'redconf', '--json']);
    assert.equal(conf.json.status, 'nothing-to-do', conf.stderr);
    assert.deepEqual(groupsOf(f.app).redconf, {
      id: 'redconf',
      name: 'Red configuration',
      time: groupsOf(f.app).redconf?.time,
      packages: [],
      members: ['redfoo-conf'],
    });
  });

  it('group remove: what the group brought in, but not what the user asked for since, another group has, or the node needs', async () => {
    // Asked for by name after the group brought it: the user's from then on.
    const mine = await dnf(['--redpath', f.app, '-y', '-q', 'install', 'redscript']);
    assert.equal(mine.status, 0, mine.stderr);
    assert.equal(mine.stdout, '', '-q -y: no table, no progress, no outcome');
    assert.deepEqual(groupsOf(f.app).redapps?.packages, ['redfoo-conf', 'redhello']);

    const r = await dnf(['--redpath', f.app, '-y', 'group', 'remove', 'red apps', '--json']);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(
      r.json.packages
        .map((p: { action: string; name: string; reason: string }) => `${p.action}:${p.name}:${p.reason}`)
        .sort(),
      ['erase:libredfoo:unused', 'erase:redhello:user'],
    );
    assert.deepEqual(await installedNames(f.app), ['redfoo-conf', 'redscript'], 'redconf keeps redfoo-conf');
    assert.deepEqual(Object.keys(groupsOf(f.app)), ['redconf']);

    const again = await dnf(['--redpath', f.app, '-y', 'group', 'remove', 'redapps']);
    assert.equal(again.status, 7);
    assert.match(again.stderr, /no group matches 'redapps' among the installed groups/);
  });

  it('@group in install and remove; a package the node needs stays; a package no repository has is skipped with a warning', async () => {
    const conf = await dnf(['--redpath', f.app, '-y', 'remove', '@redconf', '--json']);
    assert.equal(conf.status, 0, conf.stderr);
    assert.equal(
      conf.json.status,
      'nothing-to-do',
      'redfoo-conf came before redconf (from redapps): not brought in by it',
    );
    assert.deepEqual(groupsOf(f.app), {});

    const tools = await dnf(['--redpath', f.app, '-y', '-v', 'install', '@redtools']);
    assert.equal(tools.status, 0, tools.stderr);
    assert.match(tools.stderr, /^repository comps: metadata from file:\/\/.* \(cached, fetched /m);
    assert.match(tools.stderr, /^solver: install redcompat-1\.0-1\.\S+ from comps \(asked for\)$/m);
    assert.deepEqual(groupsOf(f.app).redtools?.packages, ['redcompat']);
    const history = await dnf(['--redpath', f.app, 'history', '--json']);
    assert.equal(history.json.entries.at(-1).command, 'install @redtools', 'the command as given');

    const broken = await dnf(['--redpath', f.app, '-y', 'group', 'install', 'redbroken']);
    assert.equal(broken.status, 0, broken.stderr);
    assert.match(broken.stderr, /warning: no match for package rednothere of group redbroken: skipped/);
    assert.deepEqual(groupsOf(f.app).redbroken?.packages, [], "redscript was the user's already");

    // A group package that another package of the node requires stays.
    await dnf(['--redpath', f.app, '-y', 'remove', 'redscript', 'redfoo-conf']);
    const c = await dnf(['--redpath', f.app, '-y', 'group', 'install', 'redconf']);
    assert.equal(c.status, 0, c.stderr);
    assert.deepEqual(groupsOf(f.app).redconf?.packages, ['redfoo-conf']);
    assert.equal((await dnf(['--redpath', f.app, '-y', 'install', 'redhello'])).status, 0);
    const keep = await dnf(['--redpath', f.app, '-y', '-v', 'group', 'remove', 'redconf', '--json']);
    assert.equal(keep.status, 0, keep.stderr);
    assert.equal(keep.json.status, 'nothing-to-do');
    assert.match(keep.stderr, /group package redfoo-conf stays: redhello requires it/);
    assert.ok((await installedNames(f.app)).includes('redfoo-conf'));
    assert.equal(groupsOf(f.app).redconf, undefined);
  });

  it('a group install is a transaction like any: the family lock, the family rules, nothing changed on refusal', async () => {
    const before = snapshotNode(f.platform);
    const holder = await holdLock(join(f.sys, '.redpak-transaction.lock'));
    try {
      const busy = await dnf(['--redpath', f.platform, '-y', 'group', 'install', 'redtools']);
      assert.equal(busy.status, 9, busy.stderr);
    } finally {
      holder.kill();
    }
    // The app node below has redcompat (from @redtools): the platform may not take a copy (rule 2).
    const r = await dnf(['--redpath', f.platform, '-y', 'group', 'install', 'redtools', '--json']);
    assert.equal(r.status, 8, JSON.stringify(r.json));
    assert.equal(r.json.error.code, 'family-rule');
    assert.match(r.json.error.message, /redcompat/);
    assert.deepEqual(snapshotNode(f.platform), before);
  });

  it('a hostile or garbled group record is refused with an error naming the file, and nothing changes', async () => {
    const file = join(f.app, GROUPS_FILE);
    const saved = readFileSync(file, 'utf8');
    try {
      writeFileSync(
        file,
        JSON.stringify({
          version: 1,
          groups: { all: { id: 'all', name: 'all', time: 't', packages: ['*'], members: [] } },
        }),
      );
      const before = snapshotNode(f.app);
      for (const args of [
        ['-y', 'group', 'remove', 'all'],
        ['-y', 'install', 'redscript'],
        ['group', 'list'],
      ]) {
        const r = await dnf(['--redpath', f.app, ...args]);
        assert.equal(r.status, 1, `${args.join(' ')}: ${r.stderr}`);
        assert.ok(r.stderr.includes(`error: ${file}: not a group record written by redwrap-dnf`), r.stderr);
        assert.match(r.stderr, /packages of group all are not a list of package names/);
      }
      assert.deepEqual(snapshotNode(f.app), before);
      writeFileSync(file, '{"version": 1, "groups": ');
      const still = snapshotNode(f.app);
      const garbled = await dnf(['--redpath', f.app, '-y', 'install', 'redscript']);
      assert.equal(garbled.status, 1);
      assert.match(garbled.stderr, /invalid JSON/);
      assert.match(garbled.stderr, /hint: move the file away/);
      assert.deepEqual(snapshotNode(f.app), still);
    } finally {
      writeFileSync(file, saved);
    }
  });

  it('a hostile comps document of a repository is refused naming it and its line', async () => {
    const bad = await makeCompsRepo(
      '<?xml version="1.0"?>\n<comps>\n<group><id>all</id><name>All</name>\n<packagelist><packagereq>*</packagereq></packagelist></group>\n</comps>\n',
    );
    try {
      const r = await dnf(['--redpath', f.app, '--no-repo-files', '--repo-dir', bad, 'group', 'list']);
      assert.equal(r.status, 7);
      assert.match(
        r.stderr,
        /comps\.xml \(group metadata of repository .*\) line 4: refused comps data: package "\*" of group all/,
      );
    } finally {
      rmSync(bad, { recursive: true, force: true });
    }
  });

  it('a cached copy without the group file (fetched before groups were read) says so; --refresh fetches it', async () => {
    const cached = join(f.sys, 'var/cache/dnf/comps/repodata');
    const file = readdirSync(cached).find((name) => name.endsWith('-comps.xml'));
    assert.ok(file, `the group file is in ${cached}`);
    rmSync(join(cached, file));
    const r = await dnf(['--redpath', f.app, 'group', 'list']);
    assert.equal(r.status, 7);
    assert.match(r.stderr, /repository comps: its cached metadata in .* has no group file/);
    assert.match(r.stderr, /hint: .*--refresh fetches it again/);
    const refreshed = await dnf(['--redpath', f.app, 'group', 'list', '--refresh']);
    assert.equal(refreshed.status, 0, refreshed.stderr);
    assert.ok(existsSync(join(cached, file)));
    // A copy grown in the cache (which may sit in a node) beyond what repomd.xml declared is not read.
    const bytes = readFileSync(join(cached, file));
    writeFileSync(join(cached, file), Buffer.concat([bytes, Buffer.alloc(64, 0x20)]));
    const grown = await dnf(['--redpath', f.app, 'group', 'list']);
    assert.equal(grown.status, 7);
    assert.match(grown.stderr, /-comps\.xml is larger than the \d+ bytes allowed/);
    writeFileSync(join(cached, file), bytes);
  });

  it('groups over http; repo list, repo info and repoinfo', async () => {
    const server = await serveDirectory(repo);
    const node = join(f.dir, 'redpak', 'web');
    try {
      const created = await runCommand('redwrap-dnf', ['--redpath', node, 'manager', '-q']);
      assert.equal(created.status, 0, created.stderr);
      assert.equal(created.stdout, '', '-q: no informational line');
      writeRepoFile(node, 'web', server.url);
      writeRepoFile(node, 'off', 'file:///nonexistent', { enabled: '0' });
      const groups = await dnf(['--redpath', node, 'group', 'info', 'redconf', '--json']);
      assert.equal(groups.status, 0, groups.stderr);
      assert.ok(
        server.hits.some((h) => h.endsWith('-comps.xml')),
        'the group metadata came over http',
      );
      const optional = await dnf(['--redpath', node, '-y', 'group', 'install', '--with-optional', 'redapps', '--json']);
      assert.equal(optional.status, 0, optional.stderr);
      assert.ok(optional.json.packages.some((p: { name: string }) => p.name === 'redlegacy'));
      assert.ok(groupsOf(node).redapps?.packages.includes('redlegacy'));

      const list = await dnf(['--redpath', node, 'repo', 'list']);
      assert.equal(list.stdout, 'repo id  repo name\nweb      web\n');
      const all = await dnf(['repo', 'list', '--all', '--redpath', node]);
      assert.match(all.stdout, /^off +off +disabled\nweb +web +enabled\n$/m);
      const disabled = await dnf(['--redpath', node, 'repo', 'list', '--disabled', '--json']);
      assert.deepEqual(
        disabled.json.repos.map((r: { id: string }) => r.id),
        ['off'],
      );

      const info = await dnf(['--redpath', node, 'repo', 'info', '--json']);
      assert.equal(info.status, 0, info.stderr);
      const [web] = info.json.repos;
      const rpms = 11; // the fixture packages but redsigned
      assert.equal(web.id, 'web');
      assert.equal(web.packages, rpms);
      assert.ok(web.size > 10_000);
      assert.match(web.updated, /^\d{4}-\d\d-\d\dT/);
      assert.equal(web.metadataFrom, server.url);
      const text = await dnf(['--redpath', node, 'repoinfo', 'w*']);
      assert.match(
        text.stdout,
        /^Repo-id +: web\nRepo-name +: web\nRepo-status +: enabled\nRepo-updated +: \S+\nRepo-pkgs +: 11\nRepo-size +: [\d.]+ k\nRepo-baseurl +: http:\/\/127\.0\.0\.1:\d+\n/,
      );
      assert.match(text.stdout, /^Repo-expire +: 172800 second\(s\) \(last: \S+\)$/m);
      const off = await dnf(['--redpath', node, 'repoinfo', 'off', '--json']);
      assert.equal(off.status, 0, off.stderr);
      assert.deepEqual(
        [off.json.repos[0].id, off.json.repos[0].enabled, off.json.repos[0].packages],
        ['off', false, undefined],
      );
    } finally {
      await server.close();
    }
  });

  it('-q and -v: every redwrap-dnf command takes them, and not both', async () => {
    const manifest = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'dist/oclif/redwrap-dnf/oclif.manifest.json'), 'utf8'));
    const ids = Object.keys(manifest.commands);
    assert.ok(ids.includes('group') && ids.includes('repo') && ids.includes('repoinfo'));
    for (const id of ids) {
      const flags = manifest.commands[id].flags;
      assert.equal(flags.quiet?.char, 'q', id);
      assert.equal(flags.verbose?.char, 'v', id);
      const help = await dnf([id, '--help']);
      assert.match(help.stdout, /-q, --quiet/, id);
    }
    const both = await dnf(['--redpath', f.app, '-q', '-v', 'repo', 'list']);
    assert.equal(both.status, 2);
    assert.match(both.stderr, /--verbose=true cannot also be provided when using --quiet|cannot also be provided/);
  });
});
