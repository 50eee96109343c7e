/**
 * The cached launch plan read by the fast launcher (src/launcher/redwrap-launch.c), and what it
 * depends on. The plan is written by the full CLI after a compilation whose every input can be
 * checked again cheaply at launch time; a compilation that used the clock, the pid, a fresh UUID
 * or ran a `$(...)` command is not cached (the fast launcher then always hands over to the CLI),
 * nor one that needs a program before bwrap (set-user/set-group, namespace joins, a time
 * namespace), nor one whose files changed while it was compiled.
 *
 * Who writes what is read: the plan lives in the caller's own cache directory (wrap/launch-cache:
 * /run/redpak/0 or $XDG_RUNTIME_DIR/redpak, 0700), never in a node. The format, every record and
 * the launcher's checks are described in docs/launch-cache.md. In short, a sequence of fields
 * `<length>:<bytes>`; records (kind, then its fields):
 *   v VERSION · redpath PATH · realpath PATH · node DEV INO · admin 0|1 · ids UID GID
 *   file PATH SIZE MTIME_S MTIME_NS CTIME_S CTIME_NS INO DEV   a config or status file, unchanged
 *   absent PATH                                  must not exist (a directory becoming a node, a new config)
 *   probe PATH dir|file|missing|mkdir            an export source, as it was (mkdir: missing or created since)
 *   env NAME 0|1 VALUE                           an environment variable the plan read, unset or its value
 *   ns BWRAP-FLAG · cap add|drop NAME            the isolation the merged config asks for
 *   umask OCTAL · inherit-env 0|1 · mkdir PATH UID GID
 *   execfd FD SCRIPT · fdfile FD NAME            file descriptors handed to bwrap (NAME: a seccomp file beside the plan)
 *   arg TEXT · arg-execfd SCRIPT                 bwrap's arguments (the binary is fixed at build), without the command
 *   end
 */
import { realpathSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { writeFileAtomic } from '../system/atomic-write.js';
import {
  LEGACY_ADMIN_CONFIG,
  LEGACY_NORMAL_CONFIG,
  ADMIN_CONFIG,
  MERGE_JOURNAL,
  NORMAL_CONFIG,
  STAGE_DIR,
  STATUS_FILE,
} from '../node/layout.js';
import { DEFAULT_BWRAP } from '../system/bwrap-path.js';
import type { HostRecord } from './host-record.js';
import type { CompiledLaunch } from './launch.js';
import { callerCacheDir, openCallerCacheDir } from '../system/caller-cache.js';
import { planFileName, planKey, seccompFileName } from './launch-cache.js';
import { sandboxMarkerArgs } from './sandbox-marker.js';
import { seccompBwrapArgs } from './seccomp.js';
import type { Stamp } from './stamps.js';

/**
 * Bumped with the plan format and with the rules that compile a plan (3: the cache out of the
 * node; 4: no child loosens a parent; 5: launches with cgroups or a SMACK label are not cached; 6: the sandbox mark,
 * sandbox-marker.ts; 7: the launcher no longer reads cgroup records, which no plan holds since 5), so that a plan an older compiler cached is compiled again, not served.
 */
export const FAST_PLAN_VERSION = '7';

/** Raised while building records: the launch is fine, it just cannot be cached. */
class Uncacheable extends Error {}

const field = (value: string | number): Buffer => {
  const bytes = Buffer.from(String(value));
  return Buffer.concat([Buffer.from(`${bytes.length}:`), bytes]);
};

/** Why a compiled launch cannot be cached, or undefined when it can. */
export function uncacheableReason(compiled: CompiledLaunch, record: HostRecord): string | undefined {
  const { plan } = compiled;
  if (record.dynamic.size) return `it uses ${[...record.dynamic].join(', ')}`;
  if (compiled.family.sysroot !== '/') return 'it runs inside a sysroot';
  if (compiled.bwrap !== DEFAULT_BWRAP)
    return `it runs ${compiled.bwrap}, not the bwrap fixed at build (${DEFAULT_BWRAP})`;
  // The launcher only ever runs bwrap: plans needing setpriv, nsenter or unshare first stay on the full CLI.
  if (compiled.switchUser) return 'it switches user (set-user/set-group)';
  if (plan.joins.length) return 'it joins namespaces';
  if (plan.unshareTime || plan.userNamespaceByLauncher) return 'it needs a time namespace';
  // Keeping the launcher's own processes out of the limits (wrap/cgroups-apply.ts keepLauncherOut)
  // and setting a SMACK label are done by the full CLI only.
  if (compiled.cgroups) return 'it applies cgroup limits';
  if (compiled.merged.scalars.smack) return 'it sets a SMACK label';
  return undefined;
}

/** The isolation the merged config asks for, derived from it directly (the launcher checks bwrap's argv against it). */
function isolationRecords(compiled: CompiledLaunch): (string | number)[][] {
  const records: (string | number)[][] = [];
  const shares = compiled.merged.shares;
  for (const key of ['user', 'cgroup', 'ipc', 'pid', 'net'] as const) {
    const type = shares[key].type;
    if (type === 'unset' || type === 'disabled') records.push(['ns', `--unshare-${key}`]);
  }
  if (shares.net.type === 'enabled') records.push(['ns', '--share-net']);
  for (const { value: cap } of compiled.merged.capabilities) records.push(['cap', cap.add ? 'add' : 'drop', cap.cap]);
  return records;
}

/**
 * The plan's records: dependencies first, then what to do. `stamps` are the family files as
 * they were before the compilation read them (stamps.ts).
 */
export function fastPlanRecords(
  compiled: CompiledLaunch,
  record: HostRecord,
  stamps: ReadonlyMap<string, Stamp>,
  seccompFiles: string[],
  callerIds: { uid: number; gid: number },
): (string | number)[][] {
  const { family, plan } = compiled;
  const leaf = family.nodes[0];
  const key = planKey(leaf.hostPath, family.admin, callerIds.uid);
  const fileRecord = (path: string): (string | number)[] => {
    const st = stamps.get(path);
    if (st === undefined || st === 'missing') throw new Uncacheable(`${path} was not stamped before it was read`);
    const sec = (ns: bigint) => [String(ns / 1_000_000_000n), String(ns % 1_000_000_000n)];
    return ['file', path, String(st.size), ...sec(st.mtimeNs), ...sec(st.ctimeNs), String(st.ino), String(st.dev)];
  };
  const absentRecord = (path: string): (string | number)[] => {
    if (stamps.get(path) !== 'missing') throw new Uncacheable(`${path} was not seen absent before the compilation`);
    return ['absent', path];
  };
  const records: (string | number)[][] = [
    ['v', FAST_PLAN_VERSION],
    ['redpath', leaf.hostPath],
    ['realpath', realpathSync(leaf.hostPath)],
    ['node', String(key.dev), String(key.ino)],
    ['admin', family.admin ? 1 : 0],
    ['ids', callerIds.uid, callerIds.gid],
  ];
  const nodeDirs = new Set(family.nodes.map((n) => n.hostPath));
  for (const node of family.nodes) {
    const dir = node.hostPath;
    records.push(fileRecord(node.statusFile), fileRecord(node.normal.file));
    // A config under the current name appearing beside a legacy one would replace it.
    if (node.normal.file !== join(dir, NORMAL_CONFIG)) records.push(absentRecord(join(dir, NORMAL_CONFIG)));
    if (family.admin) {
      if (node.admin) {
        records.push(fileRecord(node.admin.file));
        if (node.admin.file !== join(dir, ADMIN_CONFIG)) records.push(absentRecord(join(dir, ADMIN_CONFIG)));
      } else records.push(absentRecord(join(dir, ADMIN_CONFIG)), absentRecord(join(dir, LEGACY_ADMIN_CONFIG)));
    }
    // A package merge interrupted in the node: the full CLI refuses the launch until it is completed.
    records.push(absentRecord(join(dir, STAGE_DIR, MERGE_JOURNAL)));
    if (
      node.statusFile !== join(dir, STATUS_FILE) ||
      ![join(dir, NORMAL_CONFIG), join(dir, LEGACY_NORMAL_CONFIG)].includes(node.normal.file)
    ) {
      throw new Uncacheable(`node ${dir} has files the launcher does not know`);
    }
  }
  for (let dir = dirname(leaf.hostPath); dir !== '/'; dir = dirname(dir)) {
    if (!nodeDirs.has(dir)) records.push(absentRecord(join(dir, STATUS_FILE)));
  }
  const mkdirs = new Set(plan.mkdirs);
  for (const [path, kind] of record.probes) records.push(['probe', path, mkdirs.has(path) ? 'mkdir' : kind]);
  for (const [name, value] of record.env) records.push(['env', name, value === undefined ? 0 : 1, value ?? '']);
  records.push(...isolationRecords(compiled));

  if (compiled.umask !== undefined) records.push(['umask', compiled.umask.toString(8)]);
  records.push(['inherit-env', plan.inheritEnv ? 1 : 0]);
  for (const dir of plan.mkdirs) records.push(['mkdir', dir, compiled.uid, compiled.gid]);
  for (const fd of plan.fds) records.push(['execfd', fd.fd, fd.script]);
  compiled.seccomp.forEach((filter, i) => {
    records.push(['fdfile', filter.fd, seccompFiles[i] ?? seccompFileName(key, i)]);
  });
  const bwrapArgs = [
    ...sandboxMarkerArgs(realpathSync(leaf.hostPath), family.admin),
    ...plan.args,
    ...seccompBwrapArgs(compiled.seccomp[0]?.fd ?? 0, compiled.seccomp.length),
  ];
  for (const arg of bwrapArgs) records.push(typeof arg === 'string' ? ['arg', arg] : ['arg-execfd', arg.execfd]);
  records.push(['end']);
  return records;
}

export type WriteResult = { file: string } | { skipped: string };

/**
 * Writes the plan (and its seccomp filters) into the caller's cache directory, each file through
 * a new temporary file (created exclusively, mode 0600) renamed into place. Not written when the
 * launch is uncacheable, a stamped file changed during the compilation (`changed`), or there is
 * no trustworthy cache directory: the launch then just stays on the full CLI.
 */
export function writeFastPlan(
  compiled: CompiledLaunch,
  record: HostRecord,
  stamped: { stamps: ReadonlyMap<string, Stamp>; changed: readonly string[] },
  callerIds: { uid: number; gid: number },
): WriteResult {
  const reason = uncacheableReason(compiled, record);
  if (reason) return { skipped: reason };
  if (stamped.changed.length) return { skipped: `${stamped.changed[0]} changed while the plan was compiled` };
  const location = callerCacheDir();
  if (!location) return { skipped: 'no cache directory (no XDG_RUNTIME_DIR)' };
  const opened = openCallerCacheDir(location);
  if ('refused' in opened) return { skipped: opened.refused };
  const leaf = compiled.family.nodes[0];
  const temps: string[] = [];
  const writeAtomically = (name: string, content: Buffer): void => {
    const temp = join(opened.dir, `.${name}.tmp-${process.pid}`);
    temps.push(temp);
    writeFileAtomic(join(opened.dir, name), content, { mode: 0o600, exclusive: true, temp });
  };
  try {
    const key = planKey(leaf.hostPath, compiled.family.admin, callerIds.uid);
    const seccompFiles = compiled.seccomp.map((filter, i) => {
      const name = seccompFileName(key, i);
      writeAtomically(name, filter.filter);
      return name;
    });
    const body = Buffer.concat(
      fastPlanRecords(compiled, record, stamped.stamps, seccompFiles, callerIds).flat().map(field),
    );
    const name = planFileName(key);
    writeAtomically(name, body);
    return { file: join(opened.dir, name) };
  } catch (error) {
    for (const temp of temps) rmSync(temp, { force: true });
    return { skipped: (error as Error).message };
  }
}
