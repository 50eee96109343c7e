import { Args, Flags } from '@oclif/core';
import { RedpakCommand, redpathFlag } from '../../src/cli/base-command.js';
import { RESTART_VALUES } from '../../src/system/systemd-unit.js';
import { createService, type ServiceResult } from '../../src/wrap/service.js';

/** `--json` result (docs/json-output.md). */
export type { ServiceResult };

export default class Service extends RedpakCommand {
  static override summary = 'Write a systemd unit that runs a program in a node with redwrap.';
  static override description =
    `Writes NAME.service (default redpak-ALIAS) that runs "redwrap --redpath NODE -- PROGRAM ARGS..." with Type=exec, KillMode=control-group (stopping the unit ends every process of the app, background children too), Delegate=yes (redwrap creates the node cgroups under the unit's) and Restart= from --restart; the app's output goes to the journal. System units go to /etc/systemd/system; --user writes a rootless unit to ~/.config/systemd/user ($XDG_CONFIG_HOME). --install then runs systemctl daemon-reload and enable --now; it is refused before anything is written when systemd is not running.`;
  static override examples = [
    '<%= config.bin %> service --redpath /var/redpak/platform/app -- /usr/bin/app --serve',
    '<%= config.bin %> service --redpath ~/nodes/app --user --name app --restart always --install -- /usr/bin/app',
  ];
  static override strict = false;
  static override args = {
    command: Args.string({ description: 'program to run in the node, then its arguments (after --)', required: false }),
  };
  static override flags = {
    redpath: redpathFlag,
    name: Flags.string({ char: 'n', description: 'unit name (default redpak-ALIAS); .service is added' }),
    user: Flags.boolean({ description: 'a rootless unit for systemctl --user, in ~/.config/systemd/user' }),
    admin: Flags.boolean({ char: 'a', description: 'run with the admin configs too (redwrap --admin)' }),
    restart: Flags.string({ description: 'Restart= of the unit', options: [...RESTART_VALUES], default: 'on-failure' }),
    install: Flags.boolean({ description: 'enable and start the unit with systemctl (needs a running systemd)' }),
    'output-dir': Flags.string({
      description: "write the unit into this directory instead of systemd's (to review it, or for an image)",
      helpValue: 'DIR',
      exclusive: ['install'],
    }),
  };

  async run(): Promise<ServiceResult> {
    const { flags, argv } = await this.parse(Service);
    const result = createService({
      redpath: flags.redpath,
      command: argv as string[],
      name: flags.name,
      admin: flags.admin,
      user: flags.user,
      restart: flags.restart as (typeof RESTART_VALUES)[number],
      install: flags.install,
      directory: flags['output-dir'],
    });
    this.log(`wrote ${result.file}`);
    const scope = result.user ? ' --user' : '';
    this.log(
      result.installed
        ? `enabled and started ${result.name}`
        : `enable it with: systemctl${scope} enable --now ${result.name}`,
    );
    return result;
  }
}
