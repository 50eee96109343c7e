/**
 * What an executable did, as strace saw it: the programs it ran (execve, in order), and with
 * `syscalls` more of its calls, as strace's lines. For tests of the order of things
 * (test/pkg/rpm-probe.test.ts, test/cli/solver-ahead.test.ts); `hasStrace` is false where strace is
 * not installed (./dev installs it).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PACKAGE_ROOT } from './cli.js';

export const hasStrace = spawnSync('strace', ['-V']).status === 0;

export interface Traced {
  status: number | null;
  stdout: string;
  stderr: string;
  /** strace's lines: `PID syscall(…) = result`, and `PID +++ exited with N +++` at an exit. */
  lines: string[];
  /** The argv of each program that was executed, in order. */
  execs: string[][];
}

/** The argv strace printed for an execve line (strings up to 200 bytes). */
export function execArgv(line: string): string[] {
  return [...(/\[(.*?)\]/.exec(line)?.[1] ?? '').matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1] ?? '');
}

/** Runs bin/BIN ARGS under `strace -f`, tracing execve and `syscalls`, with a timeout (ms) and variables set over the environment. */
export function traceBin(
  bin: string,
  args: string[],
  options: { syscalls?: string[]; timeout?: number; env?: Record<string, string> } = {},
): Traced {
  const dir = mkdtempSync(join(tmpdir(), 'redpak-strace-'));
  try {
    const log = join(dir, 'trace');
    const trace = ['execve', ...(options.syscalls ?? [])].join(',');
    const r = spawnSync(
      'strace',
      [
        '-f',
        '-q',
        '-s',
        '200',
        '-e',
        `trace=${trace}`,
        '-e',
        'signal=none',
        '-o',
        log,
        join(PACKAGE_ROOT, 'bin', bin),
        ...args,
      ],
      {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: options.timeout ?? 60_000,
        env: { ...process.env, ...options.env },
      },
    );
    const lines = readFileSync(log, 'utf8').split('\n');
    return { status: r.status, stdout: r.stdout, stderr: r.stderr, lines, execs: successfulExecs(lines) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The argv of each execve that succeeded. With -f, a call another process interrupts is printed
 * in two lines: `PID execve(…) <unfinished ...>`, then `PID <... execve resumed>) = 0`.
 */
function successfulExecs(lines: readonly string[]): string[][] {
  const execs: string[][] = [];
  const unfinished = new Map<string, string>();
  for (const line of lines) {
    const pid = line.split(' ', 1)[0] ?? '';
    if (/execve\(.*\) = 0$/.test(line)) execs.push(execArgv(line));
    else if (/execve\(.*<unfinished \.\.\.>$/.test(line)) unfinished.set(pid, line);
    else if (/<\.\.\. execve resumed>.*= 0$/.test(line) && unfinished.has(pid)) {
      execs.push(execArgv(unfinished.get(pid) ?? ''));
      unfinished.delete(pid);
    }
  }
  return execs;
}
