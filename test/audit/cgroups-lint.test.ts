/** The cgroup budget lint, on nodes read from disk. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  cpuList,
  cpuMaxValue,
  lintCgroups,
  memoryValue,
  pidsValue,
  type LintNode,
} from '../../src/audit/cgroups-lint.js';
import { Sysroot } from '../../src/node/layout.js';
import { loadNode } from '../../src/node/load.js';
import { makeNode, tempDir } from '../helpers/family.js';
import { planCgroups } from '../../src/wrap/cgroups.js';
import type { CgroupsConfig } from '../../src/config/types.js';
import { RedpakError } from '../../src/errors.js';

const conf = (alias: string, cgroups: string) => `headers:\n  alias: ${alias}\nconfig:\n  cgroups:\n${cgroups}`;

describe('cgroup lint', () => {
  it('parses sizes and cpu lists', () => {
    assert.equal(memoryValue('512M'), 512 * 1024 ** 2);
    assert.equal(memoryValue('max'), undefined);
    assert.deepEqual([...cpuList('0-2,5')!], [0, 1, 2, 5]);
    assert.equal(cpuList('x'), undefined);
  });

  it("reads values with the launch's grammar: a value the lint compares is one the launch accepts", () => {
    // The rows after the first of each key were read differently by the lint and the launch before they shared one grammar.
    const rows: [keyof CgroupsConfig, string, string, (raw: string) => unknown][] = [
      ['mem', 'max', '256M', memoryValue],
      ['mem', 'max', '99999999999T', memoryValue],
      ['pids', 'max', '64', pidsValue],
      ['pids', 'max', ' 64 ', pidsValue],
      ['cpu', 'max', '50000 100000', cpuMaxValue],
      ['cpu', 'max', '500 100000', cpuMaxValue],
      ['cpu', 'max', '50000 10', cpuMaxValue],
      ['cpuset', 'cpus', '0-3,6', cpuList],
      ['cpuset', 'cpus', '0 - 3, 6', cpuList],
      ['cpuset', 'cpus', '3-1', cpuList],
    ];
    const agreement = rows.map(([controller, key, raw, lint]) => {
      const cgroups = { [controller]: { [key]: raw } } as CgroupsConfig;
      let launch = true;
      try {
        planCgroups([{ path: '/n/', alias: 'n', admin: false, cgroups }], { version: 'v2', root: '/cg' });
      } catch (error) {
        assert.ok(error instanceof RedpakError && error.code === 'schema', String(error));
        launch = false;
      }
      return [`${controller}.${key} ${raw}`, launch, lint(raw) !== undefined];
    });
    assert.deepEqual(
      agreement,
      agreement.map(([row, launch]) => [row, launch, launch]),
    );
    assert.deepEqual(
      agreement.map(([, launch]) => launch),
      [true, false, true, true, true, false, false, true, false, false],
    );
  });

  it('finds overcommitted children at any depth, and admin-only findings', (t) => {
    const dir = tempDir(t);
    const top = makeNode(
      dir,
      join(dir, 'top'),
      'top',
      conf('top', '    mem:\n      max: 1G\n    pids:\n      max: 100\n'),
    );
    const a = makeNode(dir, join(top, 'a'), 'a', conf('a', '    mem:\n      max: 768M\n'));
    const mid = makeNode(dir, join(top, 'mid'), 'mid', conf('mid', '    cpu:\n      weight: 100\n'));
    const b = makeNode(
      dir,
      join(mid, 'b'),
      'b',
      conf('b', '    mem:\n      max: 512M\n    pids:\n      max: max\n'),
      conf('b', '    pids:\n      max: 200\n'),
    );
    const sysroot = new Sysroot('/');
    const nodes: LintNode[] = [[top], [a, top], [mid, top], [b, mid]].map(([path, parent]) => {
      const node = loadNode(sysroot, path!, { admin: true })!;
      return { path: path!, alias: node.alias, node, ...(parent ? { parent } : {}) };
    });
    const found = lintCgroups(nodes);
    assert.deepEqual(
      found.map((f) => [f.rule, f.node, f.key, Boolean(f.adminOnly)]),
      [
        ['overcommit', top, 'mem.max', false],
        ['above-ancestor', b, 'pids.max', true],
      ],
    );
    assert.match(found[0]!.message, /add up to 1280M, above its own 1G: a 768M, b 512M/);
  });

  it('cpu.max counts in CPUs (quota over period): a child above its ancestor, children adding up to more', (t) => {
    assert.equal(cpuMaxValue('50000 100000'), 0.5);
    assert.equal(cpuMaxValue('150000'), 1.5);
    assert.equal(cpuMaxValue('max 100000'), undefined);
    const dir = tempDir(t);
    const top = makeNode(dir, join(dir, 'top'), 'top', conf('top', '    cpu:\n      max: 100000 100000\n'));
    const a = makeNode(dir, join(top, 'a'), 'a', conf('a', '    cpu:\n      max: 30000 50000\n'));
    const b = makeNode(dir, join(top, 'b'), 'b', conf('b', '    cpu:\n      max: 150000\n'));
    const sysroot = new Sysroot('/');
    const nodes: LintNode[] = [[top], [a, top], [b, top]].map(([path, parent]) => {
      const node = loadNode(sysroot, path!, { admin: true })!;
      return { path: path!, alias: node.alias, node, ...(parent ? { parent } : {}) };
    });
    const found = lintCgroups(nodes);
    assert.deepEqual(
      found.map((f) => [f.rule, f.node, f.key]),
      [
        ['above-ancestor', b, 'cpu.max'],
        ['overcommit', top, 'cpu.max'],
      ],
    );
    assert.match(found[0]!.message, /cpu\.max 1\.5 CPUs of b .* is above 1 CPU of its ancestor top/);
    assert.match(found[1]!.message, /add up to 2\.1 CPUs, above its own 1 CPU: a 0\.6 CPUs, b 1\.5 CPUs/);
  });
});
