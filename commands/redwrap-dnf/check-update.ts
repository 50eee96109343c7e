import { Args } from '@oclif/core';
import { RedpakCommand } from '../../src/cli/base-command.js';
import { commonFlags, commonOptions } from '../../src/cli/pkg-commands.js';
import { checkUpdate, type AvailableUpdate } from '../../src/pkg/manager.js';

/**
 * `--json` result: `{updates: [{nevra, name, evr, arch, repo, summary, size?, installed}]}`:
 * `evr` is the newest available version, `installed` the node's. Exit status 100 when the list
 * is not empty (as dnf's), 0 when it is.
 */
export interface CheckUpdateResult {
  updates: AvailableUpdate[];
}

/** dnf check-update's exit status when updates are available. */
export const UPDATES_AVAILABLE = 100;

export default class CheckUpdate extends RedpakCommand {
  static override summary = "List the node's packages that have a newer version in the repositories.";
  static override description =
    `Only the node's own packages: an ancestor's are upgraded in the ancestor. Exits 100 when there are updates and 0 when there are none, as dnf does, so that a script can test it; --json gives the same statuses.`;
  static override examples = ['<%= config.bin %> --redpath /var/redpak/platform/app check-update'];
  static override strict = false;
  static override args = { packages: Args.string({ description: 'only these packages (names or globs)' }) };
  static override flags = commonFlags;

  async run(): Promise<CheckUpdateResult> {
    const { argv, flags } = await this.parse(CheckUpdate);
    const updates = await checkUpdate({ ...commonOptions(flags), specs: argv.length ? (argv as string[]) : undefined });
    if (updates.length) {
      const width = Math.max(10, ...updates.map((p) => `${p.name}.${p.arch}`.length)) + 2;
      const evrWidth = Math.max(8, ...updates.map((p) => p.evr.length)) + 2;
      this.log('');
      for (const p of updates) this.log(`${`${p.name}.${p.arch}`.padEnd(width)}${p.evr.padEnd(evrWidth)}${p.repo}`);
      process.exitCode = UPDATES_AVAILABLE;
    }
    return { updates };
  }
}
