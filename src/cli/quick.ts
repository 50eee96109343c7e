/**
 * The quick start of the commands that only read and show (cli/views.ts): `redmanager tree`,
 * `redmanager mergeconfig`, `redwrap --dump-only`, given plainly, run without oclif, whose
 * loading is most of such a command's time. Its own bundle (dist/cli/quick.cjs) holds this and
 * the library, not oclif. Anything else — another command, help, an option given in a way this
 * reader does not take, a usage error, an oclif variable in the environment, an error that is not
 * the library's — is declined before anything is printed, and the executable's full bundle runs
 * it through oclif as before. The options are read from the commands' own declarations (the oclif
 * manifest written at build), the output and errors are printed as cli/base-command.ts prints
 * them: test/cli/start.test.ts compares both ways on each.
 */
import { readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { RedpakError } from '../errors.js';
import { PACKAGE_ROOT } from '../package-root.js';
import { parseRedwrapArgv, type RedwrapOptions } from './redwrap-argv.js';
import { reportError } from './report.js';
import { dumpOnlyView, mergeConfigView, treeView, type View } from './views.js';

/** An option as the oclif manifest declares it. */
interface FlagDeclaration {
  name: string;
  type: 'boolean' | 'option';
  char?: string;
  aliases?: string[];
  required?: boolean;
  default?: unknown;
  exclusive?: string[];
  [other: string]: unknown;
}

type Flags = Record<string, string | boolean>;

/** The quick commands of redmanager: what they show, from their options. */
const REDMANAGER_VIEWS: Record<string, (flags: Flags, json: boolean) => View<unknown>> = {
  tree: (flags) => treeView(flags as { redroot: string; root?: string }),
  mergeconfig: (flags, json) =>
    mergeConfigView(flags as { redpath: string; admin?: boolean; expand: boolean; root?: string }, json),
};

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
  'allowNo',
  'hidden',
]);

/**
 * The options of a command line as oclif reads them, for a plain one: each option once, by its
 * name, alias or letter, a value as the next argument or after `=` (not empty, not starting with
 * `-`); no argument that is not an option. Undefined for anything else (oclif then decides).
 */
export function plainFlags(argv: readonly string[], declared: Record<string, FlagDeclaration>): Flags | undefined {
  const byName = new Map<string, FlagDeclaration>();
  for (const flag of Object.values(declared)) {
    if (Object.keys(flag).some((key) => !PLAIN_DECLARATION.has(key)) || flag.multiple || flag.allowNo) continue;
    byName.set(`--${flag.name}`, flag);
    for (const alias of flag.aliases ?? []) byName.set(`--${alias}`, flag);
    if (flag.char) byName.set(`-${flag.char}`, flag);
  }
  const flags: Flags = {};
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i] as string;
    const equals = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const flag = byName.get(equals < 0 ? arg : arg.slice(0, equals));
    if (!flag || flag.name in flags) return undefined;
    if (flag.type === 'boolean') {
      if (equals >= 0) return undefined;
      flags[flag.name] = true;
      continue;
    }
    const value = equals < 0 ? argv[++i] : arg.slice(equals + 1);
    if (!value || value.startsWith('-')) return undefined;
    flags[flag.name] = value;
  }
  for (const flag of Object.values(declared)) {
    if (flag.name in flags) {
      if (flag.exclusive?.some((other) => other in flags)) return undefined;
    } else if (typeof flag.default === 'string') flags[flag.name] = flag.default;
    else if (flag.required || (flag.default !== undefined && flag.default !== false)) return undefined;
  }
  return flags;
}

/** oclif's own variables (REDMANAGER_CONTENT_TYPE, …_DEBUG, OCLIF_…, DEBUG): their meaning is oclif's. */
function oclifEnvironment(bin: string): boolean {
  const scoped = `${bin.toUpperCase().replace(/-/g, '_')}_`;
  return Object.keys(process.env).some((key) => key.startsWith(scoped) || key.startsWith('OCLIF_') || key === 'DEBUG');
}

/** The view a command line asks for, with --json, or undefined when it is not for the quick start. */
function quickView(bin: string, argv: readonly string[]): { show: () => View<unknown>; json: boolean } | undefined {
  if (oclifEnvironment(bin)) return undefined;
  if (bin === 'redmanager') {
    const [command = '', ...rest] = argv;
    const view = Object.hasOwn(REDMANAGER_VIEWS, command) ? REDMANAGER_VIEWS[command] : undefined;
    if (!view) return undefined;
    const manifest = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'dist/oclif/redmanager/oclif.manifest.json'), 'utf8'));
    const flags = plainFlags(rest, manifest.commands[command].flags);
    if (!flags) return undefined;
    const json = flags.json === true;
    return { show: () => view(flags, json), json };
  }
  if (bin === 'redwrap') {
    let options: RedwrapOptions;
    let command: string[];
    try {
      const parsed = parseRedwrapArgv(argv);
      if (parsed.show || !parsed.options.dumpOnly) return undefined;
      ({ options, command } = parsed);
    } catch {
      return undefined; // a usage error: oclif's to report, with the usage
    }
    return { show: () => dumpOnlyView(options, command), json: options.json };
  }
  return undefined;
}

/**
 * Runs the command line if it is one for the quick start, and says whether it did. When it did
 * not, nothing was printed and nothing changed.
 */
export function runQuick(bin: string, argv: readonly string[]): boolean {
  const asked = quickView(bin, argv);
  if (!asked) return false;
  restoreExtraCaCerts();
  let view: View<unknown>;
  try {
    view = asked.show();
  } catch (error) {
    if (!(error instanceof RedpakError)) return false; // oclif's to report, as before
    reportError(bin, error, asked.json);
    return true;
  }
  if (asked.json) writeOut(`${JSON.stringify(view.result, null, 2)}\n`);
  else {
    for (const warning of view.warnings) process.stderr.write(`warning: ${warning}\n`);
    if (view.text !== undefined) writeOut(`${view.text}\n`);
  }
  return true;
}

/**
 * Writes to stdout without making process.stdout, whose stream machinery costs a short command a
 * few milliseconds; on any error (a non-blocking pipe that is full, a closed one) the rest goes
 * through process.stdout, as it went before.
 */
function writeOut(text: string): void {
  const data = Buffer.from(text);
  let written = 0;
  try {
    while (written < data.length) written += writeSync(1, data, written);
  } catch {
    process.stdout.write(data.subarray(written));
  }
}

/** bin/ starts Node without NODE_EXTRA_CA_CERTS (see bin/redwrap-dnf); child processes get it back. */
export function restoreExtraCaCerts(): void {
  if (process.env.REDPAK_EXTRA_CA_CERTS && !process.env.NODE_EXTRA_CA_CERTS)
    process.env.NODE_EXTRA_CA_CERTS = process.env.REDPAK_EXTRA_CA_CERTS;
}
