/**
 * Generations on a real family: every transaction keeps the node's previous state, a rollback
 * restores files and rpm database exactly, several transactions roll back in order, and pruning
 * keeps the last N plus the newest known-good.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as dnf from '../../src/pkg/manager.js';
import { listGenerations, pruneGenerations } from '../../src/pkg/generations.js';
import { installedNames } from './helpers/family.js';
import { makeNodeFamily, snapshotNode, type NodeFamily } from './helpers/nodes.js';

/** The node as a snapshot, without the generations themselves. */
const state = (node: string) => Object.fromEntries(Object.entries(snapshotNode(node)).filter(([path]) => !path.startsWith('.redpak')));

describe('generations', () => {
  let f: NodeFamily;
  before(async () => {
    f = await makeNodeFamily();
  });
  after(() => f.cleanup());

  it('a rollback restores the node exactly as it was before the last transactions', async () => {
    const empty = state(f.platform);
    assert.equal((await dnf.install({ redpath: f.platform, specs: ['libredfoo-1.0'] })).status, 'done');
    const withLib = state(f.platform);
    assert.equal((await dnf.install({ redpath: f.platform, specs: ['redfoo-conf', 'redscript'] })).status, 'done');
    assert.equal((await dnf.upgrade({ redpath: f.platform, specs: ['libredfoo'] })).status, 'done');
    const gens = dnf.generations({ redpath: f.platform });
    assert.deepEqual(
      gens.map((g) => g.command),
      ['install libredfoo-1.0', 'install redfoo-conf redscript', 'upgrade libredfoo'],
    );

    // Back before the last transaction: libredfoo 1.0 again, with its own file content.
    const last = await dnf.rollback({ redpath: f.platform });
    assert.deepEqual(last.undone.map((g) => g.id), [gens[2].id]);
    assert.deepEqual((await dnf.list({ redpath: f.platform, scope: 'installed' })).map((p) => p.nevra).filter((n) => n.startsWith('libredfoo')), ['libredfoo-1.0-1.x86_64']);

    // Back before the second one: exactly the node with only the library.
    await dnf.rollback({ redpath: f.platform, id: gens[1].id });
    assert.deepEqual(state(f.platform), withLib);
    assert.deepEqual(await installedNames(f.platform), ['libredfoo']);
    await dnf.rollback({ redpath: f.platform, id: gens[0].id });
    assert.deepEqual(state(f.platform), empty);
    assert.equal(listGenerations(f.platform).length, 0);
  });

  it("refuses a rollback that would leave a descendant's package without what it needs", async () => {
    assert.equal((await dnf.install({ redpath: f.platform, specs: ['libredfoo-1.0', 'redfoo-conf'] })).status, 'done');
    assert.equal((await dnf.install({ redpath: f.app, specs: ['redhello'] })).status, 'done');
    const before = state(f.platform);
    const [libraryGeneration] = dnf.generations({ redpath: f.platform });
    await assert.rejects(dnf.rollback({ redpath: f.platform, id: libraryGeneration.id }), /would break its descendants:[\s\S]*redhello/);
    assert.deepEqual(state(f.platform), before);
    assert.equal((await dnf.remove({ redpath: f.app, specs: ['redhello'] })).status, 'done');
    await dnf.rollback({ redpath: f.platform, id: libraryGeneration.id });
    assert.deepEqual(await installedNames(f.platform), []);
  });

  it('keeps the last N generations and the newest known-good one', async () => {
    const earlier = listGenerations(f.app).length;
    for (const specs of [['redlegacy'], ['redfoo-conf'], ['redscript']]) {
      assert.equal((await dnf.install({ redpath: f.app, specs, keepGenerations: 10 })).status, 'done');
    }
    const all = listGenerations(f.app);
    assert.equal(all.length, earlier + 3);
    const good = all[earlier];
    const newest = all.at(-1)!;
    dnf.markGoodGeneration({ redpath: f.app, id: good.id });
    const removed = pruneGenerations(f.app, 1);
    assert.deepEqual(removed, all.filter((g) => g.id !== good.id && g.id !== newest.id).map((g) => g.id));
    assert.deepEqual(
      listGenerations(f.app).map((g) => [g.id, Boolean(g.good)]),
      [
        [good.id, true],
        [newest.id, false],
      ],
    );
    await assert.rejects(dnf.rollback({ redpath: f.app, id: removed.at(-1)! }), /no generation/);
  });
});
