/**
 * The caller's own cache directory, and when it can be trusted: launch plans (wrap/launch-cache.ts,
 * docs/launch-cache.md) and tree labels (inspect/tree-cache.ts) are kept there.
 *
 * Who can write what is read here: the directory is the caller's own, outside every node
 * tree — /run/redpak/0 for root, $XDG_RUNTIME_DIR/redpak otherwise — so no sandbox (admin mode
 * binds the node read-write) and no other user can plant a file in it. That holds only if every
 * directory on the way is owned by root or the caller and writable by nobody else (a sticky
 * directory such as /tmp is allowed above the cache directory: nobody else can rename what the
 * caller owns in it), and the cache directory itself is the caller's and mode 0700. The fast
 * launcher (src/launcher/redwrap-launch.c) applies the same rules before it reads a plan.
 * REDWRAP_NO_CACHE set turns the directory off: nothing is read from it or written to it.
 */
import { lstatSync, mkdirSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { processIds } from '../present.js';

/** Set to a non-empty value, it turns the caller's cache directory off. */
export const NO_CACHE_VARIABLE = 'REDWRAP_NO_CACHE';

/** The cache directory for this caller, or undefined when there is none (nothing is then cached). */
export function callerCacheDir(
  euid: number = processIds.euid(),
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  if (env[NO_CACHE_VARIABLE]) return undefined;
  if (euid === 0) return '/run/redpak/0';
  const runtime = env.XDG_RUNTIME_DIR;
  if (!runtime || !isAbsolute(runtime)) return undefined;
  return join(runtime, 'redpak');
}

/** Why `dir` (an ancestor of the cache directory) cannot be trusted, or undefined. */
function untrustedAncestor(dir: string, euid: number): string | undefined {
  const st = lstatSync(dir);
  if (!st.isDirectory()) return `${dir} is not a directory`;
  if (st.uid !== 0 && st.uid !== euid) return `${dir} belongs to uid ${st.uid}`;
  if (st.mode & 0o022 && !(st.mode & 0o1000))
    return `${dir} is writable by others (mode ${(st.mode & 0o7777).toString(8)})`;
  return undefined;
}

/** Why the cache directory itself cannot be trusted, or undefined. */
function untrustedCacheDir(dir: string, euid: number): string | undefined {
  const st = lstatSync(dir);
  if (!st.isDirectory()) return `${dir} is not a directory`;
  if (st.uid !== euid) return `${dir} belongs to uid ${st.uid}, not ${euid}`;
  if (st.mode & 0o077) return `${dir} is open to others (mode ${(st.mode & 0o7777).toString(8)}, wants 700)`;
  return undefined;
}

/**
 * Creates the cache directory when missing (mode 0700) and checks the whole path. Returns the
 * directory, or the reason it cannot be used.
 */
export function openCallerCacheDir(
  dir: string,
  euid: number = processIds.euid(),
): { dir: string } | { refused: string } {
  const parts = dir.split('/').filter(Boolean);
  let path = '';
  try {
    for (const [i, part] of parts.entries()) {
      const parent = path || '/';
      const reason = untrustedAncestor(parent, euid);
      if (reason) return { refused: reason };
      path = `${path}/${part}`;
      // /run/redpak (root's) is created too; a runtime directory must exist already.
      const creatable = i === parts.length - 1 || (euid === 0 && path === '/run/redpak');
      if (creatable) {
        try {
          mkdirSync(path, { mode: 0o700 });
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        }
      }
    }
    const reason = untrustedCacheDir(dir, euid);
    return reason ? { refused: reason } : { dir };
  } catch (error) {
    return { refused: `${path || dir}: ${(error as Error).message}` };
  }
}

/** The caller's cache directory, created if missing, or undefined when there is none or it cannot be trusted. */
export function usableCallerCacheDir(): string | undefined {
  const location = callerCacheDir();
  const opened = location === undefined ? undefined : openCallerCacheDir(location);
  return opened && 'dir' in opened ? opened.dir : undefined;
}
