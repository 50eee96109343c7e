import { Args, Flags } from '@oclif/core';
import { RedpakCommand } from '../../src/cli/base-command.js';
import { commonFlags, commonOptions } from '../../src/cli/pkg-commands.js';
import { list, type ListedPackage } from '../../src/pkg/manager.js';

/**
 * `--json` result: `{packages: [{nevra, name, evr, arch, repo, summary, node?, size?}]}`.
 * `repo` is "@System" for an installed package, and `node` is then the node that owns it.
 */
export interface ListResult {
  packages: ListedPackage[];
}

export default class List extends RedpakCommand {
  static override summary = 'List packages: installed in the node, in its family, or available.';
  static override description = `Without a scope flag: the node's family view and the newest available versions.
--installed: the node's own packages. --family: the aggregated view (node + ancestors + host database), each package with the node that owns it. --available: the newest version of each package of the repositories.`;
  static override examples = [
    '<%= config.bin %> --redpath /var/redpak/platform/app list --family',
    '<%= config.bin %> --redpath /var/redpak/platform/app list --available "red*"',
  ];
  static override strict = false;
  static override args = { packages: Args.string({ description: 'package names or globs to list (default: all)' }) };
  static override flags = {
    ...commonFlags,
    installed: Flags.boolean({
      description: "only the node's own installed packages",
      exclusive: ['available', 'family'],
    }),
    available: Flags.boolean({ description: 'only packages of the repositories', exclusive: ['installed', 'family'] }),
    family: Flags.boolean({
      description: 'the aggregated family view, with the owning node of each package',
      exclusive: ['installed', 'available'],
    }),
  };

  async run(): Promise<ListResult> {
    const { argv, flags } = await this.parse(List);
    const scope = flags.installed ? 'installed' : flags.available ? 'available' : flags.family ? 'family' : 'all';
    const packages = await list({
      ...commonOptions(flags),
      scope,
      specs: argv.length ? (argv as string[]) : undefined,
    });
    const installed = packages.filter((p) => p.repo === '@System');
    const available = packages.filter((p) => p.repo !== '@System');
    const width = Math.max(10, ...packages.map((p) => `${p.name}.${p.arch}`.length)) + 2;
    const evrWidth = Math.max(8, ...packages.map((p) => p.evr.length)) + 2;
    if (installed.length) {
      this.log(scope === 'family' ? 'Installed Packages (family view)' : 'Installed Packages');
      for (const p of installed) this.log(`${`${p.name}.${p.arch}`.padEnd(width)}${p.evr.padEnd(evrWidth)}@${p.node}`);
    }
    if (available.length) {
      this.log('Available Packages');
      for (const p of available) this.log(`${`${p.name}.${p.arch}`.padEnd(width)}${p.evr.padEnd(evrWidth)}${p.repo}`);
    }
    return { packages };
  }
}
