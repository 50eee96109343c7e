import { Args } from '@oclif/core';
import { RedpakCommand } from '../../src/cli/base-command.js';
import { byState, commonFlags, commonOptions, repoStateFlags } from '../../src/cli/pkg-commands.js';
import { repoInfoLines } from '../../src/cli/pkg-ui.js';
import { repoinfo, repolist, type RepoDetail } from '../../src/pkg/manager.js';

/**
 * `--json` result: `{repos: [RepoDetail]}`: repolist's fields (see `repolist --help`); `repo info` adds,
 * for an enabled repository, `packages`, `size` (bytes), `updated`, `fetchedAt` and `metadataFrom`.
 */
export interface RepoResult {
  repos: RepoDetail[];
}

export default class Repo extends RedpakCommand {
  static override summary = 'The repositories the node uses: repo list, repo info.';
  static override description =
    `repo list: the repositories' ids and names (--all, --enabled (the default), --disabled).
repo info [REPO…]: every setting of each repository (REPO: ids or globs), and for an enabled one the package count, size and age of its metadata (fetched when expired, as for any command reading the repositories).
The node's etc/yum.repos.d/*.repo files, or, when it has none, those of its closest ancestor that has some. dnf4's spellings: repolist, repoinfo.`;
  static override examples = [
    '<%= config.bin %> --redpath /var/redpak/platform/app repo list --all',
    '<%= config.bin %> --redpath /var/redpak/platform/app repo info fixtures',
  ];
  static override strict = false;
  static override args = {
    action: Args.string({ description: 'list or info', options: ['list', 'info'], required: true }),
    repos: Args.string({ description: 'repository ids or globs' }),
  };
  static override flags = { ...commonFlags, ...repoStateFlags };

  async run(): Promise<RepoResult> {
    const { args, argv, flags } = await this.parse(Repo);
    const ids = (argv as string[]).slice(1);
    const options = { ...commonOptions(flags), all: true };
    if (args.action === 'info') {
      const repos = byState(await repoinfo({ ...options, ids }), { ...flags, all: flags.all || ids.length > 0 });
      this.log(repos.map((r) => repoInfoLines(r).join('\n')).join('\n\n'));
      return { repos };
    }
    const repos = byState(
      repolist(options).filter((r) => ids.length === 0 || ids.includes(r.id)),
      flags,
    );
    const width = Math.max(7, ...repos.map((r) => r.id.length)) + 2;
    const nameWidth = Math.max(9, ...repos.map((r) => r.name.length)) + 2;
    const status = flags.all || flags.disabled;
    this.log(`${'repo id'.padEnd(width)}${status ? `${'repo name'.padEnd(nameWidth)}status` : 'repo name'}`);
    for (const r of repos)
      this.log(
        `${r.id.padEnd(width)}${status ? `${r.name.padEnd(nameWidth)}${r.enabled ? 'enabled' : 'disabled'}` : r.name}`,
      );
    return { repos };
  }
}
