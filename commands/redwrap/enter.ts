import { Args, Flags } from '@oclif/core';
import { RedpakCommand } from '../../src/cli/base-command.js';
import { nodeRealPath } from '../../src/cli/operate.js';
import { RedpakError } from '../../src/errors.js';
import { enterSandbox, type EnterResult } from '../../src/wrap/enter.js';

/** `--json` result (docs/json-output.md): the command's status and its captured output. */
export type { EnterResult };

export default class Enter extends RedpakCommand {
  static override summary =
    'Run a command inside a running sandbox: its namespaces, root, environment, capabilities, seccomp filters and cgroups.';
  static override description =
    `Like podman exec or flatpak enter, for the sandbox of the node (--redpath, when exactly one runs) or the one PID belongs to (the bwrap pid redwrap ps shows, or any process inside). The sandbox is found as redwrap ps finds it (from the kernel, never from a file it could write). The command joins the namespaces and the root of the sandbox's first process, runs with its uid and gid, at most the capabilities the node's plan gives (and the sandbox's bounding set allows), no_new_privs, the node's seccomp filters and in the node's cgroups; its environment is the one the node's launch plan sets, not what the sandbox's processes hold now (docs/operating.md, "Enter").
The exit status is the command's (128+signal when it is killed); 11 when no sandbox runs (or PID is in none), 13 when several sandboxes of the node run (name one by PID); other failures exit with the status of their class (README, "Exit statuses"). With --json the command's output is captured and returned in the result.`;
  static override examples = [
    '<%= config.bin %> enter --redpath /var/redpak/platform/app -- /bin/sh',
    '<%= config.bin %> enter 12345 -- cat /proc/self/status',
    '<%= config.bin %> enter --redpath /var/redpak/platform/app --json -- id',
  ];
  static override usage = 'enter (--redpath NODE | PID) [--json] -- COMMAND [ARG...]';
  static override strict = false;
  static override args = {
    pid: Args.integer({ description: 'a process of the sandbox to enter (instead of --redpath)', required: false }),
  };
  static override flags = {
    redpath: Flags.string({
      char: 'r',
      aliases: ['rpath', 'rp'],
      description: "enter this node's sandbox (when exactly one runs)",
    }),
  };

  async run(): Promise<EnterResult> {
    // The command follows `--`, and nothing after it is an option of enter's.
    const end = this.argv.indexOf('--');
    if (end < 0)
      throw new RedpakError('usage', 'no command: give it after --', {
        hint: 'redwrap enter --redpath NODE -- COMMAND [ARG...]',
      });
    const command = this.argv.slice(end + 1);
    if (!command.length) throw new RedpakError('usage', 'no command after --', { hint: 'redwrap enter --help' });
    const { flags, args } = await this.parse(Enter, this.argv.slice(0, end));
    if ((flags.redpath === undefined) === (args.pid === undefined))
      throw new RedpakError('usage', 'give either --redpath NODE or a PID', { hint: 'redwrap enter --help' });
    const target = args.pid === undefined ? { node: nodeRealPath(flags.redpath ?? '') } : { pid: args.pid };
    const result = await enterSandbox({ target, command, host: this.host(), capture: this.jsonEnabled() });
    process.exitCode = result.exitStatus;
    return result;
  }
}
