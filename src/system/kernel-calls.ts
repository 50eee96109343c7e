/**
 * The kernel calls Node has no function for and a package transaction needs: flock(2) on the
 * family lock and syncfs(2) at the journal's commit points (docs/transactions.md, "Kernel
 * calls"). They come from the addon dist/bin/redpak-kernel.node (system/kernel-addon.ts), a few
 * microseconds each, where the build made it (a C compiler and Node's headers); else from
 * util-linux flock(1) and coreutils sync(1), a process each, which forks all of Node (5 to 20 ms
 * on a small machine). Both ways lock the same open file description and sync the same
 * filesystem, so a transaction behaves the same either way.
 *
 * Trust: the addon is the package's own (system/kernel-addon.ts); the tools are found as every
 * tool is (system/host-tools.ts).
 */
import { spawnSync } from 'node:child_process';
import { closeSync, constants, openSync } from 'node:fs';
import { RedpakError } from '../errors.js';
import { hostTool } from './host-tools.js';
import { kernelAddon } from './kernel-addon.js';

/** flock(1)'s status when the lock is held elsewhere (its default, 1, is also its usage error's). */
const FLOCK_BUSY_STATUS = 75;

/**
 * flock(fd, LOCK_EX | LOCK_NB): true when the open file description of `fd` now holds the lock
 * (the kernel releases it when the last descriptor of it is closed, or its holder dies), false
 * when another holds it. `file` names the lock in errors.
 */
export function tryLockExclusive(fd: number, file: string): boolean {
  const calls = kernelAddon();
  if (calls) {
    try {
      return calls.tryLockExclusive(fd);
    } catch (error) {
      throw new RedpakError('io', `cannot lock ${file}: ${(error as Error).message}`);
    }
  }
  // flock(1) locks its fd 3, which is this description: the lock stays when flock(1) exits.
  const flock = hostTool('flock');
  const result = spawnSync(
    flock,
    ['--nonblock', '--exclusive', '--conflict-exit-code', String(FLOCK_BUSY_STATUS), '3'],
    {
      stdio: ['ignore', 'ignore', 'pipe', fd],
      encoding: 'utf8',
    },
  );
  if (result.status === 0) return true;
  if (result.status === FLOCK_BUSY_STATUS) return false;
  throw new RedpakError(
    'tool-missing',
    `cannot lock ${file} with ${flock}: ${result.error?.message ?? result.stderr.trim()}`,
    {
      hint: 'install util-linux (it provides flock)',
    },
  );
}

/**
 * syncfs(2) of the filesystem holding the directory `dir` (opened without following a link):
 * everything written there is on disk when this returns. Throws 'io' when the kernel reports a
 * write error, so that nothing is committed on top of lost data.
 */
export function syncFilesystem(dir: string): void {
  const failed = (why: string) => new RedpakError('io', `cannot sync the filesystem of ${dir}: ${why}`);
  const calls = kernelAddon();
  if (!calls) {
    const sync = hostTool('sync');
    const result = spawnSync(sync, ['--file-system', dir], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
    if (result.status !== 0) throw failed(result.error?.message ?? result.stderr.trim());
    return;
  }
  let fd: number | undefined;
  try {
    fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
    calls.syncFilesystem(fd);
  } catch (error) {
    throw failed((error as Error).message);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
