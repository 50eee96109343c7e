/**
 * The one place src/pkg spawns external tools (rpm, rpmbuild, createrepo_c, gpg, python3).
 * Output is captured, never printed: callers decide what to show. A missing binary becomes a
 * 'tool-missing' RedpakError, a non-zero exit a 'tool-failed' one carrying the tool's stderr.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { RedpakError } from '../errors.js';
import { hostTool } from '../system/host-tools.js';

export interface RunOptions {
  /** Written to the child's stdin, then closed. */
  input?: string;
  /** Merged over process.env. */
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** Exit statuses that are not failures (default: only 0). */
  okStatuses?: number[];
  /** Short description of what we were doing, used in the error message. */
  purpose?: string;
  /**
   * Settle once the child closed its stdout after a complete line, without waiting for its
   * exit (it may go on with work of its own, as the solver writes its cache after answering);
   * `exited` then settles at its exit, whatever its status. Anything else: as without it.
   */
  answerOnStdoutEnd?: boolean;
}

export interface RunResult {
  status: number;
  stdout: string;
  stderr: string;
  /** With answerOnStdoutEnd: the child's exit, never rejected. */
  exited?: Promise<void>;
}

/** Run `command args…` to completion. Rejects with RedpakError when it cannot start or exits badly. */
export function run(command: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const started = startTool(command, args, options);
  started.send(options.input ?? '');
  return started.result;
}

/** A tool started before its input is known: it loads while the caller prepares the input. */
export interface StartedTool {
  /** Write the input to its stdin and close it (once); `purpose` as RunOptions', if known only now. */
  send(input: string, purpose?: string): void;
  /** As run's promise (options.input is ignored: the input is what `send` gives). */
  result: Promise<RunResult>;
  /** Kill a tool that will not be given its input; its result then settles unobserved. */
  discard(): void;
}

/** Start `command args…` now and give its input later (`send`), as `run` would. */
export function startTool(command: string, args: readonly string[], options: RunOptions = {}): StartedTool {
  const child = spawn(hostTool(command), args, {
    cwd: options.cwd,
    env: options.env ? { ...process.env, ...options.env } : process.env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  return adoptTool(child, command, args, options);
}

/**
 * A child spawned elsewhere (`command args…`, stdio piped, its input not written yet) taken over
 * as `startTool` would have started it (options.cwd and options.env were the spawner's).
 */
export function adoptTool(
  child: ChildProcessWithoutNullStreams,
  command: string,
  args: readonly string[],
  options: RunOptions = {},
): StartedTool {
  const okStatuses = options.okStatuses ?? [0];
  let what = options.purpose;
  const result = new Promise<RunResult>((resolve, reject) => {
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    if (options.answerOnStdoutEnd) {
      const exited = new Promise<void>((settle) => child.on('close', () => settle()));
      child.stdout.on('end', () => {
        const stdout = Buffer.concat(out).toString('utf8');
        if (stdout.endsWith('\n')) resolve({ status: 0, stdout, stderr: '', exited });
      });
    }
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') {
        reject(
          new RedpakError('tool-missing', `${command} is not installed (needed to ${what ?? `run ${command}`})`, {
            cause: error,
          }),
        );
      } else {
        reject(new RedpakError('tool-failed', `cannot run ${command}: ${error.message}`, { cause: error }));
      }
    });
    // A child that exits without reading stdin closes the pipe under us: not our failure.
    child.stdin.on('error', () => undefined);
    child.on('close', (code, signal) => {
      const result = {
        status: code ?? 128,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      };
      if (signal === null && okStatuses.includes(result.status)) {
        resolve(result);
        return;
      }
      const why = signal ? `was killed by ${signal}` : `exited with status ${result.status}`;
      const detail = result.stderr.trim() || result.stdout.trim();
      reject(
        new RedpakError(
          'tool-failed',
          `${command} ${why}${what ? ` while trying to ${what}` : ''}${detail ? `: ${detail}` : ''}`,
          {
            hint: `command: ${[command, ...args].join(' ')}`,
          },
        ),
      );
    });
  });
  let sent = false;
  return {
    send(input, purpose) {
      if (sent) return;
      sent = true;
      if (purpose !== undefined) what = purpose;
      child.stdin.end(input);
    },
    result,
    discard() {
      if (sent) return;
      sent = true;
      result.catch(() => undefined);
      child.kill('SIGKILL');
    },
  };
}
