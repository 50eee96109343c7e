/**
 * One package transaction per family at a time (rule 8). The lock is a kernel lock, flock(2), on a
 * file in the root-most node that is never removed:
 *
 *   - the file is opened (created if absent, never through a symlink) and util-linux
 *     `flock --nonblock --exclusive 3` runs with that descriptor as its fd 3. flock(2) locks the
 *     open file description, which this process's descriptor shares, so the lock stays held by
 *     this process after flock(1) exits, and the kernel releases it when the descriptor is closed
 *     or the process dies, SIGKILL included: there is no stale lock to take over, and two
 *     contenders can never both hold it (no unlink-then-create).
 *   - Once held, the owner (pid, command, since) is written into the file, for the "held by"
 *     message of the next contender. Trust: anything that runs in the root node (admin mode
 *     included) can write that file, so its content is only ever shown, never acted upon.
 *
 * A second command waits up to `waitSeconds`, then fails with 'lock-busy' naming the holder.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, constants, fstatSync, ftruncateSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { RedpakError } from '../errors.js';
import { hostTool } from '../system/host-tools.js';

export const LOCK_FILE = '.redpak-transaction.lock';

export interface LockOwner {
  pid: number;
  command: string;
  since: string;
}

export interface FamilyLock {
  file: string;
  release(): void;
}

/** util-linux flock(1), from the standard system directories first (PATH may be the caller's). */
let flockPath: string | undefined;
function flockBinary(): string {
  flockPath ??= hostTool('flock');
  return flockPath;
}

/** flock(1)'s status when the lock is held elsewhere (its default, 1, is also its usage error's). */
const BUSY_STATUS = 75;

/** What the holder wrote in the lock file: shown in messages only (see the trust note above). */
function readOwner(file: string): LockOwner | undefined {
  try {
    const owner = JSON.parse(readFileSync(file, 'utf8')) as Partial<LockOwner>;
    if (typeof owner.pid !== 'number' || typeof owner.command !== 'string') return undefined;
    return {
      pid: owner.pid,
      command: owner.command.slice(0, 300),
      since: typeof owner.since === 'string' ? owner.since.slice(0, 40) : '',
    };
  } catch {
    return undefined;
  }
}

/** Opens the lock file for locking: a regular file, never followed through a symlink. */
function openLockFile(file: string): number {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK, 0o644);
  } catch (error) {
    throw new RedpakError('io', `cannot open the family lock ${file}: ${(error as Error).message}`, {
      hint: `${file} must be a regular file (not a symlink): remove it if it is something else`,
    });
  }
  if (!fstatSync(fd).isFile()) {
    closeSync(fd);
    throw new RedpakError('io', `the family lock ${file} is not a regular file`, {
      hint: `remove ${file}; it is created again as needed`,
    });
  }
  return fd;
}

/** Try once: true if this process now holds the lock on `fd`. */
function tryFlock(fd: number, file: string): boolean {
  const result = spawnSync(
    flockBinary(),
    ['--nonblock', '--exclusive', '--conflict-exit-code', String(BUSY_STATUS), '3'],
    {
      stdio: ['ignore', 'ignore', 'pipe', fd],
      encoding: 'utf8',
    },
  );
  if (result.status === 0) return true;
  if (result.status === BUSY_STATUS) return false;
  throw new RedpakError(
    'tool-missing',
    `cannot lock ${file} with ${flockBinary()}: ${result.error?.message ?? result.stderr.trim()}`,
    {
      hint: 'install util-linux (it provides flock)',
    },
  );
}

/** Lock files this process holds (redmanager apply holds its family's across its transactions). */
const held = new Set<string>();

/** A lock handle whose `release` runs `release` once, however often it is called. */
function handle(file: string, release: () => void): FamilyLock {
  let released = false;
  return {
    file,
    release: () => {
      if (released) return;
      released = true;
      release();
    },
  };
}

/** Holds the lock taken on `fd`: the owner line written, released by closing `fd`. */
function holding(file: string, fd: number, command: string): FamilyLock {
  const owner: LockOwner = { pid: process.pid, command, since: new Date().toISOString() };
  ftruncateSync(fd, 0);
  writeSync(fd, `${JSON.stringify(owner)}\n`, 0);
  held.add(file);
  return handle(file, () => {
    held.delete(file);
    ftruncateSync(fd, 0);
    // Closing the last descriptor of the open file description releases the flock.
    closeSync(fd);
  });
}

/** The family lock if it is free now (or already held by this process, nested), else undefined. */
export function tryAcquireFamilyLock(topHostPath: string, command: string): FamilyLock | undefined {
  const file = join(topHostPath, LOCK_FILE);
  if (held.has(file)) return handle(file, () => undefined);
  const fd = openLockFile(file);
  try {
    if (tryFlock(fd, file)) return holding(file, fd, command);
  } catch (error) {
    closeSync(fd);
    throw error;
  }
  closeSync(fd);
  return undefined;
}

/**
 * Take the family lock of the root-most node `topHostPath`. Taking it again in the process that
 * holds it nests: the lock goes with the outermost release.
 */
export async function acquireFamilyLock(
  topHostPath: string,
  options: { command: string; waitSeconds?: number; topLabel?: string },
): Promise<FamilyLock> {
  const file = join(topHostPath, LOCK_FILE);
  if (held.has(file)) return handle(file, () => undefined);
  const deadline = Date.now() + (options.waitSeconds ?? 0) * 1000;
  const fd = openLockFile(file);
  try {
    while (!tryFlock(fd, file)) {
      if (Date.now() >= deadline) {
        const owner = readOwner(file);
        const holder = owner
          ? `pid ${owner.pid} (${owner.command})${owner.since ? ` since ${owner.since}` : ''}`
          : 'a process that did not say which';
        throw new RedpakError(
          'lock-busy',
          `another package transaction is running in the family of ${options.topLabel ?? topHostPath}: ${holder}`,
          {
            hint: 'wait for it to finish and retry, or pass --lock-wait SECONDS to wait (the lock is released as soon as its holder ends, even if it was killed)',
          },
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } catch (error) {
    closeSync(fd);
    throw error;
  }
  return holding(file, fd, options.command);
}
