import { Flags } from '@oclif/core';
import { RedpakCommand } from '../../src/cli/base-command.js';
import { commonFlags, commonOptions } from '../../src/cli/pkg-commands.js';
import { registerHost, type HostProvidesResult } from '../../src/pkg/manager.js';

/** `--json` result: `{node, nevra, provides: [capabilities registered]}`. */
export type HostProvidesCommandResult = HostProvidesResult;

export default class HostProvides extends RedpakCommand {
  static override summary = "Register the host's capabilities in the node's rpm database.";
  static override description =
    `For hosts without an rpm database (Debian): packages require /bin/sh, libc sonames and the like, which the host provides outside rpm. This records them in the node's own database as the file-less package redpak-host-provides (installed --justdb), so the family's installs resolve. Run it on the family's root (system) node; \`redwrap-dnf manager\` does it when it creates a root node. Detected: common interpreters that exist (/bin/sh, /usr/bin/bash, …) and every library of the ld.so cache with its sonames and symbol versions (rpm's elfdeps). Running it again replaces the previous registration.`;
  static override examples = [
    '<%= config.bin %> --redpath /var/redpak host-provides',
    "<%= config.bin %> --redpath /var/redpak host-provides --provide 'perl(strict)' --no-detect",
  ];
  static override flags = {
    ...commonFlags,
    provide: Flags.string({
      description: 'a capability to add ("name" or "name OP version"); repeatable',
      multiple: true,
      multipleNonGreedy: true,
      helpValue: 'CAP',
    }),
    detect: Flags.boolean({
      description: 'detect the host capabilities (default; --no-detect registers only --provide)',
      default: true,
      allowNo: true,
    }),
  };

  async run(): Promise<HostProvidesCommandResult> {
    const { flags } = await this.parse(HostProvides);
    const result = await registerHost({ ...commonOptions(flags), extra: flags.provide, detect: flags.detect });
    this.log(`registered ${result.provides.length} host capabilities in node ${result.node} as ${result.nevra}`);
    return result;
  }
}
