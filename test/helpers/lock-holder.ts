/**
 * Holds a family lock from another process, as a running transaction would: util-linux flock(1)
 * takes the kernel lock on the file and keeps it while `sleep` runs. The owner line is what a
 * redpak holder writes in the file.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';

export interface LockHolder {
  pid: number;
  /** Kills the holder (its whole process group: `sleep` shares the lock). */
  kill(signal?: NodeJS.Signals): void;
}

export async function holdLock(file: string, command = 'redwrap-dnf install other'): Promise<LockHolder> {
  const child: ChildProcess = spawn('flock', ['--exclusive', file, 'sleep', '60'], { stdio: 'ignore', detached: true });
  const holder: LockHolder = {
    pid: child.pid!,
    kill: (signal = 'SIGKILL') => {
      try {
        process.kill(-child.pid!, signal);
      } catch {
        /* gone already */
      }
    },
  };
  for (let i = 0; i < 100; i += 1) {
    if (spawnSync('flock', ['--nonblock', '--exclusive', file, 'true']).status !== 0) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  writeFileSync(file, `${JSON.stringify({ pid: holder.pid, command, since: new Date().toISOString() })}\n`);
  return holder;
}

/** Whether some process holds the kernel lock on `file` right now. */
export function lockIsHeld(file: string): boolean {
  return spawnSync('flock', ['--nonblock', '--exclusive', file, 'true']).status !== 0;
}
