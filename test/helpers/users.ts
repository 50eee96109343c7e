/**
 * Throwaway unprivileged users for rootless tests: made with useradd (so the suite needs root to
 * make one; CI runs as root), removed with their home when the test ends, and commands run as them
 * through setpriv with a clean environment, as a login would give them.
 */
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { chownSync, mkdirSync, rmSync } from 'node:fs';
import type { TestContext } from 'node:test';

export interface TestUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

/** Why a throwaway user cannot be made here, or undefined when it can (for `{ skip }`). */
export const WITHOUT_THROWAWAY_USER: string | undefined =
  process.getuid?.() !== 0
    ? 'making a throwaway user needs root'
    : spawnSync('useradd', ['--help']).status !== 0
      ? 'useradd is not installed'
      : spawnSync('setpriv', ['--version']).status !== 0
        ? 'setpriv is not installed'
        : undefined;

/**
 * A new user with a home directory (0700) and a runtime directory like the one logind makes
 * (`/run/user/UID`, 0700), both removed with the user when the test ends.
 */
export function throwawayUser(t: TestContext, options: { home?: boolean } = {}): TestUser {
  const name = `rpk${process.pid % 100000}${Math.floor(Math.random() * 100000)}`;
  const withHome = options.home ?? true;
  const made = spawnSync(
    'useradd',
    [withHome ? '--create-home' : '--no-create-home', '--shell', '/bin/sh', '--user-group', name],
    { encoding: 'utf8' },
  );
  if (made.status !== 0) throw new Error(`useradd ${name}: ${made.stderr}`);
  const id = (flag: string) => Number(spawnSync('id', [flag, name], { encoding: 'utf8' }).stdout.trim());
  const user: TestUser = { name, uid: id('-u'), gid: id('-g'), home: withHome ? `/home/${name}` : '/' };
  // useradd reuses the uid of a user removed earlier: what that one left in the world-writable
  // directories would be taken for this user's.
  removeFilesOf(user.uid);
  const runtime = runtimeDirOf(user);
  mkdirSync(runtime, { recursive: true, mode: 0o700 });
  chownSync(runtime, user.uid, user.gid);
  t.after(() => {
    // Processes left by a failed test would keep userdel from removing the user.
    spawnSync('pkill', ['-KILL', '-u', String(user.uid)]);
    removeFilesOf(user.uid);
    spawnSync('userdel', withHome ? ['--remove', name] : [name]);
    rmSync(runtime, { recursive: true, force: true });
  });
  return user;
}

/** Removes what `uid` owns in the directories every user may write to (not following mounts). */
function removeFilesOf(uid: number): void {
  spawnSync('find', ['/tmp', '/var/tmp', '/dev/shm', '-xdev', '-user', String(uid), '-delete']);
}

/** The runtime directory logind would give the user. */
export function runtimeDirOf(user: Pick<TestUser, 'uid'>): string {
  return `/run/user/${user.uid}`;
}

/** The environment a login gives the user: Debian's default PATH for users (no /sbin). */
export function userEnv(user: TestUser, extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: '/usr/local/bin:/usr/bin:/bin',
    HOME: user.home,
    USER: user.name,
    LOGNAME: user.name,
    XDG_RUNTIME_DIR: runtimeDirOf(user),
    LANG: 'C.UTF-8',
    ...extra,
  };
}

function setprivArgv(user: TestUser, argv: string[], env: Record<string, string>): string[] {
  return [
    `--reuid=${user.uid}`,
    `--regid=${user.gid}`,
    '--init-groups',
    '--',
    'env',
    '-i',
    ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
    ...argv,
  ];
}

export interface RunAsOptions {
  env?: Record<string, string>;
  cwd?: string;
  timeout?: number;
  input?: string;
}

/** Runs argv as the user, with userEnv plus `env`, and waits for it. */
export function runAs(user: TestUser, argv: string[], options: RunAsOptions = {}): SpawnSyncReturns<string> {
  return spawnSync('setpriv', setprivArgv(user, argv, userEnv(user, options.env)), {
    encoding: 'utf8',
    cwd: options.cwd ?? user.home,
    timeout: options.timeout ?? 120_000,
    input: options.input,
  });
}

/** runAs without blocking the test's event loop (for tests that serve http meanwhile). */
export function runAsAsync(
  user: TestUser,
  argv: string[],
  options: RunAsOptions = {},
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('setpriv', setprivArgv(user, argv, userEnv(user, options.env)), {
      cwd: options.cwd ?? user.home,
      timeout: options.timeout ?? 120_000,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
    if (options.input !== undefined) child.stdin.end(options.input);
    else child.stdin.end();
  });
}
