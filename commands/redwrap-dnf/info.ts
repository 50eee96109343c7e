import { Args } from '@oclif/core';
import { RedpakCommand } from '../../src/cli/base-command.js';
import { commonFlags, commonOptions } from '../../src/cli/pkg-commands.js';
import { info, type ListedPackage } from '../../src/pkg/manager.js';
import { formatSize } from '../../src/cli/pkg-ui.js';

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
      const [version, release] = [p.evr.replace(/-[^-]*$/, ''), p.evr.replace(/^.*-/, '')];
      const rows: [string, string | undefined][] = [
        ['Name', p.name],
        ['Version', version],
        ['Release', release],
        ['Architecture', p.arch],
        [
          'Size',
          p.size !== undefined
            ? formatSize(p.size)
            : p.installsize !== undefined
              ? formatSize(p.installsize)
              : undefined,
        ],
        ['Repository', p.repo],
        ['Node', p.node],
        ['Summary', p.summary],
        ['URL', p.url || undefined],
        ['License', p.license],
        ['Description', p.description],
      ];
      this.log(p.repo === '@System' ? 'Installed Packages' : 'Available Packages');
      for (const [k, v] of rows) if (v !== undefined) this.log(`${k.padEnd(13)}: ${v}`);
      this.log('');
    }
    return { packages };
  }
}
