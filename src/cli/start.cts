/**
 * How the executables start: `node dist/src/cli/start.cjs BIN ARGS…` (bin/BIN does it). A command
 * line that may be for a quick start is offered to it first: redmanager's and redwrap's to
 * dist/cli/quick.cjs (src/cli/quick.ts: tree, mergeconfig, --dump-only without oclif), redwrap-dnf's
 * to dist/cli/quick-dnf.cjs (src/cli/quick-transaction.ts: its transactions); anything it declines,
 * and every other line, load the executable's bundle, dist/cli/BIN.cjs. Each bundle is loaded through V8's code cache: the functions V8 compiled in an
 * earlier run are reused instead of compiled again, which takes a third off a short command. The
 * cache (BIN.cjs.v8-cache) is written at exit when there is none, when V8 refused it (another
 * Node, another bundle), or when this run's command had not run since it was written: the cache
 * grows to the code of every command used, and is then left alone (writing it costs ~10 ms).
 * A cache that cannot be written only costs time. `--version` alone is answered here, no bundle loaded.
 */
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import Module from 'node:module';
import { join } from 'node:path';
import { constants, Script } from 'node:vm';
import type * as SolverCommand from '../pkg/solver-command.cjs';
import type * as VersionLine from './version-line.cjs';

/** Node's CommonJS loader internals used to register the bundle as an ordinary module. */
interface ModuleInternals {
  _cache: Record<string, Module>;
  _nodeModulePaths(dir: string): string[];
  wrap(source: string): string;
}
const internals = Module as unknown as ModuleInternals;

const [bin, ...argv] = process.argv.slice(2);
/** redpak's executables run another's bundle (cli/redpak-spellings.ts). */
const SPELLED: Record<string, string> = { redconf: 'redmanager', redmicrodnf: 'redwrap-dnf' };
/** redwrap-dnf's transaction words, with their aliases (src/cli/transaction-command.ts has the commands). */
const TRANSACTION_WORDS = ['install', 'remove', 'erase', 'upgrade', 'update', 'reinstall', 'downgrade', 'autoremove'];
/** redwrap-dnf's words of the commands that query the solver (pkg/manager.ts runQuery), at a glance. */
const QUERY_WORDS = ['list', 'info', 'repoquery', 'search', 'provides', 'whatprovides', 'check-update'];
/**
 * The quick start of each executable (its bundle, and the command lines it may take, at a glance,
 * so that other commands do not load it); it decides. A line missed here only runs the slower way.
 */
const QUICK: Record<string, { bundle: string; mayTake: (args: string[]) => boolean }> = {
  redmanager: { bundle: 'quick', mayTake: (args) => args[0] === 'tree' || args[0] === 'mergeconfig' },
  redwrap: { bundle: 'quick', mayTake: (args) => args.includes('--dump-only') || args.includes('-D') },
  'redwrap-dnf': { bundle: 'quick-dnf', mayTake: (args) => args.some((arg) => TRANSACTION_WORDS.includes(arg)) },
};
const bundleDir = join(__dirname, '../../cli');

/**
 * Evaluates dist/cli/NAME.cjs through its code cache and returns its exports. `command` names what
 * ran (a function of the bundle's exports is asked at exit), for the cache to grow by it the first time.
 */
function loadBundle(name: string, command: string | ((exports: object) => string)): object {
  const file = join(bundleDir, `${name}.cjs`);
  const cacheFile = `${file}.v8-cache`;
  /** The commands whose code the cache holds. */
  const cachedCommandsFile = `${cacheFile}.json`;
  let cachedData: Buffer | undefined;
  let cachedCommands: string[] = [];
  try {
    cachedData = readFileSync(cacheFile);
    cachedCommands = JSON.parse(readFileSync(cachedCommandsFile, 'utf8')) as string[];
  } catch {
    cachedData = undefined;
  }
  let source: string;
  try {
    source = readFileSync(file, 'utf8');
  } catch {
    process.stderr.write(`${bin}: ${file} is missing: build the package first (npm run build)\n`);
    process.exit(1);
  }
  const script = new Script(internals.wrap(source), {
    filename: file,
    cachedData,
    importModuleDynamically: constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  });
  // Registered in require's cache, so that oclif, requiring the bundle for its commands, gets this instance.
  const bundle = new Module(file, module);
  bundle.filename = file;
  bundle.paths = internals._nodeModulePaths(bundleDir);
  internals._cache[file] = bundle;
  (script.runInThisContext() as (...args: unknown[]) => void).call(
    bundle.exports,
    bundle.exports,
    Module.createRequire(file),
    bundle,
    file,
    bundleDir,
  );
  bundle.loaded = true;

  process.on('exit', () => {
    const ran = typeof command === 'string' ? command : command(bundle.exports);
    const valid = cachedData !== undefined && !script.cachedDataRejected;
    if (valid && cachedCommands.includes(ran)) return;
    const write = (path: string, data: string | Buffer) => {
      writeFileSync(`${path}.${process.pid}`, data);
      renameSync(`${path}.${process.pid}`, path);
    };
    try {
      write(cacheFile, script.createCachedData());
      write(cachedCommandsFile, JSON.stringify([...(valid ? cachedCommands : []), ran]));
    } catch {
      /* read-only installation: no cache */
    }
  });
  return bundle.exports;
}

/**
 * What a quick start's `main` returns: false or undefined when it declined (nothing was printed),
 * true when it ran, or the run of an asynchronous command, which reports its own errors.
 */
type QuickRun = boolean | undefined | Promise<void>;

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
  /** The quick-dnf bundle says what ran (src/cli/quick-transaction.ts); quick.cjs's commands are told by their first word. */
  const quickRan = (loaded: object) =>
    `${bin} ${(loaded as { ranCommand?(): string }).ranCommand?.() ?? argv[0] ?? ''}`;
  // A transaction's solver, handed to the quick start, which takes it over at once; killed if it declines.
  const transactionSolver = quickStart?.bundle === 'quick-dnf' ? startSolver('solve') : undefined;
  const quick: QuickRun =
    quickStart &&
    (
      loadBundle(quickStart.bundle, quickRan) as {
        main(bin: string, argv: string[], solver?: ChildProcessWithoutNullStreams): QuickRun;
      }
    ).main(bin, argv, transactionSolver);
  if (quick) return;
  transactionSolver?.kill('SIGKILL');
  // A query's solver, handed to the bundle (cli/run.ts), which kills it if no query takes it.
  const querySolver =
    bin === 'redwrap-dnf' && argv.some((arg) => QUERY_WORDS.includes(arg)) ? startSolver('query') : undefined;
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
