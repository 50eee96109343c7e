/**
 * Generations on a real family: every transaction keeps the node's previous state, a rollback
 * restores files and rpm database exactly, several transactions roll back in order, and pruning
 * keeps the last N plus the newest known-good.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as dnf from '../../src/pkg/manager.js';
import { listGenerations, pruneGenerations } from '../../src/pkg/generations.js';
import { installedNames } from './helpers/family.js';
import { makeNodeFamily, snapshotNode, type NodeFamily } from './helpers/nodes.js';

/** The node as a snapshot, without the generations themselves. */
const state = (node: string) =>
  Object.fromEntries(Object.entries(snapshotNode(node)).filter(([path]) => !path.startsWith('.redpak')));

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
    assert.deepEqual(
      last.undone.map((g) => g.id),
      [gens[2].id],
    );
    assert.deepEqual(
      (await dnf.list({ redpath: f.platform, scope: 'installed' }))
        .map((p) => p.nevra)
        .filter((n) => n.startsWith('libredfoo')),
      ['libredfoo-1.0-1.x86_64'],
    );

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
    await assert.rejects(
      dnf.rollback({ redpath: f.platform, id: libraryGeneration.id }),
      /would break its descendants:[\s\S]*redhello/,
    );
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
    assert.deepEqual(
      removed,
      all.filter((g) => g.id !== good.id && g.id !== newest.id).map((g) => g.id),
    );
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

/**
 * Hostile generations: NODE/.redpak lies in the node, which what runs there can write. A link
 * planted on the way to a generation must never make a rollback, a mark or the next transaction
 * (run by root) read, move or write host files.
 */
describe('generations planted by node content', () => {
  let f: NodeFamily;
  let host: string;
  before(async () => {
    f = await makeNodeFamily();
    host = mkdtempSync(join(tmpdir(), 'redpak-host-'));
  });
  after(() => {
    f.cleanup();
    rmSync(host, { recursive: true, force: true });
  });

  it('a rollback refuses a generation whose saved tree is a link to a host directory, and moves nothing', async () => {
    assert.equal((await dnf.install({ redpath: f.platform, specs: ['libredfoo-1.0'] })).status, 'done');
    assert.equal((await dnf.install({ redpath: f.platform, specs: ['redfoo-conf'] })).status, 'done');
    const [, last] = listGenerations(f.platform);
    const victims = join(host, 'victims');
    mkdirSync(join(victims, 'etc'), { recursive: true });
    writeFileSync(join(victims, 'etc/shadow'), 'host secret\n');
    const saved = join(f.platform, '.redpak/generations', String(last!.id), 'saved');
    rmSync(saved, { recursive: true });
    symlinkSync(victims, saved);
    const before = state(f.platform);
    await assert.rejects(dnf.rollback({ redpath: f.platform, id: last!.id }), /is a symbolic link/);
    assert.equal(readFileSync(join(victims, 'etc/shadow'), 'utf8'), 'host secret\n', 'the host file stays where it is');
    assert.deepEqual(state(f.platform), before, 'the node is unchanged');
  });

  it('marking a generation good never writes through a planted generation.json link', async () => {
    const [first] = listGenerations(f.platform);
    const victim = join(host, 'victim.json');
    writeFileSync(victim, `${JSON.stringify(first)}\n`);
    const meta = join(f.platform, '.redpak/generations', String(first!.id), 'generation.json');
    rmSync(meta);
    symlinkSync(victim, meta);
    assert.throws(() => dnf.markGoodGeneration({ redpath: f.platform, id: first!.id }), /no generation/);
    assert.equal(readFileSync(victim, 'utf8'), `${JSON.stringify(first)}\n`, 'the host file is unchanged');
  });

  it('a transaction refuses a node whose .redpak is a link, and writes nothing there', async () => {
    const elsewhere = join(host, 'elsewhere');
    mkdirSync(elsewhere);
    rmSync(join(f.app, '.redpak'), { recursive: true, force: true });
    symlinkSync(elsewhere, join(f.app, '.redpak'));
    await assert.rejects(dnf.install({ redpath: f.app, specs: ['redlegacy'] }), /\.redpak is a symbolic link/);
    assert.deepEqual(readdirSync(elsewhere), [], 'nothing was written through the link');
    assert.deepEqual(await installedNames(f.app), []);
  });
});
