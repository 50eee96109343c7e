import { Args } from '@oclif/core';
import { RedpakCommand } from '../../src/cli/base-command.js';
import { commonFlags } from '../../src/cli/pkg-commands.js';
import { type CheckUpdateResult, runQueryCommand } from '../../src/cli/query-command.js';

/** `--json` result: src/cli/query-command.ts CheckUpdateResult (exit status 100 when it lists updates, as dnf's). */
export type { CheckUpdateResult };

export default class CheckUpdate extends RedpakCommand {
  static override summary = "List the node's packages that have a newer version in the repositories.";
  static override description =
    `Only the node's own packages: an ancestor's are upgraded in the ancestor. Exits 100 when there are updates and 0 when there are none, as dnf does, so that a script can test it; --json gives the same statuses.`;
  static override examples = ['<%= config.bin %> --redpath /var/redpak/platform/app check-update'];
  static override strict = false;
  static override args = { packages: Args.string({ description: 'only these packages (names or globs)' }) };
  static override flags = commonFlags;

  async run(): Promise<CheckUpdateResult> {
    const { argv, flags } = await this.parse(CheckUpdate);
    return runQueryCommand('check-update', argv as string[], flags, (line) => this.log(line));
  }
}
