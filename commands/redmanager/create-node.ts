import { Flags } from '@oclif/core';
import { RedpakCommand, redpathFlag, sysrootFlag } from '../../src/cli/base-command.js';
import type { CreatedNode } from '../../src/node/factory.js';
import { createPackageNode } from '../../src/pkg/node-setup.js';

/**
 * `--json` result: the nodes written, a system node first when one was created; `hostProvides`
 * when the host's capabilities were registered in a new family root.
 */
export interface CreateNodeResult {
  nodes: Omit<CreatedNode, 'hostPath'>[];
  hostProvides?: { node: string; nevra: string; count: number };
}

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
    redpath: redpathFlag,
    alias: Flags.string({
      char: 'a',
      description: 'node alias (default: the directory name); letters, digits and + - _ @ :',
    }),
    template: Flags.string({
      char: 't',
      description: 'template name (system, leaf, full) or file for the normal config',
    }),
    'template-admin': Flags.string({
      description: 'template name or file for the admin config (default: as --template)',
    }),
    config: Flags.string({
      char: 'c',
      description:
        'YAML file used as the normal config (headers rewritten); without --config-admin no admin config is written',
    }),
    'config-admin': Flags.string({ char: 'C', description: 'YAML file used as the admin config (headers rewritten)' }),
    'no-system-node': Flags.boolean({
      description: 'do not create a system node above a first node; use the full templates for it',
    }),
    update: Flags.boolean({
      char: 'u',
      description: 'rewrite the configs of an existing node, keeping its headers, and enable it',
    }),
    'host-provides': Flags.boolean({
      description:
        "register the host's capabilities in a new family root (default: when the host has no rpm database and no --root)",
      allowNo: true,
    }),
    'template-dir': Flags.string({
      description: 'directory of templates (default: $REDNODE_TEMPLATE_DIR, else the templates shipped with redpak)',
    }),
    root: sysrootFlag,
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
    for (const node of result.nodes) this.log(`${node.action} node ${node.alias} at ${node.path}`);
    if (result.hostProvides)
      this.log(`registered ${result.hostProvides.count} host capabilities in ${result.hostProvides.node}`);
    return {
      nodes: result.nodes.map(({ hostPath: _hostPath, ...node }) => node),
      ...(result.hostProvides ? { hostProvides: result.hostProvides } : {}),
    };
  }
}
