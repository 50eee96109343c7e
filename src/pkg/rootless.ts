/**
 * Package management as an ordinary user (docs/transactions.md, "As an ordinary user").
 *
 * rpm runs as root mapped onto the user inside a user namespace (as `unshare --user
 * --map-root-user` makes it: src/pkg/stage-runner.ts) over the user's own node files, so everything it writes is owned by the user.
 * The staged view is made of overlays mounted in that namespace, which the kernel allows from
 * Linux 5.11 with the `userxattr` option; overlayfs then marks opaque directories with the
 * `user.overlay.opaque` attribute instead of `trusted.overlay.opaque`. Where the kernel refuses
 * that overlay, the view is a copy of the node instead (copy-up staging, src/pkg/view-copyup.ts);
 * `chooseStaging` is the one place that decides. Where unprivileged user namespaces are off, the
 * transaction is refused before anything is downloaded, saying why.
 *
 * The repository cache of an ordinary user is `$XDG_CACHE_HOME/redpak` (default
 * `~/.cache/redpak`), one directory per node: the cachedir a family's config names is meant for
 * root and may be shared or root-owned. Trust: the cache holds the metadata that the packages'
 * checksums are checked against, so it must be the user's own directory (owner, no group or
 * other write, not a symlink); one planted by someone else is refused.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, mkdtempSync, rmSync, type Stats } from 'node:fs';
import { release } from 'node:os';
import { dirname, join } from 'node:path';
import { RedpakError } from '../errors.js';
import { hostTool } from '../system/host-tools.js';
import { usernsRestriction } from '../system/userns.js';
import { accountLabel } from '../system/accounts.js';
import { stagedCommand } from './stage-runner.js';

/**
 * True when this process is not root: the staged run needs a user namespace. The process's
 * real privilege, not a host fact of the configs (tests pin those), decides what the kernel allows.
 */
export function runsRootless(): boolean {
  return process.getuid?.() !== 0;
}

/** Extra overlay mount options: `userxattr` for a mount in a user namespace. */
export function overlayExtraOptions(rootless: boolean): string {
  return rootless ? ',userxattr' : '';
}

/** The attribute overlayfs marks an opaque directory of the upper layer with. */
export function opaqueAttribute(rootless: boolean): string {
  return rootless ? 'user.overlay.opaque' : 'trusted.overlay.opaque';
}

/** First kernel whose overlayfs mounts in a user namespace (with `userxattr`). */
const USER_OVERLAY_KERNEL: readonly [number, number] = [5, 11];

/** Whether the kernel release (`uname -r`) is recent enough for an overlay in a user namespace. */
export function kernelAllowsUserOverlay(kernel: string = release()): boolean {
  const [major = 0, minor = 0] = (/^(\d+)\.(\d+)/.exec(kernel) ?? []).slice(1).map(Number);
  return major > USER_OVERLAY_KERNEL[0] || (major === USER_OVERLAY_KERNEL[0] && minor >= USER_OVERLAY_KERNEL[1]);
}

/** How a transaction's staged view is made (docs/transactions.md, "Copy-up staging"). */
export type StagingMethod = 'overlay' | 'copy';

/**
 * Test hook (docs/transactions.md): `REDPAK_STAGING=copy` makes the staged view a copy even where
 * overlays work, so that copy-up staging is tested on any kernel. It can only ask for the copy,
 * which gives the same guarantees (the node unchanged until the commit, the same journal), and
 * never skips a check: an ordinary user still needs a user namespace.
 */
const STAGING_HOOK = 'REDPAK_STAGING';

/**
 * The one place that decides the staged view, before anything is downloaded: overlays as root,
 * and as an ordinary user where a throwaway overlay mounts in a user namespace; otherwise a copy
 * of the node, if the user may have a user namespace at all; otherwise a clear refusal (instead
 * of rpm failing after the download). `scratch` is a directory of the user's (the cache) where
 * the probe's few empty directories are made and removed.
 */
export function chooseStaging(
  scratch: string,
  node: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
): StagingMethod {
  const forced = env[STAGING_HOOK];
  if (forced !== undefined && forced !== '' && forced !== 'copy') {
    throw new RedpakError('usage', `${STAGING_HOOK}=${forced} is not a staging redpak knows`, {
      hint: `${STAGING_HOOK}=copy (a test hook) makes the staged view a copy of the node; unset it to let redpak choose`,
    });
  }
  if (!runsRootless()) return forced === 'copy' ? 'copy' : 'overlay';
  const refuse = (why: string, hint: string) =>
    new RedpakError('tool-failed', `cannot change the packages of node ${node} as an ordinary user: ${why}`, {
      hint,
    });
  if (forced !== 'copy' && kernelAllowsUserOverlay() && userOverlayMounts(scratch, refuse)) return 'overlay';
  const trialCommand = stagedCommand({ rootless: true, overlays: [] }, [hostTool('true')]);
  const trial = spawnSync(trialCommand.command, trialCommand.args, { encoding: 'utf8' });
  if (trial.error)
    throw refuse(`cannot run ${trialCommand.command}: ${trial.error.message}`, 'apt-get install util-linux');
  if (trial.status !== 0) {
    const why = trial.stderr.trim();
    const restriction = usernsRestriction();
    throw restriction
      ? refuse(
          `this host does not let unprivileged users create user namespaces (${restriction.setting} = ${restriction.value}; ${why})`,
          `as root: ${restriction.fix}; or run redwrap-dnf as root`,
        )
      : refuse(`the kernel refuses a user namespace (${why})`, 'run redwrap-dnf as root');
  }
  return 'copy';
}

/** Whether a throwaway overlay mounts in a user namespace, as the staged run mounts them. */
function userOverlayMounts(scratch: string, refuse: (why: string, hint: string) => RedpakError): boolean {
  mkdirSync(scratch, { recursive: true, mode: 0o700 });
  const probe = mkdtempSync(join(scratch, '.overlay-probe-'));
  try {
    for (const d of ['lower', 'upper', 'work', 'view']) mkdirSync(join(probe, d));
    const options = `lowerdir=${probe}/lower,upperdir=${probe}/upper,workdir=${probe}/work${overlayExtraOptions(true)}`;
    // Mounted as the staged run mounts its overlays: the same command, a program that does nothing.
    const { command, args } = stagedCommand({ rootless: true, overlays: [{ options, target: join(probe, 'view') }] }, [
      hostTool('true'),
    ]);
    const result = spawnSync(command, args, { encoding: 'utf8' });
    if (result.error) throw refuse(`cannot run ${command}: ${result.error.message}`, 'apt-get install util-linux');
    return result.status === 0;
  } finally {
    rmSync(probe, { recursive: true, force: true });
  }
}

/** `$XDG_CACHE_HOME/redpak`, else `$HOME/.cache/redpak` (an absolute XDG_CACHE_HOME only, as the spec says). */
export function userCacheRoot(env: Readonly<Record<string, string | undefined>>): string {
  const xdg = env.XDG_CACHE_HOME;
  if (xdg?.startsWith('/')) return join(xdg, 'redpak');
  const home = env.HOME;
  if (!home?.startsWith('/')) {
    throw new RedpakError('usage', 'no cache directory for an ordinary user: neither XDG_CACHE_HOME nor HOME is set', {
      hint: 'set HOME (or XDG_CACHE_HOME) to an absolute path',
    });
  }
  return join(home, '.cache', 'redpak');
}

/** An ordinary user's cache of one node (host path): one directory per node, like root's `NODE/var/cache/dnf`. */
export function userCacheDir(env: Readonly<Record<string, string | undefined>>, nodeHostPath: string): string {
  const key = createHash('sha256').update(nodeHostPath).digest('hex').slice(0, 16);
  return join(userCacheRoot(env), key);
}

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}

/**
 * Makes the user's cache directory (0700) if absent, and refuses one that is not the user's own:
 * a symlink, not a directory, owned by someone else, or writable by group or others. The cache
 * root and the node's directory are both checked: whoever can write either can plant metadata.
 */
export function assertOwnCacheDir(cacheDir: string): void {
  const uid = process.getuid?.() ?? 0;
  for (const dir of [dirname(cacheDir), cacheDir]) {
    if (!lstatOrUndefined(dir)) mkdirSync(dir, { recursive: true, mode: 0o700 });
    const st = lstatSync(dir);
    const why = st.isSymbolicLink()
      ? 'is a symlink'
      : !st.isDirectory()
        ? 'is not a directory'
        : st.uid !== uid
          ? `is owned by ${accountLabel(st.uid)}, not by ${accountLabel(uid)}`
          : (st.mode & 0o022) !== 0
            ? `is writable by ${st.mode & 0o020 ? 'its group' : 'others'}`
            : undefined;
    if (why) {
      throw new RedpakError(
        'io',
        `the package cache ${dir} ${why}: someone else could plant repository metadata or packages there`,
        {
          hint: `remove ${dir} (it is made again, mode 0700), or set XDG_CACHE_HOME to a directory of your own`,
        },
      );
    }
  }
}
