import { Args } from '@oclif/core';
import { RedpakCommand } from '../../src/cli/base-command.js';
import { commonFlags, commonOptions } from '../../src/cli/pkg-commands.js';
import { clean } from '../../src/pkg/manager.js';
import { CLEAN_KINDS, type CleanKind } from '../../src/pkg/repos.js';

/** `--json` result: what was cleaned in which cache directory. */
export interface CleanResult {
  cacheDir: string;
  kind: CleanKind;
  /** Files and directories removed. */
  removed: string[];
  /** expire-cache: the repositories whose metadata is now expired. */
  expired: string[];
}

export default class Clean extends RedpakCommand {
  static override summary = "Remove cached data of the node's repositories.";
  static override description = [
    'Like `dnf clean`, in the family cachedir:',
    '  all           repository metadata, downloaded packages and the solver cache (the default)',
    '  metadata      repository metadata and the solver cache; downloaded packages stay',
    '  packages      downloaded packages',
    '  dbcache       the solver cache (parsed copies of databases and repositories)',
    '  expire-cache  mark the metadata expired: the next command checks the repositories again',
  ].join('\n');
  static override examples = [
    '<%= config.bin %> --redpath /var/redpak/platform/app clean',
    '<%= config.bin %> --redpath /var/redpak/platform/app clean packages',
  ];
  static override args = {
    what: Args.string({ description: 'what to clean', options: [...CLEAN_KINDS], default: 'all' }),
  };
  static override flags = commonFlags;

  async run(): Promise<CleanResult> {
    const { args, flags } = await this.parse(Clean);
    const result = await clean({ ...commonOptions(flags), kind: args.what as CleanKind });
    if (result.kind === 'expire-cache')
      this.log(`${result.expired.length} repository cache(s) marked expired in ${result.cacheDir}`);
    else
      this.log(
        `${result.removed.length} cache entr${result.removed.length === 1 ? 'y' : 'ies'} removed from ${result.cacheDir}`,
      );
    return result;
  }
}
