/**
 * The quick start of the commands that only read and show (cli/views.ts): `redmanager tree`,
 * `redmanager mergeconfig`, `redwrap --dump-only`, and of redwrap's launches through the full CLI
 * (cli/launch-command.ts: the first launch of a node, one after a change, one the fast launcher
 * does not serve), given plainly, run without oclif, whose loading is most of such a command's
 * time. Its own bundle (dist/cli/quick.cjs) holds this and the library, not oclif. Anything else — another command, help, an option given in a way this
 * reader does not take, a usage error, an oclif variable in the environment, an error that is not
 * the library's — is declined before anything is printed, and the executable's full bundle runs
 * it through oclif as before. The options are read from the commands' own declarations (the oclif
 * manifest written at build), the output and errors are printed as cli/base-command.ts prints
 * them: test/cli/start.test.ts compares both ways on each.
 */
import { RedpakError } from '../errors.js';
import {
  type FlagValues,
  manifestCommands,
  oclifEnvironment,
  plainCommandLine,
  restoreExtraCaCerts,
  writeOut,
} from './quick-start.js';
import { parseRedwrapArgv, type RedwrapOptions } from './redwrap-argv.js';
import { liveHostFacts } from '../system/host-facts.js';
import { runLaunch } from './launch-command.js';
import { reportError, reportFailure } from './report.js';
import { recordView, type ViewOutput } from './view-cache.js';
import { dumpOnlyView, mergeConfigView, treeView, type View } from './views.js';
import { usableCallerCacheDir } from '../system/caller-cache.js';

/** The quick commands of redmanager: what they show, from their options. */
const REDMANAGER_VIEWS: Record<string, (flags: FlagValues, json: boolean, watched: boolean) => View<unknown>> = {
  tree: (flags) => treeView(flags as { redroot: string; root?: string }),
  mergeconfig: (flags, json, watched) =>
    mergeConfigView(flags as { redpath: string; admin?: boolean; expand: boolean; root?: string }, json, watched),
};

/** The view a command line asks for, with --json, or undefined when it is not for the quick start. */
function quickView(
  bin: string,
  argv: readonly string[],
): { show: (watched: boolean) => View<unknown>; json: boolean } | undefined {
  if (oclifEnvironment(bin)) return undefined;
  if (bin === 'redmanager') {
    const [command = '', ...rest] = argv;
    const view = Object.hasOwn(REDMANAGER_VIEWS, command) ? REDMANAGER_VIEWS[command] : undefined;
    if (!view) return undefined;
    const declared = manifestCommands(bin)?.[command];
    const flags = declared && plainCommandLine(rest, declared)?.flags;
    if (!flags) return undefined;
    const json = flags.json === true;
    return { show: (watched) => view(flags, json, watched), json };
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
    return { show: (watched) => dumpOnlyView(options, command, watched), json: options.json };
  }
  return undefined;
}

/** What a view prints, as cli/base-command.ts prints it: its --json result, or its warnings and text. */
export function viewOutput(view: View<unknown>, json: boolean): ViewOutput {
  if (json) return { stdout: `${JSON.stringify(view.result, null, 2)}\n`, stderr: '' };
  return {
    stdout: view.text === undefined ? '' : `${view.text}\n`,
    stderr: view.warnings.map((warning) => `warning: ${warning}\n`).join(''),
  };
}

/** A redwrap launch line as redwrap's grammar reads it (not --dump-only, help or version), or undefined. */
function quickLaunch(bin: string, argv: readonly string[]): { options: RedwrapOptions; command: string[] } | undefined {
  if (bin !== 'redwrap' || oclifEnvironment(bin)) return undefined;
  try {
    const parsed = parseRedwrapArgv(argv);
    return parsed.show || parsed.options.dumpOnly ? undefined : parsed;
  } catch {
    return undefined; // a usage error: oclif's to report, with the usage
  }
}

/** The launch, its warnings, and its status, as the oclif command gives them (commands/redwrap/index.ts). */
function runQuickLaunch(options: RedwrapOptions, command: string[]): Promise<void> {
  restoreExtraCaCerts();
  const warn = (message: string) => {
    if (!options.json) process.stderr.write(`warning: ${message}\n`);
  };
  return runLaunch(options, command, liveHostFacts(), warn).then(
    (status) => {
      process.exitCode = status;
      if (options.json) writeOut(`${JSON.stringify({ status }, null, 2)}\n`);
    },
    (error: unknown) => reportFailure('redwrap', error, options.json),
  );
}

/**
 * Runs the command line if it is one for the quick start: says whether it did, or returns the run
 * of a launch. When it did not, nothing was printed and nothing changed. A view that can be
 * checked again is kept in the view cache (cli/view-cache.ts), from which start.cjs prints it next time.
 */
export function runQuick(bin: string, argv: readonly string[]): boolean | Promise<void> {
  const launch = quickLaunch(bin, argv);
  if (launch) return runQuickLaunch(launch.options, launch.command);
  const asked = quickView(bin, argv);
  if (!asked) return false;
  restoreExtraCaCerts();
  const cacheDir = usableCallerCacheDir();
  let view: View<unknown>;
  try {
    view = asked.show(cacheDir !== undefined);
  } catch (error) {
    if (!(error instanceof RedpakError)) return false; // oclif's to report, as before
    reportError(bin, error, asked.json);
    return true;
  }
  const output = viewOutput(view, asked.json);
  writeOut(output.stderr, 2);
  writeOut(output.stdout);
  if (view.reads) recordView(bin, argv, view.reads, output, cacheDir);
  return true;
}
