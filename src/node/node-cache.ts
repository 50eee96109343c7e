/**
 * Nodes read before: a node's status and parsed configs, kept with the stamps of the files they
 * came from, so that loading a family whose files did not change parses no YAML
 * (docs/read-caches.md).
 *
 * Who writes what is read here: the cache files are the caller's own (system/cache-file.ts, in
 * the directory of system/caller-cache.ts), as the launch plans beside them are; what they hold
 * came from node files, which their administrators write, and an entry is used only while the
 * node's directory, status file and every config name the read looked at keep the stamps they had
 * before it looked. A node that failed to load is never recorded: it fails again, with its error.
 */
import { join } from 'node:path';
import { processIds } from '../present.js';
import { dirStamp, fileStamp, readCacheFile, recordable, stampIdentity, writeCacheFile } from '../system/cache-file.js';
import { usableCallerCacheDir } from '../system/caller-cache.js';
import { nodeFileNames } from './layout.js';
import type { RedNode } from './types.js';

/** The format's name and version: another one is ignored. */
const FORMAT = 'redpak-node-read/1';

interface CacheFile {
  format: typeof FORMAT;
  /** What the node was checked against (config/parse.ts ConfigLimits): other limits, other answers. */
  limits: string;
  /** The node's directory on this machine and its path on the target: the same node reached the same way. */
  hostPath: string;
  path: string;
  stamps: string[];
  node: RedNode;
}

/** A node not found in the cache: its stamps, taken before it is read, for `record`. */
export interface Unread {
  file: string;
  limits: string;
  hostPath: string;
  path: string;
  stamps: (string | undefined)[];
}

/**
 * The stamps of what loadNode reads: the directory (its entries: `etc` turned into a link changes
 * it) and the node's files (layout.ts nodeFileNames).
 */
function stampsOf(hostPath: string, admin: boolean): (string | undefined)[] {
  return [dirStamp(hostPath), ...nodeFileNames(admin).map((file) => fileStamp(join(hostPath, file)))];
}

/** Read nodes in the caller's cache directory `dir` (one file per node directory and admin flag). */
export class NodeReadCache {
  /** When reading began, in milliseconds since the epoch (what recorded ctimes are compared with). */
  private readonly startedMs = Date.now();

  constructor(
    private readonly dir: string,
    private readonly euid: number,
  ) {}

  /**
   * The node at `hostPath` (`path` on the target) as recorded, if its files keep their stamps;
   * otherwise what `record` needs once the node is read. `limits` names the config limits in force.
   */
  lookup(hostPath: string, path: string, admin: boolean, limits: string): { node: RedNode } | { unread: Unread } {
    const stamps = stampsOf(hostPath, admin);
    const identity = stampIdentity(stamps[0]);
    const file = join(this.dir, `read-${identity}-${admin ? 'admin' : 'normal'}.json`);
    const unread = { unread: { file, limits, hostPath, path, stamps } };
    if (identity === 'none') return unread;
    const content = readCacheFile(file, this.euid) as Partial<CacheFile> | undefined;
    const same =
      content?.format === FORMAT &&
      content.limits === limits &&
      content.hostPath === hostPath &&
      content.path === path &&
      Array.isArray(content.stamps) &&
      content.stamps.length === stamps.length &&
      content.stamps.every((stamp, i) => stamp === stamps[i]) &&
      typeof content.node === 'object' &&
      content.node !== null;
    return same ? { node: content.node as RedNode } : unread;
  }

  /** Records `node`, read after `unread`'s stamps were taken, unless a file was too fresh or unstampable. */
  record(unread: Unread, node: RedNode): void {
    if (!recordable(unread.stamps, this.startedMs)) return;
    const { file, limits, hostPath, path } = unread;
    const content: CacheFile = { format: FORMAT, limits, hostPath, path, stamps: unread.stamps as string[], node };
    writeCacheFile(file, content);
  }
}

/**
 * The caller's nodes read before, in the caller's cache directory when there is one to trust
 * (system/caller-cache.ts), else undefined: the commands that read a family pass it to loadFamily.
 */
export function callersNodeReadCache(): NodeReadCache | undefined {
  const dir = usableCallerCacheDir();
  return dir === undefined ? undefined : new NodeReadCache(dir, processIds.euid());
}
