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
import {
  accessSync,
  closeSync,
  constants as fsConstants,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  writeSync,
} from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CgroupController } from '../config/types.js';
import { RedpakError } from '../errors.js';
import {
  PIDS_LEAF,
  planCgroups,
  requestedControllers,
  v1HierarchyOf,
  v2ControllerName,
  type CgroupNode,
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
  /** Whether this process may write the file or create entries in the directory (access(2), W_OK). */
  writable(path: string): boolean;
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
  writable: (path) => {
    try {
      accessSync(path, fsConstants.W_OK);
      return true;
    } catch {
      return false;
    }
  },
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

/** Where the cgroup hierarchies are mounted (each v1 controller below it, or cgroup v2 itself). */
const CGROUP_FS = '/sys/fs/cgroup';

/**
 * cgrouproot as a path inside one hierarchy. redpak writes it for a cgroup v2 host, where
 * `/sys/fs/cgroup` is the hierarchy: that prefix, or the hierarchy's own mount point, is taken
 * off, so `/sys/fs/cgroup/user.slice` means `user.slice` in every hierarchy (under
 * /sys/fs/cgroup/memory on v1, /sys/fs/cgroup/unified on a hybrid v2). Any other path is already
 * inside the hierarchy ("cgroup mount point prefixed if missing", as redpak does).
 */
export function cgrouprootWithin(mount: string, cgrouproot: string): string {
  const root = cgrouproot.replace(/\/+$/, '') || '/';
  for (const prefix of [mount.replace(/\/+$/, ''), CGROUP_FS]) {
    if (root === prefix) return '/';
    if (root.startsWith(`${prefix}/`)) return root.slice(prefix.length);
  }
  return root.startsWith('/') ? root : `/${root}`;
}

/**
 * A base cgroup in one hierarchy. A trailing redpak-pids-leaf is dropped: after a first launch
 * the caller itself sits in the base's redpak-pids-leaf, and the next launch must reuse the same
 * base, not nest under it.
 */
function baseDir(mount: string, pathInHierarchy: string): string {
  let dir = joinCgroupPath(mount, pathInHierarchy);
  while (dir.endsWith(`/${PIDS_LEAF}`)) dir = dir.slice(0, -PIDS_LEAF.length - 1);
  return dir;
}

/** The systemd user manager's cgroup, delegated to its user (v2 hosts running systemd). */
export function delegatedUserCgroup(uid: number): string {
  return `/user.slice/user-${uid}.slice/user@${uid}.service`;
}

/** Where to look for a base, in order: cgrouproot, or the caller's own cgroup and then the user's delegated one. */
interface BaseCandidate {
  what: string;
  /** The path inside a hierarchy, given where the caller sits in it. */
  within(mount: string, callerPath: string): string;
}

function baseCandidates(cgrouproot: string | undefined, uid: number): BaseCandidate[] {
  if (cgrouproot) return [{ what: `cgrouproot ${cgrouproot}`, within: (mount) => cgrouprootWithin(mount, cgrouproot) }];
  const own: BaseCandidate = { what: "the caller's own cgroup", within: (_mount, callerPath) => callerPath };
  if (uid === 0) return [own];
  return [own, { what: `the delegated cgroup of uid ${uid}`, within: () => delegatedUserCgroup(uid) }];
}

/** Why a base cannot hold the launch's cgroups, or undefined when it can. */
function unusableBase(dir: string, files: string[], fs: CgroupFs): string | undefined {
  if (!fs.exists(dir)) return `${dir} does not exist`;
  for (const path of [dir, ...files.map((file) => `${dir}/${file}`)])
    if (!fs.writable(path)) return `${path} is not writable by this user (no cgroup delegated to it)`;
  return undefined;
}

export type ResolvedCgroups = { options: CgroupPlanOptions } | { refused: string[] };

/**
 * Chooses the cgroup version and base directories for the controllers asked for: v2 when a base
 * there offers them all (cgroup.controllers) and this user may write it, else v1 when every one
 * has a v1 hierarchy with a usable base (hybrid hosts such as this project's CI), else the
 * reasons each was refused. Read-only: check and explain call it too.
 */
export function resolveCgroupOptions(
  layout: CgroupLayout,
  controllers: CgroupController[],
  cgrouproot?: string,
  fs: CgroupFs = realCgroupFs,
  uid: number = process.getuid?.() ?? 0,
): ResolvedCgroups {
  const refused: string[] = [];
  const candidates = baseCandidates(cgrouproot, uid);
  if (layout.unified) {
    const { mount, path } = layout.unified;
    for (const candidate of candidates) {
      const root = baseDir(mount, candidate.within(mount, path));
      let offered = new Set<string>();
      try {
        offered = new Set(fs.read(`${root}/cgroup.controllers`).trim().split(/\s+/));
      } catch {
        // no such cgroup: reported below
      }
      const missing = controllers.filter((controller) => !offered.has(v2ControllerName(controller)));
      const why =
        unusableBase(root, ['cgroup.subtree_control', 'cgroup.procs'], fs) ??
        (missing.length
          ? `controller(s) ${missing.map(v2ControllerName).join(', ')} not offered there (cgroup.controllers)`
          : undefined);
      if (!why) return { options: { version: 'v2', root } };
      refused.push(`cgroup v2, ${candidate.what}: ${why}`);
    }
  } else refused.push('no cgroup v2 hierarchy is mounted');
  const hierarchies = [...new Set(controllers.map(v1HierarchyOf))];
  const unmounted = hierarchies.filter((hierarchy) => !layout.v1[hierarchy]);
  if (unmounted.length) {
    refused.push(`cgroup v1: hierarchy not mounted: ${unmounted.join(', ')}`);
    return { refused };
  }
  for (const candidate of candidates) {
    const roots: Partial<Record<V1Hierarchy, string>> = {};
    let why: string | undefined;
    for (const hierarchy of hierarchies) {
      const { mount, path } = present(layout.v1[hierarchy], `the ${hierarchy} hierarchy (none is unmounted)`);
      const root = baseDir(mount, candidate.within(mount, path));
      why = unusableBase(root, ['cgroup.procs'], fs);
      if (why) break;
      roots[hierarchy] = root;
    }
    if (!why) return { options: { version: 'v1', roots } };
    refused.push(`cgroup v1, ${candidate.what}: ${why}`);
  }
  return { refused };
}

/** "node app: cgroups.pids.max, cgroups.mem.max; node base: cgroups.cpu.max": what a refusal stops. */
function limitsAsked(nodes: CgroupNode[]): string {
  return nodes
    .flatMap((node) => {
      const keys = Object.entries(node.cgroups ?? {}).flatMap(([controller, values]) => {
        const set = Object.entries((values ?? {}) as Record<string, unknown>).filter(([, v]) => v !== undefined);
        return set.length ? set.map(([key]) => `cgroups.${controller}.${key}`) : [`cgroups.${controller}`];
      });
      return keys.length ? [`node ${node.alias}: ${keys.join(', ')}`] : [];
    })
    .join('; ');
}

/**
 * The cgroup plan of a launch on this host: the one function launch, check and explain call, so
 * that what a launch refuses is what check and explain report. Throws a RedpakError naming the
 * nodes and keys and every reason when the host cannot apply them (nothing is created here).
 */
export function hostCgroupPlan(
  nodes: CgroupNode[],
  options: { cgrouproot?: string; layout?: CgroupLayout; fs?: CgroupFs; uid?: number } = {},
): CgroupPlan {
  const controllers = requestedControllers(nodes);
  if (controllers.length === 0) return planCgroups(nodes, { version: 'v2', root: CGROUP_FS });
  const resolved = resolveCgroupOptions(
    options.layout ?? detectCgroupLayout(),
    controllers,
    options.cgrouproot,
    options.fs,
    options.uid,
  );
  if ('options' in resolved) return planCgroups(nodes, resolved.options);
  const at = nodes.find((node) => node.cgroups && node.at)?.at;
  throw new RedpakError(
    'launch',
    `cgroups cannot be applied on this host (${limitsAsked(nodes)}): ${resolved.refused.join('; ')}`,
    {
      ...(at ? { at } : {}),
      hint: options.cgrouproot
        ? "point cgrouproot at an existing cgroup this user may write, or remove it to use the caller's own cgroup"
        : 'run as root, or in a cgroup delegated to this user (systemd-run --user -p Delegate=yes --scope ...), or remove the limits',
    },
  );
}

/**
 * For a plan only shown (`--dump-only`) on a host that lacks the controllers: the plan as it
 * would be on cgroup v2 at the same place.
 */
export function assumedV2Options(layout: CgroupLayout, cgrouproot?: string): CgroupPlanOptions {
  const unified = layout.unified ?? { mount: CGROUP_FS, path: '/' };
  const within = cgrouproot ? cgrouprootWithin(unified.mount, cgrouproot) : unified.path;
  return { version: 'v2', root: baseDir(unified.mount, within) };
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

/** The processes from `pid` down, parents first (/proc/PID/task/PID/children, written by the kernel). */
function processChain(pid: number): number[] {
  const chain = [pid];
  for (;;) {
    const last = present(chain.at(-1), 'the chain starts with pid');
    let children: number[] = [];
    try {
      children = readFileSync(`/proc/${last}/task/${last}/children`, 'utf8').split(/\s+/).filter(Boolean).map(Number);
    } catch {
      return chain; // exited
    }
    if (children.length !== 1) return chain;
    chain.push(present(children[0], 'one child'));
  }
}

/** A process told apart from a later one with the same pid by its start time (/proc/PID/stat field 22). */
export interface SandboxProcess {
  pid: number;
  start: string;
}

function processIdentity(pid: number): SandboxProcess | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const start = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
    return start ? { pid, start } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Waits until the sandbox's init has ended. bwrap returns as soon as the program exits, while its
 * init goes on reaping the children the program left (unless die-with-parent kills it): those
 * still run in the leaf cgroups, which can only be removed once they have ended.
 */
export async function sandboxEnded(sandbox: SandboxProcess): Promise<void> {
  for (;;) {
    const now = processIdentity(sandbox.pid);
    if (!now || now.start !== sandbox.start || !realCgroupFs.isAlive(String(sandbox.pid))) return;
    await sleep(20);
  }
}

/** Kills the sandbox's init (and so its pid namespace), if it is still the same process. */
export function stopSandbox(sandbox: SandboxProcess): void {
  if (processIdentity(sandbox.pid)?.start !== sandbox.start) return;
  try {
    process.kill(sandbox.pid, 'SIGKILL');
  } catch {
    // ended meanwhile
  }
}

/** This process's own cgroup in the hierarchy of each leaf: where the launcher's processes belong. */
function ownCgroupDirs(applied: AppliedCgroups, layout: CgroupLayout): string[] {
  const places = [...(layout.unified ? [layout.unified] : []), ...Object.values(layout.v1)];
  return applied.plan.leaves.map((leaf) => {
    const place = places
      .filter((p) => p !== undefined && leaf.startsWith(`${p.mount.replace(/\/+$/, '')}/`))
      .sort((a, b) => (b?.mount.length ?? 0) - (a?.mount.length ?? 0))[0];
    if (!place) throw new RedpakError('launch', `cgroups: no mounted hierarchy holds ${leaf}`);
    return joinCgroupPath(place.mount, place.path);
  });
}

function moveInto(dirs: string[], pid: number, fs: CgroupFs): void {
  for (const dir of dirs) {
    try {
      fs.write(`${dir}/cgroup.procs`, String(pid));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ESRCH') return; // exited meanwhile
      throw new RedpakError('launch', `cgroups: cannot move process ${pid} into ${dir}: ${describeFailure(error)}`, {
        cause: error,
      });
    }
  }
}

/**
 * Leaves only the program's processes in the leaf cgroups, so that pids.max N means N processes
 * of the program. Called once bwrap has created the sandbox (--info-fd) while its first process
 * waits on --block-fd: the chain started in the leaves (cgroupEntryArgv), so if redwrap dies at
 * any point, the launcher's processes stay inside and only make the limits stricter. Here the
 * wrappers and bwrap's monitor (every process of the chain but the sandbox's) go back to this
 * process's own cgroups, `unblock` lets the sandbox go on, and when bwrap runs an init in the
 * sandbox (`forksInit`: a pid namespace), the init goes too once it has started the program. The
 * init needs one slot in the leaf for that instant, so pids.max 1 with a pid namespace cannot
 * start the program. On a failure the sandbox is killed before it is let go.
 */
export async function keepLauncherOut(
  applied: AppliedCgroups,
  launcherPid: number,
  unblock: () => void,
  options: { forksInit: boolean; timeoutMs?: number },
  fs: CgroupFs = realCgroupFs,
): Promise<SandboxProcess | undefined> {
  const chain = processChain(launcherPid);
  const sandboxPid = present(chain.at(-1), 'the chain holds the launcher');
  const sandbox = options.forksInit ? processIdentity(sandboxPid) : undefined;
  try {
    if (chain.length < 2)
      throw new RedpakError('launch', `cgroups: bwrap (process ${launcherPid}) has no sandbox process`);
    const home = ownCgroupDirs(applied, detectCgroupLayout());
    for (const pid of chain.slice(0, -1)) moveInto(home, pid, fs);
    unblock();
    if (!options.forksInit) return undefined;
    const deadline = Date.now() + (options.timeoutMs ?? 10_000);
    for (;;) {
      let children: string;
      try {
        children = readFileSync(`/proc/${sandboxPid}/task/${sandboxPid}/children`, 'utf8').trim();
      } catch {
        return undefined; // the sandbox ended already
      }
      if (children) break;
      // Not started within the deadline: the init stays in the leaf, which is only stricter.
      if (Date.now() > deadline) return sandbox;
      await sleep(1);
    }
    moveInto(home, sandboxPid, fs);
    return sandbox;
  } catch (error) {
    try {
      process.kill(sandboxPid, 'SIGKILL');
    } catch {
      // gone already
    }
    unblock();
    throw error;
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

const isGone = (error: unknown): boolean => (error as NodeJS.ErrnoException).code === 'ENOENT';

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
  // cgroup, another launch uses it: kept. One that vanishes meanwhile (`redwrap stop` removes the
  // empty node cgroups too) is gone, as asked: not an error, and not listed as removed here.
  const remove = async (dir: string): Promise<boolean> => {
    for (;;) {
      try {
        if (fs.exists(dir)) {
          fs.rmdir(dir);
          released.removed.push(dir);
        }
        return true;
      } catch (error) {
        if (isGone(error)) return true;
        if (!isBusy(error))
          throw new RedpakError('launch', `cgroups: cannot remove ${dir}: ${describeFailure(error)}`, { cause: error });
        const now = Date.now();
        let children: boolean;
        try {
          children = fs.hasChildren(dir);
        } catch (listing) {
          if (isGone(listing)) return true;
          throw listing;
        }
        if (children || now > deadline || (now > graceEnd && hasLiveProcesses(dir, fs))) return false;
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
