/**
 * --forcenode: a node gets its own copy of a package an ancestor has installed, the same version
 * included (the hint of a duplicate refusal leads there). Real families, real rpm databases,
 * libsolv, the staged rpm run.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { checkTree } from '../../src/audit/check.js';
import { RedpakError } from '../../src/errors.js';
import * as dnf from '../../src/pkg/manager.js';
import { pinnedHost } from '../helpers/family.js';
import { makeNodeFamily, snapshotNode, type NodeFamily } from './helpers/nodes.js';

/** What the node's own rpm database holds for NAME, as rpm itself says. */
function ownCopies(node: string, name: string): string[] {
  const r = spawnSync('rpm', ['--dbpath', join(node, 'var/lib/rpm'), '-q', '--qf', '%{NEVRA}\\n', name], {
    encoding: 'utf8',
  });
  return r.status === 0 ? r.stdout.trim().split('\n') : [];
}

const duplicates = async (f: NodeFamily, allowDuplicates: string[] = []) =>
  (
    await checkTree({
      redroot: f.sys,
      host: pinnedHost(),
      config: false,
      files: false,
      cgroups: false,
      allowDuplicates,
    })
  ).findings
    .filter((x) => x.class === 'duplicate')
    .map((x) => `${x.node} ${x.message}`);

describe('--forcenode', () => {
  let f: NodeFamily;
  before(async () => {
    f = await makeNodeFamily();
    assert.equal((await dnf.install({ redpath: f.platform, specs: ['libredfoo-1.0'] })).status, 'done');
  });
  after(() => f.cleanup());

  it("installs the ancestor's very version into the node's own rpm database; refused without it", async () => {
    const platformBefore = snapshotNode(f.platform);
    const appBefore = snapshotNode(f.app);
    await assert.rejects(dnf.install({ redpath: f.app, specs: ['libredfoo-1.0'] }), (e: unknown) => {
      assert.ok(e instanceof RedpakError && e.code === 'family-rule', String(e));
      assert.match(e.message, new RegExp(`libredfoo.*${f.platform}`));
      assert.match(e.hint ?? '', /--forcenode/);
      return true;
    });
    assert.deepEqual(snapshotNode(f.app), appBefore, 'the refusal changes nothing');

    const forced = await dnf.install({ redpath: f.app, specs: ['libredfoo-1.0'], forcenode: true });
    assert.equal(forced.status, 'done');
    assert.deepEqual(
      forced.packages.map((p) => `${p.action} ${p.nevra} ${p.replaces.join(',')}`),
      ['install libredfoo-1.0-1.x86_64 '],
      'an install into the node: it replaces nothing of the ancestor',
    );
    assert.deepEqual(ownCopies(f.app, 'libredfoo'), ['libredfoo-1.0-1.x86_64']);
    assert.ok(existsSync(join(f.app, 'usr/lib/libredfoo.so.1')), "the node has the package's files");
    assert.deepEqual(ownCopies(f.platform, 'libredfoo'), ['libredfoo-1.0-1.x86_64']);
    assert.deepEqual(snapshotNode(f.platform), platformBefore, 'the ancestor is untouched');
  });

  it('check accepts the copy made on purpose (--allow-duplicate) and reports it otherwise', async () => {
    assert.deepEqual(await duplicates(f, ['libredfoo']), []);
    const found = await duplicates(f);
    assert.equal(found.length, 1, found.join('\n'));
    assert.match(found[0]!, new RegExp(`^${f.app} .*libredfoo-1\\.0-1\\.x86_64.*${f.platform}`));
  });

  it("the node's copy is then the node's own: upgraded and removed in the node, the ancestor's stays", async () => {
    const platformBefore = snapshotNode(f.platform);
    const up = await dnf.upgrade({ redpath: f.app, specs: ['libredfoo'] });
    assert.deepEqual(
      up.packages.map((p) => `${p.action} ${p.nevra} ${p.replaces.join(',')}`),
      ['upgrade libredfoo-2.0-1.x86_64 libredfoo-1.0-1.x86_64'],
    );
    assert.deepEqual(ownCopies(f.app, 'libredfoo'), ['libredfoo-2.0-1.x86_64']);
    await dnf.remove({ redpath: f.app, specs: ['libredfoo'] });
    assert.deepEqual(ownCopies(f.app, 'libredfoo'), []);
    assert.deepEqual(snapshotNode(f.platform), platformBefore);
  });

  it("by name alone: the repositories' best version, even when it is the ancestor's", async () => {
    const g = await makeNodeFamily();
    try {
      await dnf.install({ redpath: g.platform, specs: ['libredfoo'] });
      assert.deepEqual(ownCopies(g.platform, 'libredfoo'), ['libredfoo-2.0-1.x86_64']);
      const forced = await dnf.install({ redpath: g.app, specs: ['libredfoo'], forcenode: true });
      assert.deepEqual(
        forced.packages.map((p) => `${p.action} ${p.nevra}`),
        ['install libredfoo-2.0-1.x86_64'],
      );
      assert.deepEqual(ownCopies(g.app, 'libredfoo'), ['libredfoo-2.0-1.x86_64']);
      assert.equal(
        (await dnf.install({ redpath: g.app, specs: ['libredfoo'], forcenode: true })).status,
        'nothing-to-do',
        'the node has its copy now',
      );
    } finally {
      g.cleanup();
    }
  });
});
