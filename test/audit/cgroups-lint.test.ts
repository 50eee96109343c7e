/** The cgroup budget lint, on nodes read from disk. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { cpuList, cpuMaxValue, lintCgroups, memoryValue, type LintNode } from '../../src/audit/cgroups-lint.js';
import { Sysroot } from '../../src/node/layout.js';
import { loadNode } from '../../src/node/load.js';
import { makeNode, tempDir } from '../helpers/family.js';

const conf = (alias: string, cgroups: string) => `headers:\n  alias: ${alias}\nconfig:\n  cgroups:\n${cgroups}`;

describe('cgroup lint', () => {
  it('parses sizes and cpu lists', () => {
    assert.equal(memoryValue('512M'), 512 * 1024 ** 2);
    assert.equal(memoryValue('max'), undefined);
    assert.deepEqual([...cpuList('0-2,5')!], [0, 1, 2, 5]);
    assert.equal(cpuList('x'), undefined);
  });

  it('finds overcommitted children at any depth, and admin-only findings', (t) => {
    const dir = tempDir(t);
    const top = makeNode(dir, join(dir, 'top'), 'top', conf('top', '    mem:\n      max: 1G\n    pids:\n      max: 100\n'));
    const a = makeNode(dir, join(top, 'a'), 'a', conf('a', '    mem:\n      max: 768M\n'));
    const mid = makeNode(dir, join(top, 'mid'), 'mid', conf('mid', '    cpu:\n      weight: 100\n'));
    const b = makeNode(dir, join(mid, 'b'), 'b', conf('b', '    mem:\n      max: 512M\n    pids:\n      max: max\n'), conf('b', '    pids:\n      max: 200\n'));
    const sysroot = new Sysroot('/');
    const nodes: LintNode[] = [[top], [a, top], [mid, top], [b, mid]].map(([path, parent]) => {
      const node = loadNode(sysroot, path!, { admin: true })!;
      return { path: path!, alias: node.alias, node, ...(parent ? { parent } : {}) };
    });
    const found = lintCgroups(nodes);
    assert.deepEqual(found.map((f) => [f.rule, f.node, f.key, Boolean(f.adminOnly)]), [
      ['overcommit', top, 'mem.max', false],
      ['above-ancestor', b, 'pids.max', true],
    ]);
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
    assert.deepEqual(found.map((f) => [f.rule, f.node, f.key]), [
      ['above-ancestor', b, 'cpu.max'],
      ['overcommit', top, 'cpu.max'],
    ]);
    assert.match(found[0]!.message, /cpu\.max 1\.5 CPUs of b .* is above 1 CPU of its ancestor top/);
    assert.match(found[1]!.message, /add up to 2\.1 CPUs, above its own 1 CPU: a 0\.6 CPUs, b 1\.5 CPUs/);
  });
});
