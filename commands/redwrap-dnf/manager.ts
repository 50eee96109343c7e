import { Flags } from '@oclif/core';
import { RedpakCommand, redpathFlag, sysrootFlag } from '../../src/cli/base-command.js';
import { createPackageNode } from '../../src/pkg/node-setup.js';
import type { CreateNodeResult } from '../redmanager/create-node.js';

/** `--json` result: the same as `redmanager create-node`'s. */
export type ManagerResult = CreateNodeResult;

export default class Manager extends RedpakCommand {
  static override summary = "Create a node: redpak's spelling of `redmanager create-node`, plus its rpm database.";
  static override description =
    `Same as \`redmanager create-node\` (see its help), with redpak's option names. A first node gets a system node above it unless --no-system-node.
Every node created gets its empty rpm database (NODE/var/lib/rpm). When a family root is created (the system node, or a --no-system-node node) on a host without an rpm database (Debian), the host's capabilities (/bin/sh, libc sonames, …) are registered in the root's database (see \`redwrap-dnf host-provides --help\`); --no-host-provides skips that, --host-provides forces it (e.g. with --root).`;
  static override examples = ['<%= config.bin %> --redpath /var/redpak/platform/app manager --alias app'];
  static override flags = {
    redpath: redpathFlag,
    alias: Flags.string({ description: 'node alias (default: the directory name)' }),
    template: Flags.string({ description: 'template name or file for the normal config' }),
    'template-admin': Flags.string({ description: 'template name or file for the admin config' }),
    'no-system-node': Flags.boolean({ description: 'no system node above a first node; the full templates are used' }),
    update: Flags.boolean({ description: 'rewrite the configs of an existing node, keeping its headers' }),
    'host-provides': Flags.boolean({
      description:
        "register the host's capabilities in a new family root (default: when the host has no rpm database and no --root)",
      allowNo: true,
    }),
    root: sysrootFlag,
  };

  async run(): Promise<ManagerResult> {
    const { flags } = await this.parse(Manager);
    const result = await createPackageNode({
      redpath: flags.redpath,
      sysroot: flags.root,
      alias: flags.alias,
      template: flags.template,
      templateAdmin: flags['template-admin'],
      systemNode: !flags['no-system-node'],
      update: flags.update,
      hostProvides: flags['host-provides'],
      host: this.host(),
      tool: 'redwrap-dnf',
    });
    for (const node of result.nodes)
      this.log(`SUCCESS: rednode ${node.path} ready (${node.action}, alias ${node.alias})`);
    if (result.hostProvides)
      this.log(`registered ${result.hostProvides.count} host capabilities in ${result.hostProvides.node}`);
    return {
      nodes: result.nodes.map(({ hostPath: _hostPath, ...node }) => node),
      ...(result.hostProvides ? { hostProvides: result.hostProvides } : {}),
    };
  }
}
