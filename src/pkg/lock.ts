/**
 * One package transaction per family at a time (rule 8). The lock is a kernel lock, flock(2), on a
 * file in the root-most node that is never removed:
 *
 *   - the file is opened (created if absent, never through a symlink) and its descriptor locked
 *     with flock(LOCK_EX | LOCK_NB) (system/kernel-calls.ts: the addon's call, or util-linux
 *     `flock --nonblock --exclusive 3` given that descriptor as its fd 3). flock(2) locks the
 *     open file description, so the lock is this process's either way, and the kernel releases
 *     it when the descriptor is closed or the process dies, SIGKILL included: there is no stale
 *     lock to take over, and two contenders can never both hold it (no unlink-then-create).
 *   - Once held, the owner (pid, command, since) is written into the file, for the "held by"
 *     message of the next contender. Trust: anything that runs in the root node (admin mode
 *     included) can write that file, so its content is only ever shown, never acted upon.
 *
 * A second command waits up to `waitSeconds`, then fails with 'lock-busy' naming the holder.
 *
 * Across users (docs/transactions.md, "As an ordinary user"): in a shared family the file belongs
 * to root, and flock(2) needs no more than a read-only descriptor, so an ordinary user who may
 * read the file takes the same lock; such a holder cannot write its owner line. The contender
 * then names the holder from the kernel's own record where it may read it: the process whose
 * descriptor of the file carries the flock (`/proc/PID/fdinfo`, readable for one's own processes
 * and by root for all), with its user from the owner of `/proc/PID` and its command line. That
 * record cannot be forged by the holder, so it is preferred to the line in the file; where it is
 * out of sight, the user is that of the process the line names (the owner of `/proc/PID`).
 */
import {
  closeSync,
  constants,
  existsSync,
  fstatSync,
  ftruncateSync,
  lstatSync,
  openSync,
  readdirSync,
  readFileSync,
  statSync,
  writeSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { RedpakError } from '../errors.js';
import { tryLockExclusive } from '../system/kernel-calls.js';
import { accountLabel } from '../system/accounts.js';

export const LOCK_FILE = '.redpak-transaction.lock';

export interface LockOwner {
  pid: number;
  /** Account name of the holder. */
  user?: string;
  command: string;
  since: string;
}

export interface FamilyLock {
  file: string;
  release(): void;
}

/** What the holder wrote in the lock file: shown in messages only (see the trust note above). */
function readOwner(file: string): LockOwner | undefined {
  try {
    const owner = JSON.parse(readFileSync(file, 'utf8')) as Partial<LockOwner>;
    if (typeof owner.pid !== 'number' || typeof owner.command !== 'string') return undefined;
    return {
      pid: owner.pid,
      ...(typeof owner.user === 'string' ? { user: owner.user.slice(0, 64) } : {}),
      command: owner.command.slice(0, 300),
      since: typeof owner.since === 'string' ? owner.since.slice(0, 40) : '',
    };
  } catch {
    return undefined;
  }
}

/**
 * The process holding the flock on `file`, from the kernel: the descriptor of the file whose
 * fdinfo lists a FLOCK (a contender's descriptor lists none). Only processes whose /proc/PID/fd
 * this process may read are seen: its user's own, or all for root.
 */
function holderFromKernel(file: string): LockOwner | undefined {
  let target: { dev: number; ino: number };
  try {
    target = statSync(file);
  } catch {
    return undefined;
  }
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n) && Number(n) !== process.pid)) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const st = statSync(`/proc/${pid}/fd/${fd}`);
        if (st.dev !== target.dev || st.ino !== target.ino) continue;
        if (!/^lock:\s.*\bFLOCK\b/m.test(readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'))) continue;
        const command = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
        return {
          pid: Number(pid),
          user: accountLabel(lstatSync(`/proc/${pid}`).uid),
          command: command.slice(0, 300),
          since: '',
        };
      } catch {
        /* the process or descriptor went away meanwhile */
      }
    }
  }
  return undefined;
}

/** The user running `pid` (the owner of /proc/PID, visible for every process), if it runs. */
function userOfPid(pid: number): string | undefined {
  try {
    return accountLabel(lstatSync(`/proc/${pid}`).uid);
  } catch {
    return undefined;
  }
}

/**
 * Who holds the lock, for the busy message: the kernel's record (user, pid, command line) when it
 * can be read, with the holder's own line (its command as redpak names it) when the pids agree,
 * or after it, as what the file says, when they do not.
 */
function describeHolder(file: string): string {
  const kernel = holderFromKernel(file);
  const line = readOwner(file);
  const text = (o: LockOwner) =>
    `${o.user ? `user ${o.user}, ` : ''}pid ${o.pid} (${o.command})${o.since ? ` since ${o.since}` : ''}`;
  if (kernel && line?.pid === kernel.pid) return text({ ...line, user: kernel.user });
  if (kernel) return `${text(kernel)}${line ? `; the lock file says: ${text(line)}` : ''}`;
  // Another user's process: its descriptors are out of sight, but who runs the pid the line names is not.
  if (line) return text({ ...line, user: userOfPid(line.pid) ?? `${line.user ?? 'unknown'} (pid no longer running)` });
  return 'a process that did not say which (one of another user, who cannot write the lock file)';
}

interface LockFd {
  fd: number;
  /** False when only a read-only descriptor could be had (another user's file): no owner line. */
  writable: boolean;
}

/**
 * Opens the lock file for locking: a regular file, never followed through a symlink; read-only
 * when this process may read but not write it (another user's family root), which flock allows.
 */
function openLockFile(file: string): LockFd {
  const flags = constants.O_NOFOLLOW | constants.O_NONBLOCK;
  let opened: LockFd;
  try {
    opened = { fd: openSync(file, constants.O_RDWR | constants.O_CREAT | flags, 0o644), writable: true };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    let fd: number | undefined;
    if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
      try {
        fd = openSync(file, constants.O_RDONLY | flags);
      } catch {
        fd = undefined;
      }
    }
    if (fd === undefined) throw cannotOpen(file, error as Error);
    opened = { fd, writable: false };
  }
  if (!fstatSync(opened.fd).isFile()) {
    closeSync(opened.fd);
    throw new RedpakError('io', `the family lock ${file} is not a regular file`, {
      hint: `remove ${file}; it is created again as needed`,
    });
  }
  return opened;
}

function cannotOpen(file: string, error: Error): RedpakError {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'EACCES' || code === 'EPERM') {
    const there = existsSync(file) ? file : dirname(file);
    const owner = (() => {
      try {
        return accountLabel(lstatSync(there).uid);
      } catch {
        return 'its owner';
      }
    })();
    const me = accountLabel(process.getuid?.() ?? 0);
    return new RedpakError(
      'lock-busy',
      `${me} cannot take the family lock ${file}: ${existsSync(file) ? `the file (owned by ${owner}) is not readable by ${me}` : `it does not exist and ${dirname(file)} (owned by ${owner}) is not writable by ${me}`}`,
      {
        hint: existsSync(file)
          ? `${owner} makes it readable: chmod 0644 ${file}`
          : `${owner} creates it: touch ${file} && chmod 0644 ${file} (any redwrap-dnf transaction of ${owner} on the family does)`,
      },
    );
  }
  return new RedpakError('io', `cannot open the family lock ${file}: ${error.message}`, {
    hint: `${file} must be a regular file (not a symlink): remove it if it is something else`,
  });
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

/** Holds the lock taken on `fd`: the owner line written (when it may be), released by closing `fd`. */
function holding(file: string, { fd, writable }: LockFd, command: string): FamilyLock {
  const owner: LockOwner = {
    pid: process.pid,
    user: accountLabel(process.getuid?.() ?? 0),
    command,
    since: new Date().toISOString(),
  };
  if (writable) {
    ftruncateSync(fd, 0);
    writeSync(fd, `${JSON.stringify(owner)}\n`, 0);
  }
  held.add(file);
  return handle(file, () => {
    held.delete(file);
    if (writable) ftruncateSync(fd, 0);
    // Closing the last descriptor of the open file description releases the flock.
    closeSync(fd);
  });
}

/** The family lock if it is free now (or already held by this process, nested), else undefined. */
export function tryAcquireFamilyLock(topHostPath: string, command: string): FamilyLock | undefined {
  const file = join(topHostPath, LOCK_FILE);
  if (held.has(file)) return handle(file, () => undefined);
  const lock = openLockFile(file);
  try {
    if (tryLockExclusive(lock.fd, file)) return holding(file, lock, command);
  } catch (error) {
    closeSync(lock.fd);
    throw error;
  }
  closeSync(lock.fd);
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
  const lock = openLockFile(file);
  try {
    while (!tryLockExclusive(lock.fd, file)) {
      if (Date.now() >= deadline) {
        throw new RedpakError(
          'lock-busy',
          `another package transaction is running in the family of ${options.topLabel ?? topHostPath}: ${describeHolder(file)}`,
          {
            hint: 'wait for it to finish and retry, or pass --lock-wait SECONDS to wait (the lock is released as soon as its holder ends, even if it was killed)',
          },
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } catch (error) {
    closeSync(lock.fd);
    throw error;
  }
  return holding(file, lock, options.command);
}
