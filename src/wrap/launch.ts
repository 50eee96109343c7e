/**
 * A launch from start to end: compile everything a launch needs without touching the system
 * (`compileLaunch`, all that `--dump-only` runs), then carry it out (`executeLaunch`): create
 * the cgroups, create missing export directories, run Execfd scripts, hand seccomp filters over,
 * run bwrap and wait for it, and remove the cgroups again.
 *
 * The process chain, each step exec'ing the next so that nothing escapes the limits:
 *   [cgroup entry shell] → [setpriv: set-user/set-group] → [nsenter: joins] → [unshare: time ns] → bwrap → command
 */
import { type ChildProcess, spawn } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { closeSync, existsSync, mkdtempSync, openSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { constants as osConstants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { RedpakError } from '../errors.js';
import type { HostFacts } from '../config/expand.js';
import { mergeFamily } from '../merge/merge.js';
import type { MergedConfig } from '../merge/types.js';
import { holdsMergeJournal, Sysroot } from '../node/layout.js';
import { assertEnabled, loadFamily } from '../node/load.js';
import type { NodeReadCache } from '../node/node-cache.js';
import type { Family } from '../node/types.js';
import { groupId, userId } from '../system/accounts.js';
import { runSandboxedCommand } from '../system/host-facts.js';
import { assertUserNamespaces } from '../system/userns.js';
import { assertKnownCapabilities } from './capabilities.js';
import { createExportDirs } from './export-dirs.js';
import {
  type AppliedCgroups,
  applyCgroupPlan,
  assumedV2Options,
  cgroupEntryArgv,
  detectCgroupLayout,
  hostCgroupPlan,
  keepLauncherOut,
  realCgroupFs,
  type SandboxProcess,
  sandboxEnded,
  stopSandbox,
  releaseCgroups,
  resolveCgroupOptions,
} from './cgroups-apply.js';
import { planCgroups, requestedControllers, type CgroupNode, type CgroupPlan } from './cgroups.js';
import { assertSmackLabel, smackEntryArgv } from './smack.js';
import { compileLaunchPlan, type LaunchPlan, type PlanArg } from './plan.js';
import { compileSeccomp, nativeSeccompArch, seccompBwrapArgs } from './seccomp.js';
import { sandboxMarkerArgs } from './sandbox-marker.js';
import { recordingHost, recordingProbe, type HostRecord } from './host-record.js';
import { probeHost } from './host-probe.js';

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
  /** Nodes read before, kept in the caller's cache directory (node/node-cache.ts). */
  readCache?: NodeReadCache;
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

/** Everything about a launch, decided before anything is created or run. */
export function compileLaunch(request: LaunchRequest): CompiledLaunch {
  const sysroot = Sysroot.open(request.sysroot);
  const family = loadFamily(request.redpath, { sysroot, admin: request.admin ?? false, cache: request.readCache });
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
 * runs: unknown capabilities, a SMACK label this host cannot set, a umask that is not octal. Returns the umask.
 */
export function assertLaunchable(merged: MergedConfig): number | undefined {
  assertKnownCapabilities(merged.capabilities);
  const smack = merged.scalars.smack;
  if (smack) assertSmackLabel(smack.value, { alias: smack.origin.alias, at: smack.origin.at });
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
    return { nodes, plan: hostCgroupPlan(nodes, { cgrouproot, layout }) };
  } catch (error) {
    if (!planOnly || !(error instanceof RedpakError) || error.code !== 'launch') throw error;
    // Shown only: where the cgroups would go if the bases existed and were writable, else as on v2.
    const assumed = resolveCgroupOptions(layout, requestedControllers(nodes), cgrouproot, {
      ...realCgroupFs,
      exists: () => true,
      writable: () => true,
    });
    const options = 'options' in assumed ? assumed.options : assumedV2Options(layout, cgrouproot);
    return { nodes, plan: planCgroups(nodes, options), unavailable: error.message };
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
export function launchArgv(compiled: CompiledLaunch, bwrapOptions: string[] = []): PlanArg[] {
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
  // The mark first (sandbox-marker.ts: how ps finds the node); `--` ends bwrap's options: a
  // program named like an option is still the program.
  const leaf = compiled.family.nodes[0];
  argv.push(
    compiled.bwrap,
    ...sandboxMarkerArgs(realpathSync(leaf.hostPath), compiled.family.admin),
    ...plan.args,
    ...seccompBwrapArgs(compiled.seccomp[0]?.fd ?? 0, compiled.seccomp.length),
    ...bwrapOptions,
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

/** Whether bwrap runs an init in the sandbox (a pid namespace), which then starts the program. */
function forksInit(args: PlanArg[]): boolean {
  return args.some((arg) => arg === '--unshare-pid' || arg === '--unshare-all') && !args.includes('--as-pid-1');
}

/** The first JSON object bwrap writes on its --info-fd, or undefined when it ends without one. */
function readInfo(stream: Readable): Promise<Record<string, unknown> | undefined> {
  return new Promise((resolve) => {
    let text = '';
    const done = (value: Record<string, unknown> | undefined) => {
      stream.removeAllListeners('data');
      stream.destroy();
      resolve(value);
    };
    stream.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8');
      try {
        done(JSON.parse(text) as Record<string, unknown>);
      } catch {
        // not complete yet
      }
    });
    stream.once('end', () => done(undefined));
    stream.once('error', () => done(undefined));
  });
}

/**
 * Once bwrap has created the sandbox, takes the launcher's processes out of the leaf cgroups and
 * lets the sandbox go on. A failure kills the sandbox (keepLauncherOut) and fails the launch.
 */
async function settleSandbox(
  child: ChildProcess,
  applied: AppliedCgroups,
  fds: { block: number; info: number },
  init: boolean,
): Promise<SandboxProcess | undefined> {
  const block = child.stdio[fds.block] as Writable | null;
  const info = child.stdio[fds.info] as Readable | null;
  if (!block || !info || child.pid === undefined) return undefined;
  const unblock = () => block.end('x');
  if (!(await readInfo(info))) {
    unblock(); // bwrap ended before creating a sandbox: it reports why itself
    return undefined;
  }
  return keepLauncherOut(applied, child.pid, unblock, { forksInit: init });
}

/**
 * Runs a compiled launch; resolves to the program's exit status (128+signal when killed). What it
 * skips with a warning (an export directory it may not make) goes to `onWarning`: it prints nothing.
 */
export async function executeLaunch(
  compiled: CompiledLaunch,
  options: { sysroot?: string; onWarning?: (message: string) => void } = {},
): Promise<number> {
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
      (message) => options.onWarning?.(message),
    );
    scratch = mkdtempSync(join(tmpdir(), 'redwrap-'));
    const stdio: (number | 'inherit' | 'pipe')[] = ['inherit', 'inherit', 'inherit'];
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
    // With cgroups, bwrap reports its sandbox (--info-fd) and holds it (--block-fd) until only
    // the program's processes are left in the leaf cgroups (keepLauncherOut).
    const sandboxFds = applied ? { block: stdio.length, info: stdio.length + 1 } : undefined;
    if (sandboxFds) stdio.push('pipe', 'pipe');
    const bwrapOptions = sandboxFds
      ? ['--block-fd', String(sandboxFds.block), '--info-fd', String(sandboxFds.info)]
      : [];
    const argv = launchArgv(compiled, bwrapOptions).map((arg) =>
      typeof arg === 'string' ? arg : runSandboxedCommand(arg.execfd),
    );
    const smack = compiled.merged.scalars.smack?.value;
    const labelled = smack ? smackEntryArgv(smack, argv) : argv;
    const full = applied ? cgroupEntryArgv(applied, labelled) : labelled;

    const previousUmask = compiled.umask !== undefined ? process.umask(compiled.umask) : undefined;
    const child = spawn(full[0], full.slice(1), { stdio, env: compiled.baseEnv });
    if (previousUmask !== undefined) process.umask(previousUmask);
    for (const fd of fds.splice(0)) closeSync(fd);
    // Settled alongside the exit; its failure (the sandbox is then killed) fails the launch.
    const settled: Promise<{ sandbox?: SandboxProcess; failure?: unknown }> =
      applied && sandboxFds
        ? settleSandbox(child, applied, sandboxFds, forksInit(compiled.plan.args)).then(
            (sandbox) => (sandbox ? { sandbox } : {}),
            (error: unknown) => ({ failure: error ?? new Error('the sandbox could not be settled') }),
          )
        : Promise.resolve({});

    // While the sandbox's init still reaps what the program left (below), a signal ends it: the
    // pid namespace goes with it, and the cgroups can be removed.
    let lingering: SandboxProcess | undefined;
    let interrupted = false;
    const forward = (signal: NodeJS.Signals) => {
      interrupted = true;
      if (lingering) stopSandbox(lingering);
      else child.kill(signal);
    };
    const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'];
    for (const s of signals) process.on(s, forward);
    try {
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
      const { sandbox, failure } = await settled;
      if (failure) throw failure;
      // The children the program left in its pid namespace end with the sandbox's init: the
      // launch, and so its cgroups, last until then (at once with die-with-parent).
      if (sandbox) {
        lingering = sandbox;
        if (interrupted) stopSandbox(sandbox);
        await sandboxEnded(sandbox);
      }
      return status;
    } finally {
      for (const s of signals) process.off(s, forward);
    }
  } finally {
    for (const fd of fds) closeSync(fd);
    if (scratch) rmSync(scratch, { recursive: true, force: true });
    if (applied) await releaseCgroups(applied);
  }
}
