/**
 * A small family, and what a node's administrator can plant in a node: links on the way to its
 * files, files of another kind, broken, hostile or unusual configs and statuses. Readers of node
 * files (the tree reader, the read caches) must give what the family loader gives on each.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createNode } from '../../src/node/factory.js';
import { pinnedHost } from './family.js';

/** A root with two platforms, two apps under the first. */
export function family(dir: string): Record<'root' | 'p1' | 'p2' | 'a1' | 'a2', string> {
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

export const edit = (file: string, from: string | RegExp, to: string) =>
  writeFileSync(file, readFileSync(file, 'utf8').replace(from, to));

/** Each case plants something in `app` (a node of the family; `dir` is scratch space beside it). */
export const NODE_PLANTS: [string, (app: string, dir: string) => void][] = [
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
