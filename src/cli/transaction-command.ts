/**
 * How a redwrap-dnf transaction runs from the command line — table, confirmation, progress,
 * outcome, signals — and what each transaction command asks the library for. Both ways of
 * starting one call this module: the oclif commands (commands/redwrap-dnf/) and the quick start
 * of a plain transaction (cli/quick-transaction.ts). It loads no oclif: the option declarations
 * stay in cli/pkg-commands.ts.
 */
import {
  autoremove,
  downgrade,
  install,
  reinstall,
  remove,
  type TransactionOptions,
  type TransactionResult,
  upgrade,
} from '../pkg/manager.js';
import { InterruptedError, signalNameOf } from '../pkg/interrupt.js';
import { type CommonFlagValues, commonOptions } from './common-options.js';
import { askConfirmation, renderOutcome, renderTransactionTable, TransactionProgress } from './pkg-ui.js';

/** The values of cli/pkg-commands.ts `transactionFlags` (and remove's --noautoremove), as parsed. */
export interface TransactionFlagValues extends CommonFlagValues {
  assumeyes?: boolean;
  assumeno?: boolean;
  downloadonly?: boolean;
  forcenode?: boolean;
  noscripts?: boolean;
  'weak-deps'?: boolean;
  'keep-generations'?: number;
  noautoremove?: boolean;
}

/** What each transaction command asks the library for, from its package arguments and options. */
const TRANSACTIONS = {
  install: (options: TransactionOptions, specs: string[]) => install({ ...options, specs }),
  remove: (options: TransactionOptions, specs: string[], flags: TransactionFlagValues) =>
    remove({ ...options, specs, cleanDeps: !flags.noautoremove }),
  upgrade: (options: TransactionOptions, specs: string[]) => upgrade({ ...options, specs }),
  reinstall: (options: TransactionOptions, specs: string[]) => reinstall({ ...options, specs }),
  downgrade: (options: TransactionOptions, specs: string[]) => downgrade({ ...options, specs }),
  autoremove: (options: TransactionOptions) => autoremove(options),
} satisfies Record<string, (options: TransactionOptions, specs: string[], flags: TransactionFlagValues) => unknown>;

export type TransactionCommandId = keyof typeof TRANSACTIONS;

export function isTransactionCommand(id: string): id is TransactionCommandId {
  return Object.hasOwn(TRANSACTIONS, id);
}

/** Runs the transaction command `id` on its package arguments, as runTransaction shows it. */
export function runTransactionCommand(
  id: TransactionCommandId,
  specs: string[],
  flags: TransactionFlagValues,
  json: boolean,
): Promise<TransactionResult> {
  return runTransaction(flags, json, (options) => TRANSACTIONS[id](options, specs, flags));
}

/** Runs a transaction for a command: table, confirmation, progress (not under --json), outcome. */
export async function runTransaction(
  flags: TransactionFlagValues,
  json: boolean,
  body: (options: TransactionOptions) => Promise<TransactionResult>,
): Promise<TransactionResult> {
  const out = (text: string) => {
    if (!json) process.stdout.write(`${text}\n`);
  };
  // -q: the table only when it is asked about or is the point (--assumeno), no progress, no outcome lines.
  const quietly = flags.quiet && flags.assumeyes;
  const progress = new TransactionProgress({ silent: json || flags.quiet });
  let started = false;
  // SIGINT/SIGTERM abort the transaction (downloads and rpm included); it ends with exit 130/143.
  const controller = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => controller.abort(sig);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const options: TransactionOptions = {
    signal: controller.signal,
    ...commonOptions(flags),
    assumeno: flags.assumeno,
    downloadOnly: flags.downloadonly,
    forcenode: flags.forcenode,
    noscripts: flags.noscripts,
    weak: flags['weak-deps'],
    keepGenerations: flags['keep-generations'],
    onPlan: (plan) => {
      if (!quietly) out(renderTransactionTable(plan));
    },
    confirm: async (plan) => {
      const ok = flags.assumeyes || (await askConfirmation());
      if (ok) {
        progress.start(plan);
        started = true;
      }
      return ok;
    },
    onProgress: progress.onProgress,
  };
  let result: TransactionResult;
  try {
    result = await body(options);
  } catch (error) {
    if (started) await progress.finish(error);
    throw error;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  if (started) await progress.finish();
  if (!flags.quiet) out(renderOutcome(result));
  else if (!json) for (const w of result.warnings) process.stderr.write(`warning: ${w}\n`);
  const name = signalNameOf(controller.signal);
  // The signal came during the merge, which signals wait for: the transaction is complete.
  if (name)
    throw new InterruptedError(
      name,
      `interrupted by ${name} once the transaction was applied: node ${result.node} has its new state`,
      'nothing to do',
    );
  return result;
}
