/**
 * `redmanager tree`'s reader (src/inspect/tree.ts `readTree`) against the family loader's
 * (src/node/load.ts `loadTree`): the same tree, or the same error (code, message, file:line), on
 * plain families and on each thing a node's administrator can plant in a node: links on the way
 * to its files, files of another kind, a broken or hostile config or status, unusual YAML. Each
 * plant is also made after a walk filled the label cache (inspect/tree-cache.ts): the next walk
 * through the cache must see it.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { readTree } from '../../src/inspect/tree.js';
import { RedpakError } from '../../src/errors.js';
import { loadTree, type TreeNode } from '../../src/node/load.js';
import { tempDir } from '../helpers/family.js';
import { edit, family, NODE_PLANTS } from '../helpers/node-plants.js';
import { cachedNodes, ownCacheDir, olderThanTheClockMargin } from '../helpers/read-caches.js';

function outcome(read: (root: string) => TreeNode, root: string): TreeNode | { error: unknown } {
  try {
    return read(root);
  } catch (error) {
    assert.ok(error instanceof RedpakError, `not a RedpakError: ${String(error)}`);
    return { error: error.toJSON() };
  }
}

/** Both readers agree, and so does the reader through `cacheDir`'s labels; returns the outcome. */
function same(root: string, cacheDir?: string): TreeNode | { error: unknown } {
  const fast = outcome(readTree, root);
  assert.deepEqual(fast, outcome(loadTree, root));
  if (cacheDir)
    assert.deepEqual(
      outcome((r) => readTree(r, { cacheDir }), root),
      fast,
    );
  return fast;
}

describe('the tree reader', () => {
  it('gives loadTree’s tree for a plain family, disabled nodes and non-node directories included', (t) => {
    const f = family(tempDir(t));
    edit(join(f.a2, '.rednode.yaml'), /state: \w+/, 'state: Disable');
    mkdirSync(join(f.p2, 'not-a-node/below'), { recursive: true });
    mkdirSync(join(f.p2, '.hidden'));
    const tree = same(f.root) as TreeNode;
    assert.deepEqual(
      tree.children.map((c) => c.path),
      [f.p1, f.p2],
    );
    assert.equal(tree.children[0]?.children[1]?.state, 'Disable');
  });

  for (const [what, plant] of NODE_PLANTS) {
    it(`agrees with loadTree on ${what}, through the label cache too`, async (t) => {
      const dir = tempDir(t);
      const f = family(dir);
      const cacheDir = ownCacheDir(t);
      await olderThanTheClockMargin();
      readTree(f.root, { cacheDir });
      readTree(f.a1, { cacheDir });
      assert.ok(cachedNodes(cacheDir).includes(f.a1), 'the walk before the plant recorded the app');
      plant(f.a1, dir);
      same(f.root, cacheDir);
      same(f.a1, cacheDir);
    });
  }

  it('agrees on a root that is not a node, or not there', (t) => {
    const dir = tempDir(t);
    mkdirSync(join(dir, 'plain'));
    assert.ok('error' in same(join(dir, 'plain')));
    assert.ok('error' in same(join(dir, 'missing')));
  });
});
