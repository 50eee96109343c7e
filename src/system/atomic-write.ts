/**
 * The one temp-file-and-rename write: readers see the old content or the new, never half of it.
 * Callers differ in what else they need, so each guarantee is an option they ask for.
 */
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export interface AtomicWriteOptions {
  /** Mode of the new file (before the umask); the default is writeFileSync's. */
  mode?: number;
  /**
   * Create the temporary file exclusively (O_EXCL, after removing a leftover): a link planted at
   * its name, which is guessable, is replaced, never followed.
   */
  exclusive?: boolean;
  /** fsync the file before the rename and its directory after, so the rename survives a crash. */
  durable?: boolean;
  /** The temporary file; `FILE.tmp-PID` by default. It must be in the same directory as FILE. */
  temp?: string;
}

/** Writes `content` to `file` through a temporary file renamed into place; no temporary file is left on failure. */
export function writeFileAtomic(file: string, content: string | Uint8Array, options: AtomicWriteOptions = {}): void {
  const temp = options.temp ?? `${file}.tmp-${process.pid}`;
  if (options.exclusive) rmSync(temp, { force: true });
  try {
    writeFileSync(temp, content, {
      ...(options.mode === undefined ? {} : { mode: options.mode }),
      ...(options.exclusive ? { flag: 'wx' } : {}),
    });
    if (options.durable) fsyncPath(temp);
    renameSync(temp, file);
  } catch (error) {
    // Never remove what an exclusive create refused: that is someone else's file.
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') rmSync(temp, { force: true });
    throw error;
  }
  if (options.durable) fsyncPath(dirname(file));
}

function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
