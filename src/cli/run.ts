/**
 * Entry of the three executables. One package, three command sets: each executable is one
 * bundle (dist/cli/BIN.js, written by scripts/build-bundles.mjs) holding its commands, and loads
 * oclif with its own `bin` name and that bundle as its command list.
 */
import { execute, type Interfaces } from '@oclif/core';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../package-root.js';
import { RedpakError } from '../errors.js';
import { canonicalRedwrapArgv, parseRedwrapArgv } from './redwrap-argv.js';

export type Executable = 'redmanager' | 'redwrap-dnf' | 'redwrap';

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
const DNF_COMMANDS = [
  'manager',
  'install',
  'remove',
  'erase',
  'autoremove',
  'mark',
  'upgrade',
  'update',
  'reinstall',
  'downgrade',
  'list',
  'info',
  'repoquery',
  'repolist',
  'makecache',
  'clean',
  'history',
  'host-provides',
];
const DNF_VALUE_FLAGS = [
  '--redpath',
  '-r',
  '--rpath',
  '--rp',
  '--root',
  '--alias',
  '--template',
  '--template-admin',
  '--repo-dir',
  '--lock-wait',
  '--whatprovides',
  '--whatrequires',
  '--requires',
  '--provide',
];

/**
 * oclif's view of one executable. Each has its own root (dist/oclif/BIN) so that each has its own
 * oclif.manifest.json (written by scripts/build-manifests.mjs): with it, oclif reads the flags
 * and help of every command without evaluating them. The commands come from the executable's
 * bundle (its `COMMANDS` export), which is the module already running.
 */
export function oclifOptions(bin: Executable): Interfaces.LoadOptions & { root: string } {
  const pjson = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as Interfaces.PJSON;
  const target = `../../cli/${bin}.cjs`;
  // redwrap is a single-command executable: its flags come first, then the program.
  const commands =
    bin === 'redwrap' ? { strategy: 'single', target } : { strategy: 'explicit', target, identifier: 'COMMANDS' };
  pjson.oclif = { ...pjson.oclif, bin, commands } as Interfaces.PJSON['oclif'];
  return { root: join(PACKAGE_ROOT, 'dist', 'oclif', bin), pjson, isRoot: true };
}

export async function runExecutable(bin: Executable, argv: string[]): Promise<void> {
  // bin/ starts Node without NODE_EXTRA_CA_CERTS (see bin/redwrap-dnf); child processes get it back.
  if (process.env.REDPAK_EXTRA_CA_CERTS && !process.env.NODE_EXTRA_CA_CERTS)
    process.env.NODE_EXTRA_CA_CERTS = process.env.REDPAK_EXTRA_CA_CERTS;
  if (bin === 'redwrap-dnf') argv = commandFirst(argv, DNF_COMMANDS, DNF_VALUE_FLAGS);
  if (bin === 'redwrap') {
    // redwrap's own grammar (cli/redwrap-argv.ts), the fast launcher's too; oclif then gets the
    // canonical form, which it cannot read differently.
    try {
      argv = canonicalRedwrapArgv(parseRedwrapArgv(argv));
    } catch (error) {
      if (!(error instanceof RedpakError)) throw error;
      reportUsageError(error, argv);
      return;
    }
  }
  // oclif reads process.argv itself to show help after a usage error: give it the same arguments.
  process.argv = [...process.argv.slice(0, 2), ...argv];
  await execute({ args: argv, loadOptions: oclifOptions(bin) });
}

/** A redwrap usage error, as the commands report theirs (base-command.ts): exit 2, `--json` honoured. */
function reportUsageError(error: RedpakError, argv: readonly string[]): void {
  const end = argv.indexOf('--');
  if ((end < 0 ? argv : argv.slice(0, end)).includes('--json'))
    process.stdout.write(`${JSON.stringify({ error: error.toJSON() }, null, 2)}\n`);
  else process.stderr.write(`redwrap: error: ${error.message}\n${error.hint ? `  hint: ${error.hint}\n` : ''}`);
  process.exitCode = error.exitCode;
}
