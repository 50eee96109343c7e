import { Args, Flags } from '@oclif/core';
import { RedpakCommand } from '../../src/cli/base-command.js';
import { transactionFlags } from '../../src/cli/pkg-commands.js';
import { runTransactionCommand } from '../../src/cli/transaction-command.js';
import type { TransactionResult } from '../../src/pkg/manager.js';

/**
 * `--json` result (TransactionResult): {node, alias, status: "done"|"nothing-to-do"|"cancelled",
 * packages: [{action, name, arch, evr, nevra, repo, size, replaces, reason?}], downloadSize,
 * downloaded, historyId?, warnings}. A dependency removed with them has reason "unused".
 */
export type RemoveResult = TransactionResult;

export default class Remove extends RedpakCommand {
  static override summary = 'Remove packages of the node.';
  static override aliases = ['erase'];
  static override description =
    `Erases the node's own packages. A package of an ancestor is refused (ancestors are read-only), and so is a removal that would leave a package of a descendant node with an unsatisfied requirement (the error names the descendant node, package and requirement). The dependencies they were the only ones to need (installed as dependencies, needed by no other package of the node nor of a descendant) go with them, as dnf's clean_requirements_on_remove does; --noautoremove keeps them.

The transaction is resolved against the family view (the node, every ancestor, and the host database above a root node when there is one), shown as a table, and applied after confirmation (-y skips it, --assumeno only shows it). Packages are checked against the repository checksums (and signatures with gpgcheck) before anything changes; rpm then runs inside a view of the family and its result is merged into the node only if everything succeeded. One transaction per family at a time.`;
  static override examples = ['<%= config.bin %> --redpath /var/redpak/platform -y remove redscript'];
  static override strict = false;
  static override args = { packages: Args.string({ description: 'packages of the node to remove', required: true }) };
  static override flags = {
    ...transactionFlags,
    noautoremove: Flags.boolean({ description: 'keep the dependencies that only the removed packages needed' }),
  };

  async run(): Promise<RemoveResult> {
    const { argv, flags } = await this.parse(Remove);
    return runTransactionCommand('remove', argv as string[], flags, this.jsonEnabled());
  }
}
