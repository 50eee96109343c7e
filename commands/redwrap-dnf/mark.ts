import { Args } from '@oclif/core';
import { RedpakCommand } from '../../src/cli/base-command.js';
import { commonFlags, commonOptions } from '../../src/cli/pkg-commands.js';
import { mark } from '../../src/pkg/manager.js';
import type { InstallReason } from '../../src/pkg/reasons.js';

/** `--json` result: the node, the reason now recorded, and the packages marked. */
export interface MarkResult {
  node: string;
  reason: InstallReason;
  marked: string[];
}

export default class Mark extends RedpakCommand {
  static override summary = 'Record packages of the node as asked for (install) or as dependencies (remove).';
  static override description =
    `Like \`dnf mark\`: \`mark install PKG…\` keeps the packages whatever happens to the packages that pulled them in; \`mark remove PKG…\` makes them dependencies, which \`autoremove\` (and \`remove\` of what needs them) takes away once nothing needs them. Packages are named by name and must be the node's own. Nothing is installed or removed.`;
  static override examples = [
    '<%= config.bin %> --redpath /var/redpak/platform/app mark remove libredfoo',
    '<%= config.bin %> --redpath /var/redpak/platform/app mark install libredfoo',
  ];
  static override strict = false;
  static override args = {
    how: Args.string({
      description: 'install: asked for; remove: a dependency',
      options: ['install', 'remove'],
      required: true,
    }),
    packages: Args.string({ description: "names of the node's packages", required: true }),
  };
  static override flags = commonFlags;

  async run(): Promise<MarkResult> {
    const { args, argv, flags } = await this.parse(Mark);
    const reason: InstallReason = args.how === 'install' ? 'user' : 'dependency';
    const result = await mark({ ...commonOptions(flags), names: (argv as string[]).slice(1), reason });
    this.log(
      `${result.marked.join(', ')}: marked as ${reason === 'user' ? 'installed by the user' : 'dependencies'} in node ${result.node}`,
    );
    return result;
  }
}
