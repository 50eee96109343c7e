import { Flags } from '@oclif/core';
import { RedpakCommand, redpathFlag, sysrootFlag } from '../../src/cli/base-command.js';
import type { mergedConfigJson } from '../../src/inspect/mergeconfig.js';
import { mergeConfigView } from '../../src/cli/views.js';

/** `--json` result: documented in docs/json-output.md ("mergeconfig"). */
export type MergeConfigResult = ReturnType<typeof mergedConfigJson>;

export default class MergeConfig extends RedpakCommand {
  static override summary = 'Show the configuration a node gets from its whole family, with the origin of every value.';
  static override description =
    `Merges the node's config with its ancestors' as redwrap does: for exports, environ and capabilities the definition closest to the node wins and an admin file beats a normal one; path and ldpath accumulate; namespace sharing and capabilities a parent forbids are errors.
Every value names the node, file and line it comes from, and every definition it overrides. Without --admin the admin files are not read (as redpak's mergeconfig).`;

  static override examples = [
    '<%= config.bin %> mergeconfig --redpath /var/redpak/platform/app',
    '<%= config.bin %> mergeconfig --redpath /var/redpak/platform/app --admin --expand --json',
  ];

  static override flags = {
    redpath: redpathFlag,
    admin: Flags.boolean({
      char: 'a',
      description: 'include the admin configs (as redwrap --admin and redwrap-dnf see the family)',
    }),
    expand: Flags.boolean({ char: 'e', description: 'expand variables in exports and environ as the launch would' }),
    // No -y: -y is --assumeyes wherever it is given.
    yaml: Flags.boolean({
      description: 'print YAML (the default), provenance in comments',
      exclusive: ['json'],
    }),
    root: sysrootFlag,
  };

  async run(): Promise<MergeConfigResult> {
    const { flags } = await this.parse(MergeConfig);
    return this.show(mergeConfigView(flags, this.jsonEnabled()));
  }
}
