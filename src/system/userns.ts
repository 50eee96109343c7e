/**
 * Whether the host lets an unprivileged user create user namespaces, which bubblewrap needs to
 * build a sandbox for anyone but root (unless bwrap is installed setuid root). Three settings
 * forbid it, each read from /proc/sys (written by root only):
 *
 *   kernel/unprivileged_userns_clone = 0             (Debian's and Ubuntu's kernels)
 *   user/max_user_namespaces = 0                     (any kernel)
 *   kernel/apparmor_restrict_unprivileged_userns = 1 (Ubuntu 23.10 and later, AppArmor)
 *
 * A setting can be worked around (an AppArmor profile that allows bwrap user namespaces), so a
 * restriction is only reported once a trial sandbox has failed too: one error that names the
 * setting and what to change.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { RedpakError } from '../errors.js';

export interface UsernsRestriction {
  /** The sysctl name, e.g. `kernel.unprivileged_userns_clone`. */
  setting: string;
  value: string;
  /** What root changes to allow user namespaces. */
  fix: string;
}

const SETTINGS: { file: string; forbids: (value: string) => boolean; fix: string }[] = [
  {
    file: 'kernel/unprivileged_userns_clone',
    forbids: (v) => v === '0',
    fix: 'sysctl -w kernel.unprivileged_userns_clone=1 (and the same line in /etc/sysctl.d/ to keep it)',
  },
  {
    file: 'user/max_user_namespaces',
    forbids: (v) => v === '0',
    fix: 'sysctl -w user.max_user_namespaces=15000 (and the same line in /etc/sysctl.d/ to keep it)',
  },
  {
    file: 'kernel/apparmor_restrict_unprivileged_userns',
    forbids: (v) => v === '1',
    fix: 'give bwrap an AppArmor profile that allows user namespaces ("userns,"; Ubuntu ships one as /etc/apparmor.d/bwrap-userns-restrict), or sysctl -w kernel.apparmor_restrict_unprivileged_userns=0',
  },
];

/**
 * The first setting under `procSys` that forbids unprivileged user namespaces, or undefined when
 * none does (a file the kernel does not have forbids nothing).
 */
export function usernsRestriction(procSys = '/proc/sys'): UsernsRestriction | undefined {
  for (const { file, forbids, fix } of SETTINGS) {
    let value: string;
    try {
      value = readFileSync(join(procSys, file), 'utf8').trim();
    } catch {
      continue;
    }
    if (forbids(value)) return { setting: file.replace('/', '.'), value, fix };
  }
  return undefined;
}

/** The one error for a host that forbids unprivileged user namespaces. */
export function usernsRefusal(restriction: UsernsRestriction, uid: number, trialError?: string): RedpakError {
  return new RedpakError(
    'launch',
    `this host does not let unprivileged users create user namespaces (${restriction.setting} = ${restriction.value}), which bubblewrap needs to run a node as uid ${uid}${trialError ? ` (bwrap: ${trialError})` : ''}`,
    { hint: `as root: ${restriction.fix}; or run as root` },
  );
}

/** Whether `bwrap` can build a user namespace for this process: the failure's text, or undefined. */
function bwrapTrial(bwrap: string): string | undefined {
  const trial = spawnSync(bwrap, ['--unshare-user', '--ro-bind', '/', '/', '--', '/bin/true'], {
    encoding: 'utf8',
    stdio: ['ignore', 'ignore', 'pipe'],
    timeout: 10_000,
  });
  if (trial.status === 0) return undefined;
  return (trial.stderr ?? '').trim().replace(/^bwrap: /, '') || trial.error?.message || `exit ${trial.status}`;
}

function isSetuidRoot(path: string): boolean {
  try {
    const st = statSync(path);
    return st.uid === 0 && (st.mode & 0o4000) !== 0;
  } catch {
    return false;
  }
}

export interface UsernsCheckOptions {
  bwrap: string;
  /** Default: the process's effective uid. Root needs no unprivileged user namespace. */
  uid?: number;
  procSys?: string;
  /** Tries a sandbox with a user namespace: the failure's text, or undefined when it works. */
  trial?: (bwrap: string) => string | undefined;
}

/**
 * Throws usernsRefusal when a sandbox for this caller needs an unprivileged user namespace, a
 * /proc/sys setting forbids it and a trial sandbox fails. Costs a few reads of /proc when allowed.
 */
export function assertUserNamespaces(options: UsernsCheckOptions): void {
  const uid = options.uid ?? process.geteuid?.() ?? 0;
  if (uid === 0 || isSetuidRoot(options.bwrap)) return;
  const restriction = usernsRestriction(options.procSys);
  if (!restriction) return;
  const failure = (options.trial ?? bwrapTrial)(options.bwrap);
  if (failure !== undefined) throw usernsRefusal(restriction, uid, failure);
}
