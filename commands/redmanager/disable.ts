import { RedpakCommand, redpathFlag, sysrootFlag } from '../../src/cli/base-command.js';
import { setNodeState } from '../../src/node/factory.js';
import type { NodeStateResult } from './enable.js';

export default class Disable extends RedpakCommand {
  static override summary = 'Disable a node: it and its descendants are refused until enabled again.';
  static override description = "Sets the state in the node's .rednode.yaml to Disable. Nothing else changes.";
  static override examples = ['<%= config.bin %> disable --redpath /var/redpak/platform/app'];
  static override flags = { redpath: redpathFlag, root: sysrootFlag };

  async run(): Promise<NodeStateResult> {
    const { flags } = await this.parse(Disable);
    const result = setNodeState({ redpath: flags.redpath, sysroot: flags.root, state: 'Disable', host: this.host() });
    this.log(`node ${result.alias} (${result.path}) disabled`);
    return result;
  }
}
