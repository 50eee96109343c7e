/**
 * The one way to read a file that someone else may write (a node's files, a cache): opened without
 * following a link (O_NOFOLLOW; O_NONBLOCK, so that a FIFO planted there cannot block the open),
 * judged on its own fstat before a byte is read, and read no further than the size judged.
 */
import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';

/**
 * The text of `file`, after `check` accepted its stats (it throws to refuse). Errors of the open,
 * the check and the read are thrown as they are.
 */
export function readFileNoFollow(file: string, check: (stats: Stats) => void): string {
  const fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    const stats = fstatSync(fd);
    check(stats);
    const buffer = Buffer.allocUnsafe(stats.size);
    let filled = 0;
    for (let read = 1; filled < stats.size && read > 0; filled += read)
      read = readSync(fd, buffer, filled, stats.size - filled, null);
    return buffer.toString('utf8', 0, filled);
  } finally {
    closeSync(fd);
  }
}
