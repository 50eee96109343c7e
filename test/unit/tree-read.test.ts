/**
 * `redmanager tree`'s reader (src/inspect/tree.ts `readTree`) against the family loader's
 * (src/node/load.ts `loadTree`): the same tree, or the same error (code, message, file:line), on
 * plain families and on each thing a node's administrator can plant in a node: links on the way
 * to its files, files of another kind, a broken or hostile config or status, unusual YAML. Each
 * plant is also made after a walk filled the label cache (inspect/tree-cache.ts): the next walk
 * through the cache must see it.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { readTree } from '../../src/inspect/tree.js';
import { RedpakError } from '../../src/errors.js';
import { createNode } from '../../src/node/factory.js';
import { loadTree, type TreeNode } from '../../src/node/load.js';
import { pinnedHost, tempDir } from '../helpers/family.js';
import { cachedNodes, labelCacheDir, olderThanTheClockMargin } from '../helpers/tree-cache.js';

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

/** A root with two platforms, two apps under the first. */
function family(dir: string): Record<'root' | 'p1' | 'p2' | 'a1' | 'a2', string> {
  const host = pinnedHost();
  const paths = {
    root: join(dir, 'root'),
    p1: join(dir, 'root/p1'),
    p2: join(dir, 'root/p2'),
    a1: join(dir, 'root/p1/a1'),
    a2: join(dir, 'root/p1/a2'),
  };
  for (const redpath of Object.values(paths)) createNode({ redpath, host });
  return paths;
}

const edit = (file: string, from: string | RegExp, to: string) =>
  writeFileSync(file, readFileSync(file, 'utf8').replace(from, to));

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

  // Each case plants something in the first app, then both readers must agree (tree or error).
  const plants: [string, (app: string, dir: string) => void][] = [
    [
      'a status that is a link to a status',
      (app, dir) => {
        renameSync(join(app, '.rednode.yaml'), join(dir, 'status'));
        symlinkSync(join(dir, 'status'), join(app, '.rednode.yaml'));
      },
    ],
    [
      'a dangling status link',
      (app) => {
        rmSync(join(app, '.rednode.yaml'));
        symlinkSync('/nonexistent', join(app, '.rednode.yaml'));
      },
    ],
    [
      'a status that is a directory',
      (app) => {
        rmSync(join(app, '.rednode.yaml'));
        mkdirSync(join(app, '.rednode.yaml'));
      },
    ],
    [
      'a status that is a fifo',
      (app) => {
        rmSync(join(app, '.rednode.yaml'));
        assert.equal(spawnSync('mkfifo', [join(app, '.rednode.yaml')]).status, 0);
      },
    ],
    [
      'etc a link to a copy of it',
      (app, dir) => {
        renameSync(join(app, 'etc'), join(dir, 'etc-copy'));
        symlinkSync(join(dir, 'etc-copy'), join(app, 'etc'));
      },
    ],
    [
      'a config that is a link',
      (app, dir) => {
        renameSync(join(app, 'etc/redpak.yaml'), join(dir, 'redpak.yaml'));
        symlinkSync(join(dir, 'redpak.yaml'), join(app, 'etc/redpak.yaml'));
      },
    ],
    [
      'a config that is a directory',
      (app) => {
        rmSync(join(app, 'etc/redpak.yaml'));
        mkdirSync(join(app, 'etc/redpak.yaml'));
      },
    ],
    ['no config', (app) => rmSync(join(app, 'etc/redpak.yaml'))],
    ['no etc', (app) => rmSync(join(app, 'etc'), { recursive: true })],
    ['the legacy config name', (app) => renameSync(join(app, 'etc/redpak.yaml'), join(app, 'etc/redpack.yaml'))],
    [
      'a config above the size limit',
      (app) => {
        writeFileSync(
          join(app, 'etc/redpak.yaml'),
          `${readFileSync(join(app, 'etc/redpak.yaml'), 'utf8')}#${'x'.repeat(1 << 20)}\n`,
        );
      },
    ],
    [
      'a schema error far from the headers',
      (app) => edit(join(app, 'etc/redpak.yaml'), 'mode: Private', 'mode: Nowhere'),
    ],
    ['an unknown key', (app) => edit(join(app, 'etc/redpak.yaml'), 'config:', 'config:\n  bogus: 1')],
    ['a duplicate key', (app) => edit(join(app, 'etc/redpak.yaml'), /alias: (\w+)/, 'alias: $1\n  ALIAS: other')],
    ['a tab', (app) => edit(join(app, 'etc/redpak.yaml'), '  alias:', '\talias:')],
    ['an invalid alias', (app) => edit(join(app, 'etc/redpak.yaml'), /alias: \w+/, 'alias: "bad alias"')],
    [
      'a flow-style header (left to the YAML library)',
      (app) => {
        edit(join(app, 'etc/redpak.yaml'), /headers:\n {2}alias: (\w+)/, 'headers: {alias: flow-$1,');
        edit(join(app, 'etc/redpak.yaml'), /\n {2}name: (\S+)\n {2}info: (.*)/, ' name: $1, info: "$2"}');
      },
    ],
    [
      'an alias bomb',
      (app) => edit(join(app, 'etc/redpak.yaml'), /alias: (\w+)/, `alias: &a $1\n  info: *a${'\n  x: *a'.repeat(3)}`),
    ],
    [
      'a bad seccomp rule',
      (app) => {
        writeFileSync(
          join(app, 'etc/redpak.yaml'),
          `${readFileSync(join(app, 'etc/redpak.yaml'), 'utf8')}seccomp:\n  rules:\n    - syscall: no_such_call\n      action: errno\n`,
        );
      },
    ],
    ['a status in another state, quoted', (app) => edit(join(app, '.rednode.yaml'), /state: \w+/, "state: 'Lock'")],
    ['a status with a bad state', (app) => edit(join(app, '.rednode.yaml'), /state: \w+/, 'state: Maybe')],
    ['an empty status', (app) => writeFileSync(join(app, '.rednode.yaml'), '')],
    [
      'a child directory that is a link to a node',
      (app, dir) => {
        createNode({ redpath: join(dir, 'elsewhere'), host: pinnedHost() });
        symlinkSync(join(dir, 'elsewhere'), join(app, 'linked'));
      },
    ],
  ];
  for (const [what, plant] of plants) {
    it(`agrees with loadTree on ${what}, through the label cache too`, async (t) => {
      const dir = tempDir(t);
      const f = family(dir);
      const cacheDir = labelCacheDir(t);
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
