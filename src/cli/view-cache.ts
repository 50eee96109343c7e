/**
 * Views shown before: what `redmanager mergeconfig` and `redwrap --dump-only` printed, kept with
 * everything it was computed from, so that the same command line on an unchanged family prints it
 * again without the quick start's bundle being loaded (docs/read-caches.md, "Views"). start.cjs
 * asks here first, through dist/cli/view-cache.cjs (cli/quick-view.ts).
 *
 * Who writes what is read here: the entries are the caller's own files (system/cache-file.ts, in
 * the directory of system/caller-cache.ts), written by the quick start (cli/quick.ts) after it
 * printed a view. What the view came from is written by others and is therefore checked again
 * before an entry is believed, each against what it was before the view read it:
 * - the family's files (node administrators, admin-mode sandboxes): the stamps of every directory
 *   and file a family walk from the node reads (node/layout.ts nodeFileNames), and of the status
 *   file of each directory above that is not a node; the node path's real path;
 * - the environment (the caller): every variable the view read, set or not, and its value;
 * - export sources (anyone who can write there): what each one probed was (wrap/host-probe.ts);
 * - the product (its installer): the stamp of the bundle that computed the view.
 * A view that read what cannot be checked again (the pid, the clock, a fresh UUID, a value the
 * system filled in: wrap/host-record.ts) is not kept, nor one that ran a `$(...)`, nor a launch
 * plan the launch cache would not keep (wrap/fast-plan.ts uncacheableReason).
 */
import { realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CONFIG_BYTES_VARIABLE } from '../config/limits.js';
import { nodeFileNames, STATUS_FILE, Sysroot } from '../node/layout.js';
import type { Family } from '../node/types.js';
import { packagePath } from '../package-root.js';
import { processIds } from '../present.js';
import { dirStamp, fileStamp, readCacheFile, recordable, writeCacheFile } from '../system/cache-file.js';
import { usableCallerCacheDir } from '../system/caller-cache.js';
import { probeHost } from '../wrap/host-probe.js';
import { newHostRecord, type HostRecord } from '../wrap/host-record.js';

/** The format's name and version: another one is ignored. */
const FORMAT = 'redpak-view/1';

/** How a path is stamped: a directory through a link (its entries), a file not through one (cache-file.ts). */
type StampKind = 'dir' | 'file';

interface ViewEntry {
  format: typeof FORMAT;
  /** The command line, where it ran and as whom (viewKey). */
  key: string;
  /** The stamp of the bundle that computed the view: another build may print otherwise. */
  build: string;
  /** The node path given, made absolute, and its real path, from which the family is found. */
  redpath: string;
  realpath: string;
  stamps: [path: string, kind: StampKind, stamp: string][];
  /** Environment variables read, with their value (null: unset). */
  env: [name: string, value: string | null][];
  probes: [path: string, kind: string][];
  stdout: string;
  stderr: string;
}

/** What a view printed. */
export interface ViewOutput {
  stdout: string;
  stderr: string;
}

/** What a view read, for recordView: taken by FamilyWatch. */
export interface ViewReads {
  redpath: string;
  realpath: string;
  stamps: [path: string, kind: StampKind, stamp: string][];
  record: HostRecord;
}

/** Which command line a view answers: its words, the directory it ran in (a relative node path), the caller's ids ($UID, $GID). */
function viewKey(bin: string, argv: readonly string[]): string {
  return JSON.stringify([bin, argv, process.cwd(), processIds.uid(), processIds.gid()]);
}

/** FNV-1a, 32 bits: a file name for a key. Two keys may share one; the key inside the file decides. */
function keyHash(key: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i += 1) hash = Math.imul(hash ^ key.charCodeAt(i), 0x01000193);
  return (hash >>> 0).toString(16).padStart(8, '0');
}

/** The file of a command line's view in the cache directory `dir`. */
export function viewCacheFile(dir: string, bin: string, argv: readonly string[]): string {
  return join(dir, `view-${keyHash(viewKey(bin, argv))}.json`);
}

/** The build's stamp: the quick start's bundle, which computes the views kept here. */
const buildStamp = (): string | undefined => fileStamp(packagePath('dist/cli/quick.cjs'));

/**
 * What a family read from the node path `given` looked like before it began: start() before the
 * read, reads() after it. Every directory from the node's real path up to `/` (excluded) is
 * stamped with all the files a node read may look at; reads() keeps those of the nodes and the
 * status file of each other directory.
 */
export class FamilyWatch {
  /** Host facts read (wrap/host-record.ts): the view's host facts must note into it. */
  readonly record = newHostRecord();

  private constructor(
    private readonly redpath: string,
    private readonly realpath: string,
    private readonly admin: boolean,
    private readonly startedMs: number,
    private readonly stamps: Map<string, string | undefined>,
  ) {}

  /** Stamps the family's files, or undefined where the node path cannot be resolved (the read reports it). */
  static start(given: string, admin: boolean): FamilyWatch | undefined {
    const startedMs = Date.now();
    let redpath: string;
    let realpath: string;
    try {
      redpath = Sysroot.open(undefined).targetPath(given);
      realpath = realpathSync(redpath);
    } catch {
      return undefined;
    }
    const stamps = new Map<string, string | undefined>();
    for (let dir = realpath; dir !== '/' && dir !== dirname(dir); dir = dirname(dir)) {
      stamps.set(dir, dirStamp(dir));
      for (const name of nodeFileNames(admin)) stamps.set(join(dir, name), fileStamp(join(dir, name)));
    }
    return new FamilyWatch(redpath, realpath, admin, startedMs, stamps);
  }

  /** What the read of `family` depended on, or undefined when it cannot be checked again. */
  reads(family: Family): ViewReads | undefined {
    if (this.record.dynamic.size) return undefined;
    const nodes = new Set(family.nodes.map((node) => node.hostPath));
    const kept: [string, StampKind, string | undefined][] = [];
    for (let dir = this.realpath; dir !== '/' && dir !== dirname(dir); dir = dirname(dir)) {
      if (!nodes.delete(dir)) {
        kept.push([join(dir, STATUS_FILE), 'file', this.stamps.get(join(dir, STATUS_FILE))]);
        continue;
      }
      kept.push([dir, 'dir', this.stamps.get(dir)]);
      for (const name of nodeFileNames(this.admin))
        kept.push([join(dir, name), 'file', this.stamps.get(join(dir, name))]);
    }
    // A node read from elsewhere than the walk stamped (never expected), or a file too fresh to tell an edit from.
    if (
      nodes.size ||
      !recordable(
        kept.map(([, , stamp]) => stamp),
        this.startedMs,
      )
    )
      return undefined;
    return {
      redpath: this.redpath,
      realpath: this.realpath,
      stamps: kept as [string, StampKind, string][],
      record: this.record,
    };
  }
}

/** Keeps what a command line printed, with what it read, in the caller's cache directory. */
export function recordView(
  bin: string,
  argv: readonly string[],
  reads: ViewReads,
  output: ViewOutput,
  dir: string | undefined = usableCallerCacheDir(),
): void {
  const build = buildStamp();
  if (dir === undefined || build === undefined) return;
  const env = new Map(reads.record.env);
  // The config limits (config/limits.ts) are read from the environment by every node read.
  env.set(CONFIG_BYTES_VARIABLE, process.env[CONFIG_BYTES_VARIABLE]);
  const entry: ViewEntry = {
    format: FORMAT,
    key: viewKey(bin, argv),
    build,
    redpath: reads.redpath,
    realpath: reads.realpath,
    stamps: reads.stamps,
    env: [...env].map(([name, value]) => [name, value ?? null]),
    probes: [...reads.record.probes],
    ...output,
  };
  writeCacheFile(viewCacheFile(dir, bin, argv), entry);
}

/** Whether everything `entry` was computed from is as it was. */
function stillTrue(entry: Partial<ViewEntry>): boolean {
  const { redpath, realpath, stamps, env, probes } = entry;
  if (typeof redpath !== 'string' || !Array.isArray(stamps) || !Array.isArray(env) || !Array.isArray(probes))
    return false;
  try {
    if (realpathSync(redpath) !== realpath) return false;
  } catch {
    return false;
  }
  const probe = probeHost(Sysroot.open(undefined));
  try {
    return (
      stamps.every(([path, kind, stamp]) => (kind === 'dir' ? dirStamp(path) : fileStamp(path)) === stamp) &&
      env.every(([name, value]) => (process.env[name] ?? null) === value) &&
      probes.every(([path, kind]) => probe(path) === kind)
    );
  } catch {
    return false; // an entry of another shape (a record that is not a list, a path that is not a string)
  }
}

/** What this command line printed before, if everything it was computed from is as it was. */
export function cachedView(
  bin: string,
  argv: readonly string[],
  dir: string | undefined = usableCallerCacheDir(),
): ViewOutput | undefined {
  if (dir === undefined) return undefined;
  const entry = readCacheFile(viewCacheFile(dir, bin, argv), processIds.euid()) as Partial<ViewEntry> | undefined;
  if (
    entry?.format !== FORMAT ||
    entry.key !== viewKey(bin, argv) ||
    entry.build !== buildStamp() ||
    typeof entry.stdout !== 'string' ||
    typeof entry.stderr !== 'string' ||
    !stillTrue(entry)
  )
    return undefined;
  return { stdout: entry.stdout, stderr: entry.stderr };
}
