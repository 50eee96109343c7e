/** The running system's side of variable expansion: environment, ids, clock, shell. */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { RedpakError } from '../errors.js';
import type { HostFacts } from '../config/expand.js';

export const RESTRICTED_SHELL = '/usr/bin/bash';

/** Runs a `$(...)` or Execfd script the way redpak does: restricted bash, raw stdout. */
export function runRestrictedShell(script: string, env: NodeJS.ProcessEnv = process.env): string {
  try {
    return execFileSync(RESTRICTED_SHELL, ['-r', '-c', script], { encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const failure = error as { status?: number; stderr?: string; code?: string };
    if (failure.code === 'ENOENT') throw new RedpakError('tool-missing', `${RESTRICTED_SHELL} is needed to run "${script}"`);
    throw new RedpakError('expansion', `command "${script}" failed (exit ${failure.status ?? '?'}): ${(failure.stderr ?? '').trim()}`);
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

export function liveHostFacts(overrides: Partial<HostFacts> = {}): HostFacts {
  return {
    env: environment(),
    uid: process.getuid?.() ?? 0,
    gid: process.getgid?.() ?? 0,
    pid: process.pid,
    now: new Date(),
    runCommand: (script) => runRestrictedShell(script),
    uuid: () => randomUUID(),
    cgroupMountPoint: () => cgroupMountPoint(),
    ...overrides,
  };
}
