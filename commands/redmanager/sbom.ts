import { Flags } from '@oclif/core';
import { writeFileSync, renameSync } from 'node:fs';
import { resolve } from 'node:path';
import { RedpakCommand, redpathFlag, sysrootFlag } from '../../src/cli/base-command.js';
import { RedpakError } from '../../src/errors.js';
import { makeSbom, SBOM_FORMATS, type SbomFormat } from '../../src/image/sbom.js';

/**
 * `--json` result: `{format, node, components, output?, document}`: `document` is the SPDX 2.3 or
 * CycloneDX 1.5 document (docs/json-output.md, "redmanager sbom").
 */
export interface SbomCommandResult {
  format: SbomFormat;
  node: string;
  /** Number of packages in the inventory. */
  components: number;
  /** The file written, with -o. */
  output?: string;
  document: Record<string, unknown>;
}

export default class Sbom extends RedpakCommand {
  static override summary =
    "Print the SBOM of a node: its packages and its ancestors', each with the node that provides it.";
  static override description =
    `Reads the rpm databases of the node and its ancestors. Each package comes with name, epoch, version, release, arch, license, source rpm, signature key id, the node that provides it, and the digests of its files.
Formats: SPDX 2.3 JSON (default) or CycloneDX 1.5 JSON. The output is the same for the same family, apart from the creation time: set SOURCE_DATE_EPOCH to pin it.`;

  static override examples = [
    '<%= config.bin %> sbom --redpath /var/redpak/platform/app',
    'SOURCE_DATE_EPOCH=0 <%= config.bin %> sbom --redpath /var/redpak/platform/app --format cyclonedx -o app.cdx.json',
  ];

  static override flags = {
    redpath: redpathFlag,
    format: Flags.string({ char: 'f', description: 'SBOM format', options: [...SBOM_FORMATS], default: 'spdx' }),
    output: Flags.string({
      char: 'o',
      description: 'write the document to this file instead of stdout',
      helpValue: 'FILE',
    }),
    root: sysrootFlag,
  };

  async run(): Promise<SbomCommandResult> {
    const { flags } = await this.parse(Sbom);
    const { format, document, inventory } = await makeSbom({
      redpath: flags.redpath,
      sysroot: flags.root,
      format: flags.format as SbomFormat,
    });
    const text = `${JSON.stringify(document, null, 2)}\n`;
    let output: string | undefined;
    if (flags.output) {
      output = resolve(flags.output);
      const temp = `${output}.tmp-${process.pid}`;
      try {
        writeFileSync(temp, text);
        renameSync(temp, output);
      } catch (error) {
        throw new RedpakError('io', `cannot write ${output}: ${(error as Error).message}`);
      }
      this.log(
        `wrote the ${format} SBOM of ${inventory.node.alias} (${inventory.components.length} packages) to ${output}`,
      );
    } else if (!this.jsonEnabled()) {
      process.stdout.write(text);
    }
    return {
      format,
      node: inventory.node.path,
      components: inventory.components.length,
      ...(output ? { output } : {}),
      document,
    };
  }
}
