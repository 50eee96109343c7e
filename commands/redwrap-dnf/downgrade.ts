import { Args } from '@oclif/core';
import { RedpakCommand } from '../../src/cli/base-command.js';
import { transactionFlags } from '../../src/cli/pkg-commands.js';
import { runTransactionCommand } from '../../src/cli/transaction-command.js';
import type { TransactionResult } from '../../src/pkg/manager.js';

/**
 * `--json` result (TransactionResult): {node, alias, status: "done"|"nothing-to-do"|"cancelled",
 * packages: [{action, name, arch, evr, nevra, repo, size, replaces}], downloadSize, downloaded,
 * historyId?, warnings}.
 */
export type DowngradeResult = TransactionResult;

export default class Downgrade extends RedpakCommand {
  static override summary = 'Downgrade packages of the node to the next older version available.';
  static override description =
    `Replaces the node's own packages with the best older version of the repositories; an ancestor's package is refused; a downgrade that would break a descendant is refused.

The transaction is resolved against the family view (the node, every ancestor, and the host database above a root node when there is one), shown as a table, and applied after confirmation (-y skips it, --assumeno only shows it). Packages are checked against the repository checksums (and signatures with gpgcheck) before anything changes; rpm then runs inside a view of the family and its result is merged into the node only if everything succeeded. One transaction per family at a time.`;
  static override examples = ['<%= config.bin %> --redpath /var/redpak/platform -y downgrade libredfoo'];
  static override strict = false;
  static override args = {
    packages: Args.string({ description: 'packages of the node to downgrade', required: true }),
  };
  static override flags = transactionFlags;

  async run(): Promise<DowngradeResult> {
    const { argv, flags } = await this.parse(Downgrade);
    return runTransactionCommand('downgrade', argv as string[], flags, this.jsonEnabled());
  }
}
