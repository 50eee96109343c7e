import { Args } from '@oclif/core';
import { RedpakError } from '../../src/errors.js';
import { RedpakCommand } from '../../src/cli/base-command.js';
import { runTransactionCommand, transactionFlags } from '../../src/pkg/cli-support.js';
import { history, historyUndo, type TransactionResult } from '../../src/pkg/manager.js';
import type { HistoryEntry } from '../../src/pkg/history.js';

/**
 * `--json` result: `history` (list): `{entries: [{id, time, command, steps: [{action, nevra, name, replaces?}]}]}`;
 * `history info N`: `{entries: [that entry]}`; `history undo N`: a TransactionResult (see `install --help`).
 */
export type HistoryResult = { entries: HistoryEntry[] } | TransactionResult;

export default class History extends RedpakCommand {
  static override summary = "Show the node's own transactions, or undo one.";
  static override description = `history (or history list): every transaction applied to this node, oldest first.
history info N: one transaction's packages.
history undo N: a new transaction that reverts transaction N (what it installed is removed, what it removed, upgraded or replaced is brought back from the repositories), under the same family rules.`;
  static override examples = ['<%= config.bin %> --redpath /var/redpak/platform/app history', '<%= config.bin %> --redpath /var/redpak/platform/app -y history undo 2'];
  static override args = {
    action: Args.string({ description: 'list, info or undo', options: ['list', 'info', 'undo'], default: 'list' }),
    id: Args.integer({ description: 'transaction id (info, undo)' }),
  };
  static override flags = transactionFlags;

  async run(): Promise<HistoryResult> {
    const { args, flags } = await this.parse(History);
    if (args.action === 'undo') {
      if (args.id === undefined) throw new RedpakError('usage', 'history undo needs a transaction id', { hint: 'see the ids with: redwrap-dnf --redpath NODE history' });
      const id = args.id;
      return runTransactionCommand(this, flags, (options) => historyUndo({ ...options, id }));
    }
    let entries = history({ redpath: flags.redpath, sysroot: flags.root });
    if (args.action === 'info') {
      entries = entries.filter((e) => e.id === args.id);
      if (entries.length === 0) throw new RedpakError('package', `no history entry ${args.id}`, { hint: 'see the ids with: redwrap-dnf --redpath NODE history' });
      for (const e of entries) {
        this.log(`Transaction ID : ${e.id}\nBegin time     : ${e.time}\nCommand Line   : ${e.command}`);
        for (const s of e.steps) this.log(`    ${s.action.padEnd(10)} ${s.nevra}${s.replaces?.length ? ` (replacing ${s.replaces.join(', ')})` : ''}`);
      }
      return { entries };
    }
    this.log(`${'ID'.padEnd(4)} | ${'Command line'.padEnd(40)} | ${'Date and time'.padEnd(24)} | Altered`);
    for (const e of [...entries].reverse()) this.log(`${String(e.id).padEnd(4)} | ${e.command.slice(0, 40).padEnd(40)} | ${e.time.padEnd(24)} | ${e.steps.length}`);
    return { entries };
  }
}
