import { Args, Flags } from '@oclif/core';
import { copyFileSync, mkdirSync, renameSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { RedpakCommand } from '../../src/cli/base-command.js';
import { commonFlags, commonOptions } from '../../src/cli/pkg-commands.js';
import { RedpakError } from '../../src/errors.js';
import { install } from '../../src/pkg/manager.js';

/** `--json` result: `{node, files: [{nevra, path}]}`: the .rpm files written into the destination directory. */
export interface DownloadResult {
  node: string;
  files: { nevra: string; path: string }[];
}

export default class Download extends RedpakCommand {
  static override summary = 'Download packages into a directory, verified, without installing them.';
  static override description =
    `The packages are resolved as an install into the node would be (against its family and repositories), downloaded, checked against the repository checksums (and signatures with gpgcheck), and copied into --destdir (default: the current directory). Without --resolve only the packages named are copied; with it, their missing dependencies too. A package the family already has is not downloaded (an error says so). The node is not changed.`;
  static override examples = [
    '<%= config.bin %> --redpath /var/redpak/platform/app download redhello --destdir /tmp/rpms',
    '<%= config.bin %> --redpath /var/redpak/platform/app download --resolve redhello',
  ];
  static override strict = false;
  static override args = { packages: Args.string({ description: 'package specs', required: true }) };
  static override flags = {
    ...commonFlags,
    destdir: Flags.string({
      description: 'directory to write the packages in (default: current directory)',
      helpValue: 'DIR',
    }),
    resolve: Flags.boolean({ description: 'also download the dependencies the family lacks' }),
  };

  async run(): Promise<DownloadResult> {
    const { argv, flags } = await this.parse(Download);
    const specs = argv as string[];
    const result = await install({ ...commonOptions(flags), specs, downloadOnly: true });
    if (result.status !== 'downloaded') {
      throw new RedpakError(
        'package',
        `nothing to download: the family of node ${result.node} already has ${specs.join(', ')}`,
        {
          hint: `\`redwrap-dnf --redpath ${result.node} list --family\` shows where`,
        },
      );
    }
    const asked = new Set(result.packages.filter((p) => p.reason !== 'dependency').map((p) => p.nevra));
    const destdir = resolve(flags.destdir ?? '.');
    mkdirSync(destdir, { recursive: true });
    const files = (result.files ?? [])
      .filter((f) => flags.resolve || asked.has(f.nevra))
      .map((f) => {
        const path = join(destdir, basename(f.path));
        // Whole files only: a copy cut short never has the package's name.
        copyFileSync(f.path, `${path}.part`);
        renameSync(`${path}.part`, path);
        return { nevra: f.nevra, path };
      });
    for (const f of files) this.log(f.path);
    return { node: result.node, files };
  }
}
