/**
 * User and group names ↔ ids, through the system's databases (getent): names → ids for
 * set-user/set-group, uids → names for messages, lock lines and `redwrap ps`.
 */
import { execFileSync } from 'node:child_process';
import { userInfo } from 'node:os';
import { RedpakError } from '../errors.js';
import { hostTool } from './host-tools.js';

function lookup(database: 'passwd' | 'group', name: string): number {
  if (/^\d+$/.test(name)) return Number(name);
  let line: string;
  try {
    line = execFileSync(hostTool('getent'), [database, name], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
  } catch {
    throw new RedpakError('launch', `unknown ${database === 'passwd' ? 'user' : 'group'} "${name}"`, {
      hint: `check set-${database === 'passwd' ? 'user' : 'group'} in the family's configs, or the --${database === 'passwd' ? 'user' : 'group'} option`,
    });
  }
  return Number(line.split(':')[2]);
}

export const userId = (name: string): number => lookup('passwd', name);
export const groupId = (name: string): number => lookup('group', name);

const names = new Map<number, string | undefined>();

/**
 * The name of a uid in the system's user database, or undefined when it has none; remembered for
 * the process. The caller's own is asked of the C library (getpwuid, no process started: every
 * transaction writes it in its lock line).
 */
export function userName(uid: number): string | undefined {
  if (names.has(uid)) return names.get(uid);
  let name: string | undefined;
  if (uid === process.getuid?.()) {
    try {
      name = userInfo().username || undefined;
    } catch {
      name = undefined; // no entry for this uid: getent says the same
    }
  } else {
    try {
      const line = execFileSync(hostTool('getent'), ['passwd', String(uid)], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      name = line.split(':')[0] || undefined;
    } catch {
      name = undefined;
    }
  }
  names.set(uid, name);
  return name;
}

/** A uid as messages name it: its account name, else `uid N`. */
export function accountLabel(uid: number): string {
  return userName(uid) ?? `uid ${uid}`;
}
