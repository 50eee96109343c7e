/**
 * The package files rpm reads in the staged view come from the repository cache, which is by
 * default the node's own var/cache/dnf. With the family under a layered directory of the host
 * (here /var/tmp), a read-only bind at the cache's host path would make its mount point inside
 * the view's var, in the upper layer, and the merge would leave that directory in the node.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as dnf from '../../src/pkg/manager.js';
import { fixtureRepo } from './helpers/family.js';
import { makeNodeFamily, type RepoServer, serveDirectory, writeRepoFile } from './helpers/nodes.js';

/** Every directory under `root`, relative to it. */
function directories(root: string, rel = ''): string[] {
  return readdirSync(join(root, rel), { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .flatMap((e) => {
      const r = rel ? `${rel}/${e.name}` : e.name;
      return [r, ...directories(root, r)];
    });
}

/** Not the cache, nor redpak's own state (history, generations). */
const kept = (d: string) => !/^(var\/cache|var\/lib\/dnf|\.redpak)(\/|$)/.test(d);

describe('a repository cache under the node its packages go into', () => {
  const parent = mkdtempSync(join('/var/tmp', 'redpak-view-reads-'));
  let server: RepoServer;
  before(async () => {
    server = await serveDirectory((await fixtureRepo()).repoDir);
  });
  after(async () => {
    await server?.close();
    rmSync(parent, { recursive: true, force: true });
  });

  for (const staging of ['overlay', 'copy'] as const) {
    it(`leaves no mount point of the cache in the node (${staging} staging)`, async () => {
      const f = await makeNodeFamily({ repoFile: false, parent });
      writeRepoFile(f.sys, 'web', server.url);
      const saved = process.env.REDPAK_STAGING;
      if (staging === 'copy') process.env.REDPAK_STAGING = 'copy';
      try {
        const before = directories(f.sys).filter(kept);
        assert.equal((await dnf.install({ redpath: f.sys, specs: ['redfoo-conf'] })).status, 'done');
        assert.ok(
          existsSync(join(f.sys, 'var/cache/dnf/web/packages/redfoo-conf-1.0-1.noarch.rpm')),
          "rpm read the package from the node's own cache",
        );
        assert.ok(existsSync(join(f.sys, 'etc/redfoo.conf')));
        assert.ok(!existsSync(join(f.sys, parent)), `no ${parent} in the node: the cache's host path`);
        const made = directories(f.sys).filter((d) => kept(d) && !before.includes(d));
        assert.deepEqual(made, [], 'the install made no directory outside the cache but what the package owns');
      } finally {
        if (saved === undefined) delete process.env.REDPAK_STAGING;
        else process.env.REDPAK_STAGING = saved;
        f.cleanup();
      }
    });
  }
});
