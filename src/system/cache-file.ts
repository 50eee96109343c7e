/**
 * What the caches of read node files share (inspect/tree-cache.ts, node/node-cache.ts): stamps
 * of the files an entry was read from, the rule for recording one, and the cache file itself,
 * kept in the caller's own cache directory (system/caller-cache.ts) and believed only if the
 * caller alone could have written it.
 *
 * A stamp is a file's type and mode, size, mtime, ctime, inode and device. ctime is set by the
 * kernel alone, on any change: an edit that restores size and mtime still moves it. Stamps are
 * taken BEFORE the files are read, so an entry is never newer than its stamps; an entry whose
 * files' ctimes are within RACY_MARGIN_MS of the read (a second more on a filesystem that keeps
 * whole seconds) is not recorded: an edit in the same clock tick as the read could keep the ctime
 * the reader saw.
 */
import { lstatSync, type Stats, statSync } from 'node:fs';
import { writeFileAtomic } from './atomic-write.js';
import { kernelAddon } from './kernel-addon.js';
import { readFileNoFollow } from './no-follow-read.js';

/** Larger than any cache file written (a node's parsed configs are some 10 KB): a bigger one is ignored. */
const MAX_CACHE_BYTES = 64 * 1024 * 1024;
/**
 * How much older than the read a recorded file's ctime must be: ctime comes from the kernel's
 * coarse clock, one tick (1 to 10 ms) at a time.
 */
const RACY_MARGIN_MS = 100;

/** The stamp of a path where nothing is: a file that appears no longer matches it. */
export const MISSING = 'missing';

/** What the addon's statInto fills (system/kernel-addon.ts), reused by every stamp. */
const statFields = new Float64Array(8);

/**
 * A path's stamp: MISSING when nothing is there, undefined when it cannot be looked at (then what
 * was read is not recorded). Times in milliseconds with their fraction, as fs.Stats computes them
 * (a double keeps a quarter of a microsecond at today's dates): the nanosecond BigInt stats cost
 * ten times as much to take, in garbage mostly. Through the addon where it was built, which gives
 * the same text without an fs.Stats and its four Dates: a read cache stamps three files a node,
 * and on a family of 1,000 that took 25 ms through fs, 10 through the addon.
 */
function stampAt(follow: boolean, path: string): string | undefined {
  const calls = kernelAddon();
  if (calls) {
    const f = statFields;
    try {
      if (!calls.statInto(path, follow, f)) return MISSING;
    } catch {
      return undefined;
    }
    return `${f[0]}:${f[1]}:${f[2] * 1e3 + f[3] / 1e6}:${f[4] * 1e3 + f[5] / 1e6}:${f[6]}:${f[7]}`;
  }
  let st: Stats | undefined;
  try {
    st = (follow ? statSync : lstatSync)(path, { throwIfNoEntry: false });
  } catch {
    return undefined;
  }
  return st ? `${st.mode}:${st.size}:${st.mtimeMs}:${st.ctimeMs}:${st.dev}:${st.ino}` : MISSING;
}

/** A file's stamp, not through a link: the file type is in it, so a file that became a link no longer matches. */
export const fileStamp = (path: string): string | undefined => stampAt(false, path);

/** A directory's stamp, through a link: what matters is which entries the directory holds. */
export const dirStamp = (path: string): string | undefined => stampAt(true, path);

/** `DEV-INO` of a stamp, the file's identity to name a cache file after; `none` when nothing was there to stamp. */
export const stampIdentity = (stamp: string | undefined): string =>
  stamp === undefined || stamp === MISSING ? 'none' : stamp.split(':').slice(4).join('-');

/**
 * Whether stamps can be recorded for a read that began at `startedMs` (Date.now()): none
 * unknown, and no ctime within the margin of the read. A ctime in whole seconds is taken to come
 * from a filesystem that keeps no more (ext2/3 with small inodes, some network filesystems): its
 * tick is a second, so the margin grows by one (a finer ctime falls on a whole second once in a
 * billion, and only costs a read).
 */
export function recordable(stamps: readonly (string | undefined)[], startedMs: number): boolean {
  return stamps.every((stamp) => {
    if (stamp === MISSING) return true;
    if (stamp === undefined) return false;
    const ctime = Number(stamp.split(':')[3]);
    const tick = ctime % 1000 === 0 ? 1000 : 0;
    return ctime < startedMs - RACY_MARGIN_MS - tick;
  });
}

/**
 * The content of a cache file, if it can be trusted and parses: opened without following a link,
 * a regular file owned by `euid`, writable by nobody else, within the size limit. Undefined otherwise.
 */
export function readCacheFile(file: string, euid: number): unknown {
  try {
    const text = readFileNoFollow(file, (st) => {
      if (!st.isFile() || st.uid !== euid || st.mode & 0o022 || st.size > MAX_CACHE_BYTES)
        throw new Error('not the caller’s own cache file');
    });
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * Writes a cache file (mode 0600, through a temporary file created exclusively and renamed); a
 * failure only costs the next reader its cache, so it is not reported.
 */
export function writeCacheFile(file: string, content: unknown): void {
  try {
    writeFileAtomic(file, JSON.stringify(content), {
      mode: 0o600,
      exclusive: true,
      temp: `${file}.tmp-${process.pid}`,
    });
  } catch {
    // The directory was checked when opened; a full disk or a race only loses the cache.
  }
}
