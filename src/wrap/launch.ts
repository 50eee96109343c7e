/**
 * A launch from start to end: compile everything a launch needs without touching the system
 * (`compileLaunch`, all that `--dump-only` runs), then carry it out (`executeLaunch`): create
 * the cgroups, create missing export directories, run Execfd scripts, hand seccomp filters over,
 * run bwrap and wait for it, and remove the cgroups again.
 *
 * The process chain, each step exec'ing the next so that nothing escapes the limits:
 *   [cgroup entry shell] → [setpriv: set-user/set-group] → [nsenter: joins] → [unshare: time ns] → bwrap → command
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { constants as osConstants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { RedpakError } from '../errors.js';
import type { HostFacts } from '../config/expand.js';
import { mergeFamily } from '../merge/merge.js';
import type { MergedConfig } from '../merge/types.js';
import { holdsMergeJournal, Sysroot } from '../node/layout.js';
import { assertEnabled, loadFamily } from '../node/load.js';
import type { Family } from '../node/types.js';
import { groupId, userId } from '../system/accounts.js';
import { runSandboxedCommand } from '../system/host-facts.js';
import { assertUserNamespaces } from '../system/userns.js';
import { assertKnownCapabilities } from './capabilities.js';
import { createExportDirs } from './export-dirs.js';
import {
  applyCgroupPlan,
  assumedV2Options,
  cgroupEntryArgv,
  detectCgroupLayout,
  releaseCgroups,
  resolveCgroupOptions,
} from './cgroups-apply.js';
import { planCgroups, requestedControllers, type CgroupNode, type CgroupPlan } from './cgroups.js';
import { compileLaunchPlan, type LaunchPlan, type PlanArg, type Probe } from './plan.js';
import { compileSeccomp, nativeSeccompArch, seccompBwrapArgs } from './seccomp.js';
import { recordingHost, recordingProbe, type HostRecord } from './host-record.js';

export { DEFAULT_BWRAP } from '../system/bwrap-path.js';
import { DEFAULT_BWRAP } from '../system/bwrap-path.js';

export interface LaunchRequest {
  redpath: string;
  sysroot?: string;
  admin?: boolean;
  strict?: boolean;
  /** Override of the family's set-user / set-group. */
  user?: string;
  group?: string;
  command: string[];
  bwrap?: string;
  host: HostFacts;
  /** When given, notes every host fact and export source the compilation reads (for the plan cache). */
  record?: HostRecord;
  /**
   * The plan is only shown (`--dump-only`): cgroup controllers this host lacks do not stop it; the
   * cgroups are then planned for cgroup v2 and `cgroups.unavailable` says why.
   */
  planOnly?: boolean;
}

export interface SeccompFilter {
  node: string;
  alias: string;
  kind: 'normal' | 'admin';
  fd: number;
  filter: Buffer;
}

export interface CompiledLaunch {
  family: Family;
  merged: MergedConfig;
  plan: LaunchPlan;
  bwrap: string;
  command: string[];
  /** Ids the program runs with. */
  uid: number;
  gid: number;
  /** Whether to switch to uid/gid before bwrap (set-user/set-group given). */
  switchUser: boolean;
  umask?: number;
  seccomp: SeccompFilter[];
  cgroups?: {
    nodes: CgroupNode[];
    plan: CgroupPlan /** planOnly: why this host could not apply it. */;
    unavailable?: string;
  };
  /** The environment bwrap itself starts with (empty unless inherit-env). */
  baseEnv: Record<string, string>;
}

/** What an export source is on this machine (the `probe` of the plan compiler). */
export const probeHost =
  (sysroot: Sysroot): Probe =>
  (path) => {
    try {
      return statSync(sysroot.toHost(path)).isDirectory() ? 'dir' : 'file';
    } catch {
      return 'missing';
    }
  };

/** Everything about a launch, decided before anything is created or run. */
export function compileLaunch(request: LaunchRequest): CompiledLaunch {
  const sysroot = Sysroot.open(request.sysroot);
  const family = loadFamily(request.redpath, { sysroot, admin: request.admin ?? false });
  assertEnabled(family);
  if (!request.planOnly) assertFullyMerged(family);

  // set-user/set-group decide $UID/$GID, so they are resolved first (redpak's "early config").
  const hostFor = (base: HostFacts) => (request.record ? recordingHost(base, request.record) : base);
  let host = hostFor(request.host);
  let merged = mergeFamily(family, { host });
  const userName = request.user ?? merged.scalars['set-user']?.value;
  const groupName = request.group ?? merged.scalars['set-group']?.value;
  const uid = userName === undefined ? host.uid : userId(userName);
  const gid = groupName === undefined ? host.gid : groupId(groupName);
  if (uid !== host.uid || gid !== host.gid) {
    host = hostFor({ ...request.host, uid, gid });
    merged = mergeFamily(family, { host });
  }

  const umask = assertLaunchable(merged);
  const probe = request.record ? recordingProbe(probeHost(sysroot), request.record) : probeHost(sysroot);
  const plan = compileLaunchPlan(family, merged, { host, probe, strict: request.strict });
  for (const join of plan.joins) {
    if (!existsSync(join.path)) {
      const share = merged.shares[join.namespace];
      throw new RedpakError('launch', `share_${join.namespace}: namespace ${join.path} does not exist`, {
        at: share.origin?.at,
        hint: 'the process owning it must be running',
      });
    }
  }

  const seccomp = compileFamilyFilters(merged, 3 + plan.fds.length);
  const cgroups = compileCgroups(family, merged, request.planOnly);
  const baseEnv = plan.inheritEnv
    ? (Object.fromEntries(Object.entries(process.env).filter(([, v]) => v !== undefined)) as Record<string, string>)
    : {};
  return {
    family,
    merged,
    plan,
    bwrap: request.bwrap ?? DEFAULT_BWRAP,
    command: request.command,
    uid,
    gid,
    switchUser: userName !== undefined || groupName !== undefined,
    ...(umask !== undefined ? { umask } : {}),
    seccomp,
    ...(cgroups ? { cgroups } : {}),
    baseEnv,
  };
}

/**
 * A node whose package merge was interrupted holds some new files under an old rpm database: it
 * is not launched until a package command completes the merge (docs/transactions.md). The fast
 * launcher hands such a launch over here (the plan records the journal as absent).
 */
function assertFullyMerged(family: Family): void {
  for (const node of family.nodes) {
    if (holdsMergeJournal(node.hostPath)) {
      throw new RedpakError('launch', `node ${node.alias} (${node.path}) holds an interrupted package transaction`, {
        hint: `complete it first: redwrap-dnf --redpath ${node.path} list --installed`,
      });
    }
  }
}

/**
 * What the merged configuration asks for that this redwrap cannot give, as errors before anything
 * runs: unknown capabilities, a SMACK label, a umask that is not octal. Returns the umask.
 */
export function assertLaunchable(merged: MergedConfig): number | undefined {
  assertKnownCapabilities(merged.capabilities);
  const smack = merged.scalars.smack;
  if (smack) {
    // Running without the label asked for would be a silent loss of isolation.
    throw new RedpakError(
      'launch',
      `smack label "${smack.value}" of ${smack.origin.alias} cannot be applied: this redwrap does not set SMACK labels`,
      {
        at: smack.origin.at,
        hint: 'remove smack from the config, or run the node with upstream redpak on a SMACK system',
      },
    );
  }
  const umask = merged.scalars.umask;
  if (umask === undefined) return undefined;
  if (!/^[0-7]{1,4}$/.test(umask.value)) {
    throw new RedpakError('launch', `umask "${umask.value}" of ${umask.origin.alias} is not an octal mask`, {
      at: umask.origin.at,
    });
  }
  return Number.parseInt(umask.value, 8);
}

/** Every node file's filter, root-most first, on consecutive fds. */
function compileFamilyFilters(merged: MergedConfig, firstFd: number): SeccompFilter[] {
  if (!merged.seccomp.length) return [];
  const arch = nativeSeccompArch();
  if (!arch) throw new RedpakError('launch', `seccomp filters are not supported on ${process.arch}`);
  return merged.seccomp.map((s, i) => ({
    node: s.node,
    alias: s.alias,
    kind: s.kind,
    fd: firstFd + i,
    filter: compileSeccomp(s.filter, arch),
  }));
}

/** The chain of node cgroups, root-most first: every node gets one, so that each parent's limits nest its children's. */
export function cgroupChain(family: Family, merged: MergedConfig): CgroupNode[] {
  const byNode = new Map(merged.cgroups.map((c) => [c.node, c]));
  return [...family.nodes].reverse().map((node) => {
    const cgroups = byNode.get(node.path);
    const at = cgroups?.origins.at(-1)?.at;
    return {
      path: node.path,
      alias: node.alias,
      admin: Boolean(node.admin),
      ...(cgroups ? { cgroups: cgroups.settings } : {}),
      ...(at ? { at } : {}),
    };
  });
}

/** The family's cgroups, planned (not created) when any node asks for one. */
function compileCgroups(family: Family, merged: MergedConfig, planOnly = false): CompiledLaunch['cgroups'] {
  if (!merged.cgroups.length) return undefined;
  const nodes = cgroupChain(family, merged);
  const layout = detectCgroupLayout();
  const cgrouproot = merged.scalars.cgrouproot?.value;
  try {
    return { nodes, plan: planCgroups(nodes, resolveCgroupOptions(layout, requestedControllers(nodes), cgrouproot)) };
  } catch (error) {
    if (!planOnly || !(error instanceof RedpakError)) throw error;
    return { nodes, plan: planCgroups(nodes, assumedV2Options(layout, cgrouproot)), unavailable: error.message };
  }
}

const SETPRIV = '/usr/bin/setpriv';
const NSENTER = '/usr/bin/nsenter';
const UNSHARE = '/usr/bin/unshare';

/**
 * The full CLI's whole argv, from the first wrapper to the command, in one place; the fast
 * launcher runs the same bwrap arguments, cached by fast-plan.ts, and only plans without
 * wrappers. Execfd environment values stay deferred.
 */
export function launchArgv(compiled: CompiledLaunch): PlanArg[] {
  const { plan } = compiled;
  const argv: PlanArg[] = [];
  if (compiled.switchUser)
    argv.push(SETPRIV, `--reuid=${compiled.uid}`, `--regid=${compiled.gid}`, '--clear-groups', '--');
  if (plan.joins.length) {
    const flag = {
      time: '--time',
      cgroup: '--cgroup',
      ipc: '--ipc',
      net: '--net',
      pid: '--pid',
      user: '--user',
      all: '',
    } as const;
    argv.push(NSENTER, ...plan.joins.map((j) => `${flag[j.namespace]}=${j.path}`), '--preserve-credentials', '--');
  }
  if (plan.unshareTime || plan.userNamespaceByLauncher) {
    argv.push(UNSHARE, '--fork', '--kill-child');
    if (plan.unshareTime) argv.push('--time');
    if (plan.userNamespaceByLauncher) {
      const mapRoot = Boolean(compiled.merged.scalars['map-root-user']?.value);
      argv.push(...(mapRoot ? ['--map-root-user'] : [`--map-user=${compiled.uid}`, `--map-group=${compiled.gid}`]));
    }
    argv.push('--');
  }
  // `--` ends bwrap's options: a program named like an option is still the program.
  argv.push(
    compiled.bwrap,
    ...plan.args,
    ...seccompBwrapArgs(compiled.seccomp[0]?.fd ?? 0, compiled.seccomp.length),
    '--',
    ...compiled.command,
  );
  return argv;
}

/** A read-only file descriptor holding `content` (a deleted temporary file, as redpak's memfd). */
function contentFd(scratch: string, name: string, content: string | Buffer): number {
  const file = join(scratch, name);
  writeFileSync(file, content, { mode: 0o600 });
  const fd = openSync(file, 'r');
  rmSync(file);
  return fd;
}

function exitStatusOf(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  return 128 + (signal ? (osConstants.signals[signal] ?? 0) : 0);
}

/** Runs a compiled launch; resolves to the program's exit status (128+signal when killed). */
export async function executeLaunch(compiled: CompiledLaunch, options: { sysroot?: string } = {}): Promise<number> {
  const sysroot = Sysroot.open(options.sysroot);
  const { plan } = compiled;
  // Cgroups first: a value the kernel rejects must stop the launch before any export directory
  // is created or any Execfd command runs.
  // A host that forbids the user namespace bwrap needs: one clear error before anything is made.
  assertUserNamespaces({ bwrap: compiled.bwrap });
  const applied = compiled.cgroups ? applyCgroupPlan(compiled.cgroups.plan) : undefined;
  const fds: number[] = [];
  let scratch: string | undefined;
  try {
    createExportDirs(
      plan,
      (dir) => sysroot.toHost(dir),
      compiled,
      (message) => process.stderr.write(`warning: ${message}\n`),
    );
    scratch = mkdtempSync(join(tmpdir(), 'redwrap-'));
    const stdio: (number | 'inherit')[] = ['inherit', 'inherit', 'inherit'];
    for (const fd of plan.fds) {
      const opened = contentFd(scratch, `execfd-${fd.fd}`, runSandboxedCommand(fd.script));
      fds.push(opened);
      stdio[fd.fd] = opened;
    }
    for (const filter of compiled.seccomp) {
      const opened = contentFd(scratch, `seccomp-${filter.fd}`, filter.filter);
      fds.push(opened);
      stdio[filter.fd] = opened;
    }
    const argv = launchArgv(compiled).map((arg) => (typeof arg === 'string' ? arg : runSandboxedCommand(arg.execfd)));
    const full = applied ? cgroupEntryArgv(applied, argv) : argv;

    const previousUmask = compiled.umask !== undefined ? process.umask(compiled.umask) : undefined;
    const child = spawn(full[0], full.slice(1), { stdio, env: compiled.baseEnv });
    if (previousUmask !== undefined) process.umask(previousUmask);
    for (const fd of fds.splice(0)) closeSync(fd);

    const forward = (signal: NodeJS.Signals) => child.kill(signal);
    const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'];
    for (const s of signals) process.on(s, forward);
    const status = await new Promise<number>((resolve, reject) => {
      child.once('error', (error) =>
        reject(
          new RedpakError('tool-missing', `cannot run ${full[0]}: ${error.message}`, {
            hint: 'install bubblewrap (apt-get install bubblewrap)',
          }),
        ),
      );
      child.once('exit', (code, signal) => resolve(exitStatusOf(code, signal)));
    });
    for (const s of signals) process.off(s, forward);
    return status;
  } finally {
    for (const fd of fds) closeSync(fd);
    if (scratch) rmSync(scratch, { recursive: true, force: true });
    if (applied) await releaseCgroups(applied);
  }
}
