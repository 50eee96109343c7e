import { Flags } from '@oclif/core';
import { RedpakCommand } from '../../src/cli/base-command.js';
import { commonFlags, commonOptions } from '../../src/cli/pkg-commands.js';
import { repolist, type RepoStatus } from '../../src/pkg/manager.js';

/**
 * `--json` result: `{repos: [{id, name, enabled, baseurl[], mirrorlist?, metalink?, gpgcheck, priority, cost,
 * excludepkgs[], includepkgs[], skipIfUnavailable, metadataExpire, file, definedBy}]}`.
 */
export interface RepolistResult {
  repos: RepoStatus[];
}

/** dnf's `repolist -v` block of one repository. */
function verboseText(r: RepoStatus): string {
  const lines: [string, string | undefined][] = [
    ['Repo-id', r.id],
    ['Repo-name', r.name],
    ['Repo-status', r.enabled ? 'enabled' : 'disabled'],
    ['Repo-baseurl', r.baseurl.join(', ') || undefined],
    ['Repo-metalink', r.metalink],
    ['Repo-mirrors', r.mirrorlist],
    ['Repo-gpgcheck', r.gpgcheck ? 'yes' : 'no'],
    ['Repo-priority', String(r.priority)],
    ['Repo-cost', String(r.cost)],
    ['Repo-exclude', r.excludepkgs.join(', ') || undefined],
    ['Repo-include', r.includepkgs.join(', ') || undefined],
    ['Repo-skip-if-unavailable', r.skipIfUnavailable ? 'yes' : 'no'],
    ['Repo-expire', r.metadataExpire === null ? 'never' : `${r.metadataExpire} second(s)`],
    ['Repo-filename', r.file],
    ['Repo-node', r.definedBy],
  ];
  return lines
    .filter((l): l is [string, string] => l[1] !== undefined)
    .map(([k, v]) => `${k.padEnd(25)}: ${v}`)
    .join('\n');
}

export default class Repolist extends RedpakCommand {
  static override summary = 'List the repositories the node uses.';
  static override description =
    "The node's etc/yum.repos.d/*.repo files, or, when it has none, those of its closest ancestor that has some. --all also shows disabled repositories; -v every setting.";
  static override examples = [
    '<%= config.bin %> --redpath /var/redpak/platform/app repolist',
    '<%= config.bin %> --redpath /var/redpak/platform/app repolist -v --all',
  ];
  static override flags = {
    ...commonFlags,
    all: Flags.boolean({ description: 'also disabled repositories' }),
    verbose: Flags.boolean({
      char: 'v',
      description: 'every setting of each repository (urls, mirrors, cost, expiry…)',
    }),
  };

  async run(): Promise<RepolistResult> {
    const { flags } = await this.parse(Repolist);
    const repos = repolist({ ...commonOptions(flags), all: flags.all });
    if (flags.verbose) {
      this.log(repos.map(verboseText).join('\n\n'));
      return { repos };
    }
    const width = Math.max(7, ...repos.map((r) => r.id.length)) + 2;
    this.log(`${'repo id'.padEnd(width)}repo name`);
    for (const r of repos)
      this.log(`${r.id.padEnd(width)}${r.name}${r.enabled ? '' : ' (disabled)'}   [${r.definedBy}]`);
    return { repos };
  }
}
