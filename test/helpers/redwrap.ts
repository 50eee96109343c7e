/**
 * The single entry point through which tests launch redwrap: the built executable, as a user
 * runs it. REDWRAP_BIN selects another launcher with the same command line (for instance
 * `dist/bin/redwrap-launch` directly, or a wrapper script around the full CLI), so that the same
 * tests can check every launch path.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PACKAGE_ROOT = resolve(fileURLToPath(import.meta.url), '../../../..');
export const REDWRAP_BIN = process.env.REDWRAP_BIN ?? resolve(PACKAGE_ROOT, 'bin/redwrap');

/**
 * The environment redwrap runs with: small and fixed, so that what reaches a sandbox (Inherit,
 * inherit-env, $USER…) does not depend on who runs the tests. PATH is kept for bin/redwrap,
 * which finds node through it.
 */
export const BASE_ENV: Record<string, string> = {
  PATH: process.env.PATH ?? '/usr/bin:/bin',
  USER: 'tester',
  LOGNAME: 'tester',
  HOSTNAME: 'testhost',
  HOME: '/root',
  LANG: 'C',
};

export interface RedwrapOptions {
  /** Added to (or, with value undefined, removed from) BASE_ENV. */
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** Kills redwrap after this long (default 20 s) so that a broken sandbox cannot hang the suite. */
  timeoutMs?: number;
}

export interface RedwrapRun {
  /** redwrap's exit status (128+signal if redwrap itself was killed). */
  status: number;
  stdout: string;
  stderr: string;
}

export function redwrap(args: string[], opts: RedwrapOptions = {}): Promise<RedwrapRun> {
  const env: Record<string, string> = { ...BASE_ENV };
  for (const [key, value] of Object.entries(opts.env ?? {})) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  return new Promise((done, fail) => {
    const child = spawn(REDWRAP_BIN, args, { cwd: opts.cwd ?? '/', env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const guard = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 20_000);
    child.on('error', fail);
    child.on('close', (code, signal) => {
      clearTimeout(guard);
      done({ status: code ?? 128 + (signal ? constants.signals[signal] : 0), stdout, stderr });
    });
  });
}
