/**
 * Whether the host's rpm takes --force-debian (Debian's build refuses to install or erase without
 * it, "use Alien"; upstream rpm does not know the option). The probe, `rpm --force-debian --eval 1`,
 * costs a process and about 12 ms of CPU per transaction, so its answer is kept in the caller's
 * cache directory (system/caller-cache.ts, docs/read-caches.md "rpm's options") for as long as
 * the rpm executable keeps its stamp. rpm's library is not stamped: Debian's rpm and Fedora's
 * rpm-libs are installed at exactly the same version as rpm, so a new library comes with a new
 * executable.
 *
 * Trust: the cache directory is the caller's own, out of every node's reach, and the file is
 * read only if it is the caller's and writable by nobody else (system/cache-file.ts). What it
 * holds is one boolean about the host's rpm: a wrong one makes rpm refuse to run, which changes
 * nothing in the node.
 */
import { realpathSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { RedpakError } from '../errors.js';
import { processIds } from '../present.js';
import { fileStamp, readCacheFile, recordable, writeCacheFile } from '../system/cache-file.js';
import { usableCallerCacheDir } from '../system/caller-cache.js';
import { hostTool } from '../system/host-tools.js';
import { run } from './exec.js';

/** The cache file, in the caller's cache directory. */
export const RPM_OPTIONS_FILE = 'rpm-options.json';
const FORMAT = 'redpak-rpm-options/1';

interface RpmOptionsRecord {
  format: typeof FORMAT;
  /** The stamp (system/cache-file.ts) of the rpm executable that was probed, links resolved. */
  rpm: string;
  forceDebian: boolean;
}

function isRecord(value: unknown, stamp: string): value is RpmOptionsRecord {
  const r = value as Partial<RpmOptionsRecord> | undefined;
  return r?.format === FORMAT && r.rpm === stamp && typeof r.forceDebian === 'boolean';
}

/** Runs the probe: true when rpm takes the option (it fails on an unknown one). */
function probe(rpm: string): Promise<boolean> {
  return run(rpm, ['--force-debian', '--eval', '1'], { purpose: 'probe rpm options' }).then(
    () => true,
    (error: unknown) => {
      if (error instanceof RedpakError && error.code === 'tool-missing') throw error;
      return false;
    },
  );
}

/**
 * The answer for the rpm executable `rpm` (a path or a name found as every tool is), from the
 * cache file in `cacheDir` while that executable keeps its stamp, else from the probe, then
 * recorded there (no cache when `cacheDir` is undefined).
 */
export async function forceDebianSupport(cacheDir: string | undefined, rpm = hostTool('rpm')): Promise<boolean> {
  // Not found (hostTool gives the bare name back): the probe says so. A relative path is never
  // resolved here: against the working directory, which may be a node, it could name anything.
  if (!isAbsolute(rpm)) return probe(rpm);
  let executable: string;
  try {
    executable = realpathSync(rpm);
  } catch {
    return probe(rpm);
  }
  const started = Date.now();
  const stamp = fileStamp(executable);
  const file = cacheDir === undefined ? undefined : join(cacheDir, RPM_OPTIONS_FILE);
  if (file && stamp) {
    const cached = readCacheFile(file, processIds.euid());
    if (isRecord(cached, stamp)) return cached.forceDebian;
  }
  const forceDebian = await probe(executable);
  if (file && stamp && recordable([stamp], started)) {
    const record: RpmOptionsRecord = { format: FORMAT, rpm: stamp, forceDebian };
    writeCacheFile(file, record);
  }
  return forceDebian;
}

let forceDebian: Promise<boolean> | undefined;

/**
 * Whether the host's rpm takes --force-debian (once per process). Only rpm's own modes accept it:
 * --initdb, --import and -K exec rpmdb/rpmkeys, which reject it.
 */
export function rpmSupportsForceDebian(): Promise<boolean> {
  forceDebian ??= forceDebianSupport(usableCallerCacheDir());
  return forceDebian;
}
