/**
 * How the executables start: `node dist/src/cli/start.cjs BIN ARGS…` (bin/BIN does it). A command
 * line that may be for a quick start is offered to it first: redmanager's and redwrap's to
 * dist/cli/quick.cjs (src/cli/quick.ts: tree, mergeconfig, redwrap's launches and --dump-only
 * without oclif), redwrap-dnf's to dist/cli/quick-dnf.cjs (src/cli/quick-transaction.ts: its
 * transactions and queries); anything it declines, and every other line, load the executable's
 * bundle, dist/cli/BIN.cjs. Each bundle is loaded through V8's code cache (cli/bundle-loader.cts).
 * `--version` alone is answered here, no bundle loaded.
 */
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type * as SolverCommand from '../pkg/solver-command.cjs';
import type * as BundleLoader from './bundle-loader.cjs';
import type * as VersionLine from './version-line.cjs';

const [bin, ...argv] = process.argv.slice(2);
/** redpak's executables run another's bundle (cli/redpak-spellings.ts). */
const SPELLED: Record<string, string> = { redconf: 'redmanager', redmicrodnf: 'redwrap-dnf' };
/** redwrap-dnf's transaction words, with their aliases (src/cli/transaction-command.ts has the commands). */
const TRANSACTION_WORDS = ['install', 'remove', 'erase', 'upgrade', 'update', 'reinstall', 'downgrade', 'autoremove'];
/** redwrap-dnf's words of the commands that query the solver (pkg/queries.ts runQuery), at a glance. */
const QUERY_WORDS = ['list', 'info', 'repoquery', 'search', 'provides', 'whatprovides', 'check-update'];
/** redwrap's help options (cli/redwrap-argv.ts): oclif's to show. */
const REDWRAP_HELP = ['--help', '-h', '-?'];
/**
 * The quick start of each executable (its bundle, and the command lines it may take, at a glance,
 * so that other commands do not load it); it decides. A line missed here only runs the slower way.
 * `kept`: the lines whose view it may have kept (cli/view-cache.ts), asked for first.
 */
const QUICK: Record<
  string,
  { bundle: string; mayTake: (args: string[]) => boolean; kept?: (args: string[]) => boolean }
> = {
  redmanager: {
    bundle: 'quick',
    mayTake: (args) => args[0] === 'tree' || args[0] === 'mergeconfig',
    kept: (args) => args[0] === 'mergeconfig',
  },
  redwrap: {
    bundle: 'quick',
    // A launch or --dump-only; not an operation (ps, stop, enter: its first word, cli/run.ts), nor help.
    mayTake: (args) =>
      !['ps', 'stop', 'enter'].includes(args[0] ?? '') && !args.some((arg) => REDWRAP_HELP.includes(arg)),
    kept: (args) => args.includes('--dump-only') || args.includes('-D'),
  },
  'redwrap-dnf': {
    bundle: 'quick-dnf',
    mayTake: (args) => args.some((arg) => TRANSACTION_WORDS.includes(arg) || QUERY_WORDS.includes(arg)),
  },
};
/**
 * What a quick start's `main` returns: false or undefined when it declined (nothing was printed),
 * true when it ran, or the run of an asynchronous command, which reports its own errors.
 */
type QuickRun = boolean | undefined | Promise<void>;

/** Evaluates the bundle dist/cli/NAME.cjs (cli/bundle-loader.cts), required here only: `--version` loads none. */
function loadBundle(name: string, command: string | ((exports: object) => string)): object {
  return (require('./bundle-loader.cjs') as typeof BundleLoader).loadBundle(bin, name, command);
}

/**
 * A view kept before, printed again (dist/cli/view-cache.cjs, src/cli/quick-view.ts): a small
 * bundle, required as it is. Where it is missing, the quick start runs.
 */
function showKeptView(): boolean {
  try {
    return (
      require(join(__dirname, '../../cli/view-cache.cjs')) as { main(bin: string, argv: string[]): boolean }
    ).main(bin, argv);
  } catch {
    return false;
  }
}

/** `--version` alone: the line oclif prints for it (cli/version-line.cts), no bundle loaded. */
function printVersion(): void {
  const pjson = JSON.parse(readFileSync(join(__dirname, '../../../package.json'), 'utf8')) as {
    name: string;
    version: string;
  };
  process.stdout.write(`${(require('./version-line.cjs') as typeof VersionLine).versionLine(pjson)}\n`);
}

/**
 * A solver for the command line's request, started before any bundle loads: Python and libsolv
 * take longer to load than Node takes to reach the request (docs/solver-protocol.md, "Started
 * ahead"). Required here only: other command lines do not load child_process.
 */
function startSolver(mode: 'solve' | 'query'): ChildProcessWithoutNullStreams | undefined {
  return (require('../pkg/solver-command.cjs') as typeof SolverCommand).startSolverAhead(
    join(__dirname, '../../..'),
    mode,
  );
}

/** The command line run by its quick start, if it takes it, else by the executable's bundle. */
function runCommandLine(): void {
  const quickStart = Object.hasOwn(QUICK, bin) && QUICK[bin].mayTake(argv) ? QUICK[bin] : undefined;
  if (quickStart?.kept?.(argv) && showKeptView()) return;
  /** The quick-dnf bundle says what ran (src/cli/quick-transaction.ts); quick.cjs's commands are told by their first word. */
  const quickRan = (loaded: object) =>
    `${bin} ${(loaded as { ranCommand?(): string }).ranCommand?.() ?? argv[0] ?? ''}`;
  const isQuery = bin === 'redwrap-dnf' && argv.some((arg) => QUERY_WORDS.includes(arg));
  // The line's solver, at a glance (a transaction's unless only a query word is there), handed to
  // the quick start, which takes it over at once, or kills it when the command is of the other kind.
  const solverMode = argv.some((arg) => TRANSACTION_WORDS.includes(arg)) ? 'solve' : 'query';
  const aheadSolver = quickStart?.bundle === 'quick-dnf' ? startSolver(solverMode) : undefined;
  const quick: QuickRun =
    quickStart &&
    (
      loadBundle(quickStart.bundle, quickRan) as {
        main(bin: string, argv: string[], solver?: ChildProcessWithoutNullStreams, mode?: string): QuickRun;
      }
    ).main(bin, argv, aheadSolver, solverMode);
  if (quick) return;
  // Declined: a query's solver goes to the bundle (cli/run.ts), which kills it if no query takes it.
  let querySolver: ChildProcessWithoutNullStreams | undefined;
  if (isQuery && solverMode === 'query') querySolver = aheadSolver;
  else {
    aheadSolver?.kill('SIGKILL');
    if (isQuery) querySolver = startSolver('query');
  }
  const exports = loadBundle(SPELLED[bin] ?? bin, (loaded) => {
    const commandIds = Object.keys((loaded as { COMMANDS?: object }).COMMANDS ?? {});
    return argv.find((arg) => commandIds.includes(arg)) ?? '';
  });
  (exports as { main(argv: string[], spelledAs: string, solver?: ChildProcessWithoutNullStreams): Promise<void> })
    .main(argv, bin, querySolver)
    .catch((error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    });
}

if (argv.length === 1 && argv[0] === '--version') printVersion();
else runCommandLine();
