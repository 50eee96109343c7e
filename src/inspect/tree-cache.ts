/**
 * `tree`'s label cache: each node's alias, state and subdirectories, kept with the stamps of the
 * files they were read from, so that a family whose nodes did not change is drawn from three
 * lstat calls per node instead of reading its files and checking its config (docs/read-caches.md).
 *
 * Who writes what is read here: the cache file is the caller's own (system/cache-file.ts, in the
 * directory of system/caller-cache.ts); what it holds came from node files, which their
 * administrators write, and an entry is used only while the node's directory, status file and
 * normal config keep the stamps they had before they were read.
 */
import { join } from 'node:path';
import { dirStamp, readCacheFile, recordable, stampIdentity, writeCacheFile } from '../system/cache-file.js';

/** What `tree` shows of a node and where it looks next. */
export interface CachedLabel {
  alias: string;
  state: string;
  /** The node directory's subdirectories not starting with a dot, sorted (node/load.ts childNames). */
  children: string[];
}

/** A node's stamps (system/cache-file.ts): its directory, its status file, its normal config. */
export type NodeStamps = readonly [dir: string | undefined, status: string | undefined, config: string | undefined];

/** The format's name and version, first in the file: another one is ignored. */
const FORMAT = 'redpak-tree-labels/1';

interface CacheFile {
  format: typeof FORMAT;
  /** What the labels were checked against (config/parse.ts ConfigLimits): other limits, other answers. */
  limits: string;
  nodes: Record<string, { stamps: NodeStamps; label: CachedLabel }>;
}

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

/** The cache file of the family whose root directory is `rootHostPath`: one per root directory (device and inode). */
export function labelCacheFile(dir: string, rootHostPath: string): string {
  return join(dir, `tree-${stampIdentity(dirStamp(rootHostPath))}.json`);
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
    const content = readCacheFile(file, euid) as Partial<CacheFile> | undefined;
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
    if (recordable(stamps, this.startedMs)) this.kept[hostPath] = { stamps, label };
  }

  /**
   * Writes the labels used or recorded by this walk (the entries of nodes no longer seen are
   * dropped), if anything differs from the file; a failure only costs the next walk its cache.
   */
  save(): void {
    if (!this.changed && Object.keys(this.kept).length === Object.keys(this.found).length) return;
    const content: CacheFile = { format: FORMAT, limits: this.limits, nodes: this.kept };
    writeCacheFile(this.file, content);
  }
}
