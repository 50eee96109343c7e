import { RedpakCommand } from '../../src/cli/base-command.js';
import {
  type CreateNodeResult,
  createNodeResult,
  hostProvidesLine,
  nodeCreationFlags,
} from '../../src/cli/node-creation.js';
import { outputFlags } from '../../src/cli/pkg-commands.js';
import { createPackageNode } from '../../src/pkg/node-setup.js';

/** `--json` result: the same as `redmanager create-node`'s. */
export type ManagerResult = CreateNodeResult;

export default class Manager extends RedpakCommand {
  static override summary = "Create a node: redpak's spelling of `redmanager create-node`, plus its rpm database.";
  static override description =
    `Same as \`redmanager create-node\` (see its help), with redpak's option names. A first node gets a system node above it unless --no-system-node.
Every node created gets its empty rpm database (NODE/var/lib/rpm). When a family root is created (the system node, or a --no-system-node node) on a host without an rpm database (Debian), the host's capabilities (/bin/sh, libc sonames, …) are registered in the root's database (see \`redwrap-dnf host-provides --help\`); --no-host-provides skips that, --host-provides forces it (e.g. with --root).`;
  static override examples = ['<%= config.bin %> --redpath /var/redpak/platform/app manager --alias app'];
  static override flags = { ...outputFlags, ...nodeCreationFlags };

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
    const json = createNodeResult(result);
    if (flags.quiet) return json;
    for (const node of result.nodes)
      this.log(`SUCCESS: rednode ${node.path} ready (${node.action}, alias ${node.alias})`);
    const provides = hostProvidesLine(json);
    if (provides) this.log(provides);
    return json;
  }
}
