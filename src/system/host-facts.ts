/** The running system's side of variable expansion: environment, ids, clock, shell. */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { lstatSync, readFileSync, readlinkSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { RedpakError } from '../errors.js';
import { usernsRefusal, usernsRestriction } from './userns.js';
import type { HostFacts } from '../config/expand.js';
import { DEFAULT_BWRAP } from './bwrap-path.js';

export const RESTRICTED_SHELL = '/usr/bin/bash';
/** The same bubblewrap as the launches (fixed at build). */
const SANDBOX_BWRAP = DEFAULT_BWRAP;
/** A `$(...)` or Execfd command is killed after this long… */
export const COMMAND_TIMEOUT_MS = 10_000;
/** …and refused when it prints more than this. */
export const COMMAND_OUTPUT_LIMIT = 1 << 20;
/** Host files a command may read: what user/group lookups, the dynamic linker and `date` need. */
const SANDBOX_ETC = ['passwd', 'group', 'nsswitch.conf', 'ld.so.cache', 'localtime', 'hostname', 'os-release'];

/**
 * The bwrap arguments of the sandbox a command runs in. The command comes from a node's config,
 * which the node's admin (or an image from elsewhere) writes: it is untrusted, and we run as root.
 * It sees the host's /usr read-only and the few /etc files above, nothing writable but an empty
 * /tmp, no network, no capabilities, in its own session, and dies with us.
 */
export function sandboxArgv(script: string): string[] {
  const argv = [
    SANDBOX_BWRAP,
    '--unshare-all',
    '--die-with-parent',
    '--new-session',
    '--cap-drop',
    'ALL',
    '--clearenv',
    '--ro-bind',
    '/usr',
    '/usr',
  ];
  // Merged-/usr hosts have /bin -> usr/bin and so on: the same links; otherwise the directories, read-only.
  for (const top of ['bin', 'sbin', 'lib', 'lib32', 'lib64']) {
    try {
      const stats = lstatSync(`/${top}`);
      if (stats.isSymbolicLink()) argv.push('--symlink', readlinkSync(`/${top}`), `/${top}`);
      else if (stats.isDirectory()) argv.push('--ro-bind', `/${top}`, `/${top}`);
    } catch {
      // absent on this host
    }
  }
  for (const file of SANDBOX_ETC) argv.push('--ro-bind-try', `/etc/${file}`, `/etc/${file}`);
  argv.push(
    '--proc',
    '/proc',
    '--dev',
    '/dev',
    '--tmpfs',
    '/tmp',
    '--chdir',
    '/',
    RESTRICTED_SHELL,
    '-r',
    '-c',
    script,
  );
  return argv;
}

/**
 * Runs a `$(...)` or Execfd script in the sandbox of sandboxArgv, with restricted bash inside as
 * redpak runs it; returns its raw stdout. `env`: the only variables the command gets.
 */
export function runSandboxedCommand(
  script: string,
  env: Readonly<Record<string, string | undefined>> = { PATH: '/usr/bin:/bin' },
  limits: { timeoutMs?: number; maxOutput?: number } = {},
): string {
  const timeoutMs = limits.timeoutMs ?? COMMAND_TIMEOUT_MS;
  const maxOutput = limits.maxOutput ?? COMMAND_OUTPUT_LIMIT;
  const argv = sandboxArgv(script);
  const setenv = Object.entries(env).flatMap(([key, value]) => (value === undefined ? [] : ['--setenv', key, value]));
  argv.splice(argv.indexOf('--clearenv') + 1, 0, ...setenv);
  try {
    return execFileSync(argv[0], argv.slice(1), {
      encoding: 'utf8',
      env: {},
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: timeoutMs,
      killSignal: 'SIGKILL',
      maxBuffer: maxOutput,
    });
  } catch (error) {
    const failure = error as { status?: number | null; stderr?: string; code?: string; signal?: string };
    if (failure.code === 'ENOENT')
      throw new RedpakError('tool-missing', `bubblewrap (${SANDBOX_BWRAP}) is needed to run "${script}"`, {
        hint: 'apt-get install bubblewrap',
      });
    // bwrap failing where the host forbids its user namespace: say that, not the command's failure.
    const fromBwrap = /^bwrap: /.test(failure.stderr ?? '');
    const restriction = fromBwrap && process.geteuid?.() !== 0 ? usernsRestriction() : undefined;
    if (restriction) throw usernsRefusal(restriction, process.geteuid?.() ?? 0, (failure.stderr ?? '').trim());
    if (failure.code === 'ETIMEDOUT')
      throw new RedpakError('expansion', `command "${script}" did not finish within ${timeoutMs / 1000} s: killed`);
    if (failure.code === 'ENOBUFS')
      throw new RedpakError('expansion', `command "${script}" printed more than ${maxOutput} bytes: killed`);
    throw new RedpakError(
      'expansion',
      `command "${script}" failed (exit ${failure.status ?? failure.signal ?? '?'}): ${(failure.stderr ?? '').trim()}`,
    );
  }
}

export function cgroupMountPoint(mountsText?: string): string {
  let text = mountsText;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/mounts', 'utf8');
    } catch {
      text = '';
    }
  }
  for (const line of text.split('\n')) {
    const [, mountPoint, type] = line.split(' ');
    if (type === 'cgroup2' && mountPoint) return mountPoint;
  }
  return '/sys/fs/cgroup';
}

/** The environment, with USER, LOGNAME and HOSTNAME filled in from the system when unset. */
function environment(): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = { ...process.env };
  let user: string | undefined;
  try {
    user = userInfo().username;
  } catch {
    user = undefined;
  }
  env.USER ??= user;
  env.LOGNAME ??= env.USER;
  env.HOSTNAME ??= hostname();
  return env;
}

/** The running system, for a launch or a package transaction: `$(...)` runs, sandboxed. */
export function liveHostFacts(overrides: Partial<HostFacts> = {}): HostFacts {
  return {
    commands: 'run',
    env: environment(),
    uid: process.getuid?.() ?? 0,
    gid: process.getgid?.() ?? 0,
    pid: process.pid,
    now: new Date(),
    runCommand: (script) => runSandboxedCommand(script),
    uuid: () => randomUUID(),
    cgroupMountPoint: () => cgroupMountPoint(),
    ...overrides,
  };
}

/**
 * The running system for inspection and audit (redwrap --dump-only, mergeconfig, explain, check,
 * sbom): a config's `$(...)` is shown, never run, since auditing an untrusted image must not run
 * its code. runCommand refuses too, should a caller ask anyway.
 */
export function inspectionHostFacts(overrides: Partial<HostFacts> = {}): HostFacts {
  return liveHostFacts({
    commands: 'never',
    runCommand: (script) => {
      throw new RedpakError('expansion', `command "${script}" is not run during inspection`);
    },
    ...overrides,
  });
}
