/**
 * Entry of the three executables. One package, three command sets: each executable is one
 * bundle (dist/cli/BIN.js, written by scripts/build-bundles.mjs) holding its commands, and loads
 * oclif with its own `bin` name and that bundle as its command list. Usage errors found here or
 * by oclif's parser are reported like every other error (base-command.ts).
 */
import { execute, type Interfaces } from '@oclif/core';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../package-root.js';
import { RedpakError } from '../errors.js';
import { canonicalRedwrapArgv, parseRedwrapArgv } from './redwrap-argv.js';
import { commandWords, orderArguments, type CommandShape } from './command-words.js';
import { redconfArgv, redmicrodnfArgv } from './redpak-spellings.js';
import { versionLine } from './version-line.cjs';
import { holdSolverAhead, releaseSolverAhead } from './solver-ahead.js';
import { manifestCommands, restoreExtraCaCerts } from './quick-start.js';

export type Executable = 'redmanager' | 'redwrap-dnf' | 'redwrap';
/**
 * oclif's views: one per executable, and redwrap's operations (`redwrap ps`, `redwrap stop`,
 * `redwrap enter`), which are commands of their own beside the launch, in the same bundle (its `OPERATIONS`).
 */
export type OclifView = Executable | 'redwrap-operations';

/**
 * The words that start a redwrap operation instead of a launch. Only the first argument is one: a
 * launch starts with its options (`--redpath` is required), so a first word that is not an option
 * was a usage error before, and `redwrap --redpath P -- ps` still runs the program ps.
 */
export const REDWRAP_OPERATIONS = ['ps', 'stop', 'enter'] as const;

function packageJson(): Interfaces.PJSON {
  return JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as Interfaces.PJSON;
}

/**
 * oclif's view of one executable. Each has its own root (dist/oclif/BIN) so that each has its own
 * oclif.manifest.json (written by scripts/build-manifests.mjs): with it, oclif reads the flags
 * and help of every command without evaluating them. The commands come from the executable's
 * bundle (its `COMMANDS` export), which is the module already running.
 */
export function oclifOptions(
  view: OclifView,
  name: string = view === 'redwrap-operations' ? 'redwrap' : view,
): Interfaces.LoadOptions & { root: string } {
  const pjson = packageJson();
  const bin = view === 'redwrap-operations' ? 'redwrap' : view;
  const target = `../../cli/${bin}.cjs`;
  // The launch is a single command: its flags come first, then the program.
  const commands =
    view === 'redwrap'
      ? { strategy: 'single', target }
      : { strategy: 'explicit', target, identifier: view === 'redwrap-operations' ? 'OPERATIONS' : 'COMMANDS' };
  pjson.oclif = { ...pjson.oclif, bin: name, commands } as Interfaces.PJSON['oclif'];
  return { root: join(PACKAGE_ROOT, 'dist', 'oclif', view), pjson, isRoot: true };
}

/**
 * Runs one executable. `commands` is its bundle's command table (redwrap: none, its grammar is
 * its own).
 */
export async function runExecutable(
  bin: Executable,
  argv: string[],
  commands: Readonly<Record<string, CommandShape>> = {},
  spelledAs: string = bin,
  solver?: ChildProcessWithoutNullStreams,
): Promise<void> {
  // A solver started ahead (start.cts) is held for the command, and killed if it did not take it.
  if (solver) holdSolverAhead(solver, 'query');
  try {
    await runCommandLine(bin, argv, commands, spelledAs);
  } finally {
    releaseSolverAhead();
  }
}

async function runCommandLine(
  bin: Executable,
  argv: string[],
  commands: Readonly<Record<string, CommandShape>>,
  spelledAs: string,
): Promise<void> {
  const name = spelledAs === 'redconf' || spelledAs === 'redmicrodnf' ? spelledAs : bin;
  restoreExtraCaCerts();
  const view: OclifView =
    bin === 'redwrap' && (REDWRAP_OPERATIONS as readonly string[]).includes(argv[0] ?? '') ? 'redwrap-operations' : bin;
  try {
    // redwrap's own grammar (cli/redwrap-argv.ts), the fast launcher's too; oclif then gets the
    // canonical form, which it cannot read differently. Its operations are plain oclif commands.
    if (view === 'redwrap-operations') {
      // argv as given: the operation's word first
    } else if (bin === 'redwrap') {
      const parsed = parseRedwrapArgv(argv);
      // oclif answers --version for executables with several commands only: the same line here.
      if (parsed.show === 'version') {
        process.stdout.write(`${versionLine(packageJson())}\n`);
        return;
      }
      argv = canonicalRedwrapArgv(parsed);
    } else {
      if (name === 'redconf') argv = redconfArgv(argv);
      if (name === 'redmicrodnf') argv = redmicrodnfArgv(argv);
      // The commands' declarations as the manifest has them: reading the classes would evaluate every command.
      argv = orderArguments(name, argv, commandWords(manifestCommands(bin) ?? commands));
    }
  } catch (error) {
    if (!(error instanceof RedpakError)) throw error;
    reportUsageError(name, error, argv);
    return;
  }
  // oclif reads process.argv itself to show help after a usage error: give it the same arguments.
  process.argv = [...process.argv.slice(0, 2), ...argv];
  await execute({ args: argv, loadOptions: oclifOptions(view, name) });
}

/** A usage error found before any command runs, as the commands report theirs (base-command.ts): exit 2, `--json` honoured. */
function reportUsageError(bin: string, error: RedpakError, argv: readonly string[]): void {
  const end = argv.indexOf('--');
  if ((end < 0 ? argv : argv.slice(0, end)).includes('--json'))
    process.stdout.write(`${JSON.stringify({ error: error.toJSON() }, null, 2)}\n`);
  else process.stderr.write(`${bin}: error: ${error.message}\n${error.hint ? `  hint: ${error.hint}\n` : ''}`);
  process.exitCode = error.exitCode;
}
