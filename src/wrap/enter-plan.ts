/**
 * The pure half of `redwrap enter` (docs/operating.md, "Enter"): which sandbox a command line
 * names, and what the entered command gets from the node's launch plan — its environment, its
 * working directory and its capabilities — as redwrap-enter's arguments. enter.ts reads the
 * system and runs the helper.
 */
import { RedpakError } from '../errors.js';
import type { MergedCapability } from '../merge/types.js';
import { bwrapOptions } from './bwrap-options.js';
import { CAPABILITY_NAMES } from './capabilities.js';
import type { RunningSandbox } from './running.js';

/** A node (its real path) or a process: the sandbox it runs, or belongs to. */
export type EnterTarget = { node: string } | { pid: number };

/** redwrap enter's own exit statuses (README, "Exit statuses"); otherwise the status is the command's. */
export const ENTER_STATUS = { nothingRunning: 11, several: 13 } as const;

/** A refusal to choose a sandbox: nothing ran. Its exit status is enter's own (ENTER_STATUS). */
export class EnterRefusal extends RedpakError {
  readonly status: number;
  constructor(message: string, status: number, hint: string) {
    super('launch', message, { hint });
    this.status = status;
  }
  override get exitCode(): number {
    return this.status;
  }
}

/**
 * The one sandbox `target` names among those running (as `redwrap ps` finds them): the node's
 * only one, or the one the process belongs to. Refuses no sandbox, and several of one node,
 * listing their bwrap PIDs to choose from.
 */
export function chooseSandbox(running: readonly RunningSandbox[], target: EnterTarget): RunningSandbox {
  if ('pid' in target) {
    const found = running.find((s) => s.processes.includes(target.pid));
    if (!found)
      throw new EnterRefusal(
        `process ${target.pid} is in no sandbox redwrap launched`,
        ENTER_STATUS.nothingRunning,
        'redwrap ps lists the running sandboxes and their processes',
      );
    return found;
  }
  const mine = running.filter((s) => s.node === target.node);
  if (mine.length === 0)
    throw new EnterRefusal(
      `no sandbox of ${target.node} is running`,
      ENTER_STATUS.nothingRunning,
      `start one: redwrap --redpath ${target.node} -- PROGRAM`,
    );
  if (mine.length > 1)
    throw new EnterRefusal(
      `${mine.length} sandboxes of ${target.node} are running: ${mine.map((s) => s.pid).join(', ')}`,
      ENTER_STATUS.several,
      `name one by its PID: redwrap enter ${mine[0].pid} -- COMMAND`,
    );
  return mine[0];
}

/**
 * The environment a launch gives its program: bwrap starts from `base` (empty unless inherit-env)
 * and applies the plan's `--setenv`/`--unsetenv` in order. Execfd values must be resolved first.
 */
export function sandboxEnvironment(
  args: readonly string[],
  base: Readonly<Record<string, string>>,
): Map<string, string> {
  const env = new Map(Object.entries(base));
  for (const [option, key, value] of bwrapOptions(args)) {
    if (option === '--setenv' && key !== undefined) env.set(key, value ?? '');
    else if (option === '--unsetenv' && key !== undefined) env.delete(key);
  }
  return env;
}

/** The plan's working directory (its last `--chdir`), or `/`. */
export function sandboxDirectory(args: readonly string[]): string {
  let dir = '/';
  for (const [option, value] of bwrapOptions(args)) if (option === '--chdir' && value) dir = value;
  return dir;
}

const ALL_CAPABILITIES = (1n << BigInt(CAPABILITY_NAMES.length)) - 1n;

function capabilityBit(name: string): bigint {
  const lower = name.toLowerCase();
  if (lower === 'all') return ALL_CAPABILITIES;
  const index = (CAPABILITY_NAMES as readonly string[]).indexOf(lower.startsWith('cap_') ? lower : `cap_${lower}`);
  if (index < 0) throw new RedpakError('launch', `unknown capability "${name}"`);
  return 1n << BigInt(index);
}

/**
 * The capabilities the plan gives the program, as bwrap reads `--cap-add`/`--cap-drop`: from all
 * of them when the sandbox runs as uid 0 inside, from none otherwise, each entry applied in order.
 * CAPABILITY_NAMES is in the kernel's numbering (bit N is capability N).
 */
export function planCapabilities(capabilities: readonly MergedCapability[], sandboxRoot: boolean): bigint {
  let set = sandboxRoot ? ALL_CAPABILITIES : 0n;
  for (const { value } of capabilities) {
    const bit = capabilityBit(value.cap);
    set = value.add ? set | bit : set & ~bit;
  }
  return set;
}

/** What redwrap-enter needs, in the order of its command line (src/launcher/redwrap-enter.c). */
export interface EnterHelperRequest {
  /** The sandbox's first process and its start time: one process, whatever reuses the pid later. */
  pid: number;
  startTicks: number;
  /** The ids inside the sandbox's user namespace, and the supplementary groups as the host sees them. */
  uid: number;
  gid: number;
  groups: number[];
  capabilities: bigint;
  /** The cgroup.procs files of the node's cgroups. */
  cgroupProcs: string[];
  /** File descriptors holding the node's seccomp filters, root-most first. */
  seccompFds: number[];
  umask?: number;
  directory: string;
  env: ReadonlyMap<string, string>;
  errorFd: number;
  command: readonly string[];
}

export function enterHelperArgv(request: EnterHelperRequest): string[] {
  const argv = [
    '--pid',
    String(request.pid),
    '--start',
    String(request.startTicks),
    '--uid',
    String(request.uid),
    '--gid',
    String(request.gid),
    '--caps',
    request.capabilities.toString(16),
  ];
  if (request.groups.length) argv.push('--groups', request.groups.join(','));
  for (const file of request.cgroupProcs) argv.push('--cgroup', file);
  for (const fd of request.seccompFds) argv.push('--seccomp-fd', String(fd));
  if (request.umask !== undefined) argv.push('--umask', request.umask.toString(8));
  argv.push('--chdir', request.directory);
  for (const [key, value] of request.env) {
    // The helper reads KEY=VALUE: a key holding `=` (or empty) cannot be passed, nor set by bwrap.
    if (!key || key.includes('=')) continue;
    argv.push('--setenv', `${key}=${value}`);
  }
  argv.push('--error-fd', String(request.errorFd), '--', ...request.command);
  return argv;
}
