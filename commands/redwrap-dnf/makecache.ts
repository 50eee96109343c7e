import { RedpakCommand } from '../../src/cli/base-command.js';
import { commonFlags, commonOptions } from '../../src/cli/pkg-commands.js';
import { makecache } from '../../src/pkg/manager.js';

/** `--json` result: `{cacheDir, repos: [{id, baseurl, fetched}]}`; `fetched` false when the cache was still fresh. */
export interface MakecacheResult {
  cacheDir: string;
  repos: { id: string; baseurl: string; fetched: boolean }[];
}

export default class Makecache extends RedpakCommand {
  static override summary = "Fetch the repositories' metadata into the node's cache.";
  static override description =
    "Metadata that has not expired (metadata_expire) is kept unless --refresh. Every file is checked against repomd.xml's checksums; the cache is the cachedir of the closest node (leaf to root) whose config sets one.";
  static override examples = ['<%= config.bin %> --redpath /var/redpak/platform/app makecache --refresh'];
  static override flags = commonFlags;

  async run(): Promise<MakecacheResult> {
    const { flags } = await this.parse(Makecache);
    const result = await makecache(commonOptions(flags));
    for (const r of result.repos)
      this.log(`${r.id}: ${r.fetched ? 'metadata fetched' : 'metadata cache is fresh'} (${r.baseurl})`);
    this.log(`Metadata cache created in ${result.cacheDir}.`);
    return result;
  }
}
