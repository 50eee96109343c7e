/**
 * File stamps for the launch cache: what a file was when a compilation read it. A stamp is taken
 * BEFORE the file is read and compared again AFTER the compilation, so that a plan is never
 * stamped with a state newer than the content it was compiled from (an edit racing the
 * compilation makes the plan uncacheable instead of stale-but-fresh-looking). Size, mtime, ctime
 * (seconds and nanoseconds), inode and device: an in-place edit that restores size and mtime
 * still moves ctime, which nobody but the kernel sets.
 */
import { statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import {
  ADMIN_CONFIG,
  LEGACY_ADMIN_CONFIG,
  LEGACY_NORMAL_CONFIG,
  MERGE_JOURNAL,
  NORMAL_CONFIG,
  STAGE_DIR,
  STATUS_FILE,
} from '../node/layout.js';

export interface FileStamp {
  size: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
  ino: bigint;
  dev: bigint;
}

export type Stamp = FileStamp | 'missing';
export type StampFn = (path: string) => Stamp;

export const statStamp: StampFn = (path) => {
  try {
    const st = statSync(path, { bigint: true });
    return { size: st.size, mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs, ino: st.ino, dev: st.dev };
  } catch {
    return 'missing';
  }
};

export function sameStamp(a: Stamp | undefined, b: Stamp | undefined): boolean {
  if (a === undefined || b === undefined) return false;
  if (a === 'missing' || b === 'missing') return a === b;
  return a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs && a.ino === b.ino && a.dev === b.dev;
}

export interface StampedRead<T> {
  result: T;
  /** The stamps taken before `read` ran: what the plan records. */
  stamps: Map<string, Stamp>;
  /** Paths whose stamp moved while `read` ran: the result must not be cached. */
  changed: string[];
}

/** Stamps `paths`, runs `read`, stamps them again. */
export function stampedRead<T>(paths: readonly string[], read: () => T, stamp: StampFn = statStamp): StampedRead<T> {
  const stamps = new Map(paths.map((path) => [path, stamp(path)] as const));
  const result = read();
  const changed = paths.filter((path) => !sameStamp(stamps.get(path), stamp(path)));
  return { result, stamps, changed };
}

/**
 * Every file a family walk from `leafHostPath` can read: each directory's status file and its
 * configs under both names, and the journal of an interrupted package merge, up to (not
 * including) `/`, which is never a node.
 */
export function familyFileCandidates(leafHostPath: string): string[] {
  const files: string[] = [];
  for (let dir = leafHostPath; dir !== '/' && dir !== dirname(dir); dir = dirname(dir)) {
    for (const name of [
      STATUS_FILE,
      NORMAL_CONFIG,
      LEGACY_NORMAL_CONFIG,
      ADMIN_CONFIG,
      LEGACY_ADMIN_CONFIG,
      join(STAGE_DIR, MERGE_JOURNAL),
    ])
      files.push(join(dir, name));
  }
  return files;
}
