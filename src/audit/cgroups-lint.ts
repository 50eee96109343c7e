/**
 * Cgroup budget lint (redmanager check): limits that nest per node, read from the nodes' files.
 * Pure. A node's cgroup sits inside its parent's, so the kernel caps a child at its ancestors'
 * limits: a child's limit above an ancestor's is never reached, and children whose limits add up
 * to more than the ancestor's overcommit it (mem.max, pids.max, and cpu.max as CPUs: quota over
 * period). cpusets must be subsets of the closest ancestor's.
 */
import { formatLine, type SourcePosition } from '../errors.js';
import type { CgroupsConfig } from '../config/types.js';
import type { RedNode } from '../node/types.js';
import { BadValue, cpuList as cpuListText, cpuMax, cpuRanges, memoryBytes, pidsMax } from '../wrap/cgroup-values.js';

/** A node of the tree as the lint sees it; parents come before children. */
export interface LintNode {
  path: string;
  alias: string;
  parent?: string;
  node: RedNode;
}

export interface CgroupLintFinding {
  rule: 'above-ancestor' | 'overcommit' | 'not-subset';
  /** Target path of the node at fault (the child for above-ancestor and not-subset, the ancestor for overcommit). */
  node: string;
  /** `mem.max`, `pids.max`, `cpu.max`, `cpuset.cpus`, `cpuset.mems`. */
  key: string;
  message: string;
  at?: SourcePosition;
  /** Only with the admin configs (redwrap --admin). */
  adminOnly?: boolean;
}

/** The parsed value, or undefined when it does not parse (value errors are the launch checks'). */
function parsed<T>(raw: string | undefined, parse: (raw: string) => T): T | undefined {
  if (raw === undefined) return undefined;
  try {
    return parse(raw);
  } catch (error) {
    if (error instanceof BadValue) return undefined;
    throw error;
  }
}

/** Bytes, or undefined for "max"/unparsable. */
export function memoryValue(raw: string | undefined): number | undefined {
  const bytes = parsed(raw, memoryBytes);
  return bytes === 'max' ? undefined : bytes;
}

export function pidsValue(raw: string | undefined): number | undefined {
  const pids = parsed(raw, pidsMax);
  return pids === undefined || pids === 'max' ? undefined : Number(pids);
}

/** cpu.max "QUOTA [PERIOD]" (µs, period 100000 by default) as a number of CPUs; undefined for "max"/unparsable. */
export function cpuMaxValue(raw: string | undefined): number | undefined {
  const max = parsed(raw, cpuMax);
  return max === undefined || max.quota === 'max' ? undefined : max.quota / max.period;
}

const showCpus = (cpus: number) => `${Number(cpus.toFixed(2))} CPU${cpus === 1 ? '' : 's'}`;

/** Wider ranges are not expanded: the lint stays cheap on any input. */
const WIDEST_RANGE = 4096;

/** "0-3,6" → {0,1,2,3,6}; undefined when empty or unparsable. */
export function cpuList(raw: string | undefined): Set<number> | undefined {
  const list = parsed(raw, cpuListText);
  if (!list) return undefined;
  const out = new Set<number>();
  for (const [low, high] of cpuRanges(list)) {
    if (high - low > WIDEST_RANGE) return undefined;
    for (let i = low; i <= high; i += 1) out.add(i);
  }
  return out;
}

function showBytes(bytes: number): string {
  for (const [suffix, size] of [
    ['G', 1024 ** 3],
    ['M', 1024 ** 2],
    ['K', 1024],
  ] as const) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${suffix}`;
  }
  return String(bytes);
}

interface Setting {
  raw: string;
  at?: SourcePosition;
}

/** A node's value for `controller.key`: the admin file's over the normal one's in admin mode. */
function settingOf(node: RedNode, admin: boolean, controller: keyof CgroupsConfig, key: string): Setting | undefined {
  const files = admin && node.admin ? [node.admin, node.normal] : [node.normal];
  for (const file of files) {
    const raw = (file.config.cgroups?.[controller] as Record<string, string | undefined> | undefined)?.[key];
    if (raw !== undefined)
      return { raw, at: file.positions[`config.cgroups.${controller}.${key}`] ?? { file: file.file, line: 0, col: 0 } };
  }
  return undefined;
}

const where = (at: SourcePosition | undefined) => (at ? formatLine(at) : 'its config');

function lintMode(nodes: LintNode[], admin: boolean): CgroupLintFinding[] {
  const out: CgroupLintFinding[] = [];
  const byPath = new Map(nodes.map((n) => [n.path, n]));
  const children = new Map<string, LintNode[]>();
  for (const n of nodes) if (n.parent !== undefined) children.set(n.parent, [...(children.get(n.parent) ?? []), n]);
  const name = (n: LintNode) => `${n.alias} (${n.path})`;

  const limits: {
    controller: 'mem' | 'pids' | 'cpu';
    key: string;
    parse: (raw: string) => number | undefined;
    show: (v: number) => string;
  }[] = [
    { controller: 'mem', key: 'max', parse: memoryValue, show: showBytes },
    { controller: 'pids', key: 'max', parse: pidsValue, show: String },
    { controller: 'cpu', key: 'max', parse: cpuMaxValue, show: showCpus },
  ];
  for (const limit of limits) {
    const label = `${limit.controller}.${limit.key}`;
    const value = (n: LintNode) => {
      const s = settingOf(n.node, admin, limit.controller, limit.key);
      if (!s) return undefined;
      const v = limit.parse(s.raw);
      return v === undefined ? undefined : { v, at: s.at };
    };
    for (const ancestor of nodes) {
      const own = value(ancestor);
      if (!own) continue;
      // The first limited nodes on every path below the ancestor share its budget.
      const frontier: { node: LintNode; v: number; at?: SourcePosition }[] = [];
      const walk = (n: LintNode) => {
        for (const child of children.get(n.path) ?? []) {
          const got = value(child);
          if (got) frontier.push({ node: child, ...got });
          else walk(child);
        }
      };
      walk(ancestor);
      for (const f of frontier) {
        if (f.v > own.v) {
          out.push({
            rule: 'above-ancestor',
            node: f.node.path,
            key: label,
            at: f.at,
            message: `${label} ${limit.show(f.v)} of ${name(f.node)} is above ${limit.show(own.v)} of its ancestor ${name(ancestor)} (${where(own.at)}): the ancestor's limit applies`,
          });
        }
      }
      const sum = frontier.reduce((n, f) => n + f.v, 0);
      if (frontier.length > 1 && sum > own.v) {
        out.push({
          rule: 'overcommit',
          node: ancestor.path,
          key: label,
          at: own.at,
          message: `the ${label} limits below ${name(ancestor)} add up to ${limit.show(sum)}, above its own ${limit.show(own.v)}: ${frontier.map((f) => `${f.node.alias} ${limit.show(f.v)}`).join(', ')}`,
        });
      }
    }
  }

  for (const key of ['cpus', 'mems'] as const) {
    const label = `cpuset.${key}`;
    for (const n of nodes) {
      const s = settingOf(n.node, admin, 'cpuset', key);
      const mine = cpuList(s?.raw);
      if (!s || !mine) continue;
      for (
        let p = n.parent === undefined ? undefined : byPath.get(n.parent);
        p;
        p = p.parent === undefined ? undefined : byPath.get(p.parent)
      ) {
        const ps = settingOf(p.node, admin, 'cpuset', key);
        const theirs = cpuList(ps?.raw);
        if (!ps || !theirs) continue;
        const outside = [...mine].filter((c) => !theirs.has(c));
        if (outside.length) {
          out.push({
            rule: 'not-subset',
            node: n.path,
            key: label,
            at: s.at,
            message: `${label} "${s.raw.trim()}" of ${name(n)} is not within "${ps.raw.trim()}" of its ancestor ${name(p)} (${where(ps.at)}): ${outside.join(',')} outside`,
          });
        }
        break;
      }
    }
  }
  return out;
}

/** Findings with the normal configs, then those only the admin configs add. */
export function lintCgroups(nodes: LintNode[]): CgroupLintFinding[] {
  const normal = lintMode(nodes, false);
  const seen = new Set(normal.map((f) => f.message));
  const adminOnly = lintMode(nodes, true)
    .filter((f) => !seen.has(f.message))
    .map((f) => ({ ...f, adminOnly: true, message: `${f.message} (with the admin configs)` }));
  return [...normal, ...adminOnly];
}
