import { Args } from '@oclif/core';
import { RedpakCommand } from '../../src/cli/base-command.js';
import { commonFlags } from '../../src/cli/pkg-commands.js';
import { type ProvidesResult, runQueryCommand } from '../../src/cli/query-command.js';

/** `--json` result: src/cli/query-command.ts ProvidesResult. */
export type { ProvidesResult };

export default class Provides extends RedpakCommand {
  static override summary = 'Find the packages that provide a capability or a file.';
  static override aliases = ['whatprovides'];
  static override description =
    `Looks in the family's installed packages (with the node that has each) and in the repositories. A capability is a name, a soname ("libfoo.so.1()(64bit)") or a versioned spec ("foo >= 1.2"); a file is given by its full path. Nothing found is an error (exit 7).`;
  static override examples = [
    '<%= config.bin %> --redpath /var/redpak/platform/app provides /usr/bin/redhello',
    '<%= config.bin %> --redpath /var/redpak/platform/app whatprovides "libredfoo.so.1()(64bit)"',
  ];
  static override strict = false;
  static override args = { what: Args.string({ description: 'capabilities or file paths', required: true }) };
  static override flags = commonFlags;

  async run(): Promise<ProvidesResult> {
    const { argv, flags } = await this.parse(Provides);
    return runQueryCommand('provides', argv as string[], flags, (line) => this.log(line));
  }
}
