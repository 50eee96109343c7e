import { Flags } from '@oclif/core';
import { RedpakCommand, redpathFlag, sysrootFlag } from '../../src/cli/base-command.js';
import { createNode } from '../../src/node/factory.js';
import type { CreateNodeResult } from '../redmanager/create-node.js';

export default class Manager extends RedpakCommand {
  static override summary = 'Create a node: redpak\'s spelling of `redmanager create-node`.';
  static override description = 'Same as `redmanager create-node` (see its help), with redpak\'s option names. A first node gets a system node above it unless --no-system-node.';
  static override examples = ['<%= config.bin %> --redpath /var/redpak/platform/app manager --alias app'];
  static override flags = {
    redpath: redpathFlag,
    alias: Flags.string({ description: 'node alias (default: the directory name)' }),
    template: Flags.string({ description: 'template name or file for the normal config' }),
    'template-admin': Flags.string({ description: 'template name or file for the admin config' }),
    'no-system-node': Flags.boolean({ description: 'no system node above a first node; the full templates are used' }),
    update: Flags.boolean({ description: 'rewrite the configs of an existing node, keeping its headers' }),
    root: sysrootFlag,
  };

  async run(): Promise<CreateNodeResult> {
    const { flags } = await this.parse(Manager);
    const nodes = createNode({
      redpath: flags.redpath,
      sysroot: flags.root,
      alias: flags.alias,
      template: flags.template,
      templateAdmin: flags['template-admin'],
      systemNode: !flags['no-system-node'],
      update: flags.update,
      host: this.host(),
      tool: 'redwrap-dnf',
    });
    for (const node of nodes) this.log(`SUCCESS: rednode ${node.path} ready (${node.action}, alias ${node.alias})`);
    return { nodes: nodes.map(({ hostPath: _hostPath, ...node }) => node) };
  }
}
