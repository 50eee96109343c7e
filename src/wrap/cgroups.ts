/**
 * Cgroup planning (docs/configuration.md, "Cgroups"). Pure: it only computes which directories to
 * create and which files to write, in order, so `--dump-only` can show the plan without creating
 * anything. src/wrap/cgroups-apply.ts carries it out.
 *
 * Layout: one directory per node of the chain, nested root-most first under a base cgroup
 * (cgrouproot or the caller's own cgroup), named after the node path with `/` replaced by `-`
 * (`/var/redpak/app/` → `-var-redpak-app-`), suffixed `.admin` for an admin launch. Every node
 * gets its directory as soon as any node of the chain asks for a controller: the nesting is what
 * makes the kernel cap a child at its parent's limits (parent pids.max 5, child 50 → 5).
 *
 * cgroup v2: controllers are switched on in `cgroup.subtree_control` of the base and of every
 * node; the process goes into `<leaf node>/redpak-pids-leaf`, because v2 forbids processes in a
 * cgroup that delegates controllers to children ("no internal processes"), and a node that is a
 * leaf today can be a parent at the next launch. For the same reason the processes already in the
 * base are moved into `<base>/redpak-pids-leaf` first, as redpak does.
 *
 * cgroup v1: each controller is its own hierarchy with its own base; the node directories are
 * created in every hierarchy the chain uses (pids always, as redpak adds it), and the process goes
 * straight into the leaf node's directory. A key with no v1 file is an error, never dropped.
 *
 * Values are checked here, before anything runs, and converted once (64M → 67108864) so both
 * backends write what the kernel expects. The keys redpak parses but never applies (mem.low,
 * mem.oom_group, cpu.weight_nice, io.cost_qos, io.cost_model) are not applied here either: the
 * plan lists them as warnings (`CgroupWarning`), the same on every host, so a config written for
 * redpak launches unchanged. A key the chosen cgroup version cannot apply is an error.
 */
import type { CgroupController, CgroupsConfig } from '../config/types.js';
import { RedpakError, type SourcePosition } from '../errors.js';
import { present } from '../present.js';
import { BadValue, cpuList, cpuMax, integerIn, ioMax, ioWeight, memoryBytes, oneOf, pidsMax } from './cgroup-values.js';

export type CgroupVersion = 'v1' | 'v2';

/** One node of the chain, root-most first. `cgroups` holds the node's values (admin already merged over normal). */
export interface CgroupNode {
  path: string;
  alias: string;
  admin: boolean;
  cgroups?: CgroupsConfig;
  /** Where the node's cgroups are written: errors about them are placed there. */
  at?: SourcePosition;
}

/** The v1 hierarchies redpak's controllers live in (io is called blkio there). */
export type V1Hierarchy = 'cpuset' | 'cpu' | 'memory' | 'blkio' | 'pids';

export type CgroupPlanOptions =
  | { version: 'v2' /** Absolute directory of the base cgroup. */; root: string }
  | {
      version: 'v1' /** Absolute base directory in each hierarchy the chain needs. */;
      roots: Partial<Record<V1Hierarchy, string>>;
    };

export type CgroupStep =
  /** Create the directory unless it exists. `owned`: ours to remove after the launch. */
  | { kind: 'mkdir'; dir: string; node?: string; owned: boolean }
  /** Write `value` to an existing cgroup file. `key` is the config key it comes from. */
  | { kind: 'write'; file: string; value: string; node?: string; key: string }
  /** v1 cpuset: copy the parent's cpus/mems, which a new cpuset needs before it can hold a task. */
  | { kind: 'copy'; file: string; from: string; node: string; key: string }
  /** v2: move the processes of `from` into `to` so that `from` may delegate controllers. */
  | { kind: 'evacuate'; from: string; to: string };

/** A key of a node's cgroups that is accepted but not applied (redpak ignores it too). */
export interface CgroupWarning {
  node: string;
  alias: string;
  key: string;
  message: string;
  at?: SourcePosition;
}

export interface CgroupPlan {
  version: CgroupVersion;
  steps: CgroupStep[];
  /** Keys accepted but not applied, for check, explain and one line at launch. */
  warnings: CgroupWarning[];
  /** Directories whose cgroup.procs receives the launched process (one per v1 hierarchy). */
  leaves: string[];
  /** Per hierarchy, the owned directories root-most first: removed leaf-most first after the launch. */
  chains: string[][];
}

export const PIDS_LEAF = 'redpak-pids-leaf';
/** v2 controller names, in the order the kernel lists them. */
const V2_CONTROLLER: Record<CgroupController, string> = {
  cpuset: 'cpuset',
  cpu: 'cpu',
  io: 'io',
  mem: 'memory',
  pids: 'pids',
};
const V1_HIERARCHY: Record<CgroupController, V1Hierarchy> = {
  cpuset: 'cpuset',
  cpu: 'cpu',
  io: 'blkio',
  mem: 'memory',
  pids: 'pids',
};
const CONTROLLER_ORDER: CgroupController[] = ['cpuset', 'cpu', 'io', 'mem', 'pids'];
const NAME_MAX = 255;

/** The controllers the chain asks for: the union of the sub-maps present (even empty), plus pids. */
export function requestedControllers(nodes: CgroupNode[]): CgroupController[] {
  const asked = new Set<CgroupController>();
  for (const node of nodes)
    for (const controller of CONTROLLER_ORDER) if (node.cgroups?.[controller]) asked.add(controller);
  if (asked.size === 0) return [];
  asked.add('pids');
  return CONTROLLER_ORDER.filter((controller) => asked.has(controller));
}

export function v1HierarchyOf(controller: CgroupController): V1Hierarchy {
  return V1_HIERARCHY[controller];
}
export function v2ControllerName(controller: CgroupController): string {
  return V2_CONTROLLER[controller];
}

/** redpak's cgroup name for a node: its path with `/` → `-`, `.admin` for an admin launch. */
export function cgroupNameOf(node: CgroupNode): string {
  const name = node.path.replaceAll('/', '-') + (node.admin ? '.admin' : '');
  if (name.length > NAME_MAX || name === '-' || name === '.' || name === '..') {
    throw new RedpakError('schema', `node ${node.alias}: path "${node.path}" gives an unusable cgroup name "${name}"`);
  }
  return name;
}

/** One file write a node's settings turn into, before the base directory is known. */
interface Setting {
  hierarchy: V1Hierarchy | 'v2';
  file: string;
  value: string;
  key: string;
}

type Entries<T> = { [K in keyof T]-?: [K, T[K]] }[keyof T][];
const entriesOf = <T extends object>(value: T | undefined) => (value ? (Object.entries(value) as Entries<T>) : []);

function checked<T>(node: CgroupNode, key: string, raw: string | undefined, check: (raw: string) => T): T {
  try {
    return check(String(raw));
  } catch (error) {
    if (!(error instanceof BadValue)) throw error;
    throw new RedpakError('schema', `node ${node.alias}: cgroups.${key} "${raw}" is invalid: ${error.message}`, {
      ...(node.at ? { at: node.at } : {}),
    });
  }
}

function unsupported(node: CgroupNode, key: string, why: string): never {
  throw new RedpakError('schema', `node ${node.alias}: cgroups.${key} cannot be applied: ${why}`, {
    ...(node.at ? { at: node.at } : {}),
  });
}

/** The keys redpak parses and ignores (docs/compatibility.md), with why they stay ignored here. */
const REDPAK_IGNORED: Record<string, string> = {
  'mem.low': 'redpak parses mem.low but never writes memory.low',
  'mem.oom_group': 'redpak parses mem.oom_group but never writes memory.oom.group',
  'cpu.weight_nice': 'redpak parses cpu.weight_nice but never applies it',
  'io.cost_qos': 'redpak ignores io.cost_qos; io.cost.qos exists only in the root cgroup (a host-wide setting)',
  'io.cost_model': 'redpak ignores io.cost_model; io.cost.model exists only in the root cgroup (a host-wide setting)',
};

/** The node's keys that redpak ignores, as warnings: accepted, not applied. */
export function ignoredCgroupKeys(node: CgroupNode): CgroupWarning[] {
  const out: CgroupWarning[] = [];
  for (const [key, why] of Object.entries(REDPAK_IGNORED)) {
    const [controller, field] = key.split('.') as [CgroupController, string];
    if ((node.cgroups?.[controller] as Record<string, string | undefined> | undefined)?.[field] === undefined) continue;
    out.push({
      node: node.path,
      alias: node.alias,
      key,
      message: `node ${node.alias}: cgroups.${key} is ignored: ${why}`,
      ...(node.at ? { at: node.at } : {}),
    });
  }
  return out;
}

function v2Settings(node: CgroupNode, cgroups: CgroupsConfig): Setting[] {
  const out: Setting[] = [];
  const add = (file: string, value: string, key: string) => out.push({ hierarchy: 'v2', file, value, key });
  const bytes = (key: string, raw: string) => String(checked(node, key, raw, memoryBytes));
  // cpus and mems before the partition type, which the kernel validates against them.
  if (cgroups.cpuset?.cpus !== undefined)
    add('cpuset.cpus', checked(node, 'cpuset.cpus', cgroups.cpuset.cpus, cpuList), 'cpuset.cpus');
  if (cgroups.cpuset?.mems !== undefined)
    add('cpuset.mems', checked(node, 'cpuset.mems', cgroups.cpuset.mems, cpuList), 'cpuset.mems');
  if (cgroups.cpuset?.cpus_partition !== undefined) {
    add(
      'cpuset.cpus.partition',
      checked(node, 'cpuset.cpus_partition', cgroups.cpuset.cpus_partition, (raw) =>
        oneOf(raw, ['member', 'root', 'isolated']),
      ),
      'cpuset.cpus_partition',
    );
  }
  const memoryFiles = {
    min: 'memory.min',
    high: 'memory.high',
    max: 'memory.max',
    swap_high: 'memory.swap.high',
    swap_max: 'memory.swap.max',
  } as const;
  for (const [key, file] of Object.entries(memoryFiles) as [keyof typeof memoryFiles, string][]) {
    const raw = cgroups.mem?.[key];
    if (raw !== undefined) add(file, bytes(`mem.${key}`, raw), `mem.${key}`);
  }
  if (cgroups.cpu?.weight !== undefined)
    add(
      'cpu.weight',
      String(checked(node, 'cpu.weight', cgroups.cpu.weight, (raw) => integerIn(raw, 1, 10_000))),
      'cpu.weight',
    );
  if (cgroups.cpu?.max !== undefined) {
    const { quota, period } = checked(node, 'cpu.max', cgroups.cpu.max, cpuMax);
    add('cpu.max', `${quota} ${period}`, 'cpu.max');
  }
  if (cgroups.io?.weight !== undefined) {
    const { device, weight } = checked(node, 'io.weight', cgroups.io.weight, ioWeight);
    add('io.weight', device ? `${device} ${weight}` : `default ${weight}`, 'io.weight');
  }
  if (cgroups.io?.max !== undefined) {
    const { device, limits } = checked(node, 'io.max', cgroups.io.max, ioMax);
    add('io.max', [device, ...entriesOf(limits).map(([key, value]) => `${key}=${value}`)].join(' '), 'io.max');
  }
  if (cgroups.pids?.max !== undefined)
    add('pids.max', checked(node, 'pids.max', cgroups.pids.max, pidsMax), 'pids.max');
  return out;
}

const V1_NO_EQUIVALENT: Record<string, string> = {
  'mem.min': 'cgroup v1 has no memory protection (memory.min)',
  'mem.swap_high': 'cgroup v1 has no swap throttling (memory.swap.high)',
  'cpuset.cpus_partition': 'cgroup v1 has no cpuset partitions (cpuset.cpus.partition)',
};

function v1Settings(node: CgroupNode, cgroups: CgroupsConfig): Setting[] {
  for (const [key, why] of Object.entries(V1_NO_EQUIVALENT)) {
    const [controller, field] = key.split('.') as [CgroupController, string];
    if ((cgroups[controller] as Record<string, string | undefined> | undefined)?.[field] !== undefined)
      unsupported(node, key, why);
  }
  const out: Setting[] = [];
  const add = (hierarchy: V1Hierarchy, file: string, value: string, key: string) =>
    out.push({ hierarchy, file, value, key });
  const v1Bytes = (key: string, raw: string) => {
    const bytes = checked(node, key, raw, memoryBytes);
    return bytes === 'max' ? -1 : bytes;
  };
  if (cgroups.cpuset?.cpus !== undefined)
    add('cpuset', 'cpuset.cpus', checked(node, 'cpuset.cpus', cgroups.cpuset.cpus, cpuList), 'cpuset.cpus');
  if (cgroups.cpuset?.mems !== undefined)
    add('cpuset', 'cpuset.mems', checked(node, 'cpuset.mems', cgroups.cpuset.mems, cpuList), 'cpuset.mems');
  const memoryMax = cgroups.mem?.max === undefined ? undefined : v1Bytes('mem.max', cgroups.mem.max);
  if (memoryMax !== undefined) add('memory', 'memory.limit_in_bytes', String(memoryMax), 'mem.max');
  // The soft limit is what v1 reclaims towards under pressure: the nearest thing to memory.high.
  if (cgroups.mem?.high !== undefined)
    add('memory', 'memory.soft_limit_in_bytes', String(v1Bytes('mem.high', cgroups.mem.high)), 'mem.high');
  if (cgroups.mem?.swap_max !== undefined) {
    // v1 limits memory+swap together, so the swap allowance only makes sense next to a memory limit.
    const swap = v1Bytes('mem.swap_max', cgroups.mem.swap_max);
    if (swap !== -1 && (memoryMax === undefined || memoryMax === -1)) {
      unsupported(
        node,
        'mem.swap_max',
        'cgroup v1 limits memory+swap together (memory.memsw.limit_in_bytes); set mem.max too',
      );
    }
    add(
      'memory',
      'memory.memsw.limit_in_bytes',
      String(swap === -1 ? -1 : swap + (memoryMax as number)),
      'mem.swap_max',
    );
  }
  if (cgroups.cpu?.weight !== undefined) {
    const weight = checked(node, 'cpu.weight', cgroups.cpu.weight, (raw) => integerIn(raw, 1, 10_000));
    // cgroup v2's default weight 100 is v1's default 1024 shares (systemd's conversion).
    add('cpu', 'cpu.shares', String(Math.max(2, Math.round((weight * 1024) / 100))), 'cpu.weight');
  }
  if (cgroups.cpu?.max !== undefined) {
    const { quota, period } = checked(node, 'cpu.max', cgroups.cpu.max, cpuMax);
    add('cpu', 'cpu.cfs_period_us', String(period), 'cpu.max');
    add('cpu', 'cpu.cfs_quota_us', String(quota === 'max' ? -1 : quota), 'cpu.max');
  }
  if (cgroups.io?.weight !== undefined) {
    const { device, weight } = checked(node, 'io.weight', cgroups.io.weight, ioWeight);
    if (weight > 1000) unsupported(node, 'io.weight', 'cgroup v1 (blkio.bfq.weight) accepts weights up to 1000');
    add(
      'blkio',
      device ? 'blkio.bfq.weight_device' : 'blkio.bfq.weight',
      device ? `${device} ${weight}` : String(weight),
      'io.weight',
    );
  }
  if (cgroups.io?.max !== undefined) {
    const { device, limits } = checked(node, 'io.max', cgroups.io.max, ioMax);
    const files = {
      rbps: 'read_bps_device',
      wbps: 'write_bps_device',
      riops: 'read_iops_device',
      wiops: 'write_iops_device',
    } as const;
    // In v1, 0 removes a throttle, which is what "max" means in v2.
    for (const [key, value] of entriesOf(limits))
      add('blkio', `blkio.throttle.${files[key]}`, `${device} ${value === 'max' ? 0 : value}`, 'io.max');
  }
  if (cgroups.pids?.max !== undefined)
    add('pids', 'pids.max', checked(node, 'pids.max', cgroups.pids.max, pidsMax), 'pids.max');
  return out;
}

function withoutTrailingSlash(path: string): string {
  return path.length > 1 ? path.replace(/\/+$/, '') : path;
}

function planV2(nodes: CgroupNode[], controllers: CgroupController[], rootDir: string): CgroupPlan {
  const root = withoutTrailingSlash(rootDir);
  const enable = controllers.map((controller) => `+${V2_CONTROLLER[controller]}`).join(' ');
  const steps: CgroupStep[] = [
    { kind: 'mkdir', dir: `${root}/${PIDS_LEAF}`, owned: false },
    { kind: 'evacuate', from: root, to: `${root}/${PIDS_LEAF}` },
    { kind: 'write', file: `${root}/cgroup.subtree_control`, value: enable, key: 'controllers' },
  ];
  const chain: string[] = [];
  let parent = root;
  for (const node of nodes) {
    const dir = `${parent}/${cgroupNameOf(node)}`;
    steps.push({ kind: 'mkdir', dir, node: node.alias, owned: true });
    steps.push({
      kind: 'write',
      file: `${dir}/cgroup.subtree_control`,
      value: enable,
      node: node.alias,
      key: 'controllers',
    });
    for (const setting of node.cgroups ? v2Settings(node, node.cgroups) : []) {
      steps.push({
        kind: 'write',
        file: `${dir}/${setting.file}`,
        value: setting.value,
        node: node.alias,
        key: setting.key,
      });
    }
    steps.push({ kind: 'mkdir', dir: `${dir}/${PIDS_LEAF}`, node: node.alias, owned: true });
    chain.push(dir, `${dir}/${PIDS_LEAF}`);
    parent = dir;
  }
  return { version: 'v2', steps, warnings: [], leaves: [`${parent}/${PIDS_LEAF}`], chains: [chain] };
}

function planV1(
  nodes: CgroupNode[],
  controllers: CgroupController[],
  roots: Partial<Record<V1Hierarchy, string>>,
): CgroupPlan {
  const settingsOf = new Map(nodes.map((node) => [node, node.cgroups ? v1Settings(node, node.cgroups) : []]));
  const plan: CgroupPlan = { version: 'v1', steps: [], warnings: [], leaves: [], chains: [] };
  for (const hierarchy of [...new Set(controllers.map((controller) => V1_HIERARCHY[controller]))]) {
    const root = roots[hierarchy];
    if (!root)
      throw new RedpakError('launch', `cgroup v1: no base directory for the ${hierarchy} hierarchy (is it mounted?)`);
    const chain: string[] = [];
    let parent = withoutTrailingSlash(root);
    for (const node of nodes) {
      const dir = `${parent}/${cgroupNameOf(node)}`;
      plan.steps.push({ kind: 'mkdir', dir, node: node.alias, owned: true });
      const settings = present(settingsOf.get(node), `the settings of ${node.alias}`).filter(
        (setting) => setting.hierarchy === hierarchy,
      );
      if (hierarchy === 'cpuset') {
        // A v1 cpuset with empty cpus or mems refuses tasks: inherit what the node does not set.
        for (const file of ['cpuset.cpus', 'cpuset.mems']) {
          if (!settings.some((setting) => setting.file === file)) {
            plan.steps.push({
              kind: 'copy',
              file: `${dir}/${file}`,
              from: `${parent}/${file}`,
              node: node.alias,
              key: `inherited ${file}`,
            });
          }
        }
      }
      for (const setting of settings)
        plan.steps.push({
          kind: 'write',
          file: `${dir}/${setting.file}`,
          value: setting.value,
          node: node.alias,
          key: setting.key,
        });
      chain.push(dir);
      parent = dir;
    }
    plan.leaves.push(parent);
    plan.chains.push(chain);
  }
  return plan;
}

/**
 * The chain (root-most first) → the cgroup plan. Throws a schema error, before anything runs,
 * for a value the kernel would reject or a key the chosen cgroup version cannot apply. An empty
 * plan (no steps, no leaves) when no node asks for cgroups.
 */
export function planCgroups(nodes: CgroupNode[], options: CgroupPlanOptions): CgroupPlan {
  const controllers = requestedControllers(nodes);
  if (controllers.length === 0) return { version: options.version, steps: [], warnings: [], leaves: [], chains: [] };
  const plan =
    options.version === 'v2' ? planV2(nodes, controllers, options.root) : planV1(nodes, controllers, options.roots);
  return { ...plan, warnings: nodes.flatMap(ignoredCgroupKeys) };
}

/**
 * The cgroup directories of the last node of the chain (its launches run there), one per
 * hierarchy the chain uses, with its redpak-pids-leaf on v2: where `redwrap ps`/`stop` look for
 * a node's processes. The same naming as the launch (cgroupNameOf, PIDS_LEAF).
 * @public
 */
export function nodeCgroupDirs(nodes: CgroupNode[], options: CgroupPlanOptions): string[] {
  if (nodes.length === 0) return [];
  const bases =
    options.version === 'v2'
      ? [options.root]
      : (Object.values(options.roots).filter((root) => root !== undefined) as string[]);
  return bases.flatMap((base) => {
    const dir = nodes.reduce((parent, node) => `${parent}/${cgroupNameOf(node)}`, withoutTrailingSlash(base));
    return options.version === 'v2' ? [dir, `${dir}/${PIDS_LEAF}`] : [dir];
  });
}

/** The plan as readable lines, for `--dump` / `--dump-only` (which must not create anything). */
export function describeCgroupPlan(plan: CgroupPlan): string[] {
  const lines = plan.steps.map((step) => {
    switch (step.kind) {
      case 'mkdir':
        return `mkdir ${step.dir}`;
      case 'write':
        return `write ${step.file} = ${step.value}`;
      case 'copy':
        return `copy ${step.from} -> ${step.file}`;
      case 'evacuate':
        return `move processes ${step.from} -> ${step.to}`;
      default: {
        // Every kind is handled above: a new one fails to compile here.
        const unhandled: never = step;
        return unhandled;
      }
    }
  });
  return [...lines, ...plan.leaves.map((leaf) => `enter ${leaf}/cgroup.procs`)];
}
