/**
 * `tree`'s label cache: each node's alias, state and subdirectories, kept with the stamps of the
 * files they were read from, so that a family whose nodes did not change is drawn from three
 * lstat calls per node instead of reading its files and checking its config (docs/tree-cache.md).
 *
 * Who writes what is read here: the cache file lives in the caller's own cache directory
 * (system/caller-cache.ts: outside every node, mode 0700, every directory on the way owned by root
 * or the caller), is opened without following a link, and is read only if it is a regular file
 * owned by the caller and writable by nobody else; anything else is ignored, then replaced. What it
 * holds came from node files, which their administrators write: an entry is used only while the
 * node's directory, status file and normal config still have the stamps they had BEFORE they were
 * read (type, size, mtime, ctime, inode, device; ctime is set by the kernel alone, on any change).
 * An entry is recorded only when those ctimes are older than the walk by more than a clock tick,
 * so that an edit in the same tick as the read, which could keep the ctime, is not missed.
 */
import { lstatSync, type Stats, statSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../system/atomic-write.js';
import { readFileNoFollow } from '../system/no-follow-read.js';

/** What `tree` shows of a node and where it looks next. */
export interface CachedLabel {
  alias: string;
  state: string;
  /** The node directory's subdirectories not starting with a dot, sorted (node/load.ts childNames). */
  children: string[];
}

/** A node's stamps: its directory, its status file, its normal config (`undefined`: missing). */
export type NodeStamps = readonly [dir: string | undefined, status: string | undefined, config: string | undefined];

/** The format's name and version, first in the file: another one is ignored. */
const FORMAT = 'redpak-tree-labels/1';
/** Larger than any family's cache (some 250 bytes a node): a bigger file is ignored. */
const MAX_CACHE_BYTES = 64 * 1024 * 1024;
/**
 * How much older than the walk a recorded file's ctime must be: ctime comes from the kernel's
 * coarse clock, one tick (1 to 10 ms) at a time, and an edit in the tick of a read could keep it.
 */
const RACY_MARGIN_MS = 100;

interface CacheFile {
  format: typeof FORMAT;
  /** What the labels were checked against (config/parse.ts ConfigLimits): other limits, other answers. */
  limits: string;
  nodes: Record<string, { stamps: NodeStamps; label: CachedLabel }>;
}

/**
 * Times in milliseconds with their fraction (a double keeps a quarter of a microsecond at today's
 * dates): the nanosecond BigInt stats cost ten times as much to take, in garbage mostly.
 */
const stampOf = (st: Stats | undefined): string | undefined =>
  st && `${st.mode}:${st.size}:${st.mtimeMs}:${st.ctimeMs}:${st.ino}:${st.dev}`;

/** `stat` or `lstat`'s answer, undefined on any error: what cannot be stamped is read and not recorded. */
function statOrNothing(stat: typeof lstatSync, path: string): Stats | undefined {
  try {
    return stat(path, { throwIfNoEntry: false });
  } catch {
    // Not only ENOENT (which throwIfNoEntry covers): ENOTDIR, EACCES, ELOOP…
    return undefined;
  }
}

/**
 * A file's stamp without following a link, or undefined when nothing is there (or it cannot be
 * looked at). The file type is in it: a status or config that became a link no longer matches.
 */
export const fileStamp = (path: string): string | undefined => stampOf(statOrNothing(lstatSync, path));

/** A directory's stamp, through a link: what matters is which entries the directory holds. */
export const dirStamp = (path: string): string | undefined => stampOf(statOrNothing(statSync, path));

/** The ctime in a stamp, in milliseconds. */
const stampCtime = (stamp: string): number => Number(stamp.split(':')[3]);

const isStringList = (value: unknown): value is string[] =>
  Array.isArray(value) && value.every((item) => typeof item === 'string');

/** An entry as the file holds it, if it has the shape this module writes. */
function checkedEntry(value: unknown): { stamps: NodeStamps; label: CachedLabel } | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { stamps, label } = value as { stamps?: unknown; label?: Partial<CachedLabel> };
  if (!Array.isArray(stamps) || stamps.length !== 3 || !stamps.every((s) => typeof s === 'string')) return undefined;
  if (typeof label !== 'object' || label === null) return undefined;
  if (typeof label.alias !== 'string' || typeof label.state !== 'string' || !isStringList(label.children))
    return undefined;
  return { stamps: stamps as unknown as NodeStamps, label: label as CachedLabel };
}

/** The cache file's content if it can be trusted (see the module comment) and parses; undefined otherwise. */
function readTrusted(file: string, euid: number): unknown {
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

/** The cache file of the family whose root directory is `rootHostPath`: one per root directory (device and inode). */
export function labelCacheFile(dir: string, rootHostPath: string): string {
  const root = statOrNothing(statSync, rootHostPath);
  return join(dir, `tree-${root?.dev ?? 0}-${root?.ino ?? 0}.json`);
}

/** The labels of one family root, read from the cache directory and written back by `save`. */
export class TreeLabelCache {
  private readonly kept: CacheFile['nodes'] = {};
  private changed = false;
  /** When the walk began, in milliseconds since the epoch (what recorded ctimes are compared with). */
  private readonly startedMs = Date.now();

  private constructor(
    private readonly file: string,
    private readonly limits: string,
    private readonly found: CacheFile['nodes'],
  ) {}

  /**
   * The cache of the family whose root directory is `rootHostPath`, in the trusted directory
   * `dir`; empty when there is no usable file. `limits` names the config limits in force.
   */
  static open(dir: string, rootHostPath: string, limits: string, euid: number): TreeLabelCache {
    const file = labelCacheFile(dir, rootHostPath);
    const content = readTrusted(file, euid) as Partial<CacheFile> | undefined;
    const usable =
      content?.format === FORMAT && content.limits === limits && typeof content.nodes === 'object' && content.nodes;
    const cache = new TreeLabelCache(file, limits, usable ? (content.nodes as CacheFile['nodes']) : {});
    cache.changed = !usable;
    return cache;
  }

  /** The label recorded for the node at `hostPath`, if its files still have the stamps `stamps`. */
  lookup(hostPath: string, stamps: NodeStamps): CachedLabel | undefined {
    if (!Object.hasOwn(this.found, hostPath)) return undefined;
    const entry = checkedEntry(this.found[hostPath]);
    if (!entry || entry.stamps.some((stamp, i) => stamp === undefined || stamp !== stamps[i])) {
      this.changed = true;
      return undefined;
    }
    this.kept[hostPath] = entry;
    return entry.label;
  }

  /**
   * Records a label read from files stamped `stamps` before the read; a node with a missing file
   * or a file changed within the last clock ticks is not recorded (read again next time).
   */
  record(hostPath: string, stamps: NodeStamps, label: CachedLabel): void {
    this.changed = true;
    const racy = (stamp: string | undefined) =>
      stamp === undefined || stampCtime(stamp) >= this.startedMs - RACY_MARGIN_MS;
    if (stamps.some(racy)) return;
    this.kept[hostPath] = { stamps, label };
  }

  /**
   * Writes the labels used or recorded by this walk (the entries of nodes no longer seen are
   * dropped), if anything differs from the file; a failure only costs the next walk its cache.
   */
  save(): void {
    if (!this.changed && Object.keys(this.kept).length === Object.keys(this.found).length) return;
    const content: CacheFile = { format: FORMAT, limits: this.limits, nodes: this.kept };
    try {
      writeFileAtomic(this.file, JSON.stringify(content), {
        mode: 0o600,
        exclusive: true,
        temp: `${this.file}.tmp-${process.pid}`,
      });
    } catch {
      // The directory was checked when opened; a full disk or a race only loses the cache.
    }
  }
}
