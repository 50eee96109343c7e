/**
 * The sandboxes redwrap launched that are running now, found from the kernel's view of the
 * processes (/proc) and their cgroups, never from a file a sandbox could write
 * (docs/operating.md, "What ps trusts").
 *
 * A sandbox is a bwrap process that
 *   - runs the bwrap fixed at build (its /proc/PID/exe is that file: same device and inode),
 *   - is in the mount namespace of the caller (every sandboxed process is in a mount namespace
 *     bwrap created, so no process inside a sandbox passes this),
 *   - and whose command line starts with the launch's mark (sandbox-marker.ts), written by the
 *     launcher outside the sandbox.
 * Its processes are that bwrap process and its descendants (the kernel's parent links), plus any
 * process in one of the mount namespaces of those descendants that is no other sandbox's (a
 * background child that escaped the tree by a double fork when the pid namespace is shared).
 * What a sandboxed process writes into its own command line or environment changes nothing here.
 */
import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { Sysroot } from '../node/layout.js';
import { loadNode } from '../node/load.js';
import { userName } from '../system/accounts.js';
import { DEFAULT_BWRAP } from '../system/bwrap-path.js';
import { detectCgroupLayout, type CgroupLayout } from './cgroups-apply.js';
import { cgroupNameOf, PIDS_LEAF } from './cgroups.js';
import {
  parseBootTime,
  parseCmdline,
  parseProcCgroup,
  parseProcStat,
  parseStatusUid,
  type CgroupMembership,
} from './proc-parse.js';
import { readSandboxMark } from './sandbox-marker.js';

/** One running sandbox (`redwrap ps --json` prints a list of them: docs/json-output.md). */
export interface RunningSandbox {
  /** The leaf node's real path. */
  node: string;
  /** The node's alias as its config says now (null when the config cannot be read). */
  alias: string | null;
  admin: boolean;
  /** The bwrap process (outside the sandbox, in the caller's pid namespace). */
  pid: number;
  uid: number;
  user: string | null;
  /** The program and its arguments as launched (from bwrap's command line, not the program's own). */
  command: string[];
  /** When the bwrap process started (ISO 8601, UTC). */
  started: string;
  /** Every process of the sandbox, bwrap's first, in the caller's pid numbering. */
  processes: number[];
  /** Each process's start time (clock ticks after boot), which tells it from a later one given the same pid. */
  startTicks: number[];
  /**
   * The program and the bwrap process that launched it have ended, and what is listed are the
   * processes left in the node's cgroup (background children): `pid` is one of them.
   */
  leftover: boolean;
  /** The node's cgroup the sandbox runs in, when the family has cgroups; usage is null where the controller is not there. */
  cgroup: { path: string; memoryBytes: number | null; pids: number | null } | null;
}

/** USER_HZ: the unit of /proc/PID/stat times, 100 on every architecture Linux runs redpak on. */
const CLOCK_TICKS = 100;

interface ProcEntry {
  pid: number;
  state: string;
  ppid: number;
  startTicks: number;
}

const readText = (path: string): string | undefined => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined; // the process ended meanwhile, or is not ours to read
  }
};
const readLink = (path: string): string | undefined => {
  try {
    return readlinkSync(path);
  } catch {
    return undefined;
  }
};

function listProcesses(): ProcEntry[] {
  const out: ProcEntry[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = parseProcStat(readText(`/proc/${name}/stat`) ?? '');
    if (stat && stat.state !== 'Z') out.push({ pid: Number(name), ...stat });
  }
  return out;
}

function sameFile(a: string, b: string): boolean {
  try {
    const x = statSync(a);
    const y = statSync(b);
    return x.dev === y.dev && x.ino === y.ino;
  } catch {
    return false;
  }
}

/**
 * The name of a node's own cgroup directory: the one place `ps` and `stop` depend on how
 * launches name node cgroups (wrap/cgroups.ts).
 */
function nodeCgroupName(node: string, admin: boolean): string {
  return cgroupNameOf({ path: node, alias: node, admin });
}

/** The node's cgroup a process is in, with its usage; null when it is in none of the node's. */
function sandboxCgroup(
  memberships: CgroupMembership[],
  node: string,
  admin: boolean,
  layout: CgroupLayout,
): RunningSandbox['cgroup'] {
  const name = nodeCgroupName(node, admin);
  const isNodeCgroup = (path: string) =>
    basename(path) === name || (basename(path) === PIDS_LEAF && basename(dirname(path)) === name);
  const v1 = (controller: 'pids' | 'memory') => memberships.find((m) => m.controllers.includes(controller));
  const unified = memberships.find((m) => m.controllers.length === 0);
  const number = (file: string) => {
    const text = readText(file)?.trim();
    return text && /^\d+$/.test(text) ? Number(text) : null;
  };
  const pidsV1 = v1('pids');
  if (pidsV1 && isNodeCgroup(pidsV1.path) && layout.v1.pids) {
    const memoryV1 = v1('memory');
    const memory =
      memoryV1 && layout.v1.memory && isNodeCgroup(memoryV1.path)
        ? number(`${layout.v1.memory.mount}${memoryV1.path}/memory.usage_in_bytes`)
        : null;
    return {
      path: `${layout.v1.pids.mount}${pidsV1.path}`,
      memoryBytes: memory,
      pids: number(`${layout.v1.pids.mount}${pidsV1.path}/pids.current`),
    };
  }
  if (unified && isNodeCgroup(unified.path) && layout.unified) {
    const dir = `${layout.unified.mount}${unified.path}`;
    return { path: dir, memoryBytes: number(`${dir}/memory.current`), pids: number(`${dir}/pids.current`) };
  }
  return null;
}

function aliasOf(node: string): string | null {
  try {
    return loadNode(new Sysroot('/'), node, { admin: false })?.alias ?? null;
  } catch {
    return null;
  }
}

type Mark = NonNullable<ReturnType<typeof readSandboxMark>>;

/**
 * Processes left in a node's cgroup after their program and its bwrap ended (bwrap ends with the
 * program; in a pid namespace, bwrap's pid 1 stays while background children run, outside any
 * bwrap process ps can trust). The kernel placed them there, and the cgroup's name is the node's
 * (nodeCgroupName): the mark of bwrap's pid 1 among them is believed only when it names that
 * node, so no process can claim another node's cgroup.
 */
function leftovers(
  processes: ProcEntry[],
  owner: Map<number, number>,
  members: Map<number, number[]>,
): { entry: ProcEntry; mark: Mark; leftover: true }[] {
  const byPid = new Map(processes.map((p) => [p.pid, p]));
  const groups = new Map<string, ProcEntry[]>();
  for (const p of processes) {
    if (owner.has(p.pid)) continue;
    const memberships = parseProcCgroup(readText(`/proc/${p.pid}/cgroup`) ?? '');
    const path = (
      memberships.find((m) => m.controllers.includes('pids')) ?? memberships.find((m) => !m.controllers.length)
    )?.path;
    if (!path) continue;
    const dir = basename(path) === PIDS_LEAF ? dirname(path) : path;
    if (!basename(dir).startsWith('-')) continue; // node cgroup names start with - (wrap/cgroups.ts)
    groups.set(dir, [...(groups.get(dir) ?? []), p]);
  }
  const out: { entry: ProcEntry; mark: Mark; leftover: true }[] = [];
  for (const [dir, list] of groups) {
    const pids = new Set(list.map((p) => p.pid));
    // The tree roots: bwrap's pid 1 (in a pid namespace), which the launch keeps out of the
    // node's cgroups, is the parent of the processes in it whose parent is not.
    const roots = [
      ...new Map(
        list
          .filter((p) => !pids.has(p.ppid))
          .map((p) => byPid.get(p.ppid) ?? p)
          .filter((p) => !owner.has(p.pid))
          .map((p) => [p.pid, p]),
      ).values(),
    ];
    for (const root of roots) {
      let cmdline: Buffer;
      try {
        cmdline = readFileSync(`/proc/${root.pid}/cmdline`);
      } catch {
        continue;
      }
      const mark = readSandboxMark(parseCmdline(cmdline));
      if (!mark || !sameFile(`/proc/${root.pid}/exe`, DEFAULT_BWRAP)) continue;
      if (basename(dir) !== nodeCgroupName(mark.node, mark.admin)) continue;
      const tree = [root.pid];
      for (let i = 0; i < tree.length; i += 1)
        for (const p of processes)
          if (p.ppid === tree[i] && !tree.includes(p.pid) && !owner.has(p.pid)) tree.push(p.pid);
      for (const pid of tree) owner.set(pid, root.pid);
      members.set(root.pid, tree);
      out.push({ entry: byPid.get(root.pid) ?? root, mark, leftover: true });
    }
  }
  return out;
}

/** The start time of a live process (not a zombie), or undefined once it has ended: with the pid, its identity. */
export function processStart(pid: number): number | undefined {
  const stat = parseProcStat(readText(`/proc/${pid}/stat`) ?? '');
  return stat && stat.state !== 'Z' ? stat.startTicks : undefined;
}

/** Every running sandbox, or those of one node (its real path) when `node` is given. */
export function runningSandboxes(options: { node?: string } = {}): RunningSandbox[] {
  const processes = listProcesses();
  const ownMountNs = readLink('/proc/self/ns/mnt');
  const children = new Map<number, number[]>();
  for (const p of processes) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p.pid]);
  const monitors: { entry: ProcEntry; mark: NonNullable<ReturnType<typeof readSandboxMark>> }[] = [];
  for (const entry of processes) {
    let cmdline: Buffer;
    try {
      cmdline = readFileSync(`/proc/${entry.pid}/cmdline`);
    } catch {
      continue;
    }
    const mark = readSandboxMark(parseCmdline(cmdline));
    if (!mark) continue;
    if (!ownMountNs || readLink(`/proc/${entry.pid}/ns/mnt`) !== ownMountNs) continue;
    if (!sameFile(`/proc/${entry.pid}/exe`, DEFAULT_BWRAP)) continue;
    monitors.push({ entry, mark });
  }

  // Descendants first, for every sandbox, then the stray processes of their mount namespaces.
  const owner = new Map<number, number>();
  const members = new Map<number, number[]>();
  for (const { entry } of monitors) {
    const list = [entry.pid];
    for (let i = 0; i < list.length; i += 1)
      for (const child of children.get(list[i]) ?? []) if (!owner.has(child)) list.push(child);
    for (const pid of list) owner.set(pid, entry.pid);
    members.set(entry.pid, list);
  }
  const sandboxOfNs = new Map<string, number>();
  for (const [monitor, list] of members) {
    for (const pid of list.slice(1)) {
      const ns = readLink(`/proc/${pid}/ns/mnt`);
      if (ns && ns !== ownMountNs && !sandboxOfNs.has(ns)) sandboxOfNs.set(ns, monitor);
    }
  }
  if (sandboxOfNs.size) {
    for (const p of processes) {
      if (owner.has(p.pid)) continue;
      const ns = readLink(`/proc/${p.pid}/ns/mnt`);
      const monitor = ns === undefined ? undefined : sandboxOfNs.get(ns);
      if (monitor === undefined) continue;
      owner.set(p.pid, monitor);
      members.get(monitor)?.push(p.pid);
    }
  }

  const startOf = new Map(processes.map((p) => [p.pid, p.startTicks]));
  const bootTime = parseBootTime(readText('/proc/stat') ?? '') ?? 0;
  const layout = detectCgroupLayout();
  const entries = [...monitors.map((m) => ({ ...m, leftover: false })), ...leftovers(processes, owner, members)];
  return entries
    .filter(({ mark }) => options.node === undefined || mark.node === options.node)
    .map(({ entry, mark, leftover }) => {
      const uid = parseStatusUid(readText(`/proc/${entry.pid}/status`) ?? '') ?? -1;
      return {
        node: mark.node,
        alias: aliasOf(mark.node),
        admin: mark.admin,
        pid: entry.pid,
        uid,
        user: uid < 0 ? null : (userName(uid) ?? null),
        command: mark.command,
        leftover,
        started: new Date((bootTime + entry.startTicks / CLOCK_TICKS) * 1000).toISOString(),
        processes: members.get(entry.pid) ?? [entry.pid],
        startTicks: (members.get(entry.pid) ?? [entry.pid]).map((pid) => startOf.get(pid) ?? -1),
        // The launch keeps bwrap itself out of the node's cgroups: the program's processes are in them.
        cgroup:
          (members.get(entry.pid) ?? [entry.pid])
            .map((pid) =>
              sandboxCgroup(parseProcCgroup(readText(`/proc/${pid}/cgroup`) ?? ''), mark.node, mark.admin, layout),
            )
            .find((cgroup) => cgroup !== null) ?? null,
      };
    });
}
