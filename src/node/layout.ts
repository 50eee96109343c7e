/** Where a node keeps its files, relative to the node directory (docs/node-layout.md, "Layout"). */
import { join, posix, resolve } from 'node:path';
import { existsSync, lstatSync, readlinkSync, statSync } from 'node:fs';
import { RedpakError } from '../errors.js';
import { present } from '../present.js';

export const STATUS_FILE = '.rednode.yaml';
export const NORMAL_CONFIG = 'etc/redpak.yaml';
export const ADMIN_CONFIG = 'etc/redpak-admin.yaml';
export const LEGACY_NORMAL_CONFIG = 'etc/redpack.yaml';
export const LEGACY_ADMIN_CONFIG = 'etc/redpack-admin.yaml';
export const RPMDB_DIR = 'var/lib/rpm';
export const REPOS_DIR = 'etc/yum.repos.d';
/**
 * redpak's own state in a node (generations); never the launch cache
 * (docs/launch-cache.md).
 */
export const REDPAK_DIR = '.redpak';
/** A package transaction's staging directory, under the node; hidden so it is never taken for a child node. */
export const STAGE_DIR = '.redpak-stage';
/** In the stage: the journal of a committed merge; while it is there the node is half-merged (docs/transactions.md). */
export const MERGE_JOURNAL = 'MERGE';

/**
 * The files loadNode (node/load.ts) may read in a node directory: the status file and both names
 * of each config it reads (the one found decides which is read). What a cache of a read stamps.
 */
export function nodeFileNames(admin: boolean): string[] {
  return [STATUS_FILE, NORMAL_CONFIG, LEGACY_NORMAL_CONFIG, ...(admin ? [ADMIN_CONFIG, LEGACY_ADMIN_CONFIG] : [])];
}

/** Whether the node holds a committed but unfinished package merge (the journal is there, as a file or anything else). */
export function holdsMergeJournal(nodeHostPath: string): boolean {
  try {
    lstatSync(join(nodeHostPath, STAGE_DIR, MERGE_JOURNAL));
    return true;
  } catch {
    return false;
  }
}

/**
 * A sysroot maps paths as seen on the target (what `$NODE_PATH` expands to) to paths on this
 * machine. On a running system it is `/` and both are the same.
 */
export class Sysroot {
  readonly dir: string;

  constructor(dir = '/') {
    this.dir = resolve(dir);
  }

  static open(dir: string | undefined): Sysroot {
    if (dir === undefined || resolve(dir) === '/') return new Sysroot('/');
    if (!existsSync(dir) || !statSync(dir).isDirectory()) {
      throw new RedpakError('sysroot-missing', `sysroot ${dir} does not exist or is not a directory`, {
        hint: 'create the image directory first, or drop --root',
      });
    }
    return new Sysroot(dir);
  }

  get isHost(): boolean {
    return this.dir === '/';
  }

  /** The host path of a target path. */
  toHost(targetPath: string): string {
    return this.isHost ? targetPath : join(this.dir, targetPath);
  }

  /** The target path of a host path in the sysroot (the inverse of `toHost`); a path outside it is kept as it is. */
  toTarget(hostPath: string): string {
    if (this.isHost || (hostPath !== this.dir && !hostPath.startsWith(`${this.dir}/`))) return hostPath;
    return hostPath.slice(this.dir.length) || '/';
  }

  /**
   * A user-given node path → the absolute target path, without trailing `/`. On the host a
   * relative path is taken from the current directory (redpak mis-reads those); inside a sysroot
   * it is taken from the sysroot's `/`.
   */
  targetPath(given: string, cwd = process.cwd()): string {
    if (!given) throw new RedpakError('usage', 'the node path is empty');
    const absolute = this.isHost ? resolve(cwd, given) : posix.resolve('/', given);
    return absolute.length > 1 ? absolute.replace(/\/+$/, '') : absolute;
  }

  /**
   * A target path with every symbolic link followed, as the target sees it: inside a sysroot an
   * absolute link is taken from the sysroot's `/` and `..` stops there (as in a chroot), so no link
   * leads out of it. The part that does not exist is kept as written. The links are read from the
   * node tree, which node admins can write: that is why the family is found from this path and
   * not from the text the user gave (docs/configuration.md, "Node paths and symbolic links").
   */
  resolveTarget(targetPath: string): string {
    const pending = targetPath.split('/').filter(Boolean);
    const done: string[] = [];
    let links = 0;
    while (pending.length) {
      const name = present(pending.shift(), 'the next path component');
      if (name === '.') continue;
      if (name === '..') {
        done.pop();
        continue;
      }
      const candidate = `/${[...done, name].join('/')}`;
      let isLink: boolean;
      try {
        isLink = lstatSync(this.toHost(candidate)).isSymbolicLink();
      } catch {
        // Missing from here on: nothing more to follow.
        return posix.normalize(`/${[...done, name, ...pending].join('/')}`);
      }
      if (!isLink) {
        done.push(name);
        continue;
      }
      links += 1;
      if (links > 40)
        throw new RedpakError('usage', `too many levels of symbolic links in ${targetPath}`, {
          hint: `the link at ${candidate} loops`,
        });
      const link = readlinkSync(this.toHost(candidate));
      if (link.startsWith('/')) done.length = 0;
      pending.unshift(...link.split('/').filter(Boolean));
    }
    return `/${done.join('/')}`;
  }
}

export function statusPath(nodeHostPath: string): string {
  return join(nodeHostPath, STATUS_FILE);
}

/** The config file to read: the current name, else the legacy `redpack` one, else undefined. */
export function configPath(nodeHostPath: string, kind: 'normal' | 'admin'): string | undefined {
  const [current, legacy] =
    kind === 'normal' ? [NORMAL_CONFIG, LEGACY_NORMAL_CONFIG] : [ADMIN_CONFIG, LEGACY_ADMIN_CONFIG];
  for (const candidate of [current, legacy]) {
    const file = join(nodeHostPath, candidate);
    if (existsSync(file)) return file;
  }
  return undefined;
}
