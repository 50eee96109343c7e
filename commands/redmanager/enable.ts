import { RedpakCommand, redpathFlag, sysrootFlag } from '../../src/cli/base-command.js';
import { setNodeState } from '../../src/node/factory.js';

/** `--json` result. */
export interface NodeStateResult {
  path: string;
  alias: string;
  previous: string;
  state: string;
}

export default class Enable extends RedpakCommand {
  static override summary = 'Enable a node: commands may use it again.';
  static override description =
    "Sets the state in the node's .rednode.yaml to Enable. A disabled node, or a node with a disabled ancestor, is refused by every command that would use it.";
  static override examples = ['<%= config.bin %> enable --redpath /var/redpak/platform/app'];
  static override flags = { redpath: redpathFlag, root: sysrootFlag };

  async run(): Promise<NodeStateResult> {
    const { flags } = await this.parse(Enable);
    const result = setNodeState({ redpath: flags.redpath, sysroot: flags.root, state: 'Enable', host: this.host() });
    this.log(`node ${result.alias} (${result.path}) enabled`);
    return result;
  }
}
