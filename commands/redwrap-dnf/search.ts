import { Args, Flags } from '@oclif/core';
import { RedpakCommand } from '../../src/cli/base-command.js';
import { commonFlags, commonOptions } from '../../src/cli/pkg-commands.js';
import { search, type SearchedPackage, type SearchMatch } from '../../src/pkg/manager.js';

/**
 * `--json` result: `{packages: [{nevra, name, evr, arch, repo, summary, node?, size?, matched}]}`,
 * `matched` one of "name-exact", "name-and-summary", "name", "summary", "description-or-url"
 * (best first, the order of the list).
 */
export interface SearchResult {
  packages: SearchedPackage[];
}

const SECTIONS: Record<SearchMatch, string> = {
  'name-exact': 'Name Exactly Matched',
  'name-and-summary': 'Name & Summary Matched',
  name: 'Name Matched',
  summary: 'Summary Matched',
  'description-or-url': 'Description & URL Matched',
};

export default class Search extends RedpakCommand {
  static override summary = 'Search package names and summaries for the given terms.';
  static override description =
    `Every term must appear (case-insensitive) in the package's name or summary; with --all, also in its description or URL. The newest version of each package is shown, installed ones as the family has them, grouped as dnf groups them (name exactly, name and summary, name, summary). No match is an error (exit 7).`;
  static override examples = [
    '<%= config.bin %> --redpath /var/redpak/platform/app search hello',
    '<%= config.bin %> --redpath /var/redpak/platform/app search --all redpak',
  ];
  static override strict = false;
  static override args = { terms: Args.string({ description: 'words to look for', required: true }) };
  static override flags = {
    ...commonFlags,
    all: Flags.boolean({ description: 'also search descriptions and URLs' }),
  };

  async run(): Promise<SearchResult> {
    const { argv, flags } = await this.parse(Search);
    const terms = argv as string[];
    const packages = await search({ ...commonOptions(flags), terms, all: flags.all });
    let section: SearchMatch | undefined;
    for (const p of packages) {
      if (p.matched !== section) {
        section = p.matched;
        this.log(`${'='.repeat(8)} ${SECTIONS[section]}: ${terms.join(', ')} ${'='.repeat(8)}`);
      }
      this.log(`${p.name}.${p.arch} : ${p.summary}`);
    }
    return { packages };
  }
}
