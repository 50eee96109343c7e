import { Args } from '@oclif/core';
import { RedpakCommand, redpathFlag, sysrootFlag } from '../../src/cli/base-command.js';
import { renderWhy, why, type WhyResult } from '../../src/audit/why.js';

/**
 * `--json` result: documented in docs/json-output.md ("redmanager why"):
 * `{node, alias, capability, providers: [{package, name, node, alias?, provides, inView}], requirers: [{package, name, node, alias?, requirement, satisfied, satisfiedBy: [{package, name, node, alias?}]}]}`.
 */
export type WhyCommandResult = WhyResult;

export default class Why extends RedpakCommand {
  static override summary =
    "Which node's package provides a capability to a node, and which packages in which nodes require it.";
  static override description =
    `CAPABILITY is a package name, a capability (libfoo.so.1()(64bit), redfoo-abi >= 1) or a file path. Providers are looked up in the node and its ancestors (and, marked, in its descendants); requirers in the node, its ancestors and its descendants, each with the package and node that satisfies the requirement in its own view. A package name also lists the packages whose requirements it meets (through its sonames, files, …).
Exits 7 when nothing in the family provides or requires it.`;

  static override examples = [
    '<%= config.bin %> why libredfoo --redpath /var/redpak/platform',
    "<%= config.bin %> why 'libredfoo.so.1()(64bit)' --redpath /var/redpak/platform/app --json",
  ];

  static override args = {
    capability: Args.string({ description: 'package name, capability or file path', required: true }),
  };
  static override flags = { redpath: redpathFlag, root: sysrootFlag };

  async run(): Promise<WhyCommandResult> {
    const { args, flags } = await this.parse(Why);
    const result = await why({ redpath: flags.redpath, capability: args.capability, sysroot: flags.root });
    this.log(renderWhy(result));
    return result;
  }
}
