/** User and group names → ids, through the system's databases (getent), for set-user/set-group. */
import { execFileSync } from 'node:child_process';
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

/** The name of a uid in the system's user database, or undefined when it has none. */
export function userName(uid: number): string | undefined {
  try {
    const line = execFileSync(hostTool('getent'), ['passwd', String(uid)], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    return line.split(':')[0] || undefined;
  } catch {
    return undefined;
  }
}
