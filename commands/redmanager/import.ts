import { Args, Flags } from '@oclif/core';
import { RedpakCommand, redpathFlag, sysrootFlag } from '../../src/cli/base-command.js';
import { importNode, type ImportResult } from '../../src/image/archive.js';

/**
 * `--json` result: `{node, alias, nodes: [{path, alias, state, packages}], entries, sha256,
 * exportedFrom, signedBy?: {fingerprint, signer}}` (docs/json-output.md, "redmanager import").
 */
export type ImportCommandResult = ImportResult;

export default class Import extends RedpakCommand {
  static override summary = 'Unpack a node archive (from export) as a new node.';
  static override description =
    `The destination must not exist (or be an empty directory), and the nodes above it must be enabled.
Refused, with nothing changed: an archive that is truncated or tampered with (every entry is checked against the manifest's sha256), unsafe entries (absolute paths, .., links escaping the node, devices, fifos, hard links), and packages that would break the family rules at the destination (a package an ancestor already has, a requirement nothing in the node or its ancestors provides, a conflict with an ancestor's package).
With --verify-key, the archive must also carry a good detached signature (ARCHIVE.asc, or --signature) made by one of the given public keys; only those keys are trusted, in a throwaway keyring.
Everything is unpacked and checked in a hidden staging directory beside the destination, renamed into place at the end. The status of each imported node is rewritten with its new path; files of packages get back the modes and times rpm recorded.`;

  static override examples = [
    '<%= config.bin %> import app.tar --redpath /var/redpak/platform/app',
    '<%= config.bin %> import platform.tar --redpath /var/redpak/platform2 --sha256 9f86d08… --json',
    '<%= config.bin %> import app.tar --redpath /var/redpak/platform/app --verify-key release-key.asc',
  ];

  static override args = {
    archive: Args.string({ description: 'archive written by redmanager export', required: true }),
  };

  static override flags = {
    redpath: redpathFlag,
    sha256: Flags.string({ description: 'refuse the archive unless its sha256 is this (as export printed it)' }),
    'verify-key': Flags.string({
      description: 'public key file (OpenPGP): refuse the archive unless one of these keys signed it',
      multiple: true,
      multipleNonGreedy: true,
      helpValue: 'KEY.asc',
    }),
    signature: Flags.string({
      description: 'the detached signature to check (default: ARCHIVE.asc)',
      dependsOn: ['verify-key'],
      helpValue: 'FILE',
    }),
    forcenode: Flags.boolean({
      description: 'accept packages that an ancestor at the destination has too (the node keeps its own copies)',
    }),
    'lock-wait': Flags.integer({
      description: 'seconds to wait for the family lock held by a package transaction',
      default: 0,
    }),
    root: sysrootFlag,
  };

  async run(): Promise<ImportCommandResult> {
    const { args, flags } = await this.parse(Import);
    const result = await importNode({
      archive: args.archive,
      redpath: flags.redpath,
      sha256: flags.sha256,
      verifyKeys: flags['verify-key'],
      signature: flags.signature,
      forcenode: flags.forcenode,
      lockWait: flags['lock-wait'],
      sysroot: flags.root,
      host: this.host(),
    });
    if (result.signedBy) this.log(`signed by ${result.signedBy.signer} (${result.signedBy.fingerprint})`);
    for (const n of result.nodes) this.log(`imported node ${n.alias} at ${n.path} (${n.packages} packages)`);
    return result;
  }
}
