import { Args, Flags } from '@oclif/core';
import { RedpakCommand } from '../../src/cli/base-command.js';
import { commonFlags } from '../../src/cli/pkg-commands.js';
import { type RepoqueryResult, runQueryCommand } from '../../src/cli/query-command.js';

/** `--json` result: src/cli/query-command.ts RepoqueryResult. */
export type { RepoqueryResult };

export default class Repoquery extends RedpakCommand {
  static override summary = 'Query packages of the family view and the repositories.';
  static override description = `Prints matching packages, one NEVRA a line.
--whatprovides CAP: packages providing a capability, soname or file. --whatrequires X: packages whose requirements X (a name or what it provides) satisfies. --requires PKG: the requirements of a package. --installed: only the family's installed packages; --available: only the repositories'. -l/--list prints their files instead, -i/--info their details.`;
  static override examples = [
    '<%= config.bin %> --redpath /var/redpak/platform/app repoquery --whatprovides "libredfoo.so.1()(64bit)"',
    '<%= config.bin %> --redpath /var/redpak/platform/app repoquery --whatrequires libredfoo',
    '<%= config.bin %> --redpath /var/redpak/platform/app repoquery --requires redhello',
  ];
  static override strict = false;
  static override args = { packages: Args.string({ description: 'package names or globs to restrict to' }) };
  static override flags = {
    ...commonFlags,
    whatprovides: Flags.string({ description: 'packages that provide this capability or file', helpValue: 'CAP' }),
    whatrequires: Flags.string({
      description: 'packages that require this capability (or what this package provides)',
      helpValue: 'CAP',
    }),
    requires: Flags.string({ description: 'print the requirements of this package', helpValue: 'PKG' }),
    installed: Flags.boolean({ description: 'only installed packages (the family view)', exclusive: ['available'] }),
    available: Flags.boolean({ description: 'only packages of the repositories', exclusive: ['installed'] }),
    list: Flags.boolean({ char: 'l', description: "print each package's files", exclusive: ['info', 'requires'] }),
    info: Flags.boolean({
      char: 'i',
      description: 'print the details of each package, as info does',
      exclusive: ['list', 'requires'],
    }),
    nevra: Flags.boolean({ description: 'print name-[epoch:]version-release.arch (the default)' }),
  };

  async run(): Promise<RepoqueryResult> {
    const { argv, flags } = await this.parse(Repoquery);
    return runQueryCommand('repoquery', argv as string[], flags, (line) => this.log(line));
  }
}
