import { Args, Flags } from '@oclif/core';
import { RedpakCommand, redpathFlag, sysrootFlag } from '../../src/cli/base-command.js';
import { RedpakError } from '../../src/errors.js';
import { compileLaunch, executeLaunch, DEFAULT_BWRAP } from '../../src/wrap/launch.js';
import { dumpJson, dumpText, type LaunchDump } from '../../src/wrap/dump.js';
import { inspectionHostFacts } from '../../src/system/host-facts.js';
import { newHostRecord, uncacheableReason, writeFastPlan } from '../../src/wrap/fast-plan.js';

/** `--json` result: with --dump-only the launch plan; otherwise the program's exit status. */
export type RedwrapResult = LaunchDump | { status: number };

export default class Redwrap extends RedpakCommand {
  static override summary = 'Run a program inside a node, isolated as its whole family\'s configuration says.';
  static override description = `Merges the configs of the node and its ancestors (admin configs too with --admin) and runs the program with bubblewrap: exports become mounts, environ the environment, capabilities, hostname, namespaces, cgroups and seccomp filters are applied. Every ancestor's seccomp filter and cgroup limit applies, so a node can only narrow what its parents set.
The exit status is the program's (128+signal when it is killed); redwrap's own errors exit with the status of their class (README, "Exit statuses").
--dump-only prints the plan and does nothing else: no directory, cgroup or Execfd command.`;

  static override examples = [
    '<%= config.bin %> --redpath /var/redpak/platform/app -- /bin/sh -c "echo hello"',
    '<%= config.bin %> --redpath /var/redpak/platform/app --dump-only --json -- /usr/bin/app',
  ];

  static override strict = false;
  static override args = { command: Args.string({ description: 'program to run, then its arguments (after --)', required: false }) };
  static override flags = {
    redpath: redpathFlag,
    admin: Flags.boolean({ char: 'a', description: 'use the admin configs too' }),
    dump: Flags.boolean({ description: 'print the launch plan on stderr, then run' }),
    'dump-only': Flags.boolean({ char: 'D', description: 'print the launch plan and run nothing' }),
    strict: Flags.boolean({ char: 's', description: 'skip exports whose source directory is missing instead of creating it' }),
    user: Flags.string({ char: 'U', aliases: ['uid'], description: 'run as this user (name or uid), over the family\'s set-user' }),
    group: Flags.string({ char: 'G', aliases: ['gid'], description: 'run with this group (name or gid), over the family\'s set-group' }),
    bwrap: Flags.string({ char: 'b', description: 'bubblewrap binary', default: DEFAULT_BWRAP }),
    root: sysrootFlag,
  };

  async run(): Promise<RedwrapResult> {
    const { flags, argv } = await this.parse(Redwrap);
    const command = argv as string[];
    if (!command.length && !flags['dump-only']) {
      throw new RedpakError('usage', 'no program to run', { hint: 'redwrap --redpath NODE -- PROGRAM [ARGS...]' });
    }
    // Only a plain launch (what the fast launcher handles itself) is worth caching.
    const plain = !flags['dump-only'] && !flags.dump && !flags.strict && !flags.user && !flags.group && !flags.root && flags.bwrap === DEFAULT_BWRAP;
    const record = plain ? newHostRecord() : undefined;
    const compiled = compileLaunch({
      redpath: flags.redpath,
      sysroot: flags.root,
      admin: flags.admin,
      strict: flags.strict,
      user: flags.user,
      group: flags.group,
      command,
      bwrap: flags.bwrap,
      // --dump-only shows a config's $(...), never runs it.
      host: flags['dump-only'] ? inspectionHostFacts() : this.host(),
      record,
      planOnly: flags['dump-only'],
    });
    for (const warning of compiled.merged.warnings.filter((w) => w.redpak)) this.warnLine(warning.message);
    if (flags['dump-only']) {
      if (!this.jsonEnabled()) this.log(dumpText(compiled));
      return dumpJson(compiled);
    }
    if (record && !uncacheableReason(compiled, record)) writeFastPlan(compiled, record, { uid: process.getuid!(), gid: process.getgid!() });
    if (flags.dump) process.stderr.write(`${dumpText(compiled).replace(/\n {2}/g, ' ')}\n`);
    const status = await executeLaunch(compiled, { sysroot: flags.root });
    process.exitCode = status;
    return { status };
  }
}
