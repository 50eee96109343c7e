import { Flags } from '@oclif/core';
import { RedpakCommand } from '../../src/cli/base-command.js';
import { commonFlags, commonOptions } from '../../src/cli/pkg-commands.js';
import { addRepo } from '../../src/pkg/manager.js';
import type { AddedRepoFile } from '../../src/pkg/repos.js';

/** `--json` result: `{file, repos: [id], hidden: [id]}`; `hidden`: the ancestor's repositories the node no longer uses. */
export type ConfigManagerResult = AddedRepoFile;

export default class ConfigManager extends RedpakCommand {
  static override summary = "Add a repository to the node's etc/yum.repos.d (dnf config-manager --add-repo).";
  static override description =
    "A URL ending in .repo is fetched and written as it is once it parses; any other URL becomes a repository with that baseurl (its id from the URL, or --id). An existing file or repository id is never overwritten. A node with repository files of its own no longer uses its ancestor's: the result names those.";
  static override examples = [
    '<%= config.bin %> --redpath /var/redpak config-manager --add-repo https://repo.example.com/corp.repo',
    '<%= config.bin %> --redpath /var/redpak config-manager --add-repo https://repo.example.com/el9/x86_64/ --id corp',
  ];
  static override flags = {
    ...commonFlags,
    'add-repo': Flags.string({
      description: 'URL of a .repo file, or baseurl of a repository',
      required: true,
      helpValue: 'URL',
    }),
    id: Flags.string({ description: 'id of the repository made from a baseurl', helpValue: 'ID' }),
  };

  async run(): Promise<ConfigManagerResult> {
    const { flags } = await this.parse(ConfigManager);
    const result = await addRepo({ ...commonOptions(flags), url: flags['add-repo'], id: flags.id });
    this.log(`Added repository ${result.repos.join(', ')} in ${result.file}`);
    if (result.hidden.length)
      this.log(`The node now uses its own repository files, no longer its ancestor's: ${result.hidden.join(', ')}`);
    return result;
  }
}
