import { Args, Flags } from '@oclif/core';
import { RedpakCommand } from '../../src/cli/base-command.js';
import { commonFlags } from '../../src/cli/pkg-commands.js';
import { runQueryCommand, type SearchResult } from '../../src/cli/query-command.js';

/** `--json` result: src/cli/query-command.ts SearchResult. */
export type { SearchResult };

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
    return runQueryCommand('search', argv as string[], flags, (line) => this.log(line));
  }
}
