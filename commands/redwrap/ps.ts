import { Flags } from '@oclif/core';
import { RedpakCommand } from '../../src/cli/base-command.js';
import { nodeRealPath, sandboxTable } from '../../src/cli/operate.js';
import { runningSandboxes, type RunningSandbox } from '../../src/wrap/running.js';

/** `--json` result: the running sandboxes (docs/json-output.md). */
export interface PsResult {
  sandboxes: RunningSandbox[];
}

export default class Ps extends RedpakCommand {
  static override summary = 'List the running sandboxes redwrap launched: node, processes, user, cgroup usage.';
  static override description =
    `Every sandbox started by redwrap (fast launcher or full CLI) that is still running, or those of one node with --redpath: the node and its alias, the bwrap process's pid, the user, the start time, the program as launched, the number of processes (leftover background children included), and the node's cgroup with its memory and pids usage when the family has cgroups.
Sandboxes are found from the kernel (/proc and the cgroups), never from a file a sandbox could write: a sandboxed process that rewrites its own command line cannot make ps attribute it to another node (docs/operating.md, "What ps trusts"). A user other than root sees only the sandboxes it may inspect (its own).`;
  static override examples = ['<%= config.bin %> ps', '<%= config.bin %> ps --redpath /var/redpak/platform/app --json'];
  static override flags = {
    redpath: Flags.string({
      char: 'r',
      aliases: ['rpath', 'rp'],
      description: "only this node's sandboxes (not those of its children)",
    }),
  };

  async run(): Promise<PsResult> {
    const { flags } = await this.parse(Ps);
    const sandboxes = runningSandboxes(flags.redpath === undefined ? {} : { node: nodeRealPath(flags.redpath) });
    if (sandboxes.length) this.log(sandboxTable(sandboxes));
    else this.log(flags.redpath === undefined ? 'no sandbox running' : `no sandbox of ${flags.redpath} running`);
    return { sandboxes };
  }
}
