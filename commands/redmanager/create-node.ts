import { Flags } from '@oclif/core';
import { RedpakCommand } from '../../src/cli/base-command.js';
import {
  type CreateNodeResult,
  createNodeResult,
  hostProvidesLine,
  nodeCreationFlags,
} from '../../src/cli/node-creation.js';
import { createPackageNode } from '../../src/pkg/node-setup.js';

/** `--json` result: documented in docs/json-output.md. */
export type { CreateNodeResult };

export default class CreateNode extends RedpakCommand {
  static override summary = 'Create a node (and its system node when it has no parent node).';
  static override description = `Creates the node directory, etc/redpak.yaml, etc/redpak-admin.yaml and .rednode.yaml.
Configs come from templates (system, leaf, full; see templates/) or from given files; headers get the alias, a fresh UUID name and who created the node.
Without --no-system-node, a node that would have no parent node gets one: its parent directory becomes the "system" node (system templates), and the node itself uses the leaf templates. With --no-system-node such a first node uses the full templates.
Every node gets its own empty rpm database (var/lib/rpm). On a host without an rpm database (Debian), a new family root also gets the host's capabilities (/bin/sh, libc sonames, …) registered in its database, so that packages resolve against what the host provides (--no-host-provides skips it).
Nothing is written unless everything was checked; a failure leaves nothing behind.`;

  static override examples = [
    '<%= config.bin %> create-node --redpath /var/redpak/platform',
    '<%= config.bin %> create-node --redpath /var/redpak/platform/app --alias app',
    '<%= config.bin %> create-node --redpath /var/redpak/app --no-system-node --template full',
    '<%= config.bin %> create-node --root ./image --redpath /var/redpak/app',
  ];

  static override flags = {
    ...nodeCreationFlags,
    config: Flags.string({
      char: 'c',
      description:
        'YAML file used as the normal config (headers rewritten); without --config-admin no admin config is written',
    }),
    'config-admin': Flags.string({ char: 'C', description: 'YAML file used as the admin config (headers rewritten)' }),
    'template-dir': Flags.string({
      description: 'directory of templates (default: $REDNODE_TEMPLATE_DIR, else the templates shipped with redpak)',
    }),
  };

  async run(): Promise<CreateNodeResult> {
    const { flags } = await this.parse(CreateNode);
    const result = await createPackageNode({
      redpath: flags.redpath,
      sysroot: flags.root,
      alias: flags.alias,
      template: flags.template,
      templateAdmin: flags['template-admin'],
      config: flags.config,
      configAdmin: flags['config-admin'],
      systemNode: !flags['no-system-node'],
      update: flags.update,
      templateDir: flags['template-dir'],
      hostProvides: flags['host-provides'],
      host: this.host(),
    });
    const json = createNodeResult(result);
    for (const node of json.nodes) this.log(`${node.action} node ${node.alias} at ${node.path}`);
    const provides = hostProvidesLine(json);
    if (provides) this.log(provides);
    return json;
  }
}
