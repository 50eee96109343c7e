/**
 * Stopping a node's sandboxes (`redwrap stop`): SIGTERM to every process of each sandbox
 * (running.ts finds them), SIGKILL to those still there after the timeout, then the node's
 * cgroups are gone. The launch that created them removes them when its bwrap exits; what it left
 * (the launch itself was killed) is removed here, empty directories only.
 */
import { existsSync, readFileSync, rmdirSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { RedpakError } from '../errors.js';
import { detectCgroupLayout } from './cgroups-apply.js';
import { PIDS_LEAF, type V1Hierarchy } from './cgroups.js';
import { parseProcCgroup } from './proc-parse.js';
import { processStart, runningSandboxes, type RunningSandbox } from './running.js';

/** `redwrap stop --json` (docs/json-output.md). */
export interface StopResult {
  /** The sandboxes found, as `redwrap ps` lists them, before they were signalled. */
  sandboxes: RunningSandbox[];
  /** Processes that ended after SIGTERM. */
  terminated: number[];
  /** Processes still there at the timeout, sent SIGKILL. */
  killed: number[];
  /** Processes still there after SIGKILL (in uninterruptible sleep): the status says so. */
  remaining: number[];
  /** Node cgroups removed here (those the launch had not removed yet), and those still busy (a parent's, used by a sibling's sandbox, is). */
  cgroups: { removed: string[]; kept: string[] };
}

export type StopTarget = { node: string } | { pid: number };

/** A process of a sandbox: its pid and its start time, so that a pid reused meanwhile is never signalled. */
interface Target {
  pid: number;
  startTicks: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The sandboxes `target` names: a node's, or the one a process belongs to (bwrap's pid or any of its processes). */
export function sandboxesOf(target: StopTarget): RunningSandbox[] {
  if ('node' in target) return runningSandboxes({ node: target.node });
  return runningSandboxes().filter((s) => s.processes.includes(target.pid));
}

function signal(targets: Target[], name: NodeJS.Signals, denied: Set<number>): void {
  for (const t of targets) {
    if (processStart(t.pid) !== t.startTicks) continue; // ended (or its pid reused): not ours to signal
    try {
      process.kill(t.pid, name);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EPERM') denied.add(t.pid);
      else if (code !== 'ESRCH') throw error;
    }
  }
}

async function waitForEnd(targets: Target[], deadline: number): Promise<Target[]> {
  let alive = targets;
  for (;;) {
    alive = alive.filter((t) => processStart(t.pid) === t.startTicks);
    if (!alive.length || Date.now() >= deadline) return alive;
    await sleep(25);
  }
}

/**
 * The node cgroup directories a process is in, in every hierarchy (cgroup v1 has one per
 * controller: pids, memory, cpu…), read before it is signalled.
 */
function nodeCgroupDirs(pid: number): string[] {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
  } catch {
    return [];
  }
  const layout = detectCgroupLayout();
  const dirs: string[] = [];
  for (const { controllers, path } of parseProcCgroup(text)) {
    const hierarchy = controllers.find((c): c is V1Hierarchy => c in layout.v1);
    const mount = controllers.length ? hierarchy && layout.v1[hierarchy]?.mount : layout.unified?.mount;
    if (mount && (basename(path) === PIDS_LEAF || basename(path).startsWith('-'))) dirs.push(`${mount}${path}`);
  }
  return dirs;
}

/** Removes the empty node cgroups the sandboxes were in, leaf-most first, after their launch had time to. */
async function removeLeftCgroups(leafDirs: string[], graceMs: number): Promise<StopResult['cgroups']> {
  const result: StopResult['cgroups'] = { removed: [], kept: [] };
  const leaves = [...new Set(leafDirs)];
  const deadline = Date.now() + graceMs;
  while (leaves.some((dir) => existsSync(dir)) && Date.now() < deadline) await sleep(25);
  for (const leaf of leaves) {
    // Node cgroup names are node paths with / → - (wrap/cgroups.ts): they start with `-`.
    for (let dir = leaf; basename(dir) === PIDS_LEAF || basename(dir).startsWith('-'); dir = dirname(dir)) {
      if (!existsSync(dir)) continue;
      try {
        rmdirSync(dir);
        result.removed.push(dir);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code !== 'EBUSY' && code !== 'ENOTEMPTY') throw error;
        result.kept.push(dir); // another launch of the family uses it (or a child of it)
        break;
      }
    }
  }
  return result;
}

/**
 * Stops the sandboxes of `target`: SIGTERM, then SIGKILL after `timeoutMs`. Processes of another
 * user are an error unless the caller may signal them (the kernel decides: EPERM).
 */
export async function stopSandboxes(target: StopTarget, options: { timeoutMs: number }): Promise<StopResult> {
  const sandboxes = sandboxesOf(target);
  const result: StopResult = {
    sandboxes,
    terminated: [],
    killed: [],
    remaining: [],
    cgroups: { removed: [], kept: [] },
  };
  if (!sandboxes.length) return result;
  // The sandboxed processes first; bwrap (each list's first) ends by itself when they have, and
  // its launch then removes the cgroups. bwrap's own pid 1 ignores SIGTERM from outside, as a
  // namespace's init does, and ends when its last child has.
  const targets: Target[] = sandboxes.flatMap((s) =>
    s.processes.map((pid, i) => ({ pid, startTicks: s.startTicks[i] ?? -1 })).slice(1),
  );
  const monitors: Target[] = sandboxes.map((s) => ({ pid: s.pid, startTicks: s.startTicks[0] ?? -1 }));
  // A running launch removes its own cgroups when its bwrap ends (removing them here too would race
  // with it): only those of leftovers, whose launch has ended, are all removed here.
  const cgroupDirs = sandboxes.flatMap((s) => [
    ...(s.cgroup ? [s.cgroup.path] : []),
    ...(s.leftover ? s.processes.flatMap(nodeCgroupDirs) : []),
  ]);
  const denied = new Set<number>();
  signal(targets, 'SIGTERM', denied);
  if (denied.size) {
    throw new RedpakError('launch', `cannot signal process ${[...denied].join(', ')}: it belongs to another user`, {
      hint: 'stop it as its user, or as root',
    });
  }
  const all = [...targets, ...monitors];
  const afterTerm = await waitForEnd(all, Date.now() + options.timeoutMs);
  const stillThere = new Set(afterTerm.map((t) => t.pid));
  result.terminated = all.filter((t) => !stillThere.has(t.pid)).map((t) => t.pid);
  if (afterTerm.length) {
    result.killed = afterTerm.map((t) => t.pid);
    signal(afterTerm, 'SIGKILL', denied);
    result.remaining = (await waitForEnd(afterTerm, Date.now() + 2000)).map((t) => t.pid);
  }
  if (!result.remaining.length) result.cgroups = await removeLeftCgroups(cgroupDirs, 2000);
  return result;
}

/** redwrap stop's exit statuses (README, "Operating apps"). */
export const STOP_STATUS = { stopped: 0, nothingRunning: 11, notStopped: 12 } as const;

export function stopStatus(result: StopResult): number {
  if (!result.sandboxes.length) return STOP_STATUS.nothingRunning;
  // A parent node's cgroup kept for a sibling's sandbox is fine; the stopped sandbox's own is not.
  const ownKept = result.sandboxes.some((s) => s.cgroup && result.cgroups.kept.includes(s.cgroup.path));
  if (result.remaining.length || ownKept) return STOP_STATUS.notStopped;
  return STOP_STATUS.stopped;
}
