import { Args } from '@oclif/core';
import { RedpakCommand } from '../../src/cli/base-command.js';
import { byState, commonFlags, commonOptions, repoStateFlags } from '../../src/cli/pkg-commands.js';
import { repoInfoLines } from '../../src/cli/pkg-ui.js';
import { repoinfo } from '../../src/pkg/manager.js';
import type { RepoResult } from './repo.js';

/** `--json` result: the same as `repo info`'s (`{repos: [RepoDetail]}`). */
export type RepoinfoResult = RepoResult;

export default class Repoinfo extends RedpakCommand {
  static override summary =
    "dnf4's repoinfo: every setting of the repositories, with their package count, size and age.";
  static override description =
    'The same as `repo info` (see its help): REPO ids or globs, --all, --enabled (the default), --disabled.';
  static override examples = ['<%= config.bin %> --redpath /var/redpak/platform/app repoinfo'];
  static override strict = false;
  static override args = { repos: Args.string({ description: 'repository ids or globs' }) };
  static override flags = { ...commonFlags, ...repoStateFlags };

  async run(): Promise<RepoinfoResult> {
    const { argv, flags } = await this.parse(Repoinfo);
    const ids = argv as string[];
    const repos = byState(await repoinfo({ ...commonOptions(flags), all: true, ids }), {
      ...flags,
      all: flags.all || ids.length > 0,
    });
    this.log(repos.map((r) => repoInfoLines(r).join('\n')).join('\n\n'));
    return { repos };
  }
}
