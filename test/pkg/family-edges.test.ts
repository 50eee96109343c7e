/**
 * Family rules at their edges, on real families (rpm databases, the fixture repository, libsolv,
 * bwrap): a package a descendant already has is not installed above it, and scriptlets learn the
 * node they install into as redpak's installer tells them.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { RedpakError } from '../../src/errors.js';
import * as dnf from '../../src/pkg/manager.js';
import { installedNames, rpmFile } from './helpers/family.js';
import { buildTestRpm, makeNodeFamily, snapshotNode, writeRepoFile, type NodeFamily } from './helpers/nodes.js';

describe('family edges', () => {
  let f: NodeFamily;
  before(async () => {
    f = await makeNodeFamily();
  });
  after(() => f.cleanup());

  it('refuses to install into a node a package one of its descendants has, naming the descendant', async () => {
    const own = await dnf.install({ redpath: f.app, specs: ['redscript'] });
    assert.equal(own.status, 'done');
    const before = snapshotNode(f.platform);
    await assert.rejects(
      dnf.install({ redpath: f.platform, specs: ['redscript'] }),
      (e: unknown) =>
        e instanceof RedpakError &&
        e.code === 'family-rule' &&
        e.message.includes(`descendant node ${f.app} already has its own redscript-1.0-1.noarch`),
    );
    assert.deepEqual(snapshotNode(f.platform), before, 'nothing changed');
    // Once the descendant's copy is gone, the ancestor may have it.
    assert.equal((await dnf.remove({ redpath: f.app, specs: ['redscript'] })).status, 'done');
    assert.equal((await dnf.install({ redpath: f.platform, specs: ['redscript'] })).status, 'done');
    assert.ok((await installedNames(f.platform)).includes('redscript'));
  });

  it('a package missing from old cached metadata gets a hint saying how old it is and that --refresh fetches it', async () => {
    const repo = join(f.dir, 'later-repo');
    mkdirSync(repo);
    copyFileSync(await rpmFile('redtool'), join(repo, 'redtool.rpm'));
    assert.equal(spawnSync('createrepo_c', ['--quiet', repo]).status, 0);
    writeRepoFile(f.app, 'later', `file://${repo}`, { metadata_expire: '7d' });
    assert.ok((await dnf.list({ redpath: f.app, scope: 'available' })).some((p) => p.name === 'redtool'));
    // The repository gets a new package; the cached copy is 50 hours old (still fresh for 7d).
    copyFileSync(buildTestRpm('rednewer', '%files'), join(repo, 'rednewer.rpm'));
    assert.equal(spawnSync('createrepo_c', ['--quiet', '--update', repo]).status, 0);
    const metas = readdirSync(f.dir, { recursive: true })
      .map(String)
      .filter((p) => p.endsWith('later/redpak-cache.json'))
      .map((p) => join(f.dir, p));
    assert.equal(metas.length, 1, metas.join(', '));
    const meta = JSON.parse(readFileSync(metas[0], 'utf8'));
    writeFileSync(metas[0], JSON.stringify({ ...meta, fetched: Date.now() - 50 * 3_600_000 }));
    await assert.rejects(
      dnf.install({ redpath: f.app, specs: ['rednewer'] }),
      (e: unknown) =>
        e instanceof RedpakError &&
        /the metadata of repository later was fetched 50 h ago: --refresh fetches it again$/.test(e.hint ?? ''),
    );
    const refreshed = await dnf.install({ redpath: f.app, specs: ['rednewer'], refresh: true });
    assert.equal(refreshed.status, 'done');
  });

  it('runs scriptlets with NODE_PATH and AFMPKG_REDPAKID set to the node', async () => {
    const rpm = buildTestRpm(
      'redenv',
      [
        '%post',
        'mkdir -p /var/lib/redenv && echo "$NODE_PATH|$AFMPKG_REDPAKID" > /var/lib/redenv/marker',
        '%files',
      ].join('\n'),
    );
    const r = await dnf.install({ redpath: f.app, specs: [rpm] });
    assert.equal(r.status, 'done');
    assert.equal(readFileSync(join(f.app, 'var/lib/redenv/marker'), 'utf8'), `${f.app}|${f.app}\n`);
  });
});
