/**
 * The quick start of redwrap-dnf's package transactions (install, remove, upgrade, reinstall,
 * downgrade, autoremove: cli/transaction-command.ts) and queries (list, info, search, provides,
 * repoquery, check-update: cli/query-command.ts), given plainly, run without oclif: loading oclif,
 * its configuration and the executable's full bundle is a quarter of an install's time, and half
 * of a list's. Its own bundle (dist/cli/quick-dnf.cjs) holds this, the commands' code and the library.
 *
 * The command word is found as the full bundle finds it (cli/command-words.ts, from the manifest's
 * declarations, which are the commands'), and the options are read from the oclif manifest
 * (cli/quick-start.ts). Anything else — help, a usage error, an option given in a way that reader
 * does not take, an integer option given, another command, oclif's variables in the environment,
 * redpak's spelling (redmicrodnf, which start.cts never offers here) — is declined before anything
 * is printed or changed, and the full bundle runs it through oclif as before. Once taken, the
 * command runs the code the oclif command runs, and its result and errors are printed as
 * cli/base-command.ts and oclif print them: test/cli/start-dnf.test.ts compares both ways.
 */
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { onRecovery } from '../pkg/recovery-notices.js';
import { commandWords, orderArguments } from './command-words.js';
import { manifestCommands, oclifEnvironment, plainCommandLine, restoreExtraCaCerts } from './quick-start.js';
import { reportFailure } from './report.js';
import type { SolverMode } from '../pkg/solver.js';
import { isQueryCommand, type QueryFlagValues, runQueryCommand } from './query-command.js';
import { holdSolverAhead, releaseSolverAhead } from './solver-ahead.js';
import { isTransactionCommand, runTransactionCommand, type TransactionFlagValues } from './transaction-command.js';

/**
 * What this run did, for start.cts's code cache, which is grown the first time it sees a name:
 * the command and how it ended (a failed first run compiles less than an applied transaction).
 */
let ran = '';

export function ranCommand(): string {
  return ran;
}

/**
 * Runs the command line if it is a plain transaction or query of redwrap-dnf, and returns its run;
 * undefined when it is not, with nothing printed and nothing changed. `solverChild`: the solver
 * start.cts started ahead (pkg/solver-command.cts) in `solverMode`, taken over in the tick it was
 * spawned in (none of its events has been emitted yet) when the line is taken by a command of that
 * mode (killed when taken by the other), and its spawner's to kill when the line is not taken.
 */
export function runQuickTransaction(
  bin: string,
  argv: readonly string[],
  solverChild?: ChildProcessWithoutNullStreams,
  solverMode: SolverMode = 'solve',
): Promise<void> | undefined {
  if (bin !== 'redwrap-dnf' || oclifEnvironment(bin)) return undefined;
  const commands = manifestCommands(bin);
  if (!commands) return undefined;
  let ordered: string[];
  try {
    ordered = orderArguments(bin, argv, commandWords(commands));
  } catch {
    return undefined; // a usage error: oclif's to report, with the usage
  }
  const [word = '', ...rest] = ordered;
  const id = Object.hasOwn(commands, word)
    ? word
    : Object.keys(commands).find((name) => commands[name]?.aliases?.includes(word));
  const declared = id === undefined ? undefined : commands[id];
  if (id === undefined || declared === undefined || !(isTransactionCommand(id) || isQueryCommand(id))) return undefined;
  const line = plainCommandLine(rest, declared);
  if (!line) return undefined;
  const json = line.flags.json === true;
  restoreExtraCaCerts();
  // As RedpakCommand.init: a transaction a kill interrupted is completed or dropped first; say so.
  onRecovery((notice) => process.stderr.write(`${bin}: ${notice.message}\n`));
  ran = `${id} failed`;
  const mode: SolverMode = isTransactionCommand(id) ? 'solve' : 'query';
  if (solverChild && solverMode === mode) holdSolverAhead(solverChild, mode);
  else solverChild?.kill('SIGKILL');
  // The values the reader took are those the command's declarations give oclif's parser.
  const run: Promise<object> = isTransactionCommand(id)
    ? runTransactionCommand(id, line.args, line.flags as unknown as TransactionFlagValues, json)
    : runQueryCommand(id, line.args, line.flags as unknown as QueryFlagValues, (text) => {
        if (!json) process.stdout.write(`${text}\n`);
      });
  return run
    .then(
      (result) => {
        // A transaction says how it ended; a query that answered is done.
        ran = `${id} ${'status' in result ? String(result.status) : 'done'}`;
        if (json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      },
      (error: unknown) => reportFailure(bin, error, json),
    )
    .finally(releaseSolverAhead);
}
