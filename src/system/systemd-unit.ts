/**
 * A systemd service unit that runs a program in a node with redwrap (`redmanager service`):
 * its text (pure), where it goes, and enabling it. systemd.service(5), systemd.exec(5),
 * systemd.kill(5), systemd.resource-control(5).
 *
 * - Type=exec: the unit is started once redwrap has been exec'd, and a missing redwrap fails the start.
 * - KillMode=control-group: stopping the unit ends every process of its cgroup, background
 *   children that outlived the program included.
 * - Delegate=yes: the unit's cgroup is handed to redwrap, which creates the node cgroups below it.
 * - Output goes to the journal, tagged with the unit's name.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { RedpakError } from '../errors.js';
import { writeFileAtomic } from './atomic-write.js';
import { hostTool } from './host-tools.js';

/** systemd's Restart= values (systemd.service(5)). */
export const RESTART_VALUES = [
  'no',
  'on-success',
  'on-failure',
  'on-abnormal',
  'on-watchdog',
  'on-abort',
  'always',
] as const;
export type RestartPolicy = (typeof RESTART_VALUES)[number];

export interface ServiceUnit {
  /** The unit's name, with `.service`. */
  name: string;
  description: string;
  /** The redwrap executable and its arguments, program included. */
  execStart: string[];
  restart: RestartPolicy;
  /** A user unit (systemctl --user): wanted by default.target instead of multi-user.target. */
  user: boolean;
}

/** A unit name from `given` (`.service` added): letters, digits and `:_.-@` only (systemd.unit(5)). */
export function serviceName(given: string): string {
  const name = given.endsWith('.service') ? given : `${given}.service`;
  if (!/^[A-Za-z0-9:_.\\@-]+\.service$/.test(name) || name.length > 255 || name.startsWith('.'))
    throw new RedpakError('usage', `"${given}" is not a valid systemd unit name`, {
      hint: 'use letters, digits and : _ . - @ (or give --name)',
    });
  return name;
}

/**
 * One ExecStart word: double-quoted, with C escapes for `\`, `"` and control characters, `%%` for
 * `%` (specifiers) and `$$` for `$` (variable expansion), so that systemd passes it unchanged.
 */
export function execWord(word: string): string {
  if (word === ';')
    throw new RedpakError('usage', 'an argument ";" separates commands in ExecStart: it cannot be passed', {
      hint: 'wrap the command in a script inside the node',
    });
  const escaped = [...word]
    .map((c) => {
      if (c === '\\') return '\\\\';
      if (c === '"') return '\\"';
      if (c === '%') return '%%';
      if (c === '$') return '$$';
      const code = c.codePointAt(0) ?? 0;
      if (code < 0x20 || code === 0x7f) return `\\x${code.toString(16).padStart(2, '0')}`;
      return c;
    })
    .join('');
  return `"${escaped}"`;
}

export function unitText(unit: ServiceUnit): string {
  // A Description is one line; % would be a specifier there too.
  const description = unit.description.replace(/[\r\n]+/g, ' ').replaceAll('%', '%%');
  return `# Written by redmanager service: edit with redmanager service, or override with systemctl edit.
[Unit]
Description=${description}

[Service]
Type=exec
ExecStart=${unit.execStart.map(execWord).join(' ')}
KillMode=control-group
Delegate=yes
Restart=${unit.restart}
StandardOutput=journal
StandardError=journal
SyslogIdentifier=${unit.name.replace(/\.service$/, '')}

[Install]
WantedBy=${unit.user ? 'default.target' : 'multi-user.target'}
`;
}

/** Where a unit goes: /etc/systemd/system, or the caller's ~/.config/systemd/user ($XDG_CONFIG_HOME). */
export function unitDirectory(user: boolean, env: NodeJS.ProcessEnv = process.env): string {
  if (!user) return '/etc/systemd/system';
  const config = env.XDG_CONFIG_HOME?.startsWith('/') ? env.XDG_CONFIG_HOME : join(env.HOME || homedir(), '.config');
  return join(config, 'systemd', 'user');
}

/** Whether systemd runs this system (sd_booted(3): /run/systemd/system exists). */
export function systemdRunning(): boolean {
  return existsSync('/run/systemd/system');
}

/** Writes the unit (temp file + rename) and returns its path. */
export function writeUnit(unit: ServiceUnit, directory: string): string {
  mkdirSync(directory, { recursive: true });
  const file = join(directory, unit.name);
  writeFileAtomic(file, unitText(unit), { mode: 0o644 });
  return file;
}

/** `systemctl [--user] daemon-reload` then `enable --now`: the unit starts now and at every boot (login). */
export function enableUnit(unit: ServiceUnit): void {
  const scope = unit.user ? ['--user'] : [];
  const systemctl = hostTool('systemctl');
  for (const args of [['daemon-reload'], ['enable', '--now', unit.name]]) {
    try {
      execFileSync(systemctl, [...scope, ...args], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
    } catch (error) {
      const stderr = String((error as { stderr?: string }).stderr ?? (error as Error).message).trim();
      throw new RedpakError('tool-failed', `systemctl ${[...scope, ...args].join(' ')} failed: ${stderr}`, {
        hint: `the unit is written; enable it by hand: systemctl ${scope.join(' ')} enable --now ${unit.name}`.replace(
          '  ',
          ' ',
        ),
      });
    }
  }
}
