import { RedpakCommand } from '../../src/cli/base-command.js';
import { transactionFlags } from '../../src/cli/pkg-commands.js';
import { runTransactionCommand } from '../../src/cli/transaction-command.js';
import type { TransactionResult } from '../../src/pkg/manager.js';

/**
 * `--json` result (TransactionResult): {node, alias, status: "done"|"nothing-to-do"|"cancelled",
 * packages: [{action: "erase", name, arch, evr, nevra, repo, size, replaces, reason: "unused"}],
 * downloadSize, downloaded, historyId?, warnings}.
 */
export type AutoremoveResult = TransactionResult;

export default class Autoremove extends RedpakCommand {
  static override summary = 'Remove the dependencies nothing needs any more.';
  static override description =
    `Erases the node's packages that were installed as dependencies (not asked for by name; see \`mark\`) and that no other package of the node, nor any package of a descendant node, requires or recommends. A package whose reason is unknown (installed before redwrap-dnf recorded reasons, or by rpm directly) counts as asked for and stays. Ancestors are never touched.

The transaction is shown as a table and applied after confirmation (-y skips it, --assumeno only shows it), staged like every transaction: the node changes only if rpm succeeded.`;
  static override examples = [
    '<%= config.bin %> --redpath /var/redpak/platform/app --assumeno autoremove',
    '<%= config.bin %> --redpath /var/redpak/platform/app -y autoremove',
  ];
  static override flags = transactionFlags;

  async run(): Promise<AutoremoveResult> {
    const { flags } = await this.parse(Autoremove);
    return runTransactionCommand('autoremove', [], flags, this.jsonEnabled());
  }
}
