import { Args } from '@oclif/core';
import { RedpakCommand } from '../../src/cli/base-command.js';
import { commonFlags, commonOptions } from '../../src/pkg/cli-support.js';
import { clean } from '../../src/pkg/manager.js';

/** `--json` result: `{cacheDir, removed: [directories removed]}`. */
export interface CleanResult {
  cacheDir: string;
  removed: string[];
}

export default class Clean extends RedpakCommand {
  static override summary = 'Remove cached metadata and packages of the node\'s repositories.';
  static override description = 'Like `dnf clean all`: the next command fetches the metadata again.';
  static override examples = ['<%= config.bin %> --redpath /var/redpak/platform/app clean all'];
  static override args = { what: Args.string({ description: 'what to clean (only "all" exists, and is the default)', options: ['all', 'metadata', 'packages'], default: 'all' }) };
  static override flags = commonFlags;

  async run(): Promise<CleanResult> {
    const { flags } = await this.parse(Clean);
    const result = await clean(commonOptions(flags));
    this.log(`${result.removed.length} repository cache(s) removed from ${result.cacheDir}`);
    return result;
  }
}
