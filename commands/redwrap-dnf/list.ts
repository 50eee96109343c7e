import { Args, Flags } from '@oclif/core';
import { RedpakCommand } from '../../src/cli/base-command.js';
import { commonFlags } from '../../src/cli/pkg-commands.js';
import { type ListResult, runQueryCommand } from '../../src/cli/query-command.js';

/** `--json` result: src/cli/query-command.ts ListResult. */
export type { ListResult };

export default class List extends RedpakCommand {
  static override summary = 'List packages: installed in the node, in its family, or available.';
  static override description = `Without a scope flag: the node's family view and the newest available versions.
--installed: the node's own packages. --family: the aggregated view (node + ancestors + host database), each package with the node that owns it. --available: the newest version of each package of the repositories.`;
  static override examples = [
    '<%= config.bin %> --redpath /var/redpak/platform/app list --family',
    '<%= config.bin %> --redpath /var/redpak/platform/app list --available "red*"',
  ];
  static override strict = false;
  static override args = { packages: Args.string({ description: 'package names or globs to list (default: all)' }) };
  static override flags = {
    ...commonFlags,
    installed: Flags.boolean({
      description: "only the node's own installed packages",
      exclusive: ['available', 'family'],
    }),
    available: Flags.boolean({ description: 'only packages of the repositories', exclusive: ['installed', 'family'] }),
    family: Flags.boolean({
      description: 'the aggregated family view, with the owning node of each package',
      exclusive: ['installed', 'available'],
    }),
  };

  async run(): Promise<ListResult> {
    const { argv, flags } = await this.parse(List);
    return runQueryCommand('list', argv as string[], flags, (line) => this.log(line));
  }
}
