/**
 * The cached launch plan read by the fast launcher (src/launcher/redwrap-launch.c), and what it
 * depends on. The plan is written by the full CLI after a compilation whose every input can be
 * checked again cheaply at launch time; a compilation that used the clock, the pid, a fresh UUID
 * or ran a `$(...)` command is not cached (the fast launcher then always hands over to the CLI).
 *
 * File: NODE/.redpak/launch-{normal|admin}-UID.plan, a sequence of fields `<length>:<bytes>`.
 * Records (kind, then its fields):
 *   v VERSION · redpath PATH · admin 0|1 · ids UID GID
 *   file PATH SIZE MTIME_SEC MTIME_NSEC INODE   a config or status file, unchanged
 *   absent PATH                                  must not exist (a directory becoming a node, a new config)
 *   probe PATH dir|file|missing|mkdir            an export source, as it was (mkdir: missing or created since)
 *   env NAME 0|1 VALUE                           an environment variable the plan read, unset or its value
 *   selfcg TEXT                                  the caller's /proc/self/cgroup (cgroups only)
 *   umask OCTAL · inherit-env 0|1 · mkdir PATH UID GID
 *   execfd FD SCRIPT · fdfile FD PATH            file descriptors handed to bwrap
 *   cg-mkdir DIR · cg-write FILE VALUE · cg-copy FILE FROM · cg-evac FROM TO · cg-leaf DIR · cg-chain DIRS(NUL-separated)
 *   arg TEXT · arg-execfd SCRIPT                 the argv, wrappers and bwrap first, without the command
 *   end
 */
import { existsSync, mkdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { HostFacts } from '../config/expand.js';
import { configPath, STATUS_FILE } from '../node/layout.js';
import type { Probe } from './plan.js';
import { launchArgv, type CompiledLaunch } from './launch.js';

/**
 * Bumped with the plan format and with the rules that compile a plan (3: no child loosens a
 * parent), so that a plan an older compiler cached is compiled again, not served.
 */
export const FAST_PLAN_VERSION = '3';
export const CACHE_DIR = '.redpak';

/** What a compilation read from the running system. */
export interface HostRecord {
  /** Environment variables read, with their raw value (undefined: unset). */
  env: Map<string, string | undefined>;
  /** Facts that change at every launch (pid, clock, UUID, `$(...)`), by name. */
  dynamic: Set<string>;
  /** Export sources probed, and what they were. */
  probes: Map<string, 'dir' | 'file' | 'missing'>;
}

export function newHostRecord(): HostRecord {
  return { env: new Map(), dynamic: new Set(), probes: new Map() };
}

/** Host facts that note in `record` everything read through them. */
export function recordingHost(host: HostFacts, record: HostRecord, rawEnv: NodeJS.ProcessEnv = process.env): HostFacts {
  const env = new Proxy(host.env, {
    get(target, name) {
      if (typeof name === 'string') record.env.set(name, rawEnv[name]);
      return target[name as string];
    },
  });
  const dynamic = <T>(name: string, value: T): T => {
    record.dynamic.add(name);
    return value;
  };
  return {
    env,
    uid: host.uid,
    gid: host.gid,
    get pid() {
      return dynamic('PID', host.pid);
    },
    get now() {
      return dynamic('TODAY', host.now);
    },
    runCommand: (script) => dynamic('$(...)', host.runCommand(script)),
    uuid: () => dynamic('UUID', host.uuid()),
    cgroupMountPoint: () => dynamic('CGROUPS_MOUNT_POINT', host.cgroupMountPoint()),
  };
}

export function recordingProbe(probe: Probe, record: HostRecord): Probe {
  return (path) => {
    const kind = probe(path);
    record.probes.set(path, kind);
    return kind;
  };
}

export function planFile(leafHostPath: string, admin: boolean, uid: number): string {
  return join(leafHostPath, CACHE_DIR, `launch-${admin ? 'admin' : 'normal'}-${uid}.plan`);
}

const field = (value: string | number): Buffer => {
  const bytes = Buffer.from(String(value));
  return Buffer.concat([Buffer.from(`${bytes.length}:`), bytes]);
};

function fileRecord(path: string): (string | number)[] {
  const st = statSync(path, { bigint: true });
  return ['file', path, String(st.size), String(st.mtimeNs / 1_000_000_000n), String(st.mtimeNs % 1_000_000_000n), String(st.ino)];
}

/** Why a compiled launch cannot be cached, or undefined when it can. */
export function uncacheableReason(compiled: CompiledLaunch, record: HostRecord): string | undefined {
  if (record.dynamic.size) return `it uses ${[...record.dynamic].join(', ')}`;
  if (compiled.family.sysroot !== '/') return 'it runs inside a sysroot';
  return undefined;
}

/** The plan's records: dependencies first, then what to do. */
export function fastPlanRecords(compiled: CompiledLaunch, record: HostRecord, seccompFiles: string[], callerIds: { uid: number; gid: number }): (string | number)[][] {
  const { family, plan } = compiled;
  const leaf = family.nodes[0];
  const records: (string | number)[][] = [
    ['v', FAST_PLAN_VERSION],
    ['redpath', leaf.path],
    ['admin', family.admin ? 1 : 0],
    ['ids', callerIds.uid, callerIds.gid],
  ];
  const nodeDirs = new Set(family.nodes.map((n) => n.hostPath));
  for (const node of family.nodes) {
    records.push(fileRecord(node.statusFile), fileRecord(node.normal.file));
    // A config under the current name appearing beside a legacy one would replace it.
    if (configPath(node.hostPath, 'normal') !== join(node.hostPath, 'etc/redpak.yaml')) records.push(['absent', join(node.hostPath, 'etc/redpak.yaml')]);
    if (family.admin) {
      if (node.admin) records.push(fileRecord(node.admin.file));
      else records.push(['absent', join(node.hostPath, 'etc/redpak-admin.yaml')], ['absent', join(node.hostPath, 'etc/redpack-admin.yaml')]);
    }
  }
  for (let dir = dirname(leaf.hostPath); dir !== '/'; dir = dirname(dir)) {
    if (!nodeDirs.has(dir)) records.push(['absent', join(dir, STATUS_FILE)]);
  }
  const mkdirs = new Set(plan.mkdirs);
  for (const [path, kind] of record.probes) records.push(['probe', path, mkdirs.has(path) ? 'mkdir' : kind]);
  for (const [name, value] of record.env) records.push(['env', name, value === undefined ? 0 : 1, value ?? '']);
  if (compiled.cgroups) records.push(['selfcg', readFileSync('/proc/self/cgroup', 'utf8')]);

  if (compiled.umask !== undefined) records.push(['umask', compiled.umask.toString(8)]);
  records.push(['inherit-env', plan.inheritEnv ? 1 : 0]);
  for (const dir of plan.mkdirs) records.push(['mkdir', dir, compiled.uid, compiled.gid]);
  for (const fd of plan.fds) records.push(['execfd', fd.fd, fd.script]);
  compiled.seccomp.forEach((filter, i) => records.push(['fdfile', filter.fd, seccompFiles[i]]));
  if (compiled.cgroups) {
    const cg = compiled.cgroups.plan;
    for (const step of cg.steps) {
      if (step.kind === 'mkdir') records.push(['cg-mkdir', step.dir]);
      else if (step.kind === 'write') records.push(['cg-write', step.file, step.value]);
      else if (step.kind === 'copy') records.push(['cg-copy', step.file, step.from]);
      else records.push(['cg-evac', step.from, step.to]);
    }
    for (const leafDir of cg.leaves) records.push(['cg-leaf', leafDir]);
    for (const chain of cg.chains) records.push(['cg-chain', chain.join('\0')]);
  }
  for (const arg of launchArgv({ ...compiled, command: [] })) records.push(typeof arg === 'string' ? ['arg', arg] : ['arg-execfd', arg.execfd]);
  records.push(['end']);
  return records;
}

/**
 * Writes the plan (and its seccomp filters) for the fast launcher; returns the file, or undefined
 * when the node cannot hold it (read-only) — the launch then just stays on the full CLI.
 */
export function writeFastPlan(compiled: CompiledLaunch, record: HostRecord, callerIds: { uid: number; gid: number }): string | undefined {
  const leaf = compiled.family.nodes[0];
  const file = planFile(leaf.hostPath, compiled.family.admin, callerIds.uid);
  const dir = dirname(file);
  try {
    if (!existsSync(dir)) mkdirSync(dir, { mode: 0o755 });
    const stem = file.replace(/\.plan$/, '');
    const seccompFiles = compiled.seccomp.map((filter, i) => {
      const path = `${stem}.seccomp-${i}.bpf`;
      writeFileSync(path, filter.filter, { mode: 0o644 });
      return path;
    });
    const body = Buffer.concat(fastPlanRecords(compiled, record, seccompFiles, callerIds).flat().map(field));
    const temp = `${file}.tmp-${process.pid}`;
    writeFileSync(temp, body, { mode: 0o644 });
    renameSync(temp, file);
    return file;
  } catch {
    return undefined;
  }
}

/** Removes a node's cached plans (after a config change the launcher would reject them anyway). */
export function clearFastPlans(leafHostPath: string): void {
  rmSync(join(leafHostPath, CACHE_DIR), { recursive: true, force: true });
}
