import { Args } from '@oclif/core';
import { RedpakError } from '../../src/errors.js';
import { RedpakCommand } from '../../src/cli/base-command.js';
import { transactionFlags } from '../../src/cli/pkg-commands.js';
import { runTransaction } from '../../src/cli/transaction-command.js';
import { askConfirmation } from '../../src/cli/pkg-ui.js';
import {
  generations,
  history,
  historyUndo,
  markGoodGeneration,
  rollback,
  type TransactionResult,
} from '../../src/pkg/manager.js';
import type { HistoryEntry } from '../../src/pkg/history.js';
import type { Generation } from '../../src/pkg/generations.js';

/**
 * `--json` result: `history` (list): `{entries: [{id, time, command, steps: [{action, nevra, name, replaces?, reason?}]}]}`;
 * `history info N`: `{entries: [that entry]}`; `history undo N`: a TransactionResult (see `install --help`);
 * `history generations`: `{generations: [{id, time, command, historyId?, good?, created}]}`;
 * `history rollback [N]`: `{node, undone: [generations, newest first]}`; `history good [N]`: `{generations: [the one marked]}`.
 */
export type HistoryResult =
  | { entries: HistoryEntry[] }
  | TransactionResult
  | { generations: Generation[] }
  | { node: string; undone: Generation[] };

export default class History extends RedpakCommand {
  static override summary = "Show the node's own transactions, or undo one.";
  static override description = `history (or history list): every transaction applied to this node, oldest first.
history info N: one transaction's packages.
history undo N: a new transaction that reverts transaction N (what it installed is removed, what it removed, upgraded or replaced is brought back from the repositories), under the same family rules.
history generations: the node's generations: before each transaction, the rpm database and the files the transaction changes are kept (the last --keep-generations, default 5, plus the newest known-good).
history rollback [N]: restore generation N (default: the newest, which undoes the last transaction), offline, exactly as the node was; needs -y or a confirmation.
history good [N]: mark generation N (default: the newest) as known-good: it is never pruned until a newer one is marked.`;
  static override examples = [
    '<%= config.bin %> --redpath /var/redpak/platform/app history',
    '<%= config.bin %> --redpath /var/redpak/platform/app -y history undo 2',
    '<%= config.bin %> --redpath /var/redpak/platform/app -y history rollback',
  ];
  static override args = {
    action: Args.string({
      description: 'list, info, undo, generations, rollback or good',
      options: ['list', 'info', 'undo', 'generations', 'rollback', 'good'],
      default: 'list',
    }),
    id: Args.integer({ description: 'transaction id (info, undo) or generation id (rollback, good)' }),
  };
  static override flags = transactionFlags;

  async run(): Promise<HistoryResult> {
    const { args, flags } = await this.parse(History);
    if (args.action === 'undo') {
      if (args.id === undefined)
        throw new RedpakError('usage', 'history undo needs a transaction id', {
          hint: 'see the ids with: redwrap-dnf --redpath NODE history',
        });
      const id = args.id;
      return runTransaction(flags, this.jsonEnabled(), (options) => historyUndo({ ...options, id }));
    }
    const where = { redpath: flags.redpath, sysroot: flags.root };
    if (args.action === 'generations' || args.action === 'good') {
      const list = args.action === 'good' ? [markGoodGeneration({ ...where, id: args.id })] : generations(where);
      for (const g of list)
        this.log(`${String(g.id).padEnd(4)} ${g.time}  before: ${g.command}${g.good ? '  (known-good)' : ''}`);
      return { generations: list };
    }
    if (args.action === 'rollback') {
      if (
        !flags.assumeyes &&
        !(await askConfirmation(`Roll ${flags.redpath} back to generation ${args.id ?? 'latest'} [y/N]: `))
      ) {
        throw new RedpakError('usage', 'rollback cancelled');
      }
      const result = await rollback({ ...where, id: args.id, lockWait: flags['lock-wait'] });
      for (const g of result.undone) this.log(`undone: ${g.command} (generation ${g.id})`);
      return result;
    }
    let entries = history(where);
    if (args.action === 'info') {
      entries = entries.filter((e) => e.id === args.id);
      if (entries.length === 0)
        throw new RedpakError('package', `no history entry ${args.id}`, {
          hint: 'see the ids with: redwrap-dnf --redpath NODE history',
        });
      for (const e of entries) {
        this.log(`Transaction ID : ${e.id}\nBegin time     : ${e.time}\nCommand Line   : ${e.command}`);
        // dnf marks packages brought in as dependencies, and removed as unused, the same way.
        const mark = (reason?: string) =>
          reason === 'dependency' ? ' (dependency)' : reason === 'unused' ? ' (unused dependency)' : '';
        for (const s of e.steps)
          this.log(
            `    ${s.action.padEnd(10)} ${s.nevra}${mark(s.reason)}${s.replaces?.length ? ` (replacing ${s.replaces.join(', ')})` : ''}`,
          );
      }
      return { entries };
    }
    this.log(`${'ID'.padEnd(4)} | ${'Command line'.padEnd(40)} | ${'Date and time'.padEnd(24)} | Altered`);
    for (const e of [...entries].reverse())
      this.log(
        `${String(e.id).padEnd(4)} | ${e.command.slice(0, 40).padEnd(40)} | ${e.time.padEnd(24)} | ${e.steps.length}`,
      );
    return { entries };
  }
}
