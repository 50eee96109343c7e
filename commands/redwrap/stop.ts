import { Args, Flags } from '@oclif/core';
import { RedpakCommand } from '../../src/cli/base-command.js';
import { nodeRealPath } from '../../src/cli/operate.js';
import { RedpakError } from '../../src/errors.js';
import { stopSandboxes, stopStatus, type StopResult } from '../../src/wrap/stop.js';

/** `--json` result (docs/json-output.md); the exit status says what happened. */
export type { StopResult };

export default class Stop extends RedpakCommand {
  static override summary = "Stop a node's running sandboxes (or the one a process belongs to).";
  static override description =
    `Sends SIGTERM to every process of each sandbox of the node (--redpath) or of the sandbox PID belongs to (the bwrap pid redwrap ps shows, or any process inside), leftover background children included; SIGKILL to those still running after --timeout seconds. The node's cgroups are then removed (the launch removes them when its bwrap ends; what it left, here).
Exit status: 0 every process ended; 11 nothing was running; 12 a process survived SIGKILL or the sandbox's cgroup could not be removed. Other failures exit with the status of their class (README, "Exit statuses").`;
  static override examples = [
    '<%= config.bin %> stop --redpath /var/redpak/platform/app',
    '<%= config.bin %> stop --redpath /var/redpak/platform/app --timeout 30 --json',
    '<%= config.bin %> stop 12345',
  ];
  static override args = {
    pid: Args.integer({ description: 'a process of the sandbox to stop (instead of --redpath)', required: false }),
  };
  static override flags = {
    redpath: Flags.string({ char: 'r', aliases: ['rpath', 'rp'], description: 'stop every sandbox of this node' }),
    timeout: Flags.integer({ char: 't', description: 'seconds between SIGTERM and SIGKILL', default: 10, min: 0 }),
  };

  async run(): Promise<StopResult> {
    const { flags, args } = await this.parse(Stop);
    if ((flags.redpath === undefined) === (args.pid === undefined))
      throw new RedpakError('usage', 'give either --redpath NODE or a PID', { hint: 'redwrap stop --help' });
    const target = args.pid === undefined ? { node: nodeRealPath(flags.redpath ?? '') } : { pid: args.pid };
    const result = await stopSandboxes(target, { timeoutMs: flags.timeout * 1000 });
    process.exitCode = stopStatus(result);
    if (!result.sandboxes.length) this.log(`nothing running: no sandbox of ${flags.redpath ?? `process ${args.pid}`}`);
    for (const s of result.sandboxes)
      this.log(`stopped sandbox ${s.pid} of ${s.node} (${s.processes.length} processes)`);
    if (result.killed.length) this.log(`killed after ${flags.timeout}s: ${result.killed.join(' ')}`);
    if (result.remaining.length) this.log(`still running after SIGKILL: ${result.remaining.join(' ')}`);
    for (const dir of result.cgroups.kept) this.log(`cgroup kept (in use): ${dir}`);
    return result;
  }
}
