/**
 * A small journal of filesystem changes that can be undone: every write goes through a temporary
 * file and a rename, and `rollback()` restores what was there before (or removes what was
 * created), so a failed operation leaves no half-written node behind.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { RedpakError } from '../errors.js';
import { writeFileAtomic } from './atomic-write.js';

type Undo = () => void;

export class FsTransaction {
  private readonly undo: Undo[] = [];

  /** Creates a directory and its missing parents; rollback removes the ones it created. */
  mkdirp(dir: string, mode = 0o755): void {
    const missing: string[] = [];
    for (let d = dir; !existsSync(d); d = dirname(d)) missing.unshift(d);
    for (const d of missing) {
      this.guard(() => mkdirSync(d, { mode }), `cannot create directory ${d}`);
      this.undo.push(() => rmSync(d, { recursive: true, force: true }));
    }
  }

  writeFile(file: string, content: string, mode = 0o644): void {
    this.mkdirp(dirname(file));
    const previous = existsSync(file) ? readFileSync(file) : undefined;
    this.guard(() => writeFileAtomic(file, content, { mode, exclusive: true }), `cannot write ${file}`);
    this.undo.push(() => (previous === undefined ? rmSync(file, { force: true }) : writeFileSync(file, previous)));
  }

  rollback(): void {
    for (const step of this.undo.reverse()) {
      try {
        step();
      } catch {
        // Best effort: keep undoing the rest.
      }
    }
    this.undo.length = 0;
  }

  /** Runs `work` inside a transaction, rolled back if it throws. */
  static run<T>(work: (tx: FsTransaction) => T): T {
    const tx = new FsTransaction();
    try {
      return work(tx);
    } catch (error) {
      tx.rollback();
      throw error;
    }
  }

  private guard(action: () => void, message: string): void {
    try {
      action();
    } catch (error) {
      throw new RedpakError('io', `${message}: ${(error as Error).message}`, { cause: error });
    }
  }
}
