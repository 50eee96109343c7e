/**
 * Carries out a CgroupPlan (src/wrap/cgroups.ts) on the running system: finds where the cgroup
 * hierarchies are mounted and which cgroup the caller is in, picks v2 or v1 for the controllers
 * asked for, creates and configures the node cgroups, puts the launched process in the leaf and
 * removes what it created once the process is gone.
 *
 * Every failure is a RedpakError naming the node, the file and the value, and what this call
 * created is removed again before it is thrown: redpak only logs cgroup errors and runs the
 * program without its limits, which is exactly what a limit must not allow.
 *
 * File access goes through `CgroupFs` so that the v2 path can be tested on a fake cgroupfs in a
 * temporary directory (machines with hybrid cgroups have no v2 controllers to test against).
 */
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmdirSync, writeSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CgroupController } from '../config/types.js';
import { RedpakError } from '../errors.js';
import {
  PIDS_LEAF,
  v1HierarchyOf,
  v2ControllerName,
  type CgroupPlan,
  type CgroupPlanOptions,
  type V1Hierarchy,
} from './cgroups.js';
import { present } from '../present.js';

export interface CgroupFs {
  exists(path: string): boolean;
  mkdir(dir: string): void;
  rmdir(dir: string): void;
  read(file: string): string;
  /** Writes into an existing file: cgroup files cannot be created, so a missing one is an error. */
  write(file: string, value: string): void;
  /** Whether a listed process still runs (an exiting one stays listed for a moment). */
  isAlive(pid: string): boolean;
  /** Whether the cgroup has child cgroups. */
  hasChildren(dir: string): boolean;
}

export const realCgroupFs: CgroupFs = {
  exists: (path) => existsSync(path),
  mkdir: (dir) => mkdirSync(dir, { mode: 0o755 }),
  rmdir: (dir) => rmdirSync(dir),
  read: (file) => readFileSync(file, 'utf8'),
  write: (file, value) => {
    // One write(2) per value: the kernel parses each write on its own.
    const fd = openSync(file, 'r+');
    try {
      writeSync(fd, value);
    } finally {
      closeSync(fd);
    }
  },
  hasChildren: (dir) => readdirSync(dir, { withFileTypes: true }).some((entry) => entry.isDirectory()),
  isAlive: (pid) => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      return !/^[ZX]$/.test(stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3));
    } catch {
      return false;
    }
  },
};

/** Where the hierarchies are mounted and where the caller sits in each. */
export interface CgroupLayout {
  unified?: { mount: string; path: string };
  v1: Partial<Record<V1Hierarchy, { mount: string; path: string }>>;
}

const V1_HIERARCHIES: V1Hierarchy[] = ['cpuset', 'cpu', 'memory', 'blkio', 'pids'];

/** Reads /proc/self/mounts and /proc/self/cgroup (or the given texts, for tests). */
export function detectCgroupLayout(mountsText?: string, selfCgroupText?: string): CgroupLayout {
  const mounts = mountsText ?? readFileSync('/proc/self/mounts', 'utf8');
  const membership = selfCgroupText ?? readFileSync('/proc/self/cgroup', 'utf8');
  const layout: CgroupLayout = { v1: {} };
  const pathOf = new Map<string, string>();
  for (const line of membership.split('\n')) {
    const match = /^\d+:([^:]*):(.*)$/.exec(line);
    if (match) pathOf.set(match[1], match[2]);
  }
  for (const line of mounts.split('\n')) {
    const [, mountPoint, type, options] = line.split(' ');
    const unifiedPath = pathOf.get('');
    if (type === 'cgroup2' && unifiedPath !== undefined) layout.unified = { mount: mountPoint, path: unifiedPath };
    if (type !== 'cgroup') continue;
    const optionList = options.split(',');
    for (const hierarchy of V1_HIERARCHIES) {
      if (!optionList.includes(hierarchy)) continue;
      // /proc/self/cgroup names a hierarchy by all its controllers (e.g. "cpu,cpuacct").
      const key = [...pathOf.keys()].find((controllers) => controllers.split(',').includes(hierarchy));
      const path = key === undefined ? undefined : pathOf.get(key);
      if (path !== undefined) layout.v1[hierarchy] = { mount: mountPoint, path };
    }
  }
  return layout;
}

function joinCgroupPath(mount: string, path: string): string {
  return `${mount.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`.replace(/\/+$/, '');
}

/**
 * cgrouproot (absolute, or relative to the mount point as redpak allows) or the caller's own
 * cgroup. A trailing redpak-pids-leaf is dropped: after a first launch the caller itself sits in
 * the base's redpak-pids-leaf, and the next launch must reuse the same base, not nest under it.
 */
function baseDir(mount: string, callerPath: string, cgrouproot: string | undefined): string {
  let dir = cgrouproot
    ? cgrouproot.startsWith(`${mount.replace(/\/+$/, '')}/`)
      ? cgrouproot.replace(/\/+$/, '')
      : joinCgroupPath(mount, cgrouproot)
    : joinCgroupPath(mount, callerPath);
  while (dir.endsWith(`/${PIDS_LEAF}`)) dir = dir.slice(0, -PIDS_LEAF.length - 1);
  return dir;
}

/**
 * Chooses the cgroup version and base directories for the controllers asked for: v2 when the
 * base cgroup offers them all (cgroup.controllers), else v1 when every one has a v1 hierarchy
 * (hybrid hosts such as this project's CI), else an error naming what is missing.
 */
export function resolveCgroupOptions(
  layout: CgroupLayout,
  controllers: CgroupController[],
  cgrouproot?: string,
  fs: CgroupFs = realCgroupFs,
): CgroupPlanOptions {
  const missingIn = (available: Set<string>, name: (controller: CgroupController) => string) =>
    controllers.filter((controller) => !available.has(name(controller)));
  let v2Missing: CgroupController[] = controllers;
  if (layout.unified) {
    const root = baseDir(layout.unified.mount, layout.unified.path, cgrouproot);
    let offered = new Set<string>();
    try {
      offered = new Set(fs.read(`${root}/cgroup.controllers`).trim().split(/\s+/));
    } catch {
      // no such cgroup: v2 is not an option
    }
    v2Missing = missingIn(offered, v2ControllerName);
    if (v2Missing.length === 0) return { version: 'v2', root };
  }
  const v1Missing = missingIn(new Set(Object.keys(layout.v1)), v1HierarchyOf);
  if (v1Missing.length === 0) {
    const roots: Partial<Record<V1Hierarchy, string>> = {};
    for (const controller of controllers) {
      const hierarchy = v1HierarchyOf(controller);
      const { mount, path } = present(layout.v1[hierarchy], `the ${hierarchy} hierarchy (none is missing)`);
      roots[hierarchy] = baseDir(mount, path, cgrouproot);
    }
    return { version: 'v1', roots };
  }
  throw new RedpakError(
    'launch',
    `cgroups: controller(s) ${v2Missing.map(v2ControllerName).join(', ')} available neither in cgroup v2 nor as cgroup v1 hierarchies`,
    {
      hint: 'enable them in the parent cgroup (cgroup.subtree_control) or delegate a cgroup to this user, e.g. systemd-run --user -p Delegate=yes',
    },
  );
}

/**
 * For a plan only shown (`--dump-only`) on a host that lacks the controllers: the plan as it
 * would be on cgroup v2 at the same place.
 */
export function assumedV2Options(layout: CgroupLayout, cgrouproot?: string): CgroupPlanOptions {
  const unified = layout.unified ?? { mount: '/sys/fs/cgroup', path: '/' };
  return { version: 'v2', root: baseDir(unified.mount, unified.path, cgrouproot) };
}

export interface AppliedCgroups {
  plan: CgroupPlan;
  /** Directories this call created, in creation order. */
  created: string[];
}

function describeFailure(error: unknown): string {
  const failure = error as NodeJS.ErrnoException;
  return failure.code ? `${failure.code} (${failure.message.replace(/^\w+: /, '').split(',')[0]})` : String(error);
}

function nodeLabel(node: string | undefined): string {
  return node ? `node ${node}` : 'base cgroup';
}

function rollback(created: string[], fs: CgroupFs): void {
  for (const dir of [...created].reverse()) {
    try {
      fs.rmdir(dir);
    } catch {
      // best effort: the error being reported matters more
    }
  }
}

function movePids(from: string, to: string, fs: CgroupFs): void {
  // The hierarchy root may hold processes and delegate at once; only non-root cgroups have cgroup.type.
  if (!fs.exists(`${from}/cgroup.type`)) return;
  for (const pid of fs.read(`${from}/cgroup.procs`).split('\n').filter(Boolean)) {
    try {
      fs.write(`${to}/cgroup.procs`, pid);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error; // exited meanwhile
    }
  }
}

/** Creates and configures the plan's cgroups. On any failure, removes what it created and throws. */
export function applyCgroupPlan(plan: CgroupPlan, fs: CgroupFs = realCgroupFs): AppliedCgroups {
  const created: string[] = [];
  for (const step of plan.steps) {
    try {
      switch (step.kind) {
        case 'mkdir':
          if (!fs.exists(step.dir)) {
            fs.mkdir(step.dir);
            created.push(step.dir);
          }
          break;
        case 'write':
          fs.write(step.file, step.value);
          break;
        case 'copy':
          fs.write(step.file, fs.read(step.from).trim());
          break;
        case 'evacuate':
          movePids(step.from, step.to, fs);
          break;
      }
    } catch (error) {
      rollback(created, fs);
      const what =
        step.kind === 'mkdir'
          ? `cannot create ${step.dir}`
          : step.kind === 'write'
            ? `cannot write "${step.value}" to ${step.file} (${step.key})`
            : step.kind === 'copy'
              ? `cannot copy ${step.from} to ${step.file}`
              : `cannot move the processes of ${step.from} to ${step.to}`;
      const node = step.kind === 'evacuate' ? undefined : step.node;
      const missingController = step.kind === 'write' && (error as NodeJS.ErrnoException).code === 'ENOENT';
      throw new RedpakError('launch', `cgroups: ${nodeLabel(node)}: ${what}: ${describeFailure(error)}`, {
        cause: error,
        hint: missingController
          ? 'the file does not exist: the controller is not enabled for this cgroup (see cgroup.controllers of its parent)'
          : 'check the value, the permissions on the cgroup tree, and that the cgroup is delegated to this user',
      });
    }
  }
  return { plan, created };
}

/** Moves `pid` (and so all its future children) into the leaf cgroup(s). */
export function placeProcess(applied: AppliedCgroups, pid: number, fs: CgroupFs = realCgroupFs): void {
  for (const leaf of applied.plan.leaves) {
    try {
      fs.write(`${leaf}/cgroup.procs`, String(pid));
    } catch (error) {
      throw new RedpakError('launch', `cgroups: cannot move process ${pid} into ${leaf}: ${describeFailure(error)}`, {
        cause: error,
      });
    }
  }
}

/** Exit status of the entry shell when it cannot join a cgroup (125, like env/nohup for their own failures). */
export const CGROUP_ENTRY_FAILED = 125;

/**
 * Wraps a command so that it starts inside the leaf cgroup(s): a shell joins each cgroup.procs,
 * then execs the command. Joining before exec is what guarantees that not a single fork of the
 * command escapes the limits; moving the pid after spawn would race with the command's first forks.
 */
export function cgroupEntryArgv(applied: AppliedCgroups, argv: string[]): string[] {
  if (applied.plan.leaves.length === 0) return argv;
  const script = `while [ "$1" != -- ]; do echo $$ > "$1" || { echo "redpak: cannot join cgroup $1" >&2; exit ${CGROUP_ENTRY_FAILED}; }; shift; done; shift; exec "$@"`;
  return [
    '/bin/sh',
    '-c',
    script,
    'redpak-cgroup-entry',
    ...applied.plan.leaves.map((leaf) => `${leaf}/cgroup.procs`),
    '--',
    ...argv,
  ];
}

function isBusy(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'EBUSY' || code === 'ENOTEMPTY';
}

function hasLiveProcesses(dir: string, fs: CgroupFs): boolean {
  try {
    return fs
      .read(`${dir}/cgroup.procs`)
      .split('\n')
      .filter(Boolean)
      .some((pid) => fs.isAlive(pid));
  } catch {
    return false;
  }
}

export interface ReleasedCgroups {
  removed: string[];
  /** Still in use by another launch (processes in it, or a child cgroup): left in place. */
  kept: string[];
}

/**
 * Removes the plan's node cgroups once the launched process has exited, leaf-most first. An
 * empty leaf that is still busy is retried for up to `retryMs`: the kernel frees a cgroup a
 * moment after its last task is reaped. A cgroup still holding processes, or an ancestor with
 * another child, belongs to another launch as well and is kept, with everything above it.
 */
export async function releaseCgroups(
  applied: AppliedCgroups,
  options: { retryMs?: number } = {},
  fs: CgroupFs = realCgroupFs,
): Promise<ReleasedCgroups> {
  const start = Date.now();
  const deadline = start + (options.retryMs ?? 1000);
  // Right after the launched process is reaped, its own children (bwrap's pid 1, the program)
  // may still be finishing their exit and listed as running: a short grace covers that.
  const graceEnd = start + Math.min(250, options.retryMs ?? 1000);
  const released: ReleasedCgroups = { removed: [], kept: [] };
  // A cgroup with neither running processes nor children is busy only until the kernel has
  // finished with its last task or child: retried. Still running past the grace, or with a child
  // cgroup, another launch uses it: kept.
  const remove = async (dir: string): Promise<boolean> => {
    for (;;) {
      try {
        if (fs.exists(dir)) {
          fs.rmdir(dir);
          released.removed.push(dir);
        }
        return true;
      } catch (error) {
        if (!isBusy(error))
          throw new RedpakError('launch', `cgroups: cannot remove ${dir}: ${describeFailure(error)}`, { cause: error });
        const now = Date.now();
        if (fs.hasChildren(dir) || now > deadline || (now > graceEnd && hasLiveProcesses(dir, fs))) return false;
        await sleep(10);
      }
    }
  };
  for (const chain of applied.plan.chains) {
    const leafMostFirst = [...chain].reverse();
    const firstKept = await (async () => {
      for (const [index, dir] of leafMostFirst.entries()) if (!(await remove(dir))) return index;
      return leafMostFirst.length;
    })();
    released.kept.push(...leafMostFirst.slice(firstKept));
  }
  return released;
}
