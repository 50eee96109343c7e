import { Args } from '@oclif/core';
import { RedpakCommand } from '../../src/cli/base-command.js';
import { commonFlags, commonOptions } from '../../src/cli/pkg-commands.js';
import { info, type ListedPackage } from '../../src/pkg/manager.js';
import { infoLines } from '../../src/cli/pkg-ui.js';

/** `--json` result: `{packages: [{nevra, name, evr, arch, repo, node?, summary, description, license, url, size?, installsize, requires, provides}]}`. */
export interface InfoResult {
  packages: ListedPackage[];
}

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
    const packages = await info({ ...commonOptions(flags), specs: argv as string[] });
    for (const p of packages) {
      this.log(p.repo === '@System' ? 'Installed Packages' : 'Available Packages');
      this.log(`${infoLines(p).join('\n')}\n`);
    }
    return { packages };
  }
}
