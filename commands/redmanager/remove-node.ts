import { Flags } from '@oclif/core';
import { RedpakCommand, redpathFlag, sysrootFlag } from '../../src/cli/base-command.js';
import { removeNode } from '../../src/node/factory.js';

/** `--json` result: the node paths removed, the given node first. */
export interface RemoveNodeResult {
  path: string;
  removed: string[];
}

export default class RemoveNode extends RedpakCommand {
  static override summary = 'Remove a node directory, with everything installed in it.';
  static override description = 'Refuses when the node has child nodes, unless --recursive removes the whole branch.';
  static override examples = [
    '<%= config.bin %> remove-node --redpath /var/redpak/platform/app',
    '<%= config.bin %> remove-node --redpath /var/redpak/platform --recursive',
  ];
  static override flags = {
    redpath: redpathFlag,
    recursive: Flags.boolean({ description: 'also remove the child nodes' }),
    root: sysrootFlag,
  };

  async run(): Promise<RemoveNodeResult> {
    const { flags } = await this.parse(RemoveNode);
    const result = removeNode({ redpath: flags.redpath, sysroot: flags.root, recursive: flags.recursive });
    this.log(`removed ${result.removed.join(', ')}`);
    return result;
  }
}
