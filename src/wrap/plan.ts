/**
 * Launch-plan compilation: a merged configuration → the bwrap arguments, in redpak's order
 * (docs/configuration.md, "The launch plan"). Pure: what exists on disk is asked through `probe`, and nothing
 * is created or run here; the plan lists what the launcher has to prepare.
 *
 * Order: exports (sorted by mount) → environ → capabilities → hostname → chdir →
 * die-with-parent → new-session → namespaces → PATH → LD_LIBRARY_PATH.
 */
import { expand, hasNotRun, type ExpandContext, type HostFacts } from '../config/expand.js';
import { DIR_EXPORT_MODES, FILE_EXPORT_MODES, type ShareKey } from '../config/types.js';
import { RedpakError } from '../errors.js';
import { nodeFacts } from '../merge/merge.js';
import type { MergedConfig, Origin } from '../merge/types.js';
import type { Family } from '../node/types.js';
import { present } from '../present.js';

/** An argument whose text is known only when the launch runs (the output of an Execfd script). */
export interface DeferredArg {
  execfd: string;
}
export type PlanArg = string | DeferredArg;

/** A file descriptor the launcher opens and hands to bwrap. */
export interface PlanFd {
  fd: number;
  /** `execfd`: the script's stdout, as a read-only file at `mount` (`--ro-bind-data`). */
  kind: 'execfd';
  script: string;
  mount: string;
}

export interface LaunchPlan {
  /** bwrap's arguments, without the bwrap binary and without the command. */
  args: PlanArg[];
  /** Where each argument group came from: index of its first argument → origin. */
  provenance: { arg: number; origin: Origin; what: string }[];
  fds: PlanFd[];
  /** Export sources to create before the launch (redpak creates missing export directories). */
  mkdirs: string[];
  /** Exports left out, and why. */
  skipped: { mount: string; reason: string; origin: Origin }[];
  /** Namespaces to join (setns) before bwrap runs. */
  joins: { namespace: ShareKey; path: string }[];
  /** A new time namespace (share_time: disabled). */
  unshareTime: boolean;
  /**
   * The launcher, not bwrap, creates the user namespace: needed when a time namespace is created
   * or joined first (redpak does the same).
   */
  userNamespaceByLauncher: boolean;
  /** Whether bwrap starts from the caller's environment (`inherit-env`) or an empty one. */
  inheritEnv: boolean;
}

export type Probe = (hostPath: string) => 'dir' | 'file' | 'missing';

export interface PlanOptions {
  host: HostFacts;
  probe: Probe;
  /** `--strict`: skip exports whose directory is missing instead of creating it. */
  strict?: boolean;
  /** The first file descriptor number free for Execfd exports. */
  firstFd?: number;
}

export function compileLaunchPlan(family: Family, merged: MergedConfig, options: PlanOptions): LaunchPlan {
  const plan: LaunchPlan = {
    args: [],
    provenance: [],
    fds: [],
    mkdirs: [],
    skipped: [],
    joins: [],
    unshareTime: false,
    userNamespaceByLauncher: false,
    inheritEnv: Boolean(merged.scalars['inherit-env']?.value),
  };
  const leafFacts = nodeFacts(family.nodes[0]);
  const contextOf = (origin: Origin): ExpandContext => ({
    host: options.host,
    node: nodeFacts(family.nodes[origin.depth]),
    leaf: leafFacts,
    commands: true,
  });
  const push = (origin: Origin | undefined, what: string, ...args: PlanArg[]) => {
    if (origin) plan.provenance.push({ arg: plan.args.length, origin, what });
    plan.args.push(...args);
  };
  let nextFd = options.firstFd ?? 3;

  for (const exp of merged.exports) {
    const { value: entry, origin, mount } = exp;
    const written = entry.path ?? entry.mount;
    const what = `export ${mount}`;
    if (entry.mode === 'Execfd') {
      plan.fds.push({ fd: nextFd, kind: 'execfd', script: written, mount });
      // redpak passes `--file`, which leaves a writable copy; the output is meant read-only.
      push(origin, what, '--ro-bind-data', String(nextFd), mount);
      nextFd += 1;
      continue;
    }
    const source = expand(written, contextOf(origin));
    // A relative source would be taken from the caller's directory (and created there); a
    // command not run (inspection) leaves it unknown, which is not an error.
    if (
      (DIR_EXPORT_MODES.has(entry.mode) || FILE_EXPORT_MODES.has(entry.mode)) &&
      !source.startsWith('/') &&
      !hasNotRun(source)
    ) {
      throw new RedpakError(
        'launch',
        `export ${mount} of ${origin.alias} (${origin.node}) has a relative source "${source}" (from "${written}"): sources must be absolute`,
        {
          at: origin.at,
          hint: 'start the path with / or $NODE_PATH',
        },
      );
    }
    // A symlink's target is not a host path: `../usr/lib` is a legitimate one.
    if (entry.mode !== 'Symlink' && source.split('/').includes('..')) {
      throw new RedpakError(
        'launch',
        `export ${mount} of ${origin.alias} has a source that escapes with "..": ${source}`,
        { at: origin.at },
      );
    }
    if (DIR_EXPORT_MODES.has(entry.mode)) {
      const found = options.probe(source);
      if (found === 'missing') {
        if (options.strict) {
          plan.skipped.push({ mount, reason: `source directory ${source} does not exist (--strict)`, origin });
          continue;
        }
        plan.mkdirs.push(source);
      }
    } else if (FILE_EXPORT_MODES.has(entry.mode) && options.probe(source) === 'missing') {
      // redpak's test is inverted (it binds missing files and skips existing ones); we skip missing ones.
      plan.skipped.push({ mount, reason: `source file ${source} does not exist`, origin });
      continue;
    }
    push(origin, what, ...exportArgs(entry.mode, source, mount));
  }

  for (const { value: entry, origin } of merged.environ) {
    const what = `environ ${entry.key}`;
    switch (entry.mode) {
      case 'Default':
        push(origin, what, '--setenv', entry.key, expand(entry.value ?? '', contextOf(origin)));
        break;
      case 'Static':
        push(origin, what, '--setenv', entry.key, entry.value ?? '');
        break;
      case 'Execfd':
        push(origin, what, '--setenv', entry.key, { execfd: entry.value ?? '' });
        break;
      case 'Remove':
        push(origin, what, '--unsetenv', entry.key);
        break;
      case 'Inherit':
        push(origin, what, '--setenv', entry.key, options.host.env[entry.key] ?? '');
        break;
    }
  }

  for (const { value: cap, origin } of merged.capabilities) {
    push(origin, `capability ${cap.cap}`, cap.add ? '--cap-add' : '--cap-drop', cap.cap);
  }

  const s = merged.scalars;
  if (s.hostname) push(s.hostname.origin, 'hostname', '--unshare-uts', '--hostname', s.hostname.value);
  if (s.chdir) push(s.chdir.origin, 'chdir', '--chdir', s.chdir.value);
  if (s['die-with-parent']?.value === 'Enabled')
    push(s['die-with-parent'].origin, 'die-with-parent', '--die-with-parent');
  if (s['new-session']?.value === 'Enabled') push(s['new-session'].origin, 'new-session', '--new-session');

  compileNamespaces(merged, plan, push);

  if (merged.path) push(merged.path.contributions[0].origin, 'path', '--setenv', 'PATH', merged.path.value);
  if (merged.ldpath)
    push(merged.ldpath.contributions[0].origin, 'ldpath', '--setenv', 'LD_LIBRARY_PATH', merged.ldpath.value);
  return plan;
}

function exportArgs(mode: string, source: string, mount: string): string[] {
  switch (mode) {
    case 'Private':
    case 'Public':
    case 'PrivateFile':
    case 'PublicFile':
      return ['--bind', source, mount];
    case 'Restricted':
    case 'RestrictedFile':
    case 'PrivateRestricted':
      return ['--ro-bind', source, mount];
    case 'Symlink':
      return ['--symlink', source, mount];
    case 'Internal':
      return ['--file', source, mount];
    case 'Anonymous':
      return ['--dir', mount];
    case 'Tmpfs':
      return ['--tmpfs', mount];
    case 'Devfs':
      return ['--dev', mount];
    case 'Procfs':
      return ['--proc', mount];
    case 'Mqueue':
      return ['--mqueue', mount];
    case 'Lock':
      return ['--lock-file', mount];
    default:
      throw new RedpakError('launch', `unknown export mode ${mode}`);
  }
}

function compileNamespaces(
  merged: MergedConfig,
  plan: LaunchPlan,
  push: (origin: Origin | undefined, what: string, ...args: string[]) => void,
): void {
  const share = merged.shares;
  const time = share.time;
  if (time.type === 'disabled') plan.unshareTime = true;
  for (const key of ['time', 'cgroup', 'ipc', 'net', 'pid', 'user'] as const) {
    if (share[key].type === 'join')
      plan.joins.push({ namespace: key, path: present(share[key].path, `the ${key} namespace to join`) });
  }
  const isolated = (key: ShareKey) => share[key].type === 'unset' || share[key].type === 'disabled';
  // With a time namespace to create or join, redpak creates the user namespace itself; the
  // launcher does the same, so bwrap is not asked for one.
  const userByLauncher = time.type === 'disabled' || time.type === 'join';
  if (isolated('user') && userByLauncher) plan.userNamespaceByLauncher = true;
  if (isolated('user') && !userByLauncher) push(share.user.origin, 'share_user', '--unshare-user');
  if (isolated('cgroup')) push(share.cgroup.origin, 'share_cgroup', '--unshare-cgroup');
  if (isolated('ipc')) push(share.ipc.origin, 'share_ipc', '--unshare-ipc');
  if (isolated('pid')) push(share.pid.origin, 'share_pid', '--unshare-pid');
  if (isolated('net')) push(share.net.origin, 'share_net', '--unshare-net');
  else if (share.net.type === 'enabled') push(share.net.origin, 'share_net', '--share-net');
}
