/**
 * Nodes read before (src/node/node-cache.ts): loading a family through the cache gives what
 * loading it from its files gives (the same nodes, or the same error) after each thing a node's
 * administrator can plant; the cache is believed only from the caller's own file; and nothing
 * read within the clock margin, nor a node that failed, is recorded.
 */
import assert from 'node:assert/strict';
import { chmodSync, chownSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { RedpakError } from '../../src/errors.js';
import { loadFamily } from '../../src/node/load.js';
import type { Family } from '../../src/node/types.js';
import { NodeReadCache } from '../../src/node/node-cache.js';
import { tempDir } from '../helpers/family.js';
import { edit, family, NODE_PLANTS } from '../helpers/node-plants.js';
import { ownCacheDir, olderThanTheClockMargin } from '../helpers/read-caches.js';

const euid = process.geteuid?.() ?? 0;

function outcome(load: () => Family): Family | { error: unknown } {
  try {
    return load();
  } catch (error) {
    assert.ok(error instanceof RedpakError, `not a RedpakError: ${String(error)}`);
    return { error: error.toJSON() };
  }
}

/** The cache files of `cacheDir`, by node directory's host path. */
function recorded(cacheDir: string): Map<string, string> {
  const files = readdirSync(cacheDir).filter((name) => name.startsWith('read-'));
  return new Map(
    files.map((name) => [JSON.parse(readFileSync(join(cacheDir, name), 'utf8')).hostPath, join(cacheDir, name)]),
  );
}

/** A family old enough to be recorded, loaded once through a fresh cache (normal and admin). */
async function cachedFamily(t: TestContext) {
  const dir = tempDir(t);
  const f = family(dir);
  const cacheDir = ownCacheDir(t);
  await olderThanTheClockMargin();
  for (const admin of [false, true]) loadFamily(f.a1, { admin, cache: new NodeReadCache(cacheDir, euid) });
  // createNode put a system node above the root.
  assert.deepEqual([...recorded(cacheDir).keys()].sort(), [dir, f.a1, f.p1, f.root].sort());
  return { dir, f, cacheDir };
}

describe('the node read cache', () => {
  it('gives the family as read from its files, then from its own file', async (t) => {
    const { f, cacheDir } = await cachedFamily(t);
    for (const admin of [false, true])
      assert.deepEqual(
        loadFamily(f.a1, { admin, cache: new NodeReadCache(cacheDir, euid) }),
        loadFamily(f.a1, { admin }),
      );
    // The file is what the second load used: a change to it (the caller's own) shows.
    const file = recorded(cacheDir).get(f.a1) as string;
    const content = JSON.parse(readFileSync(file, 'utf8'));
    content.node.alias = 'from-the-cache';
    writeFileSync(file, JSON.stringify(content));
    assert.equal(loadFamily(f.a1, { cache: new NodeReadCache(cacheDir, euid) }).nodes[0]?.alias, 'from-the-cache');
  });

  for (const [what, plant] of NODE_PLANTS) {
    it(`sees ${what} planted after the family was cached`, async (t) => {
      const { dir, f, cacheDir } = await cachedFamily(t);
      plant(f.a1, dir);
      for (const admin of [false, true]) {
        const expected = outcome(() => loadFamily(f.a1, { admin }));
        assert.deepEqual(
          outcome(() => loadFamily(f.a1, { admin, cache: new NodeReadCache(cacheDir, euid) })),
          expected,
        );
        // And again, from whatever the first load through the cache recorded.
        assert.deepEqual(
          outcome(() => loadFamily(f.a1, { admin, cache: new NodeReadCache(cacheDir, euid) })),
          expected,
        );
      }
    });
  }

  const hostile: [string, (file: string, text: string, dir: string) => void][] = [
    [
      'writable by its group',
      (file, text) => {
        writeFileSync(file, text);
        chmodSync(file, 0o620);
      },
    ],
    [
      'writable by others',
      (file, text) => {
        writeFileSync(file, text);
        chmodSync(file, 0o606);
      },
    ],
    [
      'owned by another user',
      (file, text) => {
        writeFileSync(file, text);
        chownSync(file, 4242, 4242);
      },
    ],
    [
      'a link to a file saying so',
      (file, text, dir) => {
        writeFileSync(join(dir, 'planted.json'), text);
        symlinkSync(join(dir, 'planted.json'), file);
      },
    ],
    ['not JSON', (file) => writeFileSync(file, '{"format":')],
    [
      'in another format',
      (file, text) => writeFileSync(file, text.replace('redpak-node-read/1', 'redpak-node-read/0')),
    ],
    [
      'about another directory',
      (file, text) => writeFileSync(file, text.replaceAll('"hostPath":"', '"hostPath":"/elsewhere')),
    ],
    ['read under other limits', (file, text) => writeFileSync(file, text.replace(/"limits":"\d+/, '"limits":"1'))],
  ];
  for (const [what, plant] of hostile) {
    it(`is not believed when its file is ${what}`, async (t) => {
      if (what === 'owned by another user' && euid !== 0) return t.skip('needs root to chown');
      const { dir, f, cacheDir } = await cachedFamily(t);
      const file = recorded(cacheDir).get(f.a1) as string;
      const content = JSON.parse(readFileSync(file, 'utf8'));
      content.node.alias = 'from-the-cache';
      rmSync(file);
      plant(file, JSON.stringify(content), dir);
      assert.equal(loadFamily(f.a1, { cache: new NodeReadCache(cacheDir, euid) }).nodes[0]?.alias, 'a1');
    });
  }

  it('records nothing read within the clock margin, nor a node that failed', async (t) => {
    const dir = tempDir(t);
    const f = family(dir);
    const cacheDir = ownCacheDir(t);
    loadFamily(f.a1, { cache: new NodeReadCache(cacheDir, euid) });
    assert.deepEqual([...recorded(cacheDir).keys()], []);
    edit(join(f.a1, 'etc/redpak.yaml'), 'mode: Private', 'mode: Nowhere');
    await olderThanTheClockMargin();
    assert.throws(() => loadFamily(f.a1, { cache: new NodeReadCache(cacheDir, euid) }), /Nowhere/);
    loadFamily(f.a2, { cache: new NodeReadCache(cacheDir, euid) });
    assert.deepEqual([...recorded(cacheDir).keys()].sort(), [dir, f.a2, f.p1, f.root].sort());
  });
});
