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
export type InstallResult = TransactionResult;

export default class Install extends RedpakCommand {
  static override summary = 'Install packages into the node, resolved against its family.';
  static override description =
    `Installs packages by name, name-version, name.arch, capability (e.g. a soname), file path, or local .rpm file. Nothing an ancestor already provides is pulled into the node; a package whose name an ancestor has installed is refused (rule 2) unless --forcenode.

The transaction is resolved against the family view (the node, every ancestor, and the host database above a root node when there is one), shown as a table, and applied after confirmation (-y skips it, --assumeno only shows it). Packages are checked against the repository checksums (and signatures with gpgcheck) before anything changes; rpm then runs inside a view of the family and its result is merged into the node only if everything succeeded. One transaction per family at a time.`;
  static override examples = [
    '<%= config.bin %> --redpath /var/redpak/platform/app install redhello',
    '<%= config.bin %> --redpath /var/redpak/platform/app -y install ./redhello-1.0-1.x86_64.rpm',
    "<%= config.bin %> --redpath /var/redpak/platform/app -y install 'libredfoo.so.1()(64bit)'",
  ];
  static override strict = false;
  static override args = {
    packages: Args.string({
      description: 'package specs: NAME, NAME-VERSION, NAME.ARCH, CAPABILITY, /file/path or FILE.rpm',
      required: true,
    }),
  };
  static override flags = transactionFlags;

  async run(): Promise<InstallResult> {
    const { argv, flags } = await this.parse(Install);
    return runTransactionCommand('install', argv as string[], flags, this.jsonEnabled());
  }
}
