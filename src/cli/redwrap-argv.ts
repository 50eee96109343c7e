/**
 * redwrap's command line, one grammar for both launch paths (the fast launcher,
 * src/launcher/redwrap-launch.c, serves a subset of it and hands everything else over here).
 *
 *   redwrap [OPTION...] [--] PROGRAM [ARG...]
 *
 * Options come first, with upstream redpak's spellings; `--` or the first word that is not an
 * option starts the program, and nothing after it is ever read as an option or moved. A value
 * option takes the next word (`--redpath NODE`, `-r NODE`) or, long form only, `--redpath=NODE`.
 * A flag takes no value, except where upstream's getopt gives it an optional one, attached in the
 * long form only: `--strict=yes|no`, `--force=yes|no` (strict = !force), `--unsafe=yes|no`,
 * `--admin=PATH` (upstream ignores the path) and `--verbose=N`. `--strict yes` is `--strict` and
 * the program `yes`, as with upstream. Anything else is a usage error (exit 2).
 */
import { RedpakError } from '../errors.js';

export interface RedwrapOptions {
  redpath?: string;
  admin: boolean;
  dump: boolean;
  dumpOnly: boolean;
  strict: boolean;
  user?: string;
  group?: string;
  bwrap?: string;
  root?: string;
  json: boolean;
}

/** What redwrap is asked for: its help or version (shown by oclif), or a launch. */
export type ParsedRedwrapArgv =
  | { show: 'help' | 'version' }
  | { show?: undefined; options: RedwrapOptions; command: string[] };

type ValueKey = 'redpath' | 'user' | 'group' | 'bwrap' | 'root';
type BooleanKey =
  | 'admin'
  | 'dump'
  | 'dumpOnly'
  | 'json'
  | 'strict'
  | 'force'
  | 'unsafe'
  | 'verbose'
  | 'help'
  | 'version';

/** Flags that take an optional attached value with upstream (`--strict=no`), and what it may be. */
const OPTIONAL_VALUE: Partial<Record<BooleanKey, 'yes-no' | 'any' | 'integer'>> = {
  strict: 'yes-no',
  force: 'yes-no',
  unsafe: 'yes-no',
  admin: 'any',
  verbose: 'integer',
};

/** Every spelling, upstream redpak's first (docs/launch-cache.md, "Command line"); --root and --json are this project's. */
const VALUE_OPTIONS: Record<string, ValueKey> = {
  '--redpath': 'redpath',
  '--rpath': 'redpath',
  '--rp': 'redpath',
  '-r': 'redpath',
  '--user': 'user',
  '--uid': 'user',
  '-U': 'user',
  '--group': 'group',
  '--gid': 'group',
  '-G': 'group',
  '--bwrap': 'bwrap',
  '-b': 'bwrap',
  '--root': 'root',
};
const BOOLEAN_OPTIONS: Record<string, BooleanKey> = {
  '--admin': 'admin',
  '-a': 'admin',
  '--dump': 'dump',
  '--dump-only': 'dumpOnly',
  '-D': 'dumpOnly',
  '--strict': 'strict',
  '-s': 'strict',
  '--force': 'force',
  '-f': 'force',
  '--unsafe': 'unsafe',
  '-u': 'unsafe',
  '--verbose': 'verbose',
  '-v': 'verbose',
  '--json': 'json',
  '--help': 'help',
  '-h': 'help',
  '-?': 'help',
  '--version': 'version',
};

export const REDWRAP_USAGE =
  'redwrap --redpath NODE [--admin] [--strict[=yes|no]|--force[=yes|no]] [--dump|--dump-only] [--user U] [--group G] [--bwrap PATH] [--root SYSROOT] [--json] [--] PROGRAM [ARG...]';

const usage = (message: string) =>
  new RedpakError('usage', message, { hint: `usage: ${REDWRAP_USAGE} (redwrap --help explains them)` });

export function parseRedwrapArgv(argv: readonly string[]): ParsedRedwrapArgv {
  const options: RedwrapOptions = { admin: false, dump: false, dumpOnly: false, strict: false, json: false };
  // `redwrap help`, as the other executables take it; `redwrap --redpath P help` runs a program named help.
  if (argv[0] === 'help') return { show: 'help' };
  let show: 'help' | 'version' | undefined;
  let i = 0;
  for (; i < argv.length; i += 1) {
    const arg = argv[i];
    if (arg === '--') {
      i += 1;
      break;
    }
    if (!arg.startsWith('-') || arg === '-') break;
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    const valueKey = VALUE_OPTIONS[name];
    const booleanKey = BOOLEAN_OPTIONS[name];
    if (valueKey) {
      let value: string;
      if (eq > 0) value = arg.slice(eq + 1);
      else {
        if (i + 1 >= argv.length) throw usage(`option ${name} needs a value`);
        i += 1;
        value = argv[i];
      }
      if (!value) throw usage(`option ${name} needs a non-empty value`);
      options[valueKey] = value;
    } else if (booleanKey) {
      const value = eq > 0 ? arg.slice(eq + 1) : undefined;
      const valueKind = OPTIONAL_VALUE[booleanKey];
      if (value !== undefined && !valueKind) throw usage(`option ${name} takes no value (got "${arg}")`);
      if (value !== undefined && valueKind === 'yes-no' && value !== 'yes' && value !== 'no') {
        throw usage(`illegal boolean value '${value}' for option ${name} (valid values: yes or no)`);
      }
      if (value !== undefined && valueKind === 'integer' && !/^\d+$/.test(value))
        throw usage(`option ${name} takes a number (got "${value}")`);
      const yes = value !== 'no';
      if (booleanKey === 'help' || booleanKey === 'version') show ??= booleanKey;
      else if (booleanKey === 'force') options.strict = !yes;
      else if (booleanKey === 'strict') options.strict = yes;
      else if (booleanKey === 'verbose' || booleanKey === 'unsafe')
        continue; // upstream: no effect on a launch
      else options[booleanKey] = true;
    } else throw usage(`Nonexistent flag: ${name}`);
  }
  if (show) return { show };
  const command = argv.slice(i);
  if (!options.redpath) throw usage('missing --redpath NODE');
  if (!command.length && !options.dumpOnly) throw usage('no program to run');
  return { options, command };
}

/** The same launch for oclif: canonical options, `--`, the program, so that oclif reads nothing after `--`. */
export function canonicalRedwrapArgv(parsed: ParsedRedwrapArgv): string[] {
  if (parsed.show) return [`--${parsed.show}`];
  const { options } = parsed;
  const argv = [`--redpath=${options.redpath}`];
  for (const key of ['user', 'group', 'bwrap', 'root'] as const)
    if (options[key] !== undefined) argv.push(`--${key}=${options[key]}`);
  if (options.admin) argv.push('--admin');
  if (options.dump) argv.push('--dump');
  if (options.dumpOnly) argv.push('--dump-only');
  if (options.strict) argv.push('--strict');
  if (options.json) argv.push('--json');
  return [...argv, '--', ...parsed.command];
}
