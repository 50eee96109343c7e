import { Flags } from '@oclif/core';
import { RedpakCommand } from '../../src/cli/base-command.js';
import { commonFlags, commonOptions } from '../../src/cli/pkg-commands.js';
import { repoInfoLines } from '../../src/cli/pkg-ui.js';
import { repolist, type RepoStatus } from '../../src/pkg/manager.js';

/**
 * `--json` result: `{repos: [{id, name, enabled, baseurl[], mirrorlist?, metalink?, gpgcheck, priority, cost,
 * excludepkgs[], includepkgs[], skipIfUnavailable, metadataExpire, file, definedBy}]}`.
 */
export interface RepolistResult {
  repos: RepoStatus[];
}

export default class Repolist extends RedpakCommand {
  static override summary = 'List the repositories the node uses.';
  static override description =
    "The node's etc/yum.repos.d/*.repo files, or, when it has none, those of its closest ancestor that has some. --all also shows disabled repositories; -v (--verbose) every setting.";
  static override examples = [
    '<%= config.bin %> --redpath /var/redpak/platform/app repolist',
    '<%= config.bin %> --redpath /var/redpak/platform/app repolist -v --all',
  ];
  static override flags = {
    ...commonFlags,
    all: Flags.boolean({ description: 'also disabled repositories' }),
  };

  async run(): Promise<RepolistResult> {
    const { flags } = await this.parse(Repolist);
    const repos = repolist({ ...commonOptions(flags), all: flags.all });
    if (flags.verbose) {
      this.log(repos.map((r) => repoInfoLines(r).join('\n')).join('\n\n'));
      return { repos };
    }
    const width = Math.max(7, ...repos.map((r) => r.id.length)) + 2;
    this.log(`${'repo id'.padEnd(width)}repo name`);
    for (const r of repos)
      this.log(`${r.id.padEnd(width)}${r.name}${r.enabled ? '' : ' (disabled)'}   [${r.definedBy}]`);
    return { repos };
  }
}
