import { Args, Flags } from '@oclif/core';
import { RedpakCommand, redpathFlag, sysrootFlag } from '../../src/cli/base-command.js';
import { RedpakError } from '../../src/errors.js';
import { DEFAULT_BWRAP } from '../../src/wrap/launch.js';
import type { LaunchDump } from '../../src/wrap/dump.js';
import { dumpOnlyView } from '../../src/cli/views.js';
import { runLaunch } from '../../src/cli/launch-command.js';
import { parseRedwrapArgv } from '../../src/cli/redwrap-argv.js';

/** `--json` result: with --dump-only the launch plan; otherwise the program's exit status. */
export type RedwrapResult = LaunchDump | { status: number };

export default class Redwrap extends RedpakCommand {
  static override summary = "Run a program inside a node, isolated as its whole family's configuration says.";
  static override description =
    `Merges the configs of the node and its ancestors (admin configs too with --admin) and runs the program with bubblewrap: exports become mounts, environ the environment, capabilities, hostname, namespaces, cgroups and seccomp filters are applied. Every ancestor's seccomp filter and cgroup limit applies, so a node can only narrow what its parents set.
The exit status is the program's (128+signal when it is killed); redwrap's own errors exit with the status of their class (README, "Exit statuses").
--dump-only prints the plan and does nothing else: no directory, cgroup or Execfd command.
Running sandboxes: \`redwrap ps\` lists them, \`redwrap stop\` ends them, \`redwrap enter\` runs a command in one (\`redwrap ps --help\`, \`redwrap stop --help\`, \`redwrap enter --help\`).`;

  static override examples = [
    '<%= config.bin %> --redpath /var/redpak/platform/app -- /bin/sh -c "echo hello"',
    '<%= config.bin %> --redpath /var/redpak/platform/app --dump-only --json -- /usr/bin/app',
  ];

  static override strict = false;
  static override args = {
    command: Args.string({
      description: 'program to run, then its arguments (after the options, or after --)',
      required: false,
    }),
  };
  static override flags = {
    redpath: redpathFlag,
    admin: Flags.boolean({ char: 'a', description: 'use the admin configs too' }),
    dump: Flags.boolean({ description: 'print the launch plan on stderr, then run' }),
    'dump-only': Flags.boolean({ char: 'D', description: 'print the launch plan and run nothing' }),
    strict: Flags.boolean({
      char: 's',
      description: 'skip exports whose source directory is missing instead of creating it',
    }),
    force: Flags.boolean({
      char: 'f',
      description: 'create missing export directories (the default; undoes an earlier --strict)',
    }),
    verbose: Flags.boolean({ char: 'v', description: 'accepted for compatibility with redpak; no effect' }),
    user: Flags.string({
      char: 'U',
      aliases: ['uid'],
      description: "run as this user (name or uid), over the family's set-user",
    }),
    group: Flags.string({
      char: 'G',
      aliases: ['gid'],
      description: "run with this group (name or gid), over the family's set-group",
    }),
    bwrap: Flags.string({ char: 'b', description: 'bubblewrap binary', default: DEFAULT_BWRAP }),
    root: sysrootFlag,
  };

  async run(): Promise<RedwrapResult> {
    await this.parse(Redwrap); // oclif's view (--json, help); the launch itself follows redwrap's grammar
    const parsed = parseRedwrapArgv(this.argv);
    if (parsed.show) throw new RedpakError('usage', `${parsed.show} is shown before the command runs`);
    const { options, command } = parsed;
    if (options.dumpOnly) return this.show(dumpOnlyView(options, command));
    const status = await runLaunch(options, command, this.host(), (message) => this.warnLine(message));
    process.exitCode = status;
    return { status };
  }
}
