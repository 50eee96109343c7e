import { Flags } from '@oclif/core';
import { RedpakCommand, sysrootFlag } from '../../src/cli/base-command.js';
import type { TreeNode } from '../../src/node/load.js';
import { treeView } from '../../src/cli/views.js';

/** `--json` result: `{path, alias, state, children: [...]}`, children sorted by directory name. */
export type TreeResult = TreeNode;

export default class Tree extends RedpakCommand {
  static override summary = 'Show the family tree below a node, with aliases.';
  static override description =
    'Child nodes are sub-directories that are nodes; a directory that is not a node ends its branch. Disabled nodes are marked.';
  static override examples = ['<%= config.bin %> tree --redroot /var/redpak'];
  static override flags = {
    redroot: Flags.string({
      char: 'r',
      aliases: ['redpath'],
      description: 'top node of the tree to show',
      default: '.',
    }),
    root: sysrootFlag,
  };

  async run(): Promise<TreeResult> {
    const { flags } = await this.parse(Tree);
    return this.show(treeView(flags));
  }
}
