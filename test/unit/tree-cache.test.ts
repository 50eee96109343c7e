/**
 * `tree`'s label cache (src/inspect/tree-cache.ts): a walk takes a node's label from it only while
 * the node's files are as they were read, and only from a file the caller alone could have
 * written; every other cache file is ignored, then replaced. Each hostile case plants a file
 * claiming another alias: the walk must show the node's real one.
 */
import assert from 'node:assert/strict';
import { chmodSync, chownSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { readTree } from '../../src/inspect/tree.js';
import { createNode } from '../../src/node/factory.js';
import { loadTree, type TreeNode } from '../../src/node/load.js';
import { pinnedHost, tempDir } from '../helpers/family.js';
import { cacheFiles, cachedNodes, ownCacheDir, olderThanTheClockMargin } from '../helpers/read-caches.js';

/** A root with one platform and one app, old enough to be recorded, and a cache filled by a walk. */
async function cachedFamily(t: TestContext) {
  const dir = tempDir(t);
  const root = join(dir, 'root');
  const app = join(root, 'platform/app');
  for (const redpath of [root, join(root, 'platform'), app]) createNode({ redpath, host: pinnedHost() });
  const cacheDir = ownCacheDir(t);
  await olderThanTheClockMargin();
  readTree(root, { cacheDir });
  const [file] = cacheFiles(cacheDir);
  assert.ok(file, 'the walk wrote a cache file');
  assert.deepEqual(cachedNodes(cacheDir).sort(), [root, join(root, 'platform'), app].sort());
  return { dir, root, app, cacheDir, file };
}

const aliases = (tree: TreeNode): string[] => [tree.alias, ...tree.children.flatMap(aliases)];

/** The cache file with the app's alias replaced by `claimed`. */
function lyingCache(file: string, app: string, claimed: string): string {
  const content = JSON.parse(readFileSync(file, 'utf8'));
  content.nodes[app].label.alias = claimed;
  return JSON.stringify(content);
}

describe('the tree label cache', () => {
  it('is what a walk shows while the files are unchanged (the caller’s own file is believed)', async (t) => {
    const f = await cachedFamily(t);
    writeFileSync(f.file, lyingCache(f.file, f.app, 'from-the-cache'));
    assert.deepEqual(aliases(readTree(f.root, { cacheDir: f.cacheDir })), ['root', 'platform', 'from-the-cache']);
  });

  const hostile: [string, (f: Awaited<ReturnType<typeof cachedFamily>>, text: string) => void][] = [
    [
      'writable by its group',
      (f, text) => {
        writeFileSync(f.file, text);
        chmodSync(f.file, 0o620);
      },
    ],
    [
      'writable by others',
      (f, text) => {
        writeFileSync(f.file, text);
        chmodSync(f.file, 0o606);
      },
    ],
    [
      'owned by another user',
      (f, text) => {
        writeFileSync(f.file, text);
        chownSync(f.file, 4242, 4242);
      },
    ],
    [
      'a link to a file saying so',
      (f, text) => {
        writeFileSync(join(f.dir, 'planted.json'), text);
        symlinkSync(join(f.dir, 'planted.json'), f.file);
      },
    ],
    ['not JSON', (f) => writeFileSync(f.file, '{"format":')],
    [
      'in another format',
      (f, text) => writeFileSync(f.file, text.replace('redpak-tree-labels/1', 'redpak-tree-labels/0')),
    ],
    [
      'entries of another shape',
      (f, text) => {
        const content = JSON.parse(text);
        content.nodes[f.app].label.children = 'platform';
        content.nodes[f.app].stamps = [1, 2, 3];
        writeFileSync(f.file, JSON.stringify(content));
      },
    ],
  ];
  for (const [what, plant] of hostile) {
    it(`is ignored, then replaced, when ${what}`, async (t) => {
      if (what === 'owned by another user' && process.geteuid?.() !== 0) return t.skip('needs root to chown');
      const f = await cachedFamily(t);
      chmodSync(f.file, 0o600);
      const text = lyingCache(f.file, f.app, 'from-the-cache');
      rmSync(f.file);
      plant(f, text);
      assert.deepEqual(aliases(readTree(f.root, { cacheDir: f.cacheDir })), ['root', 'platform', 'app']);
      // The walk wrote its own file in place of the planted one, and believes it next time.
      assert.deepEqual(aliases(readTree(f.root, { cacheDir: f.cacheDir })), ['root', 'platform', 'app']);
      assert.deepEqual(cachedNodes(f.cacheDir).sort(), [f.root, join(f.root, 'platform'), f.app].sort());
    });
  }

  it('is not believed under other config limits', async (t) => {
    const f = await cachedFamily(t);
    t.after(() => delete process.env.REDPAK_MAX_CONFIG_BYTES);
    process.env.REDPAK_MAX_CONFIG_BYTES = '64';
    assert.throws(() => readTree(f.root, { cacheDir: f.cacheDir }), /64/);
    assert.throws(() => loadTree(f.root), /64/);
  });

  it('follows nodes created and removed, and a directory that becomes a node', async (t) => {
    const f = await cachedFamily(t);
    createNode({ redpath: join(f.root, 'platform/second'), host: pinnedHost() });
    rmSync(f.app, { recursive: true });
    // The root's own entries do not change: only its etc directory does.
    createNode({ redpath: join(f.root, 'etc'), host: pinnedHost() });
    const tree = readTree(f.root, { cacheDir: f.cacheDir });
    assert.deepEqual(tree, loadTree(f.root));
    assert.deepEqual(aliases(tree), ['root', 'etc', 'platform', 'second']);
    assert.ok(!cachedNodes(f.cacheDir).includes(f.app), 'the removed node is dropped from the cache');
  });

  it('records nothing changed within the clock margin, and everything once it has passed', async (t) => {
    const dir = tempDir(t);
    const root = join(dir, 'root');
    createNode({ redpath: root, host: pinnedHost() });
    createNode({ redpath: join(root, 'app'), host: pinnedHost() });
    const cacheDir = ownCacheDir(t);
    readTree(root, { cacheDir });
    assert.deepEqual(cachedNodes(cacheDir), []);
    await olderThanTheClockMargin();
    readTree(root, { cacheDir });
    assert.deepEqual(cachedNodes(cacheDir).sort(), [root, join(root, 'app')]);
  });

  it('sees a config replaced by another file of the same size and times', async (t) => {
    const f = await cachedFamily(t);
    const config = join(f.app, 'etc/redpak.yaml');
    const text = readFileSync(config, 'utf8');
    const replacement = join(f.dir, 'replacement.yaml');
    writeFileSync(replacement, text.replace('alias: app', 'alias: apq'));
    renameSync(replacement, config);
    assert.deepEqual(aliases(readTree(f.root, { cacheDir: f.cacheDir })), ['root', 'platform', 'apq']);
  });
});
