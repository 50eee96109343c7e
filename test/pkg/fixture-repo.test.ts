import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { buildFixtureRepo } from '../../src/pkg/fixture-repo.js';

describe('buildFixtureRepo', () => {
  it('builds every spec into an rpm-md repository, signs redsigned, and reuses the cache', async () => {
    const cacheRoot = mkdtempSync(join(tmpdir(), 'redpak-fixture-cache-'));
    try {
      const [first, concurrent] = await Promise.all([buildFixtureRepo({ cacheRoot }), buildFixtureRepo({ cacheRoot })]);
      assert.equal(first.repoDir, concurrent.repoDir, 'concurrent builds settle on one directory');
      assert.ok(existsSync(join(first.repoDir, 'repodata/repomd.xml')));
      for (const name of [
        'libredfoo-1.0-1.x86_64.rpm',
        'libredfoo-2.0-1.x86_64.rpm',
        'redhello-1.0-1.x86_64.rpm',
        'redrich-1.0-1.noarch.rpm',
        'redscript-1.0-1.noarch.rpm',
      ]) {
        assert.ok(existsSync(first.rpms[name]!), name);
      }
      assert.ok(
        !readdirSync(join(first.repoDir, 'packages')).some((f) => f.startsWith('redsigned-')),
        'the signed package lives in its own repo',
      );
      assert.ok(first.signing, `signing unavailable: ${first.signingUnavailable}`);
      assert.ok(existsSync(join(first.signing.signedRepoDir, 'repodata/repomd.xml')));
      assert.deepEqual(
        readdirSync(cacheRoot).filter((d) => d.startsWith('.build-')),
        [],
        'no build directory left behind',
      );

      const started = Date.now();
      const again = await buildFixtureRepo({ cacheRoot });
      assert.equal(again.cacheKey, first.cacheKey);
      assert.ok(Date.now() - started < 500, 'second call is served from the cache');
    } finally {
      rmSync(cacheRoot, { recursive: true, force: true });
    }
  });
});
