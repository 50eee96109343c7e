/**
 * What `redmanager create-node` and redpak's spelling of it, `redwrap-dnf manager`, share: the flags
 * that describe a node to create, declared once, and the `--json` result.
 */
import { Flags } from '@oclif/core';
import type { CreatedNode } from '../node/factory.js';
import type { createPackageNode } from '../pkg/node-setup.js';
import { redpathFlag, sysrootFlag } from './base-command.js';

/**
 * `--json` result: the nodes written, a system node first when one was created; `hostProvides`
 * when the host's capabilities were registered in a new family root.
 */
export interface CreateNodeResult {
  nodes: Omit<CreatedNode, 'hostPath'>[];
  hostProvides?: { node: string; nevra: string; count: number };
}

/** The flags both commands take. */
export const nodeCreationFlags = {
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
  root: sysrootFlag,
};

/** The `--json` result of a creation: the host paths stay out (they are the sysroot's business). */
export function createNodeResult(result: Awaited<ReturnType<typeof createPackageNode>>): CreateNodeResult {
  return {
    nodes: result.nodes.map(({ hostPath: _hostPath, ...node }) => node),
    ...(result.hostProvides ? { hostProvides: result.hostProvides } : {}),
  };
}

/** The line that says host capabilities were registered, or nothing. */
export function hostProvidesLine(result: CreateNodeResult): string | undefined {
  const provides = result.hostProvides;
  return provides ? `registered ${provides.count} host capabilities in ${provides.node}` : undefined;
}
