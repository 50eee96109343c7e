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
export type UpgradeResult = TransactionResult;

export default class Upgrade extends RedpakCommand {
  static override summary = "Upgrade the node's packages (all of them without arguments).";
  static override aliases = ['update'];
  static override description =
    `Upgrades the node's own packages to the best versions of the repositories. An ancestor's packages are never touched; an upgrade that would break a descendant's requirement is refused.

The transaction is resolved against the family view (the node, every ancestor, and the host database above a root node when there is one), shown as a table, and applied after confirmation (-y skips it, --assumeno only shows it). Packages are checked against the repository checksums (and signatures with gpgcheck) before anything changes; rpm then runs inside a view of the family and its result is merged into the node only if everything succeeded. One transaction per family at a time.`;
  static override examples = [
    '<%= config.bin %> --redpath /var/redpak/platform -y upgrade',
    '<%= config.bin %> --redpath /var/redpak/platform -y upgrade libredfoo',
  ];
  static override strict = false;
  static override args = {
    packages: Args.string({ description: 'packages of the node to upgrade (default: all)', required: false }),
  };
  static override flags = transactionFlags;

  async run(): Promise<UpgradeResult> {
    const { argv, flags } = await this.parse(Upgrade);
    return runTransactionCommand('upgrade', argv as string[], flags, this.jsonEnabled());
  }
}
