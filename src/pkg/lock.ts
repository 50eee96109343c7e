/**
 * One package transaction per family at a time (rule 8). The lock is a file in the root-most
 * node, created with O_EXCL and holding the owner's pid and command; a lock whose process is
 * gone is stale and taken over. A second command waits up to `waitSeconds`, then fails with
 * 'lock-busy' naming the holder.
 */
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { RedpakError } from '../errors.js';

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

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readOwner(file: string): LockOwner | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as LockOwner;
  } catch {
    return undefined;
  }
}

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

/** Try once: the lock, or the current owner. */
function tryLock(file: string, command: string): FamilyLock | LockOwner {
  for (let attempt = 0; attempt < 3; attempt += 1) {
    try {
      const fd = openSync(file, 'wx', 0o644);
      const owner: LockOwner = { pid: process.pid, command, since: new Date().toISOString() };
      writeSync(fd, JSON.stringify(owner) + '\n');
      closeSync(fd);
      return handle(file, () => {
        if (readOwner(file)?.pid === process.pid) unlinkSync(file);
      });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new RedpakError('io', `cannot create the family lock ${file}: ${(error as Error).message}`);
      }
      const owner = readOwner(file);
      // Unreadable (being written right now) counts as held; a dead owner's lock is stale.
      if (owner && owner.pid !== process.pid && !alive(owner.pid)) {
        try {
          unlinkSync(file);
        } catch {
          /* someone else removed it first */
        }
        continue;
      }
      return owner ?? { pid: 0, command: 'unknown', since: '' };
    }
  }
  return readOwner(file) ?? { pid: 0, command: 'unknown', since: '' };
}

/** Lock files this process holds (redmanager apply holds its family's across its transactions). */
const held = new Set<string>();

/**
 * Take the family lock of the root-most node `topHostPath`. Taking it again in the process that
 * holds it nests: the lock goes with the outermost release.
 */
export async function acquireFamilyLock(topHostPath: string, options: { command: string; waitSeconds?: number; topLabel?: string }): Promise<FamilyLock> {
  const file = join(topHostPath, LOCK_FILE);
  if (held.has(file)) return handle(file, () => undefined);
  const deadline = Date.now() + (options.waitSeconds ?? 0) * 1000;
  for (;;) {
    const got = tryLock(file, options.command);
    if ('release' in got) {
      held.add(file);
      return handle(file, () => {
        held.delete(file);
        got.release();
      });
    }
    if (Date.now() >= deadline) {
      throw new RedpakError(
        'lock-busy',
        `another package transaction is running in the family of ${options.topLabel ?? topHostPath}: pid ${got.pid} (${got.command})${got.since ? ` since ${got.since}` : ''}`,
        { hint: `wait for it to finish and retry, or pass --lock-wait SECONDS to wait; if no such process exists, remove ${file}` },
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
