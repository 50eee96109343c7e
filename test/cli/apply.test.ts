/**
 * redmanager apply as image-build tools run it: its commands run in-process (test/helpers/in-process.ts),
 * a sysroot, real packages.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { tempDir } from '../helpers/family.js';
import { fixtureRepo } from '../pkg/helpers/family.js';
import type { BinRun } from '../helpers/cli.js';
import { runCommand } from '../helpers/in-process.js';
import { unsignedTemplateDir } from '../helpers/unsigned-templates.js';

// The fixture packages are unsigned: the family's system node is made from templates that say so.
const redmanager = (args: string[]): Promise<BinRun> =>
  runCommand('redmanager', args.includes('--help') ? args : [...args, '--template-dir', unsignedTemplateDir()]);

describe('redmanager apply', () => {
  let repoDir: string;
  before(async () => {
    repoDir = (await fixtureRepo()).repoDir;
  });
  const recipeText = () => `redroot: /var/redpak
host-provides: true
repositories:
  - {id: base, baseurl: "file://${repoDir}"}
nodes:
  - path: /var/redpak/platform
    alias: platform
    template: leaf
    packages: [libredfoo, redfoo-conf = 1.0-1]
  - path: /var/redpak/platform/app
    packages: [redhello]
`;

  it('explains itself in --help', async () => {
    const r = await redmanager(['apply', '--help']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /USAGE[\s\S]*RECIPE[\s\S]*--dry-run[\s\S]*--frozen[\s\S]*--mirror[\s\S]*--root/);
  });

  it('--dry-run prints the plan; apply --json builds the sysroot; again: nothing to do; --frozen into another sysroot', async (t) => {
    const dir = tempDir(t);
    const recipe = join(dir, 'image.yaml');
    writeFileSync(recipe, recipeText());
    const rootfs = join(dir, 'rootfs');
    mkdirSync(rootfs);

    const dry = await redmanager(['apply', recipe, '--root', rootfs, '--dry-run']);
    assert.equal(dry.status, 0, dry.stderr);
    assert.match(
      dry.stdout,
      /^create node platform \(\/var\/redpak\/platform\) with the system node \/var\/redpak above it\nwrite repository base in \/var\/redpak\/etc\/yum.repos.d\/base.repo \(new\)\n/,
    );
    assert.match(dry.stdout, /install redhello in app \(\/var\/redpak\/platform\/app\): listed/);
    assert.deepEqual(readdirSync(rootfs), []);

    const first = await redmanager(['apply', recipe, '--root', rootfs, '--json']);
    assert.equal(first.status, 0, first.stderr);
    assert.equal(first.json.changed, true);
    assert.equal(first.json.mode, 'apply');
    assert.deepEqual(
      first.json.nodes.map((n: { transaction: { packages: { nevra: string }[] } }) =>
        n.transaction.packages.map((p) => p.nevra).sort(),
      ),
      [['libredfoo-2.0-1.x86_64', 'redfoo-conf-1.0-1.noarch'], ['redhello-1.0-1.x86_64']],
    );
    assert.deepEqual(first.json.lock, { file: join(dir, 'image.lock.yaml'), written: true, nodes: 2, packages: 3 });

    const again = await redmanager(['apply', recipe, '--root', rootfs]);
    assert.equal(again.status, 0, again.stderr);
    assert.match(
      again.stdout,
      /^nothing to do: the nodes are as the recipe says\nunchanged: lock file .*image\.lock\.yaml \(2 nodes, 3 packages\)\n$/,
    );

    const other = join(dir, 'other');
    mkdirSync(other);
    const frozen = await redmanager([
      'apply',
      recipe,
      '--root',
      other,
      '--frozen',
      '--mirror',
      join(repoDir, 'packages'),
      '--json',
    ]);
    assert.equal(frozen.status, 0, frozen.stderr);
    assert.equal(frozen.json.mode, 'frozen');
    assert.deepEqual(frozen.json.lock.packages, 3);
    assert.ok(existsSync(join(other, 'var/redpak/platform/app/usr/bin/redhello')));
  });

  it('bad input: exit 4 with file:line:col, exit 7 for a lock that does not match; nothing created', async (t) => {
    const dir = tempDir(t);
    const rootfs = join(dir, 'rootfs');
    mkdirSync(rootfs);
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, recipeText().replace('    packages: [redhello]', '    packages: [redhello]\n    colour: blue'));
    const r = await redmanager(['apply', bad, '--root', rootfs]);
    assert.equal(r.status, 4, r.stderr);
    assert.match(r.stderr, new RegExp(`error: ${bad}:12:5: unknown key "colour" in nodes\\[1\\]`));

    const outside = join(dir, 'outside.yaml');
    writeFileSync(outside, recipeText().replace('path: /var/redpak/platform/app', 'path: /var/other/app'));
    const o = await redmanager(['apply', outside, '--root', rootfs, '--json']);
    assert.equal(o.status, 4);
    assert.equal(o.json.error.code, 'schema');
    assert.match(o.json.error.message, /node app \(\/var\/other\/app\) is outside the redroot \/var\/redpak/);
    assert.deepEqual(o.json.error.at, { file: outside, line: 10, col: 11 });

    const nolock = join(dir, 'nolock.yaml');
    writeFileSync(nolock, recipeText());
    const n = await redmanager(['apply', nolock, '--root', rootfs, '--frozen', '--json']);
    assert.equal(n.status, 1);
    assert.match(n.json.error.message, /cannot read the lock file .*nolock\.lock\.yaml/);
    writeFileSync(
      join(dir, 'nolock.lock.yaml'),
      'version: 1\nrecipe: {file: x, sha256: y}\nredroot: /var/redpak\nnodes: []\n',
    );
    const m = await redmanager(['apply', nolock, '--root', rootfs, '--frozen', '--json']);
    assert.equal(m.status, 7, m.stdout);
    assert.equal(m.json.error.code, 'package');
    assert.match(
      m.json.error.message,
      /does not match the recipe[\s\S]*node platform \(\/var\/redpak\/platform\) is not in the lock/,
    );
    assert.deepEqual(readdirSync(rootfs), []);
  });
});
