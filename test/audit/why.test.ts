/** redmanager why on real rpm databases. */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { renderWhy, why } from '../../src/audit/why.js';
import type { NodeFamily } from '../pkg/helpers/nodes.js';
import { coherentFamily, put } from './helpers.js';

describe('why', () => {
  let f: NodeFamily;
  before(async () => {
    f = await coherentFamily();
  });
  after(() => f.cleanup());

  it('a package name: its node, and every package it satisfies, through what', async () => {
    const r = await why({ redpath: f.platform, capability: 'libredfoo' });
    assert.deepEqual(
      r.providers.map((p) => [p.package, p.node, p.alias, p.inView]),
      [['libredfoo-1.0-1.x86_64', f.platform, 'platform', true]],
    );
    assert.deepEqual(
      r.requirers.map((x) => [x.package, x.node, x.requirement, x.satisfiedBy.map((s) => s.node)]).sort(),
      [
        ['redhello-1.0-1.x86_64', f.app, 'libredfoo.so.1()(64bit)', [f.platform]],
        ['redpinned-1.0-1.noarch', f.app, 'libredfoo < 2.0', [f.platform]],
      ],
    );
    assert.match(renderWhy(r), /required by:/);
  });

  it('a file path and a soname, asked from the leaf', async () => {
    const conf = await why({ redpath: f.app, capability: '/etc/redfoo.conf' });
    assert.deepEqual(
      conf.providers.map((p) => [p.name, p.node]),
      [['redfoo-conf', f.platform]],
    );
    assert.deepEqual(
      conf.requirers.map((x) => [x.name, x.node, x.satisfied]),
      [['redhello', f.app, true]],
    );
    const soname = await why({ redpath: f.app, capability: 'libc.so.6()(64bit)' });
    assert.ok(soname.providers.some((p) => p.name === 'redpak-host-provides' && p.node === f.sys));
    assert.ok(soname.requirers.some((x) => x.name === 'redhello'));
  });

  it('an unsatisfied requirement shows as such', async (t) => {
    const g = await coherentFamily();
    t.after(() => g.cleanup());
    await put(g.app, 'redtool');
    const r = await why({ redpath: g.app, capability: 'libredfoo' });
    const tool = r.requirers.find((x) => x.name === 'redtool')!;
    assert.deepEqual([tool.requirement, tool.satisfied], ['libredfoo >= 2.0', false]);
    assert.match(renderWhy(r), /NOT SATISFIED/);
  });

  it('bad input: unknown capability, empty capability, not a node', async () => {
    await assert.rejects(why({ redpath: f.platform, capability: 'no-such-thing' }), {
      code: 'package',
      message: /provides or requires/,
    });
    await assert.rejects(why({ redpath: f.platform, capability: ' ' }), { code: 'usage' });
    await assert.rejects(why({ redpath: join(f.dir, 'none'), capability: 'x' }), { code: 'not-a-node' });
  });
});
