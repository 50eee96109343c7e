/**
 * redwrap-dnf as users run it: its commands run in-process (test/helpers/in-process.ts), real families
 * in temp dirs.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LOCK_FILE } from '../../src/pkg/lock.js';
import { makeNodeFamily, snapshotNode, type NodeFamily } from '../pkg/helpers/nodes.js';
import { installedNames } from '../pkg/helpers/family.js';
import { type BinRun, runBin } from '../helpers/cli.js';
import { runCommand } from '../helpers/in-process.js';
import { holdLock } from '../helpers/lock-holder.js';
import { olderThanTheClockMargin } from '../helpers/read-caches.js';
import { dirStamp, stampIdentity } from '../../src/system/cache-file.js';
import { callerCacheDir } from '../../src/system/caller-cache.js';

const dnf = (args: string[]): Promise<BinRun> => runCommand('redwrap-dnf', args);

describe('redwrap-dnf CLI', () => {
  let f: NodeFamily;
  before(async () => {
    f = await makeNodeFamily();
  });
  after(() => f.cleanup());

  it('every command explains itself in --help', async () => {
    for (const command of [
      'install',
      'remove',
      'autoremove',
      'mark',
      'upgrade',
      'reinstall',
      'downgrade',
      'list',
      'info',
      'repoquery',
      'repolist',
      'makecache',
      'clean',
      'history',
      'host-provides',
      'search',
      'provides',
      'check-update',
      'download',
      'manager',
    ]) {
      const r = await dnf([command, '--help']);
      assert.equal(r.status, 0, `${command}: ${r.stderr}`);
      assert.match(r.stdout, /USAGE/, command);
      assert.match(r.stdout, /DESCRIPTION/, command);
      assert.match(r.stdout, /--redpath/, command);
    }
  });

  it('options first, as redpak: shows the transaction table and changes nothing with --assumeno', async () => {
    const before = snapshotNode(f.platform);
    const r = await dnf(['--redpath', f.platform, '--assumeno', 'install', 'redhello']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /Package\s+Arch\s+Version\s+Repository\s+Size/);
    assert.match(
      r.stdout,
      /Installing:\n redhello\s+x86_64\s+1\.0-1\s+fixtures\s+[\d.]+ k\nInstalling dependencies:\n/,
    );
    assert.match(r.stdout, / redfoo-conf\s+noarch\s+1\.0-1\s+fixtures/);
    assert.match(r.stdout, /Install\s+3 Packages/);
    assert.match(r.stdout, /Operation aborted/);
    assert.deepEqual(snapshotNode(f.platform), before);
  });

  it('without a terminal and without -y, refuses to guess', async () => {
    const r = await dnf(['--redpath', f.platform, 'install', 'redhello']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /hint: pass -y/);
  });

  it('-y --json installs and prints the TransactionResult; plain progress lines without a TTY', async () => {
    const r = await dnf(['--redpath', f.platform, '-y', '--json', 'install', 'libredfoo-1.0', 'redfoo-conf']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.json.status, 'done');
    assert.equal(r.json.node, f.platform);
    assert.deepEqual(r.json.packages.map((p: { nevra: string; action: string }) => `${p.action} ${p.nevra}`).sort(), [
      'install libredfoo-1.0-1.x86_64',
      'install redfoo-conf-1.0-1.noarch',
    ]);
    assert.equal(typeof r.json.historyId, 'number');
    const plain = await dnf(['--redpath', f.app, '-y', 'install', 'redhello']);
    assert.equal(plain.status, 0, plain.stderr);
    assert.match(plain.stdout, /Installing redhello-1\.0-1\.x86_64/);
    assert.match(plain.stdout, /Installed: redhello-1\.0-1\.x86_64/);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the escape character is what must be absent
    assert.doesNotMatch(plain.stdout, /\x1b\[/, 'no terminal escapes when not on a TTY');
    assert.deepEqual(await installedNames(f.app), ['redhello']);
  });

  it('family rules exit 8 with the error as JSON, naming package and ancestor', async () => {
    const r = await dnf(['--redpath', f.app, '-y', '--json', 'install', 'libredfoo']);
    assert.equal(r.status, 8);
    assert.equal(r.json.error.code, 'family-rule');
    assert.match(r.json.error.message, new RegExp(`libredfoo.*${f.platform}`));
    assert.match(r.json.error.hint, /--forcenode/);
    const removal = await dnf(['--redpath', f.platform, '-y', 'remove', 'libredfoo']);
    assert.equal(removal.status, 8);
    assert.match(
      removal.stderr,
      /descendant node .*app: redhello-1\.0-1\.x86_64 requires libredfoo\.so\.1\(\)\(64bit\)/,
    );
  });

  it('solver problems exit 7, shown the dnf way', async () => {
    const r = await dnf(['--redpath', f.app, '-y', 'install', 'redtool']);
    assert.equal(r.status, 7);
    assert.match(r.stderr, /Problem: .*redtool-1\.0-1\.noarch requires libredfoo >= 2\.0/);
    assert.match(r.stderr, /libredfoo-1\.0-1\.x86_64 belongs to ancestor node/);
    assert.match(r.stderr, /Possible solutions:/);
  });

  it('list --family --json gives each package its node; history and repoquery answer', async () => {
    const list = await dnf(['--redpath', f.app, 'list', '--family', '--json']);
    assert.equal(list.status, 0, list.stderr);
    const owners = Object.fromEntries(list.json.packages.map((p: { name: string; node: string }) => [p.name, p.node]));
    assert.equal(owners.redhello, f.app);
    assert.equal(owners.libredfoo, f.platform);
    const history = await dnf(['--redpath', f.app, 'history', '--json']);
    assert.deepEqual(
      history.json.entries.map((e: { command: string }) => e.command),
      ['install redhello'],
    );
    const q = await dnf(['--redpath', f.app, 'repoquery', '--installed', '--whatprovides', '/etc/redfoo.conf']);
    assert.equal(q.stdout.trim(), 'redfoo-conf-1.0-1.noarch');
  });

  it('a held family lock exits 9 with the holder named', async () => {
    const holder = await holdLock(join(f.sys, LOCK_FILE), 'redwrap-dnf install x');
    try {
      const r = await dnf(['--redpath', f.app, '-y', 'install', 'redscript']);
      assert.equal(r.status, 9);
      assert.match(r.stderr, new RegExp(`pid ${holder.pid}`));
      assert.match(r.stderr, /hint: wait for it/);
    } finally {
      holder.kill('SIGKILL');
    }
  });

  it("reads the family's nodes through the caller's read cache, and an ancestor again once its config changes", async () => {
    await olderThanTheClockMargin();
    const cacheDir = callerCacheDir(process.geteuid?.() ?? 0, { ...process.env, REDWRAP_NO_CACHE: undefined });
    assert.ok(cacheDir, 'the caller has a cache directory');
    const entry = join(cacheDir, `read-${stampIdentity(dirStamp(f.sys))}-admin.json`);
    rmSync(entry, { force: true });
    // The executable, as users run it (its quick start for the install).
    assert.equal(runBin('redwrap-dnf', ['--redpath', f.app, 'list', '--installed']).status, 0);
    assert.ok(existsSync(entry), 'the system node was recorded');
    const installed = await installedNames(f.app);
    const config = join(f.sys, 'etc/redpak.yaml');
    const text = readFileSync(config, 'utf8');
    writeFileSync(config, `${text}\nbroken: [\n`);
    try {
      const cached = runBin('redwrap-dnf', ['--redpath', f.app, '-y', 'install', 'redscript']);
      const uncached = runBin('redwrap-dnf', ['--redpath', f.app, '-y', 'install', 'redscript'], {
        env: { REDWRAP_NO_CACHE: '1' },
      });
      assert.notEqual(cached.status, 0);
      assert.match(cached.stderr, /redpak\.yaml/);
      assert.deepEqual([cached.status, cached.stderr], [uncached.status, uncached.stderr]);
    } finally {
      writeFileSync(config, text);
    }
    assert.deepEqual(await installedNames(f.app), installed);
  });
});
