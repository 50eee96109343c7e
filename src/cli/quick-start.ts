/**
 * What the quick starts share (cli/quick.ts: tree, mergeconfig, --dump-only; cli/quick-transaction.ts:
 * redwrap-dnf's transactions): the commands' declarations in the oclif manifest written at build,
 * a command line read from them as oclif reads it when it is plain (undefined otherwise, for oclif
 * to decide), oclif's own variables, and what bin/ hands over.
 */
import { readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { isatty } from 'node:tty';
import { NO_CACHE_VARIABLE } from '../system/caller-cache.js';
import { PACKAGE_ROOT } from '../package-root.js';

/** An option as the oclif manifest declares it. */
interface FlagDeclaration {
  name: string;
  type: 'boolean' | 'option';
  char?: string;
  aliases?: string[];
  required?: boolean;
  default?: unknown;
  exclusive?: string[];
  multiple?: boolean;
  /** Added by scripts/build-manifests.mjs (oclif's manifest leaves it out): one value per occurrence. */
  multipleNonGreedy?: boolean;
  allowNo?: boolean;
  [other: string]: unknown;
}

/** A command as the oclif manifest declares it. */
export interface CommandDeclaration {
  aliases?: string[];
  flags: Record<string, FlagDeclaration>;
  args?: Record<string, { name: string; required?: boolean }>;
  strict?: boolean;
}

export type FlagValues = Record<string, string | boolean | number | string[]>;

/**
 * The commands of an executable, as its manifest (dist/oclif/BIN/oclif.manifest.json) declares
 * them; undefined when it cannot be read (oclif then reads the commands themselves).
 */
export function manifestCommands(bin: string): Record<string, CommandDeclaration> | undefined {
  const file = join(PACKAGE_ROOT, 'dist/oclif', bin, 'oclif.manifest.json');
  try {
    return (JSON.parse(readFileSync(file, 'utf8')) as { commands: Record<string, CommandDeclaration> }).commands;
  } catch {
    return undefined;
  }
}

/** What a declaration may hold for this reader to take the option; anything more is oclif's. */
const PLAIN_DECLARATION = new Set([
  'name',
  'type',
  'char',
  'aliases',
  'required',
  'default',
  'exclusive',
  'description',
  'summary',
  'helpGroup',
  'helpValue',
  'hasDynamicHelp',
  'multiple',
  'multipleNonGreedy',
  'allowNo',
  'hidden',
]);

/**
 * The options and arguments of a command line as oclif reads them, for a plain one; undefined
 * for anything else (oclif then decides):
 * - each option by its name, alias or letter, a value as the next argument or after `=` (not
 *   empty, not starting with `-`); once, or once per value where it takes several, one value each
 *   (`multipleNonGreedy`);
 * - an option whose default is not a string has a parse function of its own (an integer): its
 *   default when it is not given, declined when it is;
 * - arguments only where the command takes any number (`strict: false`), none empty nor
 *   starting with `-`, and at least one where it declares some, unless the standard input is a
 *   terminal (`stdinIsTerminal`): oclif reads a missing argument from any other standard input,
 *   for 10 ms, or reports a missing one. oclif orders the arguments by their first place on the
 *   line, so one that is also an option's value (`--releasever 9 … 9`) is declined.
 */
export function plainCommandLine(
  argv: readonly string[],
  command: CommandDeclaration,
  stdinIsTerminal: boolean = isatty(0),
): { flags: FlagValues; args: string[] } | undefined {
  const byName = new Map<string, FlagDeclaration>();
  for (const flag of Object.values(command.flags)) {
    if (Object.keys(flag).some((key) => !PLAIN_DECLARATION.has(key)) || flag.allowNo) continue;
    if (flag.multiple && !flag.multipleNonGreedy) continue;
    if (flag.type === 'option' && flag.default !== undefined && typeof flag.default !== 'string') continue;
    byName.set(`--${flag.name}`, flag);
    for (const alias of flag.aliases ?? []) byName.set(`--${alias}`, flag);
    if (flag.char) byName.set(`-${flag.char}`, flag);
  }
  const flags: FlagValues = {};
  const args: string[] = [];
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i] as string;
    if (!arg.startsWith('-')) {
      if (command.strict !== false || arg === '' || argv.indexOf(arg) !== i) return undefined;
      args.push(arg);
      continue;
    }
    const equals = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const flag = byName.get(equals < 0 ? arg : arg.slice(0, equals));
    if (!flag || (flag.name in flags && !flag.multiple)) return undefined;
    if (flag.type === 'boolean') {
      if (equals >= 0) return undefined;
      flags[flag.name] = true;
      continue;
    }
    const value = equals < 0 ? argv[++i] : arg.slice(equals + 1);
    if (!value || value.startsWith('-')) return undefined;
    if (flag.multiple) flags[flag.name] = [...((flags[flag.name] as string[] | undefined) ?? []), value];
    else flags[flag.name] = value;
  }
  const given = new Set(Object.keys(flags));
  for (const flag of Object.values(command.flags)) {
    if (given.has(flag.name)) {
      if (flag.exclusive?.some((other) => given.has(other))) return undefined;
    } else if (typeof flag.default === 'string' || (flag.type === 'option' && typeof flag.default === 'number'))
      flags[flag.name] = flag.default;
    else if (flag.required || (flag.default !== undefined && flag.default !== false)) return undefined;
  }
  const declaredArgs = Object.values(command.args ?? {});
  if (declaredArgs.length > 0 && args.length === 0 && (!stdinIsTerminal || declaredArgs.some((arg) => arg.required)))
    return undefined;
  return { flags, args };
}

/**
 * oclif's own variables (REDMANAGER_CONTENT_TYPE, …_DEBUG, OCLIF_…, DEBUG): their meaning is
 * oclif's. The product's own (REDWRAP_NO_CACHE) are read the same way by both starts.
 */
export function oclifEnvironment(bin: string): boolean {
  const scoped = `${bin.toUpperCase().replace(/-/g, '_')}_`;
  return Object.keys(process.env).some(
    (key) => (key.startsWith(scoped) && key !== NO_CACHE_VARIABLE) || key.startsWith('OCLIF_') || key === 'DEBUG',
  );
}

/**
 * Writes to stdout (or `fd` 2, stderr) without making process.stdout, whose stream machinery costs
 * a short command a few milliseconds; on any error (a non-blocking pipe that is full, a closed
 * one) the rest goes through the process's stream, as it went before.
 */
export function writeOut(text: string, fd: 1 | 2 = 1): void {
  const data = Buffer.from(text);
  let written = 0;
  try {
    while (written < data.length) written += writeSync(fd, data, written);
  } catch {
    (fd === 1 ? process.stdout : process.stderr).write(data.subarray(written));
  }
}

/** bin/ starts Node without NODE_EXTRA_CA_CERTS (see bin/redwrap-dnf); child processes get it back. */
export function restoreExtraCaCerts(): void {
  if (process.env.REDPAK_EXTRA_CA_CERTS && !process.env.NODE_EXTRA_CA_CERTS)
    process.env.NODE_EXTRA_CA_CERTS = process.env.REDPAK_EXTRA_CA_CERTS;
}
