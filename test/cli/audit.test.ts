/** redmanager check, why and explain as a CI job runs them: exit statuses and --json documents. */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeNodeFamily, snapshotNode, type NodeFamily } from '../pkg/helpers/nodes.js';
import { coherentFamily, editConfig, put } from '../audit/helpers.js';
import type { BinRun } from '../helpers/cli.js';
import { runCommand } from '../helpers/in-process.js';

const redmanager = (args: string[]): Promise<BinRun> => runCommand('redmanager', args);

describe('redmanager check / why / explain', () => {
  let good: NodeFamily;
  let bad: NodeFamily;
  before(async () => {
    good = await coherentFamily();
    bad = await makeNodeFamily();
    await put(bad.platform, 'libredfoo-1.0');
    await put(bad.app, 'redhello');
    appendFileSync(join(bad.app, 'usr/bin/redhello-wrapper'), '# changed\n');
    editConfig(bad.platform, { configLines: ['cgroups:', '  pids:', '    max: 10'] });
    editConfig(bad.app, { configLines: ['cgroups:', '  pids:', '    max: 20'] });
  });
  after(() => {
    good.cleanup();
    bad.cleanup();
  });

  it('check: exit 0 and an ok document on a coherent tree', async () => {
    const r = await redmanager(['check', '--redroot', good.sys, '--json']);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual([r.json.ok, r.json.exitCode, r.json.findings, r.json.nodes.length], [true, 0, [], 3]);
    const text = await redmanager(['check', '--redroot', good.sys]);
    assert.match(text.stdout, /OK: no findings/);
  });

  it('check: every finding, the most severe class as exit status', async () => {
    const before = snapshotNode(bad.app);
    const r = await redmanager(['check', '--redroot', bad.sys, '--json']);
    assert.equal(r.status, 24, r.stdout);
    assert.equal(r.json.worst, 'dependency');
    assert.deepEqual(
      r.json.findings.map((f: { class: string; node: string; file?: string; package?: string }) => [
        f.class,
        f.node,
        f.file ?? f.package ?? null,
      ]),
      [
        ['dependency', bad.app, 'redhello-1.0-1.x86_64'],
        ['files', bad.app, '/usr/bin/redhello-wrapper'],
        ['cgroups', bad.app, null],
      ],
    );
    assert.deepEqual(r.json.counts, {
      cgroups: 1,
      duplicate: 0,
      files: 1,
      conflict: 0,
      dependency: 1,
      merge: 0,
      config: 0,
      rpmdb: 0,
    });
    assert.deepEqual(snapshotNode(bad.app), before);
    const text = await redmanager(['check', '--redroot', bad.sys, '--no-packages']);
    assert.equal(text.status, 22);
    assert.match(text.stdout, /\[files\] app .*redhello-wrapper of redhello-1.0-1.x86_64 differs/);
    assert.match(text.stdout, /exit status 22 \(files\)/);
  });

  it('check --remove: would removing break a descendant', async () => {
    const r = await redmanager(['check', '--redpath', good.platform, '--remove', 'redfoo-conf', '--json']);
    assert.equal(r.status, 24);
    assert.deepEqual(
      r.json.findings.map((f: { node: string; package: string; requirement: string }) => [
        f.node,
        f.package,
        f.requirement,
      ]),
      [[good.app, 'redhello-1.0-1.x86_64', '/etc/redfoo.conf']],
    );
    const safe = await redmanager(['check', '--redpath', good.app, '--remove', 'redpinned']);
    assert.equal(safe.status, 0);
    assert.match(safe.stdout, /no descendant would break/);
  });

  it('check: bad input exits with the command statuses, nothing else', async () => {
    const notNode = await redmanager(['check', '--redroot', good.dir, '--json']);
    assert.equal(notNode.status, 3);
    assert.equal(notNode.json.error.code, 'not-a-node');
    assert.equal((await redmanager(['check', '--redpath', good.app])).status, 2);
    assert.equal((await redmanager(['check', '--redroot', good.sys, '--upgrade', 'x'])).status, 2);
  });

  it('why: providers and requirers as JSON', async () => {
    const r = await redmanager(['why', 'libredfoo.so.1()(64bit)', '--redpath', good.app, '--json']);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(
      r.json.providers.map((p: { package: string; node: string }) => [p.package, p.node]),
      [['libredfoo-1.0-1.x86_64', good.platform]],
    );
    assert.deepEqual(
      r.json.requirers.map((p: { package: string; node: string; satisfied: boolean }) => [
        p.package,
        p.node,
        p.satisfied,
      ]),
      [['redhello-1.0-1.x86_64', good.app, true]],
    );
    assert.equal((await redmanager(['why', 'nothing-at-all', '--redpath', good.app])).status, 7);
  });

  it('explain: settings with origins; a refused child exits 0 but says it', async () => {
    const r = await redmanager(['explain', '--redpath', good.app, '--json']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.json.launchable, true);
    const net = r.json.settings.find((s: { kind: string; key: string }) => s.kind === 'namespace' && s.key === 'net');
    assert.deepEqual([net.value, net.from.alias, net.args], ['shared', 'app', ['--share-net']]);
    const text = await redmanager(['explain', '--redpath', good.app, '--admin']);
    assert.match(text.stdout, /^explain app .* with the admin configs/);
    assert.match(text.stdout, /mounts:\n/);
  });
});
