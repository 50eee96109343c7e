/**
 * The single entry point through which tests launch redwrap: the built executable, as a user
 * runs it. REDWRAP_BIN selects another launcher with the same command line (for instance
 * `dist/bin/redwrap-launch` directly, or a wrapper script around the full CLI), so that the same
 * tests can check every launch path.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { closeSync, openSync, readSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { TestContext } from 'node:test';
import { callerCacheDir } from '../../src/system/caller-cache.js';
import { planFileName, planKey } from '../../src/wrap/launch-cache.js';
import { fileURLToPath } from 'node:url';

export const PACKAGE_ROOT = resolve(fileURLToPath(import.meta.url), '../../../..');
export const REDWRAP_BIN = process.env.REDWRAP_BIN ?? resolve(PACKAGE_ROOT, 'bin/redwrap');

/** redwrap's executable: the C fast launcher, or a script running the full CLI where no compiler was found. */
export const LAUNCHER = join(PACKAGE_ROOT, 'dist/bin/redwrap-launch');

/** A test `skip` value: false when the fast launcher is built (an ELF file), else the reason. */
export const WITHOUT_FAST_LAUNCHER: false | string = isElf(LAUNCHER)
  ? false
  : 'the fast launcher is not built (no C compiler)';

function isElf(path: string): boolean {
  const magic = Buffer.alloc(4);
  try {
    const fd = openSync(path, 'r');
    try {
      readSync(fd, magic, 0, 4, 0);
    } finally {
      closeSync(fd);
    }
  } catch {
    return false;
  }
  return magic.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
}

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

/** The node a command line names (any spelling of --redpath), as the launcher resolves it. */
function redpathOf(args: readonly string[], cwd: string): string | undefined {
  let found: string | undefined;
  for (let i = 0; i < args.length; i += 1) {
    const arg = args[i];
    if (arg === '--' || !arg.startsWith('-')) break;
    if (['--redpath', '-r', '--rpath', '--rp'].includes(arg)) {
      i += 1;
      found = args[i];
    } else if (/^--(redpath|rpath|rp)=/.test(arg)) found = arg.slice(arg.indexOf('=') + 1);
  }
  return found ? resolve(cwd, found) : undefined;
}

/** Plans the launches of this test process cached in the host's cache directory: removed at exit. */
const cachedByTests = new Set<string>();
process.on('exit', () => {
  for (const plan of cachedByTests) {
    try {
      const stem = plan.replace(/\.plan$/, '');
      for (const name of readdirSync(dirname(plan))) {
        const path = join(dirname(plan), name);
        if (path === plan || path.startsWith(`${stem}.seccomp-`)) rmSync(path, { force: true });
      }
    } catch {
      // no cache directory: nothing to remove
    }
  }
});

function noteCachedPlans(args: readonly string[], cwd: string): void {
  const leaf = redpathOf(args, cwd);
  if (!leaf) return;
  try {
    for (const admin of [false, true]) cachedByTests.add(cachedPlanPath(leaf, admin));
  } catch {
    // not a directory (anymore), or no cache for this user
  }
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
      noteCachedPlans(args, opts.cwd ?? '/');
      done({ status: code ?? 128 + (signal ? constants.signals[signal] : 0), stdout, stderr });
    });
  });
}

/** Where the launch cache keeps `leaf`'s plan for this process's user (wrap/launch-cache.ts). */
export function cachedPlanPath(
  leaf: string,
  admin = false,
  uid = process.getuid!(),
  env: NodeJS.ProcessEnv = process.env,
  euid = process.geteuid!(),
): string {
  const dir = callerCacheDir(euid, { ...env, REDWRAP_NO_CACHE: undefined });
  if (!dir) throw new Error('no launch cache directory for this user');
  return join(dir, planFileName(planKey(leaf, admin, uid)));
}

/** Removes `leaf`'s cached plans (normal and admin, with their seccomp files) when the test ends. */
export function forgetCachedPlans(
  t: TestContext,
  leaf: string,
  uid = process.getuid!(),
  env: NodeJS.ProcessEnv = process.env,
  euid = process.geteuid!(),
): void {
  const files = [false, true].map((admin) => cachedPlanPath(leaf, admin, uid, env, euid));
  t.after(() => {
    for (const plan of files) {
      const stem = plan.replace(/\.plan$/, '');
      for (const name of readdirSync(dirname(plan), { withFileTypes: false }).map(String)) {
        const path = join(dirname(plan), name);
        if (path === plan || path.startsWith(`${stem}.seccomp-`)) rmSync(path, { force: true });
      }
    }
  });
}
