import { Flags } from '@oclif/core';
import { RedpakCommand, redpathFlag, sysrootFlag } from '../../src/cli/base-command.js';
import { exportNode, type ExportResult } from '../../src/image/archive.js';

/**
 * `--json` result: `{node, alias, output, sha256, size, nodes: [{path, alias, packages}], entries,
 * skipped, signature?}` (docs/json-output.md, "redmanager export").
 */
export type ExportCommandResult = ExportResult;

export default class Export extends RedpakCommand {
  static override summary = 'Write a node (and optionally the nodes below it) into a reproducible tar archive.';
  static override description =
    `The archive holds the node's files, its status, configs and rpm database, and a manifest (first entry, .redpak-archive.json) with the sha256 of every entry, which import checks.
The same content always gives a byte-identical archive: entries sorted, mtimes 0, owner root, modes normalised (0755 directories and executables, 0644 other files).
The rpm database is copied while the family lock is held and its write-ahead log folded in, so the copy is consistent. Caches (.redpak/, var/cache/dnf), the lock and sqlite's side files are left out.
The archive is written to a temporary file and renamed: a failure leaves no partial archive.
With --sign KEY, a detached OpenPGP signature is written beside it (ARCHIVE.asc) with that secret key of gpg's keyring (GNUPGHOME); import --verify-key checks it. The key is looked up before anything is written.`;

  static override examples = [
    '<%= config.bin %> export --redpath /var/redpak/platform/app -o app.tar',
    '<%= config.bin %> export --redpath /var/redpak/platform -o platform.tar --with-descendants --json',
    '<%= config.bin %> export --redpath /var/redpak/platform/app -o app.tar --sign release@example.com',
  ];

  static override flags = {
    redpath: redpathFlag,
    output: Flags.string({ char: 'o', description: 'archive file to write', required: true, helpValue: 'NODE.tar' }),
    'with-descendants': Flags.boolean({ description: 'also archive the nodes below the node (any depth)' }),
    sign: Flags.string({
      description: 'sign the archive with this key of the gpg keyring: writes ARCHIVE.asc',
      helpValue: 'KEY',
    }),
    'lock-wait': Flags.integer({
      description: 'seconds to wait for the family lock held by a package transaction',
      default: 0,
    }),
    root: sysrootFlag,
  };

  async run(): Promise<ExportCommandResult> {
    const { flags } = await this.parse(Export);
    const result = await exportNode({
      redpath: flags.redpath,
      output: flags.output,
      withDescendants: flags['with-descendants'],
      sign: flags.sign,
      lockWait: flags['lock-wait'],
      sysroot: flags.root,
    });
    for (const skipped of result.skipped) this.warnLine(`left out ${skipped}: not a file, directory or symlink`);
    this.log(
      `exported ${result.nodes.map((n) => `${n.alias} (${n.packages} packages)`).join(', ')} to ${result.output}`,
    );
    this.log(`sha256 ${result.sha256}  ${result.size} bytes, ${result.entries} entries`);
    if (result.signature) this.log(`signature ${result.signature}`);
    return result;
  }
}
