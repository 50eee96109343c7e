/**
 * Entry of the three executables. One package, three command sets: each executable loads oclif
 * with its own `bin` name and its own commands directory.
 */
import { execute, type Interfaces } from '@oclif/core';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export type Executable = 'redmanager' | 'redwrap-dnf' | 'redwrap';

export const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/**
 * redwrap-dnf takes its options before the command, as redpak does (`redwrap-dnf --redpath P
 * install X`): the first word that names a command is moved to the front for oclif.
 */
export function commandFirst(argv: string[], commands: readonly string[], valueFlags: readonly string[]): string[] {
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    if (arg === '--') break;
    if (arg.startsWith('-')) {
      if (valueFlags.includes(arg)) i += 1;
      continue;
    }
    if (commands.includes(arg)) return [arg, ...argv.slice(0, i), ...argv.slice(i + 1)];
    break;
  }
  return argv;
}

/** redwrap-dnf's commands and the options that take a value (to find the command word). */
const DNF_COMMANDS = ['manager', 'install', 'remove', 'erase', 'upgrade', 'update', 'reinstall', 'downgrade', 'list', 'info', 'repoquery', 'repolist', 'makecache', 'clean', 'history', 'host-provides'];
const DNF_VALUE_FLAGS = ['--redpath', '-r', '--rpath', '--rp', '--root', '--alias', '--template', '--template-admin', '--repo-dir', '--lock-wait', '--whatprovides', '--whatrequires', '--requires', '--provide'];

/**
 * oclif's view of one executable. Each has its own root (dist/oclif/BIN) so that each has its own
 * oclif.manifest.json (written by scripts/build-manifests.mjs): with it, a run imports only the
 * command it runs instead of every command of the executable.
 */
export function oclifOptions(bin: Executable): Interfaces.LoadOptions & { root: string } {
  const pjson = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as Interfaces.PJSON;
  const commandsDir = `../../commands/${bin}`;
  // redwrap is a single-command executable: its flags come first, then the program.
  const commands = bin === 'redwrap' ? { strategy: 'single', target: `${commandsDir}/index.js` } : commandsDir;
  pjson.oclif = { ...pjson.oclif, bin, commands } as Interfaces.PJSON['oclif'];
  return { root: join(PACKAGE_ROOT, 'dist', 'oclif', bin), pjson, isRoot: true };
}

export async function runExecutable(bin: Executable, argv: string[]): Promise<void> {
  if (bin === 'redwrap-dnf') argv = commandFirst(argv, DNF_COMMANDS, DNF_VALUE_FLAGS);
  await execute({ args: argv, loadOptions: oclifOptions(bin) });
}
