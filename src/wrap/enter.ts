/**
 * `redwrap enter`: runs a command inside a running sandbox (docs/operating.md, "Enter"). The
 * sandbox is found as `redwrap ps` finds it (running.ts: kernel facts only); what the command
 * gets comes from the node's launch plan compiled again now (the environment, capabilities,
 * seccomp filters and cgroups a launch of the node gets), never from anything the sandbox could
 * have written: its /proc/PID/environ, its cgroup membership, files in the node. Joining the
 * namespaces needs a single-threaded process: the C helper redwrap-enter
 * (src/launcher/redwrap-enter.c) does it, pinned to the target by a pidfd.
 */
import { spawn } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { constants as osConstants, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { HostFacts } from '../config/expand.js';
import { RedpakError } from '../errors.js';
import { PACKAGE_ROOT } from '../package-root.js';
import { runSandboxedCommand } from '../system/host-facts.js';
import { detectCgroupLayout, hostCgroupPlan } from './cgroups-apply.js';
import {
  chooseSandbox,
  enterHelperArgv,
  planCapabilities,
  sandboxDirectory,
  sandboxEnvironment,
  type EnterTarget,
} from './enter-plan.js';
import { compileLaunch, type CompiledLaunch } from './launch.js';
import { idInside, parseStatusGroups, parseStatusUid } from './proc-parse.js';
import { processStart, runningSandboxes, type RunningSandbox } from './running.js';

export type { EnterTarget } from './enter-plan.js';

/** `redwrap enter --json` (docs/json-output.md). */
export interface EnterResult {
  /** The node's real path, and whether the sandbox is an admin launch. */
  node: string;
  admin: boolean;
  /** The sandbox's bwrap process, as `redwrap ps` lists it. */
  sandbox: number;
  /** The process whose namespaces and root were joined: the sandbox's first process (bwrap's child). */
  pid: number;
  command: string[];
  /** The command's exit status (128+signal when it was killed). */
  exitStatus: number;
  /** Its output, captured under --json (as UTF-8 text); absent otherwise, where it went to enter's own. */
  stdout?: string;
  stderr?: string;
}

export interface EnterRequest {
  target: EnterTarget;
  command: string[];
  /** The running system, as a launch sees it (uid and gid are replaced by the sandbox's). */
  host: HostFacts;
  /** Capture the command's stdout and stderr into the result instead of passing them through. */
  capture?: boolean;
}

/** The helper, built by scripts/build-launcher.sh next to the fast launcher. */
const HELPER = join(PACKAGE_ROOT, 'dist/bin/redwrap-enter');
/** The helper's fd on which it reports a failure before the command runs. */
const ERROR_FD = 3;

const readText = (path: string): string => {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new RedpakError('launch', `cannot read ${path}: ${(error as Error).message}`, {
      hint: 'the sandbox ended meanwhile, or belongs to another user',
    });
  }
};

/**
 * The sandbox's first process, inside its namespaces: bwrap's child (in a pid namespace, bwrap's
 * init there; otherwise the program bwrap started). For leftovers, whose bwrap has ended, the
 * listed process is that init.
 */
function firstProcess(sandbox: RunningSandbox): { pid: number; startTicks: number } {
  const startOf = (pid: number) => sandbox.startTicks[sandbox.processes.indexOf(pid)] ?? -1;
  if (sandbox.leftover) return { pid: sandbox.pid, startTicks: startOf(sandbox.pid) };
  let children: number[] = [];
  try {
    children = readFileSync(`/proc/${sandbox.pid}/task/${sandbox.pid}/children`, 'utf8')
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    // ended meanwhile: reported below
  }
  const child = children.find((pid) => sandbox.processes.includes(pid));
  if (child === undefined)
    throw new RedpakError('launch', `the sandbox of ${sandbox.node} (bwrap ${sandbox.pid}) has no process to enter`, {
      hint: 'it is starting or ending: try again',
    });
  return { pid: child, startTicks: startOf(child) };
}

/** The ids the target runs with inside its user namespace, and its groups as the host sees them. */
function sandboxIds(pid: number): { uid: number; gid: number; groups: number[] } {
  const status = readText(`/proc/${pid}/status`);
  const uid = parseStatusUid(status);
  const ids = parseStatusGroups(status);
  if (uid === undefined || !ids) throw new RedpakError('launch', `/proc/${pid}/status has no Uid, Gid or Groups line`);
  const sameUserNamespace = readlinkSync(`/proc/${pid}/ns/user`) === readlinkSync('/proc/self/ns/user');
  if (sameUserNamespace) return { uid, gid: ids.gid, groups: ids.groups };
  const insideUid = idInside(uid, readText(`/proc/${pid}/uid_map`));
  const insideGid = idInside(ids.gid, readText(`/proc/${pid}/gid_map`));
  if (insideUid === undefined || insideGid === undefined)
    throw new RedpakError(
      'launch',
      `process ${pid} runs as ids its user namespace does not map (uid ${uid}, gid ${ids.gid})`,
    );
  return { uid: insideUid, gid: insideGid, groups: ids.groups };
}

/**
 * The cgroup.procs files of the node's leaf cgroups. Their base is where the launch put them: the
 * launch's own cgroup, where it keeps bwrap (outside the sandbox: a sandboxed process cannot move
 * it) — the same computation as the launch (hostCgroupPlan), not the cgroup a sandboxed process
 * says it is in. Each must exist: the running sandbox's launch created them.
 */
function nodeCgroupProcs(compiled: CompiledLaunch, sandbox: RunningSandbox): string[] {
  if (!compiled.cgroups) return [];
  const layout = detectCgroupLayout(undefined, readText(`/proc/${sandbox.pid}/cgroup`));
  const plan = hostCgroupPlan(compiled.cgroups.nodes, {
    cgrouproot: compiled.merged.scalars.cgrouproot?.value,
    layout,
    uid: sandbox.uid,
  });
  for (const leaf of plan.leaves) {
    if (!existsSync(leaf))
      throw new RedpakError('launch', `the node's cgroup ${leaf} does not exist: the sandbox runs in other cgroups`, {
        hint: 'the sandbox was launched with another cgroup layout or cgrouproot than its config says now',
      });
  }
  return plan.leaves.map((leaf) => `${leaf}/cgroup.procs`);
}

/** A read-only descriptor holding `content` (a deleted file in a private directory), as a launch passes filters to bwrap. */
function contentFd(scratch: string, name: string, content: Buffer): number {
  const file = join(scratch, name);
  writeFileSync(file, content, { mode: 0o600 });
  const fd = openSync(file, 'r');
  rmSync(file);
  return fd;
}

function collect(stream: Readable | null): Promise<string> {
  return new Promise((resolve) => {
    if (!stream) return resolve('');
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.once('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
    stream.once('error', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

/** Runs `request.command` in the sandbox `request.target` names; resolves when it has ended. */
export async function enterSandbox(request: EnterRequest): Promise<EnterResult> {
  if (!existsSync(HELPER))
    throw new RedpakError('tool-missing', `redwrap enter needs ${HELPER}, which was not built`, {
      hint: 'rebuild with a C compiler (scripts/build-launcher.sh)',
    });
  const running = 'node' in request.target ? runningSandboxes({ node: request.target.node }) : runningSandboxes();
  const sandbox = chooseSandbox(running, request.target);
  const target = firstProcess(sandbox);
  const ids = sandboxIds(target.pid);
  // The ids were read from the process ps found, not a later one given its pid.
  if (processStart(target.pid) !== target.startTicks)
    throw new RedpakError('launch', `the sandbox of ${sandbox.node} ended meanwhile`);

  const launcherGid = parseStatusGroups(readText(`/proc/${sandbox.pid}/status`))?.gid ?? request.host.gid;
  const compiled = compileLaunch({
    redpath: sandbox.node,
    admin: sandbox.admin,
    command: request.command,
    host: { ...request.host, uid: sandbox.uid, gid: launcherGid },
  });
  const args = compiled.plan.args.map((arg) => (typeof arg === 'string' ? arg : runSandboxedCommand(arg.execfd)));
  const cgroupProcs = nodeCgroupProcs(compiled, sandbox);

  const scratch = mkdtempSync(join(tmpdir(), 'redwrap-enter-'));
  const fds: number[] = [];
  try {
    const stdio: ('inherit' | 'pipe' | number)[] = [
      'inherit',
      request.capture ? 'pipe' : 'inherit',
      request.capture ? 'pipe' : 'inherit',
      'pipe',
    ];
    const seccompFds = compiled.seccomp.map((filter, i) => {
      const fd = contentFd(scratch, `seccomp-${i}`, filter.filter);
      fds.push(fd);
      stdio.push(fd);
      return stdio.length - 1;
    });
    const argv = enterHelperArgv({
      pid: target.pid,
      startTicks: target.startTicks,
      uid: ids.uid,
      gid: ids.gid,
      groups: ids.groups,
      capabilities: planCapabilities(compiled.merged.capabilities, ids.uid === 0),
      cgroupProcs,
      seccompFds,
      ...(compiled.umask !== undefined ? { umask: compiled.umask } : {}),
      directory: sandboxDirectory(args),
      env: sandboxEnvironment(args, compiled.baseEnv),
      errorFd: ERROR_FD,
      command: request.command,
    });
    // An empty environment: the sandbox's is passed on the command line, and the host's dynamic
    // loader must not read a node's LD_* values before the helper has left the host.
    const child = spawn(HELPER, argv, { stdio, env: {} });
    for (const fd of fds.splice(0)) closeSync(fd);
    const forward = (signal: NodeJS.Signals) => child.kill(signal);
    const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'];
    for (const s of signals) process.on(s, forward);
    try {
      const [status, failure, stdout, stderr] = await Promise.all([
        new Promise<number>((resolve, reject) => {
          child.once('error', (error) =>
            reject(new RedpakError('tool-missing', `cannot run ${HELPER}: ${error.message}`)),
          );
          child.once('exit', (code, signal) =>
            resolve(code ?? 128 + (signal ? (osConstants.signals[signal] ?? 0) : 0)),
          );
        }),
        collect(child.stdio[ERROR_FD] as Readable | null),
        request.capture ? collect(child.stdout) : Promise.resolve(undefined),
        request.capture ? collect(child.stderr) : Promise.resolve(undefined),
      ]);
      if (failure.trim())
        throw new RedpakError('launch', `cannot enter the sandbox of ${sandbox.node}: ${failure.trim()}`);
      return {
        node: sandbox.node,
        admin: sandbox.admin,
        sandbox: sandbox.pid,
        pid: target.pid,
        command: request.command,
        exitStatus: status,
        ...(stdout !== undefined ? { stdout } : {}),
        ...(stderr !== undefined ? { stderr } : {}),
      };
    } finally {
      for (const s of signals) process.off(s, forward);
    }
  } finally {
    for (const fd of fds) closeSync(fd);
    rmSync(scratch, { recursive: true, force: true });
  }
}
