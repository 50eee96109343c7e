import { Args } from '@oclif/core';
import { RedpakCommand } from '../../src/cli/base-command.js';
import { commonFlags, commonOptions } from '../../src/cli/pkg-commands.js';
import { provides, type ListedPackage } from '../../src/pkg/manager.js';

/** `--json` result: `{packages: [{nevra, name, evr, arch, repo, summary, node?, size?}]}`. */
export interface ProvidesResult {
  packages: ListedPackage[];
}

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
    const packages = await provides({ ...commonOptions(flags), what: argv as string[] });
    for (const p of packages) {
      this.log(`${p.nevra} : ${p.summary}`);
      this.log(`Repo        : ${p.repo}${p.node ? ` (node ${p.node})` : ''}`);
      this.log('');
    }
    return { packages };
  }
}
