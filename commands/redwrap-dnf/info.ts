import { Args } from '@oclif/core';
import { RedpakCommand } from '../../src/cli/base-command.js';
import { commonFlags } from '../../src/cli/pkg-commands.js';
import { type InfoResult, runQueryCommand } from '../../src/cli/query-command.js';

/** `--json` result: src/cli/query-command.ts InfoResult. */
export type { InfoResult };

export default class Info extends RedpakCommand {
  static override summary = 'Show details of installed and available packages.';
  static override description =
    'Installed packages are looked up in the whole family view (the owning node is shown); available ones are the newest version of each repository.';
  static override examples = ['<%= config.bin %> --redpath /var/redpak/platform/app info redhello'];
  static override strict = false;
  static override args = { packages: Args.string({ description: 'package names or globs', required: true }) };
  static override flags = commonFlags;

  async run(): Promise<InfoResult> {
    const { argv, flags } = await this.parse(Info);
    return runQueryCommand('info', argv as string[], flags, (line) => this.log(line));
  }
}
